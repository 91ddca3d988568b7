/* SPDX-License-Identifier: MIT */
/* latchd's latch database (src/latchd/db/latchdb.c) and configuration (config.c). */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "latchd/base/config.h"
#include "latchd/db/latchdb.h"

struct changes {
	unsigned n;
	uint8_t last_old, last_new;
};

static void changed(void *u, struct latch *l, uint8_t old)
{
	struct changes *c = u;

	c->n++;
	c->last_old = old;
	c->last_new = l->state;
}

static const struct latchdb_ops ops = { changed };

static struct flow mkflow(unsigned lport)
{
	struct flow f;

	assert_int_equal(flow_parse("tcp", "192.0.2.1", lport, "192.0.2.2", 8080, &f), 0);
	return f;
}

static void state_machine_of_rfc5660(void **state)
{
	struct changes ch = { 0 };
	struct latchdb *db;
	struct latch *l;
	struct flow f = mkflow(40000);

	assert_int_equal(latchdb_new(&ops, &ch, &db), 0);
	l = latchdb_add(db, &f, 1);
	assert_int_equal(l->state, IPC_STATE_LARVAL);
	assert_int_equal(latchdb_set_state(db, l, IPC_STATE_LISTENER, 0, 2), -EINVAL);
	assert_int_equal(latchdb_set_state(db, l, IPC_STATE_ESTABLISHED, 0, 3), 0);
	assert_int_equal(ch.n, 1);
	assert_int_equal(latchdb_set_state(db, l, IPC_STATE_BROKEN, IPC_REASON_SA_GONE, 4), 0);
	assert_int_equal(latchdb_set_state(db, l, IPC_STATE_ESTABLISHED, IPC_REASON_RESTORED, 5),
			 0);
	assert_int_equal(latchdb_set_state(db, l, IPC_STATE_CLOSED, IPC_REASON_OWNER, 6), 0);
	assert_int_equal(ch.last_old, IPC_STATE_ESTABLISHED);
	assert_int_equal(ch.last_new, IPC_STATE_CLOSED);
	/* CLOSED is final (R23) */
	assert_int_equal(latchdb_set_state(db, l, IPC_STATE_ESTABLISHED, 0, 7), -EINVAL);
	assert_int_equal(ch.n, 4);
	assert_int_equal(l->n_hist, 5);
	assert_int_equal(l->hist[4].state, IPC_STATE_CLOSED);
	assert_int_equal(l->hist[2].reason, IPC_REASON_SA_GONE);
	latchdb_free(db);
}

static void listener_only_closes(void **state)
{
	struct latchdb *db;
	struct flow3 l3 = { .family = AF_INET, .proto = 6, .port = 8080 };
	struct latch *l;
	struct flow f = mkflow(40000);

	assert_int_equal(latchdb_new(NULL, NULL, &db), 0);
	l = latchdb_add_listener(db, &l3, 1);
	assert_int_equal(l->state, IPC_STATE_LISTENER);
	assert_int_equal(latchdb_set_state(db, l, IPC_STATE_BROKEN, 0, 2), -EINVAL);
	assert_int_equal(latchdb_set_state(db, l, IPC_STATE_ESTABLISHED, 0, 2), -EINVAL);
	/* a wildcard listener covers a connection to any local address on its port */
	f.lport = 8080;
	assert_ptr_equal(latchdb_listener_for(db, &f), l);
	f.lport = 8081;
	assert_null(latchdb_listener_for(db, &f));
	assert_ptr_equal(latchdb_listener(db, &l3), l);
	assert_int_equal(latchdb_set_state(db, l, IPC_STATE_CLOSED, 0, 3), 0);
	assert_null(latchdb_listener(db, &l3)); /* closed ones are not found */
	latchdb_free(db);
}

static void indexes_hold_at_scale(void **state)
{
	struct latchdb *db;
	struct latch *l;
	struct flow f;

	assert_int_equal(latchdb_new(NULL, NULL, &db), 0);
	for (unsigned i = 0; i < 5000; i++) {
		f = mkflow(10000 + i);
		l = latchdb_add(db, &f, i);
		assert_non_null(l);
		latchdb_set_cookie(db, l, 0x1000 + i);
		latchdb_set_owner(db, l, &(struct ucred){ .uid = i % 3 });
	}
	f = mkflow(10000 + 4321);
	l = latchdb_by_flow(db, &f);
	assert_non_null(l);
	assert_int_equal(l->flow.lport, 10000 + 4321);
	assert_ptr_equal(latchdb_by_id(db, l->id), l);
	assert_ptr_equal(latchdb_by_cookie(db, 0x1000 + 4321), l);
	assert_int_equal(latchdb_count(db, IPC_STATE_LARVAL), 5000);
	assert_int_equal(latchdb_count_uid(db, 1), 1667);
	assert_int_equal(l->owner.uid, 4321 % 3);
	latchdb_remove(db, l);
	assert_int_equal(latchdb_count_uid(db, 4321 % 3), 1666); /* its owner's count went down */
	assert_null(latchdb_by_flow(db, &f));
	assert_null(latchdb_by_cookie(db, 0x1000 + 4321));
	assert_int_equal(latchdb_count(db, IPC_STATE_LARVAL), 4999);
	latchdb_free(db);
}

