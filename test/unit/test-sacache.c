/* SPDX-License-Identifier: MIT */
/*
 * latchd's SA cache (src/latchd/charon/sacache.c), fed with VICI events captured
 * from a real charon (vici-golden.h) and with trees built like them.
 */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "latchd/charon/sacache-feed.h"
#include "vici-golden.h"

struct seen {
	unsigned ike_up, ike_down, child_up, child_down, rekeyed, ike_rekeyed;
	uint32_t last_child, last_old;
	unsigned ike_rekeyed_at; /* ike_up calls seen when the IKE rekey was reported */
};

static void on_ike_up(void *u, const struct sa_ike *ike)
{
	((struct seen *)u)->ike_up++;
}

static void on_ike_down(void *u, const struct sa_ike *ike)
{
	((struct seen *)u)->ike_down++;
}

static void on_child_up(void *u, const struct sa_ike *ike, const struct sa_child *c)
{
	struct seen *s = u;

	s->child_up++;
	s->last_child = c->id;
}

static void on_child_down(void *u, const struct sa_ike *ike, const struct sa_child *c)
{
	struct seen *s = u;

	s->child_down++;
	s->last_child = c->id;
}

static void on_rekeyed(void *u, uint32_t old, const struct sa_ike *ike, const struct sa_child *c)
{
	struct seen *s = u;

	s->rekeyed++;
	s->last_old = old;
	s->last_child = c->id;
}

static void on_ike_rekeyed(void *u, uint32_t old, const struct sa_ike *nu)
{
	struct seen *s = u;

	s->ike_rekeyed++;
	s->last_old = old;
	s->last_child = nu->id;
	s->ike_rekeyed_at = s->ike_up;
}

static const struct sacache_ops ops = { .ike_up = on_ike_up,
					.ike_rekeyed = on_ike_rekeyed,
					.ike_down = on_ike_down,
					.child_up = on_child_up,
					.child_down = on_child_down,
					.child_rekeyed = on_rekeyed };

static struct flow tcp_flow(unsigned lport, unsigned rport)
{
	struct flow f;

	assert_int_equal(flow_parse("tcp", "192.0.2.1", lport, "192.0.2.2", rport, &f), 0);
	return f;
}

static bool count_visit(void *u, const struct sa_ike *ike, const struct sa_child *c)
{
	*(uint32_t *)u = c->id;
	return false;
}

static void list_sa_from_charon(void **state)
{
	struct vici_node *msg = golden_event(GOLDEN_LIST_SA_EVENT);
	const struct sa_child *c;
	const struct sa_ike *ike;
	struct seen seen = { 0 };
	struct sacache *sc;
	uint32_t id = 0;
	struct flow f;

	assert_int_equal(sacache_new(&ops, &seen, &sc), 0);
	assert_int_equal(sacache_feed(sc, "list-sa", msg), 0);
	assert_int_equal(seen.ike_up, 1);
	assert_int_equal(seen.child_up, 2);
	assert_int_equal(sacache_count_children(sc), 2);
	ike = sacache_ike(sc, 1);
	assert_non_null(ike);
	assert_string_equal(ike->remote_id, "b.example");
	assert_string_equal(ike->local_id, "a.example");
	assert_true(ike->initiator);
	c = sacache_child(sc, 1);
	assert_non_null(c);
	assert_int_equal(c->spi_in, 0xf7fa731f);
	assert_string_equal(c->encr, "AES_GCM_16-256");
	assert_int_equal(c->encr_bits, 256);
	/* charon printed the remote port as "http-alt": it must still be 8080 */
	assert_int_equal(c->rts[0].port_lo, 8080);
	f = tcp_flow(40000, 8080);
	assert_int_equal(sacache_covering(sc, &f, count_visit, &id), 1);
	assert_int_equal(id, 1);
	assert_true(sacache_child_is_exact(c, &f));
	f = tcp_flow(40001, 8080); /* another port: no child covers it */
	assert_int_equal(sacache_covering(sc, &f, count_visit, &id), 0);
	assert_int_equal(flow_parse("udp", "192.0.2.1", 40001, "192.0.2.2", 5353, &f), 0);
	assert_int_equal(sacache_covering(sc, &f, count_visit, &id), 1); /* "mdns" is 5353 */
	assert_int_equal(id, 3);
	sacache_clear(sc);
	assert_int_equal(seen.child_down, 2);
	assert_int_equal(seen.ike_down, 1);
	assert_int_equal(sacache_count_ike(sc), 0);
	vici_node_free(msg);
	sacache_free(sc);
}

