/* SPDX-License-Identifier: MIT */
#include "latchd/dataplane/sockdiag.h"

#include <dirent.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif
#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

static int get_u64(int fd, int opt, uint64_t *ret)
{
	uint64_t v;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, opt, &v, &len) < 0)
		return -errno;
	*ret = v;
	return 0;
}

int sockdiag_cookie(int fd, uint64_t *ret)
{
	return get_u64(fd, SO_COOKIE, ret);
}

int sockdiag_netns(int fd, uint64_t *ret)
{
	return get_u64(fd, SO_NETNS_COOKIE, ret);
}

int sockdiag_netns_self(uint64_t *ret)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;

	if (fd < 0)
		return -errno;
	r = sockdiag_netns(fd, ret);
	close(fd);
	return r;
}

/*
 * Descriptors taken from another process that turned out not to be the
 * socket asked for: between the look at /proc/PID/fd and the take, the owner
 * gave that number to another file (dup2). Every close(2), not only the
 * last, calls the file's flush, and a FUSE file's waits for its server,
 * which the owner may run: such a descriptor is closed on a thread of its
 * own, never on the event loop. At most ASIDE_MAX wait at once (process-wide,
 * like the descriptors they are); beyond that nothing is taken.
 */
#define ASIDE_MAX 16
static atomic_uint n_aside;

static void *close_aside_thread(void *arg)
{
	close((int)(intptr_t)arg);
	atomic_fetch_sub(&n_aside, 1);
	return NULL;
}

static void close_aside(int fd)
{
	pthread_attr_t attr;
	pthread_t t;

	atomic_fetch_add(&n_aside, 1);
	/* Without a thread the descriptor stays open, counted: better than a blocked loop. */
	if (pthread_attr_init(&attr) == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_create(&t, &attr, close_aside_thread, (void *)(intptr_t)fd);
		pthread_attr_destroy(&attr);
	}
}

/*
 * The number of the owner's descriptor of the socket with inode ino, -ENOENT,
 * or -EPERM when its descriptors cannot be read (no ptrace rights over it).
 */
static int find_fd(DIR *dir, uint32_t ino)
{
	char want[32], link[32];
	struct dirent *de;
	bool denied = false;
	ssize_t n;

	snprintf(want, sizeof(want), "socket:[%u]", ino);
	while ((de = readdir(dir))) {
		n = readlinkat(dirfd(dir), de->d_name, link, sizeof(link));
		if (n < 0 && (errno == EACCES || errno == EPERM))
			denied = true;
		if (n == (ssize_t)strlen(want) && !memcmp(link, want, (size_t)n))
			return atoi(de->d_name);
	}
	return denied ? -EPERM : -ENOENT;
}

/* Take the owner's descriptor number nr, if it is (still) the socket with this cookie. */
static int take(int pidfd, int nr, uint64_t cookie)
{
	uint64_t ck;
	int fd = pidfd_getfd(pidfd, nr, 0);

	if (fd < 0)
		return errno == EPERM || errno == ESRCH ? -errno : -ENOENT;
	/* a cookie names one socket for as long as the kernel runs */
	if (sockdiag_cookie(fd, &ck) == 0 && ck == cookie)
		return fd;
	close_aside(fd);
	return -ENOENT;
}

struct diag_req {
	struct nlmsghdr nlh;
	struct inet_diag_req_v2 req;
};

int sockdiag_build_request(void *buf, uint16_t type, const struct flow *f, uint64_t cookie)
{
	struct diag_req *m = buf;
	size_t alen = f->family == AF_INET ? 4 : 16;

	memset(m, 0, sizeof(*m));
	m->nlh.nlmsg_len = NLMSG_LENGTH(sizeof(m->req));
	m->nlh.nlmsg_type = type;
	/* An ACK tells a destroy's outcome; a query answers with the socket or an error. */
	m->nlh.nlmsg_flags = NLM_F_REQUEST | (type == SOCK_DESTROY ? NLM_F_ACK : 0);
	m->nlh.nlmsg_seq = 1;
	m->req.sdiag_family = f->family;
	m->req.sdiag_protocol = f->proto;
	m->req.idiag_states = ~0u;
	m->req.id.idiag_sport = htons(f->lport);
	m->req.id.idiag_dport = htons(f->rport);
	memcpy(m->req.id.idiag_src, f->laddr.b, alen);
	memcpy(m->req.id.idiag_dst, f->raddr.b, alen);
	m->req.id.idiag_cookie[0] = (uint32_t)cookie;
	m->req.id.idiag_cookie[1] = (uint32_t)(cookie >> 32);
	return (int)m->nlh.nlmsg_len;
}

static int diag_socket(int flags)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | flags, NETLINK_SOCK_DIAG);
	struct timeval tv = { .tv_sec = 5 };

	if (fd < 0)
		return -errno;
	/* The kernel answers at once; never hang the daemon on it. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Send one request; the first reply: 1 and *msg for a diag message, else the error (0: ACK). */
