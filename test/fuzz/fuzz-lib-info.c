/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for liblatch's side of latchd's replies and events
 * (src/lib/info.c, ident.c, token.c): the input is one packet from latchd,
 * validated by the codec as liblatch receives it (the first byte says how
 * many descriptors came with it), then decoded into latch info and read
 * through every public getter, as an application would. Properties, each
 * by abort(): getters answer within their documented ranges; an identity
 * that prints as a string reads back from it to the same string
 * (latch.h: from_string(to_string(x)) equals x).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/internal.h"
#include "shared/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_ident(const latch_ident *id)
{
	uint8_t spki[LATCH_SHA256_LEN], cb[256];
	latch_ident *back;
	char *s, *t;

	if (!id)
		return;
	(void)latch_ident_get_id(id);
	(void)latch_ident_get_subject(id);
	(void)latch_ident_get_issuer(id);
	(void)latch_ident_get_audit(id);
	(void)latch_ident_get_auth(id);
	(void)latch_ident_get_pubkey_id(id, spki);
	(void)latch_ident_get_channel_binding(id, 0, cb, sizeof(cb));
	if (latch_ident_to_string(id, &s) < 0)
		return;
	if (latch_ident_from_string(s, &back) < 0 || latch_ident_to_string(back, &t) < 0 ||
	    strcmp(s, t) != 0)
		abort();
	free(s);
	free(t);
	latch_ident_free(back);
}

static void check_token(const latch_token *tok)
{
	unsigned e, i;
	uint8_t spki[LATCH_SHA256_LEN];

	if (!tok)
		return;
	(void)latch_token_get_encrypt(tok);
	(void)latch_token_get_integrity(tok);
	(void)latch_token_get_mode(tok);
	(void)latch_token_get_on_break(tok);
	(void)latch_token_get_flags(tok);
	(void)latch_token_get_min_bits(tok, &e, &i);
	(void)latch_token_get_policy_name(tok);
	(void)latch_token_get_peer_id(tok);
	(void)latch_token_get_peer_id_pattern(tok);
	(void)latch_token_get_peer_ca(tok);
	for (unsigned k = 0; latch_token_get_peer_spki(tok, k, spki) == 0; k++)
		;
}

/* An end without an address reads as AF_UNSPEC. */
static bool family_ok(sa_family_t f)
{
	return f == AF_UNSPEC || f == AF_INET || f == AF_INET6;
}

static void check_info(const latch_info *info)
{
	struct sockaddr_storage l, r;
	uint32_t ids[3];
	int proto;

	(void)latch_info_get_id(info);
	(void)latch_info_get_state(info);
	(void)latch_info_get_reason(info);
	(void)latch_info_get_message(info);
	if (latch_info_get_tuple(info, &proto, &l, &r) == 0 &&
	    (!family_ok(l.ss_family) || !family_ok(r.ss_family) ||
	     (l.ss_family && r.ss_family && l.ss_family != r.ss_family)))
		abort();
	(void)latch_info_get_sa_shared(info);
	(void)latch_info_get_sa_mode(info);
	(void)latch_info_get_sa_encr_alg(info);
	(void)latch_info_get_sa_integ_alg(info);
	(void)latch_info_get_sa_ids(info, &ids[0], &ids[1], &ids[2]);
	check_ident(latch_info_get_remote(info));
	check_ident(latch_info_get_local(info));
	check_token(latch_info_get_protection(info));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	latch_info *info, *copy;
	char err[256];
	struct wire_msg m;

	if (size < 1 ||
	    wire_parse(data + 1, size - 1, WIRE_FROM_DAEMON, data[0] & 1, &m, err, sizeof(err)) < 0)
		return 0;
	if (info_decode(&m, &info) < 0)
		return 0;
	check_info(info);
	if (info_dup(info, &copy) == 0) {
		check_info(copy);
		latch_info_free(copy);
	}
	latch_info_free(info);
	return 0;
}
