/* SPDX-License-Identifier: MIT */
/* Latches on the wire: latch info replies, ALERTs, and the policy of a request. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "latchd/core/core-int.h"
#include "shared/fail.h"
#include "shared/text.h"

static void put_tuple(struct buf *b, const struct latch *l)
{
	size_t n = wire_nest_begin(b, IPC_A_TUPLE);
	uint8_t fam = l->listener ? l->listen.family : l->flow.family;
	size_t alen = fam == AF_INET6 ? 16 : 4;

	wire_put_u8(b, IPC_A_TUPLE_FAMILY, fam == AF_INET6 ? IPC_FAMILY_INET6 : IPC_FAMILY_INET);
	if (l->listener) {
		wire_put_u8(b, IPC_A_TUPLE_PROTO, l->listen.proto);
		wire_put_bytes(b, IPC_A_TUPLE_LOCAL_ADDR, l->listen.addr.b, alen);
		wire_put_u16(b, IPC_A_TUPLE_LOCAL_PORT, l->listen.port);
	} else {
		wire_put_u8(b, IPC_A_TUPLE_PROTO, l->flow.proto);
		wire_put_bytes(b, IPC_A_TUPLE_LOCAL_ADDR, l->flow.laddr.b, alen);
		wire_put_u16(b, IPC_A_TUPLE_LOCAL_PORT, l->flow.lport);
		wire_put_bytes(b, IPC_A_TUPLE_REMOTE_ADDR, l->flow.raddr.b, alen);
		wire_put_u16(b, IPC_A_TUPLE_REMOTE_PORT, l->flow.rport);
	}
	wire_nest_end(b, n);
}

static void put_ident(struct buf *b, uint16_t type, const struct latch_ident *id)
{
	char audit[IPC_MESSAGE_MAX + 1], who[201], ca[201]; /* 200 bytes each: both fit */
	const char *issuer = id->issuer[0] ? id->issuer : "-";
	size_t n;

	if (!id->id[0])
		return;
	n = wire_nest_begin(b, type);
	wire_put_str(b, IPC_A_IDENT_ID, id->id);
	wire_put_u16(b, IPC_A_IDENT_AUTH_METHOD, id->auth);
	if (id->subject[0])
		wire_put_str(b, IPC_A_IDENT_CERT_SUBJECT, id->subject);
	if (id->issuer[0])
		wire_put_str(b, IPC_A_IDENT_CERT_ISSUER, id->issuer);
	if (id->has_spki)
		wire_put_bytes(b, IPC_A_IDENT_SPKI_SHA256, id->spki, sizeof(id->spki));
	/* Clean text cut by cleaning again: never inside a character. */
	text_clean(who, sizeof(who), id->id, strlen(id->id));
	text_clean(ca, sizeof(ca), issuer, strlen(issuer));
	snprintf(audit, sizeof(audit), "id=\"%s\" issuer=\"%s\"", who, ca);
	wire_put_str(b, IPC_A_IDENT_AUDIT, audit);
	wire_nest_end(b, n);
}

void core_put_ident(struct buf *b, uint16_t type, const struct latch_ident *id)
{
	put_ident(b, type, id);
}

static void put_sa(struct buf *b, const struct latch_sa *sa)
{
	size_t n;

	if (!sa->child_id)
		return;
	n = wire_nest_begin(b, IPC_A_SA);
	wire_put_u32(b, IPC_A_SA_CHILD_ID, sa->child_id);
	wire_put_u32(b, IPC_A_SA_IKE_ID, sa->ike_id);
	wire_put_u32(b, IPC_A_SA_SPI_IN, sa->spi_in);
	wire_put_u32(b, IPC_A_SA_SPI_OUT, sa->spi_out);
	if (sa->encr[0])
		wire_put_str(b, IPC_A_SA_ENCR_ALG, sa->encr);
	if (sa->integ[0])
		wire_put_str(b, IPC_A_SA_INTEG_ALG, sa->integ);
	wire_put_u8(b, IPC_A_SA_SHARED, sa->shared);
	wire_put_u8(b, IPC_A_SA_MODE, sa->tunnel ? IPC_MODE_TUNNEL : IPC_MODE_TRANSPORT);
	wire_nest_end(b, n);
}

static void put_protection(struct buf *b, const struct latch_policy *p)
{
	size_t n = wire_nest_begin(b, IPC_A_PROTECTION);

	wire_put_u8(b, IPC_A_PROT_ENCRYPT, p->encrypt);
	wire_put_u8(b, IPC_A_PROT_INTEGRITY, p->integrity);
	wire_put_u8(b, IPC_A_PROT_MODE, p->mode);
	if (p->encr_min_bits)
		wire_put_u16(b, IPC_A_PROT_ENCR_MIN_BITS, p->encr_min_bits);
	if (p->integ_min_bits)
		wire_put_u16(b, IPC_A_PROT_INTEG_MIN_BITS, p->integ_min_bits);
	wire_put_u8(b, IPC_A_PROT_EXACT, p->exact);
	wire_put_u8(b, IPC_A_PROT_ALLOW_UNLATCHED, p->allow_unlatched);
	wire_put_u8(b, IPC_A_PROT_ON_BREAK, p->on_break);
	wire_nest_end(b, n);
}

