/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_VICI_MSG_H
#define LATCH_LATCHD_VICI_MSG_H

/*
 * strongSwan VICI wire format (charon 5.9.8), as a pure codec: bytes in,
 * a tree or callbacks out; a tree in, bytes out. No I/O, no logging.
 *
 * A frame is a 32-bit big-endian length followed by that many bytes: a
 * packet type, a name (u8 length + bytes) for the named types, then a
 * message. A message is a flat sequence of elements that open and close
 * sections and lists. Decoding never trusts a length: every rejection sets
 * struct vici_err to one code and the offset in the packet where it applies.
 *
 * The tree keeps the element order, so decode + encode reproduces the bytes
 * charon sent. Values are stored with a trailing NUL that is not part of
 * value_len, so strings can be used directly; binary values (certificates)
 * use value_len.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/buf.h"

#define VICI_FRAME_MAX (512u * 1024u) /* vici_socket.h VICI_MESSAGE_SIZE_MAX */
#define VICI_NAME_MAX  255u
#define VICI_VALUE_MAX 65535u
#define VICI_DEPTH_MAX 16u /* charon's deepest (child-rekey) is 5 */

enum vici_pkt {
	VICI_CMD_REQUEST = 0,
	VICI_CMD_RESPONSE = 1,
	VICI_CMD_UNKNOWN = 2,
	VICI_EVENT_REGISTER = 3,
	VICI_EVENT_UNREGISTER = 4,
	VICI_EVENT_CONFIRM = 5,
	VICI_EVENT_UNKNOWN = 6,
	VICI_EVENT = 7,
};

enum vici_elem {
	VICI_SECTION_START = 1,
	VICI_SECTION_END = 2,
	VICI_KEY_VALUE = 3,
	VICI_LIST_START = 4,
	VICI_LIST_ITEM = 5,
	VICI_LIST_END = 6,
};

enum vici_errcode {
	VICI_OK = 0,
	VICI_E_FRAME_EMPTY,	   /* length 0: no packet type */
	VICI_E_FRAME_TOO_BIG,	   /* length over VICI_FRAME_MAX */
	VICI_E_PKT_TYPE,	   /* packet type above 7 */
	VICI_E_PKT_NAME,	   /* named packet without (a whole) name */
	VICI_E_PKT_TRAILING,	   /* bytes after a packet type that carries no message */
	VICI_E_ELEM_TYPE,	   /* element type 0 or above 6 */
	VICI_E_TRUNCATED,	   /* element ends before its length field */
	VICI_E_NAME_OVERRUN,	   /* name length points past the end */
	VICI_E_VALUE_OVERRUN,	   /* value length points past the end */
	VICI_E_NAME_EMPTY,	   /* zero-length name */
	VICI_E_NAME_NUL,	   /* NUL byte inside a name */
	VICI_E_SECTION_UNBALANCED, /* SECTION_END with no section open */
	VICI_E_SECTION_UNCLOSED,   /* message ends inside a section */
	VICI_E_LIST_UNCLOSED,	   /* message ends inside a list */
	VICI_E_ITEM_OUTSIDE_LIST,  /* LIST_ITEM or LIST_END outside a list */
	VICI_E_IN_LIST,		   /* section, key or list inside a list */
	VICI_E_TOO_DEEP,	   /* more than VICI_DEPTH_MAX open sections */
	VICI_E_NAME_TOO_LONG,	   /* encoder: name over 255 bytes */
	VICI_E_VALUE_TOO_LONG,	   /* encoder: value over 65535 bytes */
	VICI_E_MSG_TOO_BIG,	   /* encoder: frame over VICI_FRAME_MAX */
	VICI_E_NOMEM,
	VICI_E_INVALID,	 /* encoder: tree built wrongly (empty name, item outside a list) */
	VICI_E_CALLBACK, /* a parse callback refused the element */
};

struct vici_err {
	enum vici_errcode code;
	size_t offset; /* in the packet (frame body) or the message given */
};

/* Static English text for a code, e.g. "section end without section start". */
const char *vici_strerror(enum vici_errcode code);

/* ---- frames and packets ---- */

/*
 * Check the 4-byte frame header. Returns 0 and the body length, or -EMSGSIZE
 * (VICI_E_FRAME_TOO_BIG) / -EBADMSG (VICI_E_FRAME_EMPTY).
 */
int vici_frame_len(const uint8_t hdr[4], uint32_t *len, struct vici_err *err);

struct vici_packet {
	enum vici_pkt type;
	char name[VICI_NAME_MAX + 1]; /* "" for unnamed types */
	const uint8_t *msg;	      /* borrowed from the decoded bytes */
	size_t msg_len;
};

