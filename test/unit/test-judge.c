/* SPDX-License-Identifier: MIT */
/*
 * The judge (src/latchd/core/judge.c): one row per rule of RFC 5660 and RFC
 * 5386/5387 that decides whether an SA may carry a latch's flow. A row is a
 * latch (its policy and, once established, what it latched), an SA (IKE and
 * child), what latchd read of the peer and knows itself (CAs, BTNS, pins),
 * and the verdict: errno, the rule that decided, a part of the reason.
 * Row names begin with the requirement of docs/conformance.md they show.
 */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "latchd/core/judge.h"

#define LAB_CA	 "C=CH, O=latch-lab, CN=latch-lab CA"
#define LAB_CA2	 "C=CH, O=latch-lab, CN=latch-lab CA 2"
#define OTHER_CA "C=CH, O=elsewhere, CN=other CA"
#define ANCHOR	 "O=BTNS, CN=BTNS anchor (its private key is public)"
#define B_DN	 "C=CH, O=latch-lab, CN=b.example"
#define BTNS_D	 "O=BTNS, CN=d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0"
#define BTNS_E	 "O=BTNS, CN=e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0"
#define BTNS_A	 "O=BTNS, CN=a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0" /* our own BTNS identity */
#define CBC	 "AES_CBC-128"
#define CBC256	 "AES_CBC-256"
#define HMAC	 "HMAC_SHA2_256_128"
#define HMAC512	 "HMAC_SHA2_512_256"

/* latchd's CAs: a row takes the first n_cas of them. */
static const char *const cas[] = { LAB_CA, LAB_CA2 };

/* Keys differ by their hash's first byte. */
static const struct cert_info cert_b = {
	.subject = B_DN,
	.issuer = LAB_CA,
	.sans = { "b.example" },
	.n_sans = 1,
	.spki_sha256 = { 0xb0 },
};
static const struct cert_info cert_b2 = {
	/* b's name, another key */
	.subject = B_DN, .issuer = LAB_CA,	  .sans = { "b.example" },
	.n_sans = 1,	 .spki_sha256 = { 0xb1 },
};
static const struct cert_info cert_c2 = {
	/* from latchd's second CA */
	.subject = "C=CH, O=latch-lab, CN=c.example",
	.issuer = LAB_CA2,
	.sans = { "c.example" },
	.n_sans = 1,
	.spki_sha256 = { 0xc0 },
};
static const struct cert_info cert_x = {
	/* from a CA that is not latchd's */
	.subject = "C=CH, O=elsewhere, CN=x.example",
	.issuer = OTHER_CA,
	.sans = { "b.example" },
	.n_sans = 1,
	.spki_sha256 = { 0xe1 },
};
static const struct cert_info cert_d = { .subject = BTNS_D,
					 .issuer = ANCHOR,
					 .spki_sha256 = { 0xd0 } };
static const struct cert_info cert_e = { .subject = BTNS_D,
					 .issuer = ANCHOR,
					 .spki_sha256 = { 0xe0 } };
static const struct cert_info cert_anchor_b = {
	/* anchor-issued, claiming b's name */
	.subject = B_DN, .issuer = ANCHOR,	  .sans = { "b.example" },
	.n_sans = 1,	 .spki_sha256 = { 0xf0 },
};

/* What the latch latched once ESTABLISHED (or BROKEN). */
struct latched {
	const char *peer, *local;
	const struct cert_info *key; /* NULL: no key latched (PSK) */
	const char *encr, *integ;
	bool tunnel;
};

struct row {
	const char *name;
	uint8_t state; /* 0: LARVAL */
	struct latch_policy pol;
	struct latched latched;
	bool no_family; /* the latch's flow has no address family (a pin name of "?") */
	struct sa_ike ike;
	struct sa_child ch;
	/* judge_facts */
	bool unread;
	const struct cert_info *cert;
	const char *no_key;
	unsigned n_cas;
	bool btns_off, no_pin_store, pins_full;
	const struct cert_info *pinned;
	/* the verdict */
	int err;
	enum judge_rule rule;
	const char *why; /* a part of the reason; NULL: not checked ("" when accepted) */
};

#define IKE(remote, local)                                                            \
	{                                                                             \
		.id = 7, .established = true, .remote_id = remote, .local_id = local, \
		.remote_host = "192.0.2.2", .local_host = "192.0.2.1",                \
	}
#define B_FROM_A IKE("b.example", "a.example")
#define CHILD(e, eb, i, ib, tun)                                                                 \
	{                                                                                        \
		.id = 9, .ike_id = 7, .installed = true, .encr = e, .encr_bits = eb, .integ = i, \
		.integ_bits = ib, .tunnel = tun,                                                 \
	}
#define CBC_CHILD CHILD(CBC, 128, HMAC, 256, false)
#define LATCHED_B                                                   \
	{                                                           \
		"b.example", "a.example", &cert_b, CBC, HMAC, false \
	}
