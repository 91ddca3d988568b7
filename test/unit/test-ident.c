/* SPDX-License-Identifier: MIT */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/internal.h"

#define HEX32_AA "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX32_0F "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"

/* A QUERY reply as latchd sends it, decoded by the library's own path. */
static latch_info *decode_reply(void)
{
	uint8_t spki[32], cb[LATCH_CB_EXPORT_LEN];
	latch_info *info = NULL;
	struct wire_msg m;
	char err[256];
	size_t nest;
	struct buf b;

	memset(spki, 0xaa, sizeof(spki));
	memcpy(cb, LATCH_CB_TYPE ":", sizeof(LATCH_CB_TYPE));
	memset(cb + sizeof(LATCH_CB_TYPE), 0x0f, LATCH_CB_LEN);
	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, IPC_MSG_QUERY, IPC_F_REPLY, 4, 0);
	wire_put_u64(&b, IPC_A_LATCH_ID, 7);
	wire_put_u8(&b, IPC_A_STATE, IPC_STATE_ESTABLISHED);
	nest = wire_nest_begin(&b, IPC_A_REMOTE_IDENTITY);
	wire_put_str(&b, IPC_A_IDENT_ID, "b.example");
	wire_put_u16(&b, IPC_A_IDENT_AUTH_METHOD, IPC_AUTH_PKIX_TRUSTED);
	wire_put_str(&b, IPC_A_IDENT_CERT_SUBJECT, "C=CH, O=latch-lab, CN=b.example");
	wire_put_str(&b, IPC_A_IDENT_CERT_ISSUER, "C=CH, O=latch-lab, CN=Lab CA");
	wire_put_bytes(&b, IPC_A_IDENT_SPKI_SHA256, spki, sizeof(spki));
	wire_put_str(&b, IPC_A_IDENT_AUDIT, "b.example by PKIX (CN=Lab CA) 100% sure");
	wire_nest_end(&b, nest);
	wire_put_bytes(&b, IPC_A_CHANNEL_BINDING, cb, sizeof(cb));
	assert_int_equal(wire_end(&b), 0);
	if (wire_parse(b.data, b.len, WIRE_FROM_DAEMON, 0, &m, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(info_decode(&m, &info), 0);
	buf_free(&b);
	return info;
}

static void accessors(void **state)
{
	latch_info *info = decode_reply();
	const latch_ident *id = latch_info_get_remote(info);
	uint8_t key[32], cb[LATCH_CB_EXPORT_LEN + 4];

	assert_non_null(id);
	assert_null(latch_info_get_local(info));
	assert_int_equal(latch_info_get_id(info), 7);
	assert_string_equal(latch_ident_get_id(id), "b.example");
	assert_int_equal(latch_ident_get_auth(id), LATCH_AUTH_PKIX_TRUSTED);
	assert_string_equal(latch_auth_name(latch_ident_get_auth(id)), "PKIX_TRUSTED");
	assert_string_equal(latch_ident_get_subject(id), "C=CH, O=latch-lab, CN=b.example");
	assert_string_equal(latch_ident_get_issuer(id), "C=CH, O=latch-lab, CN=Lab CA");
	assert_int_equal(latch_ident_get_pubkey_id(id, key), 0);
	assert_int_equal(key[0], 0xaa);
	assert_int_equal(latch_ident_get_channel_binding(id, 0, cb, sizeof(cb)), LATCH_CB_LEN);
	assert_int_equal(cb[0], 0x0f);
	assert_int_equal(latch_ident_get_channel_binding(id, LATCH_CB_EXPORT, cb, sizeof(cb)),
			 LATCH_CB_EXPORT_LEN);
	assert_memory_equal(cb, "ipsec-end-point-sha256:\x0f", 24);
	assert_int_equal(latch_ident_get_channel_binding(id, LATCH_CB_EXPORT, cb, 54), -ERANGE);
	assert_int_equal(latch_ident_get_channel_binding(id, 2, cb, sizeof(cb)), -EINVAL);
	latch_info_free(info);
}

static void absent_values(void **state)
{
	latch_ident *id = NULL;
	uint8_t buf[64];

	assert_int_equal(latch_ident_from_string("latch-ident/1 id=x", &id), 0);
	assert_int_equal(latch_ident_get_auth(id), -ENODATA);
	assert_int_equal(errno, ENODATA);
	assert_int_equal(latch_ident_get_pubkey_id(id, buf), -ENODATA);
	assert_int_equal(latch_ident_get_channel_binding(id, 0, buf, sizeof(buf)), -ENODATA);
	assert_null(latch_ident_get_subject(id));
	assert_null(latch_auth_name(10));
	assert_null(latch_auth_name(-1));
	latch_ident_free(id);
	latch_ident_free(NULL);
}

static const char full_line[] =
	"latch-ident/1 id=b.example auth=PKIX_TRUSTED subject=C=CH,%20O=latch-lab,%20CN=b.example"
	" issuer=C=CH,%20O=latch-lab,%20CN=Lab%20CA spki=" HEX32_AA " cb=" HEX32_0F
	" audit=b.example%20by%20PKIX%20(CN=Lab%20CA)%20100%25%20sure";

static void serialize_exact(void **state)
{
	latch_info *info = decode_reply();
	latch_ident *back = NULL;
	char *s = NULL, *again = NULL;

	assert_int_equal(latch_ident_to_string(latch_info_get_remote(info), &s), 0);
	assert_string_equal(s, full_line);
	assert_int_equal(latch_ident_from_string(s, &back), 0);
	assert_true(latch_ident_same_peer(back, latch_info_get_remote(info)));
	assert_string_equal(latch_ident_get_audit(back), "b.example by PKIX (CN=Lab CA) 100% sure");
	assert_int_equal(latch_ident_to_string(back, &again), 0);
	assert_string_equal(again, s);
	free(s);
	free(again);
	latch_ident_free(back);
	latch_info_free(info);
}

/* Every canonical line survives from_string → to_string byte for byte. */
static void round_trips(void **state)
{
	static const char *const lines[] = {
		"latch-ident/1",
		"latch-ident/1 id=",
		"latch-ident/1 id=%C3%A9t%C3%A9%20x auth=EAP",
		"latch-ident/1 auth=BTNS spki=" HEX32_AA,
		"latch-ident/1 auth=LEAPOFFAITH cb=" HEX32_0F,
		"latch-ident/1 id=@#!$=x issuer=CN=a audit=%C3%A9%25",
		full_line,
	};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		latch_ident *id = NULL, *d = NULL;
		char *s = NULL;

		if (latch_ident_from_string(lines[i], &id) < 0)
			fail_msg("refused: %s", lines[i]);
		assert_int_equal(latch_ident_dup(id, &d), 0);
		assert_int_equal(latch_ident_to_string(d, &s), 0);
		assert_string_equal(s, lines[i]);
		assert_true(latch_ident_same_peer(id, d));
		free(s);
		latch_ident_free(id);
		latch_ident_free(d);
	}
}

