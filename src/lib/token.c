/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "lib/internal.h"

/* The library's values are the wire's: one conversion less to get wrong. */
_Static_assert((int)LATCH_WANT_YES == (int)IPC_WANT_YES && (int)LATCH_WANT_NO == (int)IPC_WANT_NO,
	       "want");
_Static_assert((int)LATCH_MODE_TUNNEL == (int)IPC_MODE_TUNNEL, "mode");
_Static_assert((int)LATCH_ON_BREAK_WAIT == (int)IPC_ON_BREAK_WAIT, "on_break");

/*
 * Strings go to latchd, which refuses control bytes (they could forge log
 * lines); refusing them here gives the caller -EINVAL at the setter instead
 * of a failed connect later.
 */
int str_check(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n]; n++) {
		if ((unsigned char)s[n] < 0x20 || s[n] == 0x7f)
			return -EINVAL;
	}
	return n > max ? -EINVAL : 0;
}

int str_set(char **dst, const char *s, size_t max)
{
	char *copy = NULL;

	if (s) {
		if (str_check(s, max) < 0)
			return -EINVAL;
		copy = strdup(s);
		if (!copy)
			return -ENOMEM;
	}
	free(*dst);
	*dst = copy;
	return 0;
}

void token_init(struct latch_token *tok)
{
	memset(tok, 0, sizeof(*tok));
}

void token_clear(struct latch_token *tok)
{
	free(tok->policy_name);
	free(tok->peer_id);
	free(tok->peer_pattern);
	free(tok->peer_ca);
	token_init(tok);
}

LATCH_EXPORT int latch_token_new(latch_token **ret)
{
	struct latch_token *tok;

	if (!ret)
		return ret_errno(-EINVAL);
	tok = malloc(sizeof(*tok));
	if (!tok)
		return ret_errno(-ENOMEM);
	token_init(tok);
	*ret = tok;
	return 0;
}

LATCH_EXPORT void latch_token_free(latch_token *tok)
{
	if (!tok)
		return;
	token_clear(tok);
	free(tok);
}

int dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (src && !(*dst = strdup(src)))
		return -ENOMEM;
	return 0;
}

LATCH_EXPORT int latch_token_dup(const latch_token *tok, latch_token **ret)
{
	struct latch_token *t;

	if (!tok || !ret)
		return ret_errno(-EINVAL);
	t = malloc(sizeof(*t));
	if (!t)
		return ret_errno(-ENOMEM);
	*t = *tok;
	/* none of the source's strings, or freeing a half-made copy would free them */
	t->policy_name = t->peer_id = t->peer_pattern = t->peer_ca = NULL;
	if (dup_str(&t->policy_name, tok->policy_name) < 0 ||
	    dup_str(&t->peer_id, tok->peer_id) < 0 ||
	    dup_str(&t->peer_pattern, tok->peer_pattern) < 0 ||
	    dup_str(&t->peer_ca, tok->peer_ca) < 0) {
		latch_token_free(t);
		return ret_errno(-ENOMEM);
	}
	*ret = t;
	return 0;
}

static int set_u8(latch_token *tok, uint8_t *field, int v, int lo, int hi)
{
	if (!tok || v < lo || v > hi)
		return ret_errno(-EINVAL);
	*field = (uint8_t)v;
	return 0;
}

LATCH_EXPORT int latch_token_set_encrypt(latch_token *tok, int want)
{
	return set_u8(tok, tok ? &tok->encrypt : NULL, want, LATCH_WANT_ANY, LATCH_WANT_YES);
}

LATCH_EXPORT int latch_token_set_integrity(latch_token *tok, int want)
{
	return set_u8(tok, tok ? &tok->integrity : NULL, want, LATCH_WANT_ANY, LATCH_WANT_YES);
}

LATCH_EXPORT int latch_token_set_mode(latch_token *tok, int mode)
{
	return set_u8(tok, tok ? &tok->mode : NULL, mode, LATCH_MODE_ANY, LATCH_MODE_TUNNEL);
}

LATCH_EXPORT int latch_token_set_on_break(latch_token *tok, int on_break)
{
	return set_u8(tok, tok ? &tok->on_break : NULL, on_break, LATCH_ON_BREAK_RESET,
		      LATCH_ON_BREAK_WAIT);
}

LATCH_EXPORT int latch_token_set_min_bits(latch_token *tok, unsigned encr_bits, unsigned integ_bits)
{
	if (!tok || encr_bits > UINT16_MAX || integ_bits > UINT16_MAX)
		return ret_errno(-EINVAL);
	tok->encr_bits = (uint16_t)encr_bits;
	tok->integ_bits = (uint16_t)integ_bits;
	return 0;
}

LATCH_EXPORT int latch_token_set_flags(latch_token *tok, unsigned flags)
{
	if (!tok || (flags & ~LATCH_TOKEN_FLAGS_ALL))
		return ret_errno(-EINVAL);
	tok->flags = flags;
	return 0;
}