#define LATCHED_D                                         \
	{                                                 \
		BTNS_D, BTNS_A, &cert_d, CBC, HMAC, false \
	}
#define EST IPC_STATE_ESTABLISHED
#define KEY(k)    \
	{         \
		k \
	}

static const struct row rows[] = {
	/* ---- authenticated peers: latchd's CAs */
	{ "R34 any peer, certificate from latchd's CA: accepted", .ike = B_FROM_A, .ch = CBC_CHILD,
	  .cert = &cert_b, .n_cas = 1, .rule = JUDGE_OK },
	{ "R34 certificate from latchd's second CA: accepted", .ike = IKE("c.example", "a.example"),
	  .ch = CBC_CHILD, .cert = &cert_c2, .n_cas = 2, .rule = JUDGE_OK },
	{ "R34 certificate from no CA of latchd's", .ike = B_FROM_A, .ch = CBC_CHILD,
	  .cert = &cert_x, .n_cas = 2, .err = -EACCES, .rule = JUDGE_NOT_OUR_CA,
	  .why = "the peer's certificate comes from '" OTHER_CA "', no CA of latchd's" },
	{ "R34 no CA configured: any issuer charon trusts", .ike = B_FROM_A, .ch = CBC_CHILD,
	  .cert = &cert_x, .n_cas = 0, .rule = JUDGE_OK },
	{ "R34 PSK peer (no certificate): no CA to check", .ike = B_FROM_A, .ch = CBC_CHILD,
	  .n_cas = 1, .rule = JUDGE_OK },
	/* ---- authenticated peers: the token's peer id, pattern, CA, keys (R12, R34) */
	{ "R34 peer id: the IKE identity", .pol = { .peer_id = "b.example" }, .ike = B_FROM_A,
	  .ch = CBC_CHILD, .cert = &cert_b, .n_cas = 1, .rule = JUDGE_OK },
	{ "R34 peer id: a name the certificate vouches for", .pol = { .peer_id = B_DN },
	  .ike = B_FROM_A, .ch = CBC_CHILD, .cert = &cert_b, .n_cas = 1, .rule = JUDGE_OK },
	{ "R34 peer id: another peer", .pol = { .peer_id = "c.example" }, .ike = B_FROM_A,
	  .ch = CBC_CHILD, .cert = &cert_b, .n_cas = 1, .err = -EACCES, .rule = JUDGE_PEER_ID,
	  .why = "the peer authenticated as 'b.example', not as 'c.example'" },
	{ "R34 peer id: a PSK peer has no certificate to vouch", .pol = { .peer_id = B_DN },
	  .ike = B_FROM_A, .ch = CBC_CHILD, .err = -EACCES, .rule = JUDGE_PEER_ID },
	{ "R34 peer pattern matched", .pol = { .peer_pattern = "*.example" }, .ike = B_FROM_A,
	  .ch = CBC_CHILD, .cert = &cert_b, .n_cas = 1, .rule = JUDGE_OK },
	{ "R34 peer pattern: outside it", .pol = { .peer_pattern = "*.example.org" },
	  .ike = B_FROM_A, .ch = CBC_CHILD, .cert = &cert_b, .n_cas = 1, .err = -EACCES,
	  .rule = JUDGE_PEER_PATTERN,
	  .why = "the peer 'b.example' does not match '*.example.org'" },
	{ "R34 peer CA: issued by it", .pol = { .peer_ca = LAB_CA }, .ike = B_FROM_A,
	  .ch = CBC_CHILD, .cert = &cert_b, .n_cas = 2, .rule = JUDGE_OK },
	{ "R34 peer CA: issued by another of latchd's CAs", .pol = { .peer_ca = LAB_CA },
	  .ike = IKE("c.example", "a.example"), .ch = CBC_CHILD, .cert = &cert_c2, .n_cas = 2,
	  .err = -EACCES, .rule = JUDGE_PEER_CA,
	  .why = "the peer's certificate was not issued by '" LAB_CA "'" },
	{ "R34 peer CA: a PSK peer has no certificate", .pol = { .peer_ca = LAB_CA },
	  .ike = B_FROM_A, .ch = CBC_CHILD, .err = -EACCES, .rule = JUDGE_PEER_CA },
	{ "R34 pinned keys: the peer's among them",
	  .pol = { .spki = { KEY(0x11), KEY(0xb0) }, .n_spki = 2 }, .ike = B_FROM_A,
	  .ch = CBC_CHILD, .cert = &cert_b, .n_cas = 1, .rule = JUDGE_OK },
	{ "R34 pinned keys: another key", .pol = { .spki = { KEY(0x11), KEY(0xb1) }, .n_spki = 2 },
	  .ike = B_FROM_A, .ch = CBC_CHILD, .cert = &cert_b, .n_cas = 1, .err = -EACCES,
	  .rule = JUDGE_PEER_SPKI, .why = "the peer's public key is not the one pinned" },
	{ "R34 pinned keys: a PSK peer has none", .pol = { .spki = { KEY(0xb0) }, .n_spki = 1 },
	  .ike = B_FROM_A, .ch = CBC_CHILD, .err = -EACCES, .rule = JUDGE_PEER_SPKI },
	/* ---- when a peer can be judged */
	{ "R29 certificate not read yet: the SA waits", .ike = B_FROM_A, .ch = CBC_CHILD,
	  .unread = true, .err = -EAGAIN, .rule = JUDGE_UNREAD },
	{ "R29 established: another identity conflicts before its certificate is read",
	  .state = EST, .latched = LATCHED_B, .ike = IKE("c.example", "a.example"), .ch = CBC_CHILD,
	  .unread = true, .err = -EACCES, .rule = JUDGE_OTHER_PEER,
	  .why = "an SA with 'c.example' covers the flow latched to 'b.example'" },
	{ "R22 broken: another identity is still a conflict", .state = IPC_STATE_BROKEN,
	  .latched = LATCHED_B, .ike = IKE("c.example", "a.example"), .ch = CBC_CHILD,
	  .cert = &cert_c2, .n_cas = 2, .err = -EACCES, .rule = JUDGE_OTHER_PEER },
	{ "R29 pending: another identity is judged by the token, not as a conflict",
	  .latched = LATCHED_B, .ike = IKE("c.example", "a.example"), .ch = CBC_CHILD,
	  .cert = &cert_c2, .n_cas = 2, .rule = JUDGE_OK },
	/* ---- protection (R12, R19: QoP) */
	{ "R12 encryption asked: a NULL cipher", .pol = { .encrypt = IPC_WANT_YES },
	  .ike = B_FROM_A, .ch = CHILD("NULL", 0, HMAC, 256, false), .cert = &cert_b, .n_cas = 1,
	  .err = -EPROTO, .rule = JUDGE_NO_ENCRYPTION, .why = "the SA does not encrypt" },
	{ "R12 encryption asked: no cipher at all", .pol = { .encrypt = IPC_WANT_YES },
	  .ike = B_FROM_A, .ch = CHILD("", 0, HMAC, 256, false), .cert = &cert_b, .n_cas = 1,
	  .err = -EPROTO, .rule = JUDGE_NO_ENCRYPTION },
	{ "R12 encryption asked: AES", .pol = { .encrypt = IPC_WANT_YES }, .ike = B_FROM_A,
	  .ch = CBC_CHILD, .cert = &cert_b, .n_cas = 1, .rule = JUDGE_OK },
	{ "R12 encryption not asked: a NULL cipher passes", .ike = B_FROM_A,
	  .ch = CHILD("NULL", 0, HMAC, 256, false), .cert = &cert_b, .n_cas = 1, .rule = JUDGE_OK },
	{ "R19 cipher key shorter than asked", .pol = { .encr_min_bits = 256 }, .ike = B_FROM_A,
	  .ch = CBC_CHILD, .cert = &cert_b, .n_cas = 1, .err = -EPROTO, .rule = JUDGE_ENCR_BITS,
	  .why = "the SA's cipher has 128 bits, fewer than 256" },
	{ "R19 cipher key exactly as long as asked", .pol = { .encr_min_bits = 128 },
	  .ike = B_FROM_A, .ch = CBC_CHILD, .cert = &cert_b, .n_cas = 1, .rule = JUDGE_OK },
	{ "R19 integrity key shorter than asked", .pol = { .integ_min_bits = 512 }, .ike = B_FROM_A,
	  .ch = CBC_CHILD, .cert = &cert_b, .n_cas = 1, .err = -EPROTO, .rule = JUDGE_INTEG_BITS,
	  .why = "the SA's integrity key has 256 bits, fewer than 512" },
	{ "R19 AEAD: the cipher's key is the integrity key",
	  .pol = { .encr_min_bits = 256, .integ_min_bits = 256 }, .ike = B_FROM_A,
	  .ch = CHILD("AES_GCM_16-256", 256, "", 256, false), .cert = &cert_b, .n_cas = 1,
	  .rule = JUDGE_OK },
	{ "R12 tunnel asked, transport given", .pol = { .mode = IPC_MODE_TUNNEL }, .ike = B_FROM_A,
	  .ch = CBC_CHILD, .cert = &cert_b, .n_cas = 1, .err = -EPROTO, .rule = JUDGE_MODE,
	  .why = "the SA is in transport mode" },
	{ "R12 transport asked, tunnel given", .pol = { .mode = IPC_MODE_TRANSPORT },
	  .ike = B_FROM_A, .ch = CHILD(CBC, 128, HMAC, 256, true), .cert = &cert_b, .n_cas = 1,
	  .err = -EPROTO, .rule = JUDGE_MODE, .why = "the SA is in tunnel mode" },
	{ "R12 transport asked and given", .pol = { .mode = IPC_MODE_TRANSPORT }, .ike = B_FROM_A,
	  .ch = CBC_CHILD, .cert = &cert_b, .n_cas = 1, .rule = JUDGE_OK },
	{ "R12 tunnel asked and given", .pol = { .mode = IPC_MODE_TUNNEL }, .ike = B_FROM_A,
	  .ch = CHILD(CBC, 128, HMAC, 256, true), .cert = &cert_b, .n_cas = 1, .rule = JUDGE_OK },
	{ "R34 the peer is judged before the protection",
	  .pol = { .peer_id = "c.example", .encrypt = IPC_WANT_YES }, .ike = B_FROM_A,
	  .ch = CHILD("NULL", 0, HMAC, 256, false), .cert = &cert_b, .n_cas = 1, .err = -EACCES,
	  .rule = JUDGE_PEER_ID },
	/* ---- established latches: congruence with what was latched */
	{ "R14 established: the same peer, key and protection (a rekey)", .state = EST,
	  .latched = LATCHED_B, .ike = B_FROM_A, .ch = CBC_CHILD, .cert = &cert_b, .n_cas = 1,
	  .rule = JUDGE_OK },
	{ "R22 broken: a congruent SA may restore it", .state = IPC_STATE_BROKEN,
	  .latched = LATCHED_B, .ike = B_FROM_A, .ch = CBC_CHILD, .cert = &cert_b, .n_cas = 1,
	  .rule = JUDGE_OK },
	{ "R3 established: another local identity", .state = EST, .latched = LATCHED_B,
	  .ike = IKE("b.example", "a2.example"), .ch = CBC_CHILD, .cert = &cert_b, .n_cas = 1,
	  .err = -EACCES, .rule = JUDGE_OTHER_LOCAL,
	  .why = "an SA where we are 'a2.example' covers the flow latched as 'a.example'" },
	{ "R3 established without a local identity latched: any", .state = EST,
	  .latched = { "b.example", "", &cert_b, CBC, HMAC, false },
	  .ike = IKE("b.example", "a2.example"), .ch = CBC_CHILD, .cert = &cert_b, .n_cas = 1,
	  .rule = JUDGE_OK },
	{ "R14 established: the same name with another key", .state = EST, .latched = LATCHED_B,
	  .ike = B_FROM_A, .ch = CBC_CHILD, .cert = &cert_b2, .n_cas = 1, .err = -EACCES,
	  .rule = JUDGE_OTHER_KEY,
	  .why = "an SA with another key for 'b.example' covers the flow" },
	{ "R14 established: a key latched, the SA's peer has none", .state = EST,
	  .latched = LATCHED_B, .ike = B_FROM_A, .ch = CBC_CHILD, .err = -EACCES,
	  .rule = JUDGE_OTHER_KEY },
	{ "R14 established without a key latched (PSK): no key to hold", .state = EST,
	  .latched = { "b.example", "a.example", NULL, CBC, HMAC, false }, .ike = B_FROM_A,
	  .ch = CBC_CHILD, .cert = &cert_b, .n_cas = 1, .rule = JUDGE_OK },
	{ "R14 established: another cipher", .state = EST, .latched = LATCHED_B, .ike = B_FROM_A,
	  .ch = CHILD(CBC256, 256, HMAC, 256, false), .cert = &cert_b, .n_cas = 1, .err = -EACCES,
	  .rule = JUDGE_OTHER_PROTECTION,
	  .why = "an SA with other protection (" CBC256 ") covers the flow" },
	{ "R14 established: another integrity algorithm", .state = EST, .latched = LATCHED_B,
	  .ike = B_FROM_A, .ch = CHILD(CBC, 128, HMAC512, 512, false), .cert = &cert_b, .n_cas = 1,
	  .err = -EACCES, .rule = JUDGE_OTHER_PROTECTION },
	{ "R14 established: tunnel instead of transport", .state = EST, .latched = LATCHED_B,
	  .ike = B_FROM_A, .ch = CHILD(CBC, 128, HMAC, 256, true), .cert = &cert_b, .n_cas = 1,
	  .err = -EACCES, .rule = JUDGE_OTHER_PROTECTION },
	{ "R14 established: the token's floor before congruence", .state = EST,
	  .pol = { .encr_min_bits = 256 }, .latched = LATCHED_B, .ike = B_FROM_A,
	  .ch = CHILD(CBC, 128, HMAC512, 512, false), .cert = &cert_b, .n_cas = 1, .err = -EPROTO,
	  .rule = JUDGE_ENCR_BITS },
	{ "R14 pending: nothing latched to hold the SA to", .latched = LATCHED_B,
	  .ike = IKE("b.example", "a2.example"), .ch = CHILD(CBC256, 256, HMAC, 256, true),
	  .cert = &cert_b2, .n_cas = 1, .rule = JUDGE_OK },
	/* ---- BTNS peers: never authenticated (RFC 5386) */
	{ "BTNS a peer in the BTNS namespace, the token wants an authenticated one",
	  .ike = IKE(BTNS_D, "a.example"), .ch = CBC_CHILD, .cert = &cert_d, .n_cas = 1,
	  .err = -EACCES, .rule = JUDGE_BTNS_UNWANTED,
	  .why = "the peer '" BTNS_D "' is unauthenticated (BTNS): the token requires an "
		 "authenticated peer" },
	{ "BTNS an SA of our BTNS identity is BTNS whatever the peer's name",
	  .pol = { .peer_id = "b.example" }, .ike = IKE("b.example", BTNS_A), .ch = CBC_CHILD,
	  .cert = &cert_b, .n_cas = 1, .err = -EACCES, .rule = JUDGE_BTNS_UNWANTED },
	{ "BTNS an anchor-issued certificate under b's name is never b",
	  .pol = { .peer_id = "b.example" }, .ike = B_FROM_A, .ch = CBC_CHILD,
	  .cert = &cert_anchor_b, .n_cas = 0, .err = -EACCES, .rule = JUDGE_BTNS_UNWANTED },
	{ "BTNS off: a peer in the BTNS namespace is refused, even for a BTNS token",
	  .pol = { .btns = true }, .ike = IKE(BTNS_D, "a.example"), .ch = CBC_CHILD,
	  .cert = &cert_d, .n_cas = 1, .btns_off = true, .err = -EACCES,
	  .rule = JUDGE_BTNS_UNWANTED },
	{ "BTNS off: an anchor-issued certificate is from no CA of latchd's",
	  .pol = { .peer_id = "b.example" }, .ike = B_FROM_A, .ch = CBC_CHILD,
	  .cert = &cert_anchor_b, .n_cas = 1, .btns_off = true, .err = -EACCES,
	  .rule = JUDGE_NOT_OUR_CA },
	{ "BTNS a BTNS token accepts a BTNS peer", .pol = { .btns = true },
	  .ike = IKE(BTNS_D, BTNS_A), .ch = CBC_CHILD, .cert = &cert_d, .n_cas = 1,
	  .rule = JUDGE_OK },
	{ "BTNS a BTNS token naming another CA than the anchor",
	  .pol = { .btns = true, .peer_ca = LAB_CA }, .ike = IKE(BTNS_D, BTNS_A), .ch = CBC_CHILD,
	  .cert = &cert_d, .n_cas = 1, .err = -EACCES, .rule = JUDGE_BTNS_UNWANTED },
	{ "BTNS a BTNS token naming the anchor as its CA",
	  .pol = { .btns = true, .peer_ca = ANCHOR }, .ike = IKE(BTNS_D, BTNS_A), .ch = CBC_CHILD,
	  .cert = &cert_d, .n_cas = 1, .rule = JUDGE_OK },
	{ "BTNS a BTNS token with a pattern outside the namespace",
	  .pol = { .btns = true, .peer_pattern = "*.example" }, .ike = IKE(BTNS_D, BTNS_A),
	  .ch = CBC_CHILD, .cert = &cert_d, .n_cas = 1, .err = -EACCES,
	  .rule = JUDGE_BTNS_UNWANTED },
	{ "BTNS a BTNS pattern the peer matches",
	  .pol = { .btns = true, .peer_pattern = "O=BTNS, CN=d0*" }, .ike = IKE(BTNS_D, BTNS_A),
	  .ch = CBC_CHILD, .cert = &cert_d, .n_cas = 1, .rule = JUDGE_OK },
	{ "BTNS a BTNS pattern the peer does not match",
	  .pol = { .btns = true, .peer_pattern = "O=BTNS, CN=e0*" }, .ike = IKE(BTNS_D, BTNS_A),
	  .ch = CBC_CHILD, .cert = &cert_d, .n_cas = 1, .err = -EACCES, .rule = JUDGE_BTNS_PATTERN,
	  .why = "the BTNS peer '" BTNS_D "' does not match 'O=BTNS, CN=e0*'" },
	{ "BTNS a BTNS token naming an authenticated peer (no leap of faith)",
	  .pol = { .btns = true, .peer_id = "b.example" }, .ike = IKE(BTNS_D, BTNS_A),
	  .ch = CBC_CHILD, .cert = &cert_d, .n_cas = 1, .err = -EACCES,
	  .rule = JUDGE_BTNS_UNWANTED },
	{ "BTNS a BTNS token naming the BTNS peer", .pol = { .btns = true, .peer_id = BTNS_D },
	  .ike = IKE(BTNS_D, BTNS_A), .ch = CBC_CHILD, .cert = &cert_d, .n_cas = 1,
	  .rule = JUDGE_OK },
	{ "BTNS a BTNS token naming another BTNS peer", .pol = { .btns = true, .peer_id = BTNS_E },
	  .ike = IKE(BTNS_D, BTNS_A), .ch = CBC_CHILD, .cert = &cert_d, .n_cas = 1, .err = -EACCES,
	  .rule = JUDGE_BTNS_PEER_ID, .why = "the BTNS peer is '" BTNS_D "', not '" BTNS_E "'" },
	{ "BTNS a peer whose key cannot be told", .pol = { .btns = true },
	  .ike = IKE(BTNS_D, BTNS_A), .ch = CBC_CHILD, .no_key = "two keys presented that name",
	  .err = -EACCES, .rule = JUDGE_BTNS_NO_KEY,
	  .why = "the BTNS peer '" BTNS_D "' has no key latchd can tell: two keys presented "
		 "that name" },
	{ "BTNS a peer with no key and no reason known", .pol = { .btns = true },
	  .ike = IKE(BTNS_D, BTNS_A), .ch = CBC_CHILD, .err = -EACCES, .rule = JUDGE_BTNS_NO_KEY,
	  .why = "has no key latchd can tell: no certificate" },
	{ "BTNS pinned keys: the BTNS peer's among them",
	  .pol = { .btns = true, .spki = { KEY(0xd0) }, .n_spki = 1 }, .ike = IKE(BTNS_D, BTNS_A),
	  .ch = CBC_CHILD, .cert = &cert_d, .n_cas = 1, .rule = JUDGE_OK },
	{ "BTNS pinned keys: another key",
	  .pol = { .btns = true, .spki = { KEY(0xe0) }, .n_spki = 1 }, .ike = IKE(BTNS_D, BTNS_A),
	  .ch = CBC_CHILD, .cert = &cert_d, .n_cas = 1, .err = -EACCES, .rule = JUDGE_BTNS_SPKI,
	  .why = "the BTNS peer's public key is not the one pinned" },
	{ "BTNS a BTNS peer is held to the token's protection too",
	  .pol = { .btns = true, .encrypt = IPC_WANT_YES }, .ike = IKE(BTNS_D, BTNS_A),
	  .ch = CHILD("NULL", 0, HMAC, 256, false), .cert = &cert_d, .n_cas = 1, .err = -EPROTO,
	  .rule = JUDGE_NO_ENCRYPTION },
	{ "R14 BTNS established: the same BTNS key", .state = EST, .pol = { .btns = true },
	  .latched = LATCHED_D, .ike = IKE(BTNS_D, BTNS_A), .ch = CBC_CHILD, .cert = &cert_d,
	  .n_cas = 1, .rule = JUDGE_OK },
	{ "R14 BTNS established: another key under the latched BTNS name", .state = EST,
	  .pol = { .btns = true }, .latched = LATCHED_D, .ike = IKE(BTNS_D, BTNS_A),
	  .ch = CBC_CHILD, .cert = &cert_e, .n_cas = 1, .err = -EACCES, .rule = JUDGE_OTHER_KEY },
	/* ---- leap of faith (RFC 5387 §5.7) */
	{ "LOF first contact: accepted (bound, the key is pinned)",
	  .pol = { .btns = true, .leap_of_faith = true, .peer_id = "b.example" },
	  .ike = IKE(BTNS_D, BTNS_A), .ch = CBC_CHILD, .cert = &cert_d, .rule = JUDGE_OK },
	{ "LOF the pinned key again",
	  .pol = { .btns = true, .leap_of_faith = true, .peer_id = "b.example" },
	  .ike = IKE(BTNS_D, BTNS_A), .ch = CBC_CHILD, .cert = &cert_d, .pinned = &cert_d,
	  .rule = JUDGE_OK },
	{ "LOF another key than the one pinned",
	  .pol = { .btns = true, .leap_of_faith = true, .peer_id = "b.example" },
	  .ike = IKE(BTNS_D, BTNS_A), .ch = CBC_CHILD, .cert = &cert_d, .pinned = &cert_e,
	  .err = -EACCES, .rule = JUDGE_PIN_OTHER_KEY,
	  .why = "leap of faith: 'b.example' presented another key (pubKeyID d000000000000000…) "
		 "than the one pinned on first contact (e000000000000000…); if it really "
		 "changed: latchctl pins forget b.example" },
	{ "LOF pinned by the peer's address when the token names no peer",
	  .pol = { .btns = true, .leap_of_faith = true }, .ike = IKE(BTNS_D, BTNS_A),
	  .ch = CBC_CHILD, .cert = &cert_d, .pinned = &cert_e, .err = -EACCES,
	  .rule = JUDGE_PIN_OTHER_KEY, .why = "leap of faith: '192.0.2.2' presented" },
	{ "LOF a flow without an address family is pinned as '?'",
	  .pol = { .btns = true, .leap_of_faith = true }, .no_family = true,
	  .ike = IKE(BTNS_D, BTNS_A), .ch = CBC_CHILD, .cert = &cert_d, .pinned = &cert_e,
	  .err = -EACCES, .rule = JUDGE_PIN_OTHER_KEY, .why = "leap of faith: '?' presented" },
	{ "LOF no pin store (no data_dir)", .pol = { .btns = true, .leap_of_faith = true },
	  .ike = IKE(BTNS_D, BTNS_A), .ch = CBC_CHILD, .cert = &cert_d, .no_pin_store = true,
	  .err = -EACCES, .rule = JUDGE_PIN_NO_STORE,
	  .why = "leap of faith needs a pin store (data_dir), and there is none" },
	{ "LOF first contact with the pin store full",
	  .pol = { .btns = true, .leap_of_faith = true }, .ike = IKE(BTNS_D, BTNS_A),
	  .ch = CBC_CHILD, .cert = &cert_d, .pins_full = true, .err = -EACCES,
	  .rule = JUDGE_PIN_FULL, .why = "leap of faith: no room for another pin (4096)" },
	{ "LOF the pinned key with the pin store full",
	  .pol = { .btns = true, .leap_of_faith = true }, .ike = IKE(BTNS_D, BTNS_A),
	  .ch = CBC_CHILD, .cert = &cert_d, .pins_full = true, .pinned = &cert_d,
	  .rule = JUDGE_OK },
	{ "LOF an authenticated peer is judged by its certificate, never by a pin",
	  .pol = { .btns = true, .leap_of_faith = true, .peer_id = "b.example" }, .ike = B_FROM_A,
	  .ch = CBC_CHILD, .cert = &cert_b, .n_cas = 1, .pinned = &cert_e, .rule = JUDGE_OK },
	{ "LOF without leap of faith a BTNS peer needs no pin store", .pol = { .btns = true },
	  .ike = IKE(BTNS_D, BTNS_A), .ch = CBC_CHILD, .cert = &cert_d, .no_pin_store = true,
	  .rule = JUDGE_OK },
};

