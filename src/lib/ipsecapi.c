/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/draft.h"

#define METH_BASE IPSEC_API_ATTR_authMeth_NONE

/*
 * The last failure's explanation, per thread like errno: set by
 * draft_explain() on the way to a failure, else strerror() of it.
 */
static __thread char explanation[IPC_MESSAGE_MAX + 1];
static __thread bool explained;

void draft_explain(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(explanation, sizeof(explanation), fmt, ap);
	va_end(ap);
	explained = true;
}

LATCH_EXPORT const char *ipsec_last_error(void)
{
	return explanation;
}

int draft_ret(int r)
{
	if (r >= 0) {
		explained = false;
		return 0;
	}
	if (!explained)
		snprintf(explanation, sizeof(explanation), "%s", strerror(-r));
	explained = false;
	errno = -r;
	return -1;
}

int itoken_new(struct latch_ident *ident, bool obtained, struct ipsec_iToken **ret)
{
	struct ipsec_iToken *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->magic = ITOKEN_MAGIC;
	t->ident = ident;
	t->obtained = obtained;
	for (int m = 0; m < METH_COUNT; m++) {
		if (!obtained)
			t->meth[m] = IPSEC_API_ATTR_ANY;
		else
			t->meth[m] = ident && ident->auth == m ? IPSEC_API_ATTR_ENABLE
							       : IPSEC_API_ATTR_DISABLE;
	}
	*ret = t;
	return 0;
}

LATCH_EXPORT ipsec_iToken_t ipsec_create_iToken(void)
{
	struct ipsec_iToken *t;
	int r = itoken_new(NULL, false, &t);

	if (r < 0) {
		errno = -r;
		return NULL;
	}
	return t;
}

LATCH_EXPORT int ipsec_free_iToken(ipsec_iToken_t p)
{
	if (!p)
		return 0;
	if (p->magic != ITOKEN_MAGIC)
		return draft_ret(-EINVAL);
	latch_ident_free(p->ident);
	p->magic = 0;
	free(p);
	return 0;
}

static int itoken_dup(const struct ipsec_iToken *t, struct ipsec_iToken **ret)
{
	struct latch_ident *id = NULL;
	int r;

	if (t->ident && (r = latch_ident_dup(t->ident, &id)) < 0)
		return r;
	r = itoken_new(id, t->obtained, ret);
	if (r < 0) {
		latch_ident_free(id);
		return r;
	}
	memcpy((*ret)->meth, t->meth, sizeof(t->meth));
	return 0;
}

static void ptoken_init(struct ipsec_pToken *p)
{
	memset(p, 0, sizeof(*p));
	p->magic = PTOKEN_MAGIC;
	token_init(&p->tok);
}

void ptoken_reset(struct ipsec_pToken *p)
{
	token_clear(&p->tok);
	(void)ipsec_free_iToken(p->peer);
	(void)ipsec_free_iToken(p->local);
	free(p->audit);
	free(p->info);
	ptoken_init(p);
}

LATCH_EXPORT ipsec_pToken_t ipsec_create_pToken(void)
{
	struct ipsec_pToken *p = malloc(sizeof(*p));

	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	ptoken_init(p);
	return p;
}

LATCH_EXPORT int ipsec_free_pToken(ipsec_pToken_t p)
{
	if (!p)
		return 0;
	if (p->magic != PTOKEN_MAGIC)
		return draft_ret(-EINVAL);
	ptoken_reset(p);
	p->magic = 0;
	free(p);
	return 0;
}

static int dup_opt(char **dst, const char *src)
{
	*dst = NULL;
	return src && !(*dst = strdup(src)) ? -ENOMEM : 0;
}

static int ptoken_copy(struct ipsec_pToken *d, const struct ipsec_pToken *s)
{
	latch_token *t;
	int r;

	r = latch_token_dup(&s->tok, &t);
	if (r < 0)
		return r;
	d->tok = *t;
	free(t); /* its strings now belong to d->tok */
	d->obtained = s->obtained;
	d->privacy = s->privacy, d->integrity = s->integrity, d->compress = s->compress;
	d->tunnel = s->tunnel, d->ipopts = s->ipopts;
	if ((s->peer && (r = itoken_dup(s->peer, &d->peer)) < 0) ||
	    (s->local && (r = itoken_dup(s->local, &d->local)) < 0))
		return r;
	if (dup_opt(&d->audit, s->audit) < 0 || dup_opt(&d->info, s->info) < 0)
		return -ENOMEM;
	return 0;
}

