/* SPDX-License-Identifier: MIT */
#include "latchd/charon/vici-msg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const errtext[] = {
	[VICI_OK] = "no error",
	[VICI_E_FRAME_EMPTY] = "empty frame (no packet type)",
	[VICI_E_FRAME_TOO_BIG] = "frame longer than 512 KiB",
	[VICI_E_PKT_TYPE] = "unknown packet type",
	[VICI_E_PKT_NAME] = "named packet without a complete name",
	[VICI_E_PKT_TRAILING] = "bytes after a packet that carries no message",
	[VICI_E_ELEM_TYPE] = "unknown element type",
	[VICI_E_TRUNCATED] = "element truncated before its length field",
	[VICI_E_NAME_OVERRUN] = "name longer than the bytes left",
	[VICI_E_VALUE_OVERRUN] = "value longer than the bytes left",
	[VICI_E_NAME_EMPTY] = "empty name",
	[VICI_E_NAME_NUL] = "NUL byte in a name",
	[VICI_E_SECTION_UNBALANCED] = "section end without section start",
	[VICI_E_SECTION_UNCLOSED] = "message ends inside a section",
	[VICI_E_LIST_UNCLOSED] = "message ends inside a list",
	[VICI_E_ITEM_OUTSIDE_LIST] = "list item or list end outside a list",
	[VICI_E_IN_LIST] = "section, key or list inside a list",
	[VICI_E_TOO_DEEP] = "sections nested too deep",
	[VICI_E_NAME_TOO_LONG] = "name longer than 255 bytes",
	[VICI_E_VALUE_TOO_LONG] = "value longer than 65535 bytes",
	[VICI_E_MSG_TOO_BIG] = "message longer than 512 KiB",
	[VICI_E_NOMEM] = "out of memory",
	[VICI_E_INVALID] = "message built wrongly",
	[VICI_E_CALLBACK] = "refused by the receiver",
};

const char *vici_strerror(enum vici_errcode code)
{
	if ((size_t)code >= sizeof(errtext) / sizeof(errtext[0]) || !errtext[code])
		return "unknown error";
	return errtext[code];
}

static int fail(struct vici_err *err, enum vici_errcode code, size_t offset, int ret)
{
	if (err) {
		err->code = code;
		err->offset = offset;
	}
	return ret;
}

/* ---- frames and packets ---- */

int vici_frame_len(const uint8_t hdr[4], uint32_t *len, struct vici_err *err)
{
	uint32_t n =
		(uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];

	if (n > VICI_FRAME_MAX)
		return fail(err, VICI_E_FRAME_TOO_BIG, 0, -EMSGSIZE);
	if (n == 0)
		return fail(err, VICI_E_FRAME_EMPTY, 0, -EBADMSG);
	*len = n;
	return 0;
}

/* A name: u8 length, then that many bytes, none of them NUL (names become C strings). */
static int read_name(struct rd *r, size_t at, char name[VICI_NAME_MAX + 1], struct vici_err *err,
		     enum vici_errcode overrun)
{
	const uint8_t *p;
	uint8_t n;

	if (!rd_u8(r, &n))
		return fail(err, VICI_E_TRUNCATED, at, -EBADMSG);
	if (!rd_bytes(r, n, &p))
		return fail(err, overrun, at, -EBADMSG);
	if (n == 0)
		return fail(err, VICI_E_NAME_EMPTY, at, -EBADMSG);
	if (memchr(p, 0, n))
		return fail(err, VICI_E_NAME_NUL, at, -EBADMSG);
	memcpy(name, p, n);
	name[n] = '\0';
	return 0;
}

int vici_packet_decode(const uint8_t *body, size_t len, struct vici_packet *pkt,
		       struct vici_err *err)
{
	struct rd r = rd_make(body, len);
	uint8_t type;
	int ret;

