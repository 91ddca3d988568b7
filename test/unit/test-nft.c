/* SPDX-License-Identifier: MIT */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/set.h>
#include <linux/inet_diag.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/sock_diag.h>
#include <stdlib.h>
#include <string.h>

#include "latchd/dataplane/enforce-rules.h"
#include "latchd/dataplane/nft.h"
#include "latchd/dataplane/sockdiag.h"

static struct flow parse(const char *proto, const char *l, unsigned lp, const char *r, unsigned rp)
{
	struct flow f;

	assert_int_equal(flow_parse(proto, l, lp, r, rp, &f), 0);
	return f;
}

/* measured on the lab: 020200c0 00000006 0000901f 010200c0 0000409c for 192.0.2.2 . tcp . 8080 .
 * 192.0.2.1 . 40000 */
static void test_key_v4(void **state)
{
	struct flow f = parse("tcp", "192.0.2.1", 40000, "192.0.2.2", 8080), back;
	uint8_t key[NFT_KEY_MAX];
	size_t len = nft_key_flow(&f, key);
	uint8_t *want;
	size_t wlen;

	want = unit_hex("c0000202 06000000 1f900000 c0000201 9c400000", &wlen);
	unit_assert_bytes(key, len, want, wlen);
	free(want);
	assert_int_equal(nft_key_flow_parse(AF_INET, key, len, &back), 0);
	assert_true(flow_equal(&f, &back));
	assert_int_equal(nft_key_flow_parse(AF_INET, key, 44, &back), -EINVAL);
	assert_int_equal(nft_key_flow_parse(AF_INET6, key, len, &back), -EINVAL);
}

static void test_key_v6(void **state)
{
	struct flow f = parse("udp", "2001:db8::1", 5353, "2001:db8::2", 40010), back;
	uint8_t key[NFT_KEY_MAX];
	size_t len = nft_key_flow(&f, key);
	uint8_t *want;
	size_t wlen;

	want = unit_hex("20010db8000000000000000000000002 11000000 9c4a0000"
			"20010db8000000000000000000000001 14e90000",
			&wlen);
	unit_assert_bytes(key, len, want, wlen);
	free(want);
	assert_int_equal(nft_key_flow_parse(AF_INET6, key, len, &back), 0);
	assert_true(flow_equal(&f, &back));
	f.family = 0;
	assert_int_equal(nft_key_flow(&f, key), 0);
}

static void test_key_listen(void **state)
{
	struct flow3 l = { .family = AF_INET, .proto = IPPROTO_TCP, .port = 8080 }, back;
	uint8_t key[NFT_KEY_MAX];
	uint8_t *want;
	size_t len, wlen;

	inet_pton(AF_INET, "192.0.2.1", l.addr.b);
	len = nft_key_listen(&l, key);
	want = unit_hex("c0000201 06000000 1f900000", &wlen);
	unit_assert_bytes(key, len, want, wlen);
	free(want);
	assert_int_equal(nft_key_listen_parse(AF_INET, key, len, &back), 0);
	assert_true(flow3_equal(&l, &back));
	len = nft_key_listen_any(&l, key);
	want = unit_hex("06000000 1f900000", &wlen);
	unit_assert_bytes(key, len, want, wlen);
	free(want);
	assert_int_equal(nft_key_listen_parse(AF_INET6, key, len, &back), 0);
	assert_int_equal(back.family, AF_INET6);
	assert_int_equal(back.port, 8080);
	assert_int_equal(back.addr.b[0], 0);
}

/* Walk a batch: begin, the messages (with ACK and increasing seq), end. */
static unsigned count_msgs(const struct nft_batch *b, uint16_t type, const struct nlmsghdr **last)
{
	const struct nlmsghdr *nlh = (const void *)b->buf;
	int left = (int)b->len;
	unsigned n = 0;
	uint32_t seq = b->seq_begin;

	for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		assert_int_equal(nlh->nlmsg_seq, seq++);
		if ((nlh->nlmsg_type & 0xff) == type &&
		    nlh->nlmsg_type >> 8 == NFNL_SUBSYS_NFTABLES) {
			assert_true(nlh->nlmsg_flags & NLM_F_ACK);
			*last = nlh;
			n++;
		}
	}
	assert_int_equal(left, 0);
	assert_int_equal(seq, b->seq_next);
	return n;
}

static int first_key(struct nftnl_set_elem *el, void *data)
{
	uint8_t *out = data;
	uint32_t len;
	const void *k = nftnl_set_elem_get(el, NFTNL_SET_ELEM_KEY, &len);

	memcpy(out, k, len);
	out[NFT_KEY_MAX] = (uint8_t)len;
	return 0;
}

