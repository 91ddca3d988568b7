/* SPDX-License-Identifier: MIT */
/* latchd's journal (src/latchd/db/persist.c): its bound, what it writes, loading and refusing. */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "latchd/db/persist.h"

static const struct latch_policy pol = { .encrypt = IPC_WANT_YES, .peer_id = "b.example" };
static const struct latch_ident remote = { .id = "b.example" };

/* A fresh state directory under /tmp; *path gets it, *journal its journal. */
static void tmpdir(char *path, size_t len, char *journal, size_t jlen)
{
	snprintf(path, len, "/tmp/test-persist.XXXXXX");
	assert_non_null(mkdtemp(path));
	snprintf(journal, jlen, "%s/latches", path);
}

static void rmdir_all(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static struct latch mklatch(uint64_t id)
{
	struct latch l = { .id = id, .state = IPC_STATE_ESTABLISHED, .cookie = id * 7 };

	assert_int_equal(flow_parse("tcp", "192.0.2.1", (unsigned)(20000 + id % 40000), "192.0.2.2",
				    8080, &l.flow),
			 0);
	l.owner.uid = 1000;
	l.pol = &pol;
	l.remote = l.local = &remote;
	return l;
}

static void put(struct persist *p, uint64_t id)
{
	struct latch l = mklatch(id);

	assert_int_equal(persist_put(p, &l), 0);
}

static size_t count_lines(const char *path)
{
	static char buf[1 << 16];
	FILE *f = fopen(path, "r");
	size_t n = 0, got;

	assert_non_null(f);
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
		for (char *p = buf; (p = memchr(p, '\n', (size_t)(buf + got - p))); p++)
			n++;
	fclose(f);
	return n;
}

static off_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* What a load saw: the ids (bit per id below 4096) and how many. */
struct seen {
	uint8_t ids[512];
	unsigned n;
	uint8_t state_of_5;
};

static void collect(void *u, const struct persist_rec *r)
{
	struct seen *s = u;

	s->n++;
	if (r->l.id < 4096)
		s->ids[r->l.id / 8] |= (uint8_t)(1u << (r->l.id % 8));
	if (r->l.id == 5)
		s->state_of_5 = r->l.state;
}

static bool seen(const struct seen *s, uint64_t id)
{
	return s->ids[id / 8] & (1u << (id % 8));
}

static int reload(const char *dir, struct seen *s)
{
	struct persist *p;
	int n;

	memset(s, 0, sizeof(*s));
	assert_int_equal(persist_open(dir, 0700, &p), 0);
	n = persist_load(p, collect, s);
	persist_close(p);
	return n;
}

/* 6,000 LISTEN/RELEASE-like cycles (a compaction every ~40): the journal stays ≤ 2 × live + slack.
 */
static void compaction_bounds_the_journal(void **state)
{
	char dir[64], journal[80];
	struct persist *p;
	struct seen s;
	size_t lines, worst = 0;

	tmpdir(dir, sizeof(dir), journal, sizeof(journal));
	assert_int_equal(persist_open(dir, 0700, &p), 0);
	assert_int_equal(persist_load(p, collect, &s), 0);
	for (uint64_t id = 1; id <= 10; id++)
		put(p, id); /* ten that stay */
	for (uint64_t id = 11; id < 6011; id++) {
		put(p, id);
		assert_int_equal(persist_del(p, id), 0);
		lines = count_lines(journal);
		if (lines > worst)
			worst = lines;
		if (lines > 2 * 10 + PERSIST_SLACK + 1)
			fail_msg("after latch %llu: %zu lines for 10 live", (unsigned long long)id,
				 lines);
	}
	persist_close(p);
	assert_true(worst > 2 * 10); /* it did grow, and was compacted */
	assert_int_equal(reload(dir, &s), 10);
	for (uint64_t id = 1; id <= 10; id++)
		assert_true(seen(&s, id));
	assert_int_equal(count_lines(journal), 10);
	rmdir_all(dir);
}

/* A latch closed before it was ever journaled (refused, or closed while pending) writes nothing. */
static void nothing_for_what_was_never_journaled(void **state)
{
	char dir[64], journal[80];
	struct persist *p;
	struct seen s;

	tmpdir(dir, sizeof(dir), journal, sizeof(journal));
	assert_int_equal(persist_open(dir, 0700, &p), 0);
	assert_int_equal(persist_load(p, collect, &s), 0);
	for (uint64_t id = 1; id <= 1000; id++)
		assert_int_equal(persist_del(p, id), 0);
	assert_int_equal(file_size(journal), 0);
	put(p, 1001);
	assert_int_equal(persist_del(p, 1001), 0);
	assert_int_equal(persist_del(p, 1001), 0); /* twice: one line */
	assert_int_equal(count_lines(journal), 2);
	persist_close(p);
	rmdir_all(dir);
}

/*
 * A large journal: 60,000 records, every third ended, every fifth recorded
 * twice (the last wins), loads to the live ones and is rewritten to them.
 */
static void a_large_journal_loads(void **state)
{
	char dir[64], journal[80], line[PERSIST_LINE_MAX];
	unsigned live = 0;
	struct seen s;
	FILE *f;

	tmpdir(dir, sizeof(dir), journal, sizeof(journal));
	f = fopen(journal, "w");
	assert_non_null(f);
	for (uint64_t id = 1; id <= 60000; id++) {
		struct latch l = mklatch(id);

		assert_int_equal(persist_format(&l, line, sizeof(line)), 0);
		fprintf(f, "+ %s\n", line);
		if (id % 5 == 0) {
			l.state = IPC_STATE_BROKEN;
			assert_int_equal(persist_format(&l, line, sizeof(line)), 0);
			fprintf(f, "+ %s\n", line);
		}
		if (id % 3 == 0)
			fprintf(f, "- %llu\n", (unsigned long long)id);
		live += id % 3 != 0;
	}
	fclose(f);
	assert_int_equal(reload(dir, &s), (int)live);
	assert_true(seen(&s, 1) && !seen(&s, 3) && seen(&s, 5));
	assert_int_equal(s.state_of_5, IPC_STATE_BROKEN);
	assert_int_equal(count_lines(journal), live);
	rmdir_all(dir);
}

/* Lines no latchd writes are skipped, the rest of the journal still counts. */
static void malformed_lines_are_skipped(void **state)
{
	char dir[64], journal[80], line[PERSIST_LINE_MAX], big[PERSIST_LINE_MAX + 100];
	struct latch l1 = mklatch(1), l2 = mklatch(2), l3 = mklatch(3);
	struct seen s;
	FILE *f;

	tmpdir(dir, sizeof(dir), journal, sizeof(journal));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	f = fopen(journal, "w");
	assert_non_null(f);
	assert_int_equal(persist_format(&l1, line, sizeof(line)), 0);
	fprintf(f, "+ %s\n+ v1 garbage\n- abc\n- 0\n- -1\n-  1\n%s\n\n", line, big);
	fprintf(f, "+ v1 %s\n", big);
	assert_int_equal(persist_format(&l2, line, sizeof(line)), 0);
	fprintf(f, "+ %s\n", line);
	fwrite("+ \0v1 9\n", 1, 8, f); /* a NUL inside a line */
	assert_int_equal(persist_format(&l3, line, sizeof(line)), 0);
	fprintf(f, "+ %s", line); /* cut short by a crash: no newline */
	fclose(f);
	assert_int_equal(reload(dir, &s), 2);
	assert_true(seen(&s, 1) && seen(&s, 2) && !seen(&s, 3) && !seen(&s, 9));
	assert_int_equal(count_lines(journal), 2);
	rmdir_all(dir);
}

/*
 * A re-adopted latch keeps its owner's program and its age (issue 17): both
 * are journaled; a record of an older latchd, without them, still parses.
 */
static void owner_program_and_age_kept(void **state)
{
	struct latch l = mklatch(4);
	char line[PERSIST_LINE_MAX], old[PERSIST_LINE_MAX];
	struct persist_rec r;
	char *cut;

	snprintf(l.comm, sizeof(l.comm), "latch probe%%1");
	l.created_usec = 123456789;
	assert_int_equal(persist_format(&l, line, sizeof(line)), 0);
	assert_int_equal(persist_parse(line, &r), 0);
	assert_string_equal(r.l.comm, "latch probe%1");
	assert_int_equal(r.l.created_usec, 123456789);
	assert_int_equal(r.l.owner.uid, 1000);
	/* an older latchd's record: the fields up to the BTNS flags */
	snprintf(old, sizeof(old), "%s", line);
	cut = strrchr(old, ' ');
	*cut = '\0';
	cut = strrchr(old, ' ');
	*cut = '\0';
	assert_int_equal(persist_parse(old, &r), 0);
	assert_string_equal(r.l.comm, "");
	assert_int_equal(r.l.created_usec, 0);
}

/* What the load's callback does to a record (here: ends the even ones) is journaled. */
static void drop_even(void *u, const struct persist_rec *r)
{
	if (r->l.id % 2 == 0)
		assert_int_equal(persist_del(u, r->l.id), 0);
}

static void load_callback_may_end_records(void **state)
{
	char dir[64], journal[80];
	struct persist *p;
	struct seen s;

	tmpdir(dir, sizeof(dir), journal, sizeof(journal));
	assert_int_equal(persist_open(dir, 0700, &p), 0);
	for (uint64_t id = 1; id <= 300; id++)
		put(p, id);
	persist_close(p);
	assert_int_equal(persist_open(dir, 0700, &p), 0);
	assert_int_equal(persist_load(p, drop_even, p), 300);
	persist_close(p);
	assert_int_equal(reload(dir, &s), 150);
	assert_true(seen(&s, 1) && !seen(&s, 2) && seen(&s, 299));
	rmdir_all(dir);
}

/* The journal and its directory are never reached through a symbolic link; a directory others may
 * write is refused. */
static void links_and_foreign_directories_refused(void **state)
{
	char dir[64], journal[80], target[96], sub[96];
	struct persist *p = NULL;
	struct stat st;

	tmpdir(dir, sizeof(dir), journal, sizeof(journal));
	snprintf(target, sizeof(target), "%s/target", dir);
	assert_int_equal(close(open(target, O_WRONLY | O_CREAT, 0600)), 0);
	assert_int_equal(symlink(target, journal), 0);
	assert_int_equal(persist_open(dir, 0700, &p), -ELOOP);
	assert_int_equal(file_size(target), 0);
	assert_int_equal(unlink(journal), 0);

	snprintf(sub, sizeof(sub), "%s/state", dir);
	assert_int_equal(symlink(dir, sub), 0); /* the directory itself a link */
	assert_true(persist_open(sub, 0700, &p) < 0);
	assert_int_equal(unlink(sub), 0);

	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(persist_open(dir, 0700, &p), -EPERM);
	assert_int_equal(chmod(dir, 0755), 0); /* systemd's RuntimeDirectoryMode: fine */
	assert_int_equal(persist_open(dir, 0700, &p), 0);
	persist_close(p);

	assert_int_equal(persist_open(sub, 0700, &p), 0); /* made with the mode asked for */
	persist_close(p);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	rmdir_all(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(compaction_bounds_the_journal),
		cmocka_unit_test(nothing_for_what_was_never_journaled),
		cmocka_unit_test(a_large_journal_loads),
		cmocka_unit_test(malformed_lines_are_skipped),
		cmocka_unit_test(owner_program_and_age_kept),
		cmocka_unit_test(load_callback_may_end_records),
		cmocka_unit_test(links_and_foreign_directories_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