static bool named(const void *u, const struct sa_child *c)
{
	return !strcmp(c->name, u);
}

/* latchd finds its own children by name (and by reqid) when it picks a reqid. */
static void child_with_finds_the_wanted_child(void **state)
{
	struct vici_node *msg = golden_event(GOLDEN_LIST_SA_EVENT);
	const struct sa_child *c;
	struct seen seen = { 0 };
	struct sacache *sc;

	assert_int_equal(sacache_new(&ops, &seen, &sc), 0);
	assert_int_equal(sacache_feed(sc, "list-sa", msg), 0);
	c = sacache_child_with(sc, named, "f5353");
	assert_non_null(c);
	assert_int_equal(c->id, 3);
	assert_int_not_equal(c->reqid, 0);
	assert_int_not_equal(c->reqid, sacache_child(sc, 1)->reqid);
	assert_null(sacache_child_with(sc, named, "f5354"));
	sacache_free(sc);
	vici_node_free(msg);
}

static void child_updown_from_charon(void **state)
{
	struct vici_node *up = golden_event(GOLDEN_CHILD_UPDOWN_EVENT);
	struct vici_node *ike = golden_event(GOLDEN_IKE_UPDOWN_EVENT);
	struct seen seen = { 0 };
	struct sacache *sc;

	assert_int_equal(sacache_new(&ops, &seen, &sc), 0);
	assert_int_equal(sacache_feed(sc, "ike-updown", ike), 0);
	assert_int_equal(seen.ike_up, 1);
	assert_int_equal(sacache_feed(sc, "child-updown", up), 0);
	assert_int_equal(seen.child_up, 1);
	assert_int_equal(seen.last_child, 3);
	assert_int_equal(seen.ike_up, 1); /* the same IKE_SA is not reported up twice */
	/* the same event without up=yes: the child goes */
	vici_node_free((struct vici_node *)vici_get(up, "up"));
	assert_int_equal(sacache_feed(sc, "child-updown", up), 0);
	assert_int_equal(seen.child_down, 1);
	assert_null(sacache_child(sc, 3));
	vici_node_free(up);
	vici_node_free(ike);
	sacache_free(sc);
}

/* A tree like charon's events: IKE section "conn" with one child. */
static struct vici_node *event_tree(bool up, const char *state, uint32_t ike_id,
				    const char *remote_id, uint32_t child_id, const char *lts,
				    const char *rts)
{
	struct vici_node *m = vici_msg_new(), *ike, *children, *ch, *l;

	if (up)
		vici_add_kv(m, "up", "yes");
	ike = vici_add_section(m, "conn");
	vici_add_kvf(ike, "uniqueid", "%u", ike_id);
	vici_add_kv(ike, "state", state);
	vici_add_kv(ike, "remote-id", remote_id);
	if (child_id) {
		children = vici_add_section(ike, "child-sas");
		ch = vici_add_section(children, "c-x");
		vici_add_kvf(ch, "uniqueid", "%u", child_id);
		vici_add_kv(ch, "state", "INSTALLED");
		vici_add_kv(ch, "mode", "TUNNEL");
		vici_add_kv(ch, "encr-alg", "AES_GCM_16");
		vici_add_kv(ch, "encr-keysize", "256");
		l = vici_add_list(ch, "local-ts");
		vici_add_item(l, lts);
		l = vici_add_list(ch, "remote-ts");
		vici_add_item(l, rts);
	}
	assert_int_equal(vici_msg_error(m), 0);
	return m;
}

static void auth_failure_is_never_up(void **state)
{
	struct vici_node *m = event_tree(false, "CONNECTING", 7, "evil.example", 0, NULL, NULL);
	struct seen seen = { 0 };
	struct sacache *sc;

	assert_int_equal(sacache_new(&ops, &seen, &sc), 0);
	assert_int_equal(sacache_feed(sc, "ike-updown", m), 0);
	assert_int_equal(seen.ike_up + seen.ike_down, 0);
	assert_null(sacache_ike(sc, 7));
	vici_node_free(m);
	sacache_free(sc);
}

