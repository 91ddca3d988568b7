/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_BTNS_H
#define LATCH_LATCHD_BTNS_H

/*
 * BTNS credentials (docs/btns.md): the host's own
 * long-lived key (made on first start, kept 0600 in the data directory) and
 * a certificate for it issued under the BTNS trust anchor, whose private key
 * is public on purpose. Such a certificate proves possession of the key and
 * nothing about a name, so BTNS subjects live in a namespace of their own,
 * "O=BTNS, CN=<first 16 bytes of the SPKI's SHA-256, hex>", which the
 * anchor's critical name constraints confine every anchor-issued
 * certificate to (pathlen 0: no intermediate either).
 *
 * libcrypto does the keys and signatures; no pki or openssl is run.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "latchd/cred/ident.h"

#define BTNS_ID_PATTERN "O=BTNS, CN=*" /* the only identities a BTNS connection admits */
#define BTNS_CN_HEX	32	       /* hex digits of the SPKI hash in a latch host's CN */
#define BTNS_CERT_DAYS	3650
#define BTNS_KEY_FILE	"btns.key"
#define BTNS_CERT_FILE	"btns.pem"

struct btns {
	char *key_pem; /* our private key (PKCS#8 PEM), for charon's load-key */
	size_t key_len;
	char *cert_pem; /* our certificate under the anchor (PEM) */
	size_t cert_len;
	char *anchor_pem; /* the anchor (PEM), pinned as cacerts of BTNS connections */
	size_t anchor_len;
	struct cert_info cert, anchor;
	char id[IDENT_STR_MAX]; /* our BTNS identity: the certificate's subject */
};

/*
 * Load (or make, on first start) the host's key in dir, and issue its
 * certificate under the anchor (anchor_cert, anchor_key: PEM files). The
 * anchor must have pathlen 0 and critical name constraints: without them
 * an anchor-issued certificate could claim any name. 0, or -errno with the
 * reason in err. Caller frees *ret with btns_free().
 */
int btns_open(const char *dir, const char *anchor_cert, const char *anchor_key, struct btns **ret,
	      char *err, size_t el);
void btns_free(struct btns *b);

/* Was cert issued by the BTNS anchor (its issuer is the anchor's subject)? */
bool btns_issued(const struct btns *b, const struct cert_info *cert);

/* Is id (an identity, a pattern or a DN) inside the BTNS namespace "O=BTNS, CN=…"? */
bool btns_namespace(const char *id);

/* "O=BTNS, CN=<hex>" for a key whose SPKI hash is spki. */
void btns_id_for(const uint8_t spki[IPC_SHA256_LEN], char *out, size_t len);

/*
 * Whose key is behind a BTNS name. charon 5.9.8 does not say which
 * certificate authenticated an IKE_SA: it authenticates an identity with the
 * key of any anchor-issued certificate that names it (subject or
 * directoryName subjectAltName; PrintableString values compared ignoring
 * case), and keeps every certificate it checked in a cache of 32 entries,
 * also from failed exchanges. So the key of an IKE_SA is told only when
 * every certificate in that cache that could have authenticated its name
 * carries one key (and, for a latch host's name, the key whose hash the
 * name is: any other key under such a name is a squatter's). Feed every
 * end-entity certificate charon lists, then ask btns_claims_key().
 *
 * BTNS_CACHE_FULL: end-entity certificates listed at which charon's cache
 * (32 relations, CAs' among them) may have replaced entries.
 */
#define BTNS_CACHE_FULL 24

enum btns_key {
	BTNS_KEY_ONE,	   /* one key claims the name: cl->key */
	BTNS_KEY_NONE,	   /* no certificate claims it */
	BTNS_KEY_SQUATTED, /* a latch host's name, claimed by a key that does not hash to it */
	BTNS_KEY_TWO,	   /* two keys claim the name */
	BTNS_KEY_CHURN,	   /* one key, but the cache is full: the IKE_SA's may be gone */
	BTNS_KEY_WILDCARD, /* a name with a "*" value: charon matches it with any certificate */
};

struct btns_claims {
	const char *name;     /* the IKE_SA's remote identity */
	bool own;	      /* a latch host's name: the hash of its key */
	bool wildcard;	      /* a "*" value: charon matches it with any certificate */
	bool squatted;	      /* a key that is not the one of a latch host's name claims it */
	unsigned certs;	      /* end-entity certificates seen */
	unsigned keys;	      /* distinct keys claiming the name (counting stops at 2) */
	struct cert_info key; /* the claimant, when keys == 1 */
};

void btns_claims_init(struct btns_claims *cl, const char *name);
void btns_claims_add(struct btns_claims *cl, const struct btns *b, const struct cert_info *cert);
enum btns_key btns_claims_key(const struct btns_claims *cl);

#endif