static void put_owner(struct buf *b, const struct latch *l)
{
	size_t n = wire_nest_begin(b, IPC_A_OWNER);

	wire_put_u32(b, IPC_A_OWNER_PID, (uint32_t)l->owner.pid);
	wire_put_u32(b, IPC_A_OWNER_UID, (uint32_t)l->owner.uid);
	wire_put_u32(b, IPC_A_OWNER_GID, (uint32_t)l->owner.gid);
	if (l->comm[0])
		wire_put_str(b, IPC_A_NAME, l->comm);
	wire_nest_end(b, n);
}

/* The latch's state changes, as milliseconds before now. */
static void put_history(struct buf *b, const struct latch *l, uint64_t now)
{
	for (unsigned i = 0; i < l->n_hist; i++) {
		size_t n = wire_nest_begin(b, IPC_A_HISTORY);

		wire_put_u8(b, IPC_A_STATE, l->hist[i].state);
		wire_put_u16(b, IPC_A_REASON, l->hist[i].reason);
		wire_put_u64(b, IPC_A_VALUE,
			     now > l->hist[i].usec ? (now - l->hist[i].usec) / 1000 : 0);
		wire_nest_end(b, n);
	}
}

/*
 * The peer's certificate, DER, as charon received it: the one whose key the
 * latched peer has (not a later peer's of the same IKE_SA id), last and only
 * when the message still has room for it (IPC_MSG_MAX; the codec's limit).
 */
static void put_cert_der(const struct core *c, struct buf *b, const struct latch *l)
{
	const struct ike_ident *id = core_ident(c, l->sa.ike_id);

	if (!id || !id->has_cert || !id->der_len || !l->remote->has_spki ||
	    memcmp(id->cert.spki_sha256, l->remote->spki, sizeof(l->remote->spki)) ||
	    b->len + 8 + id->der_len > IPC_MSG_MAX)
		return;
	wire_put_bytes(b, IPC_A_PEER_CERT_DER, id->der, id->der_len);
}

void core_put_latch(const struct core *c, struct buf *b, const struct latch *l)
{
	uint8_t cb[IPC_CB_MAX];
	size_t cblen;

	wire_put_u64(b, IPC_A_LATCH_ID, l->id);
	wire_put_u8(b, IPC_A_STATE, l->state);
	wire_put_u16(b, IPC_A_REASON, l->reason);
	put_tuple(b, l);
	put_protection(b, l->pol);
	put_ident(b, IPC_A_LOCAL_IDENTITY, l->local);
	put_ident(b, IPC_A_REMOTE_IDENTITY, l->remote);
	put_sa(b, &l->sa);
	if (l->has_cb) {
		cblen = ident_channel_binding_export(l->cb, cb);
		wire_put_bytes(b, IPC_A_CHANNEL_BINDING, cb, cblen);
	}
	put_owner(b, l);
	put_history(b, l, ev_now(c->loop));
	put_cert_der(c, b, l);
}

/*
 * A latch's info as the reply to req. Its own client, when it keeps a
 * generation page, also gets the slot's value: while the slot holds it, the
 * client may answer from this reply itself (IPC_FEATURE_GEN_PAGE).
 */
int core_reply_latch(const struct core *c, struct request *req, const struct latch *l)
{
	struct buf *b = control_reply_begin(req, 0);
	uint64_t gen;

	core_put_latch(c, b, l);
	if (req->client && req->client == l->client &&
	    control_latch_generation(req->client, l->id, &gen))
		wire_put_u64(b, IPC_A_GENERATION, gen);
	return control_reply_send(req);
}

void core_put_child(struct buf *b, uint32_t ike_id, const struct sa_child *ch)
{
	struct latch_sa sa = {
		.ike_id = ike_id,
		.child_id = ch->id,
		.spi_in = ch->spi_in,
		.spi_out = ch->spi_out,
		.tunnel = ch->tunnel,
	};

	snprintf(sa.encr, sizeof(sa.encr), "%s", ch->encr);
	snprintf(sa.integ, sizeof(sa.integ), "%s", ch->integ);
	put_sa(b, &sa);
}

void core_put_alert(struct buf *b, const struct latch *l, const char *why)
{
	wire_begin(b, IPC_MSG_ALERT, 0, 0, 0);
	wire_put_u64(b, IPC_A_LATCH_ID, l->id);
	wire_put_u8(b, IPC_A_STATE, l->state);
	wire_put_u16(b, IPC_A_REASON, l->reason);
	put_tuple(b, l);
	if (why && *why)
		wire_put_str(b, IPC_A_MESSAGE, why);
}

/* ---------------------------------------------------------------- policy in */

