/* SPDX-License-Identifier: MIT */
/* The core's life cycle, charon's events, and what judge.c is told to judge SAs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "latchd/base/log.h"
#include "latchd/core/core-int.h"
#include "latchd/dataplane/sockdiag.h"

/* ---------------------------------------------------------------- identities */

const struct ike_ident *core_ident(const struct core *c, uint32_t ike_id)
{
	for (const struct ike_ident *i = c->idents; i; i = i->next) {
		if (i->ike_id == ike_id)
			return i;
	}
	return NULL;
}

static void ident_forget(struct core *c, uint32_t ike_id)
{
	for (struct ike_ident **pp = &c->idents; *pp; pp = &(*pp)->next) {
		if ((*pp)->ike_id == ike_id) {
			struct ike_ident *gone = *pp;

			*pp = gone->next;
			free(gone);
			return;
		}
	}
}

/*
 * judge.c decides; the core hands it what it knows of the peer (its
 * certificate, once read), its CAs, BTNS and the leap-of-faith pins.
 */
int core_judge(const struct core *c, const struct latch *l, const struct sa_ike *ike,
	       const struct sa_child *ch, char *why, size_t wl)
{
	const struct ike_ident *id = core_ident(c, ike->id);
	const char *cas[CORE_CAS_MAX];
	struct judge_facts f = {
		.ready = id && id->ready,
		.cert = id && id->has_cert ? &id->cert : NULL,
		.no_key = id ? id->no_key : NULL,
		.cas = cas,
		.n_cas = c->n_cas,
	};
	struct judge_verdict v;

	for (unsigned i = 0; i < c->n_cas; i++)
		cas[i] = c->cas[i].info.subject;
	core_btns_facts(c, l, &f);
	judge_sa(l, ike, ch, &f, &v);
	snprintf(why, wl, "%s", v.why);
	return v.err;
}

static void fill_remote(struct latch_ident *r, const struct sa_ike *ike, const struct ike_ident *id)
{
	snprintf(r->id, sizeof(r->id), "%s", ike->remote_id);
	r->auth = id && id->has_cert ? IPC_AUTH_PKIX_TRUSTED : IPC_AUTH_PSK;
	r->has_spki = id && id->has_cert;
	if (!r->has_spki)
		return;
	snprintf(r->subject, sizeof(r->subject), "%s", id->cert.subject);
	snprintf(r->issuer, sizeof(r->issuer), "%s", id->cert.issuer);
	memcpy(r->spki, id->cert.spki_sha256, IPC_SHA256_LEN);
}

void core_ike_remote(const struct core *c, const struct sa_ike *ike, struct latch_ident *ret)
{
	*ret = (struct latch_ident){ 0 };
	fill_remote(ret, ike, core_ident(c, ike->id));
	if (core_btns_peer(c, ike, core_ident(c, ike->id)))
		ret->auth = IPC_AUTH_BTNS; /* never reported as authenticated */
}

static void fill_local(const struct core *c, struct latch_ident *me, const struct sa_ike *ike)
{
	snprintf(me->id, sizeof(me->id), "%s", ike->local_id);
	me->auth = c->cert.text ? IPC_AUTH_PKIX_TRUSTED : IPC_AUTH_PSK;
	me->has_spki = c->cert.text != NULL;
	if (!me->has_spki)
		return;
	snprintf(me->subject, sizeof(me->subject), "%s", c->cert.info.subject);
	snprintf(me->issuer, sizeof(me->issuer), "%s", c->cert.info.issuer);
	memcpy(me->spki, c->cert.info.spki_sha256, IPC_SHA256_LEN);
}

void core_bind(struct core *c, struct latch *l, const struct sa_ike *ike, const struct sa_child *ch)
{
	const struct ike_ident *id = core_ident(c, ike->id);
	struct latch_ident remote = { 0 }, local = { 0 };

	fill_remote(&remote, ike, id);
	fill_local(c, &local, ike);
	CORE_FEATURES_CALL(bind, c, l, ike, id, &remote, &local);
	latchdb_set_ident(c->db, l, true, &remote);
	latchdb_set_ident(c->db, l, false, &local);
	l->sa = (struct latch_sa){
		.ike_id = ike->id,
		.child_id = ch->id,
		.spi_in = ch->spi_in,
		.spi_out = ch->spi_out,
		.tunnel = ch->tunnel,
		.shared = !sacache_child_is_exact(ch, &l->flow),
	};
	snprintf(l->sa.encr, sizeof(l->sa.encr), "%s", ch->encr);
	snprintf(l->sa.integ, sizeof(l->sa.integ), "%s", ch->integ);
	l->has_cb = l->remote->has_spki && l->local->has_spki;
	if (l->has_cb)
		ident_channel_binding(ike->initiator ? l->local->spki : l->remote->spki,
				      ike->initiator ? l->remote->spki : l->local->spki, l->cb);
	control_latch_changed(l->client, l->id);
}

