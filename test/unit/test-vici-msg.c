/* SPDX-License-Identifier: MIT */
/*
 * The VICI codec: golden frames from a real charon decode and re-encode byte
 * for byte, the builders reproduce swanctl's requests, and every malformed
 * input is rejected with its own error code at the right offset.
 */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "latchd/charon/vici-msg.h"
#include "vici-golden.h"

/* Decode one whole frame (length prefix included) into packet + tree. */
static struct vici_node *decode_frame(const uint8_t *f, size_t n, struct vici_packet *pkt)
{
	struct vici_err err = { 0 };
	struct vici_node *msg = NULL;
	uint32_t len;

	assert_true(n >= 4);
	assert_int_equal(vici_frame_len(f, &len, &err), 0);
	assert_int_equal(len, n - 4);
	assert_int_equal(vici_packet_decode(f + 4, len, pkt, &err), 0);
	assert_int_equal(vici_msg_decode(pkt->msg, pkt->msg_len, &msg, &err), 0);
	return msg;
}

static void roundtrip(const char *hex, enum vici_pkt type, const char *name)
{
	struct vici_packet pkt;
	struct vici_err err;
	struct vici_node *msg;
	struct buf b;
	size_t n;
	uint8_t *f = unit_hex(hex, &n);

	msg = decode_frame(f, n, &pkt);
	assert_int_equal(pkt.type, type);
	assert_string_equal(pkt.name, name);
	buf_init(&b, 0);
	assert_int_equal(vici_frame_encode(&b, pkt.type, pkt.name, msg, &err), 0);
	unit_assert_bytes(b.data, b.len, f, n);
	buf_free(&b);
	vici_node_free(msg);
	free(f);
}

static void test_golden_roundtrip(void **state)
{
	roundtrip(GOLDEN_VERSION_REQ, VICI_CMD_REQUEST, "version");
	roundtrip(GOLDEN_VERSION_RES, VICI_CMD_RESPONSE, "");
	roundtrip(GOLDEN_LOAD_CONN_REQ, VICI_CMD_REQUEST, "load-conn");
	roundtrip(GOLDEN_LOAD_CONN_RES, VICI_CMD_RESPONSE, "");
	roundtrip(GOLDEN_LIST_SA_REGISTER, VICI_EVENT_REGISTER, "list-sa");
	roundtrip(GOLDEN_CONFIRM, VICI_EVENT_CONFIRM, "");
	roundtrip(GOLDEN_LIST_SAS_REQ, VICI_CMD_REQUEST, "list-sas");
	roundtrip(GOLDEN_LIST_SA_EVENT, VICI_EVENT, "list-sa");
	roundtrip(GOLDEN_LIST_SAS_RES, VICI_CMD_RESPONSE, "");
	roundtrip(GOLDEN_IKE_UPDOWN_EVENT, VICI_EVENT, "ike-updown");
	roundtrip(GOLDEN_CHILD_UPDOWN_EVENT, VICI_EVENT, "child-updown");
	roundtrip(GOLDEN_CMD_UNKNOWN, VICI_CMD_UNKNOWN, "");
	roundtrip(GOLDEN_EVENT_UNKNOWN, VICI_EVENT_UNKNOWN, "");
}

static struct vici_node *golden(const char *hex, struct vici_packet *pkt)
{
	size_t n;
	uint8_t *f = unit_hex(hex, &n);
	struct vici_node *msg = decode_frame(f, n, pkt);

	/* pkt->msg points into f: callers only use the tree. */
	free(f);
	pkt->msg = NULL;
	return msg;
}

static void test_golden_version(void **state)
{
	struct vici_packet pkt;
	struct vici_node *m = golden(GOLDEN_VERSION_RES, &pkt);

	assert_string_equal(vici_get_str(m, "daemon"), "charon");
	assert_string_equal(vici_get_str(m, "version"), "5.9.8");
	assert_string_equal(vici_get_str(m, "machine"), "x86_64");
	assert_null(vici_get_str(m, "nope"));
	vici_node_free(m);
}