	if (len > VICI_FRAME_MAX)
		return fail(err, VICI_E_FRAME_TOO_BIG, 0, -EMSGSIZE);
	if (!rd_u8(&r, &type))
		return fail(err, VICI_E_FRAME_EMPTY, 0, -EBADMSG);
	if (type > VICI_EVENT)
		return fail(err, VICI_E_PKT_TYPE, 0, -EBADMSG);
	pkt->type = type;
	pkt->name[0] = '\0';
	if (vici_pkt_named(type)) {
		ret = read_name(&r, 1, pkt->name, err, VICI_E_PKT_NAME);
		if (ret == -EBADMSG && err && err->code == VICI_E_TRUNCATED)
			err->code = VICI_E_PKT_NAME;
		if (ret < 0)
			return ret;
	}
	if (!vici_pkt_has_msg(type) && r.left)
		return fail(err, VICI_E_PKT_TRAILING, len - r.left, -EBADMSG);
	pkt->msg = r.left ? r.p : NULL;
	pkt->msg_len = r.left;
	return 0;
}

/* ---- streaming parser ---- */

struct pstate {
	struct rd r;
	size_t len;
	unsigned depth;
	bool in_list;
	const struct vici_parse_ops *ops;
	void *u;
	struct vici_err *err;
};

static int read_value(struct pstate *s, size_t at, const uint8_t **v, size_t *vlen)
{
	uint16_t n;

	if (!rd_be16(&s->r, &n))
		return fail(s->err, VICI_E_TRUNCATED, at, -EBADMSG);
	if (!rd_bytes(&s->r, n, v))
		return fail(s->err, VICI_E_VALUE_OVERRUN, at, -EBADMSG);
	*vlen = n;
	return 0;
}

static int called(struct pstate *s, size_t at, int ret)
{
	if (ret == 0)
		return 0;
	return fail(s->err, VICI_E_CALLBACK, at, ret < 0 ? ret : -ECANCELED);
}

#define CALL(s, at, fn, ...) called(s, at, (s)->ops->fn ? (s)->ops->fn((s)->u, ##__VA_ARGS__) : 0)

static int parse_named(struct pstate *s, uint8_t type, size_t at)
{
	char name[VICI_NAME_MAX + 1];
	const uint8_t *v;
	size_t vlen;
	int ret;

	if (s->in_list)
		return fail(s->err, VICI_E_IN_LIST, at, -EBADMSG);
	if (type == VICI_SECTION_START && s->depth == VICI_DEPTH_MAX)
		return fail(s->err, VICI_E_TOO_DEEP, at, -EBADMSG);
	ret = read_name(&s->r, at + 1, name, s->err, VICI_E_NAME_OVERRUN);
	if (ret < 0)
		return ret;
	switch (type) {
	case VICI_SECTION_START:
		s->depth++;
		return CALL(s, at, section_start, name);
	case VICI_LIST_START:
		s->in_list = true;
		return CALL(s, at, list_start, name);
	default:
		ret = read_value(s, s->len - s->r.left, &v, &vlen);
		return ret < 0 ? ret : CALL(s, at, key_value, name, v, vlen);
	}
}

static int parse_element(struct pstate *s)
{
	size_t at = s->len - s->r.left;
	const uint8_t *v;
	size_t vlen;
	uint8_t type;
	int ret;

	rd_u8(&s->r, &type);
	switch (type) {
	case VICI_SECTION_START:
	case VICI_KEY_VALUE:
	case VICI_LIST_START:
		return parse_named(s, type, at);
	case VICI_SECTION_END:
		if (s->in_list)
			return fail(s->err, VICI_E_IN_LIST, at, -EBADMSG);
		if (s->depth == 0)
			return fail(s->err, VICI_E_SECTION_UNBALANCED, at, -EBADMSG);
		s->depth--;
		return CALL(s, at, section_end);
	case VICI_LIST_ITEM:
		if (!s->in_list)
			return fail(s->err, VICI_E_ITEM_OUTSIDE_LIST, at, -EBADMSG);
		ret = read_value(s, at + 1, &v, &vlen);
		return ret < 0 ? ret : CALL(s, at, list_item, v, vlen);
	case VICI_LIST_END:
		if (!s->in_list)
			return fail(s->err, VICI_E_ITEM_OUTSIDE_LIST, at, -EBADMSG);
		s->in_list = false;
		return CALL(s, at, list_end);
	default:
		return fail(s->err, VICI_E_ELEM_TYPE, at, -EBADMSG);
	}
}

