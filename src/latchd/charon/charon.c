/* SPDX-License-Identifier: MIT */
/*
 * The facade (charon.h): the VICI client and its subscriptions, the typed
 * commands with their callbacks narrowed to what the core needs, and the SA
 * cache fed from events and list-sas. What latchd asks of charon in VICI's
 * words (command names, types, flags) is said here or in vici-cmd.c.
 */
#include "latchd/charon/charon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "latchd/base/log.h"
#include "latchd/charon/sacache-feed.h"
#include "latchd/charon/vici-cmd.h"
#include "latchd/charon/vici.h"

/* What the SA cache follows, and what tells an authentication failure (ike-updown). */
static const char *const events[] = {
	"ike-updown", "child-updown", "ike-rekey", "child-rekey", "ike-update", NULL,
};

struct charon {
	struct vici_client *vc;
	struct sacache *sa;
	struct charon_ops ops;
	void *u;
};

/* ---------------------------------------------------------------- events */

static void on_up(void *u, bool resync, unsigned unknown_events)
{
	struct charon *ch = u;

	ch->ops.up(ch->u, resync);
}

static void on_down(void *u, int err, const char *why)
{
	struct charon *ch = u;

	ch->ops.down(ch->u, err, why);
}

static void auth_failed(void *u, const struct charon_auth_failure *f)
{
	struct charon *ch = u;

	ch->ops.auth_failed(ch->u, f);
}

static void on_event(void *u, const char *name, const struct vici_node *msg)
{
	struct charon *ch = u;

	if (!strcmp(name, "ike-updown"))
		vici_auth_failures(msg, auth_failed, ch);
	if (sacache_feed(ch->sa, name, msg) < 0)
		log_warn("charon sent a %s event latchd does not understand", name);
}

static const struct vici_client_ops client_ops = {
	.up = on_up,
	.down = on_down,
	.event = on_event,
};

/* ---------------------------------------------------------------- life cycle */

int charon_new(struct ev_loop *loop, const char *path, struct sacache *sa,
	       const struct charon_ops *ops, void *userdata, struct charon **ret)
{
	struct vici_client_config cfg = { .path = path, .events = events };
	struct charon *ch = calloc(1, sizeof(*ch));
	int r;

	if (!ch)
		return -ENOMEM;
	ch->sa = sa;
	ch->ops = *ops;
	ch->u = userdata;
	r = vici_client_new(loop, &cfg, &client_ops, ch, &ch->vc);
	if (r < 0) {
		free(ch);
		return r;
	}
	*ret = ch;
	return 0;
}

void charon_free(struct charon *ch)
{
	if (!ch)
		return;
	vici_client_free(ch->vc);
	free(ch);
}

bool charon_is_up(const struct charon *ch)
{
	return vici_client_is_up(ch->vc);
}

const char *charon_error(const struct charon *ch)
{
	return vici_client_error(ch->vc);
}

/* ---------------------------------------------------------------- commands */

/* A command's callback and its owner's pointer, until the command is answered. */
struct call {
	struct charon *ch;
	union {
		charon_done_fn done;
		charon_ids_fn ids;
	} cb;
	void *u;
};

static struct call *call_new(struct charon *ch, void *u)
{
	struct call *call = calloc(1, sizeof(*call));

	if (call) {
		call->ch = ch;
		call->u = u;
	}
	return call;
}

/* r: what queueing the command returned; on failure the callback never runs. */
static int queued(struct call *call, int r)
{
	if (r < 0)
		free(call);
	return r;
}

static struct call *done_call(struct charon *ch, charon_done_fn cb, void *u)
{
	struct call *call = call_new(ch, u);

	if (call)
		call->cb.done = cb;
	return call;
}

static void done(void *userdata, int err, const char *errmsg, const struct vici_node *reply)
{
	struct call *call = userdata;

	call->cb.done(call->u, err, errmsg);
	free(call);
}

int charon_load_conn(struct charon *ch, const struct charon_conn_cfg *cfg, charon_done_fn cb,
		     void *u)
{
	struct call *call = done_call(ch, cb, u);

	return call ? queued(call, vici_load_conn(ch->vc, cfg, done, call)) : -ENOMEM;
}