static int transact(uint16_t type, const struct flow *f, uint64_t cookie, struct inet_diag_msg *msg)
{
	union {
		struct nlmsghdr nlh;
		char buf[8192];
	} u;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	int fd, len, r;
	ssize_t n;

	if ((f->family != AF_INET && f->family != AF_INET6) ||
	    (f->proto != IPPROTO_TCP && f->proto != IPPROTO_UDP))
		return -EINVAL;
	fd = diag_socket(0);
	if (fd < 0)
		return fd;
	len = sockdiag_build_request(u.buf, type, f, cookie);
	if (sendto(fd, u.buf, (size_t)len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		r = -errno;
	} else if ((n = recv(fd, u.buf, sizeof(u.buf), 0)) < 0) {
		r = -errno;
	} else if (!NLMSG_OK(&u.nlh, (size_t)n)) {
		r = -EBADMSG;
	} else if (u.nlh.nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(&u.nlh);

		r = u.nlh.nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) ? e->error : -EBADMSG;
	} else if (u.nlh.nlmsg_type != SOCK_DIAG_BY_FAMILY ||
		   u.nlh.nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)) || !msg) {
		r = -EBADMSG;
	} else {
		memcpy(msg, NLMSG_DATA(&u.nlh), sizeof(*msg));
		r = 1;
	}
	close(fd);
	return r;
}

int sockdiag_destroy(const struct flow *f, uint64_t cookie)
{
	int r = transact(SOCK_DESTROY, f, cookie, NULL);

	return r > 0 ? -EBADMSG : r;
}

/* The socket the kernel finds for f (and cookie, or any: UINT64_MAX): 1, or -errno. */
static int query(const struct flow *f, uint64_t cookie, struct inet_diag_msg *msg)
{
	struct flow q = *f;

	/*
	 * The kernel's UDP query (udp_dump_one) looks the socket up as for a
	 * packet from idiag_src to idiag_dst, the opposite of its TCP query and
	 * of its own UDP destroy: ask for the reversed flow. Measured here: with
	 * the flow as is, a query on loopback found the peer's socket instead.
	 */
	if (f->proto == IPPROTO_UDP)
		flow_reverse(f, &q);
	return transact(SOCK_DIAG_BY_FAMILY, &q, cookie, msg);
}

int sockdiag_exists(const struct flow *f, uint64_t cookie)
{
	struct inet_diag_msg m;
	int r = query(f, cookie, &m);

	/* No socket with that 4-tuple, or another one (the cookie differs). */
	if (r == -ENOENT || r == -ESTALE)
		return 0;
	/*
	 * No inode: an orphan (FIN_WAIT, TIME_WAIT… after its owner closed it),
	 * what the kernel keeps of a connection no application holds any more.
	 */
	return r == 1 && m.idiag_inode == 0 ? 0 : r;
}

int sockdiag_fetch(pid_t pid, const struct flow *f, uint64_t cookie)
{
	struct inet_diag_msg m;
	char path[32];
	int pidfd, r;
	DIR *dir;

	if (atomic_load(&n_aside) >= ASIDE_MAX)
		return -EBUSY;
	pidfd = pidfd_open(pid, 0);
	if (pidfd < 0)
		return -errno;
	/* Only the socket itself is taken: /proc/PID/fd shows its inode. */
	r = query(f, cookie, &m);
	if (r == -ESTALE || (r == 1 && m.idiag_inode == 0))
		r = -ENOENT;
	if (r != 1)
		goto out;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir) {
		r = errno == EACCES ? -EPERM : -errno;
		goto out;
	}
	r = find_fd(dir, m.idiag_inode);
	closedir(dir);
	if (r >= 0)
		r = take(pidfd, r, cookie);
out:
	close(pidfd);
	return r;
}

/* Bit 19 of the effective set, as the kernel reports it (no libcap needed). */
static int has_sys_ptrace(void)
{
	char line[256];
	unsigned long long eff;
	FILE *f = fopen("/proc/self/status", "re");
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "CapEff: %llx", &eff) == 1) {
			r = (eff >> 19) & 1; /* CAP_SYS_PTRACE */
			break;
		}
	}
	fclose(f);
	return r;
}

int sockdiag_fetch_probe(char *why, size_t wl)
{
	int pidfd = pidfd_open(getpid(), 0), fd = -1, r;

	if (pidfd < 0) {
		r = -errno;
		snprintf(why, wl, "pidfd_open: %s", strerror(-r));
		return r;
	}
	/* its own descriptor: only the system call itself is in question here */
	fd = pidfd_getfd(pidfd, pidfd, 0);
	r = fd < 0 ? -errno : 0;
	if (fd >= 0)
		close(fd);
	close(pidfd);
	if (r < 0) {
		snprintf(why, wl, "pidfd_getfd: %s", strerror(-r));
		return r;
	}
	r = has_sys_ptrace();
	if (r == 0) {
		snprintf(why, wl,
			 "no CAP_SYS_PTRACE: only sockets of processes of latchd's own "
			 "uid can be taken");
		return -EPERM;
	}
	return 0;
}

