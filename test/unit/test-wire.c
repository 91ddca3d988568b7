/* SPDX-License-Identifier: MIT */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/wire.h"

/*
 * Golden vectors, written by hand from the layout in proto.h: 12-byte
 * header {type, flags, seq, status}, then {len, type, value, pad to 4}.
 * test/fuzz/corpus/fuzz-wire/ holds the same bytes behind a one-byte mode.
 */
static const char hello_req[] = "0064 0000 00000001 00000000"
				"0008 0001 00000001"			 /* VERSION 1 */
				"000d 0003 6c69626c 61746368 00 000000"; /* NAME "liblatch" */

static const char spki[] = "00010203 04050607 08090a0b 0c0d0e0f"
			   "10111213 14151617 18191a1b 1c1d1e1f";

static const char connect_req_head[] = "00c8 0000 00000007 00000000"
				       "0024 0014"			/* TUPLE, 36 bytes */
				       "  0005 0050 01 000000"		/* FAMILY INET */
				       "  0005 0051 06 000000"		/* PROTO tcp */
				       "  0008 0054 c0000202"		/* REMOTE_ADDR 192.0.2.2 */
				       "  0006 0055 1f90 0000"		/* REMOTE_PORT 8080 */
				       "0014 0010"			/* PROTECTION, 20 bytes */
				       "  0005 0020 02 000000"		/* ENCRYPT YES */
				       "  0005 0025 01 000000"		/* EXACT */
				       "0034 0011"			/* PEER, 52 bytes */
				       "  000b 0030 434e3d737276 00 00" /* PEER_ID "CN=srv" */
				       "  0024 0033";			/* PEER_SPKI_SHA256 */

static const char error_reply[] = "00c8 0001 00000007 ffffff91"	 /* CONNECT reply, -ECONNREFUSED */
				  "000c 0004 72656675 73656400"; /* MESSAGE "refused" */

static const char alert_event[] = "0384 0000 00000000 00000000"
				  "000c 0005 00000000 0000002a" /* LATCH_ID 42 */
				  "0005 0006 03 000000"		/* STATE BROKEN */
				  "0006 0007 0004 0000";	/* REASON PEER_CHANGED */

static const char query_reply_head[] = "00cc 0001 00000009 00000000"
				       "000c 0005 00000000 0000002a" /* LATCH_ID 42 */
				       "0005 0006 02 000000"	     /* STATE ESTABLISHED */
				       "003c 0013"		     /* REMOTE_IDENTITY, 60 bytes */
				       "  000b 0040 434e3d737276 00 00" /* IDENT_ID "CN=srv" */
				       "  0006 0041 0008 0000"		/* AUTH PKIX_INLINE */
				       "  0024 0044";			/* IDENT_SPKI_SHA256 */
static const char query_reply_tail[] = "0014 0016"			/* SA, 20 bytes */
				       "  0008 0070 00000011"		/* SA_CHILD_ID 17 */
				       "  0005 0076 01 000000"		/* SA_SHARED */
				       "0008 0009 61626364";		/* CHANNEL_BINDING "abcd" */

static uint8_t *golden(const char *a, const char *b, const char *c, size_t *len)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
	char *hex = malloc(n);
	uint8_t *bytes;

	assert_non_null(hex);
	snprintf(hex, n, "%s%s%s", a, b, c);
	bytes = unit_hex(hex, len);
	free(hex);
	return bytes;
}

static void expect_reject(const char *hex, enum wire_from from, unsigned nfds, int code,
			  const char *words);

static void assert_encodes_to(const struct buf *b, const uint8_t *want, size_t want_len)
{
	assert_int_equal(wire_end(b), 0);
	unit_assert_bytes(b->data, b->len, want, want_len);
}

static void parse_ok(const uint8_t *p, size_t n, enum wire_from from, unsigned nfds,
		     struct wire_msg *m)
{
	char err[256] = "";
	int r = wire_parse(p, n, from, nfds, m, err, sizeof(err));

	if (r != 0)
		fail_msg("wire_parse: %d: %s", r, err);
}

