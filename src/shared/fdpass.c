/* SPDX-License-Identifier: MIT */
#include "shared/fdpass.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/*
 * Room for more descriptors than any message carries, so that a peer
 * sending extras is seen (and its descriptors closed) as -ETOOMANYREFS
 * rather than silently cut to MSG_CTRUNC.
 */
#define FDPASS_ROOM 8

struct fdset {
	int fd[FDPASS_ROOM];
	size_t n;
};

int fdpass_send(int sock, const void *msg, size_t len, int fd)
{
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	ssize_t n;

	if (fd >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.b;
		mh.msg_controllen = sizeof(ctl.b);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	/* SOCK_SEQPACKET sends a packet whole or not at all; anything else is not ours. */
	if ((size_t)n != len)
		return -EIO;
	return 0;
}

static void fdset_collect(struct msghdr *mh, struct fdset *set)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue; /* e.g. SCM_CREDENTIALS: not a descriptor to close */
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && set->n < FDPASS_ROOM; i++)
			memcpy(&set->fd[set->n++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
}

static void fdset_close(struct fdset *set)
{
	for (size_t i = 0; i < set->n; i++)
		close(set->fd[i]);
	set->n = 0;
}

static int check_packet(const struct msghdr *mh, const struct fdset *set, size_t max_fds)
{
	if (mh->msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	if (mh->msg_flags & MSG_CTRUNC)
		return -ENOBUFS;
	if (set->n > max_fds)
		return -ETOOMANYREFS;
	return 0;
}

int fdpass_recv(int sock, void *msg, size_t cap, int *ret_fd)
{
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(FDPASS_ROOM * sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = msg, .iov_len = cap < INT_MAX ? cap : INT_MAX };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.b,
		.msg_controllen = sizeof(ctl.b),
	};
	struct fdset set = { .n = 0 };
	ssize_t n;
	int r;

	n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	fdset_collect(&mh, &set);
	r = check_packet(&mh, &set, ret_fd ? 1 : 0);
	if (r < 0 || n == 0) {
		/* n == 0 is the end of the connection: nothing may come with it. */
		fdset_close(&set);
		return r < 0 ? r : 0;
	}
	if (ret_fd)
		*ret_fd = set.n ? set.fd[0] : -1;
	return (int)n;
}

int fdpass_peercred(int sock, struct ucred *ret)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return -errno;
	*ret = uc;
	return 0;
}