/* Split a frame body into type, name and message. -EBADMSG with err set on failure. */
int vici_packet_decode(const uint8_t *body, size_t len, struct vici_packet *pkt,
		       struct vici_err *err);

static inline bool vici_pkt_named(enum vici_pkt t)
{
	return t == VICI_CMD_REQUEST || t == VICI_EVENT_REGISTER || t == VICI_EVENT_UNREGISTER ||
	       t == VICI_EVENT;
}

static inline bool vici_pkt_has_msg(enum vici_pkt t)
{
	return t == VICI_CMD_REQUEST || t == VICI_CMD_RESPONSE || t == VICI_EVENT;
}

/* ---- streaming parser ---- */

/*
 * Callbacks for vici_parse(). Names are passed as NUL-terminated copies (at
 * most 255 bytes); values are borrowed and not terminated. A callback
 * returning non-zero stops the parse with VICI_E_CALLBACK and that value.
 * Any callback may be NULL.
 */
struct vici_parse_ops {
	int (*section_start)(void *u, const char *name);
	int (*section_end)(void *u);
	int (*key_value)(void *u, const char *name, const uint8_t *value, size_t len);
	int (*list_start)(void *u, const char *name);
	int (*list_item)(void *u, const uint8_t *value, size_t len);
	int (*list_end)(void *u);
};

/* Validate and walk a message. 0, or -EBADMSG (or the callback's value) with err set. */
int vici_parse(const uint8_t *msg, size_t len, const struct vici_parse_ops *ops, void *u,
	       struct vici_err *err);

/* ---- tree ---- */

enum vici_node_type {
	VICI_NODE_SECTION,
	VICI_NODE_VALUE, /* key = value */
	VICI_NODE_LIST,
	VICI_NODE_ITEM, /* list item: name is NULL */
};

struct vici_node {
	enum vici_node_type type;
	char *name;	/* NULL for the root and for list items */
	uint8_t *value; /* VALUE and ITEM: value_len bytes + a NUL */
	size_t value_len;
	struct vici_node *parent;
	struct vici_node *child, *last; /* SECTION: members; LIST: items */
	struct vici_node *next;
	int err; /* root only: first builder error, latched */
};

/* An empty root section. NULL on allocation failure. */
struct vici_node *vici_msg_new(void);
/* Frees a node and everything below it; NULL-safe. Unlinks it from its parent. */
void vici_node_free(struct vici_node *n);

/*
 * Builders. They latch the first error in the root (vici_msg_error()), so a
 * caller can build a whole message and check once: a NULL parent or a
 * failed earlier step makes them no-ops returning NULL / the error.
 */
struct vici_node *vici_add_section(struct vici_node *sec, const char *name);
struct vici_node *vici_add_list(struct vici_node *sec, const char *name);
int vici_add_kv(struct vici_node *sec, const char *name, const char *value);
int vici_add_kvb(struct vici_node *sec, const char *name, const void *value, size_t len);
int vici_add_kvf(struct vici_node *sec, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int vici_add_item(struct vici_node *list, const char *value);
int vici_add_itemb(struct vici_node *list, const void *value, size_t len);
int vici_msg_error(const struct vici_node *n);

/* Decode a message into a new tree (*out), or into an existing section. */
int vici_msg_decode(const uint8_t *msg, size_t len, struct vici_node **out, struct vici_err *err);
int vici_msg_decode_into(struct vici_node *sec, const uint8_t *msg, size_t len,
			 struct vici_err *err);

/* Append the elements below sec (not sec itself) to b. */
int vici_msg_encode(struct buf *b, const struct vici_node *sec, struct vici_err *err);

/*
 * Append a whole frame: length, type, name (named types only), message
 * (types with a message only; NULL means empty). b may already hold frames.
 */
int vici_frame_encode(struct buf *b, enum vici_pkt type, const char *name,
		      const struct vici_node *msg, struct vici_err *err);

/* ---- lookups ---- */

/* First member of sec called name, of any type; NULL if sec is not a section. */
const struct vici_node *vici_get(const struct vici_node *sec, const char *name);
const struct vici_node *vici_get_section(const struct vici_node *sec, const char *name);
const struct vici_node *vici_get_list(const struct vici_node *sec, const char *name);
/* The value of key name as a string, or NULL when absent or not a key. */
const char *vici_get_str(const struct vici_node *sec, const char *name);
/* Decimal value of key name: 0, -ENOENT when absent, -EINVAL when not a number. */
int vici_get_u64(const struct vici_node *sec, const char *name, uint64_t *out);
/* "yes" → true; anything else, or absent → false. */
bool vici_get_yes(const struct vici_node *sec, const char *name);

#endif
