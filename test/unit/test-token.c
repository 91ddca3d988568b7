/* SPDX-License-Identifier: MIT */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/internal.h"

static latch_token *new_token(void)
{
	latch_token *t = NULL;

	assert_int_equal(latch_token_new(&t), 0);
	assert_non_null(t);
	return t;
}

static void defaults(void **state)
{
	latch_token *t = new_token();
	uint8_t key[LATCH_SHA256_LEN];
	unsigned e = 99, i = 99;

	assert_int_equal(latch_token_get_encrypt(t), LATCH_WANT_ANY);
	assert_int_equal(latch_token_get_integrity(t), LATCH_WANT_ANY);
	assert_int_equal(latch_token_get_mode(t), LATCH_MODE_ANY);
	assert_int_equal(latch_token_get_on_break(t), LATCH_ON_BREAK_RESET);
	assert_int_equal(latch_token_get_flags(t), 0); /* shared SA, no fallback, authenticated */
	assert_int_equal(latch_token_get_min_bits(t, &e, &i), 0);
	assert_int_equal(e, 0);
	assert_int_equal(i, 0);
	assert_null(latch_token_get_peer_id(t));
	assert_null(latch_token_get_policy_name(t));
	assert_int_equal(latch_token_get_peer_spki(t, 0, key), -ENOENT);
	latch_token_free(t);
	latch_token_free(NULL); /* NULL-safe */
}

static void setters_and_ranges(void **state)
{
	latch_token *t = new_token();
	unsigned e, i;

	assert_int_equal(latch_token_set_encrypt(t, LATCH_WANT_YES), 0);
	assert_int_equal(latch_token_get_encrypt(t), LATCH_WANT_YES);
	errno = 0;
	assert_int_equal(latch_token_set_encrypt(t, 3), -EINVAL);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(latch_token_get_encrypt(t), LATCH_WANT_YES); /* untouched */
	assert_int_equal(latch_token_set_integrity(t, LATCH_WANT_NO), 0);
	assert_int_equal(latch_token_get_integrity(t), LATCH_WANT_NO);
	assert_int_equal(latch_token_set_integrity(t, -1), -EINVAL);
	assert_int_equal(latch_token_set_mode(t, LATCH_MODE_TUNNEL), 0);
	assert_int_equal(latch_token_get_mode(t), LATCH_MODE_TUNNEL);
	assert_int_equal(latch_token_set_mode(t, 3), -EINVAL);
	assert_int_equal(latch_token_set_on_break(t, LATCH_ON_BREAK_WAIT), 0);
	assert_int_equal(latch_token_get_on_break(t), LATCH_ON_BREAK_WAIT);
	assert_int_equal(latch_token_set_on_break(t, 0), -EINVAL);
	assert_int_equal(latch_token_set_min_bits(t, 256, 128), 0);
	assert_int_equal(latch_token_set_min_bits(t, 65536, 0), -EINVAL);
	assert_int_equal(latch_token_get_min_bits(t, &e, &i), 0);
	assert_int_equal(e, 256);
	assert_int_equal(i, 128);
	assert_int_equal(latch_token_set_flags(t, LATCH_TOKEN_EXACT | LATCH_TOKEN_PEER_BTNS), 0);
	assert_int_equal(latch_token_set_flags(t, 0x10), -EINVAL); /* unknown bit */
	assert_int_equal(latch_token_get_flags(t), LATCH_TOKEN_EXACT | LATCH_TOKEN_PEER_BTNS);
	assert_int_equal(latch_token_set_encrypt(NULL, 0), -EINVAL);
	assert_int_equal(latch_token_get_mode(NULL), -EINVAL);
	latch_token_free(t);
}

