/* SPDX-License-Identifier: MIT */
/*
 * The typed VICI layer without a socket: load-conn built from a typed
 * config must equal swanctl's bytes; traffic selectors as charon prints them
 * (service names) parse back to numbers; list-sa events become typed SAs.
 */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "latchd/charon/vici-cmd.h"
#include "vici-golden.h"

static void test_conn_msg_matches_swanctl(void **state)
{
	static const char *const la[] = { "192.0.2.1", NULL }, *const ra[] = { "192.0.2.2", NULL };
	static const char *const esp[] = { "aes256gcm16", NULL };
	const struct charon_ts l1 = { "192.0.2.1/32", 6, 40000, 0 },
			       r1 = { "192.0.2.2/32", 6, 8080, 0 };
	const struct charon_ts l2 = { "192.0.2.1/32", 17, 40001, 0 },
			       r2 = { "192.0.2.2/32", 17, 5353, 0 };
	const struct charon_child_cfg children[] = {
		{ .name = "f8080",
		  .local_ts = &l1,
		  .n_local_ts = 1,
		  .remote_ts = &r1,
		  .n_remote_ts = 1,
		  .esp_proposals = esp },
		{ .name = "f5353",
		  .local_ts = &l2,
		  .n_local_ts = 1,
		  .remote_ts = &r2,
		  .n_remote_ts = 1,
		  .start_action = "none",
		  .esp_proposals = esp },
	};
	const struct charon_conn_cfg cfg = {
		.name = "lab",
		.version = 2,
		.local_addrs = la,
		.remote_addrs = ra,
		.encap = true,
		.local = { .auth = "psk", .id = "a.example" },
		.remote = { .auth = "psk", .id = "b.example" },
		.children = children,
		.n_children = 2,
	};
	struct vici_node *msg;
	struct vici_err err;
	struct buf b;
	size_t n;
	uint8_t *want = unit_hex(GOLDEN_LOAD_CONN_REQ, &n);

	assert_int_equal(vici_conn_msg(&cfg, &msg), 0);
	buf_init(&b, 0);
	assert_int_equal(vici_frame_encode(&b, VICI_CMD_REQUEST, "load-conn", msg, &err), 0);
	unit_assert_bytes(b.data, b.len, want, n);
	buf_free(&b);
	vici_node_free(msg);
	free(want);
}

static void test_conn_msg_rejects_bad_ts(void **state)
{
	const struct charon_ts bad = { "192.0.2.1/32", 0, 80, 0 }; /* a port needs a protocol */
	const struct charon_child_cfg child = { .name = "c", .local_ts = &bad, .n_local_ts = 1 };
	const struct charon_conn_cfg cfg = { .name = "x", .children = &child, .n_children = 1 };
	struct vici_node *msg = NULL;

	assert_int_equal(vici_conn_msg(&cfg, &msg), -EINVAL);
	assert_null(msg);
}

/* A static reqid goes into the child's section; none leaves the key out (charon allocates). */
static void test_conn_msg_reqid(void **state)
{
	const struct charon_ts ts = { "192.0.2.1/32", 6, 0, 0 };
	struct charon_child_cfg child = {
		.name = "c", .local_ts = &ts, .n_local_ts = 1, .reqid = 0x4c000001u
	};
	const struct charon_conn_cfg cfg = { .name = "x", .children = &child, .n_children = 1 };
	const struct vici_node *sec;
	struct vici_node *msg;

	assert_int_equal(vici_conn_msg(&cfg, &msg), 0);
	sec = vici_get_section(vici_get_section(vici_get_section(msg, "x"), "children"), "c");
	assert_non_null(sec);
	assert_string_equal(vici_get_str(sec, "reqid"), "1275068417");
	vici_node_free(msg);
	child.reqid = 0;
	assert_int_equal(vici_conn_msg(&cfg, &msg), 0);
	sec = vici_get_section(vici_get_section(vici_get_section(msg, "x"), "children"), "c");
	assert_null(vici_get(sec, "reqid"));
	vici_node_free(msg);
}

