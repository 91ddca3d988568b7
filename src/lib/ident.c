/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/internal.h"
#include "shared/text.h"

_Static_assert((int)LATCH_AUTH_PKIX_OFFLINE == (int)IPC_AUTH_PKIX_OFFLINE, "auth");

#define IDENT_MAGIC "latch-ident/1"

static const char *const auth_names[] = {
	[LATCH_AUTH_NONE] = "NONE",
	[LATCH_AUTH_BTNS] = "BTNS",
	[LATCH_AUTH_LEAP_OF_FAITH] = "LEAPOFFAITH",
	[LATCH_AUTH_PSK] = "PRESHAREDKEY",
	[LATCH_AUTH_GROUP_KEY] = "GROUPKEY",
	[LATCH_AUTH_XAUTH] = "XAUTH",
	[LATCH_AUTH_EAP] = "EAP",
	[LATCH_AUTH_PKIX_TRUSTED] = "PKIX_TRUSTED",
	[LATCH_AUTH_PKIX_INLINE] = "PKIX_INLINE",
	[LATCH_AUTH_PKIX_OFFLINE] = "PKIX_OFFLINE",
};
#define AUTH_COUNT (int)(sizeof(auth_names) / sizeof(auth_names[0]))

LATCH_EXPORT const char *latch_auth_name(int auth)
{
	return auth >= 0 && auth < AUTH_COUNT ? auth_names[auth] : NULL;
}

int ident_new(struct latch_ident **ret)
{
	struct latch_ident *id = calloc(1, sizeof(*id));

	if (!id)
		return -ENOMEM;
	id->auth = -1;
	*ret = id;
	return 0;
}

LATCH_EXPORT void latch_ident_free(latch_ident *ident)
{
	if (!ident)
		return;
	free(ident->id);
	free(ident->subject);
	free(ident->issuer);
	free(ident->audit);
	free(ident->der);
	free(ident);
}

static int copy_str(char **dst, const char *src)
{
	if (src && !(*dst = strdup(src)))
		return -ENOMEM;
	return 0;
}

LATCH_EXPORT int latch_ident_dup(const latch_ident *ident, latch_ident **ret)
{
	struct latch_ident *c;

	if (!ident || !ret)
		return ret_errno(-EINVAL);
	c = malloc(sizeof(*c));
	if (!c)
		return ret_errno(-ENOMEM);
	*c = *ident;
	c->id = c->subject = c->issuer = c->audit = NULL;
	c->der = NULL;
	if (copy_str(&c->id, ident->id) < 0 || copy_str(&c->subject, ident->subject) < 0 ||
	    copy_str(&c->issuer, ident->issuer) < 0 || copy_str(&c->audit, ident->audit) < 0 ||
	    (ident->der && !(c->der = malloc(ident->der_len)))) {
		latch_ident_free(c);
		return ret_errno(-ENOMEM);
	}
	if (c->der)
		memcpy(c->der, ident->der, ident->der_len);
	*ret = c;
	return 0;
}

LATCH_EXPORT int latch_ident_get_cert_der(const latch_ident *ident, unsigned i, const void **ret,
					  size_t *ret_len)
{
	if (!ident || !ret || !ret_len)
		return ret_errno(-EINVAL);
	if (!ident->der)
		return ret_errno(-ENODATA);
	if (i > 0)
		return ret_errno(-ENOENT); /* the chain is not carried (latch(3)) */
	*ret = ident->der;
	*ret_len = ident->der_len;
	return 0;
}

LATCH_EXPORT const char *latch_ident_get_id(const latch_ident *ident)
{
	return ident ? ident->id : NULL;
}

LATCH_EXPORT const char *latch_ident_get_subject(const latch_ident *ident)
{
	return ident ? ident->subject : NULL;
}

LATCH_EXPORT const char *latch_ident_get_issuer(const latch_ident *ident)
{
	return ident ? ident->issuer : NULL;
}

LATCH_EXPORT const char *latch_ident_get_audit(const latch_ident *ident)
{
	return ident ? ident->audit : NULL;
}

LATCH_EXPORT int latch_ident_get_auth(const latch_ident *ident)
{
	if (!ident)
		return ret_errno(-EINVAL);
	return ident->auth < 0 ? ret_errno(-ENODATA) : ident->auth;
}

LATCH_EXPORT int latch_ident_get_pubkey_id(const latch_ident *ident, uint8_t ret[LATCH_SHA256_LEN])
{
	if (!ident || !ret)
		return ret_errno(-EINVAL);
	if (!ident->has_spki)
		return ret_errno(-ENODATA);
	memcpy(ret, ident->spki, LATCH_SHA256_LEN);
	return 0;
}

