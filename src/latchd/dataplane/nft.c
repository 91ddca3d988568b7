/* SPDX-License-Identifier: MIT */
#include "latchd/dataplane/nft.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

/* ------------------------------------------------------------------ keys */

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

/* One field in its own 4-byte registers: short fields are zero-padded. */
static size_t put_addr(uint8_t *k, const union flow_addr *a, size_t alen)
{
	memcpy(k, a->b, alen);
	return alen;
}

static size_t put_proto(uint8_t *k, uint8_t proto)
{
	k[0] = proto;
	return 4;
}

static size_t put_port(uint8_t *k, uint16_t port)
{
	k[0] = (uint8_t)(port >> 8);
	k[1] = (uint8_t)port;
	return 4;
}

static uint16_t get_port(const uint8_t *k)
{
	return (uint16_t)(k[0] << 8 | k[1]);
}

size_t nft_key_flow(const struct flow *f, uint8_t key[NFT_KEY_MAX])
{
	size_t alen = addr_len(f->family), n = 0;

	memset(key, 0, NFT_KEY_MAX);
	if (!alen)
		return 0;
	n += put_addr(key + n, &f->raddr, alen);
	n += put_proto(key + n, f->proto);
	n += put_port(key + n, f->rport);
	n += put_addr(key + n, &f->laddr, alen);
	n += put_port(key + n, f->lport);
	return n;
}

size_t nft_key_listen(const struct flow3 *f, uint8_t key[NFT_KEY_MAX])
{
	size_t alen = addr_len(f->family), n = 0;

	memset(key, 0, NFT_KEY_MAX);
	if (!alen)
		return 0;
	n += put_addr(key + n, &f->addr, alen);
	n += put_proto(key + n, f->proto);
	n += put_port(key + n, f->port);
	return n;
}

size_t nft_key_listen_any(const struct flow3 *f, uint8_t key[NFT_KEY_MAX])
{
	size_t n = 0;

	memset(key, 0, NFT_KEY_MAX);
	n += put_proto(key + n, f->proto);
	n += put_port(key + n, f->port);
	return n;
}

int nft_key_flow_parse(int family, const uint8_t *key, size_t len, struct flow *ret)
{
	size_t alen = addr_len(family);
	struct flow f = { .family = (uint8_t)family };

	if (!alen || len != 2 * alen + 12)
		return -EINVAL;
	memcpy(f.raddr.b, key, alen);
	f.proto = key[alen];
	f.rport = get_port(key + alen + 4);
	memcpy(f.laddr.b, key + alen + 8, alen);
	f.lport = get_port(key + 2 * alen + 8);
	*ret = f;
	return 0;
}

/* An 8-byte key is a wildcard listener's proto.port: zero address, the family given. */
int nft_key_listen_parse(int family, const uint8_t *key, size_t len, struct flow3 *ret)
{
	size_t alen = addr_len(family);
	struct flow3 f = { .family = (uint8_t)family };

	if (len == 8 && (alen || family == AF_UNSPEC)) {
		f.proto = key[0];
		f.port = get_port(key + 4);
		*ret = f;
		return 0;
	}
	if (!alen || len != alen + 8)
		return -EINVAL;
	memcpy(f.addr.b, key, alen);
	f.proto = key[alen];
	f.port = get_port(key + alen + 4);
	*ret = f;
	return 0;
}

/* ----------------------------------------------------------------- batch */

int nft_batch_init(struct nft_batch *b, uint32_t seq)
{
	char *room;

	*b = (struct nft_batch){ .seq_begin = seq, .seq_next = seq };
	room = nft_batch_room(b, MNL_NLMSG_HDRLEN + sizeof(struct nfgenmsg));
	if (!room)
		return -ENOMEM;
	nftnl_batch_begin(room, b->seq_next++);
	b->len += NLMSG_ALIGN(((struct nlmsghdr *)room)->nlmsg_len);
	return 0;
}

void nft_batch_release(struct nft_batch *b)
{
	free(b->buf);
	*b = (struct nft_batch){ 0 };
}

char *nft_batch_room(struct nft_batch *b, size_t size)
{
	size_t cap = b->cap ? b->cap : 16384;
	char *buf;

	if (b->err)
		return NULL;
	while (cap - b->len < size)
		cap *= 2;
	if (cap != b->cap) {
		buf = realloc(b->buf, cap);
		if (!buf) {
			b->err = -ENOMEM;
			return NULL;
		}
		b->buf = buf;
		b->cap = cap;
	}
	memset(b->buf + b->len, 0, size);
	return b->buf + b->len;
}

uint32_t nft_batch_seq(struct nft_batch *b)
{
	return b->seq_next++;
}

void nft_batch_push(struct nft_batch *b, struct nlmsghdr *nlh)
{
	nlh->nlmsg_flags |= NLM_F_ACK;
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
	b->msgs++;
}

int nft_batch_finish(struct nft_batch *b)
{
	char *room = nft_batch_room(b, MNL_NLMSG_HDRLEN + sizeof(struct nfgenmsg));

	if (!room)
		return b->err;
	nftnl_batch_end(room, b->seq_next++);
	b->len += NLMSG_ALIGN(((struct nlmsghdr *)room)->nlmsg_len);
	return 0;
}

/* ------------------------------------------------------------ error text */

