/* SPDX-License-Identifier: MIT */
/* The pure half of src/latchd/dataplane/nfq.c: nfnetlink_queue messages and packet parsing. */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <stdlib.h>
#include <string.h>

#include "latchd/dataplane/nfq.h"

/* IPv4 TCP SYN 192.0.2.1:42000 -> 192.0.2.2:8080 (20-byte IP, 20-byte TCP) */
static const char syn4[] = "45000028 00004000 40060000 c0000201 c0000202"
			   "a410 1f90 00000001 00000000 5002 faf0 0000 0000";

static struct flow parse_hex(const char *hex, int want, bool *syn)
{
	size_t len;
	uint8_t *p = unit_hex(hex, &len);
	struct flow f = { 0 };

	assert_int_equal(nfq_packet_flow(p, len, &f, syn), want);
	free(p);
	return f;
}

static void test_flow_v4_syn(void **state)
{
	struct flow f, want;
	bool syn = false;

	f = parse_hex(syn4, 0, &syn);
	assert_int_equal(flow_parse("tcp", "192.0.2.1", 42000, "192.0.2.2", 8080, &want), 0);
	assert_true(flow_equal(&f, &want));
	assert_true(syn);
}

static void test_flow_v4_synack_udp(void **state)
{
	struct flow f, want;
	bool syn = true;

	/* the same with SYN|ACK: not a first SYN */
	parse_hex("45000028 00004000 40060000 c0000201 c0000202"
		  "a410 1f90 00000001 00000001 5012 faf0 0000 0000",
		  0, &syn);
	assert_false(syn);
	/* UDP with IP options (ihl 6): 192.0.2.1:5353 -> 192.0.2.2:53 */
	f = parse_hex("46000024 00000000 40110000 c0000201 c0000202 01010101"
		      "14e9 0035 0008 0000",
		      0, &syn);
	assert_int_equal(flow_parse("udp", "192.0.2.1", 5353, "192.0.2.2", 53, &want), 0);
	assert_true(flow_equal(&f, &want));
	assert_false(syn);
}

static void test_flow_v6_ext(void **state)
{
	struct flow f, want;
	bool syn = false;

	/* IPv6, next header 0 (hop-by-hop, 8 bytes) then TCP SYN [2001:db8::1]:42000 -> [::2]:8080
	 */
	f = parse_hex("60000000 001c 00 40"
		      "20010db8 00000000 00000000 00000001"
		      "20010db8 00000000 00000000 00000002"
		      "06 00 0000 00000000"
		      "a410 1f90 00000001 00000000 5002 faf0 0000 0000",
		      0, &syn);
	assert_int_equal(flow_parse("tcp", "2001:db8::1", 42000, "2001:db8::2", 8080, &want), 0);
	assert_true(flow_equal(&f, &want));
	assert_true(syn);
}

static void test_flow_rejects(void **state)
{
	bool syn;

	parse_hex("4500", -EBADMSG, &syn); /* truncated */
	parse_hex("45000028 00000000 40010000 c0000201 c0000202 0800", -EPROTONOSUPPORT, /* ICMP */
		  &syn);
	parse_hex("45000028 00002000 40060000 c0000201 c0000202 a4101f90", -EBADMSG,
		  &syn); /* TCP header cut short */
	parse_hex("45000028 000000b9 40060000 c0000201 c0000202 a4101f90", -EPROTONOSUPPORT,
		  &syn);				       /* a fragment with an offset */
	parse_hex("70000000", -EBADMSG, &syn);		       /* not IP */
	parse_hex("60000000 0000 00 40 2001", -EBADMSG, &syn); /* IPv6 header cut short */
	assert_int_equal(nfq_packet_flow(NULL, 0, NULL, &syn), -EBADMSG);
}

static const struct nlattr *attr(const struct nlmsghdr *nlh, uint16_t type)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
	{
		if (mnl_attr_get_type(a) == type)
			return a;
	}
	return NULL;
}

static void check_header(const struct nlmsghdr *nlh, uint8_t type, uint16_t queue)
{
	const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);

	assert_int_equal(nlh->nlmsg_type, (NFNL_SUBSYS_QUEUE << 8) | type);
	assert_true(nlh->nlmsg_flags & NLM_F_REQUEST);
	assert_int_equal(g->version, NFNETLINK_V0);
	assert_int_equal(ntohs(g->res_id), queue);
}