int vici_parse(const uint8_t *msg, size_t len, const struct vici_parse_ops *ops, void *u,
	       struct vici_err *err)
{
	static const struct vici_parse_ops none;
	struct pstate s = {
		.r = rd_make(msg, len), .len = len, .ops = ops ? ops : &none, .u = u, .err = err
	};
	int ret;

	if (len > VICI_FRAME_MAX)
		return fail(err, VICI_E_MSG_TOO_BIG, 0, -EMSGSIZE);
	while (s.r.left) {
		ret = parse_element(&s);
		if (ret < 0)
			return ret;
	}
	if (s.in_list)
		return fail(err, VICI_E_LIST_UNCLOSED, len, -EBADMSG);
	if (s.depth)
		return fail(err, VICI_E_SECTION_UNCLOSED, len, -EBADMSG);
	return fail(err, VICI_OK, 0, 0);
}

/* ---- tree ---- */

static struct vici_node *root_of(struct vici_node *n)
{
	while (n->parent)
		n = n->parent;
	return n;
}

static void latch_err(struct vici_node *n, int err)
{
	n = root_of(n);
	if (!n->err)
		n->err = err;
}

static unsigned depth_of(const struct vici_node *n)
{
	unsigned d = 0;

	for (; n->parent; n = n->parent)
		d++;
	return d;
}

/* One allocation holds the node, its name and its value. */
static struct vici_node *node_new(enum vici_node_type type, const char *name, size_t nlen,
				  const void *value, size_t vlen)
{
	struct vici_node *n = calloc(1, sizeof(*n) + (name ? nlen + 1 : 0) + vlen + 1);
	char *tail;

	if (!n)
		return NULL;
	n->type = type;
	tail = (char *)(n + 1);
	if (name) {
		n->name = memcpy(tail, name, nlen);
		n->name[nlen] = '\0';
		tail += nlen + 1;
	}
	if (type == VICI_NODE_VALUE || type == VICI_NODE_ITEM) {
		n->value = (uint8_t *)tail;
		if (vlen)
			memcpy(n->value, value, vlen);
		n->value[vlen] = '\0';
		n->value_len = vlen;
	}
	return n;
}

static void link_child(struct vici_node *parent, struct vici_node *n)
{
	n->parent = parent;
	if (parent->last)
		parent->last->next = n;
	else
		parent->child = n;
	parent->last = n;
}

struct vici_node *vici_msg_new(void)
{
	return node_new(VICI_NODE_SECTION, NULL, 0, NULL, 0);
}

static void free_tree(struct vici_node *n)
{
	struct vici_node *c, *next;

	for (c = n->child; c; c = next) {
		next = c->next;
		free_tree(c);
	}
	free(n);
}

void vici_node_free(struct vici_node *n)
{
	struct vici_node *p, **pp;

	if (!n)
		return;
	p = n->parent;
	if (p) {
		struct vici_node *prev = NULL;

		for (pp = &p->child; *pp != n; pp = &(*pp)->next)
			prev = *pp;
		*pp = n->next;
		if (p->last == n)
			p->last = prev;
	}
	free_tree(n);
}