/* Equal policies and identities are held once; each latch keeps its own value. */
static void values_are_shared_and_kept_apart(void **state)
{
	struct latch_policy p1 = { .on_break = IPC_ON_BREAK_RESET }, p2 = p1;
	struct latch_ident peer = { 0 }, other = { 0 };
	struct latch *a, *b, *c, view;
	struct latchdb *db;
	struct flow f;

	strcpy(peer.id, "b.example");
	strcpy(other.id, "c.example");
	strcpy(p2.peer_id, "c.example");
	assert_int_equal(latchdb_new(NULL, NULL, &db), 0);
	f = mkflow(1);
	a = latchdb_add(db, &f, 0);
	f = mkflow(2);
	b = latchdb_add(db, &f, 0);
	f = mkflow(3);
	c = latchdb_add(db, &f, 0);
	assert_string_equal(a->remote->id, ""); /* a new latch has empty values, never NULL */
	assert_int_equal(a->pol->on_break, 0);
	assert_int_equal(latchdb_set_policy(db, a, &p1), 0);
	assert_int_equal(latchdb_set_policy(db, b, &p1), 0);
	assert_int_equal(latchdb_set_policy(db, c, &p2), 0);
	assert_ptr_equal(a->pol, b->pol);
	assert_ptr_not_equal(a->pol, c->pol);
	assert_string_equal(c->pol->peer_id, "c.example");
	assert_int_equal(latchdb_set_ident(db, a, true, &peer), 0);
	assert_int_equal(latchdb_set_ident(db, b, true, &peer), 0);
	assert_int_equal(latchdb_set_ident(db, b, false, &other), 0);
	assert_ptr_equal(a->remote, b->remote);
	assert_string_equal(b->local->id, "c.example");
	/* a view outlives the latch it was taken from */
	latchdb_view(db, a, &view);
	latchdb_remove(db, a);
	assert_string_equal(view.remote->id, "b.example");
	assert_int_equal(view.pol->on_break, IPC_ON_BREAK_RESET);
	latchdb_view_done(db, &view);
	/* changing one latch's value leaves the other's alone */
	assert_int_equal(latchdb_set_ident(db, b, true, &other), 0);
	assert_string_equal(b->remote->id, "c.example");
	assert_ptr_equal(b->remote, b->local);
	assert_int_equal(latchdb_set_policy(db, b, &p2), 0);
	assert_ptr_equal(b->pol, c->pol);
	latchdb_free(db); /* frees what is still held (the sanitizer build checks) */
}

static void config_reads_every_kind_of_key(void **state)
{
	char path[] = "/tmp/latch-test-conf-XXXXXX", err[256];
	const char *text = "# comment\n socket = /tmp/x.sock \nmark=0x200\ndpd_delay = 2m\n"
			   "ca = /a.pem\nca=/b.pem\ndata_plane = kernel\nmax_latches_per_uid = 7\n";
	struct config c;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	config_defaults(&c);
	assert_int_equal(c.mark, 0x100);
	assert_int_equal(config_load(&c, path, true, err, sizeof(err)), 0);
	assert_string_equal(c.socket, "/tmp/x.sock");
	assert_int_equal(c.mark, 0x200);
	assert_int_equal(c.dpd_delay, 120);
	assert_int_equal(c.n_cas, 2);
	assert_string_equal(c.cas[1], "/b.pem");
	assert_int_equal(c.data_plane, DATA_PLANE_KERNEL);
	assert_int_equal(c.max_latches, 7);
	unlink(path);
}

static void config_refuses_what_it_does_not_know(void **state)
{
	char path[] = "/tmp/latch-test-conf-XXXXXX", err[256];
	const char *text = "socket = /tmp/x.sock\nmrak = 0x200\n";
	struct config c;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	config_defaults(&c);
	assert_int_equal(config_load(&c, path, true, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, ":2: unknown key 'mrak'"));
	assert_int_equal(config_set(&c, "mark", "0", err, sizeof(err)), -EINVAL);
	assert_int_equal(config_set(&c, "dpd_delay", "-3", err, sizeof(err)), -EINVAL);
	assert_int_equal(config_set(&c, "data_plane", "fast", err, sizeof(err)), -EINVAL);
	/* Keys and values are clean text (shared/text.h); what is not is refused unquoted. */
	assert_int_equal(config_set(&c, "local_id", "CN=a\x1b[2J", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "local_id: the value has a control byte or invalid UTF-8 at 4");
	assert_int_equal(config_set(&c, "m\xffrk", "1", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "a key has a control byte or invalid UTF-8 at 1");
	assert_int_equal(config_set(&c, "local_id", "CN=Z\xc3\xbcrich", err, sizeof(err)), 0);
	assert_int_equal(config_load(&c, "/nonexistent/latchd.conf", false, err, sizeof(err)), 0);
	assert_int_equal(config_load(&c, "/nonexistent/latchd.conf", true, err, sizeof(err)),
			 -ENOENT);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(state_machine_of_rfc5660),
		cmocka_unit_test(listener_only_closes),
		cmocka_unit_test(indexes_hold_at_scale),
		cmocka_unit_test(values_are_shared_and_kept_apart),
		cmocka_unit_test(config_reads_every_kind_of_key),
		cmocka_unit_test(config_refuses_what_it_does_not_know),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
