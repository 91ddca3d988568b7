/* SPDX-License-Identifier: MIT */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "latchd/base/flow.h"
#include "latchd/dataplane/enforce-xfrm.h"
#include "latchd/dataplane/sockdiag.h"

/*
 * The kernel data plane's socket policies on this machine's own kernel, which
 * has XFRM but no ESP: a blocked socket cannot connect (EPERM), a carried
 * one finds no state for its reqid and gets EAGAIN (the kernel asked for an
 * SA instead of sending in clear), and a cleared one connects in clear; a
 * socket is found among its owner's descriptors by its cookie. Over
 * loopback, as root (setting a socket policy needs CAP_NET_ADMIN).
 */

static void test_carrier_make(void **state)
{
	struct enforce_carrier c = { .reqid = 7 };
	uint8_t want[4] = { 192, 0, 2, 2 };

	assert_int_equal(enforce_xfrm_carrier(&c, "192.0.2.1", "192.0.2.2", 42, true), 0);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.reqid, 42);
	assert_true(c.tunnel);
	assert_memory_equal(c.remote.b, want, 4);
	assert_int_equal(enforce_xfrm_carrier(&c, "2001:db8::1", "2001:db8::2", 43, false), 0);
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(c.remote.b[15], 2);
	assert_int_equal(enforce_xfrm_carrier(&c, "192.0.2.1", "2001:db8::2", 1, true), -EINVAL);
	assert_int_equal(enforce_xfrm_carrier(&c, "192.0.2.1", "192.0.2.2", 0, true), -EINVAL);
	assert_int_equal(c.reqid, 43); /* untouched on failure */
}

struct pair {
	int lst, fd;
	struct sockaddr_in to;
	struct flow f;
};

/* A listener on 127.0.0.1 and a bound client socket; f is the flow it will be. */
static void pair_open(struct pair *p)
{
	socklen_t len = sizeof(p->to);
	struct sockaddr_in me = { .sin_family = AF_INET };

	p->lst = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	p->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(p->lst >= 0 && p->fd >= 0);
	memset(&p->to, 0, sizeof(p->to));
	p->to.sin_family = AF_INET;
	p->to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(p->lst, (struct sockaddr *)&p->to, sizeof(p->to)), 0);
	assert_int_equal(listen(p->lst, 4), 0);
	assert_int_equal(getsockname(p->lst, (struct sockaddr *)&p->to, &len), 0);
	assert_int_equal(bind(p->fd, (struct sockaddr *)&me, sizeof(me)), 0);
	len = sizeof(me);
	assert_int_equal(getsockname(p->fd, (struct sockaddr *)&me, &len), 0);
	memset(&p->f, 0, sizeof(p->f));
	p->f.family = AF_INET;
	p->f.proto = IPPROTO_TCP;
	p->f.laddr.v4 = me.sin_addr;
	p->f.raddr.v4 = p->to.sin_addr;
	p->f.lport = ntohs(me.sin_port);
	p->f.rport = ntohs(p->to.sin_port);
}

static void pair_close(struct pair *p)
{
	close(p->fd);
	close(p->lst);
}

static int try_connect(struct pair *p)
{
	return connect(p->fd, (struct sockaddr *)&p->to, sizeof(p->to)) == 0 ? 0 : -errno;
}