LATCH_EXPORT int latch_ident_get_channel_binding(const latch_ident *ident, unsigned flags,
						 void *buf, size_t len)
{
	size_t need = flags & LATCH_CB_EXPORT ? LATCH_CB_EXPORT_LEN : LATCH_CB_LEN;
	uint8_t *p = buf;

	if (!ident || !buf || (flags & ~LATCH_CB_EXPORT))
		return ret_errno(-EINVAL);
	if (!ident->has_cb)
		return ret_errno(-ENODATA);
	if (len < need)
		return ret_errno(-ERANGE);
	if (flags & LATCH_CB_EXPORT) {
		memcpy(p, LATCH_CB_TYPE ":", sizeof(LATCH_CB_TYPE));
		p += sizeof(LATCH_CB_TYPE);
	}
	memcpy(p, ident->cb, LATCH_CB_LEN);
	return (int)need;
}

int cb_from_wire(const uint8_t *p, size_t n, uint8_t ret[LATCH_CB_LEN])
{
	static const char prefix[] = LATCH_CB_TYPE ":";
	size_t plen = sizeof(prefix) - 1;

	if (n == LATCH_CB_EXPORT_LEN && !memcmp(p, prefix, plen))
		p += plen, n -= plen;
	if (n != LATCH_CB_LEN)
		return -EBADMSG; /* another binding type: not one this library can name */
	memcpy(ret, p, LATCH_CB_LEN);
	return 0;
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

LATCH_EXPORT int latch_ident_same_peer(const latch_ident *a, const latch_ident *b)
{
	if (!a || !b)
		return 0;
	return str_eq(a->id, b->id) && a->auth == b->auth && str_eq(a->subject, b->subject) &&
	       str_eq(a->issuer, b->issuer) && a->has_spki == b->has_spki &&
	       (!a->has_spki || !memcmp(a->spki, b->spki, LATCH_SHA256_LEN));
}

/* What latchd says of a peer is data: cleaned (shared/text.h) before the application sees it. */
static int decode_str(const struct wire_attrs *a, uint16_t type, char **dst)
{
	const char *s;

	if (wire_get_str(a, type, &s) < 0)
		return 0;
	*dst = text_dup(s);
	return *dst ? 0 : -ENOMEM;
}

int ident_decode(const struct wire_attrs *a, struct latch_ident **ret)
{
	struct latch_ident *id;
	const uint8_t *p;
	uint16_t auth;
	size_t n;
	int r;

	r = ident_new(&id);
	if (r < 0)
		return r;
	if (wire_get_u16(a, IPC_A_IDENT_AUTH_METHOD, &auth) == 0)
		id->auth = auth;
	if (wire_get_bytes(a, IPC_A_IDENT_SPKI_SHA256, &p, &n) == 0 && n == LATCH_SHA256_LEN) {
		memcpy(id->spki, p, n);
		id->has_spki = true;
	}
	if (decode_str(a, IPC_A_IDENT_ID, &id->id) < 0 ||
	    decode_str(a, IPC_A_IDENT_CERT_SUBJECT, &id->subject) < 0 ||
	    decode_str(a, IPC_A_IDENT_CERT_ISSUER, &id->issuer) < 0 ||
	    decode_str(a, IPC_A_IDENT_AUDIT, &id->audit) < 0) {
		latch_ident_free(id);
		return -ENOMEM;
	}
	*ret = id;
	return 0;
}

/* Serialization: see latch.h and latch(3). */

static bool plain(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '%';
}

static void put_escaped(struct buf *b, const char *key, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";

	buf_put_u8(b, ' ');
	buf_put(b, key, strlen(key));
	buf_put_u8(b, '=');
	for (const unsigned char *s = (const unsigned char *)v; *s; s++) {
		if (plain(*s)) {
			buf_put_u8(b, *s);
			continue;
		}
		buf_put_u8(b, '%');
		buf_put_u8(b, (uint8_t)hex[*s >> 4]);
		buf_put_u8(b, (uint8_t)hex[*s & 15]);
	}
}

static void put_hex(struct buf *b, const char *key, const uint8_t *p, size_t n)
{
	char h[3];

	buf_put_u8(b, ' ');
	buf_put(b, key, strlen(key));
	buf_put_u8(b, '=');
	for (size_t i = 0; i < n; i++) {
		snprintf(h, sizeof(h), "%02x", p[i]);
		buf_put(b, h, 2);
	}
}

LATCH_EXPORT int latch_ident_to_string(const latch_ident *ident, char **ret)
{
	struct buf b;

	if (!ident || !ret)
		return ret_errno(-EINVAL);
	buf_init(&b, 0);
	buf_put(&b, IDENT_MAGIC, strlen(IDENT_MAGIC));
	if (ident->id)
		put_escaped(&b, "id", ident->id);
	if (latch_auth_name(ident->auth))
		put_escaped(&b, "auth", latch_auth_name(ident->auth));
	if (ident->subject)
		put_escaped(&b, "subject", ident->subject);
	if (ident->issuer)
		put_escaped(&b, "issuer", ident->issuer);
	if (ident->has_spki)
		put_hex(&b, "spki", ident->spki, LATCH_SHA256_LEN);
	if (ident->has_cb)
		put_hex(&b, "cb", ident->cb, LATCH_CB_LEN);
	if (ident->audit)
		put_escaped(&b, "audit", ident->audit);
	buf_put_u8(&b, 0);
	if (b.err) {
		buf_free(&b);
		return ret_errno(-ENOMEM);
	}
	*ret = (char *)b.data;
	return 0;
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Undo put_escaped() on [v, end): only uppercase %XX, only for bytes that
 * must be escaped, so every identity has exactly one text form. The result
 * must be a string latchd would accept (no control bytes).
 */
static int unescape(const char *v, const char *end, size_t max, char **ret)
{
	char *out = malloc((size_t)(end - v) + 1), *o = out;
	int hi, lo;

	if (!out)
		return -ENOMEM;
	for (; v < end; v++) {
		if (*v != '%') {
			*o++ = *v;
			continue;
		}
		if (end - v < 3 || (hi = nibble(v[1])) < 0 || (lo = nibble(v[2])) < 0 ||
		    plain((unsigned char)(hi << 4 | lo)) || (hi << 4 | lo) < 0x20 ||
		    (hi << 4 | lo) == 0x7f)
			goto bad;
		*o++ = (char)(hi << 4 | lo);
		v += 2;
	}
	*o = 0;
	if ((size_t)(o - out) > max)
		goto bad;
	*ret = out;
	return 0;
bad:
	free(out);
	return -EINVAL;
}

static int unhex(const char *v, const char *end, uint8_t *out, size_t n)
{
	static const char lower[] = "0123456789abcdef";

	if ((size_t)(end - v) != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		const char *h = memchr(lower, v[2 * i], 16), *l = memchr(lower, v[2 * i + 1], 16);

		if (!h || !l)
			return -EINVAL;
		out[i] = (uint8_t)((h - lower) << 4 | (l - lower));
	}
	return 0;
}

static int parse_auth(const char *v, const char *end)
{
	for (int i = 0; i < AUTH_COUNT; i++) {
		if (strlen(auth_names[i]) == (size_t)(end - v) &&
		    !memcmp(auth_names[i], v, end - v))
			return i;
	}
	return -EINVAL;
}

/* Fields in their one order; a field's index must grow along the line. */
static const char *const fields[] = { "id", "auth", "subject", "issuer", "spki", "cb", "audit" };
#define FIELD_COUNT (int)(sizeof(fields) / sizeof(fields[0]))

static int parse_field(struct latch_ident *id, int f, const char *v, const char *end)
{
	switch (f) {
	case 0:
		return unescape(v, end, IPC_DN_MAX, &id->id);
	case 1:
		id->auth = parse_auth(v, end);
		return id->auth < 0 ? -EINVAL : 0;
	case 2:
		return unescape(v, end, IPC_DN_MAX, &id->subject);
	case 3:
		return unescape(v, end, IPC_DN_MAX, &id->issuer);
	case 4:
		id->has_spki = true;
		return unhex(v, end, id->spki, LATCH_SHA256_LEN);
	case 5:
		id->has_cb = true;
		return unhex(v, end, id->cb, LATCH_CB_LEN);
	default:
		return unescape(v, end, IPC_MESSAGE_MAX, &id->audit);
	}
}

static int field_index(const char *key, size_t n)
{
	for (int f = 0; f < FIELD_COUNT; f++) {
		if (strlen(fields[f]) == n && !memcmp(fields[f], key, n))
			return f;
	}
	return -1;
}

static int parse_fields(struct latch_ident *id, const char *s)
{
	int last = -1;

	while (*s) {
		const char *eq, *end;
		int f, r;

		if (*s++ != ' ')
			return -EINVAL;
		end = s + strcspn(s, " ");
		eq = memchr(s, '=', (size_t)(end - s));
		if (!eq)
			return -EINVAL;
		f = field_index(s, (size_t)(eq - s));
		if (f <= last)
			return -EINVAL; /* unknown, repeated or out of order */
		r = parse_field(id, f, eq + 1, end);
		if (r < 0)
			return r;
		last = f;
		s = end;
	}
	return 0;
}

LATCH_EXPORT int latch_ident_from_string(const char *s, latch_ident **ret)
{
	size_t mlen = strlen(IDENT_MAGIC);
	struct latch_ident *id;
	int r;

	if (!s || !ret)
		return ret_errno(-EINVAL);
	if (strncmp(s, IDENT_MAGIC, mlen) || (s[mlen] && s[mlen] != ' '))
		return ret_errno(-EINVAL);
	r = ident_new(&id);
	if (r < 0)
		return ret_errno(r);
	r = parse_fields(id, s + mlen);
	if (r < 0) {
		latch_ident_free(id);
		return ret_errno(r);
	}
	*ret = id;
	return 0;
}
