/* SPDX-License-Identifier: MIT */
/*
 * The administrators' requests (latchctl): STATUS, LIST and PEER_LIST. They
 * read the database and the SA cache and change nothing; a user sees its own
 * latches and the peers that carry them, an administrator everything.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "latchd/base/log.h"
#include "latchd/core/core-int.h"
#include "latchd/core/doctor.h"

static void put_count(struct buf *b, uint16_t type, const char *name, uint64_t v)
{
	size_t n = wire_nest_begin(b, type);

	wire_put_str(b, IPC_A_NAME, name);
	wire_put_u64(b, IPC_A_VALUE, v);
	wire_nest_end(b, n);
}

/* ---- the doctor's lines, from the running daemon ---- */

struct core_health {
	struct vici_charon charon; /* what charon said of itself */
	bool have_charon;
	bool asking;
	struct probe_result probes[PROBE_N];
	bool probed;
};

static struct core_health *health(struct core *c)
{
	if (!c->health)
		c->health = calloc(1, sizeof(*c->health));
	return c->health;
}

static void on_charon_info(void *u, int err, const char *errmsg, const struct vici_charon *info)
{
	struct core *c = u;
	struct core_health *h = health(c);

	if (!h)
		return;
	h->asking = false;
	if (info) {
		h->charon = *info;
		h->have_charon = true;
		log_info("charon: %s %s, %u plugins: %s", info->daemon, info->version,
			 info->n_plugins, info->plugins);
	} else if (err != -ECONNRESET) {
		log_warn("charon did not say what it loaded: %s", errmsg);
	}
}

/* charon answered: ask it for its version and plugins */
static void health_charon_reached(struct core *c)
{
	struct core_health *h = health(c);

	if (h && !h->asking && charon_info(c->charon, on_charon_info, c) == 0)
		h->asking = true;
}

static void health_charon_down(struct core *c)
{
	if (c->health)
		c->health->have_charon = false;
}

static void health_free(struct core *c)
{
	free(c->health);
	c->health = NULL;
}

/* The doctor's lines follow charon's life (struct core_feature). */
const struct core_feature core_health_feature = {
	.name = "health",
	.free = health_free,
	.charon_reached = health_charon_reached,
	.charon_down = health_charon_down,
};

static void put_checks(struct core *c, struct buf *b)
{
	struct core_health *h = health(c);
	enum data_plane plane = probe_plane_in_force(c->enf);
	struct doctor *d = calloc(1, sizeof(*d));

	if (!h || !d) {
		free(d);
		return;
	}
	if (!h->probed) { /* once: the kernel does not change under latchd */
		probe_kernel(h->probes);
		h->probed = true;
	}
	doctor_privileges(d);
	doctor_credentials(d, &c->cfg);
	doctor_add(d, true, "data plane", "%s, since latchd started: %s",
		   enforce_caps(c->enf)->name, enforce_plane_why(c->enf));
	doctor_kernel(d, h->probes, plane);
	doctor_charon(d, &c->cfg, charon_error(c->charon), h->have_charon ? &h->charon : NULL,
		      plane);
	doctor_settings(d, &c->cfg, h->have_charon ? h->charon.daemon : NULL, plane);
	for (unsigned i = 0; i < d->n; i++) {
		size_t n = wire_nest_begin(b, IPC_A_CHECK);

		wire_put_str(b, IPC_A_NAME, d->line[i].what);
		wire_put_u64(b, IPC_A_VALUE, d->line[i].ok);
		wire_put_str(b, IPC_A_MESSAGE, d->line[i].text);
		wire_nest_end(b, n);
	}
	free(d);
}

int core_req_status(struct core *c, struct request *req, char *err, size_t el)
{
	struct buf *b = control_reply_begin(req, 0);

	wire_put_u32(b, IPC_A_VERSION, IPC_VERSION);
	wire_put_str(b, IPC_A_NAME, "latchd " LATCH_VERSION);
	put_count(b, IPC_A_COUNTER, "charon_up", charon_is_up(c->charon));
	put_count(b, IPC_A_COUNTER, "uptime_s", (ev_now(c->loop) - c->started_usec) / 1000000);
	put_count(b, IPC_A_COUNTER, "clients", control_client_count(c->ctl));
	for (uint8_t s = IPC_STATE_LISTENER; s <= IPC_STATE_LARVAL; s++)
		put_count(b, IPC_A_COUNTER, latchdb_state_name(s), latchdb_count(c->db, s));
	put_count(b, IPC_A_COUNTER, "ike_sas", sacache_count_ike(c->sa));
	put_count(b, IPC_A_COUNTER, "child_sas", sacache_count_children(c->sa));
	put_count(b, IPC_A_LIMIT, "latches_per_uid", c->cfg.max_latches);
	put_count(b, IPC_A_LIMIT, "pending_per_uid", c->cfg.max_pending);
	put_count(b, IPC_A_LIMIT, "clients_per_uid", c->cfg.max_clients);
	/* file paths, charon's plugins, the kernel's gaps: for administrators */
	if (control_has_feature(req, IPC_FEATURE_STATUS_CHECKS) && control_is_admin(req))
		put_checks(c, b);
	return control_reply_send(req);
}

void core_status_text(struct core *c, char *buf, size_t len)
{
	const char *why = charon_error(c->charon);
	char states[128] = "";
	unsigned long long n = 0;
	size_t at = 0;

	for (uint8_t s = IPC_STATE_LISTENER; s <= IPC_STATE_LARVAL; s++) {
		unsigned long long k = s == IPC_STATE_CLOSED ? 0 : latchdb_count(c->db, s);

		if (k && at < sizeof(states))
			at += (size_t)snprintf(states + at, sizeof(states) - at, "%s%llu %s",
					       at ? ", " : " (", k, latchdb_state_name(s));
		n += k;
	}
	snprintf(buf, len, "charon %s%s; %llu latch%s%s%s", why ? "unreachable: " : "reachable",
		 why ? why : "", n, n == 1 ? "" : "es", states, at ? ")" : "");
}

