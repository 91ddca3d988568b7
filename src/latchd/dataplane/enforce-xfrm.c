/* SPDX-License-Identifier: MIT */
#include "latchd/dataplane/enforce-xfrm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/xfrm.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

int enforce_xfrm_carrier(struct enforce_carrier *ret, const char *local_host,
			 const char *remote_host, uint32_t reqid, bool tunnel)
{
	struct enforce_carrier c = { .reqid = reqid, .tunnel = tunnel };

	if (!reqid)
		return -EINVAL;
	if (inet_pton(AF_INET, local_host, &c.local.v4) == 1 &&
	    inet_pton(AF_INET, remote_host, &c.remote.v4) == 1)
		c.family = AF_INET;
	else if (inet_pton(AF_INET6, local_host, &c.local.v6) == 1 &&
		 inet_pton(AF_INET6, remote_host, &c.remote.v6) == 1)
		c.family = AF_INET6;
	else
		return -EINVAL;
	*ret = c;
	return 0;
}

/* ------------------------------------------------------- socket policies */

struct sockpol {
	struct xfrm_userpolicy_info info;
	struct xfrm_user_tmpl tmpl;
};

static void addr_copy(xfrm_address_t *to, uint8_t family, const union flow_addr *a)
{
	memset(to, 0, sizeof(*to));
	if (family == AF_INET)
		memcpy(&to->a4, &a->v4, 4);
	else
		memcpy(to->a6, &a->v6, 16);
}

/*
 * Every packet of the socket of the flow's family and protocol, whatever its
 * addresses and ports: protection belongs to the socket for its whole life.
 * A 5-tuple would leave the socket's next connect(2) (another source port
 * after a reset, another destination) or a sendto(2) elsewhere to the global
 * SPD, in clear. Carrying, such a packet can only go under the latched child
 * (to its peer, whose policies take no other flow); blocked, nowhere.
 */
static void selector(struct xfrm_selector *sel, const struct flow *f)
{
	memset(sel, 0, sizeof(*sel));
	sel->family = f->family;
	sel->proto = f->proto;
}

static void policy_info(struct xfrm_userpolicy_info *p, const struct flow *f, int dir,
			uint8_t action)
{
	memset(p, 0, sizeof(*p));
	selector(&p->sel, f);
	p->lft.soft_byte_limit = p->lft.hard_byte_limit = XFRM_INF;
	p->lft.soft_packet_limit = p->lft.hard_packet_limit = XFRM_INF;
	p->dir = (uint8_t)dir;
	p->action = action;
	p->share = XFRM_SHARE_ANY;
}

/* The socket's own family decides the option (an AF_INET6 socket may carry AF_INET flows). */
static int sock_level(int fd, int *level, int *opt)
{
	int domain;
	socklen_t len = sizeof(domain);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
		return -errno;
	if (domain == AF_INET) {
		*level = IPPROTO_IP;
		*opt = IP_XFRM_POLICY;
	} else if (domain == AF_INET6) {
		*level = IPPROTO_IPV6;
		*opt = IPV6_XFRM_POLICY;
	} else {
		return -EAFNOSUPPORT;
	}
	return 0;
}

static int set_policy(int fd, const struct sockpol *p, socklen_t len)
{
	int level, opt, r = sock_level(fd, &level, &opt);

	if (r < 0)
		return r;
	return setsockopt(fd, level, opt, p, len) < 0 ? -errno : 0;
}

int enforce_xfrm_sock_block(int fd, const struct flow *f)
{
	static const int dirs[] = { XFRM_POLICY_OUT, XFRM_POLICY_IN };
	struct sockpol p;
	int r = 0;

	for (size_t i = 0; i < 2 && r == 0; i++) {
		policy_info(&p.info, f, dirs[i], XFRM_POLICY_BLOCK);
		r = set_policy(fd, &p, sizeof(p.info));
	}
	return r;
}

/*
 * One ESP template naming the carrier's reqid. Outbound, tunnel mode needs
 * the outer addresses (the state is looked up by them); inbound the kernel
 * compares the template with the state that decrypted the packet: its
 * source (the peer) and, for any mode, protocol, reqid and mode.
 */
static void carry_tmpl(struct xfrm_user_tmpl *t, const struct enforce_carrier *c, int dir)
{
	bool out = dir == XFRM_POLICY_OUT;

	memset(t, 0, sizeof(*t));
	t->family = c->family;
	t->id.proto = IPPROTO_ESP;
	if (c->tunnel) {
		addr_copy(&t->id.daddr, c->family, out ? &c->remote : &c->local);
		addr_copy(&t->saddr, c->family, out ? &c->local : &c->remote);
	}
	t->reqid = c->reqid;
	t->mode = c->tunnel ? XFRM_MODE_TUNNEL : XFRM_MODE_TRANSPORT;
	t->share = XFRM_SHARE_ANY;
	t->aalgos = t->ealgos = t->calgos = ~0u;
}

int enforce_xfrm_sock_carry(int fd, const struct flow *f, const struct enforce_carrier *c)
{
	static const int dirs[] = { XFRM_POLICY_OUT, XFRM_POLICY_IN };
	struct sockpol p;
	int r = 0;

	for (size_t i = 0; i < 2 && r == 0; i++) {
		policy_info(&p.info, f, dirs[i], XFRM_POLICY_ALLOW);
		carry_tmpl(&p.tmpl, c, dirs[i]);
		r = set_policy(fd, &p, sizeof(p));
	}
	return r;
}