static bool can_set_policies(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct flow f = { .family = AF_INET, .proto = IPPROTO_TCP };
	bool ok = fd >= 0 && enforce_xfrm_sock_block(fd, &f) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

static void test_block_carry_clear(void **state)
{
	struct enforce_carrier c;
	struct pair p;

	if (!can_set_policies()) {
		skip(); /* not root, or no XFRM in this kernel */
		return;
	}
	assert_int_equal(enforce_xfrm_carrier(&c, "127.0.0.1", "127.0.0.1", 4242, false), 0);

	pair_open(&p);
	assert_int_equal(enforce_xfrm_sock_block(p.fd, &p.f), 0);
	assert_int_equal(try_connect(&p), -EPERM);
	pair_close(&p);

	pair_open(&p);
	assert_int_equal(enforce_xfrm_sock_carry(p.fd, &p.f, &c), 0);
	assert_int_equal(try_connect(&p), -EAGAIN); /* no SA with reqid 4242: never in clear */
	pair_close(&p);

	pair_open(&p);
	assert_int_equal(enforce_xfrm_sock_block(p.fd, &p.f), 0);
	assert_int_equal(enforce_xfrm_sock_clear(p.fd), 0);
	assert_int_equal(try_connect(&p), 0);
	pair_close(&p);
}

/* The policy holds the whole socket: a flow to another destination port is held too. */
static void test_selector_is_the_socket(void **state)
{
	struct pair p;

	if (!can_set_policies()) {
		skip();
		return;
	}
	pair_open(&p);
	p.f.rport++; /* a policy made for another destination port */
	assert_int_equal(enforce_xfrm_sock_block(p.fd, &p.f), 0);
	assert_int_equal(try_connect(&p), -EPERM);
	pair_close(&p);
}

/* A listener's policy: clear text does not reach it; cleared, it does. */
static void test_listener(void **state)
{
	struct sockaddr_in to = { .sin_family = AF_INET };
	socklen_t len = sizeof(to);
	struct flow3 l = { .family = AF_INET, .proto = IPPROTO_UDP };
	char buf[8];
	int srv, cli;

	if (!can_set_policies()) {
		skip();
		return;
	}
	srv = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	cli = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(srv >= 0 && cli >= 0);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(srv, (struct sockaddr *)&to, sizeof(to)), 0);
	assert_int_equal(getsockname(srv, (struct sockaddr *)&to, &len), 0);
	l.addr.v4 = to.sin_addr;
	l.port = ntohs(to.sin_port);
	assert_int_equal(enforce_xfrm_sock_listen(srv, &l), 0);
	assert_int_equal(sendto(cli, "clear", 5, 0, (struct sockaddr *)&to, sizeof(to)), 5);
	usleep(20000);
	assert_int_equal(recv(srv, buf, sizeof(buf), 0), -1);
	assert_int_equal(errno, EAGAIN); /* dropped by the inbound policy check */
	assert_int_equal(enforce_xfrm_sock_clear(srv), 0);
	assert_int_equal(sendto(cli, "clear", 5, 0, (struct sockaddr *)&to, sizeof(to)), 5);
	usleep(20000);
	assert_int_equal(recv(srv, buf, sizeof(buf), 0), 5);
	close(cli);
	close(srv);
}

/*
 * A latch's socket once its request is over: found among its owner's
 * descriptors by its flow's inode and its cookie (here this process's own, a
 * connected UDP socket), and blocked through the copy; none with another
 * cookie, none of a process that is gone.
 */
static void test_fetch_by_cookie(void **state)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	uint64_t cookie, ck;
	struct flow f;
	int fd, copy;
	pid_t gone;

	if (!can_set_policies()) {
		skip();
		return;
	}
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
	assert_int_equal(flow_from_fd(fd, &f), 0);
	assert_int_equal(sockdiag_cookie(fd, &cookie), 0);
	copy = sockdiag_fetch(getpid(), &f, cookie);
	assert_true(copy >= 0);
	assert_true(copy != fd);
	assert_int_equal(sockdiag_cookie(copy, &ck), 0);
	assert_true(ck == cookie);
	assert_int_equal(enforce_xfrm_sock_block(copy, &f), 0);
	close(copy);
	assert_int_equal(send(fd, "x", 1, 0), -1); /* the owner's socket is blocked */
	assert_int_equal(errno, EPERM);
	assert_int_equal(sockdiag_fetch(getpid(), &f, cookie + 1000000), -ENOENT);
	gone = fork();
	if (gone == 0)
		_exit(0);
	assert_int_equal(waitpid(gone, NULL, 0), gone);
	assert_int_equal(sockdiag_fetch(gone, &f, cookie), -ESRCH);
	close(fd);
}

static void test_probe(void **state)
{
	const char *how = NULL;
	int r = enforce_xfrm_probe_esp(&how);

	assert_true(r == 0 || r == 1);
	assert_non_null(how);
	print_message("# ESP in this kernel: %s (%s)\n", r ? "yes" : "no", how);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_carrier_make),
		cmocka_unit_test(test_block_carry_clear),
		cmocka_unit_test(test_selector_is_the_socket),
		cmocka_unit_test(test_listener),
		cmocka_unit_test(test_fetch_by_cookie),
		cmocka_unit_test(test_probe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
