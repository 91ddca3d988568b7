/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_SOCKDIAG_H
#define LATCH_LATCHD_SOCKDIAG_H

/*
 * Sockets of other processes, by NETLINK_SOCK_DIAG (docs/architecture.md,
 * "Conflicts, SA loss and breaks"): reset exactly one socket (its 4-tuple and
 * SO_COOKIE), ask whether it still exists (re-adoption after a latchd
 * restart), and learn when any inet socket is destroyed, without holding a
 * copy of the application's fd (a copy would keep the socket alive).
 *
 *	uint64_t cookie;
 *	sockdiag_cookie(fd, &cookie);            // while the client's fd is in hand
 *	...
 *	sockdiag_destroy(&flow, cookie);          // latch BROKEN: before deleting the SA
 *
 *	int mon;
 *	sockdiag_monitor_open(&mon);              // poll(mon) for POLLIN
 *	sockdiag_monitor_read(mon, on_gone, ctx); // on_gone(&flow, cookie, ctx) per event
 *
 * Calls return 0 (or a count) or -errno; they act in the caller's network
 * namespace and need CAP_NET_ADMIN (destroy, monitor) or nothing (cookie,
 * exists). No state is kept between calls, but for the count of descriptors
 * sockdiag_fetch still closes on a thread.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "latchd/base/flow.h"

/* SO_COOKIE of a socket (borrowed): the kernel's unique id for it. */
int sockdiag_cookie(int fd, uint64_t *ret);

/*
 * SO_NETNS_COOKIE (Linux 5.14) of a socket (borrowed): the id of its network
 * namespace, never reused while the kernel runs; -ENOTSOCK for no socket.
 * sockdiag_netns_self: the caller's own namespace's.
 */
int sockdiag_netns(int fd, uint64_t *ret);
int sockdiag_netns_self(uint64_t *ret);

/*
 * SOCK_DESTROY of the TCP or UDP socket with exactly this flow and cookie:
 * its owner's blocked or next call fails with ECONNABORTED and a TCP
 * connection sends an RST (kernel tcp_abort). -ENOENT if no such socket,
 * also when the 4-tuple now belongs to another socket (the cookie differs:
 * measured on 6.18 for TCP and UDP), -EOPNOTSUPP without
 * CONFIG_INET_DIAG_DESTROY.
 */
int sockdiag_destroy(const struct flow *f, uint64_t cookie);

/* 1 if the socket with this flow and cookie exists, 0 if not, or -errno. */
int sockdiag_exists(const struct flow *f, uint64_t cookie);

/*
 * The socket the kernel finds for flow f (TCP: the one with its 4-tuple, a
 * connection, a TIME_WAIT or a half-open one, else a listener on the local
 * end), with its cookie and state (TCP_*): 0, -ENOENT none, or -errno.
 */
int sockdiag_find(const struct flow *f, uint64_t *cookie, uint8_t *state);

/*
 * A copy (close-on-exec, the caller's to close at once) of process pid's
 * descriptor of the socket with flow f and this cookie, taken with
 * pidfd_getfd: how the kernel data plane changes the policy of a latch's
 * socket once the request that passed it is over. Only that socket is taken
 * (found by its inode); a descriptor that changed under the take is closed
 * on a thread, never here (a FUSE file's flush could block). -ESRCH the
 * process is gone, -ENOENT it holds no such socket (closed, or passed on),
 * -EPERM latchd may not take its descriptors (ptrace rights over it: the
 * same uid, or CAP_SYS_PTRACE), -EBUSY too many such closes still wait.
 */
int sockdiag_fetch(pid_t pid, const struct flow *f, uint64_t cookie);

/*
 * Whether sockdiag_fetch can work for other users' processes: 0, or -errno
 * and why in why[]: pidfd_open or pidfd_getfd refused (a seccomp filter, an
 * old kernel) or CAP_SYS_PTRACE not in latchd's effective set.
 */
int sockdiag_fetch_probe(char *why, size_t wl);

/*
 * A non-blocking SOCK_CLOEXEC netlink socket subscribed to the TCP and UDP,
 * v4 and v6 destroy groups. The caller owns *fd and closes it.
 */
int sockdiag_monitor_open(int *fd);

/*
 * Every event queued on fd to cb: the flow and the cookie. Key on the
 * cookie: measured on 6.18, a TCP socket closed with SO_LINGER {1,0} (abort)
 * is reported with local address, remote address and port zeroed (only the
 * local port is left); a never-connected socket has a zero remote side. Returns the number of
 * events, 0 when none was queued (EAGAIN), -ENOBUFS when the kernel dropped
 * events (the caller must then check its sockets with sockdiag_exists), or
 * another -errno.
 */
typedef void (*sockdiag_gone_fn)(const struct flow *f, uint64_t cookie, void *arg);
int sockdiag_monitor_read(int fd, sockdiag_gone_fn cb, void *arg);

/*
 * Pure parts, for the unit tests: the request for flow f and cookie (type
 * SOCK_DESTROY or SOCK_DIAG_BY_FAMILY) into buf (at least SOCKDIAG_REQ_MAX
 * bytes), returning its length; and a destroy event's message parsed back
 * into a flow and cookie (0, or -EBADMSG / -EAFNOSUPPORT).
 */
#define SOCKDIAG_REQ_MAX 128
struct nlmsghdr;
int sockdiag_build_request(void *buf, uint16_t type, const struct flow *f, uint64_t cookie);
int sockdiag_parse_event(const struct nlmsghdr *nlh, struct flow *f, uint64_t *cookie);
/* Every destroy event in one datagram of n bytes (buf aligned for nlmsghdr) to cb: their count. */
int sockdiag_parse_events(const void *buf, size_t n, sockdiag_gone_fn cb, void *arg);

#endif
