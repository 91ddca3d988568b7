/* SPDX-License-Identifier: MIT */
#include "unit.h"

#include <errno.h>
#include <stdlib.h>

#include "shared/buf.h"

static void put_writes_big_endian(void **state)
{
	struct buf b;
	size_t want_len;
	uint8_t *want = unit_hex("01 0203 04050607 6869", &want_len);

	buf_init(&b, 0);
	buf_put_u8(&b, 1);
	buf_put_be16(&b, 0x0203);
	buf_put_be32(&b, 0x04050607);
	buf_put(&b, "hi", 2);
	assert_int_equal(buf_error(&b), 0);
	unit_assert_bytes(b.data, b.len, want, want_len);
	free(want);
	buf_free(&b);
}

static void set_be32_patches_only_inside(void **state)
{
	struct buf b;

	buf_init(&b, 0);
	buf_put_be32(&b, 0);
	buf_put_u8(&b, 0xff);
	buf_set_be32(&b, 0, 5);
	buf_set_be32(&b, 2, 0xaabbccdd); /* would run past the end: ignored */
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.data, "\x00\x00\x00\x05\xff", 5);
	buf_free(&b);
}

static void bound_latches_emsgsize(void **state)
{
	struct buf b;

	buf_init(&b, 4);
	buf_put_be16(&b, 1);
	buf_put_be16(&b, 2);
	assert_int_equal(buf_error(&b), 0);
	buf_put_u8(&b, 3);
	assert_int_equal(buf_error(&b), -EMSGSIZE);
	assert_int_equal(b.len, 4);
	buf_put_u8(&b, 4); /* later puts do nothing either */
	assert_int_equal(b.len, 4);
	buf_reset(&b);
	assert_int_equal(buf_error(&b), 0);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void growth_keeps_content(void **state)
{
	struct buf b;

	buf_init(&b, 0);
	for (unsigned i = 0; i < 10000; i++)
		buf_put_be16(&b, (uint16_t)i);
	assert_int_equal(b.len, 20000);
	assert_int_equal(b.data[2 * 4660], 0x12);
	assert_int_equal(b.data[2 * 4660 + 1], 0x34);
	buf_free(&b);
}

static void reader_refuses_short_input(void **state)
{
	const uint8_t in[] = { 0x12, 0x34, 0x56, 0x78, 0x9a };
	struct rd r = rd_make(in, sizeof(in));
	uint32_t v32;
	uint16_t v16;
	uint8_t v8;
	const uint8_t *p;

	assert_true(rd_be32(&r, &v32));
	assert_int_equal(v32, 0x12345678);
	assert_false(rd_be16(&r, &v16));
	assert_int_equal(r.left, 1); /* a failed read consumes nothing */
	assert_false(rd_bytes(&r, 2, &p));
	assert_true(rd_u8(&r, &v8));
	assert_int_equal(v8, 0x9a);
	assert_false(rd_u8(&r, &v8));
	assert_true(rd_bytes(&r, 0, &p));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(put_writes_big_endian),
		cmocka_unit_test(set_be32_patches_only_inside),
		cmocka_unit_test(bound_latches_emsgsize),
		cmocka_unit_test(growth_keeps_content),
		cmocka_unit_test(reader_refuses_short_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
