/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_FLOW_H
#define LATCH_LATCHD_FLOW_H

/*
 * Flows as latchd sees them: a connected socket's 5-tuple (struct flow) and
 * a listener's local 3-tuple (struct flow3), read from the socket itself,
 * never from a client's word (docs/security.md).
 *
 *	struct flow f;
 *	char text[FLOW_FMT_MAX];
 *	if (flow_from_fd(fd, &f) == 0)
 *		log("latched %s", flow_format(text, sizeof(text), &f));
 *
 * Addresses: `union flow_addr`, 16 bytes; an IPv4 address fills the first 4
 * bytes (network order) and the other 12 are zero, so two flows compare and
 * hash on the same bytes whatever the family.
 *
 * The family is the family of the packets on the wire: an AF_INET6 socket
 * connected to a v4-mapped address (::ffff:a.b.c.d) gives an AF_INET flow,
 * because that is what nftables and the SAs see. Ports are in host order.
 */

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

union flow_addr {
	struct in_addr v4;
	struct in6_addr v6;
	uint8_t b[16];
};

struct flow {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t proto;	/* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t lport, rport;
	union flow_addr laddr, raddr;
};

/*
 * A listener's latch: every packet to (addr, proto, port). A wildcard bind
 * has an all-zero addr; family AF_UNSPEC means a dual-stack wildcard socket
 * (AF_INET6, ::, IPV6_V6ONLY off) that receives both families.
 */
struct flow3 {
	uint8_t family; /* AF_INET, AF_INET6 or AF_UNSPEC (see above) */
	uint8_t proto;
	uint16_t port;
	union flow_addr addr;
};

/* "udp [2001:db8::1]:40000 -> [2001:db8::2]:5353" fits */
#define FLOW_FMT_MAX 112

/*
 * From a connected TCP or UDP socket (borrowed): 0, or -ENOTCONN (not
 * connected), -EAFNOSUPPORT (not inet), -EPROTONOSUPPORT (not TCP/UDP),
 * -ENOTSOCK or another -errno of getsockopt. ret is untouched on failure.
 */
int flow_from_fd(int fd, struct flow *ret);

/* From a bound TCP or UDP socket (listening, or not): the same errors but -ENOTCONN. */
int flow3_from_fd(int fd, struct flow3 *ret);

/* "tcp 192.0.2.1:40000 -> 192.0.2.2:8080"; always NUL-terminated; returns buf. */
const char *flow_format(char *buf, size_t len, const struct flow *f);
/* "tcp 192.0.2.1:8080", "tcp *:8080" (v4), "tcp [::]:8080", "tcp any:8080" (dual stack) */
const char *flow3_format(char *buf, size_t len, const struct flow3 *f);

bool flow_equal(const struct flow *a, const struct flow *b);
bool flow3_equal(const struct flow3 *a, const struct flow3 *b);

/*
 * A keyed hash (SipHash-2-4 over the flow's canonical bytes) for latchd's
 * tables. Flows are partly chosen by local users, so the key should be
 * random per process (getrandom) to keep them from colliding on purpose.
 */
uint64_t flow_hash(const struct flow *f, const uint8_t key[16]);

/* The flow with local and remote swapped: what the peer sees. */
void flow_reverse(const struct flow *f, struct flow *ret);

/*
 * Build a flow from text parts (tests, latchctl): proto "tcp"/"udp",
 * numeric addresses of one family. 0 or -EINVAL.
 */
int flow_parse(const char *proto, const char *laddr, unsigned lport, const char *raddr,
	       unsigned rport, struct flow *ret);

#endif