int charon_unload_conn(struct charon *ch, const char *name, charon_done_fn cb, void *u)
{
	struct call *call = done_call(ch, cb, u);

	return call ? queued(call, vici_unload_conn(ch->vc, name, done, call)) : -ENOMEM;
}

int charon_initiate(struct charon *ch, const char *conn, const char *child, charon_done_fn cb,
		    void *u)
{
	struct call *call = done_call(ch, cb, u);

	return call ? queued(call, vici_initiate(ch->vc, conn, child, -1, done, call)) : -ENOMEM;
}

int charon_terminate_child(struct charon *ch, uint32_t child_id, charon_done_fn cb, void *u)
{
	struct call *call = done_call(ch, cb, u);

	return call ? queued(call, vici_terminate(ch->vc, 0, child_id, false, -1, done, call))
		    : -ENOMEM;
}

int charon_terminate_ike(struct charon *ch, uint32_t ike_id, charon_done_fn cb, void *u)
{
	struct call *call = done_call(ch, cb, u);

	return call ? queued(call, vici_terminate(ch->vc, ike_id, 0, false, -1, done, call))
		    : -ENOMEM;
}

int charon_load_cert(struct charon *ch, struct charon_blob pem, charon_done_fn cb, void *u)
{
	struct call *call = done_call(ch, cb, u);

	return call ? queued(call, vici_load_cert(ch->vc, "X509", "NONE", pem, done, call))
		    : -ENOMEM;
}

int charon_load_key(struct charon *ch, struct charon_blob pem, charon_done_fn cb, void *u)
{
	struct call *call = done_call(ch, cb, u);

	return call ? queued(call, vici_load_key(ch->vc, "any", pem, done, call)) : -ENOMEM;
}

int charon_flush_certs(struct charon *ch, charon_done_fn cb, void *u)
{
	struct call *call = done_call(ch, cb, u);

	return call ? queued(call, vici_flush_certs(ch->vc, "X509", done, call)) : -ENOMEM;
}

/* ---------------------------------------------------------------- listings */

/* Every list-sa event of the stream into the SA cache. */
static void sas_read(void *userdata, const struct vici_result *res)
{
	struct call *call = userdata;

	for (const struct vici_node *ev = res->err || !res->stream ? NULL : res->stream->child; ev;
	     ev = ev->next)
		sacache_feed(call->ch->sa, "list-sa", ev);
	call->cb.done(call->u, res->err, res->errmsg);
	free(call);
}

int charon_read_sas(struct charon *ch, charon_done_fn cb, void *u)
{
	struct vici_node *msg = vici_msg_new();
	struct call *call = msg ? done_call(ch, cb, u) : NULL;

	if (!call) {
		vici_node_free(msg);
		return -ENOMEM;
	}
	vici_add_kv(msg, "noblock", "yes"); /* an IKE_SA busy in charon cannot stall latchd */
	return queued(call, vici_call(ch->vc, "list-sas", msg, 0, sas_read, call, NULL));
}

static void ids_listed(void *userdata, int err, const char *errmsg, const struct vici_ike_sa *sas,
		       size_t n)
{
	struct call *call = userdata;
	uint64_t *ids = n ? calloc(n, sizeof(*ids)) : NULL;

	if (n && !ids) {
		err = -ENOMEM;
		errmsg = strerror(ENOMEM);
		n = 0;
	}
	for (size_t i = 0; i < n; i++)
		ids[i] = sas[i].uniqueid;
	call->cb.ids(call->u, err, errmsg, ids, n);
	free(ids);
	free(call);
}

int charon_list_ike_ids(struct charon *ch, charon_ids_fn cb, void *u)
{
	struct call *call = call_new(ch, u);

	if (!call)
		return -ENOMEM;
	call->cb.ids = cb;
	return queued(call, vici_list_sas(ch->vc, &(struct vici_sa_filter){ .noblock = true }, 0,
					  ids_listed, call));
}

int charon_list_conns(struct charon *ch, charon_names_fn cb, void *u)
{
	return vici_get_conns(ch->vc, cb, u);
}

int charon_list_certs(struct charon *ch, charon_certs_fn cb, void *u)
{
	return vici_list_certs(ch->vc, "X509", "NONE", NULL, cb, u);
}

int charon_info(struct charon *ch, charon_info_fn cb, void *u)
{
	return vici_charon_info(ch->vc, cb, u);
}
