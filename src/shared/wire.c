/* SPDX-License-Identifier: MIT */
#include "shared/wire.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "shared/text.h"

/* What each attribute type is, wherever it appears. */
struct attr_policy {
	const char *name;
	uint8_t kind;
	uint8_t set;	   /* WIRE_NEST: the set its value is checked against */
	uint64_t min, max; /* integers: value range; strings and bytes: length range */
};

/* How an attribute may appear in one set. */
enum rule {
	R_NO = 0,
	R_OPT,
	R_REQ,
	R_MULTI,
};

/* Where an attribute may appear: message bodies and container values. */
enum set_id {
	SET_NONE = 0, /* no such message in this direction */
	SET_EMPTY,
	SET_ERROR,
	SET_HELLO,
	SET_CONNECT,
	SET_POLICY,
	SET_BY_LATCH,
	SET_QUERY,
	SET_CLOSE,
	SET_LATCH_INFO,
	SET_ACCEPT_INFO,
	SET_PEER_ENTRY,
	SET_PIN_ENTRY,
	SET_PIN_DELETE,
	SET_STATUS,
	SET_METRICS,
	SET_LIST,
	SET_ALERT,
	SET_C_PROTECTION,
	SET_C_PEER,
	SET_C_IDENTITY,
	SET_C_TUPLE,
	SET_C_OWNER,
	SET_C_SA,
	SET_C_ITEM,
	SET_C_HISTORY,
	SET_C_CHECK,
	SET_COUNT,
};

struct attr_set {
	uint8_t rule[IPC_A_MAX + 1];
};

enum fd_rule {
	FD_NONE,
	FD_REQ,
	FD_OPT,
};

struct msg_schema {
	uint16_t type;
	const char *name;
	uint8_t fd;	  /* what the request carries */
	uint8_t req;	  /* SET_NONE: clients never send it */
	uint8_t reply;	  /* SET_NONE: the daemon never answers it */
	uint8_t event;	  /* SET_NONE: not an event */
	bool dump;	  /* replies are a series of IPC_F_MORE entries */
	uint8_t reply_fd; /* what the reply carries */
};

#define U(n, k, lo, hi)                                    \
	{                                                  \
		.name = n, .kind = k, .min = lo, .max = hi \
	}
#define S(n, lim)                                       \
	{                                               \
		.name = n, .kind = WIRE_STR, .max = lim \
	}
#define B(n, lo, hi)                                                \
	{                                                           \
		.name = n, .kind = WIRE_BYTES, .min = lo, .max = hi \
	}
#define N(n, s)                                        \
	{                                              \
		.name = n, .kind = WIRE_NEST, .set = s \
	}

