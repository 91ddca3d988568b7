/* SPDX-License-Identifier: MIT */
/* The pure part of src/latchd/dataplane/sockdiag.c: destroy events parsed from a datagram. */
#include "unit.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <string.h>

#include "latchd/dataplane/sockdiag.h"

struct event {
	struct nlmsghdr h;
	struct inet_diag_msg m;
	struct nlattr a;
	uint8_t proto, pad[3];
};

static void on_gone(const struct flow *f, uint64_t cookie, void *arg)
{
	(*(int *)arg)++;
	assert_int_equal(f->family, AF_INET);
	assert_int_equal(f->lport, 40000);
	assert_int_equal(cookie, 0x1234);
}

static void put_event(uint8_t *at)
{
	struct event ev = { 0 };

	ev.h = (struct nlmsghdr){ .nlmsg_len = sizeof(ev), .nlmsg_type = SOCK_DIAG_BY_FAMILY };
	ev.m.idiag_family = AF_INET;
	ev.m.id.idiag_sport = htons(40000);
	ev.m.id.idiag_cookie[0] = 0x1234;
	ev.a = (struct nlattr){ .nla_len = NLA_HDRLEN + 1, .nla_type = INET_DIAG_PROTOCOL };
	ev.proto = IPPROTO_TCP;
	memcpy(at, &ev, sizeof(ev));
}

/*
 * Found by fuzz-sockdiag: a last message whose length is not a multiple of
 * 4 made NLMSG_NEXT wrap the (unsigned) bytes left, and the walk went on
 * past the datagram. Here an event lies beyond it: it must not be seen.
 */
static void unaligned_last_message(void **state)
{
	uint8_t buf[3 * sizeof(struct event)] __attribute__((aligned(NLMSG_ALIGNTO))) = { 0 };
	struct nlmsghdr noop = { .nlmsg_len = NLMSG_LENGTH(0) + 1, .nlmsg_type = NLMSG_NOOP };
	size_t past = sizeof(struct event) + NLMSG_ALIGN(noop.nlmsg_len);
	int calls = 0;

	put_event(buf);
	memcpy(buf + sizeof(struct event), &noop, sizeof(noop));
	put_event(buf + past);
	assert_int_equal(
		sockdiag_parse_events(buf, sizeof(struct event) + noop.nlmsg_len, on_gone, &calls),
		1);
	assert_int_equal(calls, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unaligned_last_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