static void test_golden_list_sa(void **state)
{
	struct vici_packet pkt;
	struct vici_node *m = golden(GOLDEN_LIST_SA_EVENT, &pkt);
	const struct vici_node *ike = vici_get_section(m, "lab"), *children, *c, *ts;
	uint64_t id;

	assert_non_null(ike);
	assert_string_equal(vici_get_str(ike, "state"), "ESTABLISHED");
	assert_int_equal(vici_get_u64(ike, "uniqueid", &id), 0);
	assert_int_equal(id, 1);
	assert_true(vici_get_yes(ike, "initiator"));
	children = vici_get_section(ike, "child-sas");
	c = vici_get_section(children, "f5353-3");
	assert_non_null(c);
	assert_int_equal(vici_get_u64(c, "reqid", &id), 0);
	assert_int_equal(id, 2);
	ts = vici_get_list(c, "remote-ts");
	assert_non_null(ts);
	assert_string_equal((const char *)ts->child->value, "192.0.2.2/32[udp/mdns]");
	assert_null(ts->child->next);
	assert_string_equal(children->child->name, "f8080-1");
	assert_ptr_equal(children->child->next, c);
	vici_node_free(m);
}

static void test_golden_child_updown(void **state)
{
	struct vici_packet pkt;
	struct vici_node *m = golden(GOLDEN_CHILD_UPDOWN_EVENT, &pkt);
	const struct vici_node *c;

	assert_true(vici_get_yes(m, "up"));
	c = vici_get_section(vici_get_section(vici_get_section(m, "lab"), "child-sas"), "f5353-3");
	assert_non_null(c);
	assert_string_equal(vici_get_str(c, "state"), "INSTALLED");
	vici_node_free(m);
}

/* The builders must produce what swanctl sent, byte for byte. */
static void add_child(struct vici_node *children, const char *name, const char *lts,
		      const char *rts, const char *start)
{
	struct vici_node *c = vici_add_section(children, name);

	vici_add_item(vici_add_list(c, "local_ts"), lts);
	vici_add_item(vici_add_list(c, "remote_ts"), rts);
	vici_add_kv(c, "mode", "tunnel");
	if (start)
		vici_add_kv(c, "start_action", start);
	vici_add_item(vici_add_list(c, "esp_proposals"), "aes256gcm16");
}

static void add_auth(struct vici_node *conn, const char *side, const char *id)
{
	struct vici_node *s = vici_add_section(conn, side);

	vici_add_kv(s, "auth", "psk");
	vici_add_kv(s, "id", id);
}

static void test_build_load_conn(void **state)
{
	struct vici_node *m = vici_msg_new(), *conn, *children;
	struct vici_err err;
	struct buf b;
	size_t n;
	uint8_t *want = unit_hex(GOLDEN_LOAD_CONN_REQ, &n);

	conn = vici_add_section(m, "lab");
	vici_add_kv(conn, "version", "2");
	vici_add_item(vici_add_list(conn, "local_addrs"), "192.0.2.1");
	vici_add_item(vici_add_list(conn, "remote_addrs"), "192.0.2.2");
	vici_add_kv(conn, "encap", "yes");
	add_auth(conn, "local", "a.example");
	add_auth(conn, "remote", "b.example");
	children = vici_add_section(conn, "children");
	add_child(children, "f8080", "192.0.2.1/32[tcp/40000]", "192.0.2.2/32[tcp/8080]", NULL);
	add_child(children, "f5353", "192.0.2.1/32[udp/40001]", "192.0.2.2/32[udp/5353]", "none");
	assert_int_equal(vici_msg_error(m), 0);
	buf_init(&b, 0);
	assert_int_equal(vici_frame_encode(&b, VICI_CMD_REQUEST, "load-conn", m, &err), 0);
	unit_assert_bytes(b.data, b.len, want, n);
	buf_free(&b);
	vici_node_free(m);
	free(want);
}

