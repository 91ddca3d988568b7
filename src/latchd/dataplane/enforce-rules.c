/* SPDX-License-Identifier: MIT */
#include "latchd/dataplane/enforce-rules.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "latchd/dataplane/enforce-plane.h"

/*
 * The ruleset, as nft would write it (v4 shown; v6 is the same with ip6 and
 * the 6 sets; `enforce-probe rules` prints the real thing with nft list):
 *
 * pre   (filter prerouting raw)   ip saddr . l4proto . th sport . ip daddr . th dport @flows4
 *                                   iifname != IFACE counter name in_flow drop
 *                                 ip daddr . l4proto . th dport @listen4 iifname != IFACE ...
 * in_listen drop l4proto . th dport @listenany4 iifname != IFACE ... in_listen drop prect (filter
 * prerouting mangle) ct state related ct mark CT iifname != IFACE ... icmp drop route (route output
 * mangle)     ip daddr . l4proto . th dport . ip saddr . th sport @flows4 jump steer ip saddr .
 * l4proto . th sport @listen4 jump steer l4proto . th sport @listenany4 jump steer steer counter
 * name steered meta mark set MARK ct mark set CT post  (filter postrouting filter) <out key>
 * @flows4 oifname != IFACE ... out_flow drop <out 3-tuple> @listen4 / @listenany4 oifname != IFACE
 * ... out_listen drop <out key> @flows4 <out key> != @armed4 ... unarmed drop meta mark MARK tcp
 * flags syn tcp option maxseg size set rt mtu
 *
 * hold  (filter output filter)   <out 3-tuple> @attach4 / <out 2-tuple> @attachany4
 *                                   <out key> != @armed4 counter queue num QUEUE (xt NFQUEUE)
 *                                 meta mark & SOCKMASK == SOCKMARK <out key> != @armed4
 *                                   counter queue num QUEUE (libipsec; no hold: ... unarmed drop)
 *
 * The raw-priority check runs before conntrack and after defrag (-400).
 * On a plane that does not steer (enforce-plane.h; the kernel's) the table has the sets, the
 * counters, the pre chain with one rule per listener set (dropping what has no
 * secpath: "meta secpath missing", not decrypted by XFRM) and the hold chain.
 */

const char *const enforce_counter_names[7] = {
	"in_flow", "in_listen", "icmp", "steered", "out_flow", "out_listen", "unarmed",
};

enum field {
	F_SADDR,
	F_DADDR,
	F_PROTO,
	F_SPORT,
	F_DPORT
};

static const enum field key_in5[] = { F_SADDR, F_PROTO, F_SPORT, F_DADDR, F_DPORT };
static const enum field key_out5[] = { F_DADDR, F_PROTO, F_DPORT, F_SADDR, F_SPORT };
static const enum field key_in3[] = { F_DADDR, F_PROTO, F_DPORT };
static const enum field key_out3[] = { F_SADDR, F_PROTO, F_SPORT };
static const enum field key_in2[] = { F_PROTO, F_DPORT };
static const enum field key_out2[] = { F_PROTO, F_SPORT };

enum action {
	A_DROP_CLEAR, /* not decrypted by the kernel's XFRM (no secpath) */
	A_DROP_IIF,
	A_DROP_OIF,
	A_DROP_UNARMED,
	A_STEER
};

struct rule_spec {
	const char *chain;
	const enum field *key;
	unsigned nkey;
	const char *set;
	enum action action;
	const char *counter;
};

#define KEY(k) k, sizeof(k) / sizeof(k[0])

/* Rules made once per family, in chain order. */
static const struct rule_spec family_rules[] = {
	{ "pre", KEY(key_in5), "flows", A_DROP_IIF, "in_flow" },
	{ "pre", KEY(key_in3), "listen", A_DROP_IIF, "in_listen" },
	{ "pre", KEY(key_in2), "listenany", A_DROP_IIF, "in_listen" },
	{ "route", KEY(key_out5), "flows", A_STEER, NULL },
	{ "route", KEY(key_out3), "listen", A_STEER, NULL },
	{ "route", KEY(key_out2), "listenany", A_STEER, NULL },
	{ "post", KEY(key_out5), "flows", A_DROP_OIF, "out_flow" },
	{ "post", KEY(key_out3), "listen", A_DROP_OIF, "out_listen" },
	{ "post", KEY(key_out2), "listenany", A_DROP_OIF, "out_listen" },
	{ "post", KEY(key_out5), "flows", A_DROP_UNARMED, "unarmed" },
};