static void hello_golden(void **state)
{
	size_t len;
	uint8_t *want = unit_hex(hello_req, &len);
	struct wire_msg m;
	const char *name;
	uint32_t v;
	struct buf b;

	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, IPC_MSG_HELLO, 0, 1, 0);
	wire_put_u32(&b, IPC_A_VERSION, IPC_VERSION);
	wire_put_str(&b, IPC_A_NAME, "liblatch");
	assert_encodes_to(&b, want, len);

	parse_ok(want, len, WIRE_FROM_CLIENT, 0, &m);
	assert_int_equal(m.hdr.type, IPC_MSG_HELLO);
	assert_int_equal(m.hdr.seq, 1);
	assert_int_equal(wire_get_u32(&m.attrs, IPC_A_VERSION, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(wire_get_str(&m.attrs, IPC_A_NAME, &name), 0);
	assert_string_equal(name, "liblatch");
	assert_int_equal(wire_hello_check(&m, NULL, 0), 0);
	buf_free(&b);
	free(want);
}

static void encode_connect(struct buf *b, const uint8_t *key)
{
	const uint8_t addr[4] = { 192, 0, 2, 2 };
	size_t nest;

	wire_begin(b, IPC_MSG_CONNECT, 0, 7, 0);
	nest = wire_nest_begin(b, IPC_A_TUPLE);
	wire_put_u8(b, IPC_A_TUPLE_FAMILY, IPC_FAMILY_INET);
	wire_put_u8(b, IPC_A_TUPLE_PROTO, 6);
	wire_put_bytes(b, IPC_A_TUPLE_REMOTE_ADDR, addr, sizeof(addr));
	wire_put_u16(b, IPC_A_TUPLE_REMOTE_PORT, 8080);
	wire_nest_end(b, nest);
	nest = wire_nest_begin(b, IPC_A_PROTECTION);
	wire_put_u8(b, IPC_A_PROT_ENCRYPT, IPC_WANT_YES);
	wire_put_u8(b, IPC_A_PROT_EXACT, 1);
	wire_nest_end(b, nest);
	nest = wire_nest_begin(b, IPC_A_PEER);
	wire_put_str(b, IPC_A_PEER_ID, "CN=srv");
	wire_put_bytes(b, IPC_A_PEER_SPKI_SHA256, key, IPC_SHA256_LEN);
	wire_nest_end(b, nest);
}

static void connect_golden(void **state)
{
	size_t len, klen, alen;
	uint8_t *want = golden(connect_req_head, spki, "", &len);
	uint8_t *key = unit_hex(spki, &klen);
	struct wire_attrs tuple, prot, peer;
	const uint8_t *addr, *pin;
	struct wire_msg m;
	const char *id;
	uint16_t port;
	uint8_t u8;
	struct buf b;

	buf_init(&b, IPC_MSG_MAX);
	encode_connect(&b, key);
	assert_encodes_to(&b, want, len);
	assert_int_equal(len, 120);

	parse_ok(want, len, WIRE_FROM_CLIENT, 1, &m);
	assert_int_equal(m.hdr.seq, 7);
	assert_int_equal(wire_get_nested(&m.attrs, IPC_A_TUPLE, &tuple), 0);
	assert_int_equal(wire_get_u8(&tuple, IPC_A_TUPLE_FAMILY, &u8), 0);
	assert_int_equal(u8, IPC_FAMILY_INET);
	assert_int_equal(wire_get_bytes(&tuple, IPC_A_TUPLE_REMOTE_ADDR, &addr, &alen), 0);
	assert_int_equal(alen, 4);
	assert_memory_equal(addr, "\xc0\x00\x02\x02", 4);
	assert_int_equal(wire_get_u16(&tuple, IPC_A_TUPLE_REMOTE_PORT, &port), 0);
	assert_int_equal(port, 8080);
	assert_int_equal(wire_get_u16(&tuple, IPC_A_TUPLE_LOCAL_PORT, &port), -ENOENT);
	assert_int_equal(wire_get_nested(&m.attrs, IPC_A_PROTECTION, &prot), 0);
	assert_int_equal(wire_get_u8(&prot, IPC_A_PROT_ENCRYPT, &u8), 0);
	assert_int_equal(u8, IPC_WANT_YES);
	assert_int_equal(wire_get_nested(&m.attrs, IPC_A_PEER, &peer), 0);
	assert_int_equal(wire_get_str(&peer, IPC_A_PEER_ID, &id), 0);
	assert_string_equal(id, "CN=srv");
	assert_int_equal(wire_get_bytes(&peer, IPC_A_PEER_SPKI_SHA256, &pin, &alen), 0);
	unit_assert_bytes(pin, alen, key, klen);
	buf_free(&b);
	free(key);
	free(want);
}

static void error_reply_golden(void **state)
{
	size_t len;
	uint8_t *want = unit_hex(error_reply, &len);
	struct wire_msg m;
	const char *text;
	struct buf b;

	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, IPC_MSG_CONNECT, IPC_F_REPLY, 7, -ECONNREFUSED);
	wire_put_str(&b, IPC_A_MESSAGE, "refused");
	assert_encodes_to(&b, want, len);

	/* An error reply needs none of the success reply's required attributes. */
	parse_ok(want, len, WIRE_FROM_DAEMON, 0, &m);
	assert_int_equal(m.hdr.status, -ECONNREFUSED);
	assert_int_equal(m.hdr.flags, IPC_F_REPLY);
	assert_int_equal(wire_get_str(&m.attrs, IPC_A_MESSAGE, &text), 0);
	assert_string_equal(text, "refused");
	buf_free(&b);
	free(want);
}

