/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_ENFORCE_H
#define LATCH_LATCHD_ENFORCE_H

/*
 * Enforcement for the libipsec data plane (docs/architecture.md,
 * "Fail-closed layers on libipsec"): the privileged half of latchd. It takes
 * no decisions; the daemon's core says which flows are latched and armed, and
 * this module makes the kernel hold to it, whether latchd runs or not.
 *
 *	struct enforce *e;
 *	struct enforce_config cfg = ENFORCE_CONFIG_DEFAULT;
 *	enforce_open(&e, &cfg, ENFORCE_ADOPT); // table + ip rule; keep a previous latchd's
 *	enforce_dump(e, on_elem, ctx);         // re-adopt: which flows are latched/armed
 *	enforce_flow_add(e, &f);    // latched: clear in or out is dropped, nothing leaves
 *	enforce_flow_arm(e, &f);    // its SA is up: it may leave (only through ipsec0)
 *	enforce_flow_disarm(e, &f); // child-down: before anything else
 *	enforce_flow_del(e, &f);    // latch gone
 *	enforce_close(e, true);     // restart: table, rule and flows stay, fail-closed
 *
 * In the kernel (table inet <cfg.table>, see enforce-rules.c for every rule):
 *  - sets flows4/6 (latched 5-tuples), armed4/6 (latched and carried by their
 *    SA), listen4/6 (listener 3-tuples), listenany4/6 (wildcard listeners:
 *    proto.port), keys as in nft.h;
 *  - prerouting, priority raw: a latched flow or listener arriving on any
 *    interface but cfg.iface is dropped (counter in_flow / in_listen);
 *  - prerouting, mangle: a RELATED ICMP error about a connection stamped with
 *    cfg.ct_mark arriving not through cfg.iface is dropped (counter icmp);
 *  - output, type route: latched flows and packets from latched listeners
 *    get meta mark cfg.mark (and ct mark cfg.ct_mark), so that only they are
 *    routed into the data plane by charon's rule 220 (kernel-netlink fwmark =
 *    cfg.mark) (counter steered);
 *  - postrouting: latched flow or listener leaving by any interface but
 *    cfg.iface → drop (out_flow / out_listen); latched flow not armed → drop
 *    (unarmed); TCP SYNs carrying cfg.mark get their MSS clamped to the route's
 *    MTU (measured on the lab: the SYN is sized for eth0 before the mark reroutes it).
 *  - output, filter (after route): a packet from an attached socket (sets
 *    attach4/6: local addr.proto.port, attachany4/6: proto.port for a
 *    wildcard bind) whose 5-tuple is not armed goes to NFQUEUE
 *    cfg.hold_queue, if cfg.hold (xt NFQUEUE through nft_compat: this
 *    kernel has no nft queue), without bypass: no listener, no packet;
 *    the attach sets start empty (their holds live in latchd's memory only);
 *  - the same chain, libipsec: a packet of a protected socket (meta mark in
 *    cfg.sock_mark/cfg.sock_mark_mask) whose 5-tuple is not armed goes to
 *    the same queue (counter name held: every later flow of a socket that
 *    was given a token is judged like its first), or without cfg.hold is
 *    dropped (counter unarmed); a latched flow's packets were re-marked by
 *    the steer rule before and are the post chain's;
 *  - ip rule (v4 and v6) "pref cfg.rule_priority fwmark cfg.mark blackhole":
 *    a marked packet with no route in table 220 is dropped, never routed in clear.
 *
 * Every call is one netlink transaction whose ACKs are checked; it returns
 * 0 or -errno and leaves the kernel's words (or ours) in enforce_last_error().
 * Calls block for the kernel's answer (microseconds; 5 s at most). Deleting
 * what is not there succeeds (disarm, del, listen_del are idempotent).
 * Not thread-safe; one struct enforce per thread. Needs CAP_NET_ADMIN.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "latchd/base/data-plane.h"
#include "latchd/base/flow.h"
#include "latchd/dataplane/enforce-xfrm.h"

struct enforce;

struct enforce_config {
	const char *table;	/* nft table (family inet); "latch" */
	const char *iface;	/* the data plane's interface; "ipsec0" */
	uint32_t mark;		/* routing mark = charon's kernel-netlink fwmark; 0x100 */
	uint32_t ct_mark;	/* conntrack mark stamped on latched connections; 0x100 */
	uint32_t rule_priority; /* blackhole ip rule; 221 (charon's table 220 rule + 1) */
	bool hold;		/* the hold rule for attached sockets (below) */
	uint16_t hold_queue;	/* its NFQUEUE number */
	/*
	 * Protected sockets' marks (enforce_sock_protect): a packet whose
	 * meta mark & sock_mark_mask is sock_mark comes from a socket that was
	 * given a token. Outside cfg.mark and charon's marks.
	 */
	uint32_t sock_mark, sock_mark_mask;
	/*
	 * Which data plane (enforce-xfrm.h). KERNEL: flows are enforced by
	 * per-socket XFRM policies (enforce_flow_sock); the table has the sets,
	 * the listeners' drop of what XFRM did not decrypt and the hold, no ip
	 * rule; the flow operations succeed doing nothing (flows and armed stay
	 * empty). AUTO: KERNEL when the kernel has ESP. The core asks what the
	 * plane does through enforce_caps, never which one it is.
	 */
	enum data_plane data_plane;
};

