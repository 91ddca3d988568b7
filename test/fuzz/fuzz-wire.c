/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the IPC decoder. The first input byte chooses the
 * sender (bit 0: the daemon, else a client) and how many descriptors came
 * with the packet (bits 1-2); the rest is the packet. Properties checked,
 * each by abort():
 * - every rejection comes with a message;
 * - every accepted message reads back through the typed getters and
 *   re-encodes to exactly the bytes it came from, since the encoding is
 *   canonical (zero padding, exact lengths).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shared/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The typed getter must agree with the raw bytes of the first occurrence. */
static void read_back(const struct wire_attrs *a, const struct wire_attr *at)
{
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64 = 0, raw = 0;
	const uint8_t *p = NULL;
	const char *s = NULL;
	size_t n = 0;
	int r;

	switch (wire_attr_kind(at->type)) {
	case WIRE_U8:
		r = wire_get_u8(a, at->type, &u8);
		u64 = u8;
		break;
	case WIRE_U16:
		r = wire_get_u16(a, at->type, &u16);
		u64 = u16;
		break;
	case WIRE_U32:
		r = wire_get_u32(a, at->type, &u32);
		u64 = u32;
		break;
	case WIRE_U64:
		r = wire_get_u64(a, at->type, &u64);
		break;
	case WIRE_STR:
		r = wire_get_str(a, at->type, &s);
		p = (const uint8_t *)s;
		n = s ? strlen(s) + 1 : 0;
		break;
	case WIRE_BYTES:
		r = wire_get_bytes(a, at->type, &p, &n);
		break;
	default:
		abort(); /* nested ones are walked, and nothing else is accepted */
	}
	if (r != 0)
		abort();
	if (p) {
		if (p == at->val && n != at->len)
			abort();
		return;
	}
	/* No integer attribute may repeat, so this is the first occurrence. */
	for (size_t i = 0; i < at->len; i++)
		raw = raw << 8 | at->val[i];
	if (raw != u64)
		abort();
}

static void reencode(struct buf *b, const struct wire_attrs *a)
{
	struct wire_attrs inner;
	struct wire_attr at;
	size_t cursor = 0, nest;

	while (wire_next(a, 0, &cursor, &at) == 1) {
		if (wire_attr_kind(at.type) != WIRE_NEST) {
			read_back(a, &at);
			wire_put_bytes(b, at.type, at.val, at.len);
			continue;
		}
		if (wire_get_nested(a, at.type, &inner) != 0)
			abort();
		inner = (struct wire_attrs){ at.val, at.len }; /* this one, not the first */
		nest = wire_nest_begin(b, at.type);
		reencode(b, &inner);
		wire_nest_end(b, nest);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum wire_from from;
	struct wire_msg m;
	char err[256] = "";
	struct buf b;

	if (size < 1)
		return 0;
	from = data[0] & 1 ? WIRE_FROM_DAEMON : WIRE_FROM_CLIENT;
	if (wire_parse(data + 1, size - 1, from, (data[0] >> 1) & 3, &m, err, sizeof(err)) < 0) {
		if (err[0] == 0)
			abort();
		return 0;
	}
	if (m.hdr.type == IPC_MSG_HELLO)
		wire_hello_check(&m, err, sizeof(err));
	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, m.hdr.type, m.hdr.flags, m.hdr.seq, m.hdr.status);
	reencode(&b, &m.attrs);
	if (wire_end(&b) != 0 || b.len != size - 1 || memcmp(b.data, data + 1, b.len) != 0)
		abort();
	buf_free(&b);
	return 0;
}
