/* SPDX-License-Identifier: MIT */
#include "latchd/dataplane/enforce.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/object.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/fib_rules.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "latchd/dataplane/enforce-plane.h"
#include "latchd/dataplane/enforce-rules.h"
#include "latchd/dataplane/nft.h"

#define TABLE_MAX 64

struct enforce {
	struct enforce_config cfg;
	char table[TABLE_MAX], iface[16];
	struct nft_sock *nft;
	bool rule;
	const struct enforce_plane *plane; /* its operations, chosen once by enforce_open */
	char err[256], why[160];
};

/* The text of the last enforce_open that failed: its handle is gone. */
static char open_err[256];

const char *enforce_last_error(const struct enforce *e)
{
	return e ? e->err : open_err;
}

static int fail(struct enforce *e, int code, const char *what)
{
	if (!e->err[0])
		snprintf(e->err, sizeof(e->err), "%s: %s", what, strerror(-code));
	return code;
}

/* ------------------------------------------------------------ ip rule */

/*
 * "ip rule add pref P fwmark M blackhole" for one family, or its deletion.
 * NLM_F_EXCL makes the kernel refuse a duplicate, which we take as present.
 */
static int iprule_msg(char *buf, int family, const struct enforce_config *cfg, bool add)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct fib_rule_hdr *frh;

	nlh->nlmsg_type = add ? RTM_NEWRULE : RTM_DELRULE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = (uint8_t)family;
	frh->action = FR_ACT_BLACKHOLE;
	frh->table = RT_TABLE_UNSPEC;
	mnl_attr_put_u32(nlh, FRA_PRIORITY, cfg->rule_priority);
	mnl_attr_put_u32(nlh, FRA_FWMARK, cfg->mark);
	mnl_attr_put_u32(nlh, FRA_FWMASK, 0xffffffff);
	return (int)nlh->nlmsg_len;
}

static int iprule_one(struct mnl_socket *nl, int family, const struct enforce_config *cfg, bool add,
		      char *err, size_t errlen)
{
	char buf[NFT_NLBUF];
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	ssize_t n;
	int r;

	iprule_msg(buf, family, cfg, add);
	nlh->nlmsg_seq = 1;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	if (nlh->nlmsg_type != NLMSG_ERROR)
		return -EBADMSG;
	r = nft_parse_error(nlh, err, errlen);
	/* Already there (add), or already gone (delete): the state we want. */
	if ((add && r == -EEXIST) || (!add && r == -ENOENT))
		return 0;
	return r;
}

static int iprule(struct enforce *e, bool add)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	char text[200] = "";
	int r;

	if (!nl)
		return fail(e, -errno, "rtnetlink");
	r = mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ? -errno : 0;
	if (r == 0)
		r = iprule_one(nl, AF_INET, &e->cfg, add, text, sizeof(text));
	if (r == 0)
		r = iprule_one(nl, AF_INET6, &e->cfg, add, text, sizeof(text));
	mnl_socket_close(nl);
	if (r < 0)
		snprintf(e->err, sizeof(e->err), "ip rule %s pref %u fwmark %#x blackhole: %s%s%s",
			 add ? "add" : "del", e->cfg.rule_priority, e->cfg.mark, strerror(-r),
			 text[0] ? ": " : "", text);
	return r;
}

/* ------------------------------------------------------------ open/close */

static int commit(struct enforce *e, struct nft_batch *b)
{
	int r = nft_batch_finish(b);

	if (r == 0)
		r = nft_sock_commit(e->nft, b, e->err, sizeof(e->err));
	nft_batch_release(b);
	return r;
}

static int install(struct enforce *e, bool replace)
{
	struct nft_batch b;
	int r = nft_batch_init(&b, nft_sock_seq(e->nft));

	if (r == 0)
		r = enforce_rules_build(&b, &e->cfg, replace);
	if (r < 0) {
		nft_batch_release(&b);
		return fail(e, r, "building the ruleset");
	}
	return commit(e, &b);
}

static int copy_config(struct enforce *e, const struct enforce_config *cfg)
{
	if (!cfg->table || !cfg->iface || !cfg->table[0] || !cfg->iface[0] ||
	    strlen(cfg->table) >= sizeof(e->table) || strlen(cfg->iface) >= sizeof(e->iface))
		return -EINVAL;
	strcpy(e->table, cfg->table);
	strcpy(e->iface, cfg->iface);
	e->cfg = *cfg;
	e->cfg.table = e->table;
	e->cfg.iface = e->iface;
	return 0;
}

const struct enforce_caps *enforce_caps(const struct enforce *e)
{
	return &e->plane->caps;
}

const char *enforce_plane_why(const struct enforce *e)
{
	return e->why;
}

int enforce_flow_sock(struct enforce *e, int fd, const struct flow *f,
		      const struct enforce_carrier *c)
{
	int r;

	e->err[0] = '\0';
	if (!e->plane->flow_sock)
		return 0;
	r = e->plane->flow_sock(fd, f, c);
	return r < 0 ? fail(e, r, c ? "socket policy (carry)" : "socket policy (block)") : 0;
}