/* ---------------------------------------------------------------- breaking */

static void alert(struct core *c, struct latch *l, const char *why)
{
	struct buf b;

	buf_init(&b, IPC_MSG_MAX);
	core_put_alert(&b, l, why);
	control_send_event(c->ctl, l->client, l->owner.uid, l->id, &b);
	buf_free(&b);
}

static void on_changed(void *u, struct latch *l, uint8_t old)
{
	struct core *c = u;

	control_latch_changed(l->client, l->id);
	core_metrics_changed(c, l, old);
	CORE_FEATURES_CALL(latch_changed, c, l, old);
	if (c->persist && l->state == IPC_STATE_CLOSED)
		persist_del(c->persist, l->id);
	else if (c->persist && l->state != IPC_STATE_LARVAL)
		persist_put(c->persist, l);
	if (old == IPC_STATE_LARVAL && l->state == IPC_STATE_CLOSED)
		return; /* never handed out: its request's error reply says it all */
	alert(c, l, NULL);
}

/*
 * Reset a latch's connection, while its SA still carries the RST. The socket
 * outlives it: on the kernel data plane its policy would go on naming the
 * latch's child, so a next connect(2) would leave under that child, never
 * judged; it is blocked instead (libipsec: its mark holds it, core-attach.c).
 */
static void reset_socket(struct core *c, struct latch *l)
{
	bool by_socket = enforce_caps(c->enf)->needs_socket;
	/* taken first: sock_diag finds the socket by its flow only until the reset */
	int fd = by_socket ? sockdiag_fetch(l->owner.pid, &l->flow, l->cookie) : -1;
	char text[FLOW_FMT_MAX];
	int r = sockdiag_destroy(&l->flow, l->cookie);

	if (r < 0 && r != -ENOENT)
		log_warn("latch %llu %s: reset failed: %s", (unsigned long long)l->id,
			 flow_format(text, sizeof(text), &l->flow), strerror(-r));
	if (!by_socket)
		return;
	r = fd < 0 ? fd : core_sock_hold(c, l, fd, NULL, NULL);
	if (fd >= 0)
		close(fd);
	if (r < 0 && r != -ENOENT)
		log_warn("latch %llu: cannot block its socket after the reset (%s): a next flow "
			 "of it can only go under the child it was latched to",
			 (unsigned long long)l->id, strerror(-r));
}

/* Does a feature keep the flow of closed latch l enforced a while (linger)? */
static bool flow_kept(struct core *c, const struct latch *l)
{
	bool kept = false;

	for (const struct core_feature *const *f = core_features; *f; f++)
		kept |= (*f)->flow_closed && (*f)->flow_closed(c, l);
	return kept;
}

/*
 * End a latch: optionally reset its connection first, then stop enforcing
 * its flow and forget it. An owner that keeps the socket after a reset has a
 * dead socket, never a cleartext one.
 */
void core_close(struct core *c, struct latch *l, uint16_t reason, bool reset)
{
	struct pending *p;

	if (!l->listener && reset && l->cookie)
		reset_socket(c, l);
	/* An exact latch's own SA ends with it (R28), after the reset went through it. */
	if (!l->listener && l->pol->exact && l->sa.child_id && !l->sa.shared)
		core_terminate_child(c, l->sa.child_id);
	if (l->listener)
		enforce_listen_del(c->enf, &l->listen);
	else if (!flow_kept(c, l))
		enforce_flow_del(c->enf, &l->flow);
	p = pending_of_latch(c->pend, l);
	if (p) {
		p->latch = NULL; /* so that answering it does not close l again */
		core_reply_pending(c, p, -ECONNABORTED, latchdb_reason_name(reason));
	}
	core_conn_put(c, l->core);
	latchdb_set_state(c->db, l, IPC_STATE_CLOSED, reason, ev_now(c->loop));
	latchdb_remove(c->db, l);
}

