/* SPDX-License-Identifier: MIT */
/*
 * The data plane as the core sees it (enforce.h, nfq.h's I/O, sockdiag.h):
 * enforcement obeys (or fails every Nth operation, as a full table or a
 * refused setsockopt would), queued packets are the driver's, and sock_diag
 * reports what the driver says is gone. Nothing here needs privileges.
 * A queued packet's payload is this fake's own encoding (a struct flow and
 * a SYN flag), which nfq_packet_flow reads back: the real parser is fuzzed
 * on its own by fuzz-nfq.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "harness.h"
#include "latchd/dataplane/enforce-plane.h"
#include "latchd/dataplane/enforce.h"
#include "latchd/dataplane/nfq.h"
#include "latchd/dataplane/probe.h"
#include "latchd/dataplane/sockdiag.h"

#define QUEUED_MAX 16

struct enforce {
	bool kernel;
};

struct fake_packet {
	struct flow flow;
	bool syn;
};

struct nfq {
	int fd;
	uint16_t queue;
};

static struct {
	bool kernel;
	int fail_every, ops;
	int diag_fd;
	struct {
		struct flow f;
		uint64_t cookie;
	} gone[QUEUED_MAX];
	unsigned n_gone, delivered;
	struct fake_packet packets[QUEUED_MAX];
	unsigned n_packets;
	uint32_t packet_id;
	int nfq_fd;
} plane;

void fake_plane_reset(bool kernel, int fail_every)
{
	plane.kernel = kernel;
	plane.fail_every = fail_every;
	plane.ops = 0;
	plane.n_gone = plane.delivered = plane.n_packets = 0;
	plane.diag_fd = plane.nfq_fd = -1;
}

/* Every fail_every-th operation fails, as a full set or a refused policy would. */
static int op(void)
{
	return plane.fail_every && ++plane.ops % plane.fail_every == 0 ? -ENOBUFS : 0;
}

int enforce_open(struct enforce **ret, const struct enforce_config *cfg, unsigned flags)
{
	(void)cfg;
	(void)flags;
	*ret = calloc(1, sizeof(**ret));
	if (!*ret)
		return -ENOMEM;
	(*ret)->kernel = plane.kernel;
	return 0;
}

int enforce_close(struct enforce *e, bool keep)
{
	(void)keep;
	free(e);
	return 0;
}

const char *enforce_last_error(const struct enforce *e)
{
	(void)e;
	return "injected failure";
}

/* The real plane's answers (enforce-plane.c), so the core is driven as on either plane. */
const struct enforce_caps *enforce_caps(const struct enforce *e)
{
	return &enforce_plane_of(e->kernel ? DATA_PLANE_KERNEL : DATA_PLANE_LIBIPSEC)->caps;
}

const char *enforce_plane_why(const struct enforce *e)
{
	(void)e;
	return "the fuzzer's choice";
}

int enforce_apply(struct enforce *e, const struct enforce_op *ops, size_t n)
{
	(void)e;
	(void)ops;
	(void)n;
	return op();
}

#define FLOW_OP(name, type)                        \
	int name(struct enforce *e, const type *f) \
	{                                          \
		(void)e;                           \
		(void)f;                           \
		return op();                       \
	}
FLOW_OP(enforce_flow_add, struct flow)
FLOW_OP(enforce_flow_del, struct flow)
FLOW_OP(enforce_flow_arm, struct flow)
FLOW_OP(enforce_flow_disarm, struct flow)
FLOW_OP(enforce_listen_add, struct flow3)
FLOW_OP(enforce_listen_del, struct flow3)
FLOW_OP(enforce_attach_add, struct flow3)
FLOW_OP(enforce_attach_del, struct flow3)

int enforce_flow_sock(struct enforce *e, int fd, const struct flow *f,
		      const struct enforce_carrier *c)
{
	(void)e;
	(void)f;
	(void)c;
	return fcntl(fd, F_GETFD) < 0 ? -EBADF : op();
}

int enforce_sock_protect(struct enforce *e, int fd, uint32_t id)
{
	(void)e;
	(void)id;
	return fcntl(fd, F_GETFD) < 0 ? -EBADF : op();
}

int enforce_listen_sock(struct enforce *e, int fd, const struct flow3 *l)
{
	(void)e;
	(void)l;
	return fcntl(fd, F_GETFD) < 0 ? -EBADF : op();
}

int enforce_dump(struct enforce *e, enforce_dump_fn cb, void *arg)
{
	(void)e;
	(void)cb;
	(void)arg;
	return 0; /* a fresh table: nothing left by a previous latchd */
}

/* ---------------------------------------------------------------- NFQUEUE */

int nfq_open(uint16_t queue, struct nfq **ret)
{
	struct nfq *q = calloc(1, sizeof(*q));

	if (!q)
		return -ENOMEM;
	q->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	q->queue = queue;
	plane.nfq_fd = q->fd;
	if (q->fd < 0) {
		free(q);
		return -EMFILE;
	}
	*ret = q;
	return 0;
}

void nfq_close(struct nfq *q)
{
	if (!q)
		return;
	close(q->fd);
	free(q);
}

