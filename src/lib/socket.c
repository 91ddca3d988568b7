/* SPDX-License-Identifier: MIT */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/internal.h"

int addr_parts(const struct sockaddr *sa, socklen_t len, uint8_t *family, const void **addr,
	       size_t *alen, uint16_t *port)
{
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		*family = IPC_FAMILY_INET;
		*addr = &s4->sin_addr;
		*alen = 4;
		*port = ntohs(s4->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		/* A dual-stack socket's IPv4 peer (::ffff:a.b.c.d) is IPv4 on the wire. */
		bool mapped = IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr);

		*family = mapped ? IPC_FAMILY_INET : IPC_FAMILY_INET6;
		*addr = mapped ? (const void *)&s6->sin6_addr.s6_addr[12] : &s6->sin6_addr;
		*alen = mapped ? 4 : 16;
		*port = ntohs(s6->sin6_port);
		return 0;
	}
	return -EAFNOSUPPORT;
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/* 1 when fd has a local port (bound, explicitly or by connect), 0 if not. */
static int is_bound(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const void *a;
	uint16_t port;
	uint8_t fam;
	size_t alen;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (addr_parts((struct sockaddr *)&ss, len, &fam, &a, &alen, &port) < 0)
		return -EAFNOSUPPORT;
	return port != 0;
}

/*
 * The source address the kernel would pick for dst: a throwaway UDP socket
 * "connected" there sends nothing and shows the route's choice.
 */
static int source_for(const struct sockaddr *dst, socklen_t len, struct sockaddr_storage *ret)
{
	socklen_t slen = sizeof(*ret);
	int s, r = 0;

	s = socket(dst->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (connect(s, dst, len) < 0 || getsockname(s, (struct sockaddr *)ret, &slen) < 0)
		r = -errno;
	close(s);
	return r;
}

/* latchd reads the whole local end from the socket, so it must have one. */
static int bind_source(latch_ctx *ctx, int fd, const struct sockaddr *dst, socklen_t len)
{
	struct sockaddr_storage src;
	int r = is_bound(fd);

	if (r < 0)
		return ctx_fail(ctx, r, "not an IPv4 or IPv6 socket");
	if (r > 0)
		return 0;
	r = source_for(dst, len, &src);
	if (r < 0)
		return ctx_fail(ctx, r, "no route to the destination: %s", strerror(-r));
	set_port(&src, 0);
	if (bind(fd, (struct sockaddr *)&src,
		 src.ss_family == AF_INET ? sizeof(struct sockaddr_in)
					  : sizeof(struct sockaddr_in6)) < 0)
		return ctx_fail(ctx, -errno, "bind: %s", strerror(errno));
	return 0;
}

/* For ATTACH: the local port lets latchd recognise the socket's first packet. */
static int bind_wildcard(latch_ctx *ctx, int fd)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);
	int r = is_bound(fd);

	if (r < 0)
		return ctx_fail(ctx, r, "not an IPv4 or IPv6 socket");
	if (r > 0)
		return 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return ctx_fail(ctx, -errno, "getsockname: %s", strerror(errno));
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_ANY);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_any;
	set_port(&ss, 0);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		return ctx_fail(ctx, -errno, "bind: %s", strerror(errno));
	return 0;
}

static int encode_tuple(int fd, const struct sockaddr *dst, socklen_t len, struct buf *b)
{
	socklen_t olen = sizeof(int);
	const void *addr;
	uint16_t port;
	uint8_t fam;
	size_t alen, nest;
	int proto;

	if (addr_parts(dst, len, &fam, &addr, &alen, &port) < 0)
		return -EAFNOSUPPORT;
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &olen) < 0)
		return -errno;
	nest = wire_nest_begin(b, IPC_A_TUPLE);
	wire_put_u8(b, IPC_A_TUPLE_FAMILY, fam);
	wire_put_u8(b, IPC_A_TUPLE_PROTO, (uint8_t)proto);
	wire_put_bytes(b, IPC_A_TUPLE_REMOTE_ADDR, addr, alen);
	wire_put_u16(b, IPC_A_TUPLE_REMOTE_PORT, port);
	wire_nest_end(b, nest);
	return 0;
}

/*
 * Send the request begun in ctx->out with fd, and decode the latch it
 * answers. keep: the answer is fd's latch, which later queries may be
 * answered with (when latchd numbered it: cache.c).
 */
static int call_info(latch_ctx *ctx, int fd, bool keep, latch_info **ret)
{
	latch_info *info = NULL;
	int r;

	r = ctx_call(ctx, fd);
	if (r < 0)
		return r;
	r = info_decode(&ctx->reply, &info);
	if (r < 0)
		return ctx_fail(ctx, r, "out of memory");
	if (keep)
		cache_keep(ctx, fd, info);
	if (ret)
		*ret = info;
	else
		latch_info_free(info);
	return 0;
}

static int release_id(latch_ctx *ctx, uint64_t id)
{
	ctx_begin(ctx, IPC_MSG_RELEASE);
	wire_put_u64(&ctx->out, IPC_A_LATCH_ID, id);
	return ctx_call(ctx, -1);
}

