/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_ENFORCE_XFRM_H
#define LATCH_LATCHD_ENFORCE_XFRM_H

/*
 * The kernel data plane's enforcement (docs/dataplanes.md):
 * the kernel's own XFRM machinery, through per-socket policies on the
 * application's socket (the fd it passes with every request).
 *
 *	enforce_xfrm_sock_block(fd, &f);           // latched, no SA yet: nothing in or out
 *	enforce_xfrm_sock_carry(fd, &f, &carrier); // only under the child with carrier.reqid
 *
 * A socket policy outranks every global policy for its socket, in both
 * directions. Carrying: outbound packets of the flow need an ESP state with
 * the carrier's reqid (none: the packet is dropped and the kernel asks charon
 * for one with an ACQUIRE, never sends it in clear, never uses a broader SA
 * of another reqid); inbound packets reach the socket only when they were
 * decrypted by such a state (spoofed clear text is dropped by the kernel's
 * inbound policy check). Blocking: action BLOCK in both directions. The
 * selectors are the flow's family and protocol, not its addresses: every
 * later flow of the socket (a second connect(2), a sendto(2) elsewhere) is
 * held by the same policy, never left to the global SPD in clear. The
 * policies live with the socket: they outlast its latch and latchd, and go
 * with the socket.
 *
 * Every call returns 0 or -errno; it needs CAP_NET_ADMIN.
 */

#include <stdbool.h>
#include <stdint.h>

#include "latchd/base/flow.h"

/* The child SA that carries a flow, as a socket policy names it. */
struct enforce_carrier {
	uint32_t reqid;
	bool tunnel;
	uint8_t family;		       /* of the endpoints */
	union flow_addr local, remote; /* the IKE_SA's endpoints (tunnel mode's outer addresses) */
};

/* From charon's words (list-sas "local-host", "remote-host", the child's reqid and mode). */
int enforce_xfrm_carrier(struct enforce_carrier *ret, const char *local_host,
			 const char *remote_host, uint32_t reqid, bool tunnel);

int enforce_xfrm_sock_block(int fd, const struct flow *f);
int enforce_xfrm_sock_carry(int fd, const struct flow *f, const struct enforce_carrier *c);
/*
 * A latched listener (or bound UDP server socket): inbound, only what an ESP
 * tunnel state decrypted reaches it, from any peer (which peer is judged at
 * ACCEPT). No outbound policy: a TCP listener's SYN-ACKs are routed with it.
 * A socket holds one inbound policy, of one family: a dual-stack wildcard
 * (AF_UNSPEC) gets the IPv4 one, so its IPv6 peers are not covered.
 */
int enforce_xfrm_sock_listen(int fd, const struct flow3 *l);
/* Remove the socket's policies (both directions). */
int enforce_xfrm_sock_clear(int fd);

/*
 * Does this kernel do ESP? 1 yes, 0 no. How (how): an ESP state (AES-GCM)
 * added in a throwaway network namespace, which also loads esp4 on demand;
 * without the right to make one (CAP_SYS_ADMIN), whether esp4 is loaded,
 * built in or installed as a module.
 */
int enforce_xfrm_probe_esp(const char **how);

#endif
