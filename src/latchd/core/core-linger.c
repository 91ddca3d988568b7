/* SPDX-License-Identifier: MIT */
/*
 * The flows of closed latches stay enforced a while. A connection's last
 * packets outlive its latch: the ACKs of TIME_WAIT, the kernel's RST to a
 * segment that arrives after an abort. Dropped from latchd's sets at once,
 * they would leave unmarked, in clear. So a closed latch's flow lingers in the
 * flows set for CORE_LINGER_USEC (Linux's TIME_WAIT is 60 s): still armed while
 * the SA it was carried by lasts, disarmed (dropped) the moment that SA goes or
 * another SA covers it, removed when the time is up or a new latch takes it.
 *
 * Except behind a latched listener: there a disarmed flow would also drop the
 * SYN-ACK of a new connection that reuses the 5-tuple (the client's kernel may
 * pick the port again at once after a reset), and the client's connect would
 * wait out its SYN retransmissions (68 s: docs/performance.md). Such a flow is
 * removed instead of disarmed; the listener's rules keep its packets out of
 * clear text (steered into the data plane, dropped on any other interface).
 */
#include <stdlib.h>

#include "latchd/core/core-int.h"

struct closed_flow {
	struct flow flow;
	uint32_t child_id; /* armed under this child; 0: disarmed */
	uint64_t expire;
	struct closed_flow *next;
};

/* Its packets may no longer leave: disarmed, or behind a latched listener removed. */
static void drop(struct core *c, const struct flow *f)
{
	if (latchdb_listener_for(c->db, f))
		enforce_flow_del(c->enf, f);
	else
		enforce_flow_disarm(c->enf, f);
}

static void disarm(struct core *c, struct closed_flow *lg)
{
	if (lg->child_id)
		drop(c, &lg->flow);
	lg->child_id = 0;
}

/* The flow of closed latch l lingers: true, unless it never sent a packet or memory is out. */
static bool flow_closed(struct core *c, const struct latch *l)
{
	bool armed = l->state == IPC_STATE_ESTABLISHED && l->sa.child_id;
	struct closed_flow *lg;

	if (l->state == IPC_STATE_LARVAL || !(lg = calloc(1, sizeof(*lg))))
		return false; /* the core removes it at once */
	lg->flow = l->flow;
	lg->child_id = armed ? l->sa.child_id : 0;
	lg->expire = ev_now(c->loop) + CORE_LINGER_USEC;
	if (!armed)
		drop(c, &l->flow);
	lg->next = c->lingering;
	c->lingering = lg;
	return true;
}

/* A new latch takes the flow: it is the new latch's to enforce. */
static void flow_taken(struct core *c, const struct flow *f)
{
	for (struct closed_flow **pp = &c->lingering; *pp; pp = &(*pp)->next) {
		if (flow_equal(&(*pp)->flow, f)) {
			struct closed_flow *gone = *pp;

			*pp = gone->next;
			free(gone);
			return;
		}
	}
}

static void child_down(struct core *c, uint32_t child_id)
{
	for (struct closed_flow *lg = c->lingering; lg; lg = lg->next) {
		if (lg->child_id == child_id)
			disarm(c, lg);
	}
}

static void child_up(struct core *c, const struct sa_child *ch)
{
	for (struct closed_flow *lg = c->lingering; lg; lg = lg->next) {
		if (lg->child_id && lg->child_id != ch->id && sacache_child_covers(ch, &lg->flow))
			disarm(c, lg);
	}
}

static int expire(struct ev_source *s, uint64_t now, void *u)
{
	struct core *c = u;

	for (struct closed_flow **pp = &c->lingering; *pp;) {
		struct closed_flow *lg = *pp;

		if (lg->expire > now) {
			pp = &lg->next;
			continue;
		}
		*pp = lg->next;
		if (!latchdb_by_flow(c->db, &lg->flow))
			enforce_flow_del(c->enf, &lg->flow);
		free(lg);
	}
	return ev_time_set_in(s, CORE_LINGER_USEC / 12);
}

static int start(struct core *c)
{
	return ev_add_time(c->loop, &c->linger_timer, ev_now(c->loop) + CORE_LINGER_USEC / 12,
			   expire, c);
}

static void linger_free(struct core *c)
{
	ev_source_free(c->linger_timer);
	while (c->lingering) {
		struct closed_flow *next = c->lingering->next;

		free(c->lingering);
		c->lingering = next;
	}
}

const struct core_feature core_linger_feature = {
	.name = "linger",
	.start = start,
	.free = linger_free,
	.child_up = child_up,
	.child_down = child_down,
	.flow_taken = flow_taken,
	.flow_closed = flow_closed,
};
