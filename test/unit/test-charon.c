/* SPDX-License-Identifier: MIT */
/*
 * charon as the core sees it (src/latchd/charon/charon.h): the facade over
 * fuzz-core's fake VICI client (test/fuzz/core/fake-vici.c), which keeps
 * what each command sent and answers with trees built by the codec or
 * captured from a real charon (vici-golden.h). What goes in is typed, what
 * comes out is typed; the VICI words in between are checked here.
 */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fuzz/core/harness.h"
#include "latchd/charon/charon.h"
#include "vici-golden.h"

#define LOG_MAX 16

struct fixture {
	struct sacache *sa;
	struct charon *ch;
	char log[LOG_MAX][128]; /* what the facade and the SA cache reported, in order */
	unsigned n;
	uint64_t ids[4];
	size_t n_ids;
};

static void note(struct fixture *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct fixture *f, const char *fmt, ...)
{
	va_list ap;

	assert_true(f->n < LOG_MAX);
	va_start(ap, fmt);
	vsnprintf(f->log[f->n++], sizeof(f->log[0]), fmt, ap);
	va_end(ap);
}

static void on_up(void *u, bool resync)
{
	note(u, "up%s", resync ? " resync" : "");
}

static void on_down(void *u, int err, const char *why)
{
	note(u, "down %s %d", why, err);
}

static void on_auth_failed(void *u, const struct charon_auth_failure *af)
{
	note(u, "auth-failed %s '%s'", af->conn, af->remote_id);
}

static void on_child_up(void *u, const struct sa_ike *ike, const struct sa_child *c)
{
	note(u, "child-up %s %u", c->name, (unsigned)c->id);
}

static void on_done(void *u, int err, const char *errmsg)
{
	note(u, "done '%s' %d", errmsg, err);
}

static const struct charon_ops ops = {
	.up = on_up,
	.down = on_down,
	.auth_failed = on_auth_failed,
};
static const struct sacache_ops sa_ops = { .child_up = on_child_up };

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	fake_vici_reset();
	assert_int_equal(sacache_new(&sa_ops, f, &f->sa), 0);
	assert_int_equal(charon_new(NULL, "/nonexistent/charon.vici", f->sa, &ops, f, &f->ch), 0);
	fake_vici_up(false);
	assert_string_equal(f->log[0], "up");
	f->n = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	charon_free(f->ch);
	sacache_free(f->sa);
	fake_vici_reset();
	free(f);
	return 0;
}

/* The only call queued: its command name, and the value of key in its message. */
static const char *sent(const char *cmd, const char *key)
{
	assert_int_equal(fake_vici_calls(), 1);
	assert_string_equal(fake_vici_call_name(0), cmd);
	return vici_get_str(fake_vici_call_msg(0), key);
}

/* Answer the only call with {success = yes|no, errmsg}. */
static void answer(bool ok, const char *errmsg)
{
	struct vici_node *reply = vici_msg_new();

	vici_add_kv(reply, "success", ok ? "yes" : "no");
	if (errmsg)
		vici_add_kv(reply, "errmsg", errmsg);
	fake_vici_answer(0, 0, reply, NULL);
	vici_node_free(reply);
}

static void test_up_down(void **state)
{
	struct fixture *f = *state;

	assert_null(charon_error(f->ch));
	fake_vici_down(-ECONNRESET);
	assert_false(charon_is_up(f->ch));
	assert_string_equal(charon_error(f->ch), "charon is down (fake)");
	fake_vici_up(true);
	assert_true(charon_is_up(f->ch));
	assert_null(charon_error(f->ch));
	assert_int_equal(f->n, 2);
	assert_string_equal(f->log[0], "down charon went away -104");
	assert_string_equal(f->log[1], "up resync");
}

/* An ike-updown of an IKE_SA never up reaches the core typed; SA events fill the cache. */
static void test_events(void **state)
{
	struct fixture *f = *state;
	struct vici_node *m = vici_msg_new(),
			 *ike = vici_add_section(m, "latch-i-192.0.2.2-0badc0de");
	struct vici_node *up = golden_event(GOLDEN_CHILD_UPDOWN_EVENT);

	vici_add_kv(ike, "uniqueid", "4");
	vici_add_kv(ike, "state", "CONNECTING");
	vici_add_kv(ike, "remote-id", "CN=mallory\n");
	fake_vici_event("ike-updown", m);
	fake_vici_event("child-updown", m); /* not an ike-updown: no failure */
	fake_vici_event("child-updown", up);
	assert_int_equal(f->n, 2);
	assert_string_equal(f->log[0], "auth-failed latch-i-192.0.2.2-0badc0de 'CN=mallory\\x0a'");
	assert_string_equal(f->log[1], "child-up f5353 3");
	assert_non_null(sacache_child(f->sa, 3));
	vici_node_free(up);
	vici_node_free(m);
}

