/* SPDX-License-Identifier: MIT */
/*
 * The requests that wait on charon (pending.h keeps them): what each waits
 * for, and how it is answered. A latch's request waits until every SA that
 * covers its flow is judged: one conflict refuses it (R29), an acceptable
 * one carries it (established), none makes charon initiate one; a
 * listener's until its responder connection is loaded. The core resolves
 * them again whenever what they wait for may have come (SAs, certificates,
 * connections loaded).
 */
#include <errno.h>
#include <stdio.h>

#include "latchd/core/core-int.h"

/* ---------------------------------------------------------------- pending */

/* Timed out: because charon was unreachable, or because no SA came up (issue 17). */
static void pending_expired(void *u, struct pending *p)
{
	struct core *c = u;
	const char *why = charon_error(c->charon);
	char msg[256];

	if (!charon_is_up(c->charon))
		snprintf(msg, sizeof(msg), "charon is unreachable (%s): no SA could be asked for",
			 why ? why : "its events are not registered yet");
	else
		snprintf(msg, sizeof(msg), "%s",
			 p->latch && p->latch->listener
				 ? "charon did not load the responder connection in time"
				 : "charon is reachable, but no SA with an acceptable peer came up "
				   "in time");
	core_reply_pending(c, p, -ETIMEDOUT, msg);
}

/* The client went away before its answer: the latch cannot be handed to anyone. */
static void pending_cancelled(void *u, struct pending *p)
{
	core_reply_pending(u, p, -ECANCELED, "the client went away");
}

static void pending_release(void *u, struct pending *p)
{
	core_conn_put(u, p->conn);
	p->conn = NULL;
}

static const struct pending_ops pending_ops = {
	.expired = pending_expired,
	.cancelled = pending_cancelled,
	.release = pending_release,
};

int core_pending_open(struct core *c)
{
	return pending_set_new(c->loop, (uint64_t)(c->cfg.initiate_timeout + 1) * 1000000u,
			       &pending_ops, c, &c->pend);
}

struct pending *core_pending_new(struct core *c, struct latch *l, struct request *req, int sock)
{
	struct pending *p;
	/*
	 * A plane that holds the flow by its socket sets the socket's policies
	 * when its SA is up: keep the socket till then.
	 */
	bool keep = sock >= 0 && enforce_caps(c->enf)->needs_socket;

	return pending_new(c->pend, l, req, keep ? sock : -1, &p) < 0 ? NULL : p;
}

void core_reply_pending(struct core *c, struct pending *p, int err, const char *why)
{
	struct latch *l = p->latch;
	struct request *req = pending_take_request(p);
	bool reset = p->connected;

	p->latch = NULL;
	if (!err && l) {
		l->core = p->conn; /* the latch keeps its connection in use */
		p->conn = NULL;
		if (l->listener && c->persist)
			persist_put(c->persist, l);
	}
	if (err && (l || req))
		core_metrics_refused(c, req, l, err, why);
	if (req && err)
		control_reply_error(req, err, "%s", why);
	else if (req)
		core_reply_latch(c, req, l);
	pending_free(p);
	/* not "released by owner" (issue 17): core_metrics_refused logged why */
	if (err && l)
		core_close(c, l, IPC_REASON_NONE, reset);
}

/* ---------------------------------------------------------------- resolving */

struct verdict {
	struct core *core;
	struct latch *latch;
	const struct sa_ike *ike;
	const struct sa_child *ok; /* an acceptable carrier */
	bool conflict, waiting;
	char why[256];
};

static bool judge_carrier(void *u, const struct sa_ike *ike, const struct sa_child *ch)
{
	struct verdict *v = u;
	char why[256];
	int r = core_judge(v->core, v->latch, ike, ch, why, sizeof(why));

	if (r == -EAGAIN) {
		v->waiting = true;
	} else if (r < 0) {
		v->conflict = true;
		snprintf(v->why, sizeof(v->why), "%s", why);
	} else if (!judge_exact_carrier(v->latch, ch)) {
		/* congruent, but shared: an exact latch waits for its own SA (R19) */
	} else if (!v->ok) {
		v->ok = ch;
		v->ike = ike;
	}
	return false; /* every covering SA is judged: one conflict is enough to refuse */
}

static void establish(struct core *c, struct pending *p, const struct sa_ike *ike,
		      const struct sa_child *ch)
{
	struct latch *l = p->latch;
	int r;

	core_bind(c, l, ike, ch);
	/* kernel data plane: from now on only this child (its reqid) carries the socket's flow */
	r = p->sock >= 0 ? core_sock_hold(c, l, p->sock, ike, ch) : 0;
	if (r == 0)
		r = enforce_flow_arm(c->enf, &l->flow);
	if (r < 0) {
		core_reply_pending(c, p, r, enforce_last_error(c->enf));
		return;
	}
	latchdb_set_state(c->db, l, IPC_STATE_ESTABLISHED,
			  p->responder ? IPC_REASON_NEW_CONNECTION : IPC_REASON_NONE,
			  ev_now(c->loop));
	core_reply_pending(c, p, 0, NULL);
}

/* No CA of latchd's matches the token's: name both (issue 17), the CAs by subject. */
static void no_anchor(struct core *c, struct pending *p)
{
	char msg[IPC_MESSAGE_MAX + 1];
	const char *want = p->latch->pol->peer_ca;
	size_t at;
	int n;

	n = snprintf(msg, sizeof(msg), "no trust anchor to pin for that peer: %s%s%s, and latchd ",
		     want[0] ? "the token names CA '" : "the token names no CA", want,
		     want[0] ? "'" : "");
	at = n < 0 ? 0 : (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1;
	if (!c->n_cas)
		snprintf(msg + at, sizeof(msg) - at, "has no CA (no ca line in latchd.conf)");
	for (unsigned i = 0; i < c->n_cas && at < sizeof(msg) - 1; i++) {
		n = snprintf(msg + at, sizeof(msg) - at, "%s'%s'", i ? ", " : "has only the CAs ",
			     c->cas[i].info.subject);
		at += n < 0 ? 0 : (size_t)n;
	}
	core_reply_pending(c, p, -EACCES, msg);
}

/* Still no SA for an initiator: make sure charon is asked for one. */
static void need_sa(struct core *c, struct pending *p)
{
	int r = 0;

	if (!p->conn)
		r = core_conn_initiator(c, p->latch, &p->conn);
	if (r == 0 && p->conn->loaded)
		r = core_initiate(c, p);
	if (r == -ENOENT)
		no_anchor(c, p);
	else if (r < 0)
		core_reply_pending(c, p, r, "charon could not be asked for an SA");
}

void core_pending_resolve(struct core *c, struct pending *p)
{
	struct verdict v = { .core = c, .latch = p->latch };

	if (p->latch->listener) {
		if (p->conn && p->conn->loaded)
			core_reply_pending(c, p, 0, NULL);
		return;
	}
	sacache_covering(c->sa, &p->latch->flow, judge_carrier, &v);
	if (v.conflict) /* R29: never latch while a conflicting SA exists */
		core_reply_pending(c, p, -EACCES, v.why);
	else if (v.ok)
		establish(c, p, v.ike, v.ok);
	else if (v.waiting)
		return;
	else if (p->responder)
		return; /* it came through the data plane: its SA's up event is on its way */
	else if (!p->initiated)
		need_sa(c, p);
}

static void resolve_each(void *u, struct pending *p)
{
	if (p->latch)
		core_pending_resolve(u, p);
}

void core_resolve_pending(struct core *c)
{
	pending_each(c->pend, resolve_each, c);
}