static void test_elems(void **state)
{
	struct enforce_op ops[2] = {
		{ .kind = ENFORCE_FLOW_DEL, .flow = parse("tcp", "192.0.2.1", 1, "192.0.2.2", 2) },
		{ .kind = ENFORCE_FLOW_ADD,
		  .flow = parse("tcp", "192.0.2.1", 40000, "192.0.2.2", 8080) },
	};
	const struct nlmsghdr *last = NULL;
	uint8_t got[NFT_KEY_MAX + 1], want[NFT_KEY_MAX];
	struct nftnl_set *s = nftnl_set_alloc();
	struct nft_batch b;

	assert_int_equal(nft_batch_init(&b, 100), 0);
	assert_int_equal(enforce_elems_build(&b, "latch", ops, 2), 0);
	assert_int_equal(nft_batch_finish(&b), 0);
	/* del = destroy armed + destroy flows, a destroy = add + delete (any kernel); add */
	assert_int_equal(b.msgs, 5);
	assert_int_equal(count_msgs(&b, NFT_MSG_DELSETELEM, &last), 2);
	assert_int_equal(count_msgs(&b, NFT_MSG_NEWSETELEM, &last), 3);
	assert_int_equal(nftnl_set_elems_nlmsg_parse(last, s), 0);
	assert_string_equal(nftnl_set_get_str(s, NFTNL_SET_NAME), "flows4");
	assert_string_equal(nftnl_set_get_str(s, NFTNL_SET_TABLE), "latch");
	nftnl_set_elem_foreach(s, first_key, got);
	unit_assert_bytes(got, got[NFT_KEY_MAX], want, nft_key_flow(&ops[1].flow, want));
	nftnl_set_free(s);
	nft_batch_release(&b);
}

static void test_elems_invalid(void **state)
{
	struct enforce_op op = { .kind = ENFORCE_FLOW_ADD,
				 .flow = parse("tcp", "192.0.2.1", 1, "192.0.2.2", 2) };
	struct nft_batch b;

	op.flow.proto = IPPROTO_ICMP;
	assert_int_equal(nft_batch_init(&b, 1), 0);
	assert_int_equal(enforce_elems_build(&b, "latch", &op, 1), -EINVAL);
	op.kind = ENFORCE_LISTEN_ADD;
	op.listen = (struct flow3){ .family = AF_UNSPEC, .proto = IPPROTO_UDP, .port = 53 };
	assert_int_equal(enforce_elems_build(&b, "latch", &op, 1), 0);
	assert_int_equal(b.msgs, 2);  /* listenany4 and listenany6 */
	op.kind = ENFORCE_ATTACH_ADD; /* an attached socket: the same keys, the attach sets */
	assert_int_equal(enforce_elems_build(&b, "latch", &op, 1), 0);
	assert_int_equal(b.msgs, 4);
	op.listen.proto = IPPROTO_ICMP;
	assert_int_equal(enforce_elems_build(&b, "latch", &op, 1), -EINVAL);
	nft_batch_release(&b);
}

static void test_ruleset(void **state)
{
	struct enforce_config cfg = ENFORCE_CONFIG_DEFAULT;
	const struct nlmsghdr *last = NULL;
	struct nft_batch b;

	assert_int_equal(nft_batch_init(&b, 7), 0);
	assert_int_equal(enforce_rules_build(&b, &cfg, true), 0);
	assert_int_equal(nft_batch_finish(&b), 0);
	assert_int_equal(count_msgs(&b, NFT_MSG_NEWTABLE, &last), 2);
	assert_int_equal(count_msgs(&b, NFT_MSG_DELTABLE, &last), 1);
	assert_int_equal(count_msgs(&b, NFT_MSG_NEWSET, &last), 12);
	assert_int_equal(count_msgs(&b, NFT_MSG_DELSETELEM, &last), 4); /* attach sets flushed */
	assert_int_equal(count_msgs(&b, NFT_MSG_NEWOBJ, &last), 7);
	assert_int_equal(count_msgs(&b, NFT_MSG_NEWCHAIN, &last), 6);
	assert_int_equal(count_msgs(&b, NFT_MSG_DELRULE, &last), 6); /* flushes */
	/* 23, and the protected sockets' drop (no hold), v4 and v6 */
	assert_int_equal(count_msgs(&b, NFT_MSG_NEWRULE, &last), 25);
	nft_batch_release(&b);
	/* The hold rules: attach and attachany, v4 and v6, only when asked for. */
	cfg.hold = true;
	cfg.hold_queue = 207;
	assert_int_equal(nft_batch_init(&b, 7), 0);
	assert_int_equal(enforce_rules_build(&b, &cfg, true), 0);
	assert_int_equal(nft_batch_finish(&b), 0);
	assert_int_equal(count_msgs(&b, NFT_MSG_NEWRULE, &last), 29);
	nft_batch_release(&b);
	/* No protected sockets' marks: no rule for them. */
	cfg.sock_mark_mask = 0;
	assert_int_equal(nft_batch_init(&b, 7), 0);
	assert_int_equal(enforce_rules_build(&b, &cfg, true), 0);
	assert_int_equal(nft_batch_finish(&b), 0);
	assert_int_equal(count_msgs(&b, NFT_MSG_NEWRULE, &last), 27);
	nft_batch_release(&b);
	cfg.sock_mark_mask = ENFORCE_SOCK_MARK_MASK;
	/* Adopting keeps the table: no delete. */
	assert_int_equal(nft_batch_init(&b, 7), 0);
	assert_int_equal(enforce_rules_build(&b, &cfg, false), 0);
	assert_int_equal(count_msgs(&b, NFT_MSG_DELTABLE, &last), 0);
	nft_batch_release(&b);
	/*
	 * The kernel data plane: the same sets and counters, two chains (pre and
	 * hold), the listeners' secpath drops (listen, listenany; v4, v6) and the
	 * hold rules; nothing that routes or marks.
	 */
	cfg.data_plane = DATA_PLANE_KERNEL;
	assert_int_equal(nft_batch_init(&b, 7), 0);
	assert_int_equal(enforce_rules_build(&b, &cfg, true), 0);
	assert_int_equal(nft_batch_finish(&b), 0);
	assert_int_equal(count_msgs(&b, NFT_MSG_NEWSET, &last), 12);
	assert_int_equal(count_msgs(&b, NFT_MSG_NEWOBJ, &last), 7);
	assert_int_equal(count_msgs(&b, NFT_MSG_NEWCHAIN, &last), 2);
	assert_int_equal(count_msgs(&b, NFT_MSG_NEWRULE, &last), 8);
	nft_batch_release(&b);
}