static struct vici_node *add_node(struct vici_node *parent, enum vici_node_type type,
				  const char *name, const void *value, size_t vlen)
{
	enum vici_node_type want = type == VICI_NODE_ITEM ? VICI_NODE_LIST : VICI_NODE_SECTION;
	size_t nlen = name ? strlen(name) : 0;
	struct vici_node *n;

	if (!parent)
		return NULL;
	if (parent->type != want || (type != VICI_NODE_ITEM && nlen == 0)) {
		latch_err(parent, -EINVAL);
		return NULL;
	}
	if (nlen > VICI_NAME_MAX || vlen > VICI_VALUE_MAX) {
		latch_err(parent, nlen > VICI_NAME_MAX ? -ENAMETOOLONG : -EMSGSIZE);
		return NULL;
	}
	if (type == VICI_NODE_SECTION && depth_of(parent) >= VICI_DEPTH_MAX) {
		latch_err(parent, -ELOOP);
		return NULL;
	}
	n = node_new(type, name, nlen, value, vlen);
	if (!n) {
		latch_err(parent, -ENOMEM);
		return NULL;
	}
	link_child(parent, n);
	return n;
}

struct vici_node *vici_add_section(struct vici_node *sec, const char *name)
{
	return add_node(sec, VICI_NODE_SECTION, name, NULL, 0);
}

struct vici_node *vici_add_list(struct vici_node *sec, const char *name)
{
	return add_node(sec, VICI_NODE_LIST, name, NULL, 0);
}

static int added(struct vici_node *parent, struct vici_node *n)
{
	if (n)
		return 0;
	return parent ? vici_msg_error(parent) : -EINVAL;
}

int vici_add_kvb(struct vici_node *sec, const char *name, const void *value, size_t len)
{
	return added(sec, add_node(sec, VICI_NODE_VALUE, name, value, len));
}

int vici_add_kv(struct vici_node *sec, const char *name, const char *value)
{
	return vici_add_kvb(sec, name, value, strlen(value));
}

int vici_add_kvf(struct vici_node *sec, const char *name, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		if (sec)
			latch_err(sec, -EINVAL);
		return -EINVAL;
	}
	return vici_add_kvb(sec, name, tmp, (size_t)n);
}

int vici_add_itemb(struct vici_node *list, const void *value, size_t len)
{
	return added(list, add_node(list, VICI_NODE_ITEM, NULL, value, len));
}

int vici_add_item(struct vici_node *list, const char *value)
{
	return vici_add_itemb(list, value, strlen(value));
}

int vici_msg_error(const struct vici_node *n)
{
	if (!n)
		return -EINVAL;
	while (n->parent)
		n = n->parent;
	return n->err;
}

/* ---- decoding into a tree ---- */

struct tbuild {
	struct vici_node *cur;
	int err;
};

static int tb_add(struct tbuild *t, enum vici_node_type type, const char *name, const uint8_t *v,
		  size_t vlen)
{
	struct vici_node *n = node_new(type, name, name ? strlen(name) : 0, v, vlen);

	if (!n)
		return -ENOMEM;
	link_child(t->cur, n);
	if (type == VICI_NODE_SECTION || type == VICI_NODE_LIST)
		t->cur = n;
	return 0;
}

static int tb_section_start(void *u, const char *name)
{
	return tb_add(u, VICI_NODE_SECTION, name, NULL, 0);
}

static int tb_close(void *u)
{
	struct tbuild *t = u;

	t->cur = t->cur->parent;
	return 0;
}

static int tb_kv(void *u, const char *name, const uint8_t *v, size_t len)
{
	return tb_add(u, VICI_NODE_VALUE, name, v, len);
}

static int tb_list_start(void *u, const char *name)
{
	return tb_add(u, VICI_NODE_LIST, name, NULL, 0);
}

static int tb_item(void *u, const uint8_t *v, size_t len)
{
	return tb_add(u, VICI_NODE_ITEM, NULL, v, len);
}

static const struct vici_parse_ops tree_ops = {
	.section_start = tb_section_start,
	.section_end = tb_close,
	.key_value = tb_kv,
	.list_start = tb_list_start,
	.list_item = tb_item,
	.list_end = tb_close,
};