static const struct attr_policy policies[IPC_A_MAX + 1] = {
	[IPC_A_VERSION] = U("VERSION", WIRE_U32, 0, UINT32_MAX),
	[IPC_A_FEATURES] = U("FEATURES", WIRE_U64, 0, UINT64_MAX),
	[IPC_A_NAME] = S("NAME", IPC_NAME_MAX),
	[IPC_A_MESSAGE] = S("MESSAGE", IPC_MESSAGE_MAX),
	[IPC_A_LATCH_ID] = U("LATCH_ID", WIRE_U64, 1, UINT64_MAX),
	[IPC_A_STATE] = U("STATE", WIRE_U8, IPC_STATE_LISTENER, IPC_STATE_LARVAL),
	[IPC_A_REASON] = U("REASON", WIRE_U16, IPC_REASON_NONE, IPC_REASON_UNLATCHED),
	[IPC_A_VALUE] = U("VALUE", WIRE_U64, 0, UINT64_MAX),
	[IPC_A_CHANNEL_BINDING] = B("CHANNEL_BINDING", 1, IPC_CB_MAX),
	[IPC_A_GENERATION] = U("GENERATION", WIRE_U64, 0, UINT64_MAX),
	[IPC_A_LABEL] = S("LABEL", IPC_NAME_MAX),
	[IPC_A_PEER_CERT_DER] = B("PEER_CERT_DER", 1, IPC_CERT_DER_MAX),

	[IPC_A_PROTECTION] = N("PROTECTION", SET_C_PROTECTION),
	[IPC_A_PEER] = N("PEER", SET_C_PEER),
	[IPC_A_LOCAL_IDENTITY] = N("LOCAL_IDENTITY", SET_C_IDENTITY),
	[IPC_A_REMOTE_IDENTITY] = N("REMOTE_IDENTITY", SET_C_IDENTITY),
	[IPC_A_TUPLE] = N("TUPLE", SET_C_TUPLE),
	[IPC_A_OWNER] = N("OWNER", SET_C_OWNER),
	[IPC_A_SA] = N("SA", SET_C_SA),
	[IPC_A_COUNTER] = N("COUNTER", SET_C_ITEM),
	[IPC_A_LIMIT] = N("LIMIT", SET_C_ITEM),
	[IPC_A_HISTORY] = N("HISTORY", SET_C_HISTORY),
	[IPC_A_CHECK] = N("CHECK", SET_C_CHECK),

	[IPC_A_PROT_ENCRYPT] = U("PROT_ENCRYPT", WIRE_U8, IPC_WANT_ANY, IPC_WANT_YES),
	[IPC_A_PROT_INTEGRITY] = U("PROT_INTEGRITY", WIRE_U8, IPC_WANT_ANY, IPC_WANT_YES),
	[IPC_A_PROT_MODE] = U("PROT_MODE", WIRE_U8, IPC_MODE_ANY, IPC_MODE_TUNNEL),
	[IPC_A_PROT_ENCR_MIN_BITS] = U("PROT_ENCR_MIN_BITS", WIRE_U16, 0, UINT16_MAX),
	[IPC_A_PROT_INTEG_MIN_BITS] = U("PROT_INTEG_MIN_BITS", WIRE_U16, 0, UINT16_MAX),
	[IPC_A_PROT_EXACT] = U("PROT_EXACT", WIRE_U8, 0, 1),
	[IPC_A_PROT_ALLOW_UNLATCHED] = U("PROT_ALLOW_UNLATCHED", WIRE_U8, 0, 1),
	[IPC_A_PROT_ON_BREAK] = U("PROT_ON_BREAK", WIRE_U8, IPC_ON_BREAK_RESET, IPC_ON_BREAK_WAIT),
	[IPC_A_PROT_POLICY_NAME] = S("PROT_POLICY_NAME", IPC_NAME_MAX),

	[IPC_A_PEER_ID] = S("PEER_ID", IPC_DN_MAX),
	[IPC_A_PEER_ID_PATTERN] = S("PEER_ID_PATTERN", IPC_DN_MAX),
	[IPC_A_PEER_CA_DN] = S("PEER_CA_DN", IPC_DN_MAX),
	[IPC_A_PEER_SPKI_SHA256] = B("PEER_SPKI_SHA256", IPC_SHA256_LEN, IPC_SHA256_LEN),
	[IPC_A_PEER_BTNS] = U("PEER_BTNS", WIRE_U8, 0, 1),
	[IPC_A_PEER_LEAP_OF_FAITH] = U("PEER_LEAP_OF_FAITH", WIRE_U8, 0, 1),

	[IPC_A_IDENT_ID] = S("IDENT_ID", IPC_DN_MAX),
	[IPC_A_IDENT_AUTH_METHOD] =
		U("IDENT_AUTH_METHOD", WIRE_U16, IPC_AUTH_NONE, IPC_AUTH_PKIX_OFFLINE),
	[IPC_A_IDENT_CERT_SUBJECT] = S("IDENT_CERT_SUBJECT", IPC_DN_MAX),
	[IPC_A_IDENT_CERT_ISSUER] = S("IDENT_CERT_ISSUER", IPC_DN_MAX),
	[IPC_A_IDENT_SPKI_SHA256] = B("IDENT_SPKI_SHA256", IPC_SHA256_LEN, IPC_SHA256_LEN),
	[IPC_A_IDENT_AUDIT] = S("IDENT_AUDIT", IPC_MESSAGE_MAX),

	[IPC_A_TUPLE_FAMILY] = U("TUPLE_FAMILY", WIRE_U8, IPC_FAMILY_INET, IPC_FAMILY_INET6),
	[IPC_A_TUPLE_PROTO] = U("TUPLE_PROTO", WIRE_U8, 0, UINT8_MAX),
	[IPC_A_TUPLE_LOCAL_ADDR] = B("TUPLE_LOCAL_ADDR", 4, IPC_ADDR_MAX),
	[IPC_A_TUPLE_LOCAL_PORT] = U("TUPLE_LOCAL_PORT", WIRE_U16, 0, UINT16_MAX),
	[IPC_A_TUPLE_REMOTE_ADDR] = B("TUPLE_REMOTE_ADDR", 4, IPC_ADDR_MAX),
	[IPC_A_TUPLE_REMOTE_PORT] = U("TUPLE_REMOTE_PORT", WIRE_U16, 0, UINT16_MAX),

	[IPC_A_OWNER_PID] = U("OWNER_PID", WIRE_U32, 0, UINT32_MAX),
	[IPC_A_OWNER_UID] = U("OWNER_UID", WIRE_U32, 0, UINT32_MAX),
	[IPC_A_OWNER_GID] = U("OWNER_GID", WIRE_U32, 0, UINT32_MAX),

	[IPC_A_SA_CHILD_ID] = U("SA_CHILD_ID", WIRE_U32, 0, UINT32_MAX),
	[IPC_A_SA_IKE_ID] = U("SA_IKE_ID", WIRE_U32, 0, UINT32_MAX),
	[IPC_A_SA_SPI_IN] = U("SA_SPI_IN", WIRE_U32, 0, UINT32_MAX),
	[IPC_A_SA_SPI_OUT] = U("SA_SPI_OUT", WIRE_U32, 0, UINT32_MAX),
	[IPC_A_SA_ENCR_ALG] = S("SA_ENCR_ALG", IPC_NAME_MAX),
	[IPC_A_SA_INTEG_ALG] = S("SA_INTEG_ALG", IPC_NAME_MAX),
	[IPC_A_SA_SHARED] = U("SA_SHARED", WIRE_U8, 0, 1),
	[IPC_A_SA_MODE] = U("SA_MODE", WIRE_U8, IPC_MODE_ANY, IPC_MODE_TUNNEL),
};

