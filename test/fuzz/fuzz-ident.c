/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for certificate identities (src/latchd/cred/ident.c,
 * src/latchd/cred/btns.c). The first byte chooses: even, the rest is one DER
 * certificate (as charon's list-certs gives them); odd, it is two strings
 * separated by a NUL, an identity pattern and an IKE identity. Properties,
 * each by abort():
 * - a parsed certificate's strings are terminated within their fields, and
 *   it vouches for its own subject and for each of its subjectAltNames;
 * - a DN equals itself, and an identity without wildcards matches itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "latchd/cred/btns.h"
#include "latchd/cred/ident.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_cert(const uint8_t *der, size_t len)
{
	struct btns_claims cl;
	struct cert_info ci;

	if (ident_cert_parse_der(der, len, &ci) < 0)
		return;
	if (!memchr(ci.subject, 0, sizeof(ci.subject)) ||
	    !memchr(ci.issuer, 0, sizeof(ci.issuer)) || ci.n_sans > IDENT_SANS_MAX)
		abort();
	if (!ident_cert_vouches_for(&ci, ci.subject))
		abort();
	for (unsigned i = 0; i < ci.n_sans; i++) {
		if (!memchr(ci.sans[i], 0, sizeof(ci.sans[i])) ||
		    !ident_cert_vouches_for(&ci, ci.sans[i]))
			abort();
	}
	/* a name (its own subject) read as a BTNS name; no anchor: nobody's key */
	btns_claims_init(&cl, ci.subject);
	btns_claims_add(&cl, NULL, &ci);
	if (btns_claims_key(&cl) == BTNS_KEY_ONE)
		abort();
}

static void check_strings(const char *a, size_t alen, const char *b)
{
	if (!ident_dn_equal(a, a) || !ident_dn_equal(b, b) ||
	    ident_dn_equal(a, b) != ident_dn_equal(b, a))
		abort();
	if (!strpbrk(a, "*?[") && alen < IDENT_STR_MAX && !ident_id_match(a, a))
		abort();
	(void)ident_id_match(a, b);
	(void)btns_namespace(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *b;

	if (size < 1)
		return 0;
	if (!(data[0] & 1)) {
		check_cert(data + 1, size - 1);
		return 0;
	}
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	s[size] = '\0';
	b = s + strlen(s) + 1; /* at most s + size, a NUL */
	check_strings(s, strlen(s), b);
	free(s);
	return 0;
}