int vici_msg_decode_into(struct vici_node *sec, const uint8_t *msg, size_t len,
			 struct vici_err *err)
{
	struct tbuild t = { .cur = sec };
	struct vici_node *keep = sec->last;
	int ret;

	/* Validate first, so a rejected message leaves sec as it was. */
	ret = vici_parse(msg, len, NULL, NULL, err);
	if (ret < 0)
		return ret;
	ret = vici_parse(msg, len, &tree_ops, &t, err);
	if (ret < 0) {
		while (sec->last != keep)
			vici_node_free(sec->last);
		if (err && err->code == VICI_E_CALLBACK)
			err->code = VICI_E_NOMEM;
	}
	return ret;
}

int vici_msg_decode(const uint8_t *msg, size_t len, struct vici_node **out, struct vici_err *err)
{
	struct vici_node *root = vici_msg_new();
	int ret;

	if (!root)
		return fail(err, VICI_E_NOMEM, 0, -ENOMEM);
	ret = vici_msg_decode_into(root, msg, len, err);
	if (ret < 0) {
		vici_node_free(root);
		return ret;
	}
	*out = root;
	return 0;
}

/* ---- encoding ---- */

static int put_name(struct buf *b, const char *name, struct vici_err *err)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0)
		return fail(err, VICI_E_INVALID, b->len, -EINVAL);
	if (n > VICI_NAME_MAX)
		return fail(err, VICI_E_NAME_TOO_LONG, b->len, -ENAMETOOLONG);
	buf_put_u8(b, (uint8_t)n);
	buf_put(b, name, n);
	return 0;
}

static int put_value(struct buf *b, const struct vici_node *n, struct vici_err *err)
{
	if (n->value_len > VICI_VALUE_MAX)
		return fail(err, VICI_E_VALUE_TOO_LONG, b->len, -EMSGSIZE);
	buf_put_be16(b, (uint16_t)n->value_len);
	buf_put(b, n->value, n->value_len);
	return 0;
}

static int encode_list(struct buf *b, const struct vici_node *list, struct vici_err *err)
{
	int ret = put_name(b, list->name, err);

	for (const struct vici_node *i = list->child; i && ret == 0; i = i->next) {
		buf_put_u8(b, VICI_LIST_ITEM);
		ret = put_value(b, i, err);
	}
	buf_put_u8(b, VICI_LIST_END);
	return ret;
}

static int encode_members(struct buf *b, const struct vici_node *sec, unsigned depth,
			  struct vici_err *err)
{
	int ret = 0;

	for (const struct vici_node *n = sec->child; n && ret == 0; n = n->next) {
		switch (n->type) {
		case VICI_NODE_SECTION:
			if (depth == VICI_DEPTH_MAX)
				return fail(err, VICI_E_TOO_DEEP, b->len, -ELOOP);
			buf_put_u8(b, VICI_SECTION_START);
			ret = put_name(b, n->name, err);
			if (ret == 0)
				ret = encode_members(b, n, depth + 1, err);
			buf_put_u8(b, VICI_SECTION_END);
			break;
		case VICI_NODE_VALUE:
			buf_put_u8(b, VICI_KEY_VALUE);
			ret = put_name(b, n->name, err);
			if (ret == 0)
				ret = put_value(b, n, err);
			break;
		case VICI_NODE_LIST:
			buf_put_u8(b, VICI_LIST_START);
			ret = encode_list(b, n, err);
			break;
		case VICI_NODE_ITEM:
			ret = fail(err, VICI_E_INVALID, b->len, -EINVAL);
			break;
		}
	}
	return ret;
}

static int buf_result(struct buf *b, struct vici_err *err)
{
	int ret = buf_error(b);

	if (ret == -EMSGSIZE)
		return fail(err, VICI_E_MSG_TOO_BIG, b->len, ret);
	if (ret < 0)
		return fail(err, VICI_E_NOMEM, b->len, ret);
	return fail(err, VICI_OK, 0, 0);
}

