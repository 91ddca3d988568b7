/* SPDX-License-Identifier: MIT */
#include "latchd/dataplane/probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_tables_compat.h>
#include <linux/netfilter/nfnetlink.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "latchd/dataplane/enforce-plane.h"
#include "latchd/dataplane/enforce-xfrm.h"
#include "latchd/dataplane/nfq.h"
#include "latchd/dataplane/sockdiag.h"

/* A queue number nothing else binds: the probe's, should it run in the host's namespace. */
#define PROBE_QUEUE 65207

/*
 * fn in a child, in a network namespace of its own: its result (0 or
 * -errno), or 1 when there is no right to make one (CAP_SYS_ADMIN).
 */
static int in_scratch_netns(int (*fn)(void))
{
	int status, r;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (unshare(CLONE_NEWNET) < 0)
			_exit(255);
		r = fn();
		_exit(r < 0 && -r < 255 ? -r : r < 0 ? EIO : 0);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status))
		return -EIO;
	return WEXITSTATUS(status) == 255 ? 1 : -WEXITSTATUS(status);
}

/* One nfnetlink request of subsys, type, family and attributes: 0 when answered, -errno. */
static int nfnl_ask(struct nlmsghdr *nlh)
{
	char buf[8192];
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	int r = 0;

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		r = -errno;
	} else {
		for (;;) {
			ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));

			if (n < 0) {
				r = -errno;
				break;
			}
			r = mnl_cb_run(buf, (size_t)n, 1, mnl_socket_get_portid(nl), NULL, NULL);
			if (r <= MNL_CB_STOP) {
				r = r < 0 ? -errno : 0;
				break;
			}
		}
	}
	mnl_socket_close(nl);
	return r;
}

static struct nlmsghdr *nfnl_header(char *buf, uint16_t type, uint8_t family)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = 1;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = family;
	g->version = NFNETLINK_V0;
	return nlh;
}

static int nft_getgen(void)
{
	char buf[256];

	return nfnl_ask(nfnl_header(buf, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN, AF_UNSPEC));
}

/* nft_compat knows xt target NFQUEUE of the revision the hold chain uses (as nft asks). */
static int nfqueue_target(void)
{
	char buf[256];
	struct nlmsghdr *nlh =
		nfnl_header(buf, (NFNL_SUBSYS_NFT_COMPAT << 8) | NFNL_MSG_COMPAT_GET, AF_INET);

	mnl_attr_put_strz(nlh, NFTA_COMPAT_NAME, "NFQUEUE");
	mnl_attr_put_u32(nlh, NFTA_COMPAT_REV, htonl(3));
	mnl_attr_put_u32(nlh, NFTA_COMPAT_TYPE, htonl(1)); /* a target */
	return nfnl_ask(nlh);
}

static int nfq_bind(void)
{
	struct nfq *q;
	int r = nfq_open(PROBE_QUEUE, &q);

	if (r == 0)
		nfq_close(q);
	return r;
}

static void probe_nftables(struct probe_result *p)
{
	int r = in_scratch_netns(nft_getgen);
	const char *where = "in a throwaway network namespace";

	if (r == 1) {
		r = nft_getgen();
		where = "in latchd's network namespace";
	}
	p->err = r;
	snprintf(p->how, sizeof(p->how), "NFT_MSG_GETGEN %s: %s", where,
		 r ? strerror(-r) : "answered");
}

static void probe_nfqueue(struct probe_result *p)
{
	int r = in_scratch_netns(nfq_bind), t;
	const char *where = "in a throwaway network namespace";

	if (r == 1) {
		r = nfq_bind();
		where = "in latchd's network namespace";
	}
	t = nfqueue_target();
	p->err = r ? r : t;
	snprintf(p->how, sizeof(p->how),
		 "binding queue %u %s: %s; nft_compat's xt target NFQUEUE v3: %s", PROBE_QUEUE,
		 where, r ? strerror(-r) : "bound", t ? strerror(-t) : "known");
}