/*
 * Containers appear only in message sets, never inside another container:
 * that is what bounds the nesting depth to one. SET_EMPTY allows nothing.
 */
#define O R_OPT
#define Q R_REQ
#define M R_MULTI
/* One set per paragraph reads better than one rule per line. */
/* clang-format off */
static const struct attr_set sets[SET_COUNT] = {
	[SET_ERROR] = { { [IPC_A_MESSAGE] = O, [IPC_A_VERSION] = O } },
	[SET_HELLO] = { { [IPC_A_VERSION] = Q, [IPC_A_FEATURES] = O, [IPC_A_NAME] = O } },
	[SET_CONNECT] = { { [IPC_A_TUPLE] = Q, [IPC_A_PROTECTION] = O, [IPC_A_PEER] = O } },
	[SET_POLICY] = { { [IPC_A_PROTECTION] = O, [IPC_A_PEER] = O } },
	[SET_BY_LATCH] = { { [IPC_A_LATCH_ID] = O } },
	/* QUERY may name a datagram's remote end: who is behind it on this socket. */
	[SET_QUERY] = { { [IPC_A_LATCH_ID] = O, [IPC_A_TUPLE] = O } },
	[SET_CLOSE] = { { [IPC_A_LATCH_ID] = Q, [IPC_A_MESSAGE] = O } },
	[SET_LATCH_INFO] = { {
		[IPC_A_LATCH_ID] = Q, [IPC_A_STATE] = Q, [IPC_A_REASON] = O,
		[IPC_A_MESSAGE] = O, [IPC_A_TUPLE] = O, [IPC_A_PROTECTION] = O,
		[IPC_A_LOCAL_IDENTITY] = O, [IPC_A_REMOTE_IDENTITY] = O, [IPC_A_SA] = O,
		[IPC_A_CHANNEL_BINDING] = O, [IPC_A_OWNER] = O, [IPC_A_HISTORY] = M,
		[IPC_A_GENERATION] = O, [IPC_A_PEER_CERT_DER] = O } },
	/* As LATCH_INFO, but a connection accepted unlatched (R33) has no latch. */
	[SET_ACCEPT_INFO] = { {
		[IPC_A_LATCH_ID] = O, [IPC_A_STATE] = O, [IPC_A_REASON] = O,
		[IPC_A_MESSAGE] = O, [IPC_A_TUPLE] = O, [IPC_A_PROTECTION] = O,
		[IPC_A_LOCAL_IDENTITY] = O, [IPC_A_REMOTE_IDENTITY] = O, [IPC_A_SA] = O,
		[IPC_A_CHANNEL_BINDING] = O, [IPC_A_OWNER] = O, [IPC_A_HISTORY] = M,
		[IPC_A_GENERATION] = O, [IPC_A_PEER_CERT_DER] = O } },
	[SET_PEER_ENTRY] = { {
		[IPC_A_REMOTE_IDENTITY] = Q, [IPC_A_LOCAL_IDENTITY] = O, [IPC_A_TUPLE] = O,
		[IPC_A_SA] = M, [IPC_A_COUNTER] = M } },
	[SET_PIN_ENTRY] = { {
		[IPC_A_REMOTE_IDENTITY] = Q, [IPC_A_TUPLE] = O, [IPC_A_OWNER] = O } },
	[SET_PIN_DELETE] = { { [IPC_A_REMOTE_IDENTITY] = Q } },
	[SET_STATUS] = { {
		[IPC_A_VERSION] = Q, [IPC_A_NAME] = O, [IPC_A_COUNTER] = M, [IPC_A_LIMIT] = M,
		[IPC_A_CHECK] = M } },
	[SET_METRICS] = { { [IPC_A_COUNTER] = M } },
	[SET_LIST] = { { [IPC_A_STATE] = O, [IPC_A_OWNER] = O } },
	[SET_ALERT] = { {
		[IPC_A_LATCH_ID] = Q, [IPC_A_STATE] = Q, [IPC_A_REASON] = Q, [IPC_A_TUPLE] = O,
		[IPC_A_MESSAGE] = O } },

	[SET_C_PROTECTION] = { {
		[IPC_A_PROT_ENCRYPT] = O, [IPC_A_PROT_INTEGRITY] = O, [IPC_A_PROT_MODE] = O,
		[IPC_A_PROT_ENCR_MIN_BITS] = O, [IPC_A_PROT_INTEG_MIN_BITS] = O,
		[IPC_A_PROT_EXACT] = O, [IPC_A_PROT_ALLOW_UNLATCHED] = O,
		[IPC_A_PROT_ON_BREAK] = O, [IPC_A_PROT_POLICY_NAME] = O } },
	[SET_C_PEER] = { {
		[IPC_A_PEER_ID] = O, [IPC_A_PEER_ID_PATTERN] = O, [IPC_A_PEER_CA_DN] = O,
		[IPC_A_PEER_SPKI_SHA256] = M, [IPC_A_PEER_BTNS] = O,
		[IPC_A_PEER_LEAP_OF_FAITH] = O } },
	[SET_C_IDENTITY] = { {
		[IPC_A_IDENT_ID] = O, [IPC_A_IDENT_AUTH_METHOD] = O,
		[IPC_A_IDENT_CERT_SUBJECT] = O, [IPC_A_IDENT_CERT_ISSUER] = O,
		[IPC_A_IDENT_SPKI_SHA256] = O, [IPC_A_IDENT_AUDIT] = O } },
	[SET_C_TUPLE] = { {
		[IPC_A_TUPLE_FAMILY] = Q, [IPC_A_TUPLE_PROTO] = O,
		[IPC_A_TUPLE_LOCAL_ADDR] = O, [IPC_A_TUPLE_LOCAL_PORT] = O,
		[IPC_A_TUPLE_REMOTE_ADDR] = O, [IPC_A_TUPLE_REMOTE_PORT] = O } },
	[SET_C_OWNER] = { {
		[IPC_A_OWNER_PID] = O, [IPC_A_OWNER_UID] = O, [IPC_A_OWNER_GID] = O,
		[IPC_A_NAME] = O } },
	[SET_C_SA] = { {
		[IPC_A_SA_CHILD_ID] = Q, [IPC_A_SA_IKE_ID] = O, [IPC_A_SA_SPI_IN] = O,
		[IPC_A_SA_SPI_OUT] = O, [IPC_A_SA_ENCR_ALG] = O, [IPC_A_SA_INTEG_ALG] = O,
		[IPC_A_SA_SHARED] = O, [IPC_A_SA_MODE] = O } },
	[SET_C_ITEM] = { { [IPC_A_NAME] = Q, [IPC_A_VALUE] = Q, [IPC_A_LABEL] = O } },
	[SET_C_HISTORY] = { { [IPC_A_STATE] = Q, [IPC_A_REASON] = Q, [IPC_A_VALUE] = Q } },
	[SET_C_CHECK] = { { [IPC_A_NAME] = Q, [IPC_A_VALUE] = Q, [IPC_A_MESSAGE] = Q } },
};
/* clang-format on */
#undef O
#undef Q
#undef M