/* list-sas (noblock) fills the SA cache before the callback runs; a failure leaves it. */
static void test_read_sas(void **state)
{
	struct fixture *f = *state;
	struct vici_node *stream = vici_msg_new(), *golden = golden_event(GOLDEN_LIST_SA_EVENT);
	struct vici_node *reply = vici_msg_new();
	struct vici_err err;
	struct buf b;

	assert_int_equal(charon_read_sas(f->ch, on_done, f), 0);
	assert_string_equal(sent("list-sas", "noblock"), "yes");
	fake_vici_answer(0, -ETIMEDOUT, NULL, NULL);
	assert_int_equal(sacache_count_ike(f->sa), 0);
	assert_string_equal(f->log[0], "done 'injected' -110");

	buf_init(&b, 0);
	assert_int_equal(vici_msg_encode(&b, golden, &err), 0);
	assert_int_equal(
		vici_msg_decode_into(vici_add_section(stream, "list-sa"), b.data, b.len, &err), 0);
	assert_int_equal(charon_read_sas(f->ch, on_done, f), 0);
	fake_vici_answer(0, 0, reply, stream);
	assert_int_equal(sacache_count_ike(f->sa), 1);
	assert_int_equal(sacache_count_children(f->sa), 2);
	assert_int_equal(f->n, 4);
	assert_string_equal(f->log[3], "done '' 0"); /* after both children are in */
	buf_free(&b);
	vici_node_free(reply);
	vici_node_free(stream);
	vici_node_free(golden);
}

static void on_info(void *u, int err, const char *errmsg, const struct vici_charon *info)
{
	note(u, "info '%s' %d", errmsg, err);
}

/* Typed arguments become the VICI words charon wants; charon's refusal comes back cleaned. */
static void test_commands(void **state)
{
	struct fixture *f = *state;
	const char pem[] = "-----BEGIN CERTIFICATE-----";
	const struct vici_node *data;

	assert_int_equal(charon_initiate(f->ch, "latch-x-7", "latch-x-7", on_done, f), 0);
	assert_string_equal(sent("initiate", "timeout"), "-1");
	assert_string_equal(vici_get_str(fake_vici_call_msg(0), "ike"), "latch-x-7");
	assert_string_equal(vici_get_str(fake_vici_call_msg(0), "child"), "latch-x-7");
	answer(false, "establishing CHILD_SA failed\x07");
	assert_string_equal(f->log[0], "done 'establishing CHILD_SA failed\\x07' -121");

	assert_int_equal(charon_terminate_child(f->ch, 12, on_done, f), 0);
	assert_string_equal(sent("terminate", "child-id"), "12");
	assert_null(vici_get(fake_vici_call_msg(0), "ike-id"));
	assert_string_equal(vici_get_str(fake_vici_call_msg(0), "timeout"), "-1");
	answer(true, NULL);
	assert_string_equal(f->log[1], "done '' 0");

	assert_int_equal(charon_terminate_ike(f->ch, 5, on_done, f), 0);
	assert_string_equal(sent("terminate", "ike-id"), "5");
	assert_null(vici_get(fake_vici_call_msg(0), "child-id"));
	answer(true, NULL);

	assert_int_equal(
		charon_load_cert(f->ch, (struct charon_blob){ pem, sizeof(pem) - 1 }, on_done, f),
		0);
	assert_string_equal(sent("load-cert", "type"), "X509");
	assert_string_equal(vici_get_str(fake_vici_call_msg(0), "flag"), "NONE");
	data = vici_get(fake_vici_call_msg(0), "data");
	assert_non_null(data);
	assert_int_equal(data->value_len, sizeof(pem) - 1);
	answer(true, NULL);

	assert_int_equal(charon_load_key(f->ch, (struct charon_blob){ pem, 3 }, on_done, f), 0);
	assert_string_equal(sent("load-key", "type"), "any");
	answer(true, NULL);

	assert_int_equal(charon_flush_certs(f->ch, on_done, f), 0);
	assert_string_equal(sent("flush-certs", "type"), "X509");
	answer(true, NULL);

	assert_int_equal(charon_unload_conn(f->ch, "latch-x-7", on_done, f), 0);
	assert_string_equal(sent("unload-conn", "name"), "latch-x-7");
	answer(true, NULL);
	assert_int_equal(f->n, 7);

	assert_int_equal(charon_info(f->ch, on_info, f), 0); /* version, then stats */
	assert_null(sent("version", "daemon"));
	fake_vici_answer(0, -ETIMEDOUT, NULL, NULL);
	assert_string_equal(f->log[7], "info 'injected' -110");
}

