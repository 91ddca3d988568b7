/* SPDX-License-Identifier: MIT */
#ifndef LATCH_TEST_UNIT_H
#define LATCH_TEST_UNIT_H

/*
 * What every cmocka unit test of latch includes. cmocka wants these system
 * headers before its own, in this order; the blank lines keep clang-format
 * from sorting them. Helpers for golden vectors live in unit.c.
 */

#include <stdarg.h>

#include <stddef.h>

#include <stdint.h>

#include <setjmp.h>

#include <cmocka.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Decode a hex string ("00 00 00 09 00 07 76 65", spaces and newlines
 * ignored) into a buffer the caller frees. Fails the test on bad input.
 */
uint8_t *unit_hex(const char *hex, size_t *len);

/* Compare two byte ranges, printing the first difference on failure. */
void unit_assert_bytes(const void *got, size_t got_len, const void *want, size_t want_len);

#endif
