/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/internal.h"
#include "shared/fdpass.h"
#include "shared/text.h"

#define LIB_NAME	   "liblatch " LATCH_LIB_VERSION
#define DEFAULT_TIMEOUT_MS 30000

LATCH_EXPORT const char *latch_version(void)
{
	return LATCH_LIB_VERSION;
}

int ctx_fail(latch_ctx *ctx, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->error, sizeof(ctx->error), fmt, ap);
	va_end(ap);
	return ret_errno(r);
}

LATCH_EXPORT const char *latch_ctx_last_error(const latch_ctx *ctx)
{
	return ctx ? ctx->error : "";
}

LATCH_EXPORT int latch_ctx_set_timeout(latch_ctx *ctx, int timeout_ms)
{
	if (!ctx || timeout_ms < -1)
		return ret_errno(-EINVAL);
	ctx->timeout_ms = timeout_ms;
	return 0;
}

LATCH_EXPORT int latch_ctx_set_event_fn(latch_ctx *ctx, latch_event_fn fn, void *userdata)
{
	if (!ctx)
		return ret_errno(-EINVAL);
	ctx->event_fn = fn;
	ctx->event_data = userdata;
	return 0;
}

LATCH_EXPORT int latch_ctx_get_fd(const latch_ctx *ctx)
{
	return ctx ? ctx->fd : ret_errno(-EINVAL);
}

LATCH_EXPORT int latch_ctx_pending(const latch_ctx *ctx)
{
	return ctx ? (int)ctx->ev_count + (ctx->ev_lost > 0) : ret_errno(-EINVAL);
}

static void event_drop_oldest(latch_ctx *ctx)
{
	free(ctx->events[ctx->ev_head].message);
	ctx->ev_head = (ctx->ev_head + 1) % EVENTS_MAX;
	ctx->ev_count--;
}

/*
 * Keep an ALERT for latch_ctx_process(). Bounded: an application that never
 * processes (the draft's hidden ctx) must not grow without limit, and the
 * newest state of a latch matters more than its history.
 */
static void event_keep(latch_ctx *ctx, const struct wire_msg *m)
{
	struct event ev = { 0 };
	const char *s;

	if (!ctx->events && !(ctx->events = calloc(EVENTS_MAX, sizeof(*ctx->events))))
		return;
	(void)wire_get_u64(&m->attrs, IPC_A_LATCH_ID, &ev.id);
	(void)wire_get_u8(&m->attrs, IPC_A_STATE, &ev.state);
	(void)wire_get_u16(&m->attrs, IPC_A_REASON, &ev.reason);
	if (wire_get_str(&m->attrs, IPC_A_MESSAGE, &s) == 0)
		ev.message = text_dup(s); /* without its text the event still counts */
	if (ctx->ev_count == EVENTS_MAX) {
		event_drop_oldest(ctx);
		ctx->ev_lost++; /* told first by latch_ctx_process(): deliver_lost() */
	}
	ctx->events[(ctx->ev_head + ctx->ev_count++) % EVENTS_MAX] = ev;
}

/*
 * Read one packet. Returns 1 with ctx->reply set when it is the reply to
 * seq (0: no request waiting), 0 when it was something else (an event,
 * kept; the answer to an op, given to it; a late reply to a request that
 * timed out or an op cancelled, dropped), or -errno. Only a reply may bring
 * a descriptor (the codec says which): it goes to ctx->reply_fd.
 */
static int read_one(latch_ctx *ctx, uint32_t seq)
{
	struct latch_op *op;
	struct wire_msg m;
	struct wire_hdr h;
	char err[256];
	int n, r, fd = -1;

	n = fdpass_recv(ctx->fd, ctx->in, sizeof(ctx->in), &fd);
	if (n == 0)
		return ctx_fail(ctx, -ECONNRESET, "latchd closed the connection");
	if (n < 0)
		return n == -EAGAIN ? n
				    : ctx_fail(ctx, n, "receiving from latchd: %s", strerror(-n));
	r = wire_parse(ctx->in, (size_t)n, WIRE_FROM_DAEMON, fd >= 0, &m, err, sizeof(err));
	if (r == 0 && (m.hdr.flags & IPC_F_REPLY) && seq && m.hdr.seq == seq) {
		ctx->reply = m;
		ctx->reply_fd = fd;
		return 1;
	}
	if (fd >= 0)
		close(fd);
	if (r < 0) {
		/* Fail the request or op it answers; otherwise skip it. */
		if (wire_peek_hdr(ctx->in, (size_t)n, &h) < 0)
			return 0;
		if (seq && h.seq == seq)
			return ctx_fail(ctx, r, "bad reply from latchd: %s", err);
		if ((h.flags & IPC_F_REPLY) && (op = op_find(ctx, h.seq)))
			op_fail(op, r, "bad reply from latchd: %s", err);
		return 0;
	}
	if (!(m.hdr.flags & IPC_F_REPLY))
		event_keep(ctx, &m);
	else if ((op = op_find(ctx, m.hdr.seq))) {
		ctx->reply = m;
		op_reply(ctx, op);
	}
	return 0;
}