/*
 * A plane that does not steer (the kernel's): a latched listener's socket policy covers one
 * family (a dual-stack socket holds one inbound policy); these drop what was
 * not decrypted by the kernel, in both.
 */
static const struct rule_spec secpath_rules[] = {
	{ "pre", KEY(key_in3), "listen", A_DROP_CLEAR, "in_listen" },
	{ "pre", KEY(key_in2), "listenany", A_DROP_CLEAR, "in_listen" },
};

struct chain_spec {
	const char *name, *type;
	int hook, prio; /* hook < 0: a regular chain */
};

static const struct chain_spec chains[] = {
	{ "pre", "filter", NF_INET_PRE_ROUTING, -300 },
	{ "prect", "filter", NF_INET_PRE_ROUTING, -150 },
	{ "route", "route", NF_INET_LOCAL_OUT, -150 },
	{ "steer", NULL, -1, 0 },
	{ "post", "filter", NF_INET_POST_ROUTING, 0 },
	{ "hold", "filter", NF_INET_LOCAL_OUT, 0 }, /* after route (-150): sees its marks */
};

/* ---------------------------------------------------------------- helpers */

static int elem_msg(struct nft_batch *b, const char *table, const char *set, int fam, uint16_t type,
		    const uint8_t *key, size_t klen);

/* Build one message in the batch: hdr and payload by the caller's functions. */
#define MSG_ROOM 8192

struct rb {
	struct nftnl_rule *r;
	int err;
};

static struct nftnl_expr *expr(struct rb *rb, const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);

	if (!e)
		rb->err = -ENOMEM;
	else
		nftnl_rule_add_expr(rb->r, e);
	return e;
}

static void e_meta_load(struct rb *rb, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = expr(rb, "meta");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
}

static void e_payload(struct rb *rb, uint32_t base, uint32_t off, uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = expr(rb, "payload");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
}

static void e_cmp(struct rb *rb, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = expr(rb, "cmp");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG32_00);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
}

static void e_cmp_u32(struct rb *rb, uint32_t op, uint32_t v)
{
	e_cmp(rb, op, &v, sizeof(v));
}

/* reg &= mask */
static void e_mask(struct rb *rb, uint32_t mask, uint32_t len)
{
	struct nftnl_expr *e = expr(rb, "bitwise");
	uint32_t zero = 0;

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG32_00);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG32_00);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, len);
}

/* reg &= mask; reg != 0 */
static void e_bits_set(struct rb *rb, uint32_t mask, uint32_t len)
{
	uint32_t zero = 0;

	e_mask(rb, mask, len);
	e_cmp(rb, NFT_CMP_NEQ, &zero, len);
}

static void e_lookup(struct rb *rb, const char *set, bool inverted)
{
	struct nftnl_expr *e = expr(rb, "lookup");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG32_00);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	if (inverted)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
}

static void e_counter(struct rb *rb, const char *name)
{
	struct nftnl_expr *e = expr(rb, "objref");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE, NFT_OBJECT_COUNTER);
	nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_IMM_NAME, name);
}

static void e_verdict(struct rb *rb, int verdict, const char *chain)
{
	struct nftnl_expr *e = expr(rb, "immediate");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	if (chain)
		nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
}

static void e_imm_u32(struct rb *rb, uint32_t v)
{
	struct nftnl_expr *e = expr(rb, "immediate");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG32_00);
	nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, &v, sizeof(v));
}

static void e_set_reg(struct rb *rb, const char *name, uint32_t key, uint32_t keyattr,
		      uint32_t sregattr)
{
	struct nftnl_expr *e = expr(rb, name);

	if (!e)
		return;
	nftnl_expr_set_u32(e, keyattr, key);
	nftnl_expr_set_u32(e, sregattr, NFT_REG32_00);
}