static void strings(void **state)
{
	latch_token *t = new_token();
	char long_name[IPC_NAME_MAX + 2];

	assert_int_equal(latch_token_set_peer_id(t, "C=CH, O=Lab, CN=b"), 0);
	assert_string_equal(latch_token_get_peer_id(t), "C=CH, O=Lab, CN=b");
	assert_int_equal(latch_token_set_peer_id(t, "bad\nline"), -EINVAL);
	assert_string_equal(latch_token_get_peer_id(t), "C=CH, O=Lab, CN=b");
	assert_int_equal(latch_token_set_peer_id(t, NULL), 0);
	assert_null(latch_token_get_peer_id(t));
	assert_int_equal(latch_token_set_peer_id_pattern(t, "*.example"), 0);
	assert_string_equal(latch_token_get_peer_id_pattern(t), "*.example");
	assert_int_equal(latch_token_set_peer_ca(t, "CN=Lab CA"), 0);
	assert_string_equal(latch_token_get_peer_ca(t), "CN=Lab CA");
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = 0;
	assert_int_equal(latch_token_set_policy_name(t, long_name), -EINVAL);
	long_name[IPC_NAME_MAX] = 0;
	assert_int_equal(latch_token_set_policy_name(t, long_name), 0);
	assert_int_equal(strlen(latch_token_get_policy_name(t)), IPC_NAME_MAX);
	latch_token_free(t);
}

static void pinned_keys(void **state)
{
	latch_token *t = new_token();
	uint8_t key[LATCH_SHA256_LEN], got[LATCH_SHA256_LEN];

	for (unsigned i = 0; i < LATCH_TOKEN_SPKI_MAX; i++) {
		memset(key, (int)i, sizeof(key));
		assert_int_equal(latch_token_add_peer_spki(t, key), 0);
	}
	memset(key, 3, sizeof(key));
	assert_int_equal(latch_token_add_peer_spki(t, key), 0); /* already pinned */
	memset(key, 0xee, sizeof(key));
	assert_int_equal(latch_token_add_peer_spki(t, key), -ENOSPC);
	assert_int_equal(latch_token_get_peer_spki(t, 5, got), 0);
	assert_int_equal(got[0], 5);
	assert_int_equal(latch_token_get_peer_spki(t, LATCH_TOKEN_SPKI_MAX, got), -ENOENT);
	latch_token_free(t);
}

static void dup_is_deep(void **state)
{
	latch_token *t = new_token(), *d = NULL;

	assert_int_equal(latch_token_set_peer_id(t, "a.example"), 0);
	assert_int_equal(latch_token_set_policy_name(t, "secure"), 0);
	assert_int_equal(latch_token_set_encrypt(t, LATCH_WANT_YES), 0);
	assert_int_equal(latch_token_dup(t, &d), 0);
	assert_int_equal(latch_token_set_peer_id(t, "other"), 0);
	latch_token_free(t);
	assert_string_equal(latch_token_get_peer_id(d), "a.example");
	assert_string_equal(latch_token_get_policy_name(d), "secure");
	assert_int_equal(latch_token_get_encrypt(d), LATCH_WANT_YES);
	latch_token_free(d);
}

static void peer_from_ident(void **state)
{
	latch_token *t = new_token();
	latch_ident *id = NULL;
	uint8_t key[LATCH_SHA256_LEN];
	char line[200];

	snprintf(line, sizeof(line), "latch-ident/1 auth=BTNS subject=O=BTNS,%%20CN=x spki=%064x",
		 0xab);
	assert_int_equal(latch_ident_from_string(line, &id), 0);
	assert_int_equal(latch_token_set_peer_id_pattern(t, "*"), 0);
	assert_int_equal(latch_token_set_peer_ident(t, id), 0);
	/* No IKE id: the subject names it; a BTNS peer is named by its key. */
	assert_string_equal(latch_token_get_peer_id(t), "O=BTNS, CN=x");
	assert_null(latch_token_get_peer_id_pattern(t));
	assert_null(latch_token_get_peer_ca(t));
	assert_int_equal(latch_token_get_peer_spki(t, 0, key), 0);
	assert_int_equal(key[31], 0xab);
	assert_int_equal(latch_token_get_flags(t), LATCH_TOKEN_PEER_BTNS);
	latch_ident_free(id);
	latch_token_free(t);
}

