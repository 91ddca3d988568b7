/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LIB_INTERNAL_H
#define LATCH_LIB_INTERNAL_H

/*
 * What the modules of liblatch share and the application never sees: the
 * objects behind the opaque handles, their wire encoders and decoders, and
 * the ctx's request path. Unit tests include this to reach them.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "latch/latch.h"
#include "shared/buf.h"
#include "shared/wire.h"

#define LATCH_EXPORT __attribute__((visibility("default")))

/* Set errno to -r and return r: the convention of every public call. */
static inline int ret_errno(int r)
{
	if (r < 0)
		errno = -r;
	return r;
}

#define EVENTS_MAX 1024

struct latch_token {
	uint8_t encrypt, integrity, mode, on_break; /* on_break 0: not said (reset) */
	uint16_t encr_bits, integ_bits;
	unsigned flags;
	char *policy_name, *peer_id, *peer_pattern, *peer_ca;
	uint8_t spki[LATCH_TOKEN_SPKI_MAX][LATCH_SHA256_LEN];
	unsigned n_spki;
};

struct latch_ident {
	char *id, *subject, *issuer, *audit;
	int auth; /* -1: unknown */
	bool has_spki, has_cb;
	uint8_t spki[LATCH_SHA256_LEN];
	uint8_t cb[LATCH_CB_LEN];
	uint8_t *der; /* the peer's certificate as latchd sent it, or NULL */
	size_t der_len;
};

struct latch_info {
	uint64_t id;
	uint8_t state;
	uint16_t reason;
	char *message;
	struct latch_ident *local, *remote;
	struct latch_token *prot;
	bool has_tuple, has_sa;
	uint8_t family, proto;
	uint8_t laddr[16], raddr[16];
	uint16_t lport, rport;
	bool has_local, has_remote;
	int shared, sa_mode; /* shared -1: not said */
	uint32_t child_id, spi_in, spi_out;
	char *encr_alg, *integ_alg;
};

struct event {
	uint64_t id;
	uint8_t state;
	uint16_t reason;
	char *message;
};

/*
 * A request to latchd whose answer the application collects later (op.c):
 * latch_connect_start(), latch_accept_start(), and the blocking calls built
 * on them. Linked in its ctx until latch_op_finish() or latch_op_cancel().
 */
struct latch_op {
	struct latch_op *next;
	uint32_t seq;  /* of its request */
	uint16_t type; /* IPC_MSG_CONNECT or IPC_MSG_ACCEPT */
	int fd;	       /* the socket: connect's (borrowed), accept's new one (owned) */
	bool owns_fd;
	bool done;		      /* answered (or failed): status, error, info are set */
	int status;		      /* 0 or -errno */
	latch_info *info;	      /* the latch latchd answered with, when status is 0 */
	unsigned flags;		      /* the call's flags */
	struct sockaddr_storage addr; /* connect's destination */
	socklen_t addrlen;
	char error[IPC_MESSAGE_MAX + 1]; /* the words for a failure */
};

/* A latch info this ctx may answer itself (cache.c). */
struct cached {
	struct cached *next;
	uint64_t cookie; /* SO_COOKIE of the socket it describes: never reused */
	uint64_t gen;	 /* its generation slot's value when latchd answered */
	latch_info *info;
};

#define CACHE_BUCKETS 4096
#define CACHE_MAX     65536 /* latches answered locally at most */
#define CACHE_SWEEP   256   /* entries before the first sweep of stale ones */

struct latch_ctx {
	int fd;
	uint32_t seq;
	int timeout_ms;
	char error[IPC_MESSAGE_MAX + 1];
	latch_event_fn event_fn;
	void *event_data;
	struct event *events; /* ring of EVENTS_MAX */
	unsigned ev_head, ev_count;
	unsigned ev_lost; /* events dropped since the last delivery */
	struct buf out;
	uint8_t in[IPC_MSG_MAX];
	struct wire_msg reply; /* the last reply, borrowing in[] */
	int reply_fd;	       /* a descriptor that came with it (HELLO's page), or -1 */
	const uint64_t *gen;   /* latchd's generation page (IPC_FEATURE_GEN_PAGE), or NULL */
	struct cached **cache; /* CACHE_BUCKETS chains by cookie, made on first use */
	unsigned n_cached, sweep_at;
	struct latch_op *ops; /* requests in flight whose answers go to ops (op.c) */
};