/* The interface name, zero-padded: meta iifname/oifname load all IFNAMSIZ bytes. */
static void e_ifname_ne(struct rb *rb, uint32_t key, const char *iface)
{
	char name[16] = { 0 };

	snprintf(name, sizeof(name), "%s", iface);
	e_meta_load(rb, key, NFT_REG32_00);
	e_cmp(rb, NFT_CMP_NEQ, name, sizeof(name));
}

/* ------------------------------------------------------------------- keys */

/* Load one key field into registers from reg on; returns the registers used. */
static uint32_t load_field(struct rb *rb, int fam, enum field f, uint32_t reg)
{
	uint32_t alen = fam == 4 ? 4 : 16;
	uint32_t saddr = fam == 4 ? 12 : 8, daddr = fam == 4 ? 16 : 24;

	switch (f) {
	case F_SADDR:
		e_payload(rb, NFT_PAYLOAD_NETWORK_HEADER, saddr, alen, reg);
		return alen / 4;
	case F_DADDR:
		e_payload(rb, NFT_PAYLOAD_NETWORK_HEADER, daddr, alen, reg);
		return alen / 4;
	case F_PROTO:
		e_meta_load(rb, NFT_META_L4PROTO, reg);
		return 1;
	case F_SPORT:
		e_payload(rb, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2, reg);
		return 1;
	case F_DPORT:
		e_payload(rb, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, reg);
		return 1;
	}
	return 0;
}

/* nfproto check, key loads, lookup in set<fam>: the match part of every rule. */
static void e_match(struct rb *rb, int fam, const enum field *key, unsigned nkey, const char *set,
		    bool inverted, bool nfproto)
{
	char name[ENFORCE_SET_NAME_MAX];
	uint32_t reg = NFT_REG32_00;

	if (nfproto) {
		e_meta_load(rb, NFT_META_NFPROTO, NFT_REG32_00);
		e_cmp_u32(rb, NFT_CMP_EQ, fam == 4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
	}
	for (unsigned i = 0; i < nkey; i++)
		reg += load_field(rb, fam, key[i], reg);
	snprintf(name, sizeof(name), "%s%d", set, fam);
	e_lookup(rb, name, inverted);
}

static void build_spec(struct rb *rb, int fam, const struct rule_spec *s, const char *iface)
{
	static const uint8_t none;

	e_match(rb, fam, s->key, s->nkey, s->set, false, true);
	switch (s->action) {
	case A_DROP_CLEAR:
		e_meta_load(rb, NFT_META_SECPATH, NFT_REG32_00);
		e_cmp(rb, NFT_CMP_EQ, &none, 1);
		break;
	case A_DROP_IIF:
		e_ifname_ne(rb, NFT_META_IIFNAME, iface);
		break;
	case A_DROP_OIF:
		e_ifname_ne(rb, NFT_META_OIFNAME, iface);
		break;
	case A_DROP_UNARMED:
		/* The lookup leaves the key registers alone; reload anyway (loads are cheap). */
		e_match(rb, fam, s->key, s->nkey, "armed", true, false);
		break;
	case A_STEER:
		e_verdict(rb, NFT_JUMP, "steer");
		return;
	}
	e_counter(rb, s->counter);
	e_verdict(rb, NF_DROP, NULL);
}

/* To NFQUEUE cfg.hold_queue (nft_compat, xt_NFQUEUE v3: this kernel has no nft queue). */
static void e_queue(struct rb *rb, const struct enforce_config *cfg)
{
	struct xt_NFQ_info_v3 *q = calloc(1, sizeof(*q));
	struct nftnl_expr *e = expr(rb, "target");

	if (!e || !q) {
		free(q);
		rb->err = -ENOMEM;
		return;
	}
	q->queuenum = cfg->hold_queue;
	q->queues_total = 1; /* no XT_NFQ_FLAG_BYPASS: without a listener the packet is dropped */
	nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "NFQUEUE");
	nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 3);
	nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, q, sizeof(*q)); /* e owns q */
}

/* An attached socket's packet whose flow is not armed: held. */
static void build_hold(struct rb *rb, const struct enforce_config *cfg, int fam, bool any)
{
	e_match(rb, fam, any ? key_out2 : key_out3, any ? 2 : 3, any ? "attachany" : "attach",
		false, true);
	e_match(rb, fam, KEY(key_out5), "armed", true, false);
	expr(rb, "counter");
	e_queue(rb, cfg);
}