static void rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"latch-ident",
		"latch-ident/2 id=x",
		"latch-ident/1x",
		"latch-ident/1 ",
		"latch-ident/1  id=x",
		"latch-ident/1 id=x ",
		"latch-ident/1 id",
		"latch-ident/1 name=x",
		"latch-ident/1 auth=BTNS id=x", /* order */
		"latch-ident/1 id=x id=y",	/* repeated */
		"latch-ident/1 auth=btns",	/* names are exact */
		"latch-ident/1 auth=",
		"latch-ident/1 id=%41",	  /* 'A' needs no escape: one form only */
		"latch-ident/1 id=%2",	  /* short escape */
		"latch-ident/1 id=%e9",	  /* lowercase escape */
		"latch-ident/1 id=a%0Ab", /* control byte */
		"latch-ident/1 id=a%00b",
		"latch-ident/1 spki=" HEX32_AA "aa", /* wrong length */
		"latch-ident/1 "
		"spki=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"latch-ident/1 cb=zz",
	};
	latch_ident *id = (latch_ident *)&id; /* a sentinel: must stay */

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		if (latch_ident_from_string(bad[i], &id) != -EINVAL)
			fail_msg("accepted: \"%s\"", bad[i]);
		assert_int_equal(errno, EINVAL);
		assert_ptr_equal(id, (latch_ident *)&id);
	}
	assert_int_equal(latch_ident_from_string(NULL, &id), -EINVAL);
}