static const char *const rule_names[JUDGE_RULES] = {
#define N(r) [r] = #r
	N(JUDGE_OK),
	N(JUDGE_OTHER_PEER),
	N(JUDGE_UNREAD),
	N(JUDGE_BTNS_UNWANTED),
	N(JUDGE_BTNS_NO_KEY),
	N(JUDGE_BTNS_PEER_ID),
	N(JUDGE_BTNS_PATTERN),
	N(JUDGE_BTNS_SPKI),
	N(JUDGE_PIN_NO_STORE),
	N(JUDGE_PIN_FULL),
	N(JUDGE_PIN_OTHER_KEY),
	N(JUDGE_NOT_OUR_CA),
	N(JUDGE_PEER_ID),
	N(JUDGE_PEER_PATTERN),
	N(JUDGE_PEER_CA),
	N(JUDGE_PEER_SPKI),
	N(JUDGE_NO_ENCRYPTION),
	N(JUDGE_ENCR_BITS),
	N(JUDGE_INTEG_BITS),
	N(JUDGE_MODE),
	N(JUDGE_OTHER_LOCAL),
	N(JUDGE_OTHER_KEY),
	N(JUDGE_OTHER_PROTECTION),
#undef N
};

static const char *rule_name(enum judge_rule r)
{
	return r < JUDGE_RULES && rule_names[r] ? rule_names[r] : "?";
}