static void probe_destroy(struct probe_result *p)
{
	/* documentation addresses, a cookie no socket has: only the answer's kind matters */
	struct flow f = { .family = AF_INET, .proto = IPPROTO_TCP, .lport = 9, .rport = 9 };
	int r;

	f.laddr.v4.s_addr = htonl(0xc0000201);
	f.raddr.v4.s_addr = htonl(0xc0000202);
	r = sockdiag_destroy(&f, UINT64_MAX - 1);
	p->err = r == -ENOENT ? 0 : r;
	snprintf(p->how, sizeof(p->how), "SOCK_DESTROY of a socket that does not exist: %s%s",
		 strerror(-r),
		 r == -ENOENT	    ? " (the kernel looked for it: CONFIG_INET_DIAG_DESTROY)"
		 : r == -EOPNOTSUPP ? " (the kernel lacks CONFIG_INET_DIAG_DESTROY)"
				    : "");
}

static void probe_pidfd_getfd(struct probe_result *p)
{
	int pidfd = pidfd_open(getpid(), 0), fd = -1, r = 0;

	if (pidfd < 0)
		r = -errno;
	else if ((fd = pidfd_getfd(pidfd, pidfd, 0)) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	if (pidfd >= 0)
		close(pidfd);
	p->err = r;
	snprintf(p->how, sizeof(p->how), "latchd's own descriptor through its pidfd: %s%s",
		 r ? strerror(-r) : "taken",
		 r == -EPERM ? " (a seccomp filter or a security module refuses the call)" : "");
}

void probe_kernel(struct probe_result out[PROBE_N])
{
	const char *how = "";
	int r = enforce_xfrm_probe_esp(&how);

	out[PROBE_ESP].err = r == 1 ? 0 : r < 0 ? r : -EOPNOTSUPP;
	snprintf(out[PROBE_ESP].how, sizeof(out[PROBE_ESP].how), "%s: %s", how,
		 r == 1	 ? "done"
		 : r < 0 ? strerror(-r)
			 : "no ESP");
	probe_nftables(&out[PROBE_NFTABLES]);
	probe_nfqueue(&out[PROBE_NFQUEUE]);
	probe_destroy(&out[PROBE_SOCK_DESTROY]);
	probe_pidfd_getfd(&out[PROBE_PIDFD_GETFD]);
}

const char *probe_name(enum probe_feature f)
{
	static const char *const names[PROBE_N] = {
		[PROBE_ESP] = "ESP",
		[PROBE_NFTABLES] = "nf_tables",
		[PROBE_NFQUEUE] = "NFQUEUE",
		[PROBE_SOCK_DESTROY] = "sock_diag destroy",
		[PROBE_PIDFD_GETFD] = "pidfd_getfd",
	};

	return f < PROBE_N ? names[f] : "?";
}

bool probe_needed(enum data_plane p, enum probe_feature f)
{
	switch (f) {
	case PROBE_ESP:
	case PROBE_PIDFD_GETFD: /* a waiting latch's socket, reset sockets blocked again */
		return p == DATA_PLANE_KERNEL;
	default: /* both: the hold chain, the libipsec table, resets */
		return true;
	}
}

enum data_plane probe_plane_in_force(const struct enforce *e)
{
	const struct enforce_plane *k = enforce_plane_of(DATA_PLANE_KERNEL);

	return k && enforce_caps(e) == &k->caps ? DATA_PLANE_KERNEL : DATA_PLANE_LIBIPSEC;
}

enum data_plane probe_plane(enum data_plane want, const char **name, char *why, size_t len)
{
	const struct enforce_plane *p =
		enforce_plane_choose(want, enforce_xfrm_probe_esp, why, len);

	if (!p) {
		*name = "none";
		return DATA_PLANE_LIBIPSEC;
	}
	*name = p->caps.name;
	return p->kind;
}