static void test_build_config(void **state)
{
	char buf[NFQ_MSG_MAX] __attribute__((aligned(4)));
	const struct nlmsghdr *nlh = (const void *)buf;
	const struct nfqnl_msg_config_cmd *cmd;
	const struct nfqnl_msg_config_params *par;

	size_t len = nfq_build_cmd(buf, 207, NFQNL_CFG_CMD_BIND, 5);

	assert_int_equal(len, nlh->nlmsg_len);
	check_header(nlh, NFQNL_MSG_CONFIG, 207);
	assert_true(nlh->nlmsg_flags & NLM_F_ACK);
	assert_int_equal(nlh->nlmsg_seq, 5);
	cmd = mnl_attr_get_payload(attr(nlh, NFQA_CFG_CMD));
	assert_int_equal(cmd->command, NFQNL_CFG_CMD_BIND);
	nfq_build_params(buf, 207, NFQ_COPY_RANGE, 6);
	check_header(nlh, NFQNL_MSG_CONFIG, 207);
	par = mnl_attr_get_payload(attr(nlh, NFQA_CFG_PARAMS));
	assert_int_equal(ntohl(par->copy_range), NFQ_COPY_RANGE);
	assert_int_equal(par->copy_mode, NFQNL_COPY_PACKET);
}

static void test_build_verdict(void **state)
{
	char buf[NFQ_MSG_MAX] __attribute__((aligned(4)));
	const struct nlmsghdr *nlh = (const void *)buf;
	const struct nfqnl_msg_verdict_hdr *v;

	nfq_build_verdict(buf, 207, 42, true, true, 0x100);
	check_header(nlh, NFQNL_MSG_VERDICT, 207);
	assert_false(nlh->nlmsg_flags & NLM_F_ACK);
	v = mnl_attr_get_payload(attr(nlh, NFQA_VERDICT_HDR));
	assert_int_equal(ntohl(v->verdict), NF_ACCEPT);
	assert_int_equal(ntohl(v->id), 42);
	/* the mark makes the kernel route the packet again (measured on the lab) */
	assert_int_equal(ntohl(mnl_attr_get_u32(attr(nlh, NFQA_MARK))), 0x100);
	nfq_build_verdict(buf, 207, 43, false, true, 0x100);
	v = mnl_attr_get_payload(attr(nlh, NFQA_VERDICT_HDR));
	assert_int_equal(ntohl(v->verdict), NF_DROP);
	assert_null(attr(nlh, NFQA_MARK));
}

/* A packet message as the kernel sends it: header, mark, payload. */
static void test_parse_packet(void **state)
{
	char buf[512] __attribute__((aligned(4)));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfqnl_msg_packet_hdr ph = { .packet_id = htonl(9),
					   .hw_protocol = htons(0x0800),
					   .hook = NF_INET_LOCAL_OUT };
	struct nfgenmsg *g;
	struct nfq_packet p;
	struct flow f;
	uint8_t *pkt;
	size_t len;
	bool syn;

	nlh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->res_id = htons(207);
	mnl_attr_put(nlh, NFQA_PACKET_HDR, sizeof(ph), &ph);
	mnl_attr_put_u32(nlh, NFQA_MARK, htonl(0x200));
	pkt = unit_hex(syn4, &len);
	mnl_attr_put(nlh, NFQA_PAYLOAD, len, pkt);
	free(pkt);
	assert_int_equal(nfq_parse_packet(nlh, &p), 0);
	assert_int_equal(p.id, 9);
	assert_int_equal(p.hw_proto, 0x0800);
	assert_int_equal(p.hook, NF_INET_LOCAL_OUT);
	assert_true(p.has_mark);
	assert_int_equal(p.mark, 0x200);
	assert_int_equal(p.len, len);
	assert_int_equal(nfq_packet_flow(p.payload, p.len, &f, &syn), 0);
	assert_int_equal(f.lport, 42000);
	nlh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT;
	assert_int_equal(nfq_parse_packet(nlh, &p), -EBADMSG);
}

static void test_parse_packet_no_header(void **state)
{
	char buf[64] __attribute__((aligned(4)));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfq_packet p;

	nlh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET;
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct nfgenmsg));
	assert_int_equal(nfq_parse_packet(nlh, &p), -EBADMSG);
}

/* One uid cannot take the queue: its share is full, others are still held, in order. */
static void test_held_per_uid(void **state)
{
	static struct nfq_held_queue q;
	uint32_t out[NFQ_HELD_MAX];

	for (uint32_t i = 0; i < NFQ_HELD_PER_UID; i++)
		assert_int_equal(nfq_held_add(&q, i, 7, 1000, false), 0);
	assert_int_equal(nfq_held_add(&q, 100, 7, 1000, false), -EDQUOT);
	assert_int_equal(nfq_held_add(&q, 101, 8, 1001, false), 0); /* another user */
	assert_int_equal(nfq_held_add(&q, 102, 9, 0, true), 0);	    /* root: the total only */
	assert_int_equal(nfq_held_take(&q, 8, out), 1);
	assert_int_equal(out[0], 101);
	assert_int_equal(nfq_held_take(&q, 7, out), NFQ_HELD_PER_UID);
	for (uint32_t i = 0; i < NFQ_HELD_PER_UID; i++)
		assert_int_equal(out[i], i);
	assert_int_equal(nfq_held_add(&q, 103, 7, 1000, false), 0); /* its share is free again */
	assert_int_equal(q.n, 2);
}

