/* SPDX-License-Identifier: MIT */
#ifndef LATCH_SHARED_FDPASS_H
#define LATCH_SHARED_FDPASS_H

/*
 * One IPC message per SOCK_SEQPACKET packet, with at most one file
 * descriptor beside it (SCM_RIGHTS). Received descriptors are close-on-exec
 * from the start (MSG_CMSG_CLOEXEC), and every way a packet can arrive other
 * than whole, with the expected descriptors, is refused with its own errno
 * after closing whatever descriptors came with it:
 *
 *	-EMSGSIZE	the packet was longer than the buffer (MSG_TRUNC)
 *	-ENOBUFS	ancillary data was cut (MSG_CTRUNC): descriptors were lost,
 *			for instance because the receiver is out of descriptors
 *	-ETOOMANYREFS	more descriptors than the caller accepts
 *
 * Blocking behaviour is the socket's own; errors of the system calls are
 * returned as -errno (-EAGAIN, -EINTR, -EPIPE, ...).
 */

#include <stddef.h>
#include <sys/socket.h>

/*
 * Send len bytes as one packet, with fd attached when fd >= 0. The fd is
 * borrowed: the kernel passes a duplicate. Never raises SIGPIPE.
 * Returns 0 or -errno.
 */
int fdpass_send(int sock, const void *msg, size_t len, int fd);

/*
 * Receive one packet into msg (cap bytes). ret_fd NULL: no descriptor is
 * accepted. Otherwise at most one, stored in *ret_fd (-1 when none came);
 * the caller owns it. Returns the packet's length (0: the peer closed the
 * connection) or -errno, writing nothing on failure.
 */
int fdpass_recv(int sock, void *msg, size_t cap, int *ret_fd);

/* The peer's pid, uid and gid as the kernel recorded them at connect time. */
int fdpass_peercred(int sock, struct ucred *ret);

#endif