int enforce_sock_protect(struct enforce *e, int fd, uint32_t id)
{
	int r;

	e->err[0] = '\0';
	if (!id || (id & e->cfg.sock_mark_mask))
		return -EINVAL;
	if (!e->plane->sock_mark)
		return 0;
	r = e->plane->sock_mark(fd, e->cfg.sock_mark | id);
	return r < 0 ? fail(e, r, "SO_MARK on the socket") : 0;
}

int enforce_listen_sock(struct enforce *e, int fd, const struct flow3 *l)
{
	int r;

	e->err[0] = '\0';
	if (!e->plane->listen_sock)
		return 0;
	r = e->plane->listen_sock(fd, l);
	return r < 0 ? fail(e, r, "socket policy (listener)") : 0;
}

int enforce_open(struct enforce **ret, const struct enforce_config *cfg, unsigned flags)
{
	struct enforce *e;
	int r;

	if (flags & ~(ENFORCE_ADOPT | ENFORCE_NORULE))
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	r = copy_config(e, cfg);
	if (r == 0) {
		e->plane = enforce_plane_choose(cfg->data_plane, enforce_xfrm_probe_esp, e->why,
						sizeof(e->why));
		r = e->plane ? 0 : fail(e, -EINVAL, "data plane");
	}
	if (r == 0)
		e->cfg.data_plane = e->plane->kind;
	if (r == 0)
		r = nft_sock_open(&e->nft);
	/* The rule first: a marked packet must never find no route and no blackhole. */
	if (r == 0 && !(flags & ENFORCE_NORULE) && e->plane->steers) {
		r = iprule(e, true);
		e->rule = r == 0;
	}
	if (r == 0)
		r = install(e, !(flags & ENFORCE_ADOPT));
	if (r < 0) {
		snprintf(open_err, sizeof(open_err), "%s", e->err[0] ? e->err : strerror(-r));
		enforce_close(e, !e->rule);
		return r;
	}
	*ret = e;
	return 0;
}

static int remove_all(struct enforce *e)
{
	struct nft_batch b;
	int r = nft_batch_init(&b, nft_sock_seq(e->nft)), r2 = 0;

	if (r == 0)
		r = enforce_rules_build_delete(&b, &e->cfg);
	if (r == 0)
		r = commit(e, &b);
	else
		nft_batch_release(&b);
	if (r == -ENOENT)
		r = 0;
	if (e->rule)
		r2 = iprule(e, false);
	return r ? r : r2;
}

int enforce_close(struct enforce *e, bool keep)
{
	int r = 0;

	if (!e)
		return 0;
	e->err[0] = '\0';
	if (!keep && e->nft)
		r = remove_all(e);
	nft_sock_close(e->nft);
	free(e);
	return r;
}

/* ------------------------------------------------------------- elements */

static int apply_elems(struct enforce *e, const struct enforce_op *ops, size_t n)
{
	struct nft_batch b;
	int r = nft_batch_init(&b, nft_sock_seq(e->nft));

	if (r == 0)
		r = enforce_elems_build(&b, e->table, ops, n);
	if (r < 0) {
		nft_batch_release(&b);
		return fail(e, r, r == -EINVAL ? "bad flow (family or protocol)" : "building");
	}
	return commit(e, &b);
}

/*
 * A plane whose sockets' own policies enforce flows (the kernel's): listeners
 * (both families: a socket's inbound policy covers one) and attached sockets
 * are left for the table.
 */
static int apply_no_flows(struct enforce *e, const struct enforce_op *ops, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool flow = ops[i].kind <= ENFORCE_FLOW_DISARM;
		int r = flow ? 0 : apply_elems(e, &ops[i], 1);

		if (r < 0)
			return r;
	}
	return 0;
}

int enforce_apply(struct enforce *e, const struct enforce_op *ops, size_t n)
{
	e->err[0] = '\0';
	if (n > ENFORCE_BATCH_MAX)
		return fail(e, -E2BIG, "batch");
	return e->plane->flows_in_table ? apply_elems(e, ops, n) : apply_no_flows(e, ops, n);
}

static int apply_flow(struct enforce *e, enum enforce_op_kind kind, const struct flow *f)
{
	struct enforce_op op = { .kind = kind, .flow = *f };

	return enforce_apply(e, &op, 1);
}

static int apply_listen(struct enforce *e, enum enforce_op_kind kind, const struct flow3 *l)
{
	struct enforce_op op = { .kind = kind, .listen = *l };

	return enforce_apply(e, &op, 1);
}

int enforce_flow_add(struct enforce *e, const struct flow *f)
{
	return apply_flow(e, ENFORCE_FLOW_ADD, f);
}

int enforce_flow_del(struct enforce *e, const struct flow *f)
{
	return apply_flow(e, ENFORCE_FLOW_DEL, f);
}

int enforce_flow_arm(struct enforce *e, const struct flow *f)
{
	return apply_flow(e, ENFORCE_FLOW_ARM, f);
}

int enforce_flow_disarm(struct enforce *e, const struct flow *f)
{
	return apply_flow(e, ENFORCE_FLOW_DISARM, f);
}