int ctx_drain(latch_ctx *ctx)
{
	int r;

	while ((r = read_one(ctx, 0)) == 0)
		;
	return r == -EAGAIN ? 0 : r;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Read until the reply to seq is in ctx->reply (1) or, for an op (seq 0),
 * until it is answered (0); -errno, -ETIMEDOUT past the ctx's timeout.
 */
static int wait_until(latch_ctx *ctx, uint32_t seq, const struct latch_op *op)
{
	int64_t deadline = now_ms() + ctx->timeout_ms;
	struct pollfd p = { .fd = ctx->fd, .events = POLLIN };
	int r, left;

	for (;;) {
		r = read_one(ctx, seq);
		if (r != -EAGAIN && r != 0)
			return r;
		if (op && op->done)
			return 0;
		if (r == 0)
			continue;
		left = ctx->timeout_ms < 0 ? -1 : (int)(deadline - now_ms());
		if (ctx->timeout_ms >= 0 && left <= 0)
			return ctx_fail(ctx, -ETIMEDOUT, "no answer from latchd within %d ms",
					ctx->timeout_ms);
		if (poll(&p, 1, left) < 0 && errno != EINTR)
			return ctx_fail(ctx, -errno, "poll: %s", strerror(errno));
	}
}

int ctx_wait_op(latch_ctx *ctx, const struct latch_op *op)
{
	return op->done ? 0 : wait_until(ctx, 0, op);
}

void ctx_begin(latch_ctx *ctx, uint16_t type)
{
	if (++ctx->seq == 0)
		ctx->seq = 1; /* 0 is the events' seq */
	wire_begin(&ctx->out, type, 0, ctx->seq, 0);
}

int ctx_send(latch_ctx *ctx, int fd)
{
	int r;

	ctx->error[0] = 0;
	r = wire_end(&ctx->out);
	if (r < 0)
		return ctx_fail(ctx, r, "request too large for the protocol");
	r = fdpass_send(ctx->fd, ctx->out.data, ctx->out.len, fd);
	if (r < 0)
		return ctx_fail(ctx, r == -EPIPE ? -ECONNRESET : r, "sending to latchd: %s",
				strerror(-r));
	return 0;
}

void ctx_reply_words(const struct wire_msg *m, char *out, size_t n)
{
	const char *text = "";

	(void)wire_get_str(&m->attrs, IPC_A_MESSAGE, &text);
	if (!*text)
		text = strerror(-m->hdr.status);
	text_clean(out, n, text, strlen(text)); /* data: shared/text.h */
}

int ctx_call(latch_ctx *ctx, int fd)
{
	char words[IPC_MESSAGE_MAX + 1];
	int r;

	r = ctx_send(ctx, fd);
	if (r < 0)
		return r;
	r = wait_until(ctx, ctx->seq, NULL);
	if (r < 0)
		return r;
	if (ctx->reply.hdr.status < 0) {
		ctx_reply_words(&ctx->reply, words, sizeof(words));
		return ctx_fail(ctx, ctx->reply.hdr.status, "%s", words);
	}
	return 0;
}

/* HELLO, asking for the generation page (cache.c); a daemon without it just says no. */
static int hello(latch_ctx *ctx)
{
	uint64_t features = 0;
	char err[256];
	int r, fd;

	ctx_begin(ctx, IPC_MSG_HELLO);
	wire_put_u32(&ctx->out, IPC_A_VERSION, IPC_VERSION);
	wire_put_u64(&ctx->out, IPC_A_FEATURES, IPC_FEATURE_GEN_PAGE);
	wire_put_str(&ctx->out, IPC_A_NAME, LIB_NAME);
	r = ctx_call(ctx, -1);
	fd = ctx->reply_fd;
	ctx->reply_fd = -1;
	if (r == 0 && (r = wire_hello_check(&ctx->reply, err, sizeof(err))) < 0)
		r = ctx_fail(ctx, r, "%s", err);
	if (r == 0 && fd >= 0 && wire_get_u64(&ctx->reply.attrs, IPC_A_FEATURES, &features) == 0 &&
	    (features & IPC_FEATURE_GEN_PAGE)) {
		cache_page(ctx, fd);
		fd = -1;
	}
	if (fd >= 0)
		close(fd);
	return r;
}

static void ctx_free_events(latch_ctx *ctx)
{
	while (ctx->events && ctx->ev_count)
		event_drop_oldest(ctx);
	free(ctx->events);
}

/* For latch_ctx_new() and the unit tests' fake daemon on a socketpair. */
int ctx_new_fd(int fd, latch_ctx **ret)
{
	latch_ctx *ctx = calloc(1, sizeof(*ctx));
	int r;

	if (!ctx) {
		close(fd);
		return -ENOMEM;
	}
	ctx->fd = fd;
	ctx->reply_fd = -1;
	ctx->timeout_ms = DEFAULT_TIMEOUT_MS;
	buf_init(&ctx->out, IPC_MSG_MAX);
	r = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ? -errno : hello(ctx);
	if (r < 0) {
		latch_ctx_free(ctx);
		return r;
	}
	*ret = ctx;
	return 0;
}

static int connect_unix(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, r;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

LATCH_EXPORT int latch_ctx_new(latch_ctx **ret, const char *path, unsigned flags)
{
	latch_ctx *ctx;
	int fd, r;

	if (!ret || flags)
		return ret_errno(-EINVAL);
	if (!path)
		path = getenv(LATCH_SOCKET_ENV);
	if (!path || !*path)
		path = LATCH_SOCKET_DEFAULT;
	fd = connect_unix(path);
	/* Nothing there or nobody listening: latchd is not running (not "no latch"). */
	if (fd == -ENOENT || fd == -ECONNREFUSED)
		fd = -ESRCH;
	if (fd < 0)
		return ret_errno(fd);
	r = ctx_new_fd(fd, &ctx);
	if (r < 0)
		return ret_errno(r);
	*ret = ctx;
	return 0;
}

LATCH_EXPORT void latch_ctx_free(latch_ctx *ctx)
{
	if (!ctx)
		return;
	close(ctx->fd);
	buf_free(&ctx->out);
	op_free_all(ctx);
	ctx_free_events(ctx);
	cache_free(ctx);
	free(ctx);
}

/*
 * Events were dropped: say so before the ones kept, as the state of no
 * particular latch (id 0), so the application asks again for all of them.
 */
static int deliver_lost(latch_ctx *ctx)
{
	char msg[128];

	snprintf(msg, sizeof(msg),
		 "%u events were dropped (more than %d undelivered): query the latches again",
		 ctx->ev_lost, EVENTS_MAX);
	ctx->ev_lost = 0;
	if (ctx->event_fn)
		ctx->event_fn(ctx, 0, LATCH_STATE_NONE, LATCH_REASON_OVERFLOW, msg,
			      ctx->event_data);
	return 1;
}

static int deliver_one(latch_ctx *ctx)
{
	struct event ev = ctx->events[ctx->ev_head];

	ctx->ev_head = (ctx->ev_head + 1) % EVENTS_MAX;
	ctx->ev_count--;
	if (ctx->event_fn)
		ctx->event_fn(ctx, ev.id, ev.state, ev.reason, ev.message, ctx->event_data);
	free(ev.message);
	return 1;
}

LATCH_EXPORT int latch_ctx_process(latch_ctx *ctx)
{
	int n = 0, r;

	if (!ctx)
		return ret_errno(-EINVAL);
	for (;;) {
		if (ctx->ev_lost)
			n += deliver_lost(ctx);
		while (ctx->ev_count)
			n += deliver_one(ctx);
		r = read_one(ctx, 0);
		if (r == -EAGAIN)
			return n;
		if (r < 0)
			return r;
	}
}

LATCH_EXPORT int latch_ctx_watch(latch_ctx *ctx, uint64_t latch_id)
{
	if (!ctx)
		return ret_errno(-EINVAL);
	ctx_begin(ctx, IPC_MSG_WATCH);
	if (latch_id)
		wire_put_u64(&ctx->out, IPC_A_LATCH_ID, latch_id);
	return ctx_call(ctx, -1);
}