/* a at 192.0.2.1:40000, b at 192.0.2.2:443, TCP */
static struct flow lab_flow(bool no_family)
{
	struct flow f = { .family = no_family ? 0 : AF_INET,
			  .proto = IPPROTO_TCP,
			  .lport = 40000,
			  .rport = 443 };

	inet_pton(AF_INET, "192.0.2.1", f.laddr.b);
	inet_pton(AF_INET, "192.0.2.2", f.raddr.b);
	return f;
}

/* Judge one row; true when the verdict is the row's. */
static bool judge_row(const struct row *r)
{
	struct latch_ident remote = { 0 }, local = { 0 };
	struct latch l = {
		.state = r->state ? r->state : IPC_STATE_LARVAL,
		.pol = &r->pol,
		.remote = &remote,
		.local = &local,
		.flow = lab_flow(r->no_family),
	};
	struct judge_facts f = {
		.ready = !r->unread,
		.cert = r->cert,
		.no_key = r->no_key,
		.cas = cas,
		.n_cas = r->n_cas,
		.btns_anchor = r->btns_off ? NULL : ANCHOR,
		.pin_store = !r->no_pin_store,
		.pins_full = r->pins_full,
		.pinned = r->pinned ? r->pinned->spki_sha256 : NULL,
	};
	struct judge_verdict v;
	bool ok;
	int err;

	assert_true(r->n_cas <= sizeof(cas) / sizeof(cas[0]));
	if (r->latched.peer) {
		snprintf(remote.id, sizeof(remote.id), "%s", r->latched.peer);
		snprintf(local.id, sizeof(local.id), "%s", r->latched.local);
		remote.has_spki = r->latched.key != NULL;
		if (remote.has_spki)
			memcpy(remote.spki, r->latched.key->spki_sha256, IPC_SHA256_LEN);
		snprintf(l.sa.encr, sizeof(l.sa.encr), "%s", r->latched.encr);
		snprintf(l.sa.integ, sizeof(l.sa.integ), "%s", r->latched.integ);
		l.sa.tunnel = r->latched.tunnel;
		l.sa.child_id = 1;
	}
	err = judge_sa(&l, &r->ike, &r->ch, &f, &v);
	ok = err == v.err && v.err == r->err && v.rule == r->rule &&
	     (r->why ? strstr(v.why, r->why) != NULL : r->err || v.why[0] == '\0');
	if (!ok)
		print_message("# row \"%s\": got %d %s \"%s\", want %d %s \"%s\"\n", r->name, v.err,
			      rule_name(v.rule), v.why, r->err, rule_name(r->rule),
			      r->why ? r->why : "");
	return ok;
}

