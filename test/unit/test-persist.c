/* SPDX-License-Identifier: MIT */
/*
 * latchd's journal (src/latchd/db/persist.c): its bound, what it writes, every
 * field back as it went in, loading (torn, oversized, malformed lines and
 * other versions skipped) and refusing (links, directories others may write
 * or own).
 */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

/* Every field a record keeps, as it went in; strings that need escaping too. */
static void check_round_trip(const struct latch *l)
{
	static char line[PERSIST_LINE_MAX];
	static struct persist_rec r;

	assert_int_equal(persist_format(l, line, sizeof(line)), 0);
	if (persist_parse(line, &r) != 0)
		fail_msg("does not parse back: %s", line);
	assert_int_equal(r.l.id, l->id);
	assert_int_equal(r.l.state, l->state);
	assert_int_equal(r.l.listener, l->listener);
	if (l->listener)
		assert_memory_equal(&r.l.listen, &l->listen, sizeof(l->listen));
	else
		assert_memory_equal(&r.l.flow, &l->flow, sizeof(l->flow));
	assert_int_equal(r.l.cookie, l->cookie);
	assert_int_equal(r.l.owner.uid, l->owner.uid);
	assert_int_equal(r.l.owner.gid, l->owner.gid);
	assert_int_equal(r.l.owner.pid, l->owner.pid);
	assert_int_equal(r.pol.on_break, l->pol->on_break);
	assert_int_equal(r.pol.exact, l->pol->exact);
	assert_int_equal(r.pol.allow_unlatched, l->pol->allow_unlatched);
	assert_int_equal(r.pol.encrypt, l->pol->encrypt);
	assert_string_equal(r.pol.peer_id, l->pol->peer_id);
	assert_string_equal(r.pol.peer_ca, l->pol->peer_ca);
	assert_int_equal(r.pol.btns, l->pol->btns);
	assert_int_equal(r.pol.leap_of_faith, l->pol->leap_of_faith);
	assert_string_equal(r.remote.id, l->remote->id);
	assert_int_equal(r.remote.has_spki, l->remote->has_spki);
	if (l->remote->has_spki)
		assert_memory_equal(r.remote.spki, l->remote->spki, sizeof(r.remote.spki));
	assert_string_equal(r.l.sa.encr, l->sa.encr);
	assert_string_equal(r.l.sa.integ, l->sa.integ);
	assert_int_equal(r.l.sa.tunnel, l->sa.tunnel);
	assert_int_equal(r.l.sa.shared, l->sa.shared);
	assert_ptr_equal(r.l.pol, &r.pol);
	assert_ptr_equal(r.l.remote, &r.remote);
}

/* Fill s (cap bytes) with what costs the most to journal: "é" (two bytes, six escaped). */
static void worst_string(char *s, size_t cap)
{
	size_t n = 0;

	while (n + 2 < cap) {
		s[n++] = (char)0xc3;
		s[n++] = (char)0xa9;
	}
	s[n] = '\0';
}

static void every_field_round_trips(void **state)
{
	static struct latch_policy p;
	static struct latch_ident id;
	struct latch l = { .id = UINT64_MAX, .state = IPC_STATE_BROKEN, .cookie = UINT64_MAX - 1 };

	/* an IPv6 UDP flow, every choice of the token set, strings needing escapes */
	assert_int_equal(flow_parse("udp", "2001:db8::1", 65535, "2001:db8::2", 1, &l.flow), 0);
	l.owner = (struct ucred){ .pid = INT32_MAX, .uid = UINT32_MAX - 1, .gid = 4242 };
	p = (struct latch_policy){ .encrypt = IPC_WANT_YES,
				   .on_break = IPC_ON_BREAK_WAIT,
				   .exact = true,
				   .allow_unlatched = true,
				   .btns = true,
				   .leap_of_faith = true };
	snprintf(p.peer_id, sizeof(p.peer_id), "CN=b example, O=100%% -");
	snprintf(p.peer_ca, sizeof(p.peer_ca), "-");
	snprintf(id.id, sizeof(id.id), "CN=Zürich\tx");
	id.has_spki = true;
	for (unsigned i = 0; i < sizeof(id.spki); i++)
		id.spki[i] = (uint8_t)(255 - i);
	snprintf(l.sa.encr, sizeof(l.sa.encr), "AES_GCM_16-256");
	l.sa.tunnel = l.sa.shared = true;
	l.pol = &p;
	l.remote = l.local = &id;
	check_round_trip(&l);

	/* a listener, everything else at its zero: empty strings, no key */
	memset(&l, 0, sizeof(l));
	memset(&p, 0, sizeof(p));
	memset(&id, 0, sizeof(id));
	l.id = 1;
	l.state = IPC_STATE_LISTENER;
	l.listener = true;
	l.listen = (struct flow3){ .family = AF_INET6, .proto = IPPROTO_TCP, .port = 443 };
	l.listen.addr.b[15] = 1; /* [::1]:443 */
	l.pol = &p;
	l.remote = l.local = &id;
	check_round_trip(&l);

	/*
	 * Every string at its longest and all of it escaped: a record any
	 * client (peer_id, peer_ca) and any peer (its identity) can ask for
	 * must fit, or its latch is silently not journaled and not re-adopted.
	 */
	l.listener = false;
	l.state = IPC_STATE_ESTABLISHED;
	assert_int_equal(flow_parse("tcp", "192.0.2.1", 1, "192.0.2.2", 2, &l.flow), 0);
	worst_string(p.peer_id, sizeof(p.peer_id));
	worst_string(p.peer_ca, sizeof(p.peer_ca));
	worst_string(id.id, sizeof(id.id));
	worst_string(l.sa.encr, sizeof(l.sa.encr));
	worst_string(l.sa.integ, sizeof(l.sa.integ));
	id.has_spki = true;
	check_round_trip(&l);
}