static void alert_golden(void **state)
{
	size_t len;
	uint8_t *want = unit_hex(alert_event, &len);
	struct wire_msg m;
	uint64_t id;
	uint16_t reason;
	uint8_t st;
	struct buf b;

	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, IPC_MSG_ALERT, 0, 0, 0);
	wire_put_u64(&b, IPC_A_LATCH_ID, 42);
	wire_put_u8(&b, IPC_A_STATE, IPC_STATE_BROKEN);
	wire_put_u16(&b, IPC_A_REASON, IPC_REASON_PEER_CHANGED);
	assert_encodes_to(&b, want, len);

	parse_ok(want, len, WIRE_FROM_DAEMON, 0, &m);
	assert_int_equal(wire_get_u64(&m.attrs, IPC_A_LATCH_ID, &id), 0);
	assert_int_equal(id, 42);
	assert_int_equal(wire_get_u8(&m.attrs, IPC_A_STATE, &st), 0);
	assert_int_equal(st, IPC_STATE_BROKEN);
	assert_int_equal(wire_get_u16(&m.attrs, IPC_A_REASON, &reason), 0);
	assert_int_equal(reason, IPC_REASON_PEER_CHANGED);
	buf_free(&b);
	free(want);
}

static void query_reply_golden(void **state)
{
	size_t len, klen, n;
	uint8_t *want = golden(query_reply_head, spki, query_reply_tail, &len);
	uint8_t *key = unit_hex(spki, &klen);
	struct wire_attrs ident, sa;
	const uint8_t *cb, *k;
	struct wire_msg m;
	uint16_t auth;
	uint32_t child;
	size_t nest;
	struct buf b;

	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, IPC_MSG_QUERY, IPC_F_REPLY, 9, 0);
	wire_put_u64(&b, IPC_A_LATCH_ID, 42);
	wire_put_u8(&b, IPC_A_STATE, IPC_STATE_ESTABLISHED);
	nest = wire_nest_begin(&b, IPC_A_REMOTE_IDENTITY);
	wire_put_str(&b, IPC_A_IDENT_ID, "CN=srv");
	wire_put_u16(&b, IPC_A_IDENT_AUTH_METHOD, IPC_AUTH_PKIX_INLINE);
	wire_put_bytes(&b, IPC_A_IDENT_SPKI_SHA256, key, klen);
	wire_nest_end(&b, nest);
	nest = wire_nest_begin(&b, IPC_A_SA);
	wire_put_u32(&b, IPC_A_SA_CHILD_ID, 17);
	wire_put_u8(&b, IPC_A_SA_SHARED, 1);
	wire_nest_end(&b, nest);
	wire_put_bytes(&b, IPC_A_CHANNEL_BINDING, "abcd", 4);
	assert_encodes_to(&b, want, len);
	assert_int_equal(len, 120);

	parse_ok(want, len, WIRE_FROM_DAEMON, 0, &m);
	assert_int_equal(wire_get_nested(&m.attrs, IPC_A_REMOTE_IDENTITY, &ident), 0);
	assert_int_equal(wire_get_u16(&ident, IPC_A_IDENT_AUTH_METHOD, &auth), 0);
	assert_int_equal(auth, IPC_AUTH_PKIX_INLINE);
	assert_int_equal(wire_get_bytes(&ident, IPC_A_IDENT_SPKI_SHA256, &k, &n), 0);
	unit_assert_bytes(k, n, key, klen);
	assert_int_equal(wire_get_nested(&m.attrs, IPC_A_SA, &sa), 0);
	assert_int_equal(wire_get_u32(&sa, IPC_A_SA_CHILD_ID, &child), 0);
	assert_int_equal(child, 17);
	assert_int_equal(wire_get_bytes(&m.attrs, IPC_A_CHANNEL_BINDING, &cb, &n), 0);
	unit_assert_bytes(cb, n, "abcd", 4);
	assert_false(wire_has(&m.attrs, IPC_A_LOCAL_IDENTITY));
	buf_free(&b);
	free(key);
	free(want);
}

/* ATTACH (207): the socket and the policy, answered with a LARVAL latch. */
static void attach_golden(void **state)
{
	size_t len, rlen;
	uint8_t *want = unit_hex("00cf 0000 0000000b 00000000"
				 "000c 0010"		  /* PROTECTION, 12 bytes */
				 "  0005 0020 02 000000"  /* ENCRYPT YES */
				 "000c 0011"		  /* PEER */
				 "  0005 0034 01 000000", /* BTNS */
				 &len);
	uint8_t *reply = unit_hex("00cf 0001 0000000b 00000000"
				  "000c 0005 00000000 00000003" /* LATCH_ID 3 */
				  "0005 0006 05 000000",	/* STATE LARVAL */
				  &rlen);
	struct wire_attrs prot;
	struct wire_msg m;
	uint8_t st;
	size_t nest;
	struct buf b;

	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, IPC_MSG_ATTACH, 0, 11, 0);
	nest = wire_nest_begin(&b, IPC_A_PROTECTION);
	wire_put_u8(&b, IPC_A_PROT_ENCRYPT, IPC_WANT_YES);
	wire_nest_end(&b, nest);
	nest = wire_nest_begin(&b, IPC_A_PEER);
	wire_put_u8(&b, IPC_A_PEER_BTNS, 1);
	wire_nest_end(&b, nest);
	assert_encodes_to(&b, want, len);
	parse_ok(want, len, WIRE_FROM_CLIENT, 1, &m);
	assert_int_equal(m.hdr.type, IPC_MSG_ATTACH);
	assert_int_equal(wire_get_nested(&m.attrs, IPC_A_PROTECTION, &prot), 0);
	assert_string_equal(wire_msg_name(IPC_MSG_ATTACH), "ATTACH");
	parse_ok(reply, rlen, WIRE_FROM_DAEMON, 0, &m);
	assert_int_equal(wire_get_u8(&m.attrs, IPC_A_STATE, &st), 0);
	assert_int_equal(st, IPC_STATE_LARVAL);
	buf_free(&b);
	free(want);
	free(reply);
}