static int get_str(const struct wire_attrs *a, uint16_t type, char *dst, size_t cap)
{
	const char *s;

	if (wire_get_str(a, type, &s) < 0)
		return 0;
	if (strlen(s) >= cap)
		return -ENAMETOOLONG;
	strcpy(dst, s);
	return 0;
}

static int get_peer(const struct wire_attrs *peer, struct latch_policy *p, char *err, size_t el)
{
	struct wire_attr at;
	size_t cursor = 0;
	uint8_t v = 0;

	if (get_str(peer, IPC_A_PEER_ID, p->peer_id, sizeof(p->peer_id)) < 0 ||
	    get_str(peer, IPC_A_PEER_ID_PATTERN, p->peer_pattern, sizeof(p->peer_pattern)) < 0 ||
	    get_str(peer, IPC_A_PEER_CA_DN, p->peer_ca, sizeof(p->peer_ca)) < 0)
		return -ENAMETOOLONG;
	while (wire_next(peer, IPC_A_PEER_SPKI_SHA256, &cursor, &at) == 1) {
		if (p->n_spki == LATCH_SPKI_MAX) {
			snprintf(err, el, "at most %d pinned keys", LATCH_SPKI_MAX);
			return -E2BIG;
		}
		memcpy(p->spki[p->n_spki++], at.val, IPC_SHA256_LEN);
	}
	p->btns = wire_get_u8(peer, IPC_A_PEER_BTNS, &v) == 0 && v;
	v = 0;
	p->leap_of_faith = wire_get_u8(peer, IPC_A_PEER_LEAP_OF_FAITH, &v) == 0 && v;
	return 0;
}

static void get_protection(const struct wire_attrs *prot, struct latch_policy *p)
{
	uint8_t v;

	if (wire_get_u8(prot, IPC_A_PROT_ENCRYPT, &v) == 0)
		p->encrypt = v;
	if (wire_get_u8(prot, IPC_A_PROT_INTEGRITY, &v) == 0)
		p->integrity = v;
	if (wire_get_u8(prot, IPC_A_PROT_MODE, &v) == 0)
		p->mode = v;
	wire_get_u16(prot, IPC_A_PROT_ENCR_MIN_BITS, &p->encr_min_bits);
	wire_get_u16(prot, IPC_A_PROT_INTEG_MIN_BITS, &p->integ_min_bits);
	if (wire_get_u8(prot, IPC_A_PROT_EXACT, &v) == 0)
		p->exact = v;
	if (wire_get_u8(prot, IPC_A_PROT_ALLOW_UNLATCHED, &v) == 0)
		p->allow_unlatched = v;
	if (wire_get_u8(prot, IPC_A_PROT_ON_BREAK, &v) == 0)
		p->on_break = v;
}

static int check_policy(const struct latch_policy *p, char *err, size_t el)
{
	if (p->encrypt > IPC_WANT_YES || p->integrity > IPC_WANT_YES) {
		snprintf(err, el,
			 "PROTECTION: ENCRYPT/INTEGRITY must be 0 (any), 1 (no) or 2 (yes)");
		return -EINVAL;
	}
	if (p->mode > IPC_MODE_TUNNEL) {
		snprintf(err, el, "PROTECTION: unknown MODE %u", p->mode);
		return -EINVAL;
	}
	if (p->on_break != IPC_ON_BREAK_RESET && p->on_break != IPC_ON_BREAK_WAIT) {
		snprintf(err, el, "PROTECTION: unknown ON_BREAK %u", p->on_break);
		return -EINVAL;
	}
	if (p->integrity == IPC_WANT_NO) {
		snprintf(err, el,
			 "PROTECTION: ESP always protects integrity; INTEGRITY=no is refused");
		return -EOPNOTSUPP;
	}
	return 0;
}

int core_get_policy(const struct wire_attrs *a, struct latch_policy *ret, char *err, size_t el)
{
	struct latch_policy p = {
		.encrypt = IPC_WANT_YES, /* the system policy: confidentiality unless asked
					    otherwise */
		.integrity = IPC_WANT_YES,
		.mode = IPC_MODE_ANY,
		.on_break = IPC_ON_BREAK_RESET,
	};
	struct wire_attrs nest;
	const char *name;
	int r;

	if (wire_get_nested(a, IPC_A_PROTECTION, &nest) == 0) {
		/* A policy name is refused, not ignored, until latchd has policies to name. */
		if (wire_get_str(&nest, IPC_A_PROT_POLICY_NAME, &name) == 0)
			return FAIL(-EOPNOTSUPP,
				    "PROTECTION: latchd has no administrator policy named '%s'",
				    name);
		get_protection(&nest, &p);
	}
	if (wire_get_nested(a, IPC_A_PEER, &nest) == 0) {
		r = get_peer(&nest, &p, err, el);
		if (r < 0) {
			if (!err[0])
				snprintf(err, el, "PEER: a name is too long");
			return r;
		}
	}
	r = check_policy(&p, err, el);
	if (r < 0)
		return r;
	*ret = p;
	return 0;
}