/*
 * A protected socket's packet (its mark) whose flow is not armed: held, or
 * dropped when nobody holds. A latched flow's packets were re-marked (steer).
 */
static void build_sock_hold(struct rb *rb, const struct enforce_config *cfg, int fam)
{
	e_meta_load(rb, NFT_META_NFPROTO, NFT_REG32_00);
	e_cmp_u32(rb, NFT_CMP_EQ, fam == 4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
	e_meta_load(rb, NFT_META_MARK, NFT_REG32_00);
	e_mask(rb, cfg->sock_mark_mask, 4);
	e_cmp_u32(rb, NFT_CMP_EQ, cfg->sock_mark);
	e_match(rb, fam, KEY(key_out5), "armed", true, false);
	if (cfg->hold) {
		expr(rb, "counter");
		e_queue(rb, cfg);
	} else {
		e_counter(rb, "unarmed");
		e_verdict(rb, NF_DROP, NULL);
	}
}

static void build_icmp(struct rb *rb, const struct enforce_config *cfg)
{
	e_set_reg(rb, "ct", NFT_CT_STATE, NFTNL_EXPR_CT_KEY, NFTNL_EXPR_CT_DREG);
	e_bits_set(rb, NF_CT_STATE_BIT(IP_CT_RELATED), 4);
	e_set_reg(rb, "ct", NFT_CT_MARK, NFTNL_EXPR_CT_KEY, NFTNL_EXPR_CT_DREG);
	e_cmp_u32(rb, NFT_CMP_EQ, cfg->ct_mark);
	e_ifname_ne(rb, NFT_META_IIFNAME, cfg->iface);
	e_counter(rb, "icmp");
	e_verdict(rb, NF_DROP, NULL);
}

static void build_steer(struct rb *rb, const struct enforce_config *cfg)
{
	e_counter(rb, "steered");
	e_imm_u32(rb, cfg->mark);
	e_set_reg(rb, "meta", NFT_META_MARK, NFTNL_EXPR_META_KEY, NFTNL_EXPR_META_SREG);
	e_imm_u32(rb, cfg->ct_mark);
	e_set_reg(rb, "ct", NFT_CT_MARK, NFTNL_EXPR_CT_KEY, NFTNL_EXPR_CT_SREG);
}

/* meta mark MARK tcp flags syn tcp option maxseg size set rt mtu */
static void build_mss(struct rb *rb, const struct enforce_config *cfg)
{
	struct nftnl_expr *e;

	e_meta_load(rb, NFT_META_MARK, NFT_REG32_00);
	e_cmp_u32(rb, NFT_CMP_EQ, cfg->mark);
	e_meta_load(rb, NFT_META_L4PROTO, NFT_REG32_00);
	e_cmp(rb, NFT_CMP_EQ, &(uint8_t){ IPPROTO_TCP }, 1);
	e_payload(rb, NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1, NFT_REG32_00);
	e_bits_set(rb, 0x02, 1);
	e_set_reg(rb, "rt", NFT_RT_TCPMSS, NFTNL_EXPR_RT_KEY, NFTNL_EXPR_RT_DREG);
	e = expr(rb, "byteorder");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, NFT_REG32_00);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, NFT_REG32_00);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, 2);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, 2);
	}
	e = expr(rb, "exthdr");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_OP, NFT_EXTHDR_OP_TCPOPT);
		nftnl_expr_set_u8(e, NFTNL_EXPR_EXTHDR_TYPE, 2); /* maxseg */
		nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_OFFSET, 2);
		nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_LEN, 2);
		nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_SREG, NFT_REG32_00);
	}
}

/* -------------------------------------------------------------- messages */

static int push_rule(struct nft_batch *b, struct nftnl_rule *r, uint16_t type, uint16_t flags)
{
	char *room = nft_batch_room(b, MSG_ROOM);
	struct nlmsghdr *nlh;

	if (!room)
		return b->err;
	nlh = nftnl_rule_nlmsg_build_hdr(room, type, NFPROTO_INET, flags, nft_batch_seq(b));
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nft_batch_push(b, nlh);
	return 0;
}

typedef void (*rule_fn)(struct rb *rb, const struct enforce_config *cfg, const void *arg);