static void test_build_unnamed(void **state)
{
	struct vici_err err;
	struct buf b;
	size_t n;
	uint8_t *want = unit_hex(GOLDEN_VERSION_REQ, &n);

	buf_init(&b, 0);
	/* A request with no message: NULL is the empty message. */
	assert_int_equal(vici_frame_encode(&b, VICI_CMD_REQUEST, "version", NULL, &err), 0);
	unit_assert_bytes(b.data, b.len, want, n);
	free(want);
	buf_reset(&b);
	want = unit_hex(GOLDEN_CONFIRM, &n);
	assert_int_equal(vici_frame_encode(&b, VICI_EVENT_CONFIRM, NULL, NULL, &err), 0);
	unit_assert_bytes(b.data, b.len, want, n);
	free(want);
	buf_free(&b);
}

struct reject {
	const char *hex;
	enum vici_errcode code;
	size_t offset;
};

/* Messages (no packet header) and the exact rejection each must get. */
static const struct reject bad_msgs[] = {
	{ "03", VICI_E_TRUNCATED, 1 },
	{ "03 01 61 00", VICI_E_TRUNCATED, 3 },
	{ "01", VICI_E_TRUNCATED, 1 },
	{ "05", VICI_E_ITEM_OUTSIDE_LIST, 0 },
	{ "04 01 61 05 00", VICI_E_TRUNCATED, 4 },
	{ "01 05 61 62", VICI_E_NAME_OVERRUN, 1 },
	{ "04 02 61", VICI_E_NAME_OVERRUN, 1 },
	{ "03 03 61 62", VICI_E_NAME_OVERRUN, 1 },
	{ "03 01 61 00 05 61 62", VICI_E_VALUE_OVERRUN, 3 },
	{ "04 01 61 05 ff ff 00 06", VICI_E_VALUE_OVERRUN, 4 },
	{ "01 00 02", VICI_E_NAME_EMPTY, 1 },
	{ "03 02 61 00 00 00", VICI_E_NAME_NUL, 1 },
	{ "02", VICI_E_SECTION_UNBALANCED, 0 },
	{ "01 01 61 02 02", VICI_E_SECTION_UNBALANCED, 4 },
	{ "01 01 61", VICI_E_SECTION_UNCLOSED, 3 },
	{ "01 01 61 01 01 62 02", VICI_E_SECTION_UNCLOSED, 7 },
	{ "04 01 61 05 00 00", VICI_E_LIST_UNCLOSED, 6 },
	{ "05 00 00", VICI_E_ITEM_OUTSIDE_LIST, 0 },
	{ "06", VICI_E_ITEM_OUTSIDE_LIST, 0 },
	{ "04 01 61 06 06", VICI_E_ITEM_OUTSIDE_LIST, 4 },
	{ "04 01 61 01 01 62 02 06", VICI_E_IN_LIST, 3 },
	{ "04 01 61 04 01 62 06 06", VICI_E_IN_LIST, 3 },
	{ "04 01 61 03 01 62 00 00 06", VICI_E_IN_LIST, 3 },
	{ "01 01 61 04 01 62 02", VICI_E_IN_LIST, 6 },
	{ "00", VICI_E_ELEM_TYPE, 0 },
	{ "03 01 61 00 00 07", VICI_E_ELEM_TYPE, 5 },
	{ "ff", VICI_E_ELEM_TYPE, 0 },
};