/* An NLMSG_ERROR as the kernel sends it with NETLINK_EXT_ACK and NETLINK_CAP_ACK. */
static void test_parse_error(void **state)
{
	char buf[512] __attribute__((aligned(4))), text[64];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlmsgerr *e;

	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_flags = NLM_F_CAPPED | NLM_F_ACK_TLVS;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = -ENOENT;
	e->msg.nlmsg_len = 200; /* capped: the request is not echoed */
	mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, "No such set");
	assert_int_equal(nft_parse_error(nlh, text, sizeof(text)), -ENOENT);
	assert_string_equal(text, "No such set");
	e->error = 0;
	nlh->nlmsg_flags = NLM_F_CAPPED;
	assert_int_equal(nft_parse_error(nlh, text, sizeof(text)), 0);
	assert_string_equal(text, "");
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + 4;
	assert_int_equal(nft_parse_error(nlh, text, sizeof(text)), -EBADMSG);
}

static void test_sockdiag_request(void **state)
{
	struct flow f = parse("tcp", "192.0.2.1", 40000, "192.0.2.2", 8080);
	char buf[SOCKDIAG_REQ_MAX] __attribute__((aligned(4)));
	const struct nlmsghdr *nlh = (const void *)buf;
	const struct inet_diag_req_v2 *r = mnl_nlmsg_get_payload(nlh);
	int len = sockdiag_build_request(buf, SOCK_DESTROY, &f, 0x1122334455667788ULL);

	assert_int_equal(len, NLMSG_LENGTH(sizeof(*r)));
	assert_int_equal(nlh->nlmsg_type, SOCK_DESTROY);
	assert_true(nlh->nlmsg_flags & NLM_F_ACK);
	assert_int_equal(r->sdiag_family, AF_INET);
	assert_int_equal(r->sdiag_protocol, IPPROTO_TCP);
	assert_int_equal(ntohs(r->id.idiag_sport), 40000);
	assert_int_equal(ntohs(r->id.idiag_dport), 8080);
	assert_memory_equal(r->id.idiag_src, f.laddr.b, 4);
	assert_memory_equal(r->id.idiag_dst, f.raddr.b, 4);
	assert_int_equal(r->id.idiag_cookie[0], 0x55667788);
	assert_int_equal(r->id.idiag_cookie[1], 0x11223344);
}

/* A destroy event of a dual-stack socket talking v4 folds to the v4 flow. */
static void test_sockdiag_event(void **state)
{
	char buf[256] __attribute__((aligned(4)));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct inet_diag_msg *m;
	struct flow f, want = parse("udp", "192.0.2.1", 5353, "192.0.2.2", 40010);
	uint64_t cookie;

	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	m = mnl_nlmsg_put_extra_header(nlh, sizeof(*m));
	m->idiag_family = AF_INET6;
	m->id.idiag_sport = htons(5353);
	m->id.idiag_dport = htons(40010);
	inet_pton(AF_INET6, "::ffff:192.0.2.1", m->id.idiag_src);
	inet_pton(AF_INET6, "::ffff:192.0.2.2", m->id.idiag_dst);
	m->id.idiag_cookie[0] = 7;
	m->id.idiag_cookie[1] = 1;
	assert_int_equal(sockdiag_parse_event(nlh, &f, &cookie), -EBADMSG); /* no protocol yet */
	mnl_attr_put_u8(nlh, INET_DIAG_PROTOCOL, IPPROTO_UDP);
	assert_int_equal(sockdiag_parse_event(nlh, &f, &cookie), 0);
	assert_true(flow_equal(&f, &want));
	assert_int_equal(cookie, (1ULL << 32) | 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_v4),	       cmocka_unit_test(test_key_v6),
		cmocka_unit_test(test_key_listen),     cmocka_unit_test(test_elems),
		cmocka_unit_test(test_elems_invalid),  cmocka_unit_test(test_ruleset),
		cmocka_unit_test(test_parse_error),    cmocka_unit_test(test_sockdiag_request),
		cmocka_unit_test(test_sockdiag_event),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
