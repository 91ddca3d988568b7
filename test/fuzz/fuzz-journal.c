/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for latchd's journal loader (src/latchd/db/persist.c): the
 * input is a journal's text as a previous latchd, a crash or a tamperer left
 * it. Properties checked, each by abort():
 * - squashing keeps no more than it was given, only lines that parse as
 *   records, each ending in a newline;
 * - squashing is idempotent: what it keeps is one line per live id, and
 *   squashing that again changes nothing (a restart after a restart);
 * - every kept record is stable through the codec: formatting what was
 *   parsed, then parsing and formatting again, gives the same line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "latchd/db/persist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_line(const char *line)
{
	static char once[PERSIST_LINE_MAX], twice[PERSIST_LINE_MAX];
	struct persist_rec rec;

	if (strncmp(line, "+ ", 2) || persist_parse(line + 2, &rec) < 0)
		abort();
	if (persist_format(&rec.l, once, sizeof(once)) < 0 || persist_parse(once, &rec) < 0 ||
	    persist_format(&rec.l, twice, sizeof(twice)) < 0 || strcmp(once, twice))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = NULL, *again = NULL, *nl;
	size_t len = 0, len2 = 0, lines = 0, lines2 = 0;

	if (persist_squash((const char *)data, size, &out, &len, &lines) < 0)
		return 0;
	if (len > size || (len && out[len - 1] != '\n'))
		abort();
	for (char *line = out; line < out + len; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(out + len - line));
		*nl = '\0';
		check_line(line);
		*nl = '\n';
	}
	if (persist_squash(out, len, &again, &len2, &lines2) < 0)
		abort();
	if (len2 != len || memcmp(again, out, len) || lines2 > lines)
		abort();
	free(again);
	free(out);
	return 0;
}