/* Protected sockets' marks: 0x4cXXXXXX ('L'), 24 bits for the socket (see enforce_config). */
#define ENFORCE_SOCK_MARK      0x4c000000u
#define ENFORCE_SOCK_MARK_MASK 0xff000000u

#define ENFORCE_CONFIG_DEFAULT                                                              \
	{                                                                                   \
		.table = "latch", .iface = "ipsec0", .mark = 0x100, .ct_mark = 0x100,       \
		.rule_priority = 221, .sock_mark = ENFORCE_SOCK_MARK,                       \
		.sock_mark_mask = ENFORCE_SOCK_MARK_MASK, .data_plane = DATA_PLANE_LIBIPSEC \
	}

/* enforce_open flags */
#define ENFORCE_ADOPT  0x1u /* keep an existing table's elements and counters */
#define ENFORCE_NORULE 0x2u /* do not add the blackhole ip rule (tests of the nft layer alone) */

/*
 * Create (or replace atomically, or with ENFORCE_ADOPT refresh the rules of)
 * the table, and add the ip rule unless it exists. cfg is copied. Unknown
 * flags: -EINVAL. On failure *ret is untouched and nothing is left open.
 */
int enforce_open(struct enforce **ret, const struct enforce_config *cfg, unsigned flags);

/*
 * keep: leave table and ip rule in place (latchd restarting: its flows stay
 * fail-closed while it is down). !keep: delete both. NULL-safe. Returns the
 * removal's error (the handle is freed anyway).
 */
int enforce_close(struct enforce *e, bool keep);

/*
 * The last error's text ("" after success). Valid until the next call. e
 * NULL: the last failed enforce_open's (it leaves no handle).
 */
const char *enforce_last_error(const struct enforce *e);

/* The FLOW_* kinds come first (the kernel data plane skips them: enforce.c). */
enum enforce_op_kind {
	ENFORCE_FLOW_ADD,    /* into flows */
	ENFORCE_FLOW_DEL,    /* out of flows and armed */
	ENFORCE_FLOW_ARM,    /* into armed (the flow should be in flows) */
	ENFORCE_FLOW_DISARM, /* out of armed */
	ENFORCE_LISTEN_ADD,
	ENFORCE_LISTEN_DEL,
	ENFORCE_ATTACH_ADD, /* into attach/attachany (by .listen: the socket's local end) */
	ENFORCE_ATTACH_DEL,
};

struct enforce_op {
	enum enforce_op_kind kind;
	union {
		struct flow flow;    /* FLOW_* */
		struct flow3 listen; /* LISTEN_*, ATTACH_* */
	};
};

#define ENFORCE_BATCH_MAX 8192

/*
 * All of ops in one transaction, in order: all or nothing. -E2BIG above
 * ENFORCE_BATCH_MAX, -EINVAL on a bad family or protocol (nothing sent).
 */
int enforce_apply(struct enforce *e, const struct enforce_op *ops, size_t n);

int enforce_flow_add(struct enforce *e, const struct flow *f);
int enforce_flow_del(struct enforce *e, const struct flow *f);
int enforce_flow_arm(struct enforce *e, const struct flow *f);
int enforce_flow_disarm(struct enforce *e, const struct flow *f);
int enforce_listen_add(struct enforce *e, const struct flow3 *l);
int enforce_listen_del(struct enforce *e, const struct flow3 *l);
/* An attached socket (bound, not yet connected): its unarmed packets are held (NFQUEUE). */
int enforce_attach_add(struct enforce *e, const struct flow3 *l);
int enforce_attach_del(struct enforce *e, const struct flow3 *l);