/* An ACCEPT answered without a latch: allowed unlatched (R33), REASON says so. */
static void accept_unlatched_golden(void **state)
{
	size_t len;
	uint8_t *reply = unit_hex("00ca 0001 00000002 00000000"
				  "0006 0007 000c 0000", /* REASON UNLATCHED */
				  &len);
	struct wire_msg m;
	uint16_t reason;

	parse_ok(reply, len, WIRE_FROM_DAEMON, 0, &m);
	assert_false(wire_has(&m.attrs, IPC_A_STATE));
	assert_int_equal(wire_get_u16(&m.attrs, IPC_A_REASON, &reason), 0);
	assert_int_equal(reason, IPC_REASON_UNLATCHED);
	free(reply);
	/* Every other latch reply still needs its latch. */
	expect_reject("00cb 0001 00000002 00000000 0006 0007 000c 0000", WIRE_FROM_DAEMON, 0,
		      -EINVAL, "LATCH_ID missing");
}

/* A dump: entries flagged MORE, then a bare reply; both golden. */
static void dump_golden(void **state)
{
	size_t elen, tlen;
	uint8_t *entry = unit_hex("0191 0003 00000005 00000000"
				  "000c 0005 00000000 00000001" /* LATCH_ID 1 */
				  "0005 0006 01 000000",	/* STATE LISTENER */
				  &elen);
	uint8_t *end = unit_hex("0191 0001 00000005 00000000", &tlen);
	struct wire_msg m;
	struct buf b;

	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, IPC_MSG_LIST, IPC_F_REPLY | IPC_F_MORE, 5, 0);
	wire_put_u64(&b, IPC_A_LATCH_ID, 1);
	wire_put_u8(&b, IPC_A_STATE, IPC_STATE_LISTENER);
	assert_encodes_to(&b, entry, elen);
	wire_begin(&b, IPC_MSG_LIST, IPC_F_REPLY, 5, 0);
	assert_encodes_to(&b, end, tlen);

	parse_ok(entry, elen, WIRE_FROM_DAEMON, 0, &m);
	assert_int_equal(m.hdr.flags, IPC_F_REPLY | IPC_F_MORE);
	parse_ok(end, tlen, WIRE_FROM_DAEMON, 0, &m);
	assert_int_equal(m.attrs.len, 0);
	buf_free(&b);
	free(entry);
	free(end);
}

/* Repeatable attributes come back in order through wire_next(). */
static void multi_attributes_iterate(void **state)
{
	struct wire_attrs peer;
	struct wire_attr a;
	struct wire_msg m;
	uint8_t key[IPC_SHA256_LEN];
	size_t nest, cursor = 0;
	unsigned seen = 0;
	struct buf b;

	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, IPC_MSG_LATCH, 0, 3, 0);
	nest = wire_nest_begin(&b, IPC_A_PEER);
	for (uint8_t i = 0; i < 3; i++) {
		memset(key, i, sizeof(key));
		wire_put_bytes(&b, IPC_A_PEER_SPKI_SHA256, key, sizeof(key));
	}
	wire_put_u8(&b, IPC_A_PEER_BTNS, 1);
	wire_nest_end(&b, nest);
	assert_int_equal(wire_end(&b), 0);
	parse_ok(b.data, b.len, WIRE_FROM_CLIENT, 1, &m);
	assert_int_equal(wire_get_nested(&m.attrs, IPC_A_PEER, &peer), 0);
	while (wire_next(&peer, IPC_A_PEER_SPKI_SHA256, &cursor, &a) == 1) {
		assert_int_equal(a.len, IPC_SHA256_LEN);
		assert_int_equal(a.val[0], seen);
		seen++;
	}
	assert_int_equal(seen, 3);
	cursor = 0;
	seen = 0;
	while (wire_next(&peer, 0, &cursor, &a) == 1)
		seen++;
	assert_int_equal(seen, 4);
	buf_free(&b);
}

