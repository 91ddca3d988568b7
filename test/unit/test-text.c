/* SPDX-License-Identifier: MIT */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include "shared/text.h"

/* Strings from outside as data (shared/text.h): one rule, escapes, bounds. */

static void expect_clean(const char *in, size_t n, const char *want)
{
	char out[256], again[256];
	size_t len = text_clean(out, sizeof(out), in, n);

	assert_string_equal(out, want);
	assert_int_equal(len, strlen(want));
	/* Cleaning twice is cleaning once: what it writes is clean text. */
	assert_int_equal(text_clean(again, sizeof(again), out, len), len);
	assert_string_equal(again, out);
	assert_int_equal(text_clean_prefix(out, len), len);
}

#define CLEAN(lit, want) expect_clean(lit, sizeof(lit) - 1, want)

static void clean_text_unchanged(void **state)
{
	CLEAN("latch-probe", "latch-probe");
	CLEAN("C=CH, O=latch-lab, CN=b.example", "C=CH, O=latch-lab, CN=b.example");
	/* DNs escape with backslashes: they stay, so identities still compare equal. */
	CLEAN("CN=a\\,b \\1B", "CN=a\\,b \\1B");
	CLEAN("Z\xc3\xbcrich \xe2\x86\x92 \xf0\x9f\x94\x92",
	      "Z\xc3\xbcrich \xe2\x86\x92 \xf0\x9f\x94\x92");
	/* Next to the cleaned ranges, not in them. */
	CLEAN("\xc2\xa0\xe2\x80\xa7\xe2\x80\xaf\xe2\x81\xaa",
	      "\xc2\xa0\xe2\x80\xa7\xe2\x80\xaf\xe2\x81\xaa");
	CLEAN("", "");
}

static void controls_escaped(void **state)
{
	CLEAN("\x1b[31mred", "\\x1b[31mred");
	CLEAN("a\nb\rc\td", "a\\x0ab\\x0dc\\x09d");
	CLEAN("\x7f", "\\x7f");
	CLEAN("a\0b", "a\\x00b");
	/* C1 controls (CSI), separators and bidi overrides steer terminals too. */
	CLEAN("\xc2\x9b"
	      "31m",
	      "\\xc2\\x9b31m");
	CLEAN("\xc2\x80\xc2\x9f", "\\xc2\\x80\\xc2\\x9f");
	CLEAN("ab\xe2\x80\xae"
	      "cd",
	      "ab\\xe2\\x80\\xaecd");
	CLEAN("\xe2\x80\xa8\xe2\x80\xa9\xe2\x81\xa6\xe2\x81\xa9",
	      "\\xe2\\x80\\xa8\\xe2\\x80\\xa9\\xe2\\x81\\xa6\\xe2\\x81\\xa9");
}

static void invalid_utf8_escaped(void **state)
{
	CLEAN("\xff\xfe", "\\xff\\xfe");
	CLEAN("\x80x", "\\x80x");			   /* a continuation without a lead */
	CLEAN("probe\xc3", "probe\\xc3");		   /* cut short: comm's 15 bytes */
	CLEAN("\xc3(", "\\xc3(");			   /* a lead without its continuation */
	CLEAN("\xc0\xaf", "\\xc0\\xaf");		   /* overlong '/' */
	CLEAN("\xe0\x80\xaf", "\\xe0\\x80\\xaf");	   /* overlong, three bytes */
	CLEAN("\xf0\x80\x80\xaf", "\\xf0\\x80\\x80\\xaf"); /* overlong, four bytes */
	CLEAN("\xed\xa0\x80", "\\xed\\xa0\\x80");	   /* a surrogate */
	CLEAN("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"); /* past U+10FFFF */
	CLEAN("\xf8\x88\x80\x80\x80", "\\xf8\\x88\\x80\\x80\\x80");
	/* A process name as the hostile test makes it: ESC, newline, 0xff, a cut 'é'. */
	CLEAN("\x1b[31mx\ny\xffprobe\xc3", "\\x1b[31mx\\x0ay\\xffprobe\\xc3");
}

static void prefix_stops_at_first_change(void **state)
{
	assert_int_equal(text_clean_prefix("abc", 3), 3);
	assert_int_equal(text_clean_prefix("ab\x1b"
					   "c",
					   4),
			 2);
	assert_int_equal(text_clean_prefix("\xc3\xa9\xc3", 3), 2);
	assert_int_equal(text_clean_prefix("\xe2\x80\xae", 3), 0);
	assert_int_equal(text_char("\xf0\x9f\x94\x92", 4), 4);
	assert_int_equal(text_char("\xf0\x9f\x94\x92", 3), 0); /* the bytes given end inside it */
}

static void bounded(void **state)
{
	char out[8];

	/* Cut before the escape that does not fit, never inside it; the length says so. */
	assert_int_equal(text_clean(out, 4,
				    "ab\x1b"
				    "c",
				    4),
			 7);
	assert_string_equal(out, "ab");
	/* Nothing after the first unit that does not fit: a cut text is a prefix. */
	assert_int_equal(text_clean(out, 6,
				    "abc\x1b"
				    "d",
				    5),
			 8);
	assert_string_equal(out, "abc");
	/* Never inside a character. */
	assert_int_equal(text_clean(out, 3, "a\xc3\xa9", 3), 3);
	assert_string_equal(out, "a");
	assert_int_equal(text_clean(out, 4, "a\xc3\xa9", 3), 3);
	assert_string_equal(out, "a\xc3\xa9");
	/* cap 0: a size query, nothing written. */
	assert_int_equal(text_clean(NULL, 0, "\x1b\x1b", 2), 8);
	assert_int_equal(text_clean(out, 1, "x", 1), 1);
	assert_string_equal(out, "");
}

static void dup(void **state)
{
	char *p = text_dup("a\x1b\xff\xc3\xa9");

	assert_non_null(p);
	assert_string_equal(p, "a\\x1b\\xff\xc3\xa9");
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(clean_text_unchanged),
		cmocka_unit_test(controls_escaped),
		cmocka_unit_test(invalid_utf8_escaped),
		cmocka_unit_test(prefix_stops_at_first_change),
		cmocka_unit_test(bounded),
		cmocka_unit_test(dup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