int core_sock_hold(struct core *c, struct latch *l, int fd, const struct sa_ike *ike,
		   const struct sa_child *ch)
{
	struct enforce_carrier carrier;
	bool fetch = fd < 0; /* the request is over: a copy of the owner's descriptor */
	int r;

	if (!enforce_caps(c->enf)->needs_socket)
		return 0;
	if (ch) {
		r = enforce_xfrm_carrier(&carrier, ike->local_host, ike->remote_host, ch->reqid,
					 ch->tunnel);
		if (r < 0)
			return r;
	}
	if (fetch && (fd = sockdiag_fetch(l->owner.pid, &l->flow, l->cookie)) < 0)
		return fd;
	r = enforce_flow_sock(c->enf, fd, &l->flow, ch ? &carrier : NULL);
	if (fetch)
		close(fd);
	return r;
}

/*
 * Disarm first: from now on nothing of the flow leaves, under any SA. On the
 * kernel data plane the socket's own policy holds the flow, and it names the
 * child: a latch that waits while that child may still carry it gets its
 * socket blocked, or is reset if latchd cannot reach the socket. A child gone
 * (sa-gone) needs nothing: no state has its reqid, the kernel drops the flow.
 */
void core_break(struct core *c, struct latch *l, uint16_t reason)
{
	bool wait = l->pol->on_break == IPC_ON_BREAK_WAIT;
	int r;

	enforce_flow_disarm(c->enf, &l->flow);
	if (wait && reason != IPC_REASON_SA_GONE) {
		r = core_sock_hold(c, l, -1, NULL, NULL);
		if (r < 0) {
			log_warn("latch %llu: cannot block its socket (%s): reset, not waiting",
				 (unsigned long long)l->id, strerror(-r));
			wait = false;
		}
	}
	if (l->state == IPC_STATE_ESTABLISHED)
		latchdb_set_state(c->db, l, IPC_STATE_BROKEN, reason, ev_now(c->loop));
	if (!wait)
		core_close(c, l, reason, true);
}

/* ---------------------------------------------------------------- SA events */

/*
 * Judge every SA that covers an established latch's flow (R29-R30): one
 * conflict breaks the latch; an SA whose peer's certificate is still being
 * read holds the flow disarmed until it is judged; only when every covering SA
 * is congruent is the flow armed.
 */
struct rejudge {
	struct core *c;
	struct latch *l;
	bool conflict, waiting;
	char why[256];
};

static bool rejudge_one(void *u, const struct sa_ike *ike, const struct sa_child *ch)
{
	struct rejudge *rj = u;
	char why[256];
	int r = core_judge(rj->c, rj->l, ike, ch, why, sizeof(why));

	if (r == -EAGAIN) {
		rj->waiting = true;
	} else if (r < 0 && !rj->conflict) {
		rj->conflict = true;
		snprintf(rj->why, sizeof(rj->why), "%s", why);
	}
	return false;
}

static void rejudge(struct core *c, struct latch *l)
{
	struct rejudge rj = { .c = c, .l = l };

	if (l->state != IPC_STATE_ESTABLISHED)
		return; /* a BROKEN latch comes back through core_try_restore() */
	sacache_covering(c->sa, &l->flow, rejudge_one, &rj);
	if (rj.conflict) {
		log_warn("latch %llu: %s", (unsigned long long)l->id, rj.why);
		core_break(c, l, IPC_REASON_SA_CONFLICT);
	} else if (rj.waiting) {
		enforce_flow_disarm(c->enf, &l->flow);
	} else if (l->sa.child_id) {
		enforce_flow_arm(c->enf, &l->flow);
	}
}

/*
 * The database may not change while it is walked, so latches to break are
 * collected first: breaking closes (removes) them.
 */
struct collect {
	struct latch **v;
	size_t n, cap;
	bool (*want)(void *u, struct latch *l);
	void *u;
};

static bool collect_one(void *u, struct latch *l)
{
	struct collect *co = u;

	if (!co->want(co->u, l))
		return false;
	if (co->n == co->cap) {
		size_t cap = co->cap ? co->cap * 2 : 64;
		struct latch **v = realloc(co->v, cap * sizeof(*v));

		if (!v)
			return true;
		co->v = v;
		co->cap = cap;
	}
	co->v[co->n++] = l;
	return false;
}

