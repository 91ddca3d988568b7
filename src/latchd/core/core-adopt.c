/* SPDX-License-Identifier: MIT */
/*
 * latchd's own restart (RFC 5660 R16; docs/architecture.md, "Restarts"): the latches a previous
 * latchd recorded (persist.h) are adopted when their sockets still exist, the
 * kernel's enforcement of the rest is swept away, and once charon's SAs and
 * certificates are known every adopted latch is bound to a congruent SA again
 * or broken (REASON_DAEMON).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "latchd/base/log.h"
#include "latchd/core/core-int.h"
#include "latchd/dataplane/sockdiag.h"

/* "owner uid 1000 pid 4242 (curl), 31 s old" of a journaled latch */
static void describe_owner(const struct core *c, const struct latch *l, char *buf, size_t len)
{
	uint64_t now = ev_now(c->loop);

	snprintf(buf, len, "owner uid %u pid %d (%s), %s%llu s old", (unsigned)l->owner.uid,
		 (int)l->owner.pid, l->comm[0] ? l->comm : "?", l->created_usec ? "" : "at least ",
		 (unsigned long long)(l->created_usec && l->created_usec <= now
					      ? (now - l->created_usec) / 1000000
					      : 0));
}

static void adopt_one(void *u, const struct persist_rec *r)
{
	const struct latch *rec = &r->l;
	struct core *c = u;
	char text[FLOW_FMT_MAX], owner[128];
	struct latch *l;
	struct conn *conn;
	bool live = rec->state == IPC_STATE_ESTABLISHED || rec->state == IPC_STATE_BROKEN;
	int have = !rec->listener && live ? sockdiag_exists(&rec->flow, rec->cookie) : 1;

	/* A flow neither ESTABLISHED nor BROKEN, or its socket gone: sweep() ends its enforcement.
	 */
	if (!rec->listener && (!live || have != 1)) {
		describe_owner(c, rec, owner, sizeof(owner));
		log_info("latch %llu %s: not re-adopted: %s%s (%s, %s)",
			 (unsigned long long)rec->id, flow_format(text, sizeof(text), &rec->flow),
			 !live	     ? "it was never established"
			 : have == 0 ? "its socket is gone"
				     : "its socket cannot be looked up: ",
			 live && have < 0 ? strerror(-have) : "", latchdb_state_name(rec->state),
			 owner);
		persist_del(c->persist, rec->id);
		return;
	}
	l = latchdb_adopt(c->db, rec, ev_now(c->loop));
	if (!l) {
		persist_del(c->persist, rec->id);
		return;
	}
	if (latchdb_set_policy(c->db, l, &r->pol) < 0 ||
	    latchdb_set_ident(c->db, l, true, &r->remote) < 0) {
		/* ENOMEM: without its policy the latch cannot be bound again. */
		log_warn("latch %llu: out of memory re-adopting it", (unsigned long long)l->id);
		if (l->listener)
			latchdb_remove(c->db, l);
		else
			core_break(c, l, IPC_REASON_DAEMON);
		return;
	}
	if (l->listener) {
		if (core_conn_responder(c, l, &conn) == 0)
			l->core = conn;
	} else {
		l->sa.child_id = 0; /* bound again once charon's SAs are known */
		c->adopting = true;
	}
	describe_owner(c, l, owner, sizeof(owner));
	log_info("latch %llu %s: re-adopted (%s, %s)", (unsigned long long)l->id,
		 l->listener ? "listener" : flow_format(text, sizeof(text), &l->flow),
		 latchdb_state_name(l->state), owner);
}

/*
 * Flows the kernel still holds for no latch of ours (a latch whose socket went
 * away while latchd did): collected during the dump, removed after it, since
 * the netlink socket cannot take a transaction in the middle of a dump.
 */
struct sweep {
	struct core *c;
	struct enforce_op *ops;
	size_t n, cap;
};

/* A wildcard listener element of one family may belong to a dual-stack listener. */
static bool listener_known(const struct latchdb *db, const struct flow3 *l)
{
	static const union flow_addr any;
	struct flow3 dual = { .family = AF_UNSPEC, .proto = l->proto, .port = l->port };

	return latchdb_listener(db, l) ||
	       (!memcmp(&l->addr, &any, sizeof(any)) && latchdb_listener(db, &dual));
}

static int sweep_one(const struct enforce_elem *el, void *u)
{
	struct sweep *sw = u;
	struct enforce_op op;

	if (el->set == ENFORCE_SET_FLOWS && !latchdb_by_flow(sw->c->db, &el->flow))
		op = (struct enforce_op){ .kind = ENFORCE_FLOW_DEL, .flow = el->flow };
	else if (el->set == ENFORCE_SET_LISTEN && !listener_known(sw->c->db, &el->listen))
		op = (struct enforce_op){ .kind = ENFORCE_LISTEN_DEL, .listen = el->listen };
	else
		return 0;
	if (sw->n == sw->cap) {
		size_t cap = sw->cap ? sw->cap * 2 : 64;
		struct enforce_op *v = realloc(sw->ops, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		sw->ops = v;
		sw->cap = cap;
	}
	sw->ops[sw->n++] = op;
	return 0;
}

static void sweep(struct core *c)
{
	struct sweep sw = { .c = c };

	if (enforce_dump(c->enf, sweep_one, &sw) == 0 && sw.n) {
		log_info("%zu flows and listeners of gone latches no longer enforced", sw.n);
		for (size_t i = 0; i < sw.n; i += ENFORCE_BATCH_MAX)
			enforce_apply(c->enf, sw.ops + i,
				      sw.n - i < ENFORCE_BATCH_MAX ? sw.n - i : ENFORCE_BATCH_MAX);
	}
	free(sw.ops);
}

/* After the journal is open (core.c): the latches of a previous latchd, adopted or swept. */
static int start(struct core *c)
{
	int r;

	if (!c->persist)
		return 0; /* no journal: nothing to adopt, nothing known to sweep */
	r = persist_load(c->persist, adopt_one, c);
	if (r < 0)
		log_warn("reading %s/latches: %s", c->cfg.state_dir, strerror(-r));
	sweep(c);
	return 0;
}

static bool unbound(void *u, struct latch *l)
{
	return !l->listener && !l->sa.child_id &&
	       (l->state == IPC_STATE_ESTABLISHED || l->state == IPC_STATE_BROKEN);
}

static void act_adopt(struct core *c, struct latch *l, void *u)
{
	if (!core_try_restore(c, l))
		core_break(c, l, IPC_REASON_DAEMON);
}

/* charon's state and certificates are known: re-adopted latches are bound or broken. */
static void charon_known(struct core *c)
{
	if (!c->adopting)
		return;
	c->adopting = false;
	core_each_matching(c, unbound, NULL, act_adopt);
}

const struct core_feature core_adopt_feature = {
	.name = "adopt",
	.start = start,
	.charon_known = charon_known,
};