static void test_reject_messages(void **state)
{
	for (size_t i = 0; i < sizeof(bad_msgs) / sizeof(bad_msgs[0]); i++) {
		struct vici_err err = { 0 };
		struct vici_node *root = vici_msg_new(), *out = NULL;
		size_t n;
		uint8_t *m = unit_hex(bad_msgs[i].hex, &n);

		vici_add_kv(root, "keep", "me");
		if (vici_msg_decode(m, n, &out, &err) != -EBADMSG)
			fail_msg("case %zu (%s) was accepted", i, bad_msgs[i].hex);
		if (err.code != bad_msgs[i].code || err.offset != bad_msgs[i].offset)
			fail_msg("case %zu (%s): got '%s' at %zu, want '%s' at %zu", i,
				 bad_msgs[i].hex, vici_strerror(err.code), err.offset,
				 vici_strerror(bad_msgs[i].code), bad_msgs[i].offset);
		assert_null(out);
		/* A rejected message leaves the section it was decoded into untouched. */
		assert_int_equal(vici_msg_decode_into(root, m, n, &err), -EBADMSG);
		assert_ptr_equal(root->child, root->last);
		vici_node_free(root);
		free(m);
	}
}

/* Nest depth sections; 16 are allowed, the 17th start is refused. */
static int nest(unsigned depth, struct vici_err *err)
{
	uint8_t m[3 * 20 + 20];
	size_t n = 0;
	struct vici_node *out = NULL;
	int ret;

	for (unsigned i = 0; i < depth; i++) {
		m[n++] = VICI_SECTION_START;
		m[n++] = 1;
		m[n++] = 's';
	}
	for (unsigned i = 0; i < depth; i++)
		m[n++] = VICI_SECTION_END;
	ret = vici_msg_decode(m, n, &out, err);
	vici_node_free(out);
	return ret;
}

static void test_reject_depth(void **state)
{
	struct vici_err err;

	assert_int_equal(nest(VICI_DEPTH_MAX, &err), 0);
	assert_int_equal(nest(VICI_DEPTH_MAX + 1, &err), -EBADMSG);
	assert_int_equal(err.code, VICI_E_TOO_DEEP);
	assert_int_equal(err.offset, 3 * VICI_DEPTH_MAX);
}

static void test_reject_frames(void **state)
{
	struct vici_err err;
	uint32_t len = 0;
	const uint8_t max[4] = { 0, 8, 0, 0 }, over[4] = { 0, 8, 0, 1 }, zero[4] = { 0 };
	const uint8_t huge[4] = { 0xff, 0xff, 0xff, 0xff };

	assert_int_equal(vici_frame_len(max, &len, &err), 0);
	assert_int_equal(len, 512 * 1024);
	assert_int_equal(vici_frame_len(over, &len, &err), -EMSGSIZE);
	assert_int_equal(err.code, VICI_E_FRAME_TOO_BIG);
	assert_int_equal(vici_frame_len(huge, &len, &err), -EMSGSIZE);
	assert_int_equal(vici_frame_len(zero, &len, &err), -EBADMSG);
	assert_int_equal(err.code, VICI_E_FRAME_EMPTY);
}

static const struct reject bad_packets[] = {
	{ "", VICI_E_FRAME_EMPTY, 0 },
	{ "08", VICI_E_PKT_TYPE, 0 },
	{ "00", VICI_E_PKT_NAME, 1 },
	{ "07 05 61 62", VICI_E_PKT_NAME, 1 },
	{ "03 00", VICI_E_NAME_EMPTY, 1 },
	{ "00 02 61 00", VICI_E_NAME_NUL, 1 },
	{ "05 00", VICI_E_PKT_TRAILING, 1 },
	{ "02 01", VICI_E_PKT_TRAILING, 1 },
	{ "03 01 61 02", VICI_E_PKT_TRAILING, 3 },
};

static void test_reject_packets(void **state)
{
	for (size_t i = 0; i < sizeof(bad_packets) / sizeof(bad_packets[0]); i++) {
		struct vici_err err = { 0 };
		struct vici_packet pkt;
		size_t n;
		uint8_t *p = unit_hex(bad_packets[i].hex, &n);

		if (vici_packet_decode(p, n, &pkt, &err) != -EBADMSG)
			fail_msg("case %zu (%s) was accepted", i, bad_packets[i].hex);
		if (err.code != bad_packets[i].code || err.offset != bad_packets[i].offset)
			fail_msg("case %zu (%s): got '%s' at %zu", i, bad_packets[i].hex,
				 vici_strerror(err.code), err.offset);
		free(p);
	}
}