static int add_rule(struct nft_batch *b, const struct enforce_config *cfg, const char *chain,
		    rule_fn fn, const void *arg)
{
	struct rb rb = { .r = nftnl_rule_alloc() };
	int err;

	if (!rb.r)
		return -ENOMEM;
	nftnl_rule_set_str(rb.r, NFTNL_RULE_TABLE, cfg->table);
	nftnl_rule_set_str(rb.r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(rb.r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	fn(&rb, cfg, arg);
	err = rb.err ? rb.err : push_rule(b, rb.r, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
	nftnl_rule_free(rb.r);
	return err;
}

/* A DELRULE naming only the chain flushes it. */
static int flush_chain(struct nft_batch *b, const struct enforce_config *cfg, const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	int err;

	if (!r)
		return -ENOMEM;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, cfg->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	err = push_rule(b, r, NFT_MSG_DELRULE, 0);
	nftnl_rule_free(r);
	return err;
}

static int table_msg(struct nft_batch *b, const struct enforce_config *cfg, uint16_t type)
{
	struct nftnl_table *t = nftnl_table_alloc();
	char *room = nft_batch_room(b, MSG_ROOM);
	struct nlmsghdr *nlh;

	if (!t || !room) {
		nftnl_table_free(t);
		return -ENOMEM;
	}
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, cfg->table);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nlh = nftnl_table_nlmsg_build_hdr(room, type, NFPROTO_INET,
					  type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0,
					  nft_batch_seq(b));
	nftnl_table_nlmsg_build_payload(nlh, t);
	nft_batch_push(b, nlh);
	nftnl_table_free(t);
	return 0;
}

int enforce_rules_build_delete(struct nft_batch *b, const struct enforce_config *cfg)
{
	return table_msg(b, cfg, NFT_MSG_DELTABLE);
}

/* nft's datatype ids, concatenated six bits each, so that nft list shows the keys. */
enum {
	T_IPV4 = 7,
	T_IPV6 = 8,
	T_PROTO = 12,
	T_SERVICE = 13
};

struct set_spec {
	const char *name;
	const enum field *key;
	unsigned nkey;
};

static const struct set_spec sets[] = {
	{ "flows", KEY(key_in5) },     { "armed", KEY(key_in5) },  { "listen", KEY(key_in3) },
	{ "listenany", KEY(key_in2) }, { "attach", KEY(key_in3) }, { "attachany", KEY(key_in2) },
};

static void set_key(const struct set_spec *s, int fam, uint32_t *len, uint32_t *type)
{
	*len = 0;
	*type = 0;
	for (unsigned i = 0; i < s->nkey; i++) {
		bool addr = s->key[i] == F_SADDR || s->key[i] == F_DADDR;
		uint32_t t = addr		    ? (fam == 4 ? T_IPV4 : T_IPV6)
			     : s->key[i] == F_PROTO ? T_PROTO
						    : T_SERVICE;

		*len += addr && fam == 6 ? 16 : 4;
		*type = (*type << 6) | t;
	}
}

static int set_msg(struct nft_batch *b, const struct enforce_config *cfg, const struct set_spec *s,
		   int fam, uint32_t id)
{
	struct nftnl_set *set = nftnl_set_alloc();
	char *room = nft_batch_room(b, MSG_ROOM), name[ENFORCE_SET_NAME_MAX];
	uint32_t len, type;
	struct nlmsghdr *nlh;

	if (!set || !room) {
		nftnl_set_free(set);
		return -ENOMEM;
	}
	set_key(s, fam, &len, &type);
	snprintf(name, sizeof(name), "%s%d", s->name, fam);
	nftnl_set_set_str(set, NFTNL_SET_TABLE, cfg->table);
	nftnl_set_set_str(set, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(set, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(set, NFTNL_SET_KEY_LEN, len);
	nftnl_set_set_u32(set, NFTNL_SET_KEY_TYPE, type);
	nftnl_set_set_u32(set, NFTNL_SET_ID, id);
	nlh = nftnl_set_nlmsg_build_hdr(room, NFT_MSG_NEWSET, NFPROTO_INET, NLM_F_CREATE,
					nft_batch_seq(b));
	nftnl_set_nlmsg_build_payload(nlh, set);
	nft_batch_push(b, nlh);
	nftnl_set_free(set);
	return 0;
}

static int counter_msg(struct nft_batch *b, const struct enforce_config *cfg, const char *name)
{
	struct nftnl_obj *o = nftnl_obj_alloc();
	char *room = nft_batch_room(b, MSG_ROOM);
	struct nlmsghdr *nlh;

	if (!o || !room) {
		nftnl_obj_free(o);
		return -ENOMEM;
	}
	nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, cfg->table);
	nftnl_obj_set_str(o, NFTNL_OBJ_NAME, name);
	nftnl_obj_set_u32(o, NFTNL_OBJ_FAMILY, NFPROTO_INET);
	nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
	/* The kernel wants the data attribute; an existing counter keeps its values. */
	nftnl_obj_set_u64(o, NFTNL_OBJ_CTR_PKTS, 0);
	nftnl_obj_set_u64(o, NFTNL_OBJ_CTR_BYTES, 0);
	nlh = nftnl_nlmsg_build_hdr(room, NFT_MSG_NEWOBJ, NFPROTO_INET, NLM_F_CREATE,
				    nft_batch_seq(b));
	nftnl_obj_nlmsg_build_payload(nlh, o);
	nft_batch_push(b, nlh);
	nftnl_obj_free(o);
	return 0;
}

static int chain_msg(struct nft_batch *b, const struct enforce_config *cfg,
		     const struct chain_spec *c)
{
	struct nftnl_chain *ch = nftnl_chain_alloc();
	char *room = nft_batch_room(b, MSG_ROOM);
	struct nlmsghdr *nlh;

	if (!ch || !room) {
		nftnl_chain_free(ch);
		return -ENOMEM;
	}
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, cfg->table);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, c->name);
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	if (c->hook >= 0) {
		nftnl_chain_set_str(ch, NFTNL_CHAIN_TYPE, c->type);
		nftnl_chain_set_u32(ch, NFTNL_CHAIN_HOOKNUM, (uint32_t)c->hook);
		nftnl_chain_set_s32(ch, NFTNL_CHAIN_PRIO, c->prio);
		nftnl_chain_set_u32(ch, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	}
	nlh = nftnl_chain_nlmsg_build_hdr(room, NFT_MSG_NEWCHAIN, NFPROTO_INET, NLM_F_CREATE,
					  nft_batch_seq(b));
	nftnl_chain_nlmsg_build_payload(nlh, ch);
	nft_batch_push(b, nlh);
	nftnl_chain_free(ch);
	return 0;
}

struct fam_rule {
	int fam;
	const struct rule_spec *spec;
};

static void fam_rule_fn(struct rb *rb, const struct enforce_config *cfg, const void *arg)
{
	const struct fam_rule *fr = arg;

	build_spec(rb, fr->fam, fr->spec, cfg->iface);
}

static void icmp_fn(struct rb *rb, const struct enforce_config *cfg, const void *arg)
{
	build_icmp(rb, cfg);
}

static void steer_fn(struct rb *rb, const struct enforce_config *cfg, const void *arg)
{
	build_steer(rb, cfg);
}

static void mss_fn(struct rb *rb, const struct enforce_config *cfg, const void *arg)
{
	build_mss(rb, cfg);
}

static void hold_fn(struct rb *rb, const struct enforce_config *cfg, const void *arg)
{
	build_hold(rb, cfg, ((const int *)arg)[0], ((const int *)arg)[1]); /* family, wildcard */
}

static void sock_hold_fn(struct rb *rb, const struct enforce_config *cfg, const void *arg)
{
	build_sock_hold(rb, cfg, *(const int *)arg);
}

/*
 * A plane that does not steer (the kernel's) enforces flows with socket policies; its table has
 * the sets (flows and armed stay empty), the listeners' clear-text drops
 * (secpath_rules) and the hold: what ATTACH needs to see an attached socket's
 * first packet.
 */
static int build_objects(struct nft_batch *b, const struct enforce_config *cfg,
			 const struct enforce_plane *p)
{
	uint32_t id = 1;
	int err = 0;

	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]) && !err; i++) {
		err = set_msg(b, cfg, &sets[i], 4, id++);
		if (!err)
			err = set_msg(b, cfg, &sets[i], 6, id++);
	}
	/* A DELSETELEM without elements flushes: attachments do not outlive latchd. */
	for (int i = 0; i < 4 && !err; i++)
		err = elem_msg(b, cfg->table, i & 1 ? "attachany" : "attach", i < 2 ? 4 : 6,
			       NFT_MSG_DELSETELEM, NULL, 0);
	for (size_t i = 0; i < 7 && !err; i++)
		err = counter_msg(b, cfg, enforce_counter_names[i]);
	for (size_t i = 0; i < sizeof(chains) / sizeof(chains[0]) && !err; i++) {
		if (!p->steers && strcmp(chains[i].name, "pre") && strcmp(chains[i].name, "hold"))
			continue;
		err = chain_msg(b, cfg, &chains[i]);
		if (!err)
			err = flush_chain(b, cfg, chains[i].name);
	}
	return err;
}

