/* SPDX-License-Identifier: MIT */
#include "unit.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

uint8_t *unit_hex(const char *hex, size_t *len)
{
	uint8_t *out = malloc(strlen(hex) / 2 + 1);
	size_t n = 0;
	int hi = -1;

	assert_non_null(out);
	for (const char *s = hex; *s; s++) {
		int v;

		if (isspace((unsigned char)*s))
			continue;
		v = hex_nibble(*s);
		if (v < 0)
			fail_msg("bad hex digit '%c' in golden vector", *s);
		if (hi < 0) {
			hi = v;
		} else {
			out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0)
		fail_msg("odd number of hex digits in golden vector");
	*len = n;
	return out;
}

void unit_assert_bytes(const void *got, size_t got_len, const void *want, size_t want_len)
{
	const uint8_t *g = got, *w = want;
	size_t n = got_len < want_len ? got_len : want_len;

	for (size_t i = 0; i < n; i++) {
		if (g[i] != w[i])
			fail_msg("byte %zu differs: got 0x%02x, want 0x%02x", i, g[i], w[i]);
	}
	if (got_len != want_len)
		fail_msg("length differs: got %zu, want %zu", got_len, want_len);
}