static void host_to_host_child_covers_every_port(void **state)
{
	struct vici_node *m =
		event_tree(true, "ESTABLISHED", 2, "b.example", 9, "192.0.2.1/32", "192.0.2.2/32");
	struct seen seen = { 0 };
	struct sacache *sc;
	uint32_t id = 0;
	struct flow f = tcp_flow(5555, 22);

	assert_int_equal(sacache_new(&ops, &seen, &sc), 0);
	assert_int_equal(sacache_feed(sc, "child-updown", m), 0);
	assert_int_equal(sacache_covering(sc, &f, count_visit, &id), 1);
	assert_int_equal(id, 9);
	assert_false(sacache_child_is_exact(sacache_child(sc, 9), &f));
	assert_int_equal(flow_parse("tcp", "192.0.2.1", 5555, "192.0.2.3", 22, &f), 0);
	assert_int_equal(sacache_covering(sc, &f, count_visit, &id), 0);
	/* the IKE_SA goes down: its child is reported down first */
	vici_node_free(m);
	m = event_tree(false, "DELETING", 2, "b.example", 0, NULL, NULL);
	assert_int_equal(sacache_feed(sc, "ike-updown", m), 0);
	assert_int_equal(seen.child_down, 1);
	assert_int_equal(seen.ike_down, 1);
	vici_node_free(m);
	sacache_free(sc);
}

/* What a peer presented is cleaned where it enters (shared/text.h). */
static void identities_enter_cleaned(void **state)
{
	struct vici_node *m = event_tree(true, "ESTABLISHED", 2, "CN=b\x1b[2J\n\xff\xc2\x9b", 9,
					 "192.0.2.1/32", "192.0.2.2/32");
	struct seen seen = { 0 };
	struct sacache *sc;

	assert_int_equal(sacache_new(&ops, &seen, &sc), 0);
	assert_int_equal(sacache_feed(sc, "child-updown", m), 0);
	assert_string_equal(sacache_ike(sc, 2)->remote_id, "CN=b\\x1b[2J\\x0a\\xff\\xc2\\x9b");
	assert_string_equal(sacache_child(sc, 9)->encr, "AES_GCM_16-256");
	vici_node_free(m);
	sacache_free(sc);
}

static void rekey_replaces_the_child(void **state)
{
	struct vici_node *m =
		event_tree(true, "ESTABLISHED", 2, "b.example", 9, "192.0.2.1/32", "192.0.2.2/32");
	struct vici_node *rk = vici_msg_new(), *ike, *children, *c, *o, *n, *l;
	struct seen seen = { 0 };
	struct sacache *sc;

	assert_int_equal(sacache_new(&ops, &seen, &sc), 0);
	assert_int_equal(sacache_feed(sc, "child-updown", m), 0);
	ike = vici_add_section(rk, "conn");
	vici_add_kv(ike, "uniqueid", "2");
	vici_add_kv(ike, "state", "ESTABLISHED");
	children = vici_add_section(ike, "child-sas");
	c = vici_add_section(children, "c");
	o = vici_add_section(c, "old");
	vici_add_kv(o, "uniqueid", "9");
	n = vici_add_section(c, "new");
	vici_add_kv(n, "uniqueid", "10");
	vici_add_kv(n, "spi-in", "c0ffee01");
	l = vici_add_list(n, "local-ts");
	vici_add_item(l, "192.0.2.1/32");
	l = vici_add_list(n, "remote-ts");
	vici_add_item(l, "192.0.2.2/32");
	assert_int_equal(sacache_feed(sc, "child-rekey", rk), 0);
	assert_int_equal(seen.rekeyed, 1);
	assert_int_equal(seen.last_old, 9);
	assert_int_equal(seen.last_child, 10);
	assert_null(sacache_child(sc, 9));
	assert_int_equal(sacache_child(sc, 10)->spi_in, 0xc0ffee01);
	assert_true(sacache_child(sc, 10)->installed);
	assert_int_equal(seen.child_down, 0); /* a rekey is no loss */
	vici_node_free(m);
	vici_node_free(rk);
	sacache_free(sc);
}