static void getters_check_kind(void **state)
{
	size_t len;
	uint8_t *msg = unit_hex(alert_event, &len);
	struct wire_attrs nested;
	struct wire_msg m;
	const uint8_t *p;
	const char *s;
	uint32_t v32;
	uint64_t v64;
	size_t n;

	parse_ok(msg, len, WIRE_FROM_DAEMON, 0, &m);
	/* LATCH_ID is a u64: reading it as anything else is a caller bug. */
	assert_int_equal(wire_get_u32(&m.attrs, IPC_A_LATCH_ID, &v32), -EINVAL);
	assert_int_equal(wire_get_str(&m.attrs, IPC_A_LATCH_ID, &s), -EINVAL);
	assert_int_equal(wire_get_bytes(&m.attrs, IPC_A_LATCH_ID, &p, &n), -EINVAL);
	assert_int_equal(wire_get_nested(&m.attrs, IPC_A_LATCH_ID, &nested), -EINVAL);
	assert_int_equal(wire_get_u64(&m.attrs, 126, &v64), -EINVAL);
	assert_int_equal(wire_get_str(&m.attrs, IPC_A_MESSAGE, &s), -ENOENT);
	assert_string_equal(wire_msg_name(IPC_MSG_ALERT), "ALERT");
	assert_string_equal(wire_msg_name(999), "?");
	assert_string_equal(wire_attr_name(IPC_A_PEER_SPKI_SHA256), "PEER_SPKI_SHA256");
	assert_string_equal(wire_attr_name(1000), "?");
	assert_int_equal(wire_attr_kind(IPC_A_TUPLE), WIRE_NEST);
	free(msg);
}

static void peek_header(void **state)
{
	size_t len;
	uint8_t *msg = unit_hex(error_reply, &len);
	struct wire_hdr h = { 0 };

	assert_int_equal(wire_peek_hdr(msg, IPC_HDR_LEN - 1, &h), -EBADMSG);
	assert_int_equal(h.type, 0);
	assert_int_equal(wire_peek_hdr(msg, len, &h), 0);
	assert_int_equal(h.type, IPC_MSG_CONNECT);
	assert_int_equal(h.seq, 7);
	assert_int_equal(h.status, -ECONNREFUSED);
	free(msg);
}

/* Encoder */

static void encoder_limits(void **state)
{
	static uint8_t big[UINT16_MAX + 1];
	struct buf b;
	size_t nest;

	buf_init(&b, 0);
	assert_int_equal(wire_end(&b), -EINVAL); /* nothing begun */
	wire_begin(&b, IPC_MSG_STATUS, IPC_F_REPLY, 1, 0);
	wire_put_bytes(&b, IPC_A_MESSAGE, big, UINT16_MAX - 3); /* value too long for u16 len */
	assert_int_equal(wire_end(&b), -EMSGSIZE);
	assert_int_equal(b.len, IPC_HDR_LEN);

	wire_begin(&b, IPC_MSG_STATUS, IPC_F_REPLY, 1, 0);
	wire_put_bytes(&b, IPC_A_MESSAGE, big, IPC_MSG_MAX);
	assert_int_equal(wire_end(&b), -EMSGSIZE); /* fits the TLV, not the message */

	wire_begin(&b, IPC_MSG_STATUS, IPC_F_REPLY, 1, 0);
	nest = wire_nest_begin(&b, IPC_A_COUNTER);
	wire_put_bytes(&b, IPC_A_NAME, big, 40000);
	wire_put_bytes(&b, IPC_A_VALUE, big, 40000);
	wire_nest_end(&b, nest);
	assert_int_equal(wire_end(&b), -EMSGSIZE); /* container over 65535 */
	buf_free(&b);

	buf_init(&b, IPC_MSG_MAX); /* the recommended bound stops growth itself */
	wire_begin(&b, IPC_MSG_STATUS, IPC_F_REPLY, 1, 0);
	wire_put_bytes(&b, IPC_A_MESSAGE, big, IPC_MSG_MAX);
	assert_int_equal(wire_end(&b), -EMSGSIZE);
	buf_free(&b);
}

/* Rejections: every path, its errno, and words naming the fault. */

static void expect_reject(const char *hex, enum wire_from from, unsigned nfds, int code,
			  const char *words)
{
	size_t len;
	uint8_t *msg = unit_hex(hex, &len);
	struct wire_msg m = { .hdr.type = 0xbeef };
	char err[256] = "";
	int r = wire_parse(msg, len, from, nfds, &m, err, sizeof(err));

	if (r != code)
		fail_msg("want %d, got %d (%s) for %s", code, r, err, hex);
	if (!strstr(err, words))
		fail_msg("message \"%s\" does not say \"%s\"", err, words);
	assert_int_equal(m.hdr.type, 0xbeef); /* output untouched */
	free(msg);
}

#define CLIENT WIRE_FROM_CLIENT
#define DAEMON WIRE_FROM_DAEMON