void core_each_matching(struct core *c, bool (*want)(void *u, struct latch *l), void *u,
			void (*act)(struct core *c, struct latch *l, void *u))
{
	struct collect co = { .want = want, .u = u };

	latchdb_each(c->db, collect_one, &co);
	for (size_t i = 0; i < co.n; i++)
		act(c, co.v[i], u);
	free(co.v);
}

static bool covered_by(void *u, struct latch *l)
{
	const struct sa_child *ch = u;

	return !l->listener && l->state == IPC_STATE_ESTABLISHED &&
	       sacache_child_covers(ch, &l->flow);
}

static bool is_established(void *u, struct latch *l)
{
	return !l->listener && l->state == IPC_STATE_ESTABLISHED;
}

static void act_rejudge(struct core *c, struct latch *l, void *u)
{
	rejudge(c, l);
}

static bool is_broken(void *u, struct latch *l);
static void act_restore(struct core *c, struct latch *l, void *u);

/* New certificates are known: the SAs they belong to can be judged now. */
void core_rejudge_all(struct core *c)
{
	core_each_matching(c, is_established, NULL, act_rejudge);
	core_each_matching(c, is_broken, NULL, act_restore);
}

struct restore {
	struct core *c;
	struct latch *l;
	bool found;
};

static bool rebind_one(void *u, const struct sa_ike *ike, const struct sa_child *ch)
{
	struct restore *rs = u;
	char why[256];

	if (core_judge(rs->c, rs->l, ike, ch, why, sizeof(why)) < 0)
		return false;
	/* kernel: a BROKEN latch's socket is blocked, or names a child now gone */
	if (rs->l->state == IPC_STATE_BROKEN && core_sock_hold(rs->c, rs->l, -1, ike, ch) < 0)
		return true; /* it cannot be carried: it stays BROKEN */
	core_bind(rs->c, rs->l, ike, ch);
	rs->found = true;
	return true;
}

/*
 * A latch lost its SA, or was BROKEN and waits: is a congruent SA (back)
 * there, and no conflicting or unjudged one beside it (R22)? Arming beside a
 * conflicting SA would let the data plane carry the flow under it.
 */
bool core_try_restore(struct core *c, struct latch *l)
{
	struct restore rs = { c, l, false };
	struct rejudge rj = { .c = c, .l = l };

	sacache_covering(c->sa, &l->flow, rejudge_one, &rj);
	if (rj.conflict || rj.waiting)
		return false;
	sacache_covering(c->sa, &l->flow, rebind_one, &rs);
	if (!rs.found)
		return false;
	enforce_flow_arm(c->enf, &l->flow);
	if (l->state == IPC_STATE_BROKEN)
		latchdb_set_state(c->db, l, IPC_STATE_ESTABLISHED, IPC_REASON_RESTORED,
				  ev_now(c->loop));
	return true;
}

static bool carried_by(void *u, struct latch *l)
{
	const uint32_t *child_id = u;

	return !l->listener && l->sa.child_id == *child_id &&
	       (l->state == IPC_STATE_ESTABLISHED || l->state == IPC_STATE_BROKEN);
}

static void act_lost(struct core *c, struct latch *l, void *u)
{
	/* Disarm before looking for a successor: nothing may leave meanwhile. */
	enforce_flow_disarm(c->enf, &l->flow);
	l->sa.child_id = 0;
	control_latch_changed(l->client, l->id);
	if (!core_try_restore(c, l))
		core_break(c, l, IPC_REASON_SA_GONE);
}

static bool is_broken(void *u, struct latch *l)
{
	return l->state == IPC_STATE_BROKEN;
}

static void act_restore(struct core *c, struct latch *l, void *u)
{
	core_try_restore(c, l);
}

static void sa_child_up(void *u, const struct sa_ike *ike, const struct sa_child *ch)
{
	struct core *c = u;

	CORE_FEATURES_CALL(child_up, c, ch);
	core_each_matching(c, covered_by, (void *)ch, act_rejudge);
	core_each_matching(c, is_broken, NULL, act_restore);
	core_resolve_pending(c);
}

static void sa_child_down(void *u, const struct sa_ike *ike, const struct sa_child *ch)
{
	struct core *c = u;
	uint32_t id = ch->id;

	CORE_FEATURES_CALL(child_down, c, id);
	core_each_matching(c, carried_by, &id, act_lost);
}

struct rekey {
	uint32_t old_id;
	const struct sa_child *ch;
};

static bool carried_by_old(void *u, struct latch *l)
{
	struct rekey *rk = u;

	return carried_by(&rk->old_id, l);
}

