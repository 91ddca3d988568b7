/* SPDX-License-Identifier: MIT */
/*
 * Leap-of-faith pins (src/latchd/db/pins.c): the line format both ways,
 * lines it refuses, the file across a reopen (order, duplicates, damaged
 * lines, comments), delete, the PINS_MAX capacity, and a change whose file
 * cannot be written.
 */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "latchd/db/pins.h"

static const char *const HEX = "00112233445566778899aabbccddeeff"
			       "0123456789abcdef0123456789ABCDEF";

static void tmpdir(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/test-pins.XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static void rm_all(const char *dir)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void key_of(unsigned i, uint8_t spki[IPC_SHA256_LEN])
{
	for (unsigned j = 0; j < IPC_SHA256_LEN; j++)
		spki[j] = (uint8_t)(i * 31 + j);
}

static void write_file(const char *dir, const char *text)
{
	char path[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, PINS_FILE);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Format and parse are inverse, for every byte of the key, the time's range and long names. */
static void line_round_trip(void **state)
{
	char line[PINS_NAME_MAX + 128];
	struct pin p = { .when = 1700000000 }, q;

	for (unsigned i = 0; i < IPC_SHA256_LEN; i++)
		p.spki[i] = (uint8_t)(i * 8 + 7);
	snprintf(p.name, sizeof(p.name), "btns.example host Zürich");
	assert_int_equal(pins_format_line(&p, line, sizeof(line)), 0);
	assert_int_equal(pins_parse_line(line, &q), 0);
	assert_memory_equal(&p, &q, sizeof(p));

	p.when = UINT64_MAX;
	memset(p.name, 'n', PINS_NAME_MAX);
	p.name[PINS_NAME_MAX] = '\0';
	assert_int_equal(pins_format_line(&p, line, sizeof(line)), 0);
	assert_int_equal(pins_parse_line(line, &q), 0);
	assert_memory_equal(&p, &q, sizeof(p));
	/* the key's hex is read in either case; written in lower case */
	assert_int_equal(pins_parse_line("00112233445566778899AABBCCDDEEFF"
					 "0123456789abcdef0123456789abcdef 5 x",
					 &q),
			 0);
	assert_int_equal(q.spki[10], 0xaa);
	/* a buffer too small for the line */
	assert_int_equal(pins_format_line(&p, line, 2 * IPC_SHA256_LEN), -ENOSPC);
	assert_int_equal(pins_format_line(&p, line, 2 * IPC_SHA256_LEN + 30), -ENOSPC);
}

/* Each of these is malformed: -EINVAL, and the pin given is left alone. */
static void malformed_lines(void **state)
{
	static const char *const bad[] = {
		"",
		"0011",
		/* the key: 63 digits, a non-hex digit, a blank, a sign, a 0x prefix */
		"00112233445566778899aabbccddeeff0123456789abcdef0123456789abcde 5 x",
		"g0112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef 5 x",
		"0 112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef 5 x",
		"+f112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef 5 x",
		"-1112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef 5 x",
		"0x112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef 5 x",
		"00112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef0 5 x",
		/* the time: missing, signed, not a number, past 2^64 */
		"00112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef  x",
		"00112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef -5 x",
		"00112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef 5x x",
		"00112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef "
		"18446744073709551616 x",
		/* the name: missing, empty, a control byte, invalid UTF-8 */
		"00112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef 5",
		"00112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef 5 ",
		"00112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef 5 a\x1b[2J",
		"00112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef 5 a\xff",
	};
	char longname[2 * PINS_NAME_MAX];
	struct pin q = { .when = 42 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (pins_parse_line(bad[i], &q) != -EINVAL)
			fail_msg("accepted: \"%s\"", bad[i]);
		assert_int_equal(q.when, 42);
	}
	snprintf(longname, sizeof(longname), "%s 5 ", HEX);
	memset(longname + strlen(longname), 'n', PINS_NAME_MAX + 1);
	longname[2 * IPC_SHA256_LEN + 3 + PINS_NAME_MAX + 1] = '\0';
	assert_int_equal(pins_parse_line(longname, &q), -EINVAL);
	longname[strlen(longname) - 1] = '\0'; /* PINS_NAME_MAX: fine */
	assert_int_equal(pins_parse_line(longname, &q), 0);
}

/* Pins survive a reopen in the order they were made; replacing keeps the place. */
static void add_find_reopen(void **state)
{
	uint8_t k[IPC_SHA256_LEN];
	struct pins *ps;
	char dir[64], name[32];

	tmpdir(dir, sizeof(dir));
	assert_int_equal(pins_open(dir, &ps), 0); /* no file yet: fine */
	assert_int_equal(pins_count(ps), 0);
	for (unsigned i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "peer-%u.example", i);
		key_of(i, k);
		assert_int_equal(pins_add(ps, name, k, 1000 + i), 0);
	}
	key_of(9, k);
	assert_int_equal(pins_add(ps, "peer-2.example", k, 2000), 0); /* replaced, not added */
	assert_int_equal(pins_add(ps, "", k, 1), -EINVAL);
	assert_int_equal(pins_add(ps, "a\nb", k, 1), -EINVAL);
	pins_free(ps);

	assert_int_equal(pins_open(dir, &ps), 0);
	assert_int_equal(pins_count(ps), 5);
	for (unsigned i = 0; i < 5; i++) {
		const struct pin *p = pins_at(ps, i);

		snprintf(name, sizeof(name), "peer-%u.example", i);
		assert_string_equal(p->name, name);
		key_of(i == 2 ? 9 : i, k);
		assert_memory_equal(p->spki, k, IPC_SHA256_LEN);
		assert_int_equal(p->when, i == 2 ? 2000 : 1000 + i);
		assert_ptr_equal(pins_find(ps, name), p);
	}
	assert_null(pins_find(ps, "peer-5.example"));
	assert_null(pins_at(ps, 5));
	pins_free(ps);
	rm_all(dir);
}

/*
 * A file edited by hand: comments and blank lines are skipped, a damaged
 * line costs that pin alone, and of two lines with one name the first counts.
 */
static void damaged_and_duplicate_lines(void **state)
{
	char dir[64], text[1024];
	struct pins *ps;

	tmpdir(dir, sizeof(dir));
	snprintf(text, sizeof(text),
		 "# a comment\n"
		 "\n"
		 "%s 1 first\n"
		 "not a pin at all\n"
		 "%s 2 second\n"
		 "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff 3 first\n"
		 "%s 4 third", /* the last line without its newline */
		 HEX, HEX, HEX);
	write_file(dir, text);
	assert_int_equal(pins_open(dir, &ps), 0);
	assert_int_equal(pins_count(ps), 3);
	assert_string_equal(pins_at(ps, 0)->name, "first");
	assert_int_equal(pins_find(ps, "first")->when, 1);
	assert_int_equal(pins_find(ps, "first")->spki[0], 0x00);
	assert_int_equal(pins_find(ps, "third")->when, 4);
	pins_free(ps);
	rm_all(dir);
}

/* Delete: gone now and after a reopen; an unknown name is ENOENT and changes nothing. */
static void delete_pins(void **state)
{
	uint8_t k[IPC_SHA256_LEN];
	struct pins *ps;
	char dir[64];

	tmpdir(dir, sizeof(dir));
	assert_int_equal(pins_open(dir, &ps), 0);
	key_of(1, k);
	assert_int_equal(pins_add(ps, "a", k, 1), 0);
	assert_int_equal(pins_add(ps, "b", k, 2), 0);
	assert_int_equal(pins_add(ps, "c", k, 3), 0);
	assert_int_equal(pins_del(ps, "b"), 0);
	assert_int_equal(pins_del(ps, "b"), -ENOENT);
	assert_int_equal(pins_del(ps, "nobody"), -ENOENT);
	assert_int_equal(pins_count(ps), 2);
	pins_free(ps);
	assert_int_equal(pins_open(dir, &ps), 0);
	assert_int_equal(pins_count(ps), 2);
	assert_string_equal(pins_at(ps, 0)->name, "a");
	assert_string_equal(pins_at(ps, 1)->name, "c");
	assert_null(pins_find(ps, "b"));
	pins_free(ps);
	rm_all(dir);
}

/*
 * When the file cannot be written (here: its temporary name is a
 * directory), the change reports the error. A delete then changes nothing,
 * in memory either: an administrator told it failed must not find the pin
 * forgotten. An add keeps its pin in memory for this run (it still guards
 * the peer until latchd restarts), as pins.h says.
 */
static void unwritable(void **state)
{
	uint8_t k[IPC_SHA256_LEN];
	struct pins *ps;
	char dir[64], tmp[128];

	tmpdir(dir, sizeof(dir));
	assert_int_equal(pins_open(dir, &ps), 0);
	key_of(1, k);
	assert_int_equal(pins_add(ps, "a", k, 1), 0);
	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, PINS_FILE);
	assert_int_equal(mkdir(tmp, 0700), 0);
	assert_int_equal(pins_del(ps, "a"), -EISDIR);
	assert_non_null(pins_find(ps, "a"));
	assert_int_equal(pins_count(ps), 1);
	assert_int_equal(pins_add(ps, "b", k, 5), -EISDIR);
	assert_non_null(pins_find(ps, "b"));
	assert_int_equal(rmdir(tmp), 0);
	pins_free(ps);
	assert_int_equal(pins_open(dir, &ps), 0); /* the file has what was written */
	assert_int_equal(pins_count(ps), 1);
	assert_non_null(pins_find(ps, "a"));
	pins_free(ps);
	rm_all(dir);
}

