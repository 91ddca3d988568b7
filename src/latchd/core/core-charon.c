/* SPDX-License-Identifier: MIT */
/*
 * What latchd loads into charon and asks of it: an initiator connection per
 * peer address and peer constraint, a responder connection per listener
 * constraint, credentials, and the reading of charon's state and
 * certificate cache. Every connection pins its CAs with cacerts (never
 * ca_id, never none) and names its peer where the token does: charon trusts
 * every loaded CA and falls through to the next connection when one's CA
 * constraint fails (docs/btns.md), so a connection without a pin would
 * admit a peer from another trust domain.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "latchd/base/log.h"
#include "latchd/core/core-int.h"

/* FNV-1a: names connections after what they admit, so equal constraints share one. */
static uint32_t fnv(uint32_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static uint32_t policy_hash(const struct latch_policy *p)
{
	uint32_t h = 2166136261u;

	h = fnv(h, p->peer_id, strlen(p->peer_id));
	h = fnv(h, p->peer_ca, strlen(p->peer_ca) + 1);
	return h;
}

static struct conn *conn_find(struct core *c, const char *name)
{
	for (struct conn *conn = c->conns; conn; conn = conn->next) {
		if (!strcmp(conn->name, name))
			return conn;
	}
	return NULL;
}

static struct conn *conn_get(struct core *c, const char *name, bool responder)
{
	struct conn *conn = conn_find(c, name);

	if (conn)
		return conn;
	conn = calloc(1, sizeof(*conn));
	if (!conn)
		return NULL;
	snprintf(conn->name, sizeof(conn->name), "%s", name);
	conn->responder = responder;
	conn->next = c->conns;
	c->conns = conn;
	return conn;
}

/* For commands whose outcome changes nothing: charon's refusal is only worth a line. */
static void logged(void *u, int err, const char *errmsg)
{
	if (err)
		log_debug("%s: %s", (const char *)u, errmsg);
}

void core_terminate_child(struct core *c, uint32_t child_id)
{
	charon_terminate_child(c->charon, child_id, logged, "terminate");
}

static void conn_forget(struct core *c, struct conn *conn)
{
	for (struct conn **pp = &c->conns; *pp; pp = &(*pp)->next) {
		if (*pp == conn) {
			*pp = conn->next;
			break;
		}
	}
	free(conn);
}

/*
 * Shared connections stay loaded: unloading would not end their SAs
 * (charon's unload-conn leaves established SAs in place) and the next latch to the same peer reuses
 * them. An exact one serves one flow: it goes with its last user (its child SA is terminated by
 * core_close), so charon does not collect one connection per flow ever made.
 */
void core_conn_put(struct core *c, struct conn *conn)
{
	if (!conn || !conn->users)
		return;
	if (--conn->users || !conn->exact)
		return;
	if (conn->loaded)
		charon_unload_conn(c->charon, conn->name, logged, "unload-conn");
	conn_forget(c, conn);
}

/* The CAs a peer's certificate may come from: the token's, else latchd's. */
static size_t pick_cas(const struct core *c, const struct latch_policy *p, struct charon_blob *out)
{
	size_t n = 0;

	for (unsigned i = 0; i < c->n_cas; i++) {
		if (p->peer_ca[0] && !ident_dn_equal(c->cas[i].info.subject, p->peer_ca))
			continue;
		out[n++] = (struct charon_blob){ c->cas[i].text, c->cas[i].len };
	}
	return n;
}

struct conn_load {
	struct core *c;
	char name[64];
};

/* What a connection's load or IKE came to, for the requests waiting on it. */
struct conn_outcome {
	struct core *c;
	const struct conn *conn;
	int err;
	const char *why;
};

static void conn_loaded_for(void *u, struct pending *p)
{
	struct conn_outcome *o = u;

	if (p->conn != o->conn)
		return;
	if (o->err)
		core_reply_pending(o->c, p, -EREMOTEIO, o->why);
	else if (!o->conn->responder)
		core_initiate(o->c, p);
}

static void loaded(void *u, int err, const char *errmsg)
{
	struct conn_load *cl = u;
	struct core *c = cl->c;
	struct conn *conn = conn_find(c, cl->name);

	free(cl);
	if (!conn)
		return;
	conn->loading = false;
	conn->loaded = err == 0;
	if (err)
		log_warn("charon refused connection %s: %s", conn->name, errmsg);
	struct conn_outcome o = { c, conn, err, errmsg };

	pending_each(c->pend, conn_loaded_for, &o);
	if (!err)
		core_resolve_pending(c);
}

static int conn_load(struct core *c, struct conn *conn, const struct charon_conn_cfg *vc)
{
	struct conn_load *cl = calloc(1, sizeof(*cl));
	int r;

	if (!cl)
		return -ENOMEM;
	cl->c = c;
	snprintf(cl->name, sizeof(cl->name), "%s", conn->name);
	r = charon_load_conn(c->charon, vc, loaded, cl);
	if (r < 0)
		free(cl);
	if (r == -ENOTCONN)
		return 0; /* charon is away: core_charon_up() loads it when it is back */
	if (r < 0)
		return r;
	conn->loading = true;
	return 0;
}

#define PROPOSALS_MAX 8

/* The configured proposals ("a,b,default") as the list charon takes, one per item. */
struct proposals {
	char ike_buf[256], esp_buf[256];
	const char *ike[PROPOSALS_MAX + 1], *esp[PROPOSALS_MAX + 1];
};

static void split(char *buf, size_t cap, const char *text, const char **out)
{
	size_t n = 0;
	char *save = NULL;

	snprintf(buf, cap, "%s", text);
	for (char *tok = strtok_r(buf, ", ", &save); tok && n < PROPOSALS_MAX;
	     tok = strtok_r(NULL, ", ", &save))
		out[n++] = tok;
	out[n] = NULL;
}

static void proposals_of(const struct core *c, struct proposals *p)
{
	split(p->ike_buf, sizeof(p->ike_buf), c->cfg.proposals, p->ike);
	split(p->esp_buf, sizeof(p->esp_buf), c->cfg.esp_proposals, p->esp);
}

static void addr_text(const struct flow *f, bool local, char *buf, size_t len)
{
	inet_ntop(f->family, local ? f->laddr.b : f->raddr.b, buf, (socklen_t)len);
}

/*
 * What every connection latchd loads has in common: our identity, the pinned
 * CAs (inline: a pin by name, ca_id, would pass a look-alike intermediate),
 * the peer named where the token names one, IKEv2 in UDP (libipsec in 5.9.8
 * speaks only ESP in UDP), and one tunnel child.
 */
static int load_conn(struct core *c, struct conn *conn, const char *const *laddrs,
		     const char *const *raddrs, const struct charon_ts *lts,
		     const struct charon_ts *rts, size_t n_ts)
{
	struct charon_blob cas[CORE_CAS_MAX];
	struct proposals pr;
	char dpd[16];

	snprintf(dpd, sizeof(dpd), "%us", c->cfg.dpd_delay);
	proposals_of(c, &pr);
	struct charon_child_cfg child = {
		.name = conn->name,
		.local_ts = lts,
		.remote_ts = rts,
		.n_local_ts = n_ts,
		.n_remote_ts = n_ts,
		.mode = "tunnel",
		.reqid = conn->reqid,
		.esp_proposals = pr.esp,
	};
	struct charon_conn_cfg vc = {
		.name = conn->name,
		.local_addrs = laddrs,
		.remote_addrs = raddrs,
		.version = 2,
		/* the kernel speaks plain ESP; libipsec only ESP in UDP */
		.encap = enforce_caps(c->enf)->udp_encap,
		.dpd_delay = c->cfg.dpd_delay ? dpd : NULL,
		.proposals = pr.ike,
		/* our certificate is loaded once (load_creds): charon finds it by this id */
		.local = { .auth = "pubkey", .id = c->local_id[0] ? c->local_id : NULL },
		.remote = { .auth = "pubkey",
			    .id = conn->pol.peer_id[0] ? conn->pol.peer_id : "%any",
			    .cacerts = cas,
			    .n_cacerts = pick_cas(c, &conn->pol, cas) },
		.children = &child,
		.n_children = 1,
	};

	CORE_FEATURES_CALL(conn_cfg, c, conn, &vc);
	return conn_load(c, conn, &vc);
}

/*
 * An exact connection's child covers exactly the flow's 5-tuple. A shared
 * one's covers TCP and UDP between the two hosts, not "any protocol": libipsec
 * prefers the more specific policy, so a host-to-host child under another
 * identity can never carry a shared latch's flow, not even in the moment
 * before latchd hears of it and breaks the latch.
 */
static int load_initiator(struct core *c, struct conn *conn)
{
	char me[INET6_ADDRSTRLEN], them[INET6_ADDRSTRLEN];
	char lnet[INET6_ADDRSTRLEN + 8], rnet[INET6_ADDRSTRLEN + 8];
	const char *laddrs[] = { me, NULL }, *raddrs[] = { them, NULL };
	const struct flow *f = &conn->flow;
	unsigned bits = f->family == AF_INET6 ? 128 : 32;
	struct charon_ts lts[2], rts[2];

	addr_text(f, true, me, sizeof(me));
	addr_text(f, false, them, sizeof(them));
	snprintf(lnet, sizeof(lnet), "%s/%u", me, bits);
	snprintf(rnet, sizeof(rnet), "%s/%u", them, bits);
	if (conn->exact) {
		lts[0] = (struct charon_ts){ .net = lnet, .proto = f->proto, .port = f->lport };
		rts[0] = (struct charon_ts){ .net = rnet, .proto = f->proto, .port = f->rport };
		return load_conn(c, conn, laddrs, raddrs, lts, rts, 1);
	}
	lts[0] = (struct charon_ts){ .net = lnet, .proto = IPPROTO_TCP };
	lts[1] = (struct charon_ts){ .net = lnet, .proto = IPPROTO_UDP };
	rts[0] = (struct charon_ts){ .net = rnet, .proto = IPPROTO_TCP };
	rts[1] = (struct charon_ts){ .net = rnet, .proto = IPPROTO_UDP };
	return load_conn(c, conn, laddrs, raddrs, lts, rts, 2);
}

/*
 * A responder connection admits the listener's peers: the named identity or
 * any, from the token's CA or latchd's. Its child narrows to whatever the
 * initiator proposes (host to host for shared latches, one 5-tuple for exact
 * ones); which flows a peer may use is latchd's to enforce, not charon's.
 */
static int load_responder(struct core *c, struct conn *conn)
{
	const char *any[] = { "%any", NULL };
	struct charon_ts dyn = { .net = "dynamic" };

	return load_conn(c, conn, any, any, &dyn, &dyn, 1);
}

/*
 * Reqids. On the kernel data plane a latched socket's policy names the reqid
 * of the child that carries it, so no other child may ever hold that reqid.
 * charon 5.9.8 allocates a child's reqid in kernel_interface.c alloc_reqid()
 * by its selectors and marks: a child whose selectors equal another's gets
 * the other's reqid, even under another connection and another peer, and then
 * the kernel would carry the latched flow under whichever state is newest. A
 * child whose config names a static reqid never goes through alloc_reqid()
 * (child_sa.c: static_reqid), keeps it through rekeys and re-establishment,
 * and is never found by another child's selectors; dynamic reqids count up
 * from 1 (released ones first), so they stay far below CORE_REQID_BASE.
 * Only an administrator's connection configured with a reqid in latchd's
 * range could share one (latchd(8) reserves it).
 *
 * So each initiator connection gets a reqid of its own, not held by another
 * connection of latchd's nor by any child charon has. A shared connection's
 * child that charon still has from before latchd restarted keeps its reqid
 * (the name says peer address and constraint, so it is the same connection):
 * adopted sockets name it. An exact connection never takes one over: its name
 * is a latch id, which may have named another flow before the restart.
 * Responder connections keep charon's reqids: one static reqid would be
 * shared by every child the connection narrows to, and an exact flow could
 * then travel under another exact child of the same peer.
 */
struct reqid_probe {
	const char *name;
	uint32_t reqid;
};

static bool reqid_ours(uint32_t reqid)
{
	return reqid - CORE_REQID_BASE < CORE_REQID_SPAN;
}

static bool same_conn(const void *u, const struct sa_child *ch)
{
	const struct reqid_probe *p = u;

	return reqid_ours(ch->reqid) && !strcmp(ch->name, p->name);
}

static bool holds(const void *u, const struct sa_child *ch)
{
	return ch->reqid == ((const struct reqid_probe *)u)->reqid;
}

static bool reqid_taken(const struct core *c, const struct reqid_probe *p)
{
	for (const struct conn *conn = c->conns; conn; conn = conn->next) {
		if (conn->reqid == p->reqid)
			return true;
	}
	return sacache_child_with(c->sa, holds, p) != NULL;
}

/* conn's reqid, or 0 when latchd's range is exhausted. */
static uint32_t reqid_pick(struct core *c, const struct conn *conn)
{
	struct reqid_probe p = { .name = conn->name };
	const struct sa_child *ch = conn->exact ? NULL : sacache_child_with(c->sa, same_conn, &p);

	if (ch)
		return ch->reqid;
	for (uint32_t i = 0; i < CORE_REQID_SPAN; i++) {
		p.reqid = CORE_REQID_BASE + c->reqid_next++ % CORE_REQID_SPAN;
		if (!reqid_taken(c, &p))
			return p.reqid;
	}
	return 0;
}

/* Find or make connection name for l, load it unless charon has it, count l as a user. */
static int conn_use(struct core *c, const char *name, bool responder, const struct latch *l,
		    struct conn **ret)
{
	struct conn *conn = conn_get(c, name, responder);
	int r = 0;

	if (!conn)
		return -ENOMEM;
	conn->pol = *l->pol;
	conn->btns = core_btns_wanted(c, l->pol);
	if (!responder) {
		conn->flow = l->flow;
		conn->exact = l->pol->exact;
	}
	if (!responder && !conn->reqid && !(conn->reqid = reqid_pick(c, conn)))
		return -ENOSPC;
	if (!conn->loaded && !conn->loading)
		r = responder ? load_responder(c, conn) : load_initiator(c, conn);
	if (r < 0)
		return r;
	conn->users++;
	*ret = conn;
	return 0;
}

int core_conn_initiator(struct core *c, const struct latch *l, struct conn **ret)
{
	char name[64], addr[INET6_ADDRSTRLEN];
	struct charon_blob cas[CORE_CAS_MAX];

	/* A connection without a pinned CA would trust any CA charon has: refuse instead. */
	if (!core_btns_wanted(c, l->pol) && pick_cas(c, l->pol, cas) == 0)
		return -ENOENT;
	addr_text(&l->flow, false, addr, sizeof(addr));
	if (l->pol->exact) /* charon reuses the peer's IKE_SA: one CREATE_CHILD_SA per flow */
		snprintf(name, sizeof(name), "latch-x-%llu", (unsigned long long)l->id);
	else if (core_btns_wanted(c, l->pol)) /* one BTNS connection per peer address */
		snprintf(name, sizeof(name), "latch-ib-%s", addr);
	else
		snprintf(name, sizeof(name), "latch-i-%s-%08x", addr, policy_hash(l->pol));
	return conn_use(c, name, false, l, ret);
}

static int conn_responder(struct core *c, const struct latch *l, struct conn **ret)
{
	struct charon_blob cas[CORE_CAS_MAX];
	char name[64];

	if (core_btns_wanted(c, l->pol)) /* one BTNS responder for all: the anchor is its pin */
		return conn_use(c, "latch-rb", true, l, ret);
	if (pick_cas(c, l->pol, cas) == 0)
		return -ENOENT; /* no CA to pin: refuse rather than admit anyone */
	snprintf(name, sizeof(name), "latch-r-%08x", policy_hash(l->pol));
	return conn_use(c, name, true, l, ret);
}

/*
 * A listener whose token admits BTNS peers gets the BTNS responder
 * connection; authenticated peers are acceptable to it too, so it also gets
 * the authenticated one when latchd has CAs to pin (loaded first: charon
 * answers in order, so both are loaded when the listener is answered).
 */
int core_conn_responder(struct core *c, const struct latch *l, struct conn **ret)
{
	struct latch *auth;
	struct conn *conn;

	if (!core_btns_wanted(c, l->pol))
		return conn_responder(c, l, ret);
	if (c->n_cas) {
		auth = malloc(sizeof(*auth));
		if (!auth)
			return -ENOMEM;
		struct latch_policy ap = *l->pol;

		ap.btns = false;
		if (ap.leap_of_faith)
			ap.peer_id[0] = '\0'; /* a pin's name, not an IKE identity */
		*auth = *l;
		auth->pol = &ap; /* a temporary: it borrows, it is never in the database */
		if (conn_responder(c, auth, &conn) < 0)
			log_warn("listener %llu: no responder for authenticated peers",
				 (unsigned long long)l->id);
		free(auth); /* the connection stays in use: BTNS listeners keep it loaded */
	}
	return conn_responder(c, l, ret);
}

/* ---------------------------------------------------------------- initiating */

struct initiated {
	struct core *c;
	uint64_t pending_id;
};

static void initiated(void *u, int err, const char *errmsg)
{
	struct initiated *in = u;
	struct core *c = in->c;
	struct pending *p = pending_by_id(c->pend, in->pending_id);

	free(in);
	if (p && err)
		core_reply_pending(c, p, err == -EREMOTEIO ? -ECONNREFUSED : err,
				   err == -EREMOTEIO ? "charon could not start IKE with the peer"
						     : errmsg);
}

/*
 * Asynchronous (timeout -1): an initiate that waits would hold charon's
 * command connection, and every other command behind it, for the whole
 * exchange. The outcome comes as events: child-updown (up), or ike-updown in
 * state CONNECTING (authentication failed: core_conn_failed), or nothing
 * until the pending latch's own timer gives up.
 */
int core_initiate(struct core *c, struct pending *p)
{
	struct initiated *in;
	int r;

	if (p->initiated)
		return 0;
	in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	in->c = c;
	in->pending_id = p->id;
	r = charon_initiate(c->charon, p->conn->name, p->conn->name, initiated, in);
	if (r < 0) {
		free(in);
		return r;
	}
	p->initiated = true;
	return 0;
}

static void conn_failed_for(void *u, struct pending *p)
{
	struct conn_outcome *o = u;

	if (p->latch && p->conn == o->conn && p->initiated)
		core_reply_pending(o->c, p, o->err, o->why);
}

void core_conn_failed(struct core *c, const char *conn_name, const char *remote_id)
{
	char why[IPC_MESSAGE_MAX];
	struct conn_outcome o = { c, conn_find(c, conn_name), -EACCES, why };

	snprintf(why, sizeof(why),
		 "IKE with the peer failed: authentication was refused"
		 " (peer expected as '%.200s'; charon's log has the details)",
		 remote_id && *remote_id ? remote_id : "?");
	if (o.conn)
		pending_each(c->pend, conn_failed_for, &o);
}

/* ---------------------------------------------------------------- state */

/* charon's SAs are in the SA cache. */
static void sas_read(void *u, int err, const char *errmsg)
{
	struct core *c = u;

	if (err) {
		log_warn("list-sas: %s", errmsg);
		return;
	}
	if (!c->certs_listing)
		core_charon_known(c);
	core_resolve_pending(c);
}

static void cred_loaded(void *u, int err, const char *errmsg)
{
	if (err)
		log_err("charon refused latchd's %s: %s", (const char *)u, errmsg);
}

/*
 * Our key, and our certificate once rather than inline in every connection:
 * charon parses an inline certificate on every load-conn (0.7-1.5 ms here, one
 * load-conn per exact flow), and finds a loaded one by the local identity.
 */
static void load_creds(struct core *c)
{
	char *pem;
	size_t len;
	int r;

	if (c->cert.text)
		charon_load_cert(c->charon, (struct charon_blob){ c->cert.text, c->cert.len },
				 cred_loaded, "certificate");
	if (!c->cfg.key[0])
		return;
	r = ident_file_read(c->cfg.key, &pem, &len, 1 << 20);
	if (r < 0) {
		log_err("key %s: %s", c->cfg.key, strerror(-r));
		return;
	}
	charon_load_key(c->charon, (struct charon_blob){ pem, len }, cred_loaded, "private key");
	free(pem);
}

void core_charon_up(struct core *c, bool resync)
{
	load_creds(c);
	CORE_FEATURES_CALL(charon_up, c);
	/* A restarted charon knows none of latchd's connections: load what is in use again. */
	for (struct conn *conn = c->conns; conn; conn = conn->next) {
		conn->loaded = conn->loading = false;
		if (conn->users &&
		    (conn->responder ? load_responder(c, conn) : load_initiator(c, conn)) < 0)
			log_warn("connection %s could not be reloaded", conn->name);
	}
	/* Seeding: every IKE_SA, and none that is busy can stall latchd. */
	if (charon_read_sas(c->charon, sas_read, c) < 0)
		log_warn("list-sas could not be queued");
}

/* ---------------------------------------------------------------- watching */

/*
 * An administrator's `swanctl --load-all` unloads every connection its files
 * do not name, latchd's among them, and charon says nothing about it. So
 * latchd asks, every CORE_CONN_CHECK_USEC, which connections charon has, and
 * loads again those of its own that are in use and gone. SAs are not touched
 * by an unload (no start action): only new latches would fail meanwhile.
 */
static bool in_list(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(names[i], name))
			return true;
	}
	return false;
}

