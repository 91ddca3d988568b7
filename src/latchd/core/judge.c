/* SPDX-License-Identifier: MIT */
/*
 * Judging a child SA against a latch (judge.h): the peer, then the
 * protection, then, for an established latch, congruence with what it
 * latched. Pure; every rule's row is in test/unit/test-judge.c.
 */
#include "latchd/core/judge.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "latchd/cred/btns.h"
#include "latchd/db/pins.h"

__attribute__((format(printf, 4, 5))) static int refuse(struct judge_verdict *v, int err,
							enum judge_rule rule, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->why, sizeof(v->why), fmt, ap);
	va_end(ap);
	v->err = err;
	v->rule = rule;
	return err;
}

void judge_spki_short(const uint8_t *spki, char out[JUDGE_SPKI_SHORT])
{
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", spki[i]);
}

/* ---------------------------------------------------------------- BTNS */

bool judge_btns_peer(const char *btns_anchor, const struct sa_ike *ike,
		     const struct cert_info *cert)
{
	return btns_namespace(ike->local_id) || btns_namespace(ike->remote_id) ||
	       (cert && btns_anchor && ident_dn_equal(cert->issuer, btns_anchor));
}

bool judge_btns_wanted(const char *btns_anchor, const struct latch_policy *p)
{
	if (!btns_anchor || !p->btns)
		return false;
	if (p->peer_ca[0] && !ident_dn_equal(p->peer_ca, btns_anchor))
		return false;
	if (p->peer_pattern[0] && !btns_namespace(p->peer_pattern))
		return false;
	/* With leap of faith, the peer id is the name the key is pinned under. */
	return !p->peer_id[0] || p->leap_of_faith || btns_namespace(p->peer_id);
}

void judge_pin_name(const struct latch *l, char *out, size_t len)
{
	if (l->pol->peer_id[0])
		snprintf(out, len, "%s", l->pol->peer_id);
	else if (!inet_ntop(l->flow.family, l->flow.raddr.b, out, (socklen_t)len))
		snprintf(out, len, "?");
}

static int judge_pin(const struct latch *l, const struct judge_facts *f, struct judge_verdict *v)
{
	char name[PINS_NAME_MAX + 1], got[JUDGE_SPKI_SHORT], want[JUDGE_SPKI_SHORT];

	if (!l->pol->leap_of_faith)
		return 0;
	if (!f->pin_store)
		return refuse(v, -EACCES, JUDGE_PIN_NO_STORE,
			      "leap of faith needs a pin store (data_dir), and there is none");
	if (!f->pinned && f->pins_full)
		return refuse(v, -EACCES, JUDGE_PIN_FULL,
			      "leap of faith: no room for another pin (%d)", PINS_MAX);
	if (!f->pinned || !memcmp(f->pinned, f->cert->spki_sha256, IPC_SHA256_LEN))
		return 0;
	judge_pin_name(l, name, sizeof(name));
	judge_spki_short(f->cert->spki_sha256, got);
	judge_spki_short(f->pinned, want);
	return refuse(v, -EACCES, JUDGE_PIN_OTHER_KEY,
		      "leap of faith: '%.200s' presented another key (pubKeyID %s…) than the one "
		      "pinned on first contact (%s…); if it really changed: latchctl pins forget "
		      "%.200s",
		      name, got, want, name);
}

/* No key pinned by the token, or cert's among them. */
static bool spki_listed(const struct latch_policy *p, const struct cert_info *cert)
{
	for (unsigned i = 0; cert && i < p->n_spki; i++) {
		if (!memcmp(p->spki[i], cert->spki_sha256, IPC_SHA256_LEN))
			return true;
	}
	return p->n_spki == 0;
}

/* A BTNS peer: never judged as an authenticated one (RFC 5386). */
static int judge_btns(const struct latch *l, const struct sa_ike *ike, const struct judge_facts *f,
		      struct judge_verdict *v)
{
	const struct latch_policy *p = l->pol;

	if (!judge_btns_wanted(f->btns_anchor, p))
		return refuse(v, -EACCES, JUDGE_BTNS_UNWANTED,
			      "the peer '%s' is unauthenticated (BTNS): the token requires an "
			      "authenticated peer",
			      ike->remote_id);
	if (!f->cert)
		return refuse(v, -EACCES, JUDGE_BTNS_NO_KEY,
			      "the BTNS peer '%s' has no key latchd can tell: %s", ike->remote_id,
			      f->no_key ? f->no_key : "no certificate");
	if (p->peer_id[0] && !p->leap_of_faith && !ident_dn_equal(p->peer_id, ike->remote_id))
		return refuse(v, -EACCES, JUDGE_BTNS_PEER_ID, "the BTNS peer is '%s', not '%s'",
			      ike->remote_id, p->peer_id);
	if (p->peer_pattern[0] && !ident_id_match(p->peer_pattern, ike->remote_id))
		return refuse(v, -EACCES, JUDGE_BTNS_PATTERN,
			      "the BTNS peer '%s' does not match '%s'", ike->remote_id,
			      p->peer_pattern);
	if (!spki_listed(p, f->cert))
		return refuse(v, -EACCES, JUDGE_BTNS_SPKI,
			      "the BTNS peer's public key is not the one pinned");
	return judge_pin(l, f, v);
}

/* ---------------------------------------------------------------- authenticated peers */

static bool is_our_ca(const struct judge_facts *f, const char *issuer)
{
	for (unsigned i = 0; i < f->n_cas; i++) {
		if (ident_dn_equal(f->cas[i], issuer))
			return true;
	}
	return false;
}