static int set_str(latch_token *tok, char **field, const char *s, size_t max)
{
	if (!tok)
		return ret_errno(-EINVAL);
	return ret_errno(str_set(field, s, max));
}

LATCH_EXPORT int latch_token_set_policy_name(latch_token *tok, const char *name)
{
	return set_str(tok, tok ? &tok->policy_name : NULL, name, IPC_NAME_MAX);
}

LATCH_EXPORT int latch_token_set_peer_id(latch_token *tok, const char *id)
{
	return set_str(tok, tok ? &tok->peer_id : NULL, id, IPC_DN_MAX);
}

LATCH_EXPORT int latch_token_set_peer_id_pattern(latch_token *tok, const char *pattern)
{
	return set_str(tok, tok ? &tok->peer_pattern : NULL, pattern, IPC_DN_MAX);
}

LATCH_EXPORT int latch_token_set_peer_ca(latch_token *tok, const char *dn)
{
	return set_str(tok, tok ? &tok->peer_ca : NULL, dn, IPC_DN_MAX);
}

LATCH_EXPORT int latch_token_add_peer_spki(latch_token *tok, const uint8_t sha256[LATCH_SHA256_LEN])
{
	if (!tok || !sha256)
		return ret_errno(-EINVAL);
	for (unsigned i = 0; i < tok->n_spki; i++) {
		if (!memcmp(tok->spki[i], sha256, LATCH_SHA256_LEN))
			return 0; /* a set: pinning a key twice pins it once */
	}
	if (tok->n_spki == LATCH_TOKEN_SPKI_MAX)
		return ret_errno(-ENOSPC);
	memcpy(tok->spki[tok->n_spki++], sha256, LATCH_SHA256_LEN);
	return 0;
}

/* Build the new constraints aside, so that a failure leaves tok as it was. */
LATCH_EXPORT int latch_token_set_peer_ident(latch_token *tok, const latch_ident *peer)
{
	const char *name;
	char *id = NULL, *ca = NULL;

	if (!tok || !peer)
		return ret_errno(-EINVAL);
	name = peer->id ? peer->id : peer->subject;
	if (dup_str(&id, name) < 0 || dup_str(&ca, peer->issuer) < 0) {
		free(id);
		return ret_errno(-ENOMEM);
	}
	free(tok->peer_id);
	free(tok->peer_pattern);
	free(tok->peer_ca);
	tok->peer_id = id;
	tok->peer_pattern = NULL;
	tok->peer_ca = ca;
	tok->n_spki = 0;
	if (peer->has_spki)
		memcpy(tok->spki[tok->n_spki++], peer->spki, LATCH_SHA256_LEN);
	tok->flags &= ~(LATCH_TOKEN_PEER_BTNS | LATCH_TOKEN_LEAP_OF_FAITH);
	if (peer->auth == LATCH_AUTH_BTNS || peer->auth == LATCH_AUTH_LEAP_OF_FAITH)
		tok->flags |= LATCH_TOKEN_PEER_BTNS;
	return 0;
}

LATCH_EXPORT int latch_token_get_encrypt(const latch_token *tok)
{
	return tok ? tok->encrypt : ret_errno(-EINVAL);
}

LATCH_EXPORT int latch_token_get_integrity(const latch_token *tok)
{
	return tok ? tok->integrity : ret_errno(-EINVAL);
}

LATCH_EXPORT int latch_token_get_mode(const latch_token *tok)
{
	return tok ? tok->mode : ret_errno(-EINVAL);
}

LATCH_EXPORT int latch_token_get_on_break(const latch_token *tok)
{
	if (!tok)
		return ret_errno(-EINVAL);
	return tok->on_break ? tok->on_break : LATCH_ON_BREAK_RESET;
}

LATCH_EXPORT int latch_token_get_flags(const latch_token *tok)
{
	return tok ? (int)tok->flags : ret_errno(-EINVAL);
}

LATCH_EXPORT int latch_token_get_min_bits(const latch_token *tok, unsigned *ret_encr,
					  unsigned *ret_integ)
{
	if (!tok)
		return ret_errno(-EINVAL);
	if (ret_encr)
		*ret_encr = tok->encr_bits;
	if (ret_integ)
		*ret_integ = tok->integ_bits;
	return 0;
}

LATCH_EXPORT const char *latch_token_get_policy_name(const latch_token *tok)
{
	return tok ? tok->policy_name : NULL;
}

LATCH_EXPORT const char *latch_token_get_peer_id(const latch_token *tok)
{
	return tok ? tok->peer_id : NULL;
}

LATCH_EXPORT const char *latch_token_get_peer_id_pattern(const latch_token *tok)
{
	return tok ? tok->peer_pattern : NULL;
}

LATCH_EXPORT const char *latch_token_get_peer_ca(const latch_token *tok)
{
	return tok ? tok->peer_ca : NULL;
}