struct lister {
	struct core *c;
	struct request *req;
	bool admin;
	uint8_t state;
	bool by_uid;
	uid_t uid;
};

static bool list_one(void *u, struct latch *l)
{
	struct lister *ls = u;

	if (l->state == IPC_STATE_LARVAL || (ls->state && l->state != ls->state))
		return false;
	if ((!ls->admin && l->owner.uid != ls->req->cred.uid) ||
	    (ls->by_uid && l->owner.uid != ls->uid))
		return false;
	core_put_latch(ls->c, control_reply_begin(ls->req, IPC_F_MORE), l);
	return control_reply_send(ls->req) < 0 || !ls->req->client;
}

int core_req_list(struct core *c, struct request *req, char *err, size_t el)
{
	struct lister ls = { c, req, control_is_admin(req), 0, false, 0 };
	struct wire_attrs owner;
	uint32_t uid;

	wire_get_u8(&req->msg.attrs, IPC_A_STATE, &ls.state);
	if (wire_get_nested(&req->msg.attrs, IPC_A_OWNER, &owner) == 0 &&
	    wire_get_u32(&owner, IPC_A_OWNER_UID, &uid) == 0) {
		ls.by_uid = true;
		ls.uid = (uid_t)uid;
	}
	latchdb_each(c->db, list_one, &ls);
	if (!req->client)
		return 0;
	control_reply_begin(req, 0);
	return control_reply_send(req);
}

/* ---- PEER_LIST: the IKE peers, with how many of the caller's latches each carries */

struct peer_count {
	uint32_t ike_id;
	uid_t uid;
	bool all;
	unsigned n;
};

static bool count_on_ike(void *u, struct latch *l)
{
	struct peer_count *pc = u;

	if (!l->listener && l->sa.ike_id == pc->ike_id && l->state != IPC_STATE_CLOSED &&
	    (pc->all || l->owner.uid == pc->uid))
		pc->n++;
	return false;
}

struct peer_lister {
	struct core *c;
	struct request *req;
	bool admin;
	struct buf *b;
	unsigned children;
};

static void put_child(void *u, const struct sa_child *ch)
{
	struct peer_lister *pl = u;

	core_put_child(pl->b, ch->ike_id, ch);
	pl->children++;
}

static void put_peer_tuple(struct buf *b, const struct sa_ike *ike)
{
	uint8_t la[16], ra[16];
	int fam = strchr(ike->remote_host, ':') ? AF_INET6 : AF_INET;
	size_t alen = fam == AF_INET6 ? 16 : 4, n;

	if (inet_pton(fam, ike->remote_host, ra) != 1 || inet_pton(fam, ike->local_host, la) != 1)
		return;
	n = wire_nest_begin(b, IPC_A_TUPLE);
	wire_put_u8(b, IPC_A_TUPLE_FAMILY, fam == AF_INET6 ? IPC_FAMILY_INET6 : IPC_FAMILY_INET);
	wire_put_bytes(b, IPC_A_TUPLE_LOCAL_ADDR, la, alen);
	wire_put_bytes(b, IPC_A_TUPLE_REMOTE_ADDR, ra, alen);
	wire_nest_end(b, n);
}

static void list_peer(void *u, const struct sa_ike *ike)
{
	struct peer_lister *pl = u;
	struct peer_count pc = { ike->id, pl->req->cred.uid, pl->admin, 0 };
	struct latch_ident remote, local = { 0 };
	size_t n;

	latchdb_each(pl->c->db, count_on_ike, &pc);
	if (!pl->req->client || (!pl->admin && !pc.n))
		return; /* a user sees the peers of its own latches */
	core_ike_remote(pl->c, ike, &remote);
	snprintf(local.id, sizeof(local.id), "%s", ike->local_id);
	pl->b = control_reply_begin(pl->req, IPC_F_MORE);
	core_put_ident(pl->b, IPC_A_REMOTE_IDENTITY, &remote);
	core_put_ident(pl->b, IPC_A_LOCAL_IDENTITY, &local);
	put_peer_tuple(pl->b, ike);
	pl->children = 0;
	sacache_each_child(pl->c->sa, ike->id, put_child, pl);
	n = wire_nest_begin(pl->b, IPC_A_COUNTER);
	wire_put_str(pl->b, IPC_A_NAME, "latches");
	wire_put_u64(pl->b, IPC_A_VALUE, pc.n);
	wire_nest_end(pl->b, n);
	n = wire_nest_begin(pl->b, IPC_A_COUNTER);
	wire_put_str(pl->b, IPC_A_NAME, "child_sas");
	wire_put_u64(pl->b, IPC_A_VALUE, pl->children);
	wire_nest_end(pl->b, n);
	n = wire_nest_begin(pl->b, IPC_A_COUNTER);
	wire_put_str(pl->b, IPC_A_NAME, "ike_sa");
	wire_put_u64(pl->b, IPC_A_VALUE, ike->id);
	wire_nest_end(pl->b, n);
	control_reply_send(pl->req);
}

int core_req_peer_list(struct core *c, struct request *req, char *err, size_t el)
{
	struct peer_lister pl = { c, req, control_is_admin(req), NULL, 0 };

	sacache_each_ike(c->sa, list_peer, &pl);
	if (!req->client)
		return 0;
	control_reply_begin(req, 0);
	return control_reply_send(req);
}