/* The builders latch an errno; say which rule it broke. */
static enum vici_errcode builder_code(int e)
{
	switch (e) {
	case -ENAMETOOLONG:
		return VICI_E_NAME_TOO_LONG;
	case -EMSGSIZE:
		return VICI_E_VALUE_TOO_LONG;
	case -ELOOP:
		return VICI_E_TOO_DEEP;
	case -ENOMEM:
		return VICI_E_NOMEM;
	default:
		return VICI_E_INVALID;
	}
}

int vici_msg_encode(struct buf *b, const struct vici_node *sec, struct vici_err *err)
{
	int ret;

	if (sec->type != VICI_NODE_SECTION)
		return fail(err, VICI_E_INVALID, 0, -EINVAL);
	if (sec->err)
		return fail(err, builder_code(sec->err), 0, sec->err);
	ret = encode_members(b, sec, 0, err);
	return ret < 0 ? ret : buf_result(b, err);
}

int vici_frame_encode(struct buf *b, enum vici_pkt type, const char *name,
		      const struct vici_node *msg, struct vici_err *err)
{
	size_t start = b->len;
	int ret = 0;

	if ((unsigned)type > VICI_EVENT)
		return fail(err, VICI_E_PKT_TYPE, start, -EINVAL);
	buf_put_be32(b, 0);
	buf_put_u8(b, (uint8_t)type);
	if (vici_pkt_named(type))
		ret = put_name(b, name, err);
	if (ret == 0 && msg && vici_pkt_has_msg(type))
		ret = vici_msg_encode(b, msg, err);
	if (ret == 0)
		ret = buf_result(b, err);
	if (ret == 0 && b->len - start - 4 > VICI_FRAME_MAX)
		ret = fail(err, VICI_E_MSG_TOO_BIG, start, -EMSGSIZE);
	if (ret < 0) {
		if (!buf_error(b))
			b->len = start;
		return ret;
	}
	buf_set_be32(b, start, (uint32_t)(b->len - start - 4));
	return 0;
}

/* ---- lookups ---- */

const struct vici_node *vici_get(const struct vici_node *sec, const char *name)
{
	if (!sec || sec->type != VICI_NODE_SECTION)
		return NULL;
	for (const struct vici_node *n = sec->child; n; n = n->next) {
		if (strcmp(n->name, name) == 0)
			return n;
	}
	return NULL;
}

static const struct vici_node *get_typed(const struct vici_node *sec, const char *name,
					 enum vici_node_type type)
{
	const struct vici_node *n = vici_get(sec, name);

	return n && n->type == type ? n : NULL;
}

const struct vici_node *vici_get_section(const struct vici_node *sec, const char *name)
{
	return get_typed(sec, name, VICI_NODE_SECTION);
}

const struct vici_node *vici_get_list(const struct vici_node *sec, const char *name)
{
	return get_typed(sec, name, VICI_NODE_LIST);
}

const char *vici_get_str(const struct vici_node *sec, const char *name)
{
	const struct vici_node *n = get_typed(sec, name, VICI_NODE_VALUE);

	return n ? (const char *)n->value : NULL;
}

int vici_get_u64(const struct vici_node *sec, const char *name, uint64_t *out)
{
	const struct vici_node *n = get_typed(sec, name, VICI_NODE_VALUE);
	uint64_t v = 0;

	if (!n)
		return -ENOENT;
	if (n->value_len == 0 || n->value_len > 20)
		return -EINVAL;
	for (size_t i = 0; i < n->value_len; i++) {
		unsigned d = (unsigned)n->value[i] - '0';

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

bool vici_get_yes(const struct vici_node *sec, const char *name)
{
	const char *v = vici_get_str(sec, name);

	return v && strcmp(v, "yes") == 0;
}