int sockdiag_find(const struct flow *f, uint64_t *cookie, uint8_t *state)
{
	struct inet_diag_msg m;
	int r = query(f, UINT64_MAX, &m); /* INET_DIAG_NOCOOKIE: whichever socket it is */

	if (r < 0)
		return r;
	*cookie = (uint64_t)m.id.idiag_cookie[1] << 32 | m.id.idiag_cookie[0];
	*state = m.idiag_state;
	return 0;
}

int sockdiag_monitor_open(int *fd)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = 1u << (SKNLGRP_INET_TCP_DESTROY - 1) |
			     1u << (SKNLGRP_INET_UDP_DESTROY - 1) |
			     1u << (SKNLGRP_INET6_TCP_DESTROY - 1) |
			     1u << (SKNLGRP_INET6_UDP_DESTROY - 1),
	};
	int s = diag_socket(SOCK_NONBLOCK), big = 8 << 20;

	if (s < 0)
		return s;
	/* Room for a burst of closes (thousands of latched sockets at once); root may force it. */
	if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
		setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(s);
		return err;
	}
	*fd = s;
	return 0;
}

static bool v4mapped(const __be32 a[4])
{
	return a[0] == 0 && a[1] == 0 && a[2] == htonl(0xffff);
}

static bool is_zero(const __be32 a[4])
{
	return !a[0] && !a[1] && !a[2] && !a[3];
}

/* The protocol travels as an attribute (INET_DIAG_PROTOCOL) after the message. */
static int event_proto(const struct nlmsghdr *nlh)
{
	const struct inet_diag_msg *m = NLMSG_DATA(nlh);
	const struct nlattr *a = (const void *)((const char *)m + NLMSG_ALIGN(sizeof(*m)));
	size_t left = nlh->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(*m)));

	while (left >= sizeof(*a) && a->nla_len >= sizeof(*a) && a->nla_len <= left) {
		if ((a->nla_type & NLA_TYPE_MASK) == INET_DIAG_PROTOCOL &&
		    a->nla_len >= NLA_HDRLEN + 1)
			return *((const uint8_t *)a + NLA_HDRLEN);
		size_t step = NLA_ALIGN((size_t)a->nla_len);

		left -= step < left ? step : left;
		a = (const void *)((const char *)a + step);
	}
	return -EBADMSG;
}

int sockdiag_parse_event(const struct nlmsghdr *nlh, struct flow *f, uint64_t *cookie)
{
	const struct inet_diag_msg *m = NLMSG_DATA(nlh);
	struct flow out = { 0 };
	int proto;

	if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -EBADMSG;
	if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
		return -EAFNOSUPPORT;
	proto = event_proto(nlh);
	if (proto < 0)
		return proto;
	out.family = m->idiag_family;
	out.proto = (uint8_t)proto;
	out.lport = ntohs(m->id.idiag_sport);
	out.rport = ntohs(m->id.idiag_dport);
	/* A dual-stack socket's v4 traffic: the same flow as flow_from_fd gives. */
	if (out.family == AF_INET6 && v4mapped(m->id.idiag_src) &&
	    (v4mapped(m->id.idiag_dst) || is_zero(m->id.idiag_dst))) {
		out.family = AF_INET;
		memcpy(out.laddr.b, &m->id.idiag_src[3], 4);
		if (!is_zero(m->id.idiag_dst))
			memcpy(out.raddr.b, &m->id.idiag_dst[3], 4);
	} else {
		memcpy(out.laddr.b, m->id.idiag_src, out.family == AF_INET ? 4 : 16);
		memcpy(out.raddr.b, m->id.idiag_dst, out.family == AF_INET ? 4 : 16);
	}
	*f = out;
	*cookie = (uint64_t)m->id.idiag_cookie[1] << 32 | m->id.idiag_cookie[0];
	return 0;
}

int sockdiag_parse_events(const void *buf, size_t n, sockdiag_gone_fn cb, void *arg)
{
	int count = 0;

	for (const struct nlmsghdr *nlh = buf; NLMSG_OK(nlh, n); nlh = NLMSG_NEXT(nlh, n)) {
		struct flow f;
		uint64_t cookie;

		if (sockdiag_parse_event(nlh, &f, &cookie) == 0) {
			cb(&f, cookie, arg);
			count++;
		}
		if (NLMSG_ALIGN(nlh->nlmsg_len) >= n)
			break; /* the last one: NLMSG_NEXT would wrap n past an unaligned end */
	}
	return count;
}

int sockdiag_monitor_read(int fd, sockdiag_gone_fn cb, void *arg)
{
	char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	int count = 0, lost = 0;

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ENOBUFS) {
			lost = -ENOBUFS; /* some events are gone; read on, then say so */
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return lost ? lost : count;
		if (n < 0)
			return -errno;
		count += sockdiag_parse_events(buf, (size_t)n, cb, arg);
	}
}
