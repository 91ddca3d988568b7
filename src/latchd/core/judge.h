/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_JUDGE_H
#define LATCH_LATCHD_JUDGE_H

/*
 * Judging a child SA against a latch (RFC 5660 §2.3, R14, R29-R30; BTNS:
 * RFC 5386, RFC 5387 §5.7): may this SA carry this latch's flow? Pure: no
 * struct core, no I/O, no log, no charon or data plane. Everything the core
 * knows beside the latch and the SA comes in struct judge_facts; the answer
 * is a struct judge_verdict: the errno the core acts on, the rule that
 * decided it, and the reason in words. test/unit/test-judge.c holds one
 * row per rule.
 *
 * The order of the rules is part of the verdict: an established latch meets
 * another peer at once, before any certificate is read; a BTNS peer is never
 * judged as an authenticated one; the peer is judged before the protection,
 * the protection before congruence with what was latched.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "latchd/charon/sacache.h"
#include "latchd/cred/ident.h"
#include "latchd/db/latchdb.h"

#define JUDGE_WHY_MAX	 256
#define JUDGE_SPKI_SHORT 17 /* the first 8 bytes of a key's hash in hex, for people */

/* Which rule decided. */
enum judge_rule {
	JUDGE_OK,
	JUDGE_OTHER_PEER,    /* an established latch's flow under another identity (R14, R29) */
	JUDGE_UNREAD,	     /* the peer's certificate is still being read: -EAGAIN */
	JUDGE_BTNS_UNWANTED, /* a BTNS peer, and the token wants an authenticated one */
	JUDGE_BTNS_NO_KEY,   /* a BTNS peer whose key cannot be told */
	JUDGE_BTNS_PEER_ID,  /* a BTNS peer, not the token's peer id */
	JUDGE_BTNS_PATTERN,  /* a BTNS peer outside the token's pattern */
	JUDGE_BTNS_SPKI,     /* a BTNS peer's key is none of the token's */
	JUDGE_PIN_NO_STORE,  /* leap of faith without a pin store */
	JUDGE_PIN_FULL,	     /* leap of faith, first contact, and no room for its pin */
	JUDGE_PIN_OTHER_KEY, /* leap of faith: another key than the one pinned */
	JUDGE_NOT_OUR_CA,    /* a certificate from no CA of latchd's */
	JUDGE_PEER_ID,	     /* not the token's peer id (nor a name its certificate vouches for) */
	JUDGE_PEER_PATTERN,  /* outside the token's pattern */
	JUDGE_PEER_CA,	     /* not issued by the token's CA */
	JUDGE_PEER_SPKI,     /* the peer's key is none of the token's */
	JUDGE_NO_ENCRYPTION, /* encryption asked for, the SA has none: -EPROTO */
	JUDGE_ENCR_BITS,     /* a shorter cipher key than asked: -EPROTO */
	JUDGE_INTEG_BITS,    /* a shorter integrity key than asked: -EPROTO */
	JUDGE_MODE,	     /* tunnel asked, transport given or the reverse: -EPROTO */
	JUDGE_OTHER_LOCAL,   /* established: another local identity than latched (R3, R14) */
	JUDGE_OTHER_KEY,     /* established: another key for the latched peer (R14) */
	JUDGE_OTHER_PROTECTION, /* established: other algorithms or mode than latched (R14) */
	JUDGE_RULES,		/* how many: keep it last */
};

/* What the core knows beside the latch and the SA. */
struct judge_facts {
	/* The peer of the SA's IKE_SA, as latchd read it from charon. */
	bool ready;		      /* false: its certificate is still being read */
	const struct cert_info *cert; /* NULL: none (PSK, or a BTNS key that cannot be told) */
	const char *no_key;	      /* BTNS without cert: why no key is told (NULL: unknown) */
	/* latchd's trust: the subjects of its CAs (none: any CA charon trusts). */
	const char *const *cas;
	unsigned n_cas;
	const char *btns_anchor; /* the BTNS anchor's subject; NULL: BTNS is off */
	/* Leap of faith: what the pin store holds under judge_pin_name(). */
	bool pin_store;	       /* there is one (a data directory) */
	bool pins_full;	       /* it holds PINS_MAX pins */
	const uint8_t *pinned; /* the key pinned under the name; NULL: first contact */
};

struct judge_verdict {
	int err; /* 0 acceptable; -EACCES a peer refused; -EPROTO protection; -EAGAIN not yet */
	enum judge_rule rule;
	char why[JUDGE_WHY_MAX]; /* "" when acceptable */
};

/*
 * Judge child ch of IKE_SA ike for latch l (its policy and, once
 * ESTABLISHED or BROKEN, what it latched). Returns v->err.
 */
int judge_sa(const struct latch *l, const struct sa_ike *ike, const struct sa_child *ch,
	     const struct judge_facts *f, struct judge_verdict *v);

/*
 * Is ike a BTNS IKE_SA (never an authenticated peer): either identity in the
 * BTNS namespace, or the peer's certificate from the BTNS anchor?
 */
bool judge_btns_peer(const char *btns_anchor, const struct sa_ike *ike,
		     const struct cert_info *cert);
/* Does policy p admit BTNS peers (BTNS on, and nothing it names outside the namespace)? */
bool judge_btns_wanted(const char *btns_anchor, const struct latch_policy *p);
/* Can ch carry l as its own SA? An exact latch needs a child of its flow alone (R19). */
bool judge_exact_carrier(const struct latch *l, const struct sa_child *ch);

/* The name a leap-of-faith pin is kept under: the token's peer id, else the peer's address. */
void judge_pin_name(const struct latch *l, char *out, size_t len);
/* The first 8 bytes of a key's SHA-256 in hex: how logs and reasons show a key. */
void judge_spki_short(const uint8_t *spki, char out[JUDGE_SPKI_SHORT]);

#endif