int nfq_fd(const struct nfq *q)
{
	return q->fd;
}

uint16_t nfq_queue(const struct nfq *q)
{
	return q->queue;
}

int fake_plane_nfq_fd(void)
{
	return plane.nfq_fd;
}

void fake_plane_packet(const struct flow *f, bool syn)
{
	if (plane.n_packets < QUEUED_MAX)
		plane.packets[plane.n_packets++] = (struct fake_packet){ *f, syn };
}

int nfq_read(struct nfq *q, nfq_packet_fn cb, void *arg)
{
	unsigned n = plane.n_packets;

	(void)q;
	plane.n_packets = 0;
	for (unsigned i = 0; i < n; i++) {
		struct nfq_packet pkt = {
			.id = ++plane.packet_id,
			.hw_proto = plane.packets[i].flow.family == AF_INET ? 0x0800 : 0x86dd,
			.payload = (const uint8_t *)&plane.packets[i],
			.len = sizeof(plane.packets[i]),
		};

		cb(&pkt, arg);
	}
	return (int)n;
}

int nfq_verdict(struct nfq *q, uint32_t id, bool accept, uint32_t mark)
{
	(void)q;
	(void)id;
	(void)accept;
	(void)mark;
	return op();
}

int nfq_pass(struct nfq *q, uint32_t id)
{
	(void)q;
	(void)id;
	return op();
}

int nfq_packet_flow(const uint8_t *p, size_t len, struct flow *ret, bool *syn)
{
	struct fake_packet fp;

	if (len != sizeof(fp))
		return -EBADMSG;
	memcpy(&fp, p, sizeof(fp));
	*ret = fp.flow;
	*syn = fp.syn;
	return 0;
}

/* ---------------------------------------------------------------- sock_diag */

int sockdiag_cookie(int fd, uint64_t *ret)
{
	socklen_t len = sizeof(*ret);

	return getsockopt(fd, SOL_SOCKET, SO_COOKIE, ret, &len) < 0 ? -errno : 0;
}

int sockdiag_destroy(const struct flow *f, uint64_t cookie)
{
	(void)f;
	(void)cookie;
	return op() < 0 ? -ENOENT : 0;
}

int sockdiag_exists(const struct flow *f, uint64_t cookie)
{
	(void)f;
	for (unsigned i = 0; i < plane.n_gone; i++) {
		if (plane.gone[i].cookie == cookie)
			return 0;
	}
	return 1;
}

/* Every socket the harness makes is of latchd's namespace, the fake's cookie 1. */
int sockdiag_netns(int fd, uint64_t *ret)
{
	*ret = 1;
	return fcntl(fd, F_GETFD) < 0 ? -EBADF : 0;
}

int sockdiag_netns_self(uint64_t *ret)
{
	*ret = 1;
	return 0;
}

/* No socket is found by its 4-tuple: packets of attached sockets stay theirs. */
int sockdiag_find(const struct flow *f, uint64_t *cookie, uint8_t *state)
{
	(void)f;
	(void)cookie;
	(void)state;
	return -ENOENT;
}

/* The owner's descriptor is never reachable here: as when the process is gone. */
int sockdiag_fetch(pid_t pid, const struct flow *f, uint64_t cookie)
{
	(void)pid;
	(void)f;
	(void)cookie;
	return -ESRCH;
}

int sockdiag_fetch_probe(char *why, size_t wl)
{
	snprintf(why, wl, "the fake data plane takes no descriptors");
	return -ENOSYS;
}

int sockdiag_monitor_open(int *fd)
{
	*fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	plane.diag_fd = *fd;
	return *fd < 0 ? -EMFILE : 0;
}

int fake_plane_diag_fd(void)
{
	return plane.diag_fd;
}

void fake_plane_socket_gone(const struct flow *f, uint64_t cookie)
{
	if (plane.n_gone == QUEUED_MAX)
		return;
	plane.gone[plane.n_gone].f = *f;
	plane.gone[plane.n_gone++].cookie = cookie;
}

int sockdiag_monitor_read(int fd, sockdiag_gone_fn cb, void *arg)
{
	unsigned n = 0;

	(void)fd;
	/* Each event once; gone ones stay known to sockdiag_exists. */
	for (; plane.delivered < plane.n_gone; plane.delivered++, n++)
		cb(&plane.gone[plane.delivered].f, plane.gone[plane.delivered].cookie, arg);
	return (int)n;
}

/* The kernel's features (probe.h): all there; STATUS's checks do not probe the fuzzer's host. */
void probe_kernel(struct probe_result out[PROBE_N])
{
	for (int f = 0; f < PROBE_N; f++)
		out[f] = (struct probe_result){ 0, "fake" };
}

const char *probe_name(enum probe_feature f)
{
	return "fake";
}

bool probe_needed(enum data_plane p, enum probe_feature f)
{
	return true;
}

enum data_plane probe_plane(enum data_plane want, const char **name, char *why, size_t len)
{
	*name = "fake";
	snprintf(why, len, "fake");
	return DATA_PLANE_LIBIPSEC;
}

enum data_plane probe_plane_in_force(const struct enforce *e)
{
	return DATA_PLANE_LIBIPSEC;
}