/* One message per line, as the sets above. */
/* clang-format off */
static const struct msg_schema schemas[] = {
	/* The reply to a HELLO asking for IPC_FEATURE_GEN_PAGE carries the page. */
	{ IPC_MSG_HELLO, "HELLO", FD_NONE, SET_HELLO, SET_HELLO, SET_NONE, false, FD_OPT },
	{ IPC_MSG_BYE, "BYE", FD_NONE, SET_EMPTY, SET_EMPTY, SET_NONE, false, FD_NONE },
	{ IPC_MSG_CONNECT, "CONNECT", FD_REQ, SET_CONNECT, SET_LATCH_INFO, SET_NONE, false, FD_NONE },
	{ IPC_MSG_LISTEN, "LISTEN", FD_REQ, SET_POLICY, SET_LATCH_INFO, SET_NONE, false, FD_NONE },
	{ IPC_MSG_ACCEPT, "ACCEPT", FD_REQ, SET_BY_LATCH, SET_ACCEPT_INFO, SET_NONE, false, FD_NONE },
	{ IPC_MSG_LATCH, "LATCH", FD_REQ, SET_POLICY, SET_LATCH_INFO, SET_NONE, false, FD_NONE },
	{ IPC_MSG_QUERY, "QUERY", FD_OPT, SET_QUERY, SET_LATCH_INFO, SET_NONE, false, FD_NONE },
	{ IPC_MSG_RELEASE, "RELEASE", FD_OPT, SET_BY_LATCH, SET_EMPTY, SET_NONE, false, FD_NONE },
	{ IPC_MSG_CLOSE, "CLOSE", FD_NONE, SET_CLOSE, SET_EMPTY, SET_NONE, false, FD_NONE },
	{ IPC_MSG_ATTACH, "ATTACH", FD_REQ, SET_POLICY, SET_LATCH_INFO, SET_NONE, false, FD_NONE },
	{ IPC_MSG_PEER_LIST, "PEER_LIST", FD_NONE, SET_EMPTY, SET_PEER_ENTRY, SET_NONE, true, FD_NONE },
	{ IPC_MSG_PIN_LIST, "PIN_LIST", FD_NONE, SET_EMPTY, SET_PIN_ENTRY, SET_NONE, true, FD_NONE },
	{ IPC_MSG_PIN_DELETE, "PIN_DELETE", FD_NONE, SET_PIN_DELETE, SET_EMPTY, SET_NONE, false, FD_NONE },
	{ IPC_MSG_STATUS, "STATUS", FD_NONE, SET_EMPTY, SET_STATUS, SET_NONE, false, FD_NONE },
	{ IPC_MSG_METRICS, "METRICS", FD_NONE, SET_EMPTY, SET_METRICS, SET_NONE, false, FD_NONE },
	{ IPC_MSG_LIST, "LIST", FD_NONE, SET_LIST, SET_LATCH_INFO, SET_NONE, true, FD_NONE },
	{ IPC_MSG_WATCH, "WATCH", FD_NONE, SET_BY_LATCH, SET_EMPTY, SET_NONE, false, FD_NONE },
	{ IPC_MSG_UNWATCH, "UNWATCH", FD_NONE, SET_EMPTY, SET_EMPTY, SET_NONE, false, FD_NONE },
	{ IPC_MSG_ALERT, "ALERT", FD_NONE, SET_NONE, SET_NONE, SET_ALERT, false, FD_NONE },
};
/* clang-format on */