static void conns_listed(void *u, int err, const char *errmsg, const char *const *names, size_t n)
{
	struct core *c = u;

	if (err)
		return;
	for (struct conn *conn = c->conns; conn; conn = conn->next) {
		if (!conn->loaded || in_list(names, n, conn->name))
			continue;
		log_warn("connection %s was unloaded from charon: loading it again", conn->name);
		conn->loaded = false;
		if (conn->users)
			(conn->responder ? load_responder : load_initiator)(c, conn);
	}
}

static int check_conns(struct ev_source *s, uint64_t usec, void *u)
{
	struct core *c = u;

	if (charon_is_up(c->charon) && c->conns)
		charon_list_conns(c->charon, conns_listed, c);
	return ev_time_set_in(s, CORE_CONN_CHECK_USEC);
}

int core_watch_conns(struct core *c)
{
	return ev_add_time(c->loop, &c->conn_timer, ev_now(c->loop) + CORE_CONN_CHECK_USEC,
			   check_conns, c);
}

/* ---------------------------------------------------------------- certificates */

/* charon's certificate cache was emptied (core_btns_listed): listings go on. */
static void certs_flushed(struct core *c)
{
	c->certs_listing = false;
	if (c->certs_again) {
		c->certs_again = false;
		core_list_certs(c);
	}
}