LATCH_EXPORT int latch_token_get_peer_spki(const latch_token *tok, unsigned i,
					   uint8_t ret[LATCH_SHA256_LEN])
{
	if (!tok || !ret)
		return ret_errno(-EINVAL);
	if (i >= tok->n_spki)
		return ret_errno(-ENOENT);
	memcpy(ret, tok->spki[i], LATCH_SHA256_LEN);
	return 0;
}

/* Wire form: only what was said, so latchd applies its defaults to the rest. */
static void encode_protection(const struct latch_token *t, struct buf *b)
{
	size_t nest = wire_nest_begin(b, IPC_A_PROTECTION);

	if (t->encrypt)
		wire_put_u8(b, IPC_A_PROT_ENCRYPT, t->encrypt);
	if (t->integrity)
		wire_put_u8(b, IPC_A_PROT_INTEGRITY, t->integrity);
	if (t->mode)
		wire_put_u8(b, IPC_A_PROT_MODE, t->mode);
	if (t->encr_bits)
		wire_put_u16(b, IPC_A_PROT_ENCR_MIN_BITS, t->encr_bits);
	if (t->integ_bits)
		wire_put_u16(b, IPC_A_PROT_INTEG_MIN_BITS, t->integ_bits);
	if (t->flags & LATCH_TOKEN_EXACT)
		wire_put_u8(b, IPC_A_PROT_EXACT, 1);
	if (t->flags & LATCH_TOKEN_ALLOW_UNLATCHED)
		wire_put_u8(b, IPC_A_PROT_ALLOW_UNLATCHED, 1);
	if (t->on_break)
		wire_put_u8(b, IPC_A_PROT_ON_BREAK, t->on_break);
	if (t->policy_name)
		wire_put_str(b, IPC_A_PROT_POLICY_NAME, t->policy_name);
	wire_nest_end(b, nest);
}

static bool has_peer(const struct latch_token *t)
{
	return t->peer_id || t->peer_pattern || t->peer_ca || t->n_spki ||
	       (t->flags & (LATCH_TOKEN_PEER_BTNS | LATCH_TOKEN_LEAP_OF_FAITH));
}

static void encode_peer(const struct latch_token *t, struct buf *b)
{
	size_t nest = wire_nest_begin(b, IPC_A_PEER);

	if (t->peer_id)
		wire_put_str(b, IPC_A_PEER_ID, t->peer_id);
	if (t->peer_pattern)
		wire_put_str(b, IPC_A_PEER_ID_PATTERN, t->peer_pattern);
	if (t->peer_ca)
		wire_put_str(b, IPC_A_PEER_CA_DN, t->peer_ca);
	for (unsigned i = 0; i < t->n_spki; i++)
		wire_put_bytes(b, IPC_A_PEER_SPKI_SHA256, t->spki[i], LATCH_SHA256_LEN);
	if (t->flags & LATCH_TOKEN_PEER_BTNS)
		wire_put_u8(b, IPC_A_PEER_BTNS, 1);
	if (t->flags & LATCH_TOKEN_LEAP_OF_FAITH)
		wire_put_u8(b, IPC_A_PEER_LEAP_OF_FAITH, 1);
	wire_nest_end(b, nest);
}

void token_encode(const struct latch_token *tok, struct buf *b)
{
	struct latch_token def;

	if (!tok) {
		token_init(&def);
		tok = &def;
	}
	encode_protection(tok, b);
	if (has_peer(tok))
		encode_peer(tok, b);
}

static void decode_flag(const struct wire_attrs *a, uint16_t type, unsigned bit, unsigned *flags)
{
	uint8_t v;

	if (wire_get_u8(a, type, &v) == 0 && v)
		*flags |= bit;
}

/* The latched PROTECTION of a reply (the codec has checked every range). */
int token_decode(const struct wire_attrs *a, struct latch_token **ret)
{
	struct latch_token *t;
	const char *name;
	int r;

	r = latch_token_new(&t);
	if (r < 0)
		return r;
	(void)wire_get_u8(a, IPC_A_PROT_ENCRYPT, &t->encrypt);
	(void)wire_get_u8(a, IPC_A_PROT_INTEGRITY, &t->integrity);
	(void)wire_get_u8(a, IPC_A_PROT_MODE, &t->mode);
	(void)wire_get_u8(a, IPC_A_PROT_ON_BREAK, &t->on_break);
	(void)wire_get_u16(a, IPC_A_PROT_ENCR_MIN_BITS, &t->encr_bits);
	(void)wire_get_u16(a, IPC_A_PROT_INTEG_MIN_BITS, &t->integ_bits);
	decode_flag(a, IPC_A_PROT_EXACT, LATCH_TOKEN_EXACT, &t->flags);
	decode_flag(a, IPC_A_PROT_ALLOW_UNLATCHED, LATCH_TOKEN_ALLOW_UNLATCHED, &t->flags);
	if (wire_get_str(a, IPC_A_PROT_POLICY_NAME, &name) == 0 &&
	    !(t->policy_name = strdup(name))) {
		latch_token_free(t);
		return -ENOMEM;
	}
	*ret = t;
	return 0;
}
