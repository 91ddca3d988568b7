/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/internal.h"

/*
 * Requests whose answers are collected later: an op is linked in its ctx
 * from the moment its request is sent; ctx.c gives it the reply with its
 * seq as it reads (whoever reads: latch_ctx_process(), a blocking call,
 * latch_op_finish()), and the op keeps the outcome decoded, since the
 * receive buffer is reused by the next packet. The blocking latch_connect()
 * and latch_accept() are an op waited for (socket.c).
 */

int op_send(latch_ctx *ctx, struct latch_op *op, int fd)
{
	int r = ctx_send(ctx, fd);

	if (r < 0)
		return r;
	op->seq = ctx->seq;
	op->next = ctx->ops;
	ctx->ops = op;
	return 0;
}

struct latch_op *op_find(latch_ctx *ctx, uint32_t seq)
{
	for (struct latch_op *op = ctx->ops; op; op = op->next)
		if (op->seq == seq && !op->done)
			return op;
	return NULL;
}

void op_fail(struct latch_op *op, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(op->error, sizeof(op->error), fmt, ap);
	va_end(ap);
	op->status = r;
	op->done = true;
}

void op_reply(latch_ctx *ctx, struct latch_op *op)
{
	const struct wire_msg *m = &ctx->reply;
	int r;

	if (m->hdr.status < 0) {
		ctx_reply_words(m, op->error, sizeof(op->error));
		op->status = m->hdr.status;
		op->done = true;
		return;
	}
	r = info_decode(m, &op->info);
	if (r < 0) {
		op_fail(op, r, "out of memory");
		return;
	}
	cache_keep(ctx, op->fd, op->info);
	op->done = true;
}

void op_unlink(latch_ctx *ctx, struct latch_op *op)
{
	for (struct latch_op **pp = &ctx->ops; *pp; pp = &(*pp)->next) {
		if (*pp == op) {
			*pp = op->next;
			break;
		}
	}
	op->next = NULL;
}

void op_free(struct latch_op *op)
{
	if (!op)
		return;
	if (op->owns_fd && op->fd >= 0)
		close(op->fd);
	latch_info_free(op->info);
	free(op);
}

void op_free_all(latch_ctx *ctx)
{
	struct latch_op *op, *next;

	for (op = ctx->ops; op; op = next) {
		next = op->next;
		op_free(op);
	}
	ctx->ops = NULL;
}

LATCH_EXPORT int latch_op_get_fd(const latch_op *op)
{
	return op ? op->fd : ret_errno(-EINVAL);
}

LATCH_EXPORT void latch_op_cancel(latch_ctx *ctx, latch_op *op)
{
	if (!ctx || !op)
		return;
	op_unlink(ctx, op); /* a late answer finds no op and is dropped */
	op_free(op);
}