static void test_ts_format(void **state)
{
	const struct charon_ts any = { "10.0.0.0/8", 0, 0, 0 },
			       proto = { "10.0.0.1/32", 132, 0, 0 };
	const struct charon_ts range = { "dynamic", 17, 1024, 65535 }, odd = { "::/0", 47, 0, 0 };
	char buf[64];

	assert_int_equal(vici_ts_format(&any, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "10.0.0.0/8");
	assert_int_equal(vici_ts_format(&proto, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "10.0.0.1/32[sctp]");
	assert_int_equal(vici_ts_format(&range, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "dynamic[udp/1024-65535]");
	assert_int_equal(vici_ts_format(&odd, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "::/0[47]");
	assert_int_equal(vici_ts_format(&range, buf, 8), -ENOSPC);
}

struct ts_case {
	const char *in;
	const char *net;
	uint8_t proto;
	uint16_t port, port_last;
};

static void test_ts_parse(void **state)
{
	static const struct ts_case ok[] = {
		{ "192.0.2.2/32[tcp/http-alt]", "192.0.2.2/32", 6, 8080, 8080 },
		{ "192.0.2.2/32[udp/mdns]", "192.0.2.2/32", 17, 5353, 5353 },
		{ "192.0.2.1/32[tcp/40000]", "192.0.2.1/32", 6, 40000, 40000 },
		{ "10.0.0.0/8", "10.0.0.0/8", 0, 0, 0 },
		{ "2001:db8::/64[udp]", "2001:db8::/64", 17, 0, 0 },
		{ "0.0.0.0/0[tcp/1024-65535]", "0.0.0.0/0", 6, 1024, 65535 },
		{ "192.0.2.1/32[47]", "192.0.2.1/32", 47, 0, 0 },
		{ "192.0.2.1/32[tcp/%any]", "192.0.2.1/32", 6, 0, 0 },
	};
	static const char *const bad[] = {
		"",
		"[tcp]",
		"192.0.2.1/32[tcp/80",
		"192.0.2.1/32[nosuchproto]",
		"192.0.2.1/32[tcp/no-such-service]",
		"192.0.2.1/32[tcp/70000]",
		"192.0.2.1/32[]",
		"192.0.2.1/32[tcp/9-1]",
	};
	struct vici_ts_parsed p;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (vici_ts_parse(ok[i].in, &p) != 0)
			fail_msg("'%s' was rejected", ok[i].in);
		assert_string_equal(p.net, ok[i].net);
		assert_int_equal(p.proto, ok[i].proto);
		assert_int_equal(p.port, ok[i].port);
		assert_int_equal(p.port_last, ok[i].port_last);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (vici_ts_parse(bad[i], &p) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
	}
}

static void test_sas_from_list_sa(void **state)
{
	struct vici_node *msg = golden_event(GOLDEN_LIST_SA_EVENT);
	struct vici_ts_parsed ts;
	struct vici_ike_sa *sas;
	size_t n;

	assert_int_equal(vici_ike_sas_parse(msg, 0, &sas, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(sas[0].name, "lab");
	assert_int_equal(sas[0].uniqueid, 1);
	assert_string_equal(sas[0].remote_id, "b.example");
	assert_string_equal(sas[0].local_host, "192.0.2.1");
	assert_int_equal(sas[0].remote_port, 4500);
	assert_true(sas[0].initiator);
	assert_int_equal(sas[0].n_children, 2);
	assert_string_equal(sas[0].children[1].name, "f5353");
	assert_int_equal(sas[0].children[1].uniqueid, 3);
	assert_int_equal(sas[0].children[1].reqid, 2);
	assert_string_equal(sas[0].children[1].spi_in, "ac490198");
	assert_true(sas[0].children[1].encap);
	assert_int_equal(
		vici_ts_parse((const char *)sas[0].children[0].remote_ts->child->value, &ts), 0);
	assert_int_equal(ts.port, 8080);
	vici_ike_sas_free(sas, n);
	vici_node_free(msg);
}

/* child-updown carries "up = yes" beside the IKE section: only sections are SAs. */
static void test_sas_from_event(void **state)
{
	struct vici_node *msg = golden_event(GOLDEN_CHILD_UPDOWN_EVENT);
	struct vici_ike_sa *sas;
	size_t n;

	assert_true(vici_get_yes(msg, "up"));
	assert_int_equal(vici_ike_sas_parse(msg, VICI_SAS_INSTALLED, &sas, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sas[0].n_children, 1);
	assert_int_equal(sas[0].children[0].uniqueid, 3);
	vici_ike_sas_free(sas, n);
	vici_node_free(msg);
}

static void test_sas_installed_only(void **state)
{
	struct vici_node *m = vici_msg_new(), *ike, *cs, *c;
	struct vici_ike_sa *sas;
	size_t n;
	static const char *const states[] = { "REKEYED", "INSTALLED", "DELETED" };

	ike = vici_add_section(m, "flows");
	vici_add_kv(ike, "uniqueid", "7");
	cs = vici_add_section(ike, "child-sas");
	for (int i = 0; i < 3; i++) {
		char name[16];

		snprintf(name, sizeof(name), "f-%d", i + 1);
		c = vici_add_section(cs, name);
		vici_add_kvf(c, "uniqueid", "%d", i + 1);
		vici_add_kv(c, "state", states[i]);
	}
	assert_int_equal(vici_ike_sas_parse(m, VICI_SAS_INSTALLED, &sas, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sas[0].uniqueid, 7);
	assert_int_equal(sas[0].n_children, 1);
	assert_int_equal(sas[0].children[0].uniqueid, 2);
	vici_ike_sas_free(sas, n);
	assert_int_equal(vici_ike_sas_parse(m, 0, &sas, &n), 0);
	assert_int_equal(sas[0].n_children, 3);
	vici_ike_sas_free(sas, n);
	vici_node_free(m);
}

/* ---- typed decoding the core relies on ---- */

struct failures {
	unsigned n;
	char conn[4][64], rid[4][SA_ID_MAX];
};

static void on_failure(void *u, const struct charon_auth_failure *f)
{
	struct failures *fs = u;

	assert_true(fs->n < 4);
	snprintf(fs->conn[fs->n], sizeof(fs->conn[0]), "%s", f->conn);
	snprintf(fs->rid[fs->n], sizeof(fs->rid[0]), "%s", f->remote_id);
	fs->n++;
}

static struct vici_node *ike_section(struct vici_node *m, const char *conn, const char *state,
				     const char *rid)
{
	struct vici_node *ike = vici_add_section(m, conn);

	vici_add_kv(ike, "uniqueid", "9");
	vici_add_kv(ike, "state", state);
	vici_add_kv(ike, "remote-host", "192.0.2.2");
	if (rid)
		vici_add_kv(ike, "remote-id", rid);
	return ike;
}

/*
 * ike-updown without "up": each IKE_SA in CONNECTING is a refused
 * authentication, named by its connection, the peer's claim cleaned; one
 * that was up (DELETING, ESTABLISHED) is an ordinary down.
 */
static void test_auth_failures(void **state)
{
	struct vici_node *m = vici_msg_new();
	struct failures fs = { 0 };

	ike_section(m, "latch-i-192.0.2.2-0badc0de", "CONNECTING", "CN=evil\x1b[2J");
	ike_section(m, "lab", "DELETING", "b.example");
	ike_section(m, "latch-r-12345678", "CONNECTING", NULL);
	vici_add_kv(m, "state", "CONNECTING"); /* a key, not an IKE_SA */
	assert_int_equal(vici_msg_error(m), 0);
	assert_int_equal(vici_auth_failures(m, on_failure, &fs), 2);
	assert_int_equal(fs.n, 2);
	assert_string_equal(fs.conn[0], "latch-i-192.0.2.2-0badc0de");
	assert_string_equal(fs.rid[0], "CN=evil\\x1b[2J");
	assert_string_equal(fs.conn[1], "latch-r-12345678");
	assert_string_equal(fs.rid[1], "");
	vici_node_free(m);
}

/* "up = yes" (and charon's own ike-updown when an IKE_SA came up) tells no failure. */
static void test_auth_failures_none_when_up(void **state)
{
	struct vici_node *m = vici_msg_new(), *golden = golden_event(GOLDEN_IKE_UPDOWN_EVENT);
	struct failures fs = { 0 };

	vici_add_kv(m, "up", "yes");
	ike_section(m, "lab", "CONNECTING", "b.example");
	assert_int_equal(vici_auth_failures(m, on_failure, &fs), 0);
	assert_true(vici_get_yes(golden, "up"));
	assert_int_equal(vici_auth_failures(golden, on_failure, &fs), 0);
	assert_int_equal(fs.n, 0);
	vici_node_free(golden);
	vici_node_free(m);
}

/* get-conns answers {conns = [names]}, with no "success" key. */
static void test_conns_parse(void **state)
{
	struct vici_node *m = vici_msg_new(), *l = vici_add_list(m, "conns");
	const char **names;
	size_t n;

	vici_add_item(l, "lab");
	vici_add_item(l, "latch-i-192.0.2.2-0badc0de");
	assert_int_equal(vici_conns_parse(m, &names, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "lab");
	assert_string_equal(names[1], "latch-i-192.0.2.2-0badc0de");
	free(names);
	vici_node_free(m);

	m = vici_msg_new(); /* none loaded: an empty list */
	vici_add_list(m, "conns");
	assert_int_equal(vici_conns_parse(m, &names, &n), 0);
	assert_int_equal(n, 0);
	free(names);
	vici_node_free(m);

	m = vici_msg_new(); /* no list: not a get-conns answer */
	vici_add_kv(m, "conns", "lab");
	assert_int_equal(vici_conns_parse(m, &names, &n), -EBADMSG);
	assert_null(names);
	assert_int_equal(n, 0);
	vici_node_free(m);
}

/* charon's plugin list (stats): whole names only, wherever they stand. */
static void test_charon_has_plugin(void **state)
{
	struct vici_charon info = { .plugins = "random nonce kernel-libipsec kernel-netlink vici",
				    .n_plugins = 5 };

	assert_true(vici_charon_has_plugin(&info, "random"));
	assert_true(vici_charon_has_plugin(&info, "kernel-netlink"));
	assert_true(vici_charon_has_plugin(&info, "vici"));
	assert_false(vici_charon_has_plugin(&info, "kernel"));
	assert_false(vici_charon_has_plugin(&info, "netlink"));
	assert_false(vici_charon_has_plugin(&info, "libipsec"));
	assert_false(vici_charon_has_plugin(&info, "x509"));
	info.plugins[0] = '\0';
	assert_false(vici_charon_has_plugin(&info, "vici"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conn_msg_matches_swanctl),
		cmocka_unit_test(test_conn_msg_rejects_bad_ts),
		cmocka_unit_test(test_conn_msg_reqid),
		cmocka_unit_test(test_ts_format),
		cmocka_unit_test(test_ts_parse),
		cmocka_unit_test(test_sas_from_list_sa),
		cmocka_unit_test(test_sas_from_event),
		cmocka_unit_test(test_sas_installed_only),
		cmocka_unit_test(test_auth_failures),
		cmocka_unit_test(test_auth_failures_none_when_up),
		cmocka_unit_test(test_conns_parse),
		cmocka_unit_test(test_charon_has_plugin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