static void act_rekeyed(struct core *c, struct latch *l, void *u)
{
	struct rekey *rk = u;

	/* A rekey keeps peer and protection (charon rekeys with the same proposal). */
	l->sa.child_id = rk->ch->id;
	l->sa.spi_in = rk->ch->spi_in;
	l->sa.spi_out = rk->ch->spi_out;
	control_latch_changed(l->client, l->id);
}

static void sa_child_rekeyed(void *u, uint32_t old_id, const struct sa_ike *ike,
			     const struct sa_child *ch)
{
	struct core *c = u;
	struct rekey rk = { old_id, ch };

	core_each_matching(c, carried_by_old, &rk, act_rekeyed);
}

static void sa_ike_up(void *u, const struct sa_ike *ike)
{
	struct core *c = u;
	struct ike_ident *id;

	if (core_ident(c, ike->id))
		return;
	id = calloc(1, sizeof(*id));
	if (!id)
		return;
	id->ike_id = ike->id;
	id->gen = c->certs_gen;
	id->next = c->idents;
	c->idents = id;
	core_list_certs(c);
}

/*
 * A rekeyed IKE_SA is the same authentication: its peer's key is the old
 * one's. Read again from charon's cache, it could be lost or, if another
 * key has presented the name since, undecidable.
 */
static void sa_ike_rekeyed(void *u, uint32_t old_id, const struct sa_ike *nu)
{
	struct core *c = u;
	const struct ike_ident *old = core_ident(c, old_id);
	struct ike_ident *id;

	if (!old || !old->ready || core_ident(c, nu->id))
		return;
	id = malloc(sizeof(*id));
	if (!id)
		return;
	*id = *old;
	id->ike_id = nu->id;
	id->next = c->idents;
	c->idents = id;
}

static void sa_ike_down(void *u, const struct sa_ike *ike)
{
	ident_forget(u, ike->id);
}

static const struct sacache_ops sa_ops = {
	.ike_up = sa_ike_up,
	.ike_down = sa_ike_down,
	.ike_rekeyed = sa_ike_rekeyed,
	.child_up = sa_child_up,
	.child_down = sa_child_down,
	.child_rekeyed = sa_child_rekeyed,
};

/* ---------------------------------------------------------------- charon */

void core_charon_known(struct core *c)
{
	CORE_FEATURES_CALL(charon_known, c);
}

static void on_charon_up(void *u, bool resync)
{
	struct core *c = u;

	log_info("charon reachable%s", resync ? " again: resynchronising" : "");
	CORE_FEATURES_CALL(charon_reached, c);
	core_charon_up(c, resync);
}

static bool is_live(void *u, struct latch *l)
{
	return !l->listener && l->state != IPC_STATE_CLOSED;
}

static void act_key_manager_gone(struct core *c, struct latch *l, void *u)
{
	enforce_flow_disarm(c->enf, &l->flow);
	l->sa.child_id = 0;
	control_latch_changed(l->client, l->id);
	if (l->state == IPC_STATE_LARVAL)
		return; /* its request fails with the initiate */
	core_break(c, l, IPC_REASON_KEY_MANAGER);
}

/* charon went away: every SA it carried is gone with it (R16). */
static void on_charon_down(void *u, int err, const char *why)
{
	struct core *c = u;

	log_warn("charon unreachable: %s", why);
	CORE_FEATURES_CALL(charon_down, c);
	core_each_matching(c, is_live, NULL, act_key_manager_gone);
	sacache_clear(c->sa);
	for (struct conn *conn = c->conns; conn; conn = conn->next)
		conn->loaded = conn->loading = false;
}

/* An IKE_SA that went down before it was ever up: authentication was refused. */
static void on_auth_failed(void *u, const struct charon_auth_failure *f)
{
	core_conn_failed(u, f->conn, f->remote_id);
}

static const struct charon_ops charon_ops = {
	.up = on_charon_up,
	.down = on_charon_down,
	.auth_failed = on_auth_failed,
};

/* ---------------------------------------------------------------- sockets */

/*
 * The kernel destroyed a socket: its latches are CLOSED (R35). A protected
 * socket may have more than one: a connection that ended without latchd
 * (the peer's reset) and the one it connected next.
 */