/* Golden bytes of a token on the wire: only what was said is sent. */
static void encode_golden(void **state)
{
	latch_token *t = new_token();
	uint8_t key[LATCH_SHA256_LEN];
	size_t len;
	uint8_t *want = unit_hex("0014 0010"				 /* PROTECTION, 20 bytes */
				 "  0005 0020 02 000000"		 /* ENCRYPT YES */
				 "  0005 0025 01 000000"		 /* EXACT */
				 "0040 0011"				 /* PEER, 64 bytes */
				 "  000e 0030 622e6578616d706c6500 0000" /* PEER_ID "b.example" */
				 "  0024 0033"				 /* SPKI */
				 "  11111111 11111111 11111111 11111111"
				 "  11111111 11111111 11111111 11111111"
				 "  0005 0034 01 000000", /* BTNS */
				 &len);
	struct buf b;

	memset(key, 0x11, sizeof(key));
	assert_int_equal(latch_token_set_encrypt(t, LATCH_WANT_YES), 0);
	assert_int_equal(latch_token_set_flags(t, LATCH_TOKEN_EXACT | LATCH_TOKEN_PEER_BTNS), 0);
	assert_int_equal(latch_token_set_peer_id(t, "b.example"), 0);
	assert_int_equal(latch_token_add_peer_spki(t, key), 0);
	buf_init(&b, IPC_MSG_MAX);
	token_encode(t, &b);
	unit_assert_bytes(b.data, b.len, want, len);

	/* No token: an empty PROTECTION, no PEER. */
	buf_reset(&b);
	token_encode(NULL, &b);
	unit_assert_bytes(b.data, b.len, "\x00\x04\x00\x10", 4);
	buf_free(&b);
	free(want);
	latch_token_free(t);
}

static void decode_round_trip(void **state)
{
	latch_token *t = new_token(), *back = NULL;
	struct wire_attrs prot;
	struct wire_msg m;
	char err[200];
	struct buf b;

	assert_int_equal(latch_token_set_integrity(t, LATCH_WANT_YES), 0);
	assert_int_equal(latch_token_set_mode(t, LATCH_MODE_TRANSPORT), 0);
	assert_int_equal(latch_token_set_min_bits(t, 128, 256), 0);
	assert_int_equal(latch_token_set_on_break(t, LATCH_ON_BREAK_WAIT), 0);
	assert_int_equal(latch_token_set_flags(t, LATCH_TOKEN_ALLOW_UNLATCHED), 0);
	assert_int_equal(latch_token_set_policy_name(t, "ospf"), 0);
	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, IPC_MSG_LATCH, 0, 1, 0);
	token_encode(t, &b);
	assert_int_equal(wire_end(&b), 0);
	if (wire_parse(b.data, b.len, WIRE_FROM_CLIENT, 1, &m, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(wire_get_nested(&m.attrs, IPC_A_PROTECTION, &prot), 0);
	assert_int_equal(token_decode(&prot, &back), 0);
	assert_int_equal(latch_token_get_integrity(back), LATCH_WANT_YES);
	assert_int_equal(latch_token_get_mode(back), LATCH_MODE_TRANSPORT);
	assert_int_equal(latch_token_get_on_break(back), LATCH_ON_BREAK_WAIT);
	assert_int_equal(latch_token_get_flags(back), LATCH_TOKEN_ALLOW_UNLATCHED);
	assert_string_equal(latch_token_get_policy_name(back), "ospf");
	assert_int_equal(back->encr_bits, 128);
	assert_int_equal(back->integ_bits, 256);
	buf_free(&b);
	latch_token_free(back);
	latch_token_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults),	 cmocka_unit_test(setters_and_ranges),
		cmocka_unit_test(strings),	 cmocka_unit_test(pinned_keys),
		cmocka_unit_test(dup_is_deep),	 cmocka_unit_test(peer_from_ident),
		cmocka_unit_test(encode_golden), cmocka_unit_test(decode_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