static int judge_peer(const struct latch_policy *p, const struct sa_ike *ike,
		      const struct judge_facts *f, struct judge_verdict *v)
{
	const struct cert_info *cert = f->cert;

	if (cert && f->n_cas && !is_our_ca(f, cert->issuer))
		return refuse(v, -EACCES, JUDGE_NOT_OUR_CA,
			      "the peer's certificate comes from '%s', no CA of latchd's",
			      cert->issuer);
	if (p->peer_id[0] && strcmp(ike->remote_id, p->peer_id) &&
	    !(cert && ident_cert_vouches_for(cert, p->peer_id)))
		return refuse(v, -EACCES, JUDGE_PEER_ID,
			      "the peer authenticated as '%s', not as '%s'", ike->remote_id,
			      p->peer_id);
	if (p->peer_pattern[0] && !ident_id_match(p->peer_pattern, ike->remote_id))
		return refuse(v, -EACCES, JUDGE_PEER_PATTERN, "the peer '%s' does not match '%s'",
			      ike->remote_id, p->peer_pattern);
	if (p->peer_ca[0] && !(cert && ident_dn_equal(cert->issuer, p->peer_ca)))
		return refuse(v, -EACCES, JUDGE_PEER_CA,
			      "the peer's certificate was not issued by '%s'", p->peer_ca);
	if (!spki_listed(p, cert))
		return refuse(v, -EACCES, JUDGE_PEER_SPKI,
			      "the peer's public key is not the one pinned");
	return 0;
}

/* ---------------------------------------------------------------- protection */

static int judge_protection(const struct latch_policy *p, const struct sa_child *ch,
			    struct judge_verdict *v)
{
	if (p->encrypt == IPC_WANT_YES && (!ch->encr[0] || !strncmp(ch->encr, "NULL", 4)))
		return refuse(v, -EPROTO, JUDGE_NO_ENCRYPTION, "the SA does not encrypt");
	if (p->encr_min_bits && ch->encr_bits < p->encr_min_bits)
		return refuse(v, -EPROTO, JUDGE_ENCR_BITS,
			      "the SA's cipher has %u bits, fewer than %u", ch->encr_bits,
			      p->encr_min_bits);
	if (p->integ_min_bits && ch->integ_bits < p->integ_min_bits)
		return refuse(v, -EPROTO, JUDGE_INTEG_BITS,
			      "the SA's integrity key has %u bits, fewer than %u", ch->integ_bits,
			      p->integ_min_bits);
	if ((p->mode == IPC_MODE_TUNNEL && !ch->tunnel) ||
	    (p->mode == IPC_MODE_TRANSPORT && ch->tunnel))
		return refuse(v, -EPROTO, JUDGE_MODE, "the SA is in %s mode",
			      ch->tunnel ? "tunnel" : "transport");
	return 0;
}

/*
 * An established latch also holds its SAs to what it latched (R14); its peer
 * identity was judged first, before any certificate was read (judge_sa).
 */
static int judge_congruent(const struct latch *l, const struct sa_ike *ike,
			   const struct sa_child *ch, const struct judge_facts *f,
			   struct judge_verdict *v)
{
	if (l->local->id[0] && strcmp(l->local->id, ike->local_id))
		return refuse(v, -EACCES, JUDGE_OTHER_LOCAL,
			      "an SA where we are '%s' covers the flow latched as '%s'",
			      ike->local_id,
			      l->local->id); /* R3: the local identity is latched too */
	if (l->remote->has_spki &&
	    (!f->cert || memcmp(l->remote->spki, f->cert->spki_sha256, IPC_SHA256_LEN)))
		return refuse(v, -EACCES, JUDGE_OTHER_KEY,
			      "an SA with another key for '%s' covers the flow", ike->remote_id);
	if (strcmp(l->sa.encr, ch->encr) || strcmp(l->sa.integ, ch->integ) ||
	    l->sa.tunnel != ch->tunnel)
		return refuse(v, -EACCES, JUDGE_OTHER_PROTECTION,
			      "an SA with other protection (%s) covers the flow", ch->encr);
	return 0;
}

int judge_sa(const struct latch *l, const struct sa_ike *ike, const struct sa_child *ch,
	     const struct judge_facts *f, struct judge_verdict *v)
{
	bool latched = l->state == IPC_STATE_ESTABLISHED || l->state == IPC_STATE_BROKEN;
	int r;

	*v = (struct judge_verdict){ .err = 0, .rule = JUDGE_OK };
	/* Another identity needs no certificate to be judged a conflict: at once. */
	if (latched && strcmp(l->remote->id, ike->remote_id))
		return refuse(v, -EACCES, JUDGE_OTHER_PEER,
			      "an SA with '%s' covers the flow latched to '%s'", ike->remote_id,
			      l->remote->id);
	if (!f->ready)
		return refuse(v, -EAGAIN, JUDGE_UNREAD, "the peer's certificate is being read");
	if (judge_btns_peer(f->btns_anchor, ike, f->cert))
		r = judge_btns(l, ike, f, v);
	else
		r = judge_peer(l->pol, ike, f, v);
	if (r == 0)
		r = judge_protection(l->pol, ch, v);
	if (r == 0 && latched)
		r = judge_congruent(l, ike, ch, f, v);
	return r;
}

bool judge_exact_carrier(const struct latch *l, const struct sa_child *ch)
{
	return !l->pol->exact || sacache_child_is_exact(ch, &l->flow);
}