static void reject_size(void **state)
{
	static uint8_t big[IPC_MSG_MAX + 1];
	struct wire_msg m;
	char err[128] = "";

	memcpy(big, "\x00\x65\x00\x00", 4); /* a BYE, but far too long */
	assert_int_equal(wire_parse(big, sizeof(big), CLIENT, 0, &m, err, sizeof(err)), -EMSGSIZE);
	assert_non_null(strstr(err, "16385 bytes exceed"));
	/* A NULL error buffer is allowed. */
	assert_int_equal(wire_parse(big, sizeof(big), CLIENT, 0, &m, NULL, 0), -EMSGSIZE);
	expect_reject("0065 0000 00000001 000000", CLIENT, 0, -EBADMSG, "shorter than the");
}

static void reject_header(void **state)
{
	expect_reject("0063 0000 00000001 00000000", CLIENT, 0, -EOPNOTSUPP,
		      "unknown message type 99");
	expect_reject("0065 0004 00000001 00000000", CLIENT, 0, -EBADMSG, "unknown flags 0x0004");
	expect_reject("0065 0002 00000001 00000000", CLIENT, 0, -EBADMSG, "MORE flag");
	expect_reject("0065 0001 00000001 00000000", CLIENT, 0, -EOPNOTSUPP, "no replies");
	expect_reject("0384 0000 00000000 00000000", CLIENT, 0, -EOPNOTSUPP, "not a request");
	expect_reject("0065 0000 00000001 00000000", DAEMON, 0, -EOPNOTSUPP, "reply or event");
	expect_reject("0065 0000 00000001 ffffffea", CLIENT, 0, -EBADMSG, "outside a reply");
	expect_reject("0384 0000 00000003 00000000", DAEMON, 0, -EBADMSG, "event with seq 3");
}

static void reject_reply_header(void **state)
{
	expect_reject("0384 0001 00000001 00000000", DAEMON, 0, -EOPNOTSUPP, "has no reply");
	expect_reject("0065 0001 00000001 00000001", DAEMON, 0, -EBADMSG, "status 1 is not");
	expect_reject("0065 0001 00000001 fffff000", DAEMON, 0, -EBADMSG, "status -4096");
	expect_reject("0065 0003 00000001 00000000", DAEMON, 0, -EBADMSG, "no dump entry");
	expect_reject("0191 0003 00000001 ffffffff", DAEMON, 0, -EBADMSG, "no dump entry");
	/* The end of a dump is bare. */
	expect_reject("0191 0001 00000001 00000000 0005 0006 01 000000", DAEMON, 0, -EINVAL,
		      "STATE not allowed");
}

static void reject_fds(void **state)
{
	expect_reject("00c9 0000 00000001 00000000", CLIENT, 0, -EBADF, "needs the socket");
	expect_reject("00c9 0000 00000001 00000000", CLIENT, 2, -EBADF, "got 2 fds");
	expect_reject("00cf 0000 00000001 00000000", CLIENT, 0, -EBADF, "needs the socket");
	expect_reject("0065 0000 00000001 00000000", CLIENT, 1, -EBADF, "takes no fd");
	expect_reject("00cc 0000 00000001 00000000", CLIENT, 2, -EBADF, "at most one");
	expect_reject("0065 0001 00000001 00000000", DAEMON, 1, -EBADF, "takes no fd");
	/* Only HELLO's reply may bring a descriptor (the generation page), one at most. */
	expect_reject("0064 0001 00000001 00000000", DAEMON, 2, -EBADF, "at most one");
	expect_reject("00cc 0001 00000001 00000000", DAEMON, 1, -EBADF, "takes no fd");
	expect_reject("0384 0000 00000000 00000000", DAEMON, 1, -EBADF, "takes no fd");
}

static void reject_framing(void **state)
{
	expect_reject("0064 0000 00000001 00000000 0008 00", CLIENT, 0, -EBADMSG,
		      "truncated attribute header at offset 0");
	expect_reject("0064 0000 00000001 00000000 0003 0001 00000000", CLIENT, 0, -EBADMSG,
		      "attribute length below 4");
	expect_reject("0064 0000 00000001 00000000 0009 0001 00000001", CLIENT, 0, -EBADMSG,
		      "attribute overruns");
	expect_reject("0064 0000 00000001 00000000 0008 0001 00000001 0005 0003 41", CLIENT, 0,
		      -EBADMSG, "padding missing at offset 8");
	expect_reject("0064 0000 00000001 00000000 0008 0001 00000001 0006 0003 4100 0001", CLIENT,
		      0, -EBADMSG, "non-zero padding");
	/* Framing inside a container is checked the same way. */
	expect_reject("00cb 0000 00000001 00000000 000c 0010 0005 0020 02 0000 ff", CLIENT, 1,
		      -EBADMSG, "in PROTECTION: non-zero padding");
}