static void on_names(void *u, int err, const char *errmsg, const char *const *names, size_t n)
{
	struct fixture *f = u;

	note(f, "names %s %d", n ? names[n - 1] : "-", err ? err : (int)n);
}

static void on_ids(void *u, int err, const char *errmsg, const uint64_t *ids, size_t n)
{
	struct fixture *f = u;

	assert_true(n <= 4);
	memcpy(f->ids, ids, n * sizeof(*ids));
	f->n_ids = n;
	note(f, "ids %d", err);
}

static void add_list_sa(struct vici_node *stream, const char *conn, const char *id)
{
	struct vici_node *ike = vici_add_section(vici_add_section(stream, "list-sa"), conn);

	vici_add_kv(ike, "uniqueid", id);
	vici_add_kv(ike, "state", "ESTABLISHED");
}

/* Listings come back as arrays of typed values; the SA cache is not touched by the ids. */
static void test_listings(void **state)
{
	struct fixture *f = *state;
	struct vici_node *reply = vici_msg_new(), *conns = vici_add_list(reply, "conns");
	struct vici_node *stream = vici_msg_new();

	vici_add_item(conns, "lab");
	vici_add_item(conns, "latch-r-12345678");
	assert_int_equal(charon_list_conns(f->ch, on_names, f), 0);
	assert_int_equal(fake_vici_calls(), 1);
	assert_string_equal(fake_vici_call_name(0), "get-conns");
	fake_vici_answer(0, 0, reply, NULL);
	assert_string_equal(f->log[0], "names latch-r-12345678 2");
	assert_int_equal(charon_list_conns(f->ch, on_names, f), 0);
	fake_vici_answer(0, 0, stream, NULL); /* no conns list */
	assert_string_equal(f->log[1], "names - -74");

	add_list_sa(stream, "lab", "4");
	add_list_sa(stream, "latch-ib-192.0.2.2", "7");
	assert_int_equal(charon_list_ike_ids(f->ch, on_ids, f), 0);
	assert_string_equal(sent("list-sas", "noblock"), "yes");
	fake_vici_answer(0, 0, reply, stream);
	assert_string_equal(f->log[2], "ids 0");
	assert_int_equal(f->n_ids, 2);
	assert_int_equal(f->ids[0], 4);
	assert_int_equal(f->ids[1], 7);
	assert_int_equal(sacache_count_ike(f->sa), 0);
	vici_node_free(stream);
	vici_node_free(reply);
}

/* charon away: commands are refused at once (no callback); queued ones fail when it goes. */
static void test_charon_away(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(charon_initiate(f->ch, "a", "a", on_done, f), 0);
	fake_vici_down(-ECONNRESET);
	assert_string_equal(f->log[0], "done 'charon closed the connection' -104");
	assert_string_equal(f->log[1], "down charon went away -104");
	assert_int_equal(charon_initiate(f->ch, "a", "a", on_done, f), -ENOTCONN);
	assert_int_equal(charon_read_sas(f->ch, on_done, f), -ENOTCONN);
	assert_int_equal(charon_list_conns(f->ch, on_names, f), -ENOTCONN);
	assert_int_equal(f->n, 2);
	fake_vici_up(true);
	assert_int_equal(charon_load_key(f->ch, (struct charon_blob){ "k", 1 }, on_done, f), 0);
	charon_free(f->ch); /* a command under way fails, exactly once */
	f->ch = NULL;
	assert_int_equal(f->n, 4);
	assert_string_equal(f->log[3], "done 'VICI client freed' -125");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_up_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_sas, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_charon_away, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