static void socket_gone(const struct flow *f, uint64_t cookie, void *u)
{
	struct core *c = u;
	struct latch *l;

	while ((l = latchdb_by_cookie(c->db, cookie)))
		core_close(c, l, IPC_REASON_OWNER, false);
	CORE_FEATURES_CALL(socket_gone, c, cookie);
}

static bool socket_lost(void *u, struct latch *l)
{
	return l->cookie && l->state != IPC_STATE_CLOSED &&
	       (l->listener ? false : sockdiag_exists(&l->flow, l->cookie) == 0);
}

static void act_socket_lost(struct core *c, struct latch *l, void *u)
{
	core_close(c, l, IPC_REASON_OWNER, false);
}

/*
 * The kernel dropped destroy events (ENOBUFS: thousands of sockets closed at
 * once): ask it which latched sockets are still there.
 */
static int on_diag(struct ev_source *s, int fd, uint32_t revents, void *u)
{
	struct core *c = u;

	if (sockdiag_monitor_read(fd, socket_gone, u) == -ENOBUFS) {
		log_warn("socket destroy events were lost: checking every latched socket");
		core_each_matching(c, socket_lost, NULL, act_socket_lost);
	}
	return 0;
}

/* ---------------------------------------------------------------- life cycle */

/* Whether the control socket is an entry of dir (the default: both in /run/latch). */
static bool socket_in(const char *dir, const char *sock)
{
	size_t n = strlen(dir);

	return !strncmp(dir, sock, n) && sock[n] == '/' && !strchr(sock + n + 1, '/');
}

/* The journal of latches (persist.h); without it latches do not survive a restart. */
static void open_journal(struct core *c)
{
	/* 0700, but every user must reach a control socket that lives there. */
	mode_t mode = socket_in(c->cfg.state_dir, c->cfg.socket) ? 0755 : 0700;
	int r = persist_open(c->cfg.state_dir, mode, &c->persist);

	if (r < 0)
		log_warn("state directory %s: %s%s: latches will not survive a restart",
			 c->cfg.state_dir, strerror(-r),
			 r == -EPERM ? " (not latchd's own, or writable by others)" : "");
}

/* In reverse order: a feature may rely on those before it. */
static void features_free(struct core *c)
{
	size_t n = 0;

	while (core_features[n])
		n++;
	while (n--) {
		if (core_features[n]->free)
			core_features[n]->free(c);
	}
}

static int load_pem(const char *path, struct pem *ret)
{
	uint8_t *der = NULL;
	size_t der_len;
	int r;

	r = ident_cert_read_pem(path, &der, &der_len, &ret->info);
	free(der);
	if (r == 0)
		r = ident_file_read(path, &ret->text, &ret->len, 1 << 20);
	return r;
}

static int load_credentials(struct core *c)
{
	int r;

	if (c->cfg.cert[0]) {
		r = load_pem(c->cfg.cert, &c->cert);
		if (r < 0) {
			log_err("cert %s: %s", c->cfg.cert, strerror(-r));
			return r;
		}
	}
	for (unsigned i = 0; i < c->cfg.n_cas; i++) {
		r = load_pem(c->cfg.cas[i], &c->cas[c->n_cas]);
		if (r < 0) {
			log_err("ca %s: %s", c->cfg.cas[i], strerror(-r));
			return r;
		}
		c->n_cas++;
	}
	if (c->cfg.local_id[0])
		snprintf(c->local_id, sizeof(c->local_id), "%s", c->cfg.local_id);
	else if (c->cert.text)
		snprintf(c->local_id, sizeof(c->local_id), "%s",
			 c->cert.info.n_sans ? c->cert.info.sans[0] : c->cert.info.subject);
	return 0;
}

static bool forget_client(void *u, struct latch *l)
{
	if (l->client == u)
		l->client = NULL;
	return false;
}

/* A client of the control socket went away: nothing may point to it any more. */
static void client_gone(void *core, struct client *cl)
{
	struct core *c = core;

	latchdb_each(c->db, forget_client, cl);
	CORE_FEATURES_CALL(client_gone, c, cl);
}

static const struct latchdb_ops db_ops = { .changed = on_changed };
static const struct control_ops ctl_ops = {
	.handle = core_handle,
	.client_gone = client_gone,
};

/*
 * A plane that holds a flow by its socket (the kernel) takes it from its owner (pidfd_getfd)
 * to block it on break and after a reset; without that, "wait" on break
 * resets instead. Said once, at start, rather than at each break.
 */