/* A record of another version, or a line of another kind, is not read as one of ours. */
static void unknown_versions_are_skipped(void **state)
{
	char dir[64], journal[80], line[PERSIST_LINE_MAX];
	struct latch l1 = mklatch(1), l2 = mklatch(2);
	struct persist_rec r;
	struct seen s;
	FILE *f;

	assert_int_equal(persist_format(&l2, line, sizeof(line)), 0);
	assert_int_equal(persist_parse(line, &r), 0);
	line[1] = '2'; /* "v2 2 ..." */
	assert_int_equal(persist_parse(line, &r), -EINVAL);
	line[1] = '1';
	line[0] = 'V';
	assert_int_equal(persist_parse(line, &r), -EINVAL);

	tmpdir(dir, sizeof(dir), journal, sizeof(journal));
	f = fopen(journal, "w");
	assert_non_null(f);
	assert_int_equal(persist_format(&l1, line, sizeof(line)), 0);
	fprintf(f, "+ %s\n", line);
	assert_int_equal(persist_format(&l2, line, sizeof(line)), 0);
	line[1] = '2';
	fprintf(f, "+ %s\n* %s\n", line, line + 3);
	line[1] = '1';
	fprintf(f, "* %s\n", line); /* a kind of line no latchd writes */
	fclose(f);
	assert_int_equal(reload(dir, &s), 1);
	assert_true(seen(&s, 1) && !seen(&s, 2));
	assert_int_equal(count_lines(journal), 1);
	rmdir_all(dir);
}

/*
 * A journal whose last line a crash cut short: the load drops that line
 * and rewrites the journal, so the next record starts a line of its own
 * and is read after the next restart.
 */
static void torn_last_line_then_more(void **state)
{
	char dir[64], journal[80], line[PERSIST_LINE_MAX];
	struct latch l1 = mklatch(1), l3 = mklatch(3);
	struct persist *p;
	struct seen s;
	FILE *f;

	tmpdir(dir, sizeof(dir), journal, sizeof(journal));
	f = fopen(journal, "w");
	assert_non_null(f);
	assert_int_equal(persist_format(&l1, line, sizeof(line)), 0);
	fprintf(f, "+ %s\n", line);
	assert_int_equal(persist_format(&l3, line, sizeof(line)), 0);
	line[strlen(line) / 2] = '\0';
	fprintf(f, "+ %s", line);
	fclose(f);
	assert_int_equal(persist_open(dir, 0700, &p), 0);
	assert_int_equal(persist_load(p, collect, &s), 1);
	put(p, 4);
	persist_close(p);
	assert_int_equal(reload(dir, &s), 2);
	assert_true(seen(&s, 1) && !seen(&s, 3) && seen(&s, 4));
	rmdir_all(dir);
}

/*
 * The same when the journal cannot be rewritten at load (/run full; here:
 * latches.new is a directory that cannot be removed): the torn line is cut
 * off all the same, or the next record would be glued to it and lost.
 */
static void torn_last_line_kept_journal(void **state)
{
	char dir[64], journal[80], line[PERSIST_LINE_MAX], block[128];
	struct latch l1 = mklatch(1), l3 = mklatch(3);
	struct persist *p;
	struct seen s;
	FILE *f;

	tmpdir(dir, sizeof(dir), journal, sizeof(journal));
	f = fopen(journal, "w");
	assert_non_null(f);
	assert_int_equal(persist_format(&l1, line, sizeof(line)), 0);
	fprintf(f, "+ %s\n", line);
	assert_int_equal(persist_format(&l3, line, sizeof(line)), 0);
	line[strlen(line) / 2] = '\0';
	fprintf(f, "+ %s", line);
	fclose(f);
	snprintf(block, sizeof(block), "%s/latches.new", dir);
	assert_int_equal(mkdir(block, 0700), 0);
	snprintf(block, sizeof(block), "%s/latches.new/x", dir);
	assert_int_equal(mkdir(block, 0700), 0);
	assert_int_equal(persist_open(dir, 0700, &p), 0);
	assert_int_equal(persist_load(p, collect, &s), 1);
	put(p, 4);
	persist_close(p);
	assert_int_equal(rmdir(block), 0);
	block[strlen(block) - 2] = '\0';
	assert_int_equal(rmdir(block), 0);
	assert_int_equal(reload(dir, &s), 2);
	assert_true(seen(&s, 1) && !seen(&s, 3) && seen(&s, 4));
	rmdir_all(dir);
}

/* A state directory that belongs to another user is refused, whatever its mode (root only). */
static void a_directory_of_another_user_is_refused(void **state)
{
	char dir[64], journal[80];
	struct persist *p = NULL;

	if (geteuid() != 0)
		skip();
	tmpdir(dir, sizeof(dir), journal, sizeof(journal));
	assert_int_equal(chmod(dir, 0700), 0);
	assert_int_equal(chown(dir, 65534, 65534), 0);
	assert_int_equal(persist_open(dir, 0700, &p), -EPERM);
	assert_null(p);
	assert_int_equal(access(journal, F_OK), -1); /* nothing made in it */
	assert_int_equal(chown(dir, 0, 0), 0);
	assert_int_equal(persist_open(dir, 0700, &p), 0);
	persist_close(p);
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
		cmocka_unit_test(every_field_round_trips),
		cmocka_unit_test(unknown_versions_are_skipped),
		cmocka_unit_test(torn_last_line_then_more),
		cmocka_unit_test(torn_last_line_kept_journal),
		cmocka_unit_test(a_directory_of_another_user_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
