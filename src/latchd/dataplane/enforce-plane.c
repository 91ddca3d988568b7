/* SPDX-License-Identifier: MIT */
#include "latchd/dataplane/enforce-plane.h"

#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>

#include "latchd/dataplane/enforce-xfrm.h"

static int kernel_flow_sock(int fd, const struct flow *f, const struct enforce_carrier *c)
{
	return c ? enforce_xfrm_sock_carry(fd, f, c) : enforce_xfrm_sock_block(fd, f);
}

static int libipsec_sock_mark(int fd, uint32_t mark)
{
	return setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0 ? -errno : 0;
}

/* The only place that says what each plane does. */
static const struct enforce_plane planes[] = {
	{
		.kind = DATA_PLANE_LIBIPSEC,
		.caps = {
			.name = "libipsec (nftables sets, routing mark)",
			.needs_socket = false,
			.marks_sockets = true,
			.attach_udp = true,
			.udp_encap = true,
		},
		.steers = true,
		.flows_in_table = true,
		.sock_mark = libipsec_sock_mark,
	},
	{
		.kind = DATA_PLANE_KERNEL,
		.caps = {
			.name = "kernel (XFRM, per-socket policies)",
			.needs_socket = true,
			.marks_sockets = false,
			.attach_udp = false,
			.udp_encap = false,
		},
		.steers = false,
		.flows_in_table = false,
		.flow_sock = kernel_flow_sock,
		.listen_sock = enforce_xfrm_sock_listen,
	},
};

const struct enforce_plane *enforce_plane_of(enum data_plane kind)
{
	for (size_t i = 0; i < sizeof(planes) / sizeof(planes[0]); i++) {
		if (planes[i].kind == kind)
			return &planes[i];
	}
	return NULL;
}

const struct enforce_plane *enforce_plane_choose(enum data_plane want, enforce_probe_fn probe,
						 char *why, size_t whylen)
{
	const char *how = "";
	int esp;

	if (want != DATA_PLANE_AUTO) {
		snprintf(why, whylen, "configured");
		return enforce_plane_of(want);
	}
	esp = probe(&how);
	snprintf(why, whylen, "auto: the kernel %s (found by %s)",
		 esp == 1 ? "does ESP" : "has no ESP", how);
	return enforce_plane_of(esp == 1 ? DATA_PLANE_KERNEL : DATA_PLANE_LIBIPSEC);
}