static int build_rules(struct nft_batch *b, const struct enforce_config *cfg,
		       const struct enforce_plane *p)
{
	bool steer = p->steers;
	const struct rule_spec *rules = steer ? family_rules : secpath_rules;
	size_t n = steer ? sizeof(family_rules) / sizeof(family_rules[0])
			 : sizeof(secpath_rules) / sizeof(secpath_rules[0]);
	int err = 0;

	for (size_t i = 0; i < n && !err; i++) {
		struct fam_rule v4 = { 4, &rules[i] }, v6 = { 6, &rules[i] };

		err = add_rule(b, cfg, rules[i].chain, fam_rule_fn, &v4);
		if (!err)
			err = add_rule(b, cfg, rules[i].chain, fam_rule_fn, &v6);
	}
	if (!err && steer)
		err = add_rule(b, cfg, "prect", icmp_fn, NULL);
	if (!err && steer)
		err = add_rule(b, cfg, "steer", steer_fn, NULL);
	if (!err && steer)
		err = add_rule(b, cfg, "post", mss_fn, NULL);
	for (int i = 0; i < 4 && cfg->hold && !err; i++) {
		int v[2] = { i < 2 ? 4 : 6, i & 1 };

		err = add_rule(b, cfg, "hold", hold_fn, v);
	}
	/* Without socket marks (the kernel's) sockets are held by their own policies. */
	for (int fam = 4; fam <= 6 && p->caps.marks_sockets && cfg->sock_mark_mask && !err;
	     fam += 2)
		err = add_rule(b, cfg, "hold", sock_hold_fn, &fam);
	return err;
}