/* The total holds for everyone: as many users as it takes to fill it, then nobody. */
static void test_held_total(void **state)
{
	static struct nfq_held_queue q;
	uint32_t out[NFQ_HELD_MAX];

	for (uint32_t i = 0; i < NFQ_HELD_MAX; i++)
		assert_int_equal(nfq_held_add(&q, i, i, i / NFQ_HELD_PER_UID, false), 0);
	assert_int_equal(nfq_held_add(&q, 999, 1, 5000, false), -ENOSPC);
	assert_int_equal(nfq_held_add(&q, 999, 1, 0, true), -ENOSPC);
	assert_int_equal(nfq_held_take(&q, 3, out), 1);
	assert_int_equal(out[0], 3);
	assert_int_equal(nfq_held_take(&q, 3, out), 0);
	assert_int_equal(nfq_held_add(&q, 999, 1, 5000, false), 0);
}

/* A packet message into buf with packet id 9, the packet header its only attribute. */
static struct nlmsghdr *packet_msg(char *buf)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfqnl_msg_packet_hdr ph = { .packet_id = htonl(9) };

	nlh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET;
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct nfgenmsg));
	mnl_attr_put(nlh, NFQA_PACKET_HDR, sizeof(ph), &ph);
	return nlh;
}

/*
 * Found by fuzz-nfq: libmnl walks a message's attributes up to its aligned
 * end, so an attribute in the padding of an unaligned last message was read
 * past the datagram. The walk ends where the message does.
 */
static void test_parse_packet_unaligned(void **state)
{
	char buf[64] __attribute__((aligned(4))) = { 0 };
	struct nlmsghdr *nlh = packet_msg(buf);
	struct nfq_packet p;

	assert_int_equal(nfq_parse_packet(nlh, &p), 0);
	nlh->nlmsg_len -= 2; /* the header attribute now ends in the padding */
	assert_int_equal(nfq_parse_packet(nlh, &p), -EBADMSG);
}

/*
 * The kernel copies the packet into the last attribute unpadded: a datagram
 * of 7 bytes makes an unaligned message, which must parse (refusing it left
 * a protected UDP socket's datagrams held unjudged).
 */
static void test_parse_packet_unpadded_payload(void **state)
{
	char buf[64] __attribute__((aligned(4))) = { 0 };
	struct nlmsghdr *nlh = packet_msg(buf);
	struct nfq_packet p;

	mnl_attr_put(nlh, NFQA_PAYLOAD, 7, "MARKER\n");
	nlh->nlmsg_len -= 1; /* as the kernel sends it: no padding after the payload */
	assert_int_equal(nfq_parse_packet(nlh, &p), 0);
	assert_int_equal(p.id, 9);
	assert_int_equal(p.len, 7);
	assert_memory_equal(p.payload, "MARKER\n", 7);
}

static void count_packet(const struct nfq_packet *pkt, void *arg)
{
	(*(int *)arg)++;
}

/*
 * Found by fuzz-nfq: a message length with the top bit set passed
 * mnl_nlmsg_ok (it compares as an int) and the walk jumped out of the
 * datagram. The batch parser must stop at it.
 */
static void test_parse_packets_wild_length(void **state)
{
	char buf[256] __attribute__((aligned(4))) = { 0 };
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	int calls = 0;

	nlh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET;
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct nfgenmsg));
	nlh->nlmsg_len = 0x97979797;
	assert_int_equal(nfq_parse_packets(buf, sizeof(buf), count_packet, &calls), 0);
	assert_int_equal(calls, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flow_v4_syn),
		cmocka_unit_test(test_flow_v4_synack_udp),
		cmocka_unit_test(test_flow_v6_ext),
		cmocka_unit_test(test_flow_rejects),
		cmocka_unit_test(test_build_config),
		cmocka_unit_test(test_build_verdict),
		cmocka_unit_test(test_parse_packet),
		cmocka_unit_test(test_parse_packet_no_header),
		cmocka_unit_test(test_parse_packets_wild_length),
		cmocka_unit_test(test_parse_packet_unaligned),
		cmocka_unit_test(test_parse_packet_unpadded_payload),
		cmocka_unit_test(test_held_per_uid),
		cmocka_unit_test(test_held_total),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
