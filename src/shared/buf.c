/* SPDX-License-Identifier: MIT */
#include "shared/buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
	*b = (struct buf){ .max = max };
}

void buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b, b->max);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	b->err = 0;
}

int buf_error(const struct buf *b)
{
	return b->err;
}

static bool buf_grow(struct buf *b, size_t n)
{
	size_t want, cap;
	uint8_t *p;

	if (b->err)
		return false;
	if (n > SIZE_MAX - b->len || (b->max && b->len + n > b->max)) {
		b->err = -EMSGSIZE;
		return false;
	}
	want = b->len + n;
	if (want <= b->cap)
		return true;
	cap = b->cap ? b->cap : 64;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? want : cap * 2;
	p = realloc(b->data, cap);
	if (!p) {
		b->err = -ENOMEM;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void buf_put(struct buf *b, const void *p, size_t n)
{
	if (n == 0 || !buf_grow(b, n))
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void buf_put_u8(struct buf *b, uint8_t v)
{
	buf_put(b, &v, 1);
}

void buf_put_be16(struct buf *b, uint16_t v)
{
	uint8_t s[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	buf_put(b, s, sizeof(s));
}

void buf_put_be32(struct buf *b, uint32_t v)
{
	uint8_t s[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	buf_put(b, s, sizeof(s));
}

/* Patch a length field written earlier; off must lie inside what was written. */
void buf_set_be32(struct buf *b, size_t off, uint32_t v)
{
	if (b->err || off > b->len || b->len - off < 4)
		return;
	b->data[off] = (uint8_t)(v >> 24);
	b->data[off + 1] = (uint8_t)(v >> 16);
	b->data[off + 2] = (uint8_t)(v >> 8);
	b->data[off + 3] = (uint8_t)v;
}

bool rd_bytes(struct rd *r, size_t n, const uint8_t **p)
{
	if (r->left < n)
		return false;
	*p = r->p;
	r->p += n;
	r->left -= n;
	return true;
}

bool rd_u8(struct rd *r, uint8_t *v)
{
	const uint8_t *p;

	if (!rd_bytes(r, 1, &p))
		return false;
	*v = p[0];
	return true;
}

bool rd_be16(struct rd *r, uint16_t *v)
{
	const uint8_t *p;

	if (!rd_bytes(r, 2, &p))
		return false;
	*v = (uint16_t)(p[0] << 8 | p[1]);
	return true;
}

bool rd_be32(struct rd *r, uint32_t *v)
{
	const uint8_t *p;

	if (!rd_bytes(r, 4, &p))
		return false;
	*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return true;
}