int enforce_rules_build(struct nft_batch *b, const struct enforce_config *cfg, bool replace)
{
	const struct enforce_plane *p = enforce_plane_of(cfg->data_plane);
	int err = p ? table_msg(b, cfg, NFT_MSG_NEWTABLE) : -EINVAL;

	/* add + delete + add: replaces a table that may or may not exist, atomically. */
	if (!err && replace)
		err = table_msg(b, cfg, NFT_MSG_DELTABLE);
	if (!err && replace)
		err = table_msg(b, cfg, NFT_MSG_NEWTABLE);
	if (!err)
		err = build_objects(b, cfg, p);
	if (!err)
		err = build_rules(b, cfg, p);
	return err;
}

/* ---------------------------------------------------------------- elements */

/* Not a message type: elem_msg's idempotent delete. */
#define ELEM_DESTROY 0xffff

static int elem_msg_one(struct nft_batch *b, const char *table, const char *set, int fam,
			uint16_t type, const uint8_t *key, size_t klen)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elem *el = nftnl_set_elem_alloc();
	char *room = nft_batch_room(b, 512), name[ENFORCE_SET_NAME_MAX];
	struct nlmsghdr *nlh;

	if (!s || !el || !room) {
		nftnl_set_free(s);
		nftnl_set_elem_free(el);
		return -ENOMEM;
	}
	snprintf(name, sizeof(name), "%s%d", set, fam);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	if (key) {
		nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, key, (uint32_t)klen);
		nftnl_set_elem_add(s, el); /* s owns el now */
	} else {
		nftnl_set_elem_free(el);
	}
	nlh = nftnl_nlmsg_build_hdr(room, type, NFPROTO_INET,
				    type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0,
				    nft_batch_seq(b));
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nft_batch_push(b, nlh);
	nftnl_set_free(s);
	return 0;
}