LATCH_EXPORT int ipsec_dup_pToken(const ipsec_pToken_t p, ipsec_pToken_t *p_dup)
{
	struct ipsec_pToken *d;
	int r;

	if (!p || p->magic != PTOKEN_MAGIC || !p_dup)
		return draft_ret(-EINVAL);
	d = ipsec_create_pToken();
	if (!d)
		return -1;
	r = ptoken_copy(d, p);
	if (r < 0) {
		ipsec_free_pToken(d);
		return draft_ret(r);
	}
	*p_dup = d;
	return 0;
}

/* ---- values in and out ---- */

static int get_u16(uint16_t v, uint32_t *len, void *val)
{
	if (*len < sizeof(v)) {
		*len = sizeof(v);
		return -ERANGE;
	}
	memcpy(val, &v, sizeof(v));
	*len = sizeof(v);
	return 0;
}

static int get_bytes(const void *p, size_t n, uint32_t *len, void *val)
{
	if (!p)
		return -ENODATA;
	if (*len < n) {
		*len = (uint32_t)n;
		return -ERANGE;
	}
	memcpy(val, p, n);
	*len = (uint32_t)n;
	return 0;
}

static int get_str(const char *s, uint32_t *len, void *val)
{
	return get_bytes(s, s ? strlen(s) + 1 : 0, len, val);
}

