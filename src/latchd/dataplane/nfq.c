/* SPDX-License-Identifier: MIT */
#include "latchd/dataplane/nfq.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "latchd/dataplane/nft.h"

struct nfq {
	struct mnl_socket *nl;
	uint16_t queue;
	uint32_t seq;
};

/* ---------------------------------------------------------------- messages */

static struct nlmsghdr *put_header(void *buf, uint16_t queue, uint8_t type, uint16_t flags,
				   uint32_t seq)
{
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;

	memset(buf, 0, NFQ_MSG_MAX);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(queue);
	return nlh;
}

size_t nfq_build_cmd(void *buf, uint16_t queue, uint8_t cmd, uint32_t seq)
{
	struct nlmsghdr *nlh = put_header(buf, queue, NFQNL_MSG_CONFIG, NLM_F_ACK, seq);
	struct nfqnl_msg_config_cmd c = { .command = cmd, .pf = htons(AF_UNSPEC) };

	mnl_attr_put(nlh, NFQA_CFG_CMD, sizeof(c), &c);
	return nlh->nlmsg_len;
}

size_t nfq_build_params(void *buf, uint16_t queue, uint32_t range, uint32_t seq)
{
	struct nlmsghdr *nlh = put_header(buf, queue, NFQNL_MSG_CONFIG, NLM_F_ACK, seq);
	struct nfqnl_msg_config_params p = { .copy_range = htonl(range),
					     .copy_mode = NFQNL_COPY_PACKET };

	mnl_attr_put(nlh, NFQA_CFG_PARAMS, sizeof(p), &p);
	return nlh->nlmsg_len;
}

size_t nfq_build_verdict(void *buf, uint16_t queue, uint32_t id, bool accept, bool set_mark,
			 uint32_t mark)
{
	struct nlmsghdr *nlh = put_header(buf, queue, NFQNL_MSG_VERDICT, 0, 0);
	struct nfqnl_msg_verdict_hdr v = { .verdict = htonl(accept ? NF_ACCEPT : NF_DROP),
					   .id = htonl(id) };

	mnl_attr_put(nlh, NFQA_VERDICT_HDR, sizeof(v), &v);
	if (accept && set_mark)
		mnl_attr_put_u32(nlh, NFQA_MARK, htonl(mark));
	return nlh->nlmsg_len;
}

static int attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(a);

	if (type <= NFQA_MAX)
		tb[type] = a;
	return MNL_CB_OK;
}

int nfq_parse_packet(const struct nlmsghdr *nlh, struct nfq_packet *ret)
{
	const struct nlattr *tb[NFQA_MAX + 1] = { 0 };
	const struct nfqnl_msg_packet_hdr *ph;
	struct nfq_packet p = { 0 };

	/*
	 * The attributes end where the message says, not at its aligned end
	 * (mnl_attr_parse's bound): the kernel copies the packet into the last
	 * one unpadded (nfqnl_build_packet_message), so a message whose packet
	 * is not a multiple of 4 bytes long is unaligned, and the walk must not
	 * read past it.
	 */
	if ((nlh->nlmsg_type & 0xff) != NFQNL_MSG_PACKET ||
	    nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(struct nfgenmsg) ||
	    mnl_attr_parse_payload((const char *)nlh + NLMSG_HDRLEN + sizeof(struct nfgenmsg),
				   nlh->nlmsg_len - NLMSG_HDRLEN - sizeof(struct nfgenmsg), attr_cb,
				   tb) < 0 ||
	    !tb[NFQA_PACKET_HDR] || mnl_attr_get_payload_len(tb[NFQA_PACKET_HDR]) < sizeof(*ph))
		return -EBADMSG;
	ph = mnl_attr_get_payload(tb[NFQA_PACKET_HDR]);
	p.id = ntohl(ph->packet_id);
	p.hw_proto = ntohs(ph->hw_protocol);
	p.hook = ph->hook;
	if (tb[NFQA_MARK] && mnl_attr_get_payload_len(tb[NFQA_MARK]) == 4) {
		p.has_mark = true;
		p.mark = ntohl(mnl_attr_get_u32(tb[NFQA_MARK]));
	}
	if (tb[NFQA_PAYLOAD]) {
		p.payload = mnl_attr_get_payload(tb[NFQA_PAYLOAD]);
		p.len = mnl_attr_get_payload_len(tb[NFQA_PAYLOAD]);
	}
	*ret = p;
	return 0;
}