static void warn_no_fetch(void)
{
	char why[160];

	if (sockdiag_fetch_probe(why, sizeof(why)) < 0)
		log_warn("%s: a latch whose token waits on break will be reset instead, and a "
			 "reset socket cannot be blocked",
			 why);
}

static int open_enforcement(struct core *c)
{
	struct enforce_config ec = ENFORCE_CONFIG_DEFAULT;
	int r;

	ec.table = c->cfg.nft_table;
	ec.iface = c->cfg.tun;
	ec.mark = c->cfg.mark;
	ec.ct_mark = c->cfg.mark;
	ec.data_plane = c->cfg.data_plane;
	for (const struct core_feature *const *f = core_features; *f; f++) {
		r = (*f)->open ? (*f)->open(c, &ec) : 0;
		if (r < 0)
			return r;
	}
	/* Adopt: what a previous latchd left keeps its flows fail-closed until judged. */
	r = enforce_open(&c->enf, &ec, ENFORCE_ADOPT);
	if (r < 0)
		log_err("enforcement: %s", enforce_last_error(NULL));
	else
		log_info("data plane: %s; %s", enforce_caps(c->enf)->name,
			 enforce_plane_why(c->enf));
	if (r == 0 && enforce_caps(c->enf)->needs_socket)
		warn_no_fetch();
	return r;
}

static int open_parts(struct core *c)
{
	struct control_config cc = {
		.path = c->cfg.socket,
		.max_clients_per_uid = c->cfg.max_clients,
		.max_clients = c->cfg.max_clients_total,
		.admin_clients = c->cfg.admin_clients,
		.max_pending_per_uid = c->cfg.max_pending,
		.max_queued_per_uid = c->cfg.max_queued_uid,
		.max_queued = c->cfg.max_queued_total,
		.admin_gid = c->cfg.admin_gid,
	};
	int r;

	r = load_credentials(c);
	if (r == 0)
		r = core_pending_open(c);
	if (r == 0)
		r = latchdb_new(&db_ops, c, &c->db);
	if (r == 0)
		r = sacache_new(&sa_ops, c, &c->sa);
	if (r == 0)
		r = open_enforcement(c);
	if (r == 0)
		r = sockdiag_monitor_open(&c->diag_fd);
	if (r == 0)
		r = ev_add_io(c->loop, &c->diag_src, c->diag_fd, EPOLLIN, on_diag, c);
	if (r == 0)
		r = charon_new(c->loop, c->cfg.vici_socket, c->sa, &charon_ops, c, &c->charon);
	if (r == 0)
		open_journal(c);
	if (r == 0)
		r = core_watch_conns(c);
	/* after the VICI client: adopted listeners' connections are loaded again */
	for (const struct core_feature *const *f = core_features; *f && r == 0; f++)
		r = (*f)->start ? (*f)->start(c) : 0;
	if (r == 0 && (r = sockdiag_netns_self(&c->netns)) < 0)
		log_err("SO_NETNS_COOKIE: %s: latchd cannot tell its own sockets", strerror(-r));
	if (r == 0)
		r = control_new(c->loop, &cc, &ctl_ops, c, &c->ctl);
	return r;
}

int core_new(struct ev_loop *loop, const struct config *cfg, struct core **ret)
{
	struct core *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->cfg = *cfg;
	c->loop = loop;
	c->diag_fd = -1;
	c->started_usec = ev_now(loop);
	r = open_parts(c);
	if (r < 0) {
		core_free(c, false);
		return r;
	}
	*ret = c;
	return 0;
}

void core_free(struct core *c, bool keep)
{
	if (!c)
		return;
	control_free(c->ctl);
	if (c->pend) /* answered now; the set stays until charon's client has failed its calls */
		pending_free_all(c->pend);
	charon_free(c->charon);
	ev_source_free(c->diag_src);
	ev_source_free(c->conn_timer);
	if (c->diag_fd >= 0)
		close(c->diag_fd);
	enforce_close(c->enf, keep);
	sacache_free(c->sa);
	latchdb_free(c->db);
	features_free(c);
	pending_set_free(c->pend);
	persist_close(c->persist);
	while (c->idents)
		ident_forget(c, c->idents->ike_id);
	while (c->conns) {
		struct conn *next = c->conns->next;

		free(c->conns);
		c->conns = next;
	}
	for (unsigned i = 0; i < c->n_cas; i++)
		free(c->cas[i].text);
	free(c->cert.text);
	free(c);
}