static int set_u16(uint32_t len, const void *val, uint16_t max, uint16_t *ret)
{
	uint16_t v;

	if (len != sizeof(v))
		return -EINVAL;
	memcpy(&v, val, sizeof(v));
	if (v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int get_itoken(const struct ipsec_iToken *t, uint32_t *len, void *val)
{
	struct ipsec_iToken *copy;
	int r;

	if (!t)
		return -ENODATA;
	if (*len < sizeof(copy)) {
		*len = sizeof(copy);
		return -ERANGE;
	}
	r = itoken_dup(t, &copy);
	if (r < 0)
		return r;
	memcpy(val, &copy, sizeof(copy));
	*len = sizeof(copy);
	return 0;
}

/* ---- iToken attributes ---- */

static int itoken_get(const struct ipsec_iToken *t, uint32_t type, uint32_t *len, void *val)
{
	const struct latch_ident *id = t->ident;
	uint8_t cb[LATCH_CB_EXPORT_LEN];

	if (type >= METH_BASE && type < METH_BASE + METH_COUNT)
		return get_u16(t->meth[type - METH_BASE], len, val);
	switch (type) {
	case IPSEC_API_ATTR_auditString:
		return get_str(id ? id->audit : NULL, len, val);
	case IPSEC_API_ATTR_authenticationMethod:
		if (!id || id->auth < 0)
			return -ENODATA;
		return get_u16((uint16_t)(METH_BASE + id->auth), len, val);
	case IPSEC_API_ATTR_certificateAuthorityDN:
		return get_str(id ? id->issuer : NULL, len, val);
	case IPSEC_API_ATTR_certificateDN:
		return get_str(id ? id->subject : NULL, len, val);
	case IPSEC_API_ATTR_pubKeyID:
		return get_bytes(id && id->has_spki ? id->spki : NULL, LATCH_SHA256_LEN, len, val);
	case IPSEC_API_ATTR_channelBinding:
		if (!id || latch_ident_get_channel_binding(id, LATCH_CB_EXPORT, cb, sizeof(cb)) < 0)
			return -ENODATA;
		return get_bytes(cb, sizeof(cb), len, val);
	}
	return -ENOPROTOOPT;
}

/*
 * latchd can accept BTNS peers and pin keys, and cannot exclude one of the
 * authenticated methods: refuse the wishes it could not honour.
 */
static int meth_wish_ok(unsigned m, uint16_t v)
{
	if (v == IPSEC_API_ATTR_ANY || m == LATCH_AUTH_BTNS || m == LATCH_AUTH_LEAP_OF_FAITH)
		return 0;
	if (m == LATCH_AUTH_NONE)
		return v == IPSEC_API_ATTR_DISABLE ? 0 : -EOPNOTSUPP;
	return v == IPSEC_API_ATTR_ENABLE ? 0 : -EOPNOTSUPP;
}

static int itoken_set(struct ipsec_iToken *t, uint32_t type, uint32_t len, const void *val)
{
	unsigned m = type - METH_BASE;
	uint16_t v;
	int r;

	if (type >= IPSEC_API_ATTR_auditString && type <= IPSEC_API_ATTR_channelBinding)
		return -EPERM;
	if (type < METH_BASE || m >= METH_COUNT)
		return -ENOPROTOOPT;
	if (t->obtained)
		return -EPERM;
	r = set_u16(len, val, IPSEC_API_ATTR_ENABLE, &v);
	if (r == 0)
		r = meth_wish_ok(m, v);
	if (r == 0)
		t->meth[m] = v;
	return r;
}

/* ---- pToken attributes ---- */

static int ptoken_get(const struct ipsec_pToken *p, uint32_t type, uint32_t *len, void *val)
{
	switch (type) {
	case IPSEC_API_ATTR_privacyProtected:
		return get_u16(p->privacy, len, val);
	case IPSEC_API_ATTR_integrityProtected:
		return get_u16(p->integrity, len, val);
	case IPSEC_API_ATTR_compressionAvailable:
		return get_u16(p->obtained ? IPSEC_API_ATTR_DISABLE : p->compress, len, val);
	case IPSEC_API_ATTR_policyName:
		return get_str(p->tok.policy_name, len, val);
	case IPSEC_API_ATTR_iToken:
		return get_itoken(p->peer, len, val);
	case IPSEC_API_ATTR_remote_iToken:
		return get_itoken(p->local, len, val);
	case IPSEC_API_ATTR_tunnelMode:
		return get_u16(p->tunnel, len, val);
	case IPSEC_API_ATTR_ipoptionsProtected:
		return get_u16(p->ipopts, len, val);
	case IPSEC_API_ATTR_auditString:
		return get_str(p->audit, len, val);
	case IPSEC_API_ATTR_informationString:
		return get_str(p->info, len, val);
	}
	return -ENOPROTOOPT;
}

static const uint16_t level_bits[] = { [IPSEC_API_ATTR_LEVEL_LOW] = 0,
				       [IPSEC_API_ATTR_LEVEL_MEDIUM] = 128,
				       [IPSEC_API_ATTR_LEVEL_HIGH] = 256 };

/* privacy/integrity: ANY, DISABLE, ENABLE or a level (ENABLE with a floor). */
static int set_protected(uint32_t len, const void *val, uint16_t *wish, uint8_t *want,
			 uint16_t *bits)
{
	uint16_t v;
	int r = set_u16(len, val, IPSEC_API_ATTR_LEVEL_HIGH, &v);

	if (r < 0)
		return r;
	*wish = v;
	*want = v == IPSEC_API_ATTR_ANY	      ? LATCH_WANT_ANY
		: v == IPSEC_API_ATTR_DISABLE ? LATCH_WANT_NO
					      : LATCH_WANT_YES;
	*bits = v >= IPSEC_API_ATTR_LEVEL_LOW ? level_bits[v] : 0;
	return 0;
}

static int set_mode(struct ipsec_pToken *p, uint32_t type, uint32_t len, const void *val)
{
	uint16_t v;
	int r = set_u16(len, val, IPSEC_API_ATTR_ENABLE, &v);

	if (r < 0)
		return r;
	if (type == IPSEC_API_ATTR_tunnelMode) {
		/* Protected IP options asked for a tunnel: transport contradicts them. */
		if (v == IPSEC_API_ATTR_DISABLE && p->ipopts == IPSEC_API_ATTR_ENABLE)
			return -EINVAL;
		p->tunnel = v;
		p->tok.mode = v == IPSEC_API_ATTR_ENABLE    ? LATCH_MODE_TUNNEL
			      : v == IPSEC_API_ATTR_DISABLE ? LATCH_MODE_TRANSPORT
							    : LATCH_MODE_ANY;
		return 0;
	}
	/* IP options are protected only inside a tunnel. */
	if (v == IPSEC_API_ATTR_ENABLE && p->tok.mode == LATCH_MODE_TRANSPORT)
		return -EINVAL;
	if (v == IPSEC_API_ATTR_ENABLE)
		p->tok.mode = LATCH_MODE_TUNNEL;
	p->ipopts = v;
	return 0;
}

static int set_peer(struct ipsec_pToken *p, uint32_t len, const void *val)
{
	struct ipsec_iToken *src, *copy;
	int r;

	if (len != sizeof(src))
		return -EINVAL;
	memcpy(&src, val, sizeof(src));
	if (!src || src->magic != ITOKEN_MAGIC)
		return -EINVAL;
	r = itoken_dup(src, &copy);
	if (r < 0)
		return r;
	(void)ipsec_free_iToken(p->peer);
	p->peer = copy;
	return 0;
}

/*
 * A policy name names a policy of the host's administrator; latchd has none
 * to name yet, so a name is refused rather than carried and ignored.
 */
static int set_policy_name(uint32_t len, const void *val)
{
	const char *s = val;

	if (len && s[len - 1] == 0)
		len--;
	if (!len || memchr(s, 0, len))
		return -EINVAL;
	draft_explain("policyName: latchd has no administrator policies to name");
	return -EOPNOTSUPP;
}

static int ptoken_set(struct ipsec_pToken *p, uint32_t type, uint32_t len, const void *val)
{
	uint16_t v;
	int r;

	switch (type) {
	case IPSEC_API_ATTR_privacyProtected:
		return set_protected(len, val, &p->privacy, &p->tok.encrypt, &p->tok.encr_bits);
	case IPSEC_API_ATTR_integrityProtected:
		return set_protected(len, val, &p->integrity, &p->tok.integrity,
				     &p->tok.integ_bits);
	case IPSEC_API_ATTR_compressionAvailable:
		r = set_u16(len, val, IPSEC_API_ATTR_ENABLE, &v);
		if (r == 0 && v == IPSEC_API_ATTR_ENABLE)
			r = -EOPNOTSUPP; /* latch negotiates no IPComp */
		if (r == 0)
			p->compress = v;
		return r;
	case IPSEC_API_ATTR_policyName:
		return set_policy_name(len, val);
	case IPSEC_API_ATTR_iToken:
		return set_peer(p, len, val);
	case IPSEC_API_ATTR_tunnelMode:
	case IPSEC_API_ATTR_ipoptionsProtected:
		return set_mode(p, type, len, val);
	case IPSEC_API_ATTR_remote_iToken:
	case IPSEC_API_ATTR_auditString:
	case IPSEC_API_ATTR_informationString:
		return -EPERM;
	}
	return -ENOPROTOOPT;
}

LATCH_EXPORT int ipsec_get_token_attr(const void *token, uint32_t attr_type, uint32_t *attr_len,
				      void *attr_val)
{
	uint32_t magic;

	if (!token || !attr_len || !attr_val)
		return draft_ret(-EINVAL);
	memcpy(&magic, token, sizeof(magic));
	if (magic == ITOKEN_MAGIC)
		return draft_ret(itoken_get(token, attr_type, attr_len, attr_val));
	if (magic == PTOKEN_MAGIC)
		return draft_ret(ptoken_get(token, attr_type, attr_len, attr_val));
	return draft_ret(-EINVAL);
}

LATCH_EXPORT int ipsec_set_token_attr(const void *token, uint32_t attr_type, uint32_t attr_len,
				      const void *attr_val)
{
	uint32_t magic;

	if (!token || !attr_val)
		return draft_ret(-EINVAL);
	memcpy(&magic, token, sizeof(magic));
	/* The draft's setter takes a const token and modifies it all the same. */
	if (magic == ITOKEN_MAGIC)
		return draft_ret(itoken_set((void *)token, attr_type, attr_len, attr_val));
	if (magic == PTOKEN_MAGIC)
		return draft_ret(ptoken_set((void *)token, attr_type, attr_len, attr_val));
	return draft_ret(-EINVAL);
}

/* ---- native token, comparison, text form ---- */

static void apply_meth_wishes(const uint16_t *meth, latch_token *t)
{
	if (meth[LATCH_AUTH_BTNS] == IPSEC_API_ATTR_ENABLE)
		t->flags |= LATCH_TOKEN_PEER_BTNS;
	if (meth[LATCH_AUTH_BTNS] == IPSEC_API_ATTR_DISABLE)
		t->flags &= ~LATCH_TOKEN_PEER_BTNS;
	if (meth[LATCH_AUTH_LEAP_OF_FAITH] == IPSEC_API_ATTR_ENABLE)
		t->flags |= LATCH_TOKEN_LEAP_OF_FAITH;
}

int ptoken_to_native(const struct ipsec_pToken *p, latch_token **ret)
{
	latch_token *t;
	int r;

	r = latch_token_dup(&p->tok, &t);
	if (r < 0)
		return r;
	if (p->peer && p->peer->ident)
		r = latch_token_set_peer_ident(t, p->peer->ident);
	if (r == 0 && p->peer)
		apply_meth_wishes(p->peer->meth, t);
	if (r < 0) {
		latch_token_free(t);
		return r;
	}
	*ret = t;
	return 0;
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* The authMeth_* wishes of a pToken's peer template (ANY when it has none). */
static uint16_t peer_wish(const struct ipsec_pToken *p, unsigned m)
{
	return p->peer ? p->peer->meth[m] : IPSEC_API_ATTR_ANY;
}

LATCH_EXPORT int ipsec_cmp_pToken(ipsec_pToken_t p1, ipsec_pToken_t p2)
{
	const struct latch_ident *a, *b;

	if (!p1 || !p2 || p1->magic != PTOKEN_MAGIC || p2->magic != PTOKEN_MAGIC)
		return draft_ret(-EINVAL);
	for (unsigned m = 0; m < METH_COUNT; m++) {
		if (peer_wish(p1, m) != peer_wish(p2, m))
			return 1;
	}
	if (p1->privacy != p2->privacy || p1->integrity != p2->integrity ||
	    p1->tunnel != p2->tunnel || p1->ipopts != p2->ipopts || p1->tok.mode != p2->tok.mode ||
	    (p1->tok.flags & LATCH_TOKEN_EXACT) != (p2->tok.flags & LATCH_TOKEN_EXACT) ||
	    !same_str(p1->tok.policy_name, p2->tok.policy_name))
		return 1;
	a = p1->peer ? p1->peer->ident : NULL;
	b = p2->peer ? p2->peer->ident : NULL;
	if (!a || !b)
		return a == b ? 0 : 1;
	return latch_ident_same_peer(a, b) ? 0 : 1;
}

/*
 * A template's text form is its identity's (latch_ident_to_string) followed
 * by its authMeth_* wishes other than ANY: " authMeth_BTNS=enable".
 */
static const char *const meth_names[METH_COUNT] = {
	"NONE",	 "BTNS", "LEAPOFFAITH",	 "PRESHAREDKEY", "GROUPKEY",
	"XAUTH", "EAP",	 "PKIX_TRUSTED", "PKIX_INLINE",	 "PKIX_OFFLINE",
};
#define WISH_KEY " authMeth_"

static int parse_wish(struct ipsec_iToken *t, const char *s, size_t n)
{
	for (unsigned m = 0; m < METH_COUNT; m++) {
		size_t k = strlen(meth_names[m]);
		uint16_t v;

		if (n <= k || strncmp(s, meth_names[m], k) || s[k] != '=')
			continue;
		if (n - k - 1 == 6 && !strncmp(s + k + 1, "enable", 6))
			v = IPSEC_API_ATTR_ENABLE;
		else if (n - k - 1 == 7 && !strncmp(s + k + 1, "disable", 7))
			v = IPSEC_API_ATTR_DISABLE;
		else
			return -EINVAL;
		t->meth[m] = v;
		return meth_wish_ok(m, v);
	}
	return -EINVAL;
}

static int parse_wishes(struct ipsec_iToken *t, const char *s)
{
	while (*s) {
		size_t n;
		int r;

		if (strncmp(s, WISH_KEY, strlen(WISH_KEY)))
			return -EINVAL;
		s += strlen(WISH_KEY);
		n = strcspn(s, " ");
		r = parse_wish(t, s, n);
		if (r < 0)
			return r;
		s += n;
	}
	return 0;
}

static int import_itoken(const char *text, struct ipsec_iToken **ret)
{
	const char *wishes = strstr(text, WISH_KEY);
	char *head = strndup(text, wishes ? (size_t)(wishes - text) : strlen(text));
	latch_ident *id = NULL;
	int r;

	if (!head)
		return -ENOMEM;
	r = latch_ident_from_string(head, &id) < 0 ? -errno : 0;
	free(head);
	if (r == 0 && (r = itoken_new(id, false, ret)) < 0)
		latch_ident_free(id);
	if (r == 0 && wishes && (r = parse_wishes(*ret, wishes)) < 0)
		(void)ipsec_free_iToken(*ret);
	return r;
}

LATCH_EXPORT int ipsec_import_iToken(const char *text, ipsec_iToken_t *ret)
{
	if (!text || !ret)
		return draft_ret(-EINVAL);
	return draft_ret(import_itoken(text, ret));
}

static int put_wishes(const struct ipsec_iToken *t, char **s)
{
	for (unsigned m = 0; m < METH_COUNT && !t->obtained; m++) {
		char *more;

		if (t->meth[m] == IPSEC_API_ATTR_ANY)
			continue;
		if (asprintf(&more, "%s%s%s=%s", *s, WISH_KEY, meth_names[m],
			     t->meth[m] == IPSEC_API_ATTR_ENABLE ? "enable" : "disable") < 0)
			return -ENOMEM;
		free(*s);
		*s = more;
	}
	return 0;
}

LATCH_EXPORT int ipsec_export_iToken(const ipsec_iToken_t token, char *buf, uint32_t *len)
{
	latch_ident *empty = NULL;
	char *s;
	int r;

	if (!token || token->magic != ITOKEN_MAGIC || !buf || !len)
		return draft_ret(-EINVAL);
	if (!token->ident && (r = ident_new(&empty)) < 0)
		return draft_ret(r);
	r = latch_ident_to_string(token->ident ? token->ident : empty, &s);
	latch_ident_free(empty);
	if (r < 0)
		return draft_ret(r);
	r = put_wishes(token, &s);
	if (r == 0)
		r = get_str(s, len, buf);
	free(s);
	return draft_ret(r);
}

/* ---- filling a pToken from a latch ---- */

static uint16_t on_off(bool on)
{
	return on ? IPSEC_API_ATTR_ENABLE : IPSEC_API_ATTR_DISABLE;
}

static int fill_idents(struct ipsec_pToken *p, const latch_info *info)
{
	latch_ident *r = NULL, *l = NULL;
	int ret = 0;

	if ((info->remote && (ret = latch_ident_dup(info->remote, &r)) < 0) ||
	    (info->local && (ret = latch_ident_dup(info->local, &l)) < 0))
		goto fail;
	if (r && (ret = itoken_new(r, true, &p->peer)) < 0)
		goto fail;
	r = NULL;
	if (l && (ret = itoken_new(l, true, &p->local)) < 0)
		goto fail;
	return 0;
fail:
	latch_ident_free(r);
	latch_ident_free(l);
	return ret;
}

static int fill_strings(struct ipsec_pToken *p, const latch_info *info)
{
	const char *encr = info->encr_alg ? info->encr_alg : "-";
	const char *integ = info->integ_alg ? info->integ_alg : "-";
	const char *peer = info->remote && info->remote->id ? info->remote->id : "-";
	bool tunnel = p->tunnel == IPSEC_API_ATTR_ENABLE;

	if (asprintf(&p->audit, "latch=%" PRIu64 " state=%d child=%" PRIu32 " %s/%s %s peer=%s",
		     info->id, info->state, info->child_id, encr, integ,
		     info->shared == 1 ? "shared" : "exact", peer) < 0) {
		p->audit = NULL;
		return -ENOMEM;
	}
	if (asprintf(&p->info, "IPsec ESP, %s mode, %s%s%s, %s SA", tunnel ? "tunnel" : "transport",
		     encr, info->integ_alg ? " with " : "", info->integ_alg ? integ : "",
		     info->shared == 1 ? "shared" : "its own") < 0) {
		p->info = NULL;
		return -ENOMEM;
	}
	return 0;
}

/*
 * An SA protects privacy unless its cipher is NULL (ESP-null). Without an SA
 * (a listener, a latch waiting for one) what the latch requires is all there is.
 */
static bool private_sa(const latch_info *info)
{
	if (info->has_sa && info->encr_alg)
		return strncmp(info->encr_alg, "NULL", 4) != 0;
	return info->prot && info->prot->encrypt == LATCH_WANT_YES;
}

int ptoken_fill(struct ipsec_pToken *p, const latch_info *info)
{
	latch_token *t;
	int r;

	ptoken_reset(p);
	p->obtained = true;
	p->compress = IPSEC_API_ATTR_DISABLE;
	if (!info->state) { /* accepted unlatched (R33): nothing protects it */
		p->privacy = p->integrity = p->tunnel = p->ipopts = IPSEC_API_ATTR_DISABLE;
		return 0;
	}
	if (info->prot) {
		r = latch_token_dup(info->prot, &t);
		if (r < 0)
			return r;
		p->tok = *t;
		free(t);
	}
	p->privacy = on_off(private_sa(info));
	p->integrity = on_off(info->has_sa);
	p->tunnel = on_off(info->has_sa ? info->sa_mode == LATCH_MODE_TUNNEL
					: p->tok.mode == LATCH_MODE_TUNNEL);
	p->ipopts = p->tunnel;
	r = fill_idents(p, info);
	return r < 0 ? r : fill_strings(p, info);
}
