/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_DATA_PLANE_H
#define LATCH_LATCHD_DATA_PLANE_H

/*
 * Which data plane enforces latches (docs/dataplanes.md): the configuration's
 * data_plane key and enforce_config.data_plane. Only dataplane/ acts on it
 * (enforce-plane.c chooses the plane's operations once); the core asks the
 * plane's capabilities (enforce_caps), never its name.
 */
enum data_plane {
	DATA_PLANE_AUTO,     /* the kernel's when it does ESP (enforce_xfrm_probe_esp) */
	DATA_PLANE_LIBIPSEC, /* nftables sets and the routing mark (enforce.h) */
	DATA_PLANE_KERNEL,   /* XFRM socket policies (enforce-xfrm.h) */
};

#endif