/* connect(2) after the latch is up; on failure the latch goes too. */
static int connect_latched(latch_ctx *ctx, int fd, const struct sockaddr *addr, socklen_t len,
			   latch_info *info)
{
	int r;

	if (connect(fd, addr, len) == 0)
		return 0;
	r = -errno;
	if (r == -EINPROGRESS)
		return r;
	(void)release_id(ctx, info->id);
	return ctx_fail(ctx, r, "connect: %s", strerror(-r));
}

/*
 * The outcome of an answered op, as the blocking call gives it: connect(2)
 * for a connect op, the new descriptor for an accept op. Frees op.
 */
static int op_outcome(latch_ctx *ctx, struct latch_op *op, latch_info **ret)
{
	latch_info *info = op->info;
	int r = op->status;

	if (r < 0) {
		ctx_fail(ctx, r, "%s", op->error);
		op_free(op); /* an accepted connection: latchd has reset it, it goes */
		return r;
	}
	op->info = NULL;
	ctx->error[0] = 0;
	if (op->type == IPC_MSG_CONNECT && !(op->flags & LATCH_CONNECT_NO_CONNECT))
		r = connect_latched(ctx, op->fd, (struct sockaddr *)&op->addr, op->addrlen, info);
	if (op->type == IPC_MSG_ACCEPT) {
		if (!info->state)
			info->reason =
				LATCH_REASON_UNLATCHED; /* what a reply without a latch means */
		r = op->fd;
		op->owns_fd = false;
	}
	op_free(op);
	if (r < 0 && r != -EINPROGRESS) {
		latch_info_free(info);
		return r;
	}
	if (ret)
		*ret = info;
	else
		latch_info_free(info);
	return ret_errno(r);
}

LATCH_EXPORT int latch_op_finish(latch_ctx *ctx, latch_op *op, latch_info **ret)
{
	int r;

	if (!ctx || !op)
		return ret_errno(-EINVAL);
	if (!op->done) {
		r = ctx_drain(ctx);
		if (r < 0) {
			latch_op_cancel(ctx, op);
			return ret_errno(r);
		}
		if (!op->done)
			return ret_errno(-EAGAIN);
	}
	op_unlink(ctx, op);
	return op_outcome(ctx, op, ret);
}

/* The blocking calls: their op, waited for (latch_ctx_set_timeout()). */
static int op_wait_finish(latch_ctx *ctx, struct latch_op *op, latch_info **ret)
{
	int r = ctx_wait_op(ctx, op);

	if (r < 0) {
		latch_op_cancel(ctx, op);
		return r;
	}
	return latch_op_finish(ctx, op, ret);
}

LATCH_EXPORT int latch_connect_start(latch_ctx *ctx, int fd, const struct sockaddr *addr,
				     socklen_t addrlen, const latch_token *tok, unsigned flags,
				     latch_op **ret)
{
	struct latch_op *op;
	int r;

	if (!ctx || fd < 0 || !addr || !ret || addrlen > sizeof(op->addr) ||
	    (flags & ~LATCH_CONNECT_NO_CONNECT))
		return ret_errno(-EINVAL);
	r = bind_source(ctx, fd, addr, addrlen);
	if (r < 0)
		return r;
	op = calloc(1, sizeof(*op));
	if (!op)
		return ctx_fail(ctx, -ENOMEM, "out of memory");
	ctx_begin(ctx, IPC_MSG_CONNECT);
	r = encode_tuple(fd, addr, addrlen, &ctx->out);
	if (r < 0) {
		free(op);
		return ctx_fail(ctx, r, "cannot describe the destination: %s", strerror(-r));
	}
	token_encode(tok, &ctx->out);
	op->type = IPC_MSG_CONNECT;
	op->fd = fd;
	op->flags = flags;
	memcpy(&op->addr, addr, addrlen);
	op->addrlen = addrlen;
	r = op_send(ctx, op, fd);
	if (r < 0) {
		op_free(op);
		return r;
	}
	*ret = op;
	return 0;
}

LATCH_EXPORT int latch_connect(latch_ctx *ctx, int fd, const struct sockaddr *addr,
			       socklen_t addrlen, const latch_token *tok, unsigned flags,
			       latch_info **ret)
{
	latch_op *op;
	int r = latch_connect_start(ctx, fd, addr, addrlen, tok, flags, &op);

	return r < 0 ? r : op_wait_finish(ctx, op, ret);
}

static int policy_request(latch_ctx *ctx, uint16_t type, int fd, const latch_token *tok,
			  unsigned flags, latch_info **ret)
{
	if (!ctx || fd < 0 || flags)
		return ret_errno(-EINVAL);
	ctx_begin(ctx, type);
	token_encode(tok, &ctx->out);
	/* An ATTACH answers for the attachment, not for a latch of the socket's. */
	return call_info(ctx, fd, type != IPC_MSG_ATTACH, ret);
}

LATCH_EXPORT int latch_listen(latch_ctx *ctx, int fd, const latch_token *tok, unsigned flags,
			      latch_info **ret)
{
	return policy_request(ctx, IPC_MSG_LISTEN, fd, tok, flags, ret);
}