/* PINS_MAX pins: one more is ENOSPC (a replacement still works); a file loads at most that many. */
static void capacity(void **state)
{
	uint8_t k[IPC_SHA256_LEN];
	struct pins *ps;
	char dir[64], name[32], path[128];
	FILE *f;

	tmpdir(dir, sizeof(dir));
	/* written directly: PINS_MAX + 10 lines, as a file grown by hand could be */
	snprintf(path, sizeof(path), "%s/%s", dir, PINS_FILE);
	f = fopen(path, "w");
	assert_non_null(f);
	for (unsigned i = 0; i < PINS_MAX + 10; i++)
		fprintf(f, "%s %u pin-%u\n", HEX, i, i);
	fclose(f);
	assert_int_equal(pins_open(dir, &ps), 0);
	assert_int_equal(pins_count(ps), PINS_MAX);
	assert_non_null(pins_find(ps, "pin-4095"));
	assert_null(pins_find(ps, "pin-4096"));
	key_of(3, k);
	assert_int_equal(pins_add(ps, "one-more", k, 1), -ENOSPC);
	assert_null(pins_find(ps, "one-more"));
	assert_int_equal(pins_add(ps, "pin-7", k, 1), 0);
	assert_int_equal(pins_del(ps, "pin-0"), 0);
	snprintf(name, sizeof(name), "one-more");
	assert_int_equal(pins_add(ps, name, k, 1), 0);
	assert_int_equal(pins_count(ps), PINS_MAX);
	pins_free(ps);
	assert_int_equal(pins_open(dir, &ps), 0);
	assert_int_equal(pins_count(ps), PINS_MAX);
	assert_non_null(pins_find(ps, "one-more"));
	assert_null(pins_find(ps, "pin-0"));
	pins_free(ps);
	rm_all(dir);
}

/* A directory path too long for the file's name is refused at open. */
static void open_refuses_a_long_path(void **state)
{
	char dir[600];
	struct pins *ps = NULL;

	memset(dir, 'd', sizeof(dir) - 1);
	dir[0] = '/';
	dir[sizeof(dir) - 1] = '\0';
	assert_int_equal(pins_open(dir, &ps), -ENAMETOOLONG);
	assert_null(ps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(line_round_trip), cmocka_unit_test(malformed_lines),
		cmocka_unit_test(add_find_reopen), cmocka_unit_test(damaged_and_duplicate_lines),
		cmocka_unit_test(delete_pins),	   cmocka_unit_test(unwritable),
		cmocka_unit_test(capacity),	   cmocka_unit_test(open_refuses_a_long_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