int enforce_xfrm_sock_listen(int fd, const struct flow3 *l)
{
	/* a dual-stack wildcard (AF_UNSPEC): the kernel matches a socket policy of one family */
	uint8_t family = l->family == AF_INET6 ? AF_INET6 : AF_INET;
	static const union flow_addr any;
	struct sockpol p;

	memset(&p, 0, sizeof(p));
	p.info.sel.family = family;
	if (memcmp(&l->addr, &any, sizeof(any))) {
		addr_copy(&p.info.sel.daddr, family, &l->addr);
		p.info.sel.prefixlen_d = family == AF_INET ? 32 : 128;
	}
	p.info.sel.dport = htons(l->port);
	p.info.sel.dport_mask = 0xffff;
	p.info.sel.proto = l->proto;
	p.info.lft.soft_byte_limit = p.info.lft.hard_byte_limit = XFRM_INF;
	p.info.lft.soft_packet_limit = p.info.lft.hard_packet_limit = XFRM_INF;
	p.info.dir = XFRM_POLICY_IN;
	p.info.action = XFRM_POLICY_ALLOW;
	p.info.share = XFRM_SHARE_ANY;
	p.tmpl.family = family;
	p.tmpl.id.proto = IPPROTO_ESP;
	p.tmpl.mode = XFRM_MODE_TUNNEL; /* latchd's children are tunnels; reqid 0: any */
	p.tmpl.share = XFRM_SHARE_ANY;
	p.tmpl.aalgos = p.tmpl.ealgos = p.tmpl.calgos = ~0u;
	return set_policy(fd, &p, sizeof(p));
}

int enforce_xfrm_sock_clear(int fd)
{
	int level, opt, r = sock_level(fd, &level, &opt);

	if (r < 0)
		return r;
	return setsockopt(fd, level, opt, NULL, 0) < 0 ? -errno : 0;
}

/* ------------------------------------------------------------------ probe */

/* A throwaway ESP state (AES-GCM, transport, documentation addresses). */
static int add_test_state(void)
{
	char buf[8192];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct xfrm_usersa_info *sa;
	char alg[sizeof(struct xfrm_algo_aead) + 20];
	struct xfrm_algo_aead *aead = (struct xfrm_algo_aead *)alg;
	struct mnl_socket *nl;
	int r = 0;

	nlh->nlmsg_type = XFRM_MSG_NEWSA;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
	nlh->nlmsg_seq = 1;
	sa = mnl_nlmsg_put_extra_header(nlh, sizeof(*sa));
	sa->family = sa->sel.family = AF_INET;
	inet_pton(AF_INET, "192.0.2.1", &sa->saddr.a4);
	inet_pton(AF_INET, "192.0.2.2", &sa->id.daddr.a4);
	sa->id.proto = IPPROTO_ESP;
	sa->id.spi = htonl(0x100);
	sa->mode = XFRM_MODE_TRANSPORT;
	sa->lft.soft_byte_limit = sa->lft.hard_byte_limit = XFRM_INF;
	sa->lft.soft_packet_limit = sa->lft.hard_packet_limit = XFRM_INF;
	memset(alg, 0, sizeof(alg));
	snprintf(aead->alg_name, sizeof(aead->alg_name), "rfc4106(gcm(aes))");
	aead->alg_key_len = 160; /* bits: an AES-128 key and the 4-byte salt */
	aead->alg_icv_len = 128;
	memset(aead->alg_key, 0x42, 20);
	mnl_attr_put(nlh, XFRMA_ALG_AEAD, sizeof(alg), alg);
	nl = mnl_socket_open2(NETLINK_XFRM, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		r = -errno;
	} else {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));

		if (n < 0)
			r = -errno;
		else if (mnl_cb_run(buf, (size_t)n, 1, mnl_socket_get_portid(nl), NULL, NULL) < 0)
			r = -errno;
	}
	mnl_socket_close(nl);
	return r;
}

/* In a child, in a network namespace of its own: 0 ESP works, 1 it does not, 2 no netns. */
static int probe_netns(void)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (unshare(CLONE_NEWNET) < 0)
			_exit(2);
		_exit(add_test_state() == 0 ? 0 : 1);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* Is a kernel module loaded, built in or installed (modules.builtin, modules.dep)? */
static bool module_known(const char *name)
{
	char path[256], line[512], ko[80];
	const char *lists[] = { "modules.builtin", "modules.dep" };
	struct utsname u;
	struct stat st;

	snprintf(path, sizeof(path), "/sys/module/%s", name);
	if (stat(path, &st) == 0)
		return true;
	if (uname(&u) < 0)
		return false;
	snprintf(ko, sizeof(ko), "/%s.ko", name);
	for (size_t i = 0; i < 2; i++) {
		FILE *fp;
		bool found = false;

		snprintf(path, sizeof(path), "/lib/modules/%s/%s", u.release, lists[i]);
		fp = fopen(path, "re");
		if (!fp)
			continue;
		while (!found && fgets(line, sizeof(line), fp))
			found = strstr(line, ko) != NULL;
		fclose(fp);
		if (found)
			return true;
	}
	return false;
}

int enforce_xfrm_probe_esp(const char **how)
{
	int r = probe_netns();

	if (r == 0 || r == 1) {
		*how = "an ESP state in a throwaway network namespace";
		return r == 0;
	}
	*how = "the kernel's modules (no right to make a network namespace)";
	return module_known("esp4");
}