LATCH_EXPORT int latch_socket_latch(latch_ctx *ctx, int fd, const latch_token *tok, unsigned flags,
				    latch_info **ret)
{
	return policy_request(ctx, IPC_MSG_LATCH, fd, tok, flags, ret);
}

LATCH_EXPORT int latch_socket_attach(latch_ctx *ctx, int fd, const latch_token *tok, unsigned flags,
				     latch_info **ret)
{
	int r;

	if (!ctx || fd < 0 || flags)
		return ret_errno(-EINVAL);
	r = bind_wildcard(ctx, fd);
	if (r < 0)
		return r;
	return policy_request(ctx, IPC_MSG_ATTACH, fd, tok, flags, ret);
}

/* Ask latchd for the latch of a connection accept(2) gave; owns: close it with the op. */
static int accept_op(latch_ctx *ctx, int fd, bool owns, struct latch_op **ret)
{
	struct latch_op *op = calloc(1, sizeof(*op));
	int r;

	if (!op) {
		if (owns)
			close(fd);
		return ctx_fail(ctx, -ENOMEM, "out of memory");
	}
	op->type = IPC_MSG_ACCEPT;
	op->fd = fd;
	op->owns_fd = owns;
	ctx_begin(ctx, IPC_MSG_ACCEPT);
	r = op_send(ctx, op, fd);
	if (r < 0) {
		op_free(op);
		return r;
	}
	*ret = op;
	return 0;
}

/* ACCEPT for a connection accept(2) gave; shared with the draft's bindings. */
int socket_accepted(latch_ctx *ctx, int fd, latch_info **ret)
{
	struct latch_op *op;
	int r = accept_op(ctx, fd, false, &op);

	if (r < 0)
		return r;
	r = op_wait_finish(ctx, op, ret);
	return r < 0 ? r : 0;
}

LATCH_EXPORT int latch_accept_start(latch_ctx *ctx, int lfd, struct sockaddr *addr,
				    socklen_t *addrlen, unsigned flags, latch_op **ret)
{
	int fd;

	if (!ctx || lfd < 0 || !ret || (flags & ~LATCH_ACCEPT_NONBLOCK))
		return ret_errno(-EINVAL);
	fd = accept4(lfd, addr, addrlen,
		     SOCK_CLOEXEC | (flags & LATCH_ACCEPT_NONBLOCK ? SOCK_NONBLOCK : 0));
	if (fd < 0)
		return ctx_fail(ctx, -errno, "accept: %s", strerror(errno));
	return accept_op(ctx, fd, true, ret); /* a failure closes it: latchd may have reset it */
}

LATCH_EXPORT int latch_accept(latch_ctx *ctx, int lfd, struct sockaddr *addr, socklen_t *addrlen,
			      unsigned flags, latch_info **ret)
{
	latch_op *op;
	int r = latch_accept_start(ctx, lfd, addr, addrlen, flags, &op);

	return r < 0 ? r : op_wait_finish(ctx, op, ret);
}

LATCH_EXPORT int latch_socket_query(latch_ctx *ctx, int fd, latch_info **ret)
{
	int r;

	if (!ctx || fd < 0 || !ret)
		return ret_errno(-EINVAL);
	r = cache_answer(ctx, fd, ret);
	if (r < 0)
		return ctx_fail(ctx, r, "out of memory");
	if (r > 0) {
		ctx->error[0] = 0;
		return 0;
	}
	ctx_begin(ctx, IPC_MSG_QUERY);
	return call_info(ctx, fd, true, ret);
}

LATCH_EXPORT int latch_socket_query_peer(latch_ctx *ctx, int fd, const struct sockaddr *addr,
					 socklen_t addrlen, latch_info **ret)
{
	int r;

	if (!ctx || fd < 0 || !addr || !ret)
		return ret_errno(-EINVAL);
	ctx_begin(ctx, IPC_MSG_QUERY);
	r = encode_tuple(fd, addr, addrlen, &ctx->out);
	if (r < 0)
		return ctx_fail(ctx, r, "cannot describe the peer: %s", strerror(-r));
	return call_info(ctx, fd, false, ret);
}

LATCH_EXPORT int latch_query(latch_ctx *ctx, uint64_t latch_id, latch_info **ret)
{
	if (!ctx || !latch_id || !ret)
		return ret_errno(-EINVAL);
	ctx_begin(ctx, IPC_MSG_QUERY);
	wire_put_u64(&ctx->out, IPC_A_LATCH_ID, latch_id);
	return call_info(ctx, -1, false, ret);
}

LATCH_EXPORT int latch_socket_release(latch_ctx *ctx, int fd)
{
	if (!ctx || fd < 0)
		return ret_errno(-EINVAL);
	ctx_begin(ctx, IPC_MSG_RELEASE);
	return ctx_call(ctx, fd);
}

LATCH_EXPORT int latch_release(latch_ctx *ctx, uint64_t latch_id)
{
	if (!ctx || !latch_id)
		return ret_errno(-EINVAL);
	return release_id(ctx, latch_id);
}