int enforce_listen_add(struct enforce *e, const struct flow3 *l)
{
	return apply_listen(e, ENFORCE_LISTEN_ADD, l);
}

int enforce_listen_del(struct enforce *e, const struct flow3 *l)
{
	return apply_listen(e, ENFORCE_LISTEN_DEL, l);
}

int enforce_attach_add(struct enforce *e, const struct flow3 *l)
{
	return apply_listen(e, ENFORCE_ATTACH_ADD, l);
}

int enforce_attach_del(struct enforce *e, const struct flow3 *l)
{
	return apply_listen(e, ENFORCE_ATTACH_DEL, l);
}

/* ----------------------------------------------------------------- dump */

struct dump_ctx {
	enum enforce_set_kind kind;
	int family; /* of the set */
	enforce_dump_fn cb;
	void *arg;
};

static int elem_cb(struct nftnl_set_elem *el, void *data)
{
	struct dump_ctx *d = data;
	struct enforce_elem out = { .set = d->kind };
	const uint8_t *key;
	uint32_t klen = 0;
	int r;

	key = nftnl_set_elem_get(el, NFTNL_SET_ELEM_KEY, &klen);
	if (!key)
		return -EBADMSG;
	if (d->kind == ENFORCE_SET_LISTEN)
		r = nft_key_listen_parse(d->family, key, klen, &out.listen);
	else
		r = nft_key_flow_parse(d->family, key, klen, &out.flow);
	return r < 0 ? r : d->cb(&out, d->arg);
}

static int elems_reply(const struct nlmsghdr *nlh, void *arg)
{
	struct nftnl_set *s = nftnl_set_alloc();
	int r;

	if (!s)
		return -ENOMEM;
	r = nftnl_set_elems_nlmsg_parse(nlh, s) < 0 ? -EBADMSG : 0;
	if (r == 0)
		r = nftnl_set_elem_foreach(s, elem_cb, arg);
	nftnl_set_free(s);
	return r;
}

static int dump_set(struct enforce *e, const char *name, struct dump_ctx *d)
{
	char buf[NFT_NLBUF];
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *nlh;
	int r;

	if (!s)
		return -ENOMEM;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, e->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_DUMP, 0);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	r = nft_sock_request(e->nft, nlh, elems_reply, d, e->err, sizeof(e->err));
	return r;
}

int enforce_dump(struct enforce *e, enforce_dump_fn cb, void *arg)
{
	static const struct {
		const char *name;
		enum enforce_set_kind kind;
		int family;
	} sets[] = {
		{ "flows4", ENFORCE_SET_FLOWS, AF_INET },
		{ "flows6", ENFORCE_SET_FLOWS, AF_INET6 },
		{ "armed4", ENFORCE_SET_ARMED, AF_INET },
		{ "armed6", ENFORCE_SET_ARMED, AF_INET6 },
		{ "listen4", ENFORCE_SET_LISTEN, AF_INET },
		{ "listen6", ENFORCE_SET_LISTEN, AF_INET6 },
		{ "listenany4", ENFORCE_SET_LISTEN, AF_INET },
		{ "listenany6", ENFORCE_SET_LISTEN, AF_INET6 },
	};
	int r = 0;

	e->err[0] = '\0';
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]) && r == 0; i++) {
		struct dump_ctx d = { sets[i].kind, sets[i].family, cb, arg };

		r = dump_set(e, sets[i].name, &d);
	}
	return r;
}

/* ------------------------------------------------------------- counters */

static int counter_reply(const struct nlmsghdr *nlh, void *arg)
{
	struct enforce_count *out = arg;
	struct nftnl_obj *o = nftnl_obj_alloc();
	const char *name;
	int r = -EBADMSG;

	if (!o)
		return -ENOMEM;
	if (nftnl_obj_nlmsg_parse(nlh, o) == 0 && nftnl_obj_is_set(o, NFTNL_OBJ_NAME)) {
		name = nftnl_obj_get_str(o, NFTNL_OBJ_NAME);
		for (size_t i = 0; i < 7; i++) {
			if (strcmp(name, enforce_counter_names[i]) == 0) {
				out[i].packets = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_PKTS);
				out[i].bytes = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_BYTES);
			}
		}
		r = 0;
	}
	nftnl_obj_free(o);
	return r;
}

int enforce_counters(struct enforce *e, struct enforce_counters *ret)
{
	char buf[NFT_NLBUF];
	struct enforce_count c[7] = { 0 };
	struct nftnl_obj *o = nftnl_obj_alloc();
	struct nlmsghdr *nlh;
	int r;

	e->err[0] = '\0';
	if (!o)
		return -ENOMEM;
	nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, e->table);
	nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETOBJ, NFPROTO_INET, NLM_F_DUMP, 0);
	nftnl_obj_nlmsg_build_payload(nlh, o);
	nftnl_obj_free(o);
	r = nft_sock_request(e->nft, nlh, counter_reply, c, e->err, sizeof(e->err));
	if (r < 0)
		return r;
	*ret = (struct enforce_counters){ c[0], c[1], c[2], c[3], c[4], c[5], c[6] };
	return 0;
}
