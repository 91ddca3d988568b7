/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_IDENT_H
#define LATCH_LATCHD_IDENT_H

/*
 * Identities of IKE peers (docs/architecture.md, "Identity queries"): what a certificate says
 * (subject, issuer, subjectAltNames, the SHA-256 of its SubjectPublicKeyInfo
 * — the pubKeyID), whether it is the one behind an IKE identity, and the
 * IPsec channel binding. Pure: DER in, structs out (libcrypto does the ASN.1).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/proto.h"

#define IDENT_SANS_MAX 8
#define IDENT_STR_MAX  (IPC_DN_MAX + 1)

struct cert_info {
	char subject[IDENT_STR_MAX]; /* "C=CH, O=latch-lab, CN=b.example", as charon prints DNs */
	char issuer[IDENT_STR_MAX];
	char sans[IDENT_SANS_MAX][256]; /* DNS names, e-mail, IP addresses, DNs as text */
	unsigned n_sans;
	bool sans_cut; /* a subjectAltName was left out (too many, too long): it could say anything
			*/
	uint8_t spki_sha256[IPC_SHA256_LEN];
	bool is_ca;
};

/* Parse one DER certificate. 0, or -EBADMSG when it is not one. */
int ident_cert_parse_der(const uint8_t *der, size_t len, struct cert_info *ret);

/*
 * Read the first certificate of a PEM file: its DER (malloc'd, caller frees)
 * and what it says. 0 or -errno.
 */
int ident_cert_read_pem(const char *path, uint8_t **der, size_t *der_len, struct cert_info *ret);

/* Read a whole file (PEM text for charon); caller frees. 0 or -errno. */
int ident_file_read(const char *path, char **ret, size_t *ret_len, size_t max);

/*
 * Is id (an IKE identity as charon prints it) the identity this certificate
 * vouches for: one of its subjectAltNames, or its subject DN?
 */
bool ident_cert_vouches_for(const struct cert_info *c, const char *id);

/* Compare two DNs as charon prints them, ignoring spacing around ',' and '='. */
bool ident_dn_equal(const char *a, const char *b);

/*
 * Does id match pattern? '*' matches any run of characters, within one DN
 * component or one label sequence ("C=CH, O=Example, CN=*", "*.example").
 */
bool ident_id_match(const char *pattern, const char *id);

/*
 * draft-ietf-btns-channel-binding-api / draft-williams-ipsec-channel-binding:
 * ipsec-end-point-sha256 = SHA-256(SPKI of the initiator) XOR SHA-256(SPKI of
 * the responder); equal on both ends of one IKE_SA, different across a man
 * in the middle. ident_channel_binding_export() prefixes the RFC 5056 label
 * "ipsec-end-point-sha256:" and returns the length written (at most IPC_CB_MAX).
 */
void ident_channel_binding(const uint8_t init_spki[IPC_SHA256_LEN],
			   const uint8_t resp_spki[IPC_SHA256_LEN], uint8_t out[IPC_SHA256_LEN]);
size_t ident_channel_binding_export(const uint8_t cb[IPC_SHA256_LEN], uint8_t out[IPC_CB_MAX]);

#define IDENT_CB_PREFIX "ipsec-end-point-sha256:"

#endif