static void reject_attributes(void **state)
{
	expect_reject("0064 0000 00000001 00000000 0008 007e 00000001", CLIENT, 0, -EINVAL,
		      "unknown attribute type 126");
	expect_reject("0064 0000 00000001 00000000 0008 1234 00000001", CLIENT, 0, -EINVAL,
		      "unknown attribute type 4660");
	expect_reject("0064 0000 00000001 00000000 0008 0001 00000001 000c 0005 00000000 00000001",
		      CLIENT, 0, -EINVAL, "HELLO: attribute LATCH_ID not allowed");
	expect_reject("0064 0000 00000001 00000000 0008 0001 00000001 0008 0001 00000001", CLIENT,
		      0, -EINVAL, "VERSION repeated");
	expect_reject("0064 0000 00000001 00000000", CLIENT, 0, -EINVAL, "VERSION missing");
	expect_reject("00c8 0000 00000001 00000000 000c 0014 0005 0051 06 000000", CLIENT, 1,
		      -EINVAL, "in TUPLE: attribute TUPLE_FAMILY missing");
	/* A container may not hold a container: nesting stays one level deep. */
	expect_reject("00cb 0000 00000001 00000000 0008 0010 0004 0010", CLIENT, 1, -EINVAL,
		      "in PROTECTION: attribute PROTECTION not allowed");
}

static void reject_values(void **state)
{
	expect_reject("0064 0000 00000001 00000000 0006 0001 0001 0000", CLIENT, 0, -EINVAL,
		      "VERSION of 2 bytes, want 4");
	expect_reject("00cb 0000 00000001 00000000 000c 0010 0005 0022 03 000000", CLIENT, 1,
		      -EINVAL, "PROT_MODE value 3 out of range 0-2");
	expect_reject("00ce 0000 00000001 00000000 000c 0005 00000000 00000000", CLIENT, 0, -EINVAL,
		      "LATCH_ID value 0 out of range");
	expect_reject("0064 0000 00000001 00000000 0008 0001 00000001 0008 0003 41424344", CLIENT,
		      0, -EINVAL, "NAME is not NUL-terminated");
	expect_reject("0064 0000 00000001 00000000 0008 0001 00000001 0004 0003", CLIENT, 0,
		      -EINVAL, "NAME is not NUL-terminated");
	expect_reject("0064 0000 00000001 00000000 0008 0001 00000001 0008 0003 41004300", CLIENT,
		      0, -EINVAL, "NAME has a NUL byte at 1");
	expect_reject("0064 0000 00000001 00000000 0008 0001 00000001 0008 0003 410a4300", CLIENT,
		      0, -EINVAL, "NAME has a control byte or invalid UTF-8 at 1 (0x0a)");
	/* A client's strings are clean text: UTF-8, nothing that steers a terminal. */
	expect_reject("0064 0000 00000001 00000000 0008 0001 00000001 0008 0003 41ff4300", CLIENT,
		      0, -EINVAL, "NAME has a control byte or invalid UTF-8 at 1 (0xff)");
	expect_reject("0064 0000 00000001 00000000 0008 0001 00000001 0008 0003 41c29b00", CLIENT,
		      0, -EINVAL, "invalid UTF-8 at 1 (0xc2)");
	expect_reject("00cb 0000 00000001 00000000 000c 0011 0008 0033 01020304", CLIENT, 1,
		      -EINVAL, "PEER_SPKI_SHA256 of 4 bytes, allowed 32-32");
	expect_reject("00cc 0001 00000001 00000000 000c 0005 00000000 00000001 0005 0006 02 000000"
		      "0004 0009",
		      DAEMON, 0, -EINVAL, "CHANNEL_BINDING of 0 bytes");
}

/*
 * latchd's strings are data for the receiver to clean: one odd value does not
 * cost the answer (only framing, NUL and limits do). A client's are refused.
 */
static void daemon_strings_are_data(void **state)
{
	static const char odd[] = "a\x1b[31m\n\xff\xc2\x9b\xc3";
	const char *got = NULL;
	struct wire_msg m;
	char err[256] = "";
	struct buf b;

	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, IPC_MSG_HELLO, IPC_F_REPLY, 1, 0);
	wire_put_u32(&b, IPC_A_VERSION, 1);
	wire_put_str(&b, IPC_A_NAME, odd);
	parse_ok(b.data, b.len, DAEMON, 0, &m);
	assert_int_equal(wire_get_str(&m.attrs, IPC_A_NAME, &got), 0);
	assert_string_equal(got, odd);
	wire_begin(&b, IPC_MSG_HELLO, 0, 1, 0);
	wire_put_u32(&b, IPC_A_VERSION, 1);
	wire_put_str(&b, IPC_A_NAME, odd);
	assert_int_equal(wire_parse(b.data, b.len, CLIENT, 0, &m, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "HELLO: NAME has a control byte or invalid UTF-8 at 1 (0x1b)");
	wire_begin(&b, IPC_MSG_HELLO, 0, 1, 0);
	wire_put_u32(&b, IPC_A_VERSION, 1);
	wire_put_str(&b, IPC_A_NAME, "Z\xc3\xbcrich \xe2\x86\x92 \\ CN=a\\,b");
	parse_ok(b.data, b.len, CLIENT, 0, &m);
	buf_free(&b);
}

