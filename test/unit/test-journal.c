/* SPDX-License-Identifier: MIT */
/*
 * latchd's journal fields (src/latchd/base/log.c, src/latchd/core/core-metrics.c):
 * the log pointed at a datagram socket this test reads, as journald's native
 * socket would be; each latch event kind with its MESSAGE_ID, LATCH_ID,
 * PEER_ID, UID and REASON; plain lines without them; the native protocol's
 * binary-safe form for a value with a newline.
 */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "latchd/base/log.h"
#include "latchd/core/core-int.h"

#define FIELDS_MAX 16

struct entry {
	char key[FIELDS_MAX][32];
	char val[FIELDS_MAX][1024];
	int n;
};

static char sock_path[108];
static int sock_fd = -1;

static int setup(void **state)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	(void)state;
	snprintf(sock_path, sizeof(sock_path), "/tmp/test-journal-%d.sock", (int)getpid());
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
	unlink(sock_path);
	sock_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(sock_fd >= 0);
	assert_int_equal(bind(sock_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(log_journal_open(sock_path), 0);
	log_set_level(LOG_LVL_INFO);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	log_journal_open(NULL);
	close(sock_fd);
	unlink(sock_path);
	return 0;
}

/* One datagram, parsed by the native protocol's rules; false when none is waiting. */
static bool next_entry(struct entry *e)
{
	char buf[16384];
	ssize_t n = recv(sock_fd, buf, sizeof(buf), 0);
	size_t i = 0;

	memset(e, 0, sizeof(*e));
	if (n < 0)
		return false;
	while (i < (size_t)n) {
		char *start = buf + i, *nl = memchr(start, '\n', (size_t)n - i);
		char *eq = nl ? memchr(start, '=', (size_t)(nl - start)) : NULL;
		size_t kl;

		assert_non_null(nl); /* every field ends with a newline */
		assert_true(e->n < FIELDS_MAX);
		kl = (size_t)((eq ? eq : nl) - start);
		assert_true(kl > 0 && kl < sizeof(e->key[0]));
		memcpy(e->key[e->n], start, kl);
		if (eq) {
			memcpy(e->val[e->n], eq + 1, (size_t)(nl - eq - 1));
			i = (size_t)(nl - buf) + 1;
		} else { /* KEY\n, 64-bit little-endian length, value, \n */
			uint64_t len = 0;

			assert_true((size_t)(nl - buf) + 9 <= (size_t)n);
			for (int b = 0; b < 8; b++)
				len |= (uint64_t)(uint8_t)nl[1 + b] << (8 * b);
			assert_true(len < sizeof(e->val[0]));
			assert_true((size_t)(nl - buf) + 10 + len <= (size_t)n);
			memcpy(e->val[e->n], nl + 9, len);
			assert_int_equal(nl[9 + len], '\n');
			i = (size_t)(nl - buf) + 10 + len;
		}
		e->n++;
	}
	return true;
}

static const char *field(const struct entry *e, const char *key)
{
	for (int i = 0; i < e->n; i++)
		if (!strcmp(e->key[i], key))
			return e->val[i];
	return NULL;
}

static void assert_field(const struct entry *e, const char *key, const char *want)
{
	const char *got = field(e, key);

	if (!want) {
		if (got)
			fail_msg("%s=%s, expected none", key, got);
		return;
	}
	if (!got)
		fail_msg("no %s (expected %s)", key, want);
	assert_string_equal(got, want);
}

/* A plain line: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER and nothing of an event. */
static void plain_lines_carry_no_event_fields(void **state)
{
	struct entry e;

	(void)state;
	log_warn("charon unreachable: %s", "No such file or directory");
	assert_true(next_entry(&e));
	assert_field(&e, "MESSAGE", "charon unreachable: No such file or directory");
	assert_field(&e, "PRIORITY", "4");
	assert_field(&e, "SYSLOG_IDENTIFIER", "latchd");
	assert_field(&e, "MESSAGE_ID", NULL);
	assert_field(&e, "LATCH_ID", NULL);
	log_debug("not at this level");
	assert_false(next_entry(&e));
}

/* A value with a newline travels length-prefixed, whole. */
static void a_newline_is_sent_binary_safe(void **state)
{
	struct log_field f[] = { { "PEER_ID", "two\nlines" }, { "UID", NULL } };
	struct entry e;

	(void)state;
	log_event(LOG_LVL_INFO, LOG_EV_CLOSED, f, 2, "x%sy", "\n");
	assert_true(next_entry(&e));
	assert_field(&e, "PEER_ID", "two\nlines");
	assert_field(&e, "MESSAGE", "x\ny");
	assert_field(&e, "UID", NULL); /* a NULL value is left out */
	assert_field(&e, "MESSAGE_ID", log_event_id(LOG_EV_CLOSED));
}

/* Four kinds, four ids, each 128 bits in hex. */
static void each_event_kind_has_its_own_id(void **state)
{
	const char *ids[] = { log_event_id(LOG_EV_ESTABLISHED), log_event_id(LOG_EV_BROKEN),
			      log_event_id(LOG_EV_CLOSED), log_event_id(LOG_EV_REFUSED) };

	(void)state;
	for (int i = 0; i < 4; i++) {
		assert_non_null(ids[i]);
		assert_int_equal(strlen(ids[i]), 32);
		assert_int_equal(strspn(ids[i], "0123456789abcdef"), 32);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(ids[i], ids[j]);
	}
}

/* The core's events, as on_changed and the refusals call them. */
static void core_events_carry_latch_peer_uid_reason(void **state)
{
	static struct latch_policy pol = { .peer_id = "b.example" };
	static struct latch_ident remote = { .id = "C=CH, O=latch-lab, CN=b.example" }, none;
	struct core *c = calloc(1, sizeof(*c));
	struct latch l = { .id = 42, .remote = &none, .local = &none, .pol = &pol };
	struct request req = { .type = IPC_MSG_CONNECT, .cred = { .uid = 1001 } };
	struct entry e;

	(void)state;
	assert_non_null(c);
	l.owner.uid = 1000;
	l.flow.family = AF_INET;
	l.flow.proto = 6;

	/* refused before SA: the peer the token asks for */
	l.state = IPC_STATE_LARVAL;
	core_metrics_refused(c, NULL, &l, -EACCES, "no SA with an acceptable peer");
	assert_true(next_entry(&e));
	assert_field(&e, "MESSAGE_ID", log_event_id(LOG_EV_REFUSED));
	assert_field(&e, "LATCH_ID", "42");
	assert_field(&e, "PEER_ID", "b.example");
	assert_field(&e, "UID", "1000");
	assert_field(&e, "REASON", "EACCES");
	/* the latch that closes in LARVAL is no "closed" event: it was refused */
	l.state = IPC_STATE_CLOSED;
	core_metrics_changed(c, &l, IPC_STATE_LARVAL);
	assert_true(next_entry(&e));
	assert_field(&e, "MESSAGE_ID", NULL);

	/* a refusal before any latch was made: no LATCH_ID */
	core_metrics_refused(c, &req, NULL, -EPERM, "not yours");
	assert_true(next_entry(&e));
	assert_field(&e, "MESSAGE_ID", log_event_id(LOG_EV_REFUSED));
	assert_field(&e, "LATCH_ID", NULL);
	assert_field(&e, "UID", "1001");
	assert_field(&e, "REASON", "EPERM");
	/* a cancelled request (the client went away) refused nobody */
	core_metrics_refused(c, &req, NULL, -ECANCELED, "the client went away");
	assert_false(next_entry(&e));

	/* established: the peer it was latched to */
	l.id = 43;
	l.remote = &remote;
	l.state = IPC_STATE_ESTABLISHED;
	l.reason = IPC_REASON_NONE;
	core_metrics_changed(c, &l, IPC_STATE_LARVAL);
	assert_true(next_entry(&e));
	assert_field(&e, "MESSAGE_ID", log_event_id(LOG_EV_ESTABLISHED));
	assert_field(&e, "LATCH_ID", "43");
	assert_field(&e, "PEER_ID", "C=CH, O=latch-lab, CN=b.example");
	assert_field(&e, "UID", "1000");
	assert_field(&e, "REASON", "none");
	assert_field(&e, "PRIORITY", "6");
	assert_non_null(strstr(field(&e, "MESSAGE"), "latch 43 "));

	l.state = IPC_STATE_BROKEN;
	l.reason = IPC_REASON_SA_CONFLICT;
	core_metrics_changed(c, &l, IPC_STATE_ESTABLISHED);
	assert_true(next_entry(&e));
	assert_field(&e, "MESSAGE_ID", log_event_id(LOG_EV_BROKEN));
	assert_field(&e, "REASON", "sa-conflict");
	assert_field(&e, "LATCH_ID", "43");

	l.state = IPC_STATE_CLOSED;
	l.reason = IPC_REASON_ADMIN;
	core_metrics_changed(c, &l, IPC_STATE_BROKEN);
	assert_true(next_entry(&e));
	assert_field(&e, "MESSAGE_ID", log_event_id(LOG_EV_CLOSED));
	assert_field(&e, "REASON", "admin");
	assert_false(next_entry(&e));

	/* and counted for latchctl metrics */
	assert_int_equal(c->metrics.established, 1);
	assert_int_equal(c->metrics.breaks[IPC_REASON_SA_CONFLICT], 1);
	assert_int_equal(c->metrics.closed, 1);
	assert_int_equal(c->metrics.refusals[EACCES], 1);
	assert_int_equal(c->metrics.refusals[EPERM], 1);
	assert_int_equal(c->metrics.refusals[ECANCELED], 0);
	free(c);
}

/* Without the journal: the same text on stderr, and nothing on the socket. */
static void without_the_journal_plain_text(void **state)
{
	struct entry e;

	(void)state;
	assert_int_equal(log_journal_open(NULL), 0);
	log_info("to stderr");
	assert_false(next_entry(&e));
	assert_int_equal(log_journal_open("/nonexistent/journal/socket"), -ENOENT);
	log_info("to stderr as well");
	assert_false(next_entry(&e));
	assert_int_equal(log_journal_open(sock_path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plain_lines_carry_no_event_fields),
		cmocka_unit_test(a_newline_is_sent_binary_safe),
		cmocka_unit_test(each_event_kind_has_its_own_id),
		cmocka_unit_test(core_events_carry_latch_peer_uid_reason),
		cmocka_unit_test(without_the_journal_plain_text),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
