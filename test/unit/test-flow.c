/* SPDX-License-Identifier: MIT */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "latchd/base/flow.h"

static struct flow parse(const char *proto, const char *l, unsigned lp, const char *r, unsigned rp)
{
	struct flow f;

	assert_int_equal(flow_parse(proto, l, lp, r, rp, &f), 0);
	return f;
}

static void test_format(void **state)
{
	struct flow v4 = parse("tcp", "192.0.2.1", 40000, "192.0.2.2", 8080);
	struct flow v6 = parse("udp", "2001:db8::1", 5353, "2001:db8::2", 40010);
	struct flow3 l = { .family = AF_INET, .proto = IPPROTO_TCP, .port = 8080 };
	char buf[FLOW_FMT_MAX], tiny[8];

	assert_string_equal(flow_format(buf, sizeof(buf), &v4),
			    "tcp 192.0.2.1:40000 -> 192.0.2.2:8080");
	assert_string_equal(flow_format(buf, sizeof(buf), &v6),
			    "udp [2001:db8::1]:5353 -> [2001:db8::2]:40010");
	assert_string_equal(flow_format(tiny, sizeof(tiny), &v4), "tcp 192");
	assert_string_equal(flow3_format(buf, sizeof(buf), &l), "tcp *:8080");
	l.family = AF_UNSPEC;
	assert_string_equal(flow3_format(buf, sizeof(buf), &l), "tcp any:8080");
	l.family = AF_INET6;
	assert_string_equal(flow3_format(buf, sizeof(buf), &l), "tcp [::]:8080");
}

static void test_parse_rejects(void **state)
{
	struct flow f = { .lport = 7 };

	assert_int_equal(flow_parse("icmp", "192.0.2.1", 1, "192.0.2.2", 2, &f), -EINVAL);
	assert_int_equal(flow_parse("tcp", "192.0.2.1", 1, "2001:db8::2", 2, &f), -EINVAL);
	assert_int_equal(flow_parse("tcp", "192.0.2.1", 65536, "192.0.2.2", 2, &f), -EINVAL);
	assert_int_equal(f.lport, 7); /* untouched on failure */
}

static void test_equal_hash(void **state)
{
	static const uint8_t k1[16] = { 1 }, k2[16] = { 2 };
	struct flow a = parse("tcp", "192.0.2.1", 40000, "192.0.2.2", 8080), b = a, r, rr;

	assert_true(flow_equal(&a, &b));
	assert_int_equal(flow_hash(&a, k1), flow_hash(&b, k1));
	assert_int_not_equal(flow_hash(&a, k1), flow_hash(&a, k2));
	b.rport = 8081;
	assert_false(flow_equal(&a, &b));
	assert_int_not_equal(flow_hash(&a, k1), flow_hash(&b, k1));
	b = a;
	b.proto = IPPROTO_UDP;
	assert_false(flow_equal(&a, &b));
	flow_reverse(&a, &r);
	assert_false(flow_equal(&a, &r));
	assert_int_equal(r.lport, 8080);
	flow_reverse(&r, &rr);
	assert_true(flow_equal(&a, &rr));
}

/*
 * A flow whose canonical bytes are 00 01 … 25: the expected value is
 * SipHash-2-4 (key 00..0f) of those 38 bytes, computed by an independent
 * implementation checked against the paper's vector (15 bytes → a129ca6149be45e5).
 */
static void test_siphash_vector(void **state)
{
	struct flow f = { .family = 0, .proto = 1, .lport = 0x0203, .rport = 0x0405 };
	uint8_t key[16];

	for (int i = 0; i < 16; i++) {
		key[i] = (uint8_t)i;
		f.laddr.b[i] = (uint8_t)(6 + i);
		f.raddr.b[i] = (uint8_t)(22 + i);
	}
	assert_int_equal(flow_hash(&f, key), 0xcadcd4e59ef40c4dULL);
}

static void test_from_fd(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), cfd, ufd;
	struct flow f = { 0 }, untouched = { .lport = 9 };
	struct flow3 l;
	char buf[FLOW_FMT_MAX];
	int sv[2];

	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	assert_int_equal(flow_from_fd(lfd, &untouched), -ENOTCONN);
	assert_int_equal(untouched.lport, 9);
	assert_int_equal(flow3_from_fd(lfd, &l), 0);
	assert_int_equal(l.family, AF_INET);
	assert_int_equal(l.port, ntohs(sa.sin_port));
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(cfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(flow_from_fd(cfd, &f), 0);
	assert_int_equal(f.family, AF_INET);
	assert_int_equal(f.proto, IPPROTO_TCP);
	assert_int_equal(f.rport, ntohs(sa.sin_port));
	flow_format(buf, sizeof(buf), &f);
	assert_non_null(strstr(buf, "tcp 127.0.0.1:"));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(flow_from_fd(sv[0], &f), -EAFNOSUPPORT);
	assert_int_equal(flow_from_fd(-1, &f), -EBADF);
	ufd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_int_equal(flow_from_fd(ufd, &f), -ENOTCONN);
	close(ufd);
	close(sv[0]);
	close(sv[1]);
	close(cfd);
	close(lfd);
}

/* A v6 socket connected to a v4-mapped address is a v4 flow: that is what the wire carries. */
static void test_from_fd_mapped(void **state)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0), off = 0;
	char buf[FLOW_FMT_MAX];
	struct flow3 l;
	struct flow f;

	assert_int_equal(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(flow3_from_fd(fd, &l), 0);
	assert_int_equal(l.family, AF_UNSPEC); /* dual-stack wildcard */
	assert_int_equal(l.proto, IPPROTO_UDP);
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &sa.sin6_addr);
	sa.sin6_port = htons(9);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(flow_from_fd(fd, &f), 0);
	assert_int_equal(f.family, AF_INET);
	flow_format(buf, sizeof(buf), &f);
	assert_non_null(strstr(buf, "-> 127.0.0.1:9"));
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),	   cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_equal_hash), cmocka_unit_test(test_siphash_vector),
		cmocka_unit_test(test_from_fd),	   cmocka_unit_test(test_from_fd_mapped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
