/* SPDX-License-Identifier: MIT */
#ifndef LATCH_SHARED_BUF_H
#define LATCH_SHARED_BUF_H

/*
 * Byte buffers for the codecs: a growable output buffer with big-endian
 * writers, and a bounds-checked reader over borrowed bytes. Both are pure:
 * no I/O, no logging.
 *
 * The writer latches its first allocation failure: every later put is a
 * no-op and buf_error() reports -ENOMEM, so an encoder can write a whole
 * message and check once at the end.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max; /* 0: no bound; otherwise growing past it fails with -EMSGSIZE */
	int err;
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
int buf_error(const struct buf *b);

void buf_put(struct buf *b, const void *p, size_t n);
void buf_put_u8(struct buf *b, uint8_t v);
void buf_put_be16(struct buf *b, uint16_t v);
void buf_put_be32(struct buf *b, uint32_t v);
void buf_set_be32(struct buf *b, size_t off, uint32_t v);

struct rd {
	const uint8_t *p;
	size_t left;
};

static inline struct rd rd_make(const void *p, size_t n)
{
	return (struct rd){ .p = p, .left = n };
}

/* Each returns false, consuming nothing, when fewer bytes are left than asked. */
bool rd_u8(struct rd *r, uint8_t *v);
bool rd_be16(struct rd *r, uint16_t *v);
bool rd_be32(struct rd *r, uint32_t *v);
bool rd_bytes(struct rd *r, size_t n, const uint8_t **p);

#endif