static void test_reject_oversized_packet(void **state)
{
	uint8_t *p = calloc(1, VICI_FRAME_MAX + 1);
	struct vici_packet pkt;
	struct vici_err err;

	assert_non_null(p);
	p[0] = VICI_CMD_RESPONSE;
	assert_int_equal(vici_packet_decode(p, VICI_FRAME_MAX + 1, &pkt, &err), -EMSGSIZE);
	assert_int_equal(err.code, VICI_E_FRAME_TOO_BIG);
	assert_int_equal(vici_parse(p, VICI_FRAME_MAX + 1, NULL, NULL, &err), -EMSGSIZE);
	assert_int_equal(err.code, VICI_E_MSG_TOO_BIG);
	free(p);
}

static void test_encode_limits(void **state)
{
	char name[VICI_NAME_MAX + 2];
	uint8_t *big = calloc(1, VICI_VALUE_MAX + 1);
	struct vici_node *m = vici_msg_new();
	struct vici_err err;
	struct buf b;

	assert_non_null(big);
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(vici_add_kv(m, name, "v"), -ENAMETOOLONG);
	assert_int_equal(vici_msg_error(m), -ENAMETOOLONG);
	buf_init(&b, 0);
	assert_int_equal(vici_frame_encode(&b, VICI_CMD_REQUEST, "x", m, &err), -ENAMETOOLONG);
	assert_int_equal(err.code, VICI_E_NAME_TOO_LONG);
	assert_int_equal(b.len, 0);
	vici_node_free(m);

	m = vici_msg_new();
	assert_int_equal(vici_add_kvb(m, "k", big, VICI_VALUE_MAX + 1), -EMSGSIZE);
	assert_int_equal(vici_frame_encode(&b, VICI_CMD_REQUEST, "x", m, &err), -EMSGSIZE);
	assert_int_equal(err.code, VICI_E_VALUE_TOO_LONG);
	vici_node_free(m);

	/* Encoding the packet name itself is bounded too. */
	assert_int_equal(vici_frame_encode(&b, VICI_EVENT_REGISTER, name, NULL, &err),
			 -ENAMETOOLONG);
	assert_int_equal(err.code, VICI_E_NAME_TOO_LONG);
	assert_int_equal(b.len, 0);
	buf_free(&b);
	free(big);
}

static void test_encode_too_big(void **state)
{
	uint8_t *v = calloc(1, VICI_VALUE_MAX);
	struct vici_node *m = vici_msg_new();
	struct vici_err err;
	struct buf b;
	char key[8];

	assert_non_null(v);
	/* Seven full values fit in 512 KiB; eight do not. */
	for (int i = 0; i < 8; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(vici_add_kvb(m, key, v, VICI_VALUE_MAX), 0);
	}
	buf_init(&b, 0);
	buf_put_u8(&b, 0xaa); /* an earlier frame in the same buffer stays */
	assert_int_equal(vici_frame_encode(&b, VICI_CMD_REQUEST, "x", m, &err), -EMSGSIZE);
	assert_int_equal(err.code, VICI_E_MSG_TOO_BIG);
	assert_int_equal(b.len, 1);
	vici_node_free(m->last);
	assert_int_equal(vici_frame_encode(&b, VICI_CMD_REQUEST, "x", m, &err), 0);
	assert_true(b.len - 1 - 4 <= VICI_FRAME_MAX);
	assert_true(b.len > 7 * VICI_VALUE_MAX);
	buf_free(&b);
	vici_node_free(m);
	free(v);
}