/*
 * ELEM_DESTROY: a delete that succeeds whether the element is there or not,
 * on every kernel: an add (no EXCL: there or not, it is there now) and a
 * delete in the same transaction. Kernel 6.3's DESTROYSETELEM does it in
 * one message; Debian 12's 6.1 rejects that message.
 */
static int elem_msg(struct nft_batch *b, const char *table, const char *set, int fam, uint16_t type,
		    const uint8_t *key, size_t klen)
{
	int err;

	if (type != ELEM_DESTROY)
		return elem_msg_one(b, table, set, fam, type, key, klen);
	err = elem_msg_one(b, table, set, fam, NFT_MSG_NEWSETELEM, key, klen);
	return err ? err : elem_msg_one(b, table, set, fam, NFT_MSG_DELSETELEM, key, klen);
}

static bool valid_proto(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP;
}

static int fam_digit(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 6 : 0;
}

static int flow_op(struct nft_batch *b, const char *table, const struct enforce_op *op)
{
	uint8_t key[NFT_KEY_MAX];
	size_t klen = nft_key_flow(&op->flow, key);
	int fam = fam_digit(op->flow.family), err;

	if (!klen || !valid_proto(op->flow.proto))
		return -EINVAL;
	switch (op->kind) {
	case ENFORCE_FLOW_ADD:
		return elem_msg(b, table, "flows", fam, NFT_MSG_NEWSETELEM, key, klen);
	case ENFORCE_FLOW_ARM:
		return elem_msg(b, table, "armed", fam, NFT_MSG_NEWSETELEM, key, klen);
	case ENFORCE_FLOW_DISARM:
		return elem_msg(b, table, "armed", fam, ELEM_DESTROY, key, klen);
	case ENFORCE_FLOW_DEL:
		err = elem_msg(b, table, "armed", fam, ELEM_DESTROY, key, klen);
		return err ? err : elem_msg(b, table, "flows", fam, ELEM_DESTROY, key, klen);
	default:
		return -EINVAL;
	}
}

static bool addr_is_any(const union flow_addr *a)
{
	static const union flow_addr any;

	return memcmp(a, &any, sizeof(any)) == 0;
}

/* Listeners and attached sockets: a local 3-tuple, or proto.port for a wildcard bind. */
static int listen_op(struct nft_batch *b, const char *table, const struct enforce_op *op)
{
	const struct flow3 *l = &op->listen;
	bool add = op->kind == ENFORCE_LISTEN_ADD || op->kind == ENFORCE_ATTACH_ADD;
	bool att = op->kind == ENFORCE_ATTACH_ADD || op->kind == ENFORCE_ATTACH_DEL;
	const char *set = att ? "attach" : "listen", *any = att ? "attachany" : "listenany";
	uint16_t type = add ? NFT_MSG_NEWSETELEM : ELEM_DESTROY;
	uint8_t key[NFT_KEY_MAX];
	size_t klen;
	int err;

	if (!valid_proto(l->proto))
		return -EINVAL;
	if (l->family == AF_UNSPEC) {
		klen = nft_key_listen_any(l, key);
		err = elem_msg(b, table, any, 4, type, key, klen);
		return err ? err : elem_msg(b, table, any, 6, type, key, klen);
	}
	if (!fam_digit(l->family))
		return -EINVAL;
	if (addr_is_any(&l->addr)) {
		klen = nft_key_listen_any(l, key);
		return elem_msg(b, table, any, fam_digit(l->family), type, key, klen);
	}
	klen = nft_key_listen(l, key);
	return elem_msg(b, table, set, fam_digit(l->family), type, key, klen);
}

int enforce_elems_build(struct nft_batch *b, const char *table, const struct enforce_op *ops,
			size_t n)
{
	int err = 0;

	for (size_t i = 0; i < n && !err; i++) {
		if (ops[i].kind >= ENFORCE_LISTEN_ADD && ops[i].kind <= ENFORCE_ATTACH_DEL)
			err = listen_op(b, table, &ops[i]);
		else
			err = flow_op(b, table, &ops[i]);
	}
	return err;
}