/*
 * Protection for the socket's whole life (fd borrowed; latchd's copy of the
 * application's socket): libipsec, the socket gets SO_MARK cfg.sock_mark |
 * (id & ~cfg.sock_mark_mask), so that the hold rule sees its every later
 * packet whatever its tuple (the application cannot change a mark without
 * CAP_NET_ADMIN). Kernel: nothing (the socket's own policies cover every
 * flow of it, enforce-xfrm.h). id 0 or one outside the mask: -EINVAL.
 */
int enforce_sock_protect(struct enforce *e, int fd, uint32_t id);

/*
 * What the core asks of the data plane, answered by the plane enforce_open
 * chose (AUTO resolved): the core branches on these, never on the plane's
 * name.
 */
struct enforce_caps {
	const char *name; /* for the log: "kernel (XFRM, per-socket policies)" */
	/*
	 * The plane holds a latched flow by its own socket (enforce_flow_sock,
	 * enforce_listen_sock): latchd needs the socket whenever the flow's
	 * state changes (its SA up, disarmed, reset), a copy kept from the
	 * request or one taken from its owner (sockdiag_fetch). A flow whose
	 * socket latchd cannot reach cannot be latched. Kernel.
	 */
	bool needs_socket;
	/*
	 * A protected socket is known by a mark of its own for its whole life
	 * (enforce_sock_protect), and the hold rule queues its every unarmed
	 * packet whatever its tuple. Otherwise the hold rule knows an attached
	 * socket by its local end alone (one attachment per local end, ending
	 * with its latch) and the socket's own policies cover its later flows.
	 * libipsec.
	 */
	bool marks_sockets;
	/*
	 * An unconnected UDP socket can be attached: each destination it sends
	 * to is a latch of its own. Not on the kernel: a socket holds one
	 * policy, for one destination. libipsec.
	 */
	bool attach_udp;
	/* charon must put ESP in UDP (encap = yes): libipsec's TUN sees no plain ESP. */
	bool udp_encap;
};

const struct enforce_caps *enforce_caps(const struct enforce *e);

/* Why enforce_open chose this plane, for the log ("configured", or auto's probe). */
const char *enforce_plane_why(const struct enforce *e);

/*
 * The kernel data plane's hold on a latched flow's socket (fd borrowed, the
 * passed socket): c NULL blocks the flow in both directions (from
 * enforce_flow_add on); c names the child SA that alone may carry it (when
 * the latch is armed). libipsec: does nothing (its sets do it).
 */
int enforce_flow_sock(struct enforce *e, int fd, const struct flow *f,
		      const struct enforce_carrier *c);

/* The same for a latched listener (enforce_xfrm_sock_listen); libipsec: nothing. */
int enforce_listen_sock(struct enforce *e, int fd, const struct flow3 *l);

enum enforce_set_kind {
	ENFORCE_SET_FLOWS,
	ENFORCE_SET_ARMED,
	ENFORCE_SET_LISTEN,
};

struct enforce_elem {
	enum enforce_set_kind set;
	union {
		struct flow flow;    /* FLOWS, ARMED */
		struct flow3 listen; /* LISTEN; a wildcard has a zero addr */
	};
};

/*
 * Every element of every set, to cb (which returns 0 to go on, -errno to
 * stop and make enforce_dump return it). A dual-stack wildcard listener
 * (AF_UNSPEC when added) comes back as two wildcards, AF_INET and AF_INET6.
 */
typedef int (*enforce_dump_fn)(const struct enforce_elem *el, void *arg);
int enforce_dump(struct enforce *e, enforce_dump_fn cb, void *arg);

struct enforce_count {
	uint64_t packets, bytes;
};

struct enforce_counters {
	struct enforce_count in_flow;	 /* latched flow arriving in clear */
	struct enforce_count in_listen;	 /* to a latched listener, in clear */
	struct enforce_count icmp;	 /* ICMP error about a latched connection, in clear */
	struct enforce_count steered;	 /* packets marked into the data plane */
	struct enforce_count out_flow;	 /* latched flow leaving by another interface */
	struct enforce_count out_listen; /* from a latched listener, by another interface */
	struct enforce_count unarmed;	 /* latched flow whose SA is not armed */
};

int enforce_counters(struct enforce *e, struct enforce_counters *ret);

#endif