/* ---------------------------------------------------------------- packets */

static int ports(const uint8_t *l4, size_t len, uint8_t proto, struct flow *f, bool *syn)
{
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return -EPROTONOSUPPORT;
	if (len < (proto == IPPROTO_TCP ? 20u : 8u))
		return -EBADMSG;
	f->proto = proto;
	f->lport = (uint16_t)(l4[0] << 8 | l4[1]);
	f->rport = (uint16_t)(l4[2] << 8 | l4[3]);
	*syn = proto == IPPROTO_TCP && (l4[13] & 0x12) == 0x02; /* SYN, not ACK */
	return 0;
}

static int flow_v4(const uint8_t *p, size_t len, struct flow *f, bool *syn)
{
	size_t ihl = (size_t)(p[0] & 0x0f) * 4;

	if (len < 20 || ihl < 20 || len < ihl)
		return -EBADMSG;
	if ((p[6] & 0x1f) || p[7]) /* a fragment offset: no ports here */
		return -EPROTONOSUPPORT;
	f->family = AF_INET;
	memcpy(f->laddr.b, p + 12, 4);
	memcpy(f->raddr.b, p + 16, 4);
	return ports(p + ihl, len - ihl, p[9], f, syn);
}

static int flow_v6(const uint8_t *p, size_t len, struct flow *f, bool *syn)
{
	size_t off = 40;
	uint8_t next;

	if (len < 40)
		return -EBADMSG;
	f->family = AF_INET6;
	memcpy(f->laddr.b, p + 8, 16);
	memcpy(f->raddr.b, p + 24, 16);
	next = p[6];
	/* hop-by-hop, routing, destination options: (length + 1) * 8 bytes each */
	while (next == 0 || next == 43 || next == 60) {
		if (len < off + 8)
			return -EBADMSG;
		next = p[off];
		off += ((size_t)p[off + 1] + 1) * 8;
	}
	if (len < off)
		return -EBADMSG;
	return ports(p + off, len - off, next, f, syn);
}

int nfq_packet_flow(const uint8_t *p, size_t len, struct flow *ret, bool *syn)
{
	struct flow f = { 0 };
	bool s = false;
	int r;

	if (!p || len < 1)
		return -EBADMSG;
	if (p[0] >> 4 == 4)
		r = flow_v4(p, len, &f, &s);
	else if (p[0] >> 4 == 6)
		r = flow_v6(p, len, &f, &s);
	else
		r = -EBADMSG;
	if (r < 0)
		return r;
	*ret = f;
	*syn = s;
	return 0;
}

/* ---------------------------------------------------------------- I/O */

static int send_msg(struct nfq *q, const void *buf, size_t len)
{
	return mnl_socket_sendto(q->nl, buf, len) < 0 ? -errno : 0;
}

