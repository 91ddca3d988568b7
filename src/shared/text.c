/* SPDX-License-Identifier: MIT */
#include "shared/text.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Code points that steer a terminal: cleaned although valid UTF-8. */
static bool steers(uint32_t cp)
{
	return cp <= 0x9f || (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

size_t text_char(const char *s, size_t n)
{
	static const uint32_t least[] = { 0, 0, 0x80, 0x800, 0x10000 }; /* below: overlong */
	const uint8_t *p = (const uint8_t *)s;
	size_t len;
	uint32_t cp;

	if (p[0] < 0x80)
		return p[0] >= 0x20 && p[0] != 0x7f;
	/* 0x80–0xc1 never lead (continuations, overlong pairs); past 0xf4 is past U+10FFFF. */
	if (p[0] < 0xc2 || p[0] > 0xf4)
		return 0;
	len = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
	if (n < len)
		return 0;
	cp = p[0] & (0x7fu >> len);
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3fu);
	}
	if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || steers(cp))
		return 0;
	return len;
}

size_t text_clean_prefix(const char *s, size_t n)
{
	size_t i = 0, k;

	while (i < n && (k = text_char(s + i, n - i)) > 0)
		i += k;
	return i;
}

size_t text_clean(char *out, size_t cap, const char *in, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t need = 0, len = 0, k;
	bool room = cap > 0;

	for (size_t i = 0; i < n; i += k ? k : 1) {
		const uint8_t b = (uint8_t)in[i];
		const char esc[4] = { '\\', 'x', hex[b >> 4], hex[b & 0xf] };
		const char *unit = esc;
		size_t ulen = sizeof(esc);

		k = text_char(in + i, n - i);
		if (k) {
			unit = in + i;
			ulen = k;
		}
		/* A cut text is a prefix: nothing after the first unit that does not fit. */
		room = room && len + ulen < cap;
		if (room) {
			memcpy(out + len, unit, ulen);
			len += ulen;
		}
		need += ulen;
	}
	if (cap)
		out[len] = '\0';
	return need;
}

char *text_dup(const char *s)
{
	size_t n = strlen(s), len = text_clean(NULL, 0, s, n);
	char *p = malloc(len + 1);

	if (p)
		text_clean(p, len + 1, s, n);
	return p;
}