static void every_row(void **state)
{
	unsigned failed = 0, n = sizeof(rows) / sizeof(rows[0]);

	for (unsigned i = 0; i < n; i++)
		failed += !judge_row(&rows[i]);
	print_message("# %u rows, %u failed\n", n, failed);
	assert_int_equal(failed, 0);
}

/* Every rule the judge knows decides at least one row. */
static void every_rule_has_a_row(void **state)
{
	bool seen[JUDGE_RULES] = { false };

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		seen[rows[i].rule] = true;
	for (int r = 0; r < JUDGE_RULES; r++) {
		if (!seen[r])
			print_message("# no row for %s\n", rule_name(r));
		assert_true(seen[r]);
	}
}

/* Every row name is unique: docs/conformance.md cites them. */
static void row_names_unique(void **state)
{
	size_t n = sizeof(rows) / sizeof(rows[0]);

	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++)
			assert_string_not_equal(rows[i].name, rows[j].name);
	}
}

/* R19: an exact latch waits for a child of its own flow; a shared one takes any that covers. */
struct exact_row {
	const char *name;
	bool exact;
	const char *lts[2], *rts[2];
	bool carries;
};

static const struct exact_row exact_rows[] = {
	{ "R19 shared latch: a host-to-host child",
	  false,
	  { "192.0.2.1/32" },
	  { "192.0.2.2/32" },
	  true },
	{ "R19 exact latch: a host-to-host child is shared",
	  true,
	  { "192.0.2.1/32" },
	  { "192.0.2.2/32" },
	  false },
	{ "R19 exact latch: a child of its 5-tuple",
	  true,
	  { "192.0.2.1/32[tcp/40000]" },
	  { "192.0.2.2/32[tcp/443]" },
	  true },
	{ "R19 exact latch: a child of another local port",
	  true,
	  { "192.0.2.1/32[tcp/40001]" },
	  { "192.0.2.2/32[tcp/443]" },
	  false },
	{ "R19 exact latch: a child of another remote port",
	  true,
	  { "192.0.2.1/32[tcp/40000]" },
	  { "192.0.2.2/32[tcp/444]" },
	  false },
	{ "R19 exact latch: a second selector on one side",
	  true,
	  { "192.0.2.1/32[tcp/40000]", "192.0.2.1/32[tcp/40001]" },
	  { "192.0.2.2/32[tcp/443]" },
	  false },
	{ "R19 exact latch: a subnet",
	  true,
	  { "192.0.2.0/24[tcp/40000]" },
	  { "192.0.2.2/32[tcp/443]" },
	  false },
};