static void certs_listed(void *u, int err, const char *errmsg, const struct charon_cert *certs,
			 size_t n)
{
	struct core *c = u;

	for (struct ike_ident *id = c->idents; id; id = id->next) {
		const struct sa_ike *ike = sacache_ike(c->sa, id->ike_id);

		/* one that came up after this listing was asked: its certificate may be missing */
		if (id->ready || !ike || id->gen >= c->certs_gen)
			continue;
		if (!err && core_btns_certs(c, ike, certs, n, id)) {
			id->ready = true;
			continue;
		}
		for (size_t i = 0; !err && i < n; i++) {
			struct cert_info info;

			if (certs[i].has_privkey ||
			    ident_cert_parse_der(certs[i].data.data, certs[i].data.len, &info) < 0)
				continue;
			if (!info.is_ca && !core_btns_issued(c, &info) &&
			    ident_cert_vouches_for(&info, ike->remote_id)) {
				id->cert = info;
				id->has_cert = true;
				id->der_len = 0;
				if (certs[i].data.len <= sizeof(id->der)) {
					memcpy(id->der, certs[i].data.data, certs[i].data.len);
					id->der_len = (uint16_t)certs[i].data.len;
				}
				break;
			}
		}
		id->ready = true;
	}
	/* while BTNS empties charon's cache, none is asked */
	c->certs_listing = core_btns_listed(c, certs_flushed);
	if (c->certs_again) {
		if (!c->certs_listing) {
			c->certs_again = false;
			core_list_certs(c);
		}
		return;
	}
	core_rejudge_all(c);
	core_charon_known(c);
	core_resolve_pending(c);
}

/*
 * charon keeps received end-entity certificates in its cache after
 * authentication, unlinked from the SA (docs/architecture.md, "Identity queries"): read them once
 * per batch of new IKE_SAs and match them by the authenticated identity.
 */
void core_list_certs(struct core *c)
{
	if (c->certs_listing) {
		c->certs_again = true;
		return;
	}
	if (charon_list_certs(c->charon, certs_listed, c) == 0) {
		c->certs_listing = true;
		c->certs_gen++;
	}
}