/* Where a parse is, so that every rejection can say it. */
struct perr {
	char *buf;
	size_t len;
	const char *msg;   /* "CONNECT request" */
	const char *inner; /* container being checked, or NULL */
	bool clean_text;   /* strings must be clean text: a client's message */
};

__attribute__((format(printf, 3, 4))) static int fail(const struct perr *e, int code,
						      const char *fmt, ...)
{
	char what[256];
	va_list ap;

	if (!e->buf || e->len == 0)
		return code;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (e->inner)
		snprintf(e->buf, e->len, "%s: in %s: %s", e->msg, e->inner, what);
	else
		snprintf(e->buf, e->len, "%s: %s", e->msg, what);
	return code;
}

static const struct msg_schema *schema_of(uint16_t type)
{
	for (size_t i = 0; i < sizeof(schemas) / sizeof(schemas[0]); i++) {
		if (schemas[i].type == type)
			return &schemas[i];
	}
	return NULL;
}

static const struct attr_policy *policy_of(uint16_t type)
{
	if (type > IPC_A_MAX || policies[type].kind == WIRE_NONE)
		return NULL;
	return &policies[type];
}

const char *wire_reason_name(uint16_t reason)
{
	static const char *const names[] = {
		[IPC_REASON_NONE] = "none",
		[IPC_REASON_SA_CONFLICT] = "sa-conflict",
		[IPC_REASON_SA_GONE] = "sa-gone",
		[IPC_REASON_PEER_DEAD] = "peer-dead",
		[IPC_REASON_PEER_CHANGED] = "peer-changed",
		[IPC_REASON_POLICY] = "policy",
		[IPC_REASON_ADMIN] = "admin",
		[IPC_REASON_OWNER] = "owner",
		[IPC_REASON_KEY_MANAGER] = "key-manager",
		[IPC_REASON_DAEMON] = "daemon",
		[IPC_REASON_RESTORED] = "restored",
		[IPC_REASON_NEW_CONNECTION] = "new-connection",
		[IPC_REASON_UNLATCHED] = "unlatched",
	};

	return reason < sizeof(names) / sizeof(names[0]) ? names[reason] : "?";
}

const char *wire_msg_name(uint16_t type)
{
	const struct msg_schema *s = schema_of(type);

	return s ? s->name : "?";
}

const char *wire_state_name(uint8_t state)
{
	static const char *const names[] = {
		[IPC_STATE_LISTENER] = "LISTENER", [IPC_STATE_ESTABLISHED] = "ESTABLISHED",
		[IPC_STATE_BROKEN] = "BROKEN",	   [IPC_STATE_CLOSED] = "CLOSED",
		[IPC_STATE_LARVAL] = "LARVAL",
	};

	return state < sizeof(names) / sizeof(names[0]) && names[state] ? names[state] : NULL;
}

const char *wire_attr_name(uint16_t type)
{
	const struct attr_policy *pol = policy_of(type);

	return pol ? pol->name : "?";
}

enum wire_kind wire_attr_kind(uint16_t type)
{
	const struct attr_policy *pol = policy_of(type);

	return pol ? (enum wire_kind)pol->kind : WIRE_NONE;
}

static size_t align4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/*
 * One attribute's framing at *off: 1 and the attribute, 0 at the end, or
 * -EBADMSG with *why set. Shared by the validator and the getters, so that
 * a getter can never walk further than the validator checked.
 */
static int frame_next(const struct wire_attrs *a, size_t *off, struct wire_attr *ret,
		      const char **why)
{
	size_t left = a->len - *off, padded;
	struct rd r = rd_make(a->p + *off, left);
	uint16_t len, type;

	if (left == 0)
		return 0;
	if (!rd_be16(&r, &len) || !rd_be16(&r, &type)) {
		*why = "truncated attribute header";
		return -EBADMSG;
	}
	if (len < IPC_ATTR_HDR_LEN || len > left) {
		*why = len < IPC_ATTR_HDR_LEN ? "attribute length below 4" : "attribute overruns";
		return -EBADMSG;
	}
	padded = align4(len);
	if (padded > left) {
		*why = "attribute padding missing";
		return -EBADMSG;
	}
	for (size_t i = len; i < padded; i++) {
		if (a->p[*off + i] != 0) {
			*why = "non-zero padding";
			return -EBADMSG;
		}
	}
	*ret = (struct wire_attr){ type, (uint16_t)(len - IPC_ATTR_HDR_LEN),
				   a->p + *off + IPC_ATTR_HDR_LEN };
	*off += padded;
	return 1;
}