static void reject_long_string(void **state)
{
	char name[IPC_NAME_MAX + 2];
	struct wire_msg m;
	char err[256] = "";
	struct buf b;

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, IPC_MSG_HELLO, 0, 1, 0);
	wire_put_u32(&b, IPC_A_VERSION, 1);
	wire_put_str(&b, IPC_A_NAME, name);
	assert_int_equal(wire_end(&b), 0); /* the encoder does not police limits */
	assert_int_equal(wire_parse(b.data, b.len, CLIENT, 0, &m, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "HELLO: NAME of 65 bytes exceeds the limit of 64");
	name[IPC_NAME_MAX] = 0;
	wire_begin(&b, IPC_MSG_HELLO, 0, 1, 0);
	wire_put_u32(&b, IPC_A_VERSION, 1);
	wire_put_str(&b, IPC_A_NAME, name);
	parse_ok(b.data, b.len, CLIENT, 0, &m);
	buf_free(&b);
}

static void reject_other_version(void **state)
{
	size_t len;
	uint8_t *msg = unit_hex("0064 0000 00000001 00000000 0008 0001 00000002", &len);
	uint8_t *err_reply = unit_hex("0064 0001 00000001 ffffffb9", &len);
	struct wire_msg m;
	char err[128] = "";

	parse_ok(msg, 20, CLIENT, 0, &m); /* well-formed: the version is the session's business */
	assert_int_equal(wire_hello_check(&m, err, sizeof(err)), -EPROTO);
	assert_string_equal(err, "HELLO: protocol version 2 not supported, want 1");
	parse_ok(err_reply, len, DAEMON, 0, &m);
	assert_int_equal(wire_hello_check(&m, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "no protocol version"));
	free(msg);
	free(err_reply);

	msg = unit_hex("0065 0000 00000001 00000000", &len);
	parse_ok(msg, len, CLIENT, 0, &m);
	assert_int_equal(wire_hello_check(&m, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "expected HELLO, got BYE"));
	free(msg);
}

/* The peer's certificate rides on latch info, up to IPC_CERT_DER_MAX bytes and no more. */
static void peer_cert_der_bounded(void **state)
{
	static uint8_t der[IPC_CERT_DER_MAX + 1];
	const uint8_t *got;
	struct wire_msg m;
	char err[256];
	struct buf b;
	size_t n;

	for (size_t len = IPC_CERT_DER_MAX; len <= IPC_CERT_DER_MAX + 1; len++) {
		buf_init(&b, IPC_MSG_MAX);
		wire_begin(&b, IPC_MSG_CONNECT, IPC_F_REPLY, 3, 0);
		wire_put_u64(&b, IPC_A_LATCH_ID, 7);
		wire_put_u8(&b, IPC_A_STATE, IPC_STATE_ESTABLISHED);
		wire_put_bytes(&b, IPC_A_PEER_CERT_DER, der, len);
		assert_int_equal(wire_end(&b), 0);
		if (len == IPC_CERT_DER_MAX) {
			parse_ok(b.data, b.len, WIRE_FROM_DAEMON, 0, &m);
			assert_int_equal(wire_get_bytes(&m.attrs, IPC_A_PEER_CERT_DER, &got, &n),
					 0);
			assert_int_equal(n, IPC_CERT_DER_MAX);
		} else {
			assert_int_equal(wire_parse(b.data, b.len, WIRE_FROM_DAEMON, 0, &m, err,
						    sizeof(err)),
					 -EINVAL);
			assert_non_null(strstr(err, "PEER_CERT_DER of 8193 bytes"));
		}
		buf_free(&b);
	}
	/* Never from a client. */
	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, IPC_MSG_QUERY, 0, 3, 0);
	wire_put_bytes(&b, IPC_A_PEER_CERT_DER, der, 10);
	assert_int_equal(wire_end(&b), 0);
	assert_true(wire_parse(b.data, b.len, WIRE_FROM_CLIENT, 0, &m, err, sizeof(err)) < 0);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hello_golden),
		cmocka_unit_test(peer_cert_der_bounded),
		cmocka_unit_test(connect_golden),
		cmocka_unit_test(error_reply_golden),
		cmocka_unit_test(alert_golden),
		cmocka_unit_test(query_reply_golden),
		cmocka_unit_test(attach_golden),
		cmocka_unit_test(accept_unlatched_golden),
		cmocka_unit_test(dump_golden),
		cmocka_unit_test(multi_attributes_iterate),
		cmocka_unit_test(getters_check_kind),
		cmocka_unit_test(peek_header),
		cmocka_unit_test(encoder_limits),
		cmocka_unit_test(reject_size),
		cmocka_unit_test(reject_header),
		cmocka_unit_test(reject_reply_header),
		cmocka_unit_test(reject_fds),
		cmocka_unit_test(reject_framing),
		cmocka_unit_test(reject_attributes),
		cmocka_unit_test(reject_values),
		cmocka_unit_test(daemon_strings_are_data),
		cmocka_unit_test(reject_long_string),
		cmocka_unit_test(reject_other_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