/* The ACK of seq; a packet queued meanwhile cannot be judged yet: dropped. */
static int wait_ack(struct nfq *q, uint32_t seq)
{
	char buf[NFT_NLBUF], err[64];
	const struct nlmsghdr *nlh;
	struct nfq_packet pkt;
	int n;

	for (;;) {
		n = (int)mnl_socket_recvfrom(q->nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		for (nlh = (const void *)buf; mnl_nlmsg_ok(nlh, n); nlh = mnl_nlmsg_next(nlh, &n)) {
			if (nlh->nlmsg_type == NLMSG_ERROR && nlh->nlmsg_seq == seq)
				return nft_parse_error(nlh, err, sizeof(err));
			if (nfq_parse_packet(nlh, &pkt) == 0)
				nfq_verdict(q, pkt.id, false, 0);
		}
	}
}

static int configure(struct nfq *q)
{
	char buf[NFQ_MSG_MAX];
	int r;

	r = send_msg(q, buf, nfq_build_cmd(buf, q->queue, NFQNL_CFG_CMD_BIND, ++q->seq));
	if (r == 0)
		r = wait_ack(q, q->seq);
	if (r == 0)
		r = send_msg(q, buf, nfq_build_params(buf, q->queue, NFQ_COPY_RANGE, ++q->seq));
	if (r == 0)
		r = wait_ack(q, q->seq);
	return r;
}

int nfq_open(uint16_t queue, struct nfq **ret)
{
	struct nfq *q = calloc(1, sizeof(*q));
	int r = 0, fd;

	if (!q)
		return -ENOMEM;
	q->queue = queue;
	q->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!q->nl || mnl_socket_bind(q->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		r = -errno;
	if (r == 0)
		r = configure(q);
	if (r == 0) {
		fd = mnl_socket_get_fd(q->nl);
		r = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ? -errno : 0;
	}
	if (r < 0) {
		nfq_close(q);
		return r;
	}
	*ret = q;
	return 0;
}

void nfq_close(struct nfq *q)
{
	if (!q)
		return;
	if (q->nl)
		mnl_socket_close(q->nl); /* the kernel unbinds and drops what is queued */
	free(q);
}

int nfq_fd(const struct nfq *q)
{
	return mnl_socket_get_fd(q->nl);
}

uint16_t nfq_queue(const struct nfq *q)
{
	return q->queue;
}

int nfq_parse_packets(const void *buf, size_t n, nfq_packet_fn cb, void *arg)
{
	struct nfq_packet pkt;
	int count = 0;

	/*
	 * Not mnl_nlmsg_ok: it compares nlmsg_len as an int, so a length with
	 * the top bit set passes and mnl_nlmsg_next jumps out of the buffer.
	 */
	for (const struct nlmsghdr *nlh = buf; NLMSG_OK(nlh, n); nlh = NLMSG_NEXT(nlh, n)) {
		if (nfq_parse_packet(nlh, &pkt) == 0) {
			cb(&pkt, arg);
			count++;
		}
		if (NLMSG_ALIGN(nlh->nlmsg_len) >= n)
			break; /* the last one: NLMSG_NEXT would wrap n past an unaligned end */
	}
	return count;
}

static int read_once(struct nfq *q, nfq_packet_fn cb, void *arg, char *buf, size_t size)
{
	int n = (int)recv(mnl_socket_get_fd(q->nl), buf, size, MSG_DONTWAIT), count;

	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	count = nfq_parse_packets(buf, (size_t)n, cb, arg);
	return count ? count : -EINPROGRESS; /* read something (an error reply): go on */
}

int nfq_read(struct nfq *q, nfq_packet_fn cb, void *arg)
{
	char *buf = malloc(NFT_NLBUF * 4);
	int total = 0, r;

	if (!buf)
		return -ENOMEM;
	do {
		r = read_once(q, cb, arg, buf, NFT_NLBUF * 4);
		total += r > 0 ? r : 0;
	} while (r > 0 || r == -EINPROGRESS);
	free(buf);
	return r < 0 ? r : total;
}

int nfq_verdict(struct nfq *q, uint32_t id, bool accept, uint32_t mark)
{
	char buf[NFQ_MSG_MAX];

	return send_msg(q, buf, nfq_build_verdict(buf, q->queue, id, accept, true, mark));
}

int nfq_pass(struct nfq *q, uint32_t id)
{
	char buf[NFQ_MSG_MAX];

	return send_msg(q, buf, nfq_build_verdict(buf, q->queue, id, true, false, 0));
}