static int extack_attr(const struct nlattr *attr, void *data)
{
	const char **text = data;

	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		*text = mnl_attr_get_str(attr);
	return MNL_CB_OK;
}

int nft_parse_error(const struct nlmsghdr *nlh, char *msg, size_t msglen)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	const char *text = NULL;
	size_t off = sizeof(*e);

	if (msglen)
		msg[0] = '\0';
	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*e))
		return -EBADMSG;
	/* Without NETLINK_CAP_ACK the request follows; the TLVs come after it. */
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(e->msg);
	if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) && MNL_NLMSG_HDRLEN + off <= nlh->nlmsg_len)
		mnl_attr_parse(nlh, (unsigned)off, extack_attr, &text);
	if (text && msglen)
		snprintf(msg, msglen, "%s", text);
	return e->error > 0 ? -e->error : e->error;
}

/* ------------------------------------------------------------------- I/O */

struct nft_sock {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
};

static int sock_options(struct mnl_socket *nl)
{
	int one = 1, fd = mnl_socket_get_fd(nl);
	struct timeval tv = { .tv_sec = 5 };
	int sndbuf = 4 << 20;

	/* Extended ACKs give the kernel's reason; capped ACKs keep replies small. */
	if (setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one)) < 0)
		return -errno;
	/* A transaction is one sendmsg: large re-adoption batches need room. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	/* The kernel answers in microseconds; never hang the daemon on it. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

int nft_sock_open(struct nft_sock **ret)
{
	struct nft_sock *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return -ENOMEM;
	s->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!s->nl) {
		err = -errno;
		free(s);
		return err;
	}
	err = sock_options(s->nl);
	if (err == 0 && mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		err = -errno;
	if (err < 0) {
		nft_sock_close(s);
		return err;
	}
	s->portid = mnl_socket_get_portid(s->nl);
	s->seq = 1;
	*ret = s;
	return 0;
}

void nft_sock_close(struct nft_sock *s)
{
	if (!s)
		return;
	mnl_socket_close(s->nl);
	free(s);
}

uint32_t nft_sock_seq(struct nft_sock *s)
{
	return s->seq;
}

static void set_err(char *err, size_t errlen, const char *what, int code)
{
	if (errlen && !err[0])
		snprintf(err, errlen, "%s: %s", what, strerror(-code));
}

/*
 * Replies to a batch: an ACK or error per message, in order; stop at the
 * reply to the last message, or at an error about BATCH_BEGIN (EPERM: the
 * kernel then looks at nothing else).
 */
static int commit_replies(struct nft_sock *s, const struct nft_batch *b, char *err, size_t errlen)
{
	uint32_t last = b->seq_next - 2; /* seq_next - 1 is BATCH_END, never answered */
	char buf[NFT_NLBUF];
	int first = 0;

	for (;;) {
		ssize_t n = mnl_socket_recvfrom(s->nl, buf, sizeof(buf));
		struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
		int left = (int)n;

		if (n < 0)
			return first ? first : -errno;
		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			char text[256];
			int r;

			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			r = nft_parse_error(nlh, text, sizeof(text));
			if (r < 0 && !first) {
				first = r;
				if (errlen)
					snprintf(err, errlen, "%s%s%s", strerror(-r),
						 text[0] ? ": " : "", text);
			}
			if (nlh->nlmsg_seq == last || (r < 0 && nlh->nlmsg_seq == b->seq_begin))
				return first;
		}
	}
}

int nft_sock_commit(struct nft_sock *s, struct nft_batch *b, char *err, size_t errlen)
{
	int r;

	if (errlen)
		err[0] = '\0';
	if (b->err)
		return b->err;
	s->seq = b->seq_next;
	if (!b->msgs)
		return 0;
	if (mnl_socket_sendto(s->nl, b->buf, b->len) < 0) {
		r = -errno;
		set_err(err, errlen, "netlink send", r);
		return r;
	}
	r = commit_replies(s, b, err, errlen);
	if (r < 0)
		set_err(err, errlen, "netlink", r);
	return r;
}

static int request_replies(struct nft_sock *s, uint32_t seq, nft_reply_fn cb, void *arg, char *err,
			   size_t errlen)
{
	char buf[NFT_NLBUF];

	for (;;) {
		ssize_t n = mnl_socket_recvfrom(s->nl, buf, sizeof(buf));
		struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
		int left = (int)n, r;

		if (n < 0)
			return -errno;
		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			if (nlh->nlmsg_seq != seq)
				continue;
			if (nlh->nlmsg_type == NLMSG_DONE)
				return 0;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				r = nft_parse_error(nlh, err, errlen);
				return r;
			}
			r = cb(nlh, arg);
			if (r < 0)
				return r;
			if (!(nlh->nlmsg_flags & NLM_F_MULTI))
				return 0;
		}
	}
}

int nft_sock_request(struct nft_sock *s, struct nlmsghdr *req, nft_reply_fn cb, void *arg,
		     char *err, size_t errlen)
{
	int r;

	if (errlen)
		err[0] = '\0';
	req->nlmsg_seq = s->seq++;
	if (mnl_socket_sendto(s->nl, req, req->nlmsg_len) < 0)
		r = -errno;
	else
		r = request_replies(s, req->nlmsg_seq, cb, arg, err, errlen);
	if (r < 0)
		set_err(err, errlen, "netlink", r);
	return r;
}