/* The new IKE_SA is reported as the old one's successor before it is reported up. */
static void ike_rekey_names_the_successor(void **state)
{
	struct vici_node *m =
		event_tree(true, "ESTABLISHED", 2, "b.example", 9, "192.0.2.1/32", "192.0.2.2/32");
	struct vici_node *rk = vici_msg_new(), *conn, *o, *n;
	struct seen seen = { 0 };
	struct sacache *sc;

	assert_int_equal(sacache_new(&ops, &seen, &sc), 0);
	assert_int_equal(sacache_feed(sc, "child-updown", m), 0);
	assert_int_equal(seen.ike_up, 1);
	conn = vici_add_section(rk, "conn");
	o = vici_add_section(conn, "old");
	vici_add_kv(o, "uniqueid", "2");
	vici_add_kv(o, "state", "REKEYED");
	n = vici_add_section(conn, "new");
	vici_add_kv(n, "uniqueid", "3");
	vici_add_kv(n, "state", "ESTABLISHED");
	vici_add_kv(n, "remote-id", "b.example");
	assert_int_equal(sacache_feed(sc, "ike-rekey", rk), 0);
	assert_int_equal(seen.ike_rekeyed, 1);
	assert_int_equal(seen.last_old, 2);
	assert_int_equal(seen.last_child, 3);
	assert_int_equal(seen.ike_rekeyed_at, 1); /* before the new one's ike_up */
	assert_int_equal(seen.ike_up, 2);
	assert_int_equal(seen.ike_down, 1);
	assert_int_equal(sacache_child(sc, 9)->ike_id, 3);
	vici_node_free(m);
	vici_node_free(rk);
	sacache_free(sc);
}

/*
 * Found by fuzz-sacache: an ike-rekey whose new IKE_SA has the old one's
 * unique id removed the IKE_SA it had just stored, leaving its children
 * without one (and the owner told it was down).
 */
static void ike_rekey_to_the_same_id_keeps_it(void **state)
{
	struct vici_node *m =
		event_tree(true, "ESTABLISHED", 2, "b.example", 9, "192.0.2.1/32", "192.0.2.2/32");
	struct vici_node *rk = vici_msg_new(), *sec, *o, *n;
	struct seen seen = { 0 };
	struct sacache *sc;

	assert_int_equal(sacache_new(&ops, &seen, &sc), 0);
	assert_int_equal(sacache_feed(sc, "child-updown", m), 0);
	sec = vici_add_section(rk, "conn");
	o = vici_add_section(sec, "old");
	vici_add_kv(o, "uniqueid", "2");
	vici_add_kv(o, "state", "ESTABLISHED");
	n = vici_add_section(sec, "new");
	vici_add_kv(n, "uniqueid", "2");
	vici_add_kv(n, "state", "ESTABLISHED");
	assert_int_equal(sacache_feed(sc, "ike-rekey", rk), 0);
	assert_non_null(sacache_ike(sc, 2));
	assert_int_equal(sacache_child(sc, 9)->ike_id, 2);
	assert_int_equal(seen.ike_down, 0);
	vici_node_free(m);
	vici_node_free(rk);
	sacache_free(sc);
}

static void selectors_parse(void **state)
{
	struct sa_ts ts;
	uint8_t a[16] = { 0 };

	assert_int_equal(sacache_ts_parse("192.0.2.0/24[udp/1024-2048]", &ts), 0);
	assert_int_equal(ts.proto, 17);
	assert_int_equal(ts.port_lo, 1024);
	assert_int_equal(ts.port_hi, 2048);
	inet_pton(AF_INET, "192.0.2.77", a);
	assert_true(sacache_ts_covers(&ts, AF_INET, a, 17, 1500));
	assert_false(sacache_ts_covers(&ts, AF_INET, a, 17, 3000));
	assert_false(sacache_ts_covers(&ts, AF_INET, a, 6, 1500));
	inet_pton(AF_INET, "192.0.3.1", a);
	assert_false(sacache_ts_covers(&ts, AF_INET, a, 17, 1500));
	assert_int_equal(sacache_ts_parse("2001:db8::/64", &ts), 0);
	assert_int_equal(ts.family, AF_INET6);
	assert_int_equal(ts.prefix, 64);
	inet_pton(AF_INET6, "2001:db8::99", a);
	assert_true(sacache_ts_covers(&ts, AF_INET6, a, 6, 1));
	assert_int_equal(sacache_ts_parse("192.0.2.1/33", &ts), -EINVAL);
	assert_int_equal(sacache_ts_parse("not-an-address", &ts), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(list_sa_from_charon),
		cmocka_unit_test(child_with_finds_the_wanted_child),
		cmocka_unit_test(child_updown_from_charon),
		cmocka_unit_test(auth_failure_is_never_up),
		cmocka_unit_test(host_to_host_child_covers_every_port),
		cmocka_unit_test(identities_enter_cleaned),
		cmocka_unit_test(rekey_replaces_the_child),
		cmocka_unit_test(ike_rekey_names_the_successor),
		cmocka_unit_test(ike_rekey_to_the_same_id_keeps_it),
		cmocka_unit_test(selectors_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