static void exact_carrier(void **state)
{
	unsigned failed = 0;

	for (size_t i = 0; i < sizeof(exact_rows) / sizeof(exact_rows[0]); i++) {
		const struct exact_row *r = &exact_rows[i];
		struct latch_policy pol = { .exact = r->exact };
		struct latch l = { .pol = &pol, .flow = lab_flow(false) };
		struct sa_child ch = { .id = 9, .installed = true };

		for (; ch.n_lts < 2 && r->lts[ch.n_lts]; ch.n_lts++)
			assert_int_equal(sacache_ts_parse(r->lts[ch.n_lts], &ch.lts[ch.n_lts]), 0);
		for (; ch.n_rts < 2 && r->rts[ch.n_rts]; ch.n_rts++)
			assert_int_equal(sacache_ts_parse(r->rts[ch.n_rts], &ch.rts[ch.n_rts]), 0);
		if (judge_exact_carrier(&l, &ch) != r->carries) {
			print_message("# row \"%s\": got %d, want %d\n", r->name, !r->carries,
				      r->carries);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

/* Which SAs are BTNS: either name in the namespace, or the anchor's certificate. */
static void btns_peer(void **state)
{
	const struct sa_ike plain = B_FROM_A, theirs = IKE(BTNS_D, "a.example"),
			    ours = IKE("b.example", BTNS_A);

	assert_false(judge_btns_peer(ANCHOR, &plain, &cert_b));
	assert_false(judge_btns_peer(ANCHOR, &plain, NULL));
	assert_true(judge_btns_peer(ANCHOR, &plain, &cert_anchor_b));
	assert_false(judge_btns_peer(NULL, &plain, &cert_anchor_b)); /* BTNS off */
	assert_true(judge_btns_peer(ANCHOR, &theirs, NULL));
	assert_true(judge_btns_peer(NULL, &theirs, NULL));
	assert_true(judge_btns_peer(ANCHOR, &ours, &cert_b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_row),	    cmocka_unit_test(every_rule_has_a_row),
		cmocka_unit_test(row_names_unique), cmocka_unit_test(exact_carrier),
		cmocka_unit_test(btns_peer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
