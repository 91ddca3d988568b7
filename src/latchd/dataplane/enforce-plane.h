/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_ENFORCE_PLANE_H
#define LATCH_LATCHD_ENFORCE_PLANE_H

/*
 * The two data planes behind enforce.h, private to dataplane/: one table of
 * operations per plane, chosen once (enforce_plane_choose, by enforce_open).
 * Everything in dataplane/ that differs between the planes reads it here,
 * and the core reads only its capabilities (enforce_caps). A NULL operation
 * is one the plane has nothing to do for (libipsec has no socket policies,
 * the kernel no socket marks).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "latchd/base/data-plane.h"
#include "latchd/base/flow.h"
#include "latchd/dataplane/enforce.h"

struct enforce_plane {
	enum data_plane kind; /* LIBIPSEC or KERNEL, never AUTO */
	struct enforce_caps caps;
	/*
	 * The table steers latched flows into the data plane's interface by the
	 * routing mark (chains route, steer, prect and post; the listeners'
	 * drops are by interface), with the blackhole ip rule. Otherwise it
	 * has only the pre chain, dropping what reaches a latched listener
	 * not decrypted by XFRM, and the hold chain.
	 */
	bool steers;
	/*
	 * The FLOW_* operations fill the flows and armed sets. Otherwise the
	 * flows are held by their sockets' policies (flow_sock) and those
	 * operations succeed doing nothing: the sets stay empty.
	 */
	bool flows_in_table;
	/* enforce_flow_sock: c NULL blocks the flow, c names the child that carries it */
	int (*flow_sock)(int fd, const struct flow *f, const struct enforce_carrier *c);
	/* enforce_listen_sock */
	int (*listen_sock)(int fd, const struct flow3 *l);
	/* enforce_sock_protect: the socket's mark, for its whole life */
	int (*sock_mark)(int fd, uint32_t mark);
};

/*
 * The plane for want. AUTO asks probe (enforce_xfrm_probe_esp in latchd, a
 * fake in the unit tests; not called otherwise): 1, the kernel does ESP,
 * gives the kernel's; anything else libipsec. why gets the reason, for the
 * log ("auto: ..." or "configured"). NULL for a want that is no plane.
 */
typedef int (*enforce_probe_fn)(const char **how);
const struct enforce_plane *enforce_plane_choose(enum data_plane want, enforce_probe_fn probe,
						 char *why, size_t whylen);

/* The plane of a resolved kind (LIBIPSEC, KERNEL); NULL for AUTO or none. */
const struct enforce_plane *enforce_plane_of(enum data_plane kind);

#endif
