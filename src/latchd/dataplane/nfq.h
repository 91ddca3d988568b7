/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_NFQ_H
#define LATCH_LATCHD_NFQ_H

/*
 * An NFQUEUE listener over raw nfnetlink_queue (libmnl): the packets the
 * enforcement's hold rule queues (an attached socket's first packet, its
 * SYN, before its latch is armed; docs/architecture.md, "A latched connection"), each
 * answered with a verdict: accept with a mark (the mark differs from the
 * packet's, so the kernel routes it again: into the data plane) or drop.
 *
 *	struct nfq *q;
 *	nfq_open(207, &q);                       // bind queue 207, copy 256 bytes
 *	ev_add_io(loop, &src, nfq_fd(q), EPOLLIN, on_readable, ctx);
 *	nfq_read(q, on_packet, ctx);             // on_packet(&pkt, ctx) per queued packet
 *	nfq_verdict(q, pkt.id, true, 0x100);     // now, or when the SA is up
 *	nfq_close(q);                            // what is still queued is dropped
 *
 * The queue has no bypass: with no listener bound, the kernel drops (fail
 * closed). Calls return 0 or -errno. One listener per queue number and
 * network namespace (a second gets -EBUSY). Needs CAP_NET_ADMIN.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "latchd/base/flow.h"

/* Bytes of each packet copied to us: IPv6 with extension headers and a TCP header fit. */
#define NFQ_COPY_RANGE 256
/* Room for any message we build. */
#define NFQ_MSG_MAX 128

struct nlmsghdr;

struct nfq_packet {
	uint32_t id;	   /* the kernel's packet id, for the verdict */
	uint16_t hw_proto; /* ETH_P_IP or ETH_P_IPV6 (host order) */
	uint8_t hook;	   /* NF_INET_* */
	bool has_mark;
	uint32_t mark;
	const uint8_t *payload; /* the network header on; NULL if none was copied */
	size_t len;		/* bytes copied (at most NFQ_COPY_RANGE) */
};

/* ---------------------------------------------------------------- pure */

/*
 * Messages into buf (NFQ_MSG_MAX bytes), returning their length: the
 * NFQNL_CFG_CMD_BIND/UNBIND command, the copy parameters (copy-packet mode,
 * range bytes), and a verdict (accept or drop; with a mark when set_mark).
 * Every message asks for an ACK except the verdict (an error still comes).
 */
size_t nfq_build_cmd(void *buf, uint16_t queue, uint8_t cmd, uint32_t seq);
size_t nfq_build_params(void *buf, uint16_t queue, uint32_t range, uint32_t seq);
size_t nfq_build_verdict(void *buf, uint16_t queue, uint32_t id, bool accept, bool set_mark,
			 uint32_t mark);

/* An NFQNL_MSG_PACKET into ret (payload points into nlh): 0, or -EBADMSG. */
int nfq_parse_packet(const struct nlmsghdr *nlh, struct nfq_packet *ret);

/*
 * The 5-tuple of an outgoing IPv4 or IPv6 TCP or UDP packet (local = its
 * source), skipping IPv6 hop-by-hop, routing and destination options
 * headers; *syn tells a TCP SYN without ACK. 0, -EBADMSG (truncated or
 * malformed), -EPROTONOSUPPORT (another protocol, or a fragment).
 */
int nfq_packet_flow(const uint8_t *p, size_t len, struct flow *ret, bool *syn);
typedef void (*nfq_packet_fn)(const struct nfq_packet *pkt, void *arg);
/* Every queued packet in one datagram of n bytes (buf aligned for nlmsghdr) to cb: their count. */
int nfq_parse_packets(const void *buf, size_t n, nfq_packet_fn cb, void *arg);

/*
 * Held packets: which wait for which latch (tag), with a limit for all and
 * one for each uid, so that no user fills the queue for the others. An
 * exempt packet (root's, the admin group's) counts against the total only.
 */
#define NFQ_HELD_MAX	 256 /* held at once, all latches together */
#define NFQ_HELD_PER_UID 32  /* of those, for the sockets of one uid */

struct nfq_held {
	uint32_t pkt; /* the kernel's packet id */
	uint64_t tag; /* what it waits for (a latch id) */
	uint32_t uid; /* its socket's owner */
};

struct nfq_held_queue {
	struct nfq_held v[NFQ_HELD_MAX];
	unsigned n;
};

/* 0 held; -ENOSPC when NFQ_HELD_MAX are held, -EDQUOT when uid holds NFQ_HELD_PER_UID. */
int nfq_held_add(struct nfq_held_queue *q, uint32_t pkt, uint64_t tag, uint32_t uid, bool exempt);
/* The packets held for tag, in the order held, into out (room for NFQ_HELD_MAX): how many. */
unsigned nfq_held_take(struct nfq_held_queue *q, uint64_t tag, uint32_t *out);

/* ----------------------------------------------------------------- I/O */

struct nfq;

/* A non-blocking CLOEXEC nfnetlink socket bound to queue number queue. */
int nfq_open(uint16_t queue, struct nfq **ret);
/* Unbinds; the kernel drops what is still queued. NULL-safe. */
void nfq_close(struct nfq *q);
int nfq_fd(const struct nfq *q);
uint16_t nfq_queue(const struct nfq *q);

/*
 * Every message waiting on the socket: each queued packet to cb. Returns
 * the number of packets, 0 when nothing was waiting, -ENOBUFS when the
 * kernel could not deliver some (they stay queued until latchd closes the
 * queue, which drops them), or another -errno.
 */
int nfq_read(struct nfq *q, nfq_packet_fn cb, void *arg);

/* accept: NF_ACCEPT with meta mark set to mark; otherwise NF_DROP. */
int nfq_verdict(struct nfq *q, uint32_t id, bool accept, uint32_t mark);
/* NF_ACCEPT with the packet's mark as it was: a packet the queue had no business with. */
int nfq_pass(struct nfq *q, uint32_t id);

#endif
