/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_PROBE_H
#define LATCH_LATCHD_PROBE_H

/*
 * What this kernel offers the data planes, probed without touching the
 * host's state (latchd --check, latchctl status). Each probe asks the
 * kernel itself, in a throwaway network namespace where it must change
 * something, and says how it asked:
 *
 *	ESP            an ESP state (enforce_xfrm_probe_esp)
 *	nf_tables      NFT_MSG_GETGEN over nfnetlink
 *	NFQUEUE        binding a queue (nfnetlink_queue), and nft_compat's
 *	               answer for the xt target NFQUEUE (as nft asks for it)
 *	sock_diag destroy  SOCK_DESTROY of a socket that does not exist:
 *	               ENOENT means the kernel has CONFIG_INET_DIAG_DESTROY
 *	pidfd_getfd    latchd's own descriptor, taken through its own pidfd
 *
 * Each result is 0 (works) or -errno (EPERM: latchd lacks a capability, or
 * a seccomp filter refuses the call; EOPNOTSUPP, ENOSYS, ENOENT: the kernel
 * lacks it).
 */

#include <stdbool.h>
#include <stddef.h>

#include "latchd/base/data-plane.h"

enum probe_feature {
	PROBE_ESP,
	PROBE_NFTABLES,
	PROBE_NFQUEUE,
	PROBE_SOCK_DESTROY,
	PROBE_PIDFD_GETFD,
	PROBE_N,
};

struct probe_result {
	int err;       /* 0 the kernel does it; -errno */
	char how[160]; /* how it was asked, and what it answered */
};

void probe_kernel(struct probe_result out[PROBE_N]);
/* "ESP", "nf_tables", "NFQUEUE", "sock_diag destroy", "pidfd_getfd" */
const char *probe_name(enum probe_feature f);
/* Whether data plane p (LIBIPSEC or KERNEL) needs feature f (NFQUEUE: for attached sockets). */
bool probe_needed(enum data_plane p, enum probe_feature f);
/*
 * The plane enforce_open would take for want (AUTO: the kernel's when it
 * does ESP), its name ("kernel (XFRM, per-socket policies)") and why, in
 * enforce_open's own words (enforce_plane_choose).
 */
enum data_plane probe_plane(enum data_plane want, const char **name, char *why, size_t len);
/* The plane an open enforcement runs (LIBIPSEC or KERNEL), for the doctor's report. */
struct enforce;
enum data_plane probe_plane_in_force(const struct enforce *e);

#endif