static void too_long(void **state)
{
	size_t n = strlen("latch-ident/1 id=") + IPC_DN_MAX + 2;
	char *line = malloc(n);
	latch_ident *id = NULL;

	assert_non_null(line);
	strcpy(line, "latch-ident/1 id=");
	memset(line + strlen(line), 'x', IPC_DN_MAX + 1);
	line[n - 1] = 0;
	assert_int_equal(latch_ident_from_string(line, &id), -EINVAL);
	line[n - 2] = 0; /* exactly the limit */
	assert_int_equal(latch_ident_from_string(line, &id), 0);
	latch_ident_free(id);
	free(line);
}

static void same_peer(void **state)
{
	latch_ident *a = NULL, *b = NULL, *c = NULL;

	assert_int_equal(latch_ident_from_string(
				 "latch-ident/1 id=x auth=BTNS spki=" HEX32_AA " audit=one", &a),
			 0);
	assert_int_equal(latch_ident_from_string("latch-ident/1 id=x auth=BTNS spki=" HEX32_AA
						 " cb=" HEX32_0F " audit=two",
						 &b),
			 0);
	assert_int_equal(latch_ident_from_string("latch-ident/1 id=x auth=BTNS spki=" HEX32_0F, &c),
			 0);
	assert_int_equal(latch_ident_same_peer(a, b), 1); /* audit and binding are not the peer */
	assert_int_equal(latch_ident_same_peer(a, c), 0); /* another key */
	assert_int_equal(latch_ident_same_peer(a, NULL), 0);
	latch_ident_free(a);
	latch_ident_free(b);
	latch_ident_free(c);
}

static void cb_wire_forms(void **state)
{
	uint8_t raw[32], exported[LATCH_CB_EXPORT_LEN], out[32];

	memset(raw, 0x5a, sizeof(raw));
	memcpy(exported, "ipsec-end-point-sha256:", 23);
	memcpy(exported + 23, raw, 32);
	assert_int_equal(cb_from_wire(raw, 32, out), 0);
	assert_memory_equal(out, raw, 32);
	memset(out, 0, sizeof(out));
	assert_int_equal(cb_from_wire(exported, sizeof(exported), out), 0);
	assert_memory_equal(out, raw, 32);
	exported[0] = 'X'; /* another type of the same length */
	assert_int_equal(cb_from_wire(exported, sizeof(exported), out), -EBADMSG);
	assert_int_equal(cb_from_wire(raw, 31, out), -EBADMSG);
}

/* One vocabulary: the API's names are RFC 5660's, the very ones latchctl and latchd print. */
static void state_names_are_the_rfcs(void **state)
{
	static const char *const rfc[] = { NULL,     "LISTENER", "ESTABLISHED",
					   "BROKEN", "CLOSED",	 "LARVAL" };

	assert_int_equal(LATCH_STATE_LARVAL, 5);
	for (int s = 0; s < 6; s++) {
		if (!rfc[s]) {
			assert_null(latch_state_name(s));
			continue;
		}
		assert_string_equal(latch_state_name(s), rfc[s]);
		assert_string_equal(wire_state_name((uint8_t)s), rfc[s]);
	}
	assert_null(latch_state_name(6));
	assert_null(latch_state_name(-1));
	assert_null(latch_state_name(256 + LATCH_STATE_LARVAL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(state_names_are_the_rfcs),
		cmocka_unit_test(accessors),
		cmocka_unit_test(absent_values),
		cmocka_unit_test(serialize_exact),
		cmocka_unit_test(round_trips),
		cmocka_unit_test(rejects),
		cmocka_unit_test(too_long),
		cmocka_unit_test(same_peer),
		cmocka_unit_test(cb_wire_forms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