static void test_builder_misuse(void **state)
{
	struct vici_node *m = vici_msg_new(), *s = m, *l;
	struct vici_err err;
	struct buf b;

	for (unsigned i = 0; i < VICI_DEPTH_MAX; i++)
		s = vici_add_section(s, "s");
	assert_non_null(s);
	assert_null(vici_add_section(s, "deeper"));
	assert_int_equal(vici_msg_error(m), -ELOOP);
	vici_node_free(m);

	m = vici_msg_new();
	l = vici_add_list(m, "l");
	assert_int_equal(vici_add_kv(l, "k", "v"), -EINVAL);
	assert_int_equal(vici_add_item(NULL, "v"), -EINVAL);
	assert_null(vici_add_section(m, ""));
	buf_init(&b, 0);
	assert_int_equal(vici_frame_encode(&b, VICI_CMD_REQUEST, "x", m, &err), -EINVAL);
	assert_int_equal(err.code, VICI_E_INVALID);
	buf_free(&b);
	vici_node_free(m);
}

static int stop_at_kv(void *u, const char *name, const uint8_t *v, size_t len)
{
	int *seen = u;

	(*seen)++;
	return strcmp(name, "version") == 0 ? -EPERM : 0;
}

static void test_parse_callback_stops(void **state)
{
	static const struct vici_parse_ops ops = { .key_value = stop_at_kv };
	struct vici_packet pkt;
	struct vici_err err;
	size_t n;
	uint8_t *f = unit_hex(GOLDEN_VERSION_RES, &n);
	int seen = 0;

	assert_int_equal(vici_packet_decode(f + 4, n - 4, &pkt, &err), 0);
	assert_int_equal(vici_parse(pkt.msg, pkt.msg_len, &ops, &seen, &err), -EPERM);
	assert_int_equal(err.code, VICI_E_CALLBACK);
	assert_int_equal(err.offset, 16); /* "daemon = charon" takes 16 bytes */
	assert_int_equal(seen, 2);
	free(f);
}

static void test_lookups(void **state)
{
	struct vici_node *m = vici_msg_new();
	uint64_t v = 7;

	vici_add_kv(m, "n", "18446744073709551615");
	vici_add_kv(m, "over", "18446744073709551616");
	vici_add_kv(m, "neg", "-1");
	vici_add_kv(m, "empty", "");
	vici_add_kvf(m, "fmt", "%u-%s", 42u, "x");
	vici_add_list(m, "list");
	assert_int_equal(vici_get_u64(m, "n", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(vici_get_u64(m, "over", &v), -EINVAL);
	assert_int_equal(vici_get_u64(m, "neg", &v), -EINVAL);
	assert_int_equal(vici_get_u64(m, "empty", &v), -EINVAL);
	assert_int_equal(vici_get_u64(m, "missing", &v), -ENOENT);
	assert_int_equal(vici_get_u64(m, "list", &v), -ENOENT);
	assert_string_equal(vici_get_str(m, "fmt"), "42-x");
	assert_null(vici_get_str(m, "list"));
	assert_non_null(vici_get_list(m, "list"));
	assert_null(vici_get_section(m, "list"));
	assert_false(vici_get_yes(m, "n"));
	vici_node_free(m);
}

static void test_strerror(void **state)
{
	assert_string_equal(vici_strerror(VICI_E_SECTION_UNBALANCED),
			    "section end without section start");
	assert_string_equal(vici_strerror((enum vici_errcode)999), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_roundtrip),
		cmocka_unit_test(test_golden_version),
		cmocka_unit_test(test_golden_list_sa),
		cmocka_unit_test(test_golden_child_updown),
		cmocka_unit_test(test_build_load_conn),
		cmocka_unit_test(test_build_unnamed),
		cmocka_unit_test(test_reject_messages),
		cmocka_unit_test(test_reject_depth),
		cmocka_unit_test(test_reject_frames),
		cmocka_unit_test(test_reject_packets),
		cmocka_unit_test(test_reject_oversized_packet),
		cmocka_unit_test(test_encode_limits),
		cmocka_unit_test(test_encode_too_big),
		cmocka_unit_test(test_builder_misuse),
		cmocka_unit_test(test_parse_callback_stops),
		cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