/* ctx.c */
int ctx_new_fd(int fd, latch_ctx **ret); /* takes fd, even on failure; does HELLO */
int ctx_fail(latch_ctx *ctx, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Start a request in ctx->out; fill attributes, then ctx_call(). */
void ctx_begin(latch_ctx *ctx, uint16_t type);
/* Send ctx->out with fd (-1: none), wait for the reply into ctx->reply: 0 or -errno. */
int ctx_call(latch_ctx *ctx, int fd);
/* Read what latchd has sent (events are kept) without waiting: 0 or -errno. */
int ctx_drain(latch_ctx *ctx);
/* Send ctx->out with fd (-1: none) without waiting: 0 or -errno (ctx_fail'd). */
int ctx_send(latch_ctx *ctx, int fd);
/* Wait (latch_ctx_set_timeout()) until op is answered: 0 or -errno; op stays linked. */
int ctx_wait_op(latch_ctx *ctx, const struct latch_op *op);
/* latchd's words for a failed reply, made printable, into out. */
void ctx_reply_words(const struct wire_msg *m, char *out, size_t n);

/*
 * op.c: requests answered later. op_send() sends ctx->out (begun with
 * ctx_begin()) with fd and links *op; op_reply() takes an answer read by
 * ctx.c (the reply is in ctx->reply); op_take() unlinks one that is done.
 */
int op_send(latch_ctx *ctx, struct latch_op *op, int fd);
struct latch_op *op_find(latch_ctx *ctx, uint32_t seq);
void op_reply(latch_ctx *ctx, struct latch_op *op);
void op_fail(struct latch_op *op, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void op_unlink(latch_ctx *ctx, struct latch_op *op);
void op_free(struct latch_op *op);
void op_free_all(latch_ctx *ctx);

/*
 * cache.c: latch info answered without asking latchd. latchd counts every
 * change of a latch this ctx made in a shared page of generations; a reply
 * about such a latch carries its slot's value, and while the slot still
 * holds it the reply is still what latchd would answer.
 */
/* Map the page that came with HELLO's reply; takes fd. Without it nothing is cached. */
void cache_page(latch_ctx *ctx, int fd);
/* Keep the reply in ctx->reply, decoded as info, for the socket fd, if latchd numbered it. */
void cache_keep(latch_ctx *ctx, int fd, const latch_info *info);
/* 1 with *ret when the socket's latch info is known and current, 0 to ask latchd, or -errno. */
int cache_answer(latch_ctx *ctx, int fd, latch_info **ret);
void cache_free(latch_ctx *ctx);

/* token.c */
void token_encode(const struct latch_token *tok, struct buf *b);
int token_decode(const struct wire_attrs *prot, struct latch_token **ret);
void token_init(struct latch_token *tok);
void token_clear(struct latch_token *tok);
int str_check(const char *s, size_t max);
int str_set(char **dst, const char *s, size_t max);
/* *dst = a copy of src (NULL for NULL): 0 or -ENOMEM. */
int dup_str(char **dst, const char *src);

/* ident.c */
int ident_new(struct latch_ident **ret);
int ident_decode(const struct wire_attrs *a, struct latch_ident **ret);
/* The wire's CHANNEL_BINDING (raw 32 bytes, or with its RFC 5056 prefix) → 32 bytes. */
int cb_from_wire(const uint8_t *p, size_t n, uint8_t ret[LATCH_CB_LEN]);

/* socket.c: ACCEPT for a socket accept(2) gave; *ret always written on success. */
int socket_accepted(latch_ctx *ctx, int fd, latch_info **ret);
/* A socket address as the wire has it: IPv4-mapped IPv6 addresses are IPv4. */
int addr_parts(const struct sockaddr *sa, socklen_t len, uint8_t *family, const void **addr,
	       size_t *alen, uint16_t *port);

/* info.c */
int info_decode(const struct wire_msg *m, latch_info **ret);
int info_dup(const latch_info *info, latch_info **ret);
/* An unlatched accepted connection (R33): no id, state NONE, reason UNLATCHED. */
int info_unlatched(latch_info **ret);

#endif