static uint64_t read_uint(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static size_t kind_size(uint8_t kind)
{
	switch (kind) {
	case WIRE_U8:
		return 1;
	case WIRE_U16:
		return 2;
	case WIRE_U32:
		return 4;
	case WIRE_U64:
		return 8;
	default:
		return 0;
	}
}

/*
 * A string carries one NUL, its last byte. What a client sends must be clean
 * text (shared/text.h), taken in as it is. What latchd sends is data its
 * receiver cleans where it shows it: latchd sends clean text, and should one
 * value ever not be, that costs the value, not the whole answer.
 */
static int check_str(const struct perr *e, const struct attr_policy *pol, const struct wire_attr *a)
{
	const char *s = (const char *)a->val;
	size_t n = a->len ? a->len - 1u : 0, ok;
	const char *nul;

	if (a->len == 0 || s[n] != 0)
		return fail(e, -EINVAL, "%s is not NUL-terminated", pol->name);
	if ((uint64_t)n > pol->max)
		return fail(e, -EINVAL, "%s of %zu bytes exceeds the limit of %" PRIu64, pol->name,
			    n, pol->max);
	nul = memchr(s, 0, n);
	if (nul)
		return fail(e, -EINVAL, "%s has a NUL byte at %td", pol->name, nul - s);
	ok = e->clean_text ? text_clean_prefix(s, n) : n;
	if (ok < n)
		return fail(e, -EINVAL, "%s has a control byte or invalid UTF-8 at %zu (0x%02x)",
			    pol->name, ok, a->val[ok]);
	return 0;
}

static int check_set(struct perr *e, uint8_t set, const uint8_t *p, size_t len);

static int check_value(struct perr *e, const struct attr_policy *pol, const struct wire_attr *a)
{
	size_t size = kind_size(pol->kind);
	uint64_t v;
	int r;

	switch (pol->kind) {
	case WIRE_STR:
		return check_str(e, pol, a);
	case WIRE_BYTES:
		if ((uint64_t)a->len < pol->min || (uint64_t)a->len > pol->max)
			return fail(e, -EINVAL, "%s of %u bytes, allowed %" PRIu64 "-%" PRIu64,
				    pol->name, a->len, pol->min, pol->max);
		return 0;
	case WIRE_NEST:
		e->inner = pol->name;
		r = check_set(e, pol->set, a->val, a->len);
		e->inner = NULL;
		return r;
	}
	if (a->len != size)
		return fail(e, -EINVAL, "%s of %u bytes, want %zu", pol->name, a->len, size);
	v = read_uint(a->val, size);
	if (v < pol->min || v > pol->max)
		return fail(e, -EINVAL, "%s value %" PRIu64 " out of range %" PRIu64 "-%" PRIu64,
			    pol->name, v, pol->min, pol->max);
	return 0;
}

static int check_attr(struct perr *e, uint8_t set, const struct wire_attr *a, uint8_t *seen)
{
	const struct attr_policy *pol = policy_of(a->type);
	uint8_t rule;

	if (!pol)
		return fail(e, -EINVAL, "unknown attribute type %u", a->type);
	rule = sets[set].rule[a->type];
	if (rule == R_NO)
		return fail(e, -EINVAL, "attribute %s not allowed here", pol->name);
	if (seen[a->type] && rule != R_MULTI)
		return fail(e, -EINVAL, "attribute %s repeated", pol->name);
	seen[a->type] = 1;
	return check_value(e, pol, a);
}

static int check_set(struct perr *e, uint8_t set, const uint8_t *p, size_t len)
{
	const struct wire_attrs attrs = { p, len };
	uint8_t seen[IPC_A_MAX + 1] = { 0 };
	struct wire_attr a;
	const char *why;
	size_t off = 0;
	int r;

	while ((r = frame_next(&attrs, &off, &a, &why)) > 0) {
		r = check_attr(e, set, &a, seen);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return fail(e, r, "%s at offset %zu", why, off);
	for (unsigned t = 0; t <= IPC_A_MAX; t++) {
		if (sets[set].rule[t] == R_REQ && !seen[t])
			return fail(e, -EINVAL, "attribute %s missing", policies[t].name);
	}
	return 0;
}

int wire_peek_hdr(const void *p, size_t n, struct wire_hdr *ret)
{
	struct rd r = rd_make(p, n);
	struct wire_hdr h;
	uint32_t status;

	if (!rd_be16(&r, &h.type) || !rd_be16(&r, &h.flags) || !rd_be32(&r, &h.seq) ||
	    !rd_be32(&r, &status))
		return -EBADMSG;
	h.status = (int32_t)status;
	*ret = h;
	return 0;
}

static int pick_reply_set(struct perr *e, const struct msg_schema *ms, const struct wire_hdr *h,
			  uint8_t *set)
{
	e->msg = ms->name;
	if (ms->reply == SET_NONE)
		return fail(e, -EOPNOTSUPP, "has no reply");
	if (h->status > 0 || h->status < IPC_STATUS_MIN)
		return fail(e, -EBADMSG, "status %" PRId32 " is not 0 or -errno", h->status);
	if ((h->flags & IPC_F_MORE) && (!ms->dump || h->status < 0))
		return fail(e, -EBADMSG, "MORE flag on a reply that is no dump entry");
	if (h->status < 0)
		*set = SET_ERROR;
	else if (ms->dump && !(h->flags & IPC_F_MORE))
		*set = SET_EMPTY; /* the end of a dump */
	else
		*set = ms->reply;
	return 0;
}

/* Which set the body must match, given who sent it and the header. */
static int pick_set(struct perr *e, const struct msg_schema *ms, const struct wire_hdr *h,
		    enum wire_from from, uint8_t *set)
{
	e->msg = ms->name;
	if (h->flags & ~IPC_F_ALL)
		return fail(e, -EBADMSG, "unknown flags 0x%04x", h->flags & ~IPC_F_ALL);
	if (from == WIRE_FROM_DAEMON && (h->flags & IPC_F_REPLY))
		return pick_reply_set(e, ms, h, set);
	if (h->flags & IPC_F_MORE)
		return fail(e, -EBADMSG, "MORE flag on a message that is no reply");
	if (from == WIRE_FROM_CLIENT && (h->flags & IPC_F_REPLY))
		return fail(e, -EOPNOTSUPP, "clients send no replies");
	*set = from == WIRE_FROM_CLIENT ? ms->req : ms->event;
	if (*set == SET_NONE)
		return fail(e, -EOPNOTSUPP, "is not a %s",
			    from == WIRE_FROM_CLIENT ? "request" : "reply or event");
	if (h->status != 0)
		return fail(e, -EBADMSG, "status %" PRId32 " outside a reply", h->status);
	if (from == WIRE_FROM_DAEMON && h->seq != 0)
		return fail(e, -EBADMSG, "event with seq %" PRIu32 ", want 0", h->seq);
	return 0;
}

static int check_fds(struct perr *e, const struct msg_schema *ms, const struct wire_hdr *h,
		     enum wire_from from, unsigned nfds)
{
	bool request = from == WIRE_FROM_CLIENT && !(h->flags & IPC_F_REPLY);
	bool reply = from == WIRE_FROM_DAEMON && (h->flags & IPC_F_REPLY);
	uint8_t rule = request ? ms->fd : reply ? ms->reply_fd : FD_NONE;

	if (rule == FD_REQ && nfds != 1)
		return fail(e, -EBADF, "needs the socket passed with SCM_RIGHTS (got %u fds)",
			    nfds);
	if (rule != FD_REQ && nfds > (rule == FD_OPT ? 1u : 0u))
		return fail(e, -EBADF, "takes %s fd, got %u", rule == FD_OPT ? "at most one" : "no",
			    nfds);
	return 0;
}

int wire_parse(const void *p, size_t n, enum wire_from from, unsigned nfds, struct wire_msg *ret,
	       char *err, size_t errlen)
{
	struct perr e = {
		.buf = err, .len = errlen, .msg = "message", .clean_text = from == WIRE_FROM_CLIENT
	};
	const struct msg_schema *ms;
	struct wire_hdr h;
	uint8_t set = SET_NONE;
	int r;

	if (n > IPC_MSG_MAX)
		return fail(&e, -EMSGSIZE, "%zu bytes exceed the limit of %d", n, IPC_MSG_MAX);
	if (wire_peek_hdr(p, n, &h) < 0)
		return fail(&e, -EBADMSG, "%zu bytes, shorter than the %d-byte header", n,
			    IPC_HDR_LEN);
	ms = schema_of(h.type);
	if (!ms)
		return fail(&e, -EOPNOTSUPP, "unknown message type %u", h.type);
	r = pick_set(&e, ms, &h, from, &set);
	if (r < 0)
		return r;
	r = check_fds(&e, ms, &h, from, nfds);
	if (r < 0)
		return r;
	r = check_set(&e, set, (const uint8_t *)p + IPC_HDR_LEN, n - IPC_HDR_LEN);
	if (r < 0)
		return r;
	*ret = (struct wire_msg){ h, { (const uint8_t *)p + IPC_HDR_LEN, n - IPC_HDR_LEN } };
	return 0;
}

int wire_hello_check(const struct wire_msg *m, char *err, size_t errlen)
{
	struct perr e = { .buf = err, .len = errlen, .msg = "HELLO" };
	uint32_t v;

	if (m->hdr.type != IPC_MSG_HELLO)
		return fail(&e, -EPROTO, "expected HELLO, got %s", wire_msg_name(m->hdr.type));
	if (wire_get_u32(&m->attrs, IPC_A_VERSION, &v) < 0)
		return fail(&e, -EPROTO, "no protocol version");
	if (v != IPC_VERSION)
		return fail(&e, -EPROTO, "protocol version %" PRIu32 " not supported, want %d", v,
			    IPC_VERSION);
	return 0;
}

int wire_next(const struct wire_attrs *a, uint16_t type, size_t *cursor, struct wire_attr *ret)
{
	struct wire_attr at;
	const char *why;
	size_t off = *cursor;

	while (frame_next(a, &off, &at, &why) > 0) {
		if (type == 0 || at.type == type) {
			*cursor = off;
			*ret = at;
			return 1;
		}
	}
	return 0;
}

static int find(const struct wire_attrs *a, uint16_t type, uint8_t kind, struct wire_attr *ret)
{
	size_t cursor = 0;

	if (wire_attr_kind(type) != kind)
		return -EINVAL;
	return wire_next(a, type, &cursor, ret) ? 0 : -ENOENT;
}

static int get_uint(const struct wire_attrs *a, uint16_t type, uint8_t kind, uint64_t *ret)
{
	struct wire_attr at;
	int r = find(a, type, kind, &at);

	if (r < 0)
		return r;
	if (at.len != kind_size(kind))
		return -EINVAL; /* only on a view that wire_parse() did not check */
	*ret = read_uint(at.val, at.len);
	return 0;
}

int wire_get_u8(const struct wire_attrs *a, uint16_t type, uint8_t *ret)
{
	uint64_t v;
	int r = get_uint(a, type, WIRE_U8, &v);

	if (r == 0)
		*ret = (uint8_t)v;
	return r;
}

int wire_get_u16(const struct wire_attrs *a, uint16_t type, uint16_t *ret)
{
	uint64_t v;
	int r = get_uint(a, type, WIRE_U16, &v);

	if (r == 0)
		*ret = (uint16_t)v;
	return r;
}

int wire_get_u32(const struct wire_attrs *a, uint16_t type, uint32_t *ret)
{
	uint64_t v;
	int r = get_uint(a, type, WIRE_U32, &v);

	if (r == 0)
		*ret = (uint32_t)v;
	return r;
}

int wire_get_u64(const struct wire_attrs *a, uint16_t type, uint64_t *ret)
{
	return get_uint(a, type, WIRE_U64, ret);
}

int wire_get_str(const struct wire_attrs *a, uint16_t type, const char **ret)
{
	struct wire_attr at;
	int r = find(a, type, WIRE_STR, &at);

	if (r < 0)
		return r;
	if (at.len == 0 || at.val[at.len - 1] != 0)
		return -EINVAL; /* only on a view that wire_parse() did not check */
	*ret = (const char *)at.val;
	return 0;
}

int wire_get_bytes(const struct wire_attrs *a, uint16_t type, const uint8_t **ret, size_t *ret_len)
{
	struct wire_attr at;
	int r = find(a, type, WIRE_BYTES, &at);

	if (r < 0)
		return r;
	*ret = at.val;
	*ret_len = at.len;
	return 0;
}

int wire_get_nested(const struct wire_attrs *a, uint16_t type, struct wire_attrs *ret)
{
	struct wire_attr at;
	int r = find(a, type, WIRE_NEST, &at);

	if (r < 0)
		return r;
	*ret = (struct wire_attrs){ at.val, at.len };
	return 0;
}

bool wire_has(const struct wire_attrs *a, uint16_t type)
{
	struct wire_attr at;
	size_t cursor = 0;

	return wire_next(a, type, &cursor, &at) > 0;
}

/* Encoder */

static void buf_fail(struct buf *b, int err)
{
	if (!b->err)
		b->err = err;
}

void wire_begin(struct buf *b, uint16_t type, uint16_t flags, uint32_t seq, int32_t status)
{
	buf_reset(b);
	buf_put_be16(b, type);
	buf_put_be16(b, flags);
	buf_put_be32(b, seq);
	buf_put_be32(b, (uint32_t)status);
}

static void put_pad(struct buf *b, size_t n)
{
	static const uint8_t zero[3];

	buf_put(b, zero, align4(n) - n);
}

void wire_put_bytes(struct buf *b, uint16_t type, const void *p, size_t n)
{
	if (n > UINT16_MAX - IPC_ATTR_HDR_LEN) {
		buf_fail(b, -EMSGSIZE);
		return;
	}
	buf_put_be16(b, (uint16_t)(n + IPC_ATTR_HDR_LEN));
	buf_put_be16(b, type);
	buf_put(b, p, n);
	put_pad(b, n);
}

void wire_put_u8(struct buf *b, uint16_t type, uint8_t v)
{
	wire_put_bytes(b, type, &v, 1);
}

void wire_put_u16(struct buf *b, uint16_t type, uint16_t v)
{
	uint8_t s[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	wire_put_bytes(b, type, s, sizeof(s));
}

void wire_put_u32(struct buf *b, uint16_t type, uint32_t v)
{
	uint8_t s[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	wire_put_bytes(b, type, s, sizeof(s));
}

void wire_put_u64(struct buf *b, uint16_t type, uint64_t v)
{
	uint8_t s[8];

	for (int i = 7; i >= 0; i--, v >>= 8)
		s[i] = (uint8_t)v;
	wire_put_bytes(b, type, s, sizeof(s));
}

void wire_put_str(struct buf *b, uint16_t type, const char *s)
{
	wire_put_bytes(b, type, s, strlen(s) + 1);
}

size_t wire_nest_begin(struct buf *b, uint16_t type)
{
	size_t start = b->len;

	buf_put_be16(b, 0); /* patched by wire_nest_end() */
	buf_put_be16(b, type);
	return start;
}

void wire_nest_end(struct buf *b, size_t start)
{
	size_t len = b->len - start;

	if (b->err || start > b->len || len < IPC_ATTR_HDR_LEN)
		return;
	if (len > UINT16_MAX) {
		buf_fail(b, -EMSGSIZE);
		return;
	}
	/* Children are padded already, so the container needs none. */
	b->data[start] = (uint8_t)(len >> 8);
	b->data[start + 1] = (uint8_t)len;
}

int wire_end(const struct buf *b)
{
	if (b->err)
		return b->err;
	if (b->len < IPC_HDR_LEN)
		return -EINVAL;
	if (b->len > IPC_MSG_MAX)
		return -EMSGSIZE;
	return 0;
}
