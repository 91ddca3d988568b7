/* SPDX-License-Identifier: MIT */
#ifndef LATCH_SHARED_WIRE_H
#define LATCH_SHARED_WIRE_H

/*
 * The pure codec of the IPC protocol (proto.h): bytes in, validated views
 * out; values in, bytes out. No I/O, no logging, no allocation in the
 * decoder.
 *
 * Encoding:
 *
 *	struct buf b;
 *	buf_init(&b, IPC_MSG_MAX);
 *	wire_begin(&b, IPC_MSG_QUERY, 0, seq, 0);
 *	wire_put_u64(&b, IPC_A_LATCH_ID, id);
 *	nest = wire_nest_begin(&b, IPC_A_TUPLE);
 *	wire_put_u8(&b, IPC_A_TUPLE_FAMILY, IPC_FAMILY_INET);
 *	wire_nest_end(&b, nest);
 *	r = wire_end(&b);		// 0, -ENOMEM or -EMSGSIZE
 *
 * Decoding: wire_parse() checks the header, every attribute's bounds,
 * alignment and padding, and the message against the schema table (which
 * attributes it allows, requires or lets repeat, their kinds and limits,
 * whether the socket must come with it). On success every getter on the view
 * is safe; the view borrows the caller's bytes.
 *
 * Rejections, each with a message naming what was wrong:
 *	-EMSGSIZE	longer than IPC_MSG_MAX
 *	-EBADMSG	malformed framing: short header, attribute length or
 *			padding wrong, unknown flag, status out of range
 *	-EOPNOTSUPP	unknown message type, or not one this side may receive
 *	-EINVAL		attribute unknown, misplaced, missing, repeated, of the
 *			wrong size, or with a value out of range; a string with
 *			a NUL inside, or (sent by a client) no clean text
 *			(shared/text.h): latchd's strings are data to receivers,
 *			who clean what they show of them
 *	-EBADF		the socket is missing, or came with a message that takes none
 *	-EPROTO		(wire_hello_check) another protocol version
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/buf.h"
#include "shared/proto.h"

/* Who sent the bytes: a client sends requests; the daemon replies and events. */
enum wire_from {
	WIRE_FROM_CLIENT,
	WIRE_FROM_DAEMON,
};

enum wire_kind {
	WIRE_NONE, /* not an attribute the protocol defines */
	WIRE_U8,
	WIRE_U16,
	WIRE_U32,
	WIRE_U64,
	WIRE_STR,
	WIRE_BYTES,
	WIRE_NEST,
};

struct wire_hdr {
	uint16_t type;
	uint16_t flags;
	uint32_t seq;
	int32_t status;
};

/* A validated run of attributes: a message's top level, or a container's value. */
struct wire_attrs {
	const uint8_t *p;
	size_t len;
};

struct wire_attr {
	uint16_t type;
	uint16_t len; /* of the value */
	const uint8_t *val;
};

struct wire_msg {
	struct wire_hdr hdr;
	struct wire_attrs attrs;
};

/* Encoder. Errors latch in the buf (see buf.h); wire_end() reports them. */
void wire_begin(struct buf *b, uint16_t type, uint16_t flags, uint32_t seq, int32_t status);
void wire_put_u8(struct buf *b, uint16_t type, uint8_t v);
void wire_put_u16(struct buf *b, uint16_t type, uint16_t v);
void wire_put_u32(struct buf *b, uint16_t type, uint32_t v);
void wire_put_u64(struct buf *b, uint16_t type, uint64_t v);
void wire_put_str(struct buf *b, uint16_t type, const char *s);
void wire_put_bytes(struct buf *b, uint16_t type, const void *p, size_t n);
/* Returns where the container starts, for wire_nest_end(). */
size_t wire_nest_begin(struct buf *b, uint16_t type);
void wire_nest_end(struct buf *b, size_t start);
/* 0 when b holds one complete message; -ENOMEM, or -EMSGSIZE past IPC_MSG_MAX. */
int wire_end(const struct buf *b);

/*
 * Validate n bytes as a message sent by `from`, which arrived with nfds
 * descriptors. On success fills *ret (borrowing p). On failure returns
 * -errno, writes a NUL-terminated reason into err (if errlen > 0) and
 * leaves *ret alone.
 */
int wire_parse(const void *p, size_t n, enum wire_from from, unsigned nfds, struct wire_msg *ret,
	       char *err, size_t errlen);

/* Just the header, for answering a message wire_parse() refused. -EBADMSG if short. */
int wire_peek_hdr(const void *p, size_t n, struct wire_hdr *ret);

/* -EPROTO, with a message, unless a HELLO asks for IPC_VERSION. */
int wire_hello_check(const struct wire_msg *m, char *err, size_t errlen);

/*
 * Getters on a validated view: 0, -ENOENT when absent, -EINVAL when the
 * attribute is of another kind than the getter. Strings and bytes borrow
 * the message's memory.
 */
int wire_get_u8(const struct wire_attrs *a, uint16_t type, uint8_t *ret);
int wire_get_u16(const struct wire_attrs *a, uint16_t type, uint16_t *ret);
int wire_get_u32(const struct wire_attrs *a, uint16_t type, uint32_t *ret);
int wire_get_u64(const struct wire_attrs *a, uint16_t type, uint64_t *ret);
int wire_get_str(const struct wire_attrs *a, uint16_t type, const char **ret);
int wire_get_bytes(const struct wire_attrs *a, uint16_t type, const uint8_t **ret, size_t *ret_len);
int wire_get_nested(const struct wire_attrs *a, uint16_t type, struct wire_attrs *ret);
bool wire_has(const struct wire_attrs *a, uint16_t type);

/*
 * Iterate: start with *cursor = 0; returns 1 and the next attribute (of the
 * given type, or of any type when type is 0), 0 at the end.
 */
int wire_next(const struct wire_attrs *a, uint16_t type, size_t *cursor, struct wire_attr *ret);

/* Names for messages and logs; "?" when unknown. */
const char *wire_msg_name(uint16_t type);
const char *wire_attr_name(uint16_t type);
/* enum ipc_reason as latchctl, metrics labels and journal fields name it ("sa-conflict"). */
const char *wire_reason_name(uint16_t reason);
/*
 * A latch state's one name, RFC 5660's ("LARVAL" for 5), as liblatch,
 * latchctl and latchd's logs all say it; NULL for none.
 */
const char *wire_state_name(uint8_t state);
enum wire_kind wire_attr_kind(uint16_t type);

#endif
