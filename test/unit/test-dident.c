/* SPDX-License-Identifier: MIT */
/* latchd's identities (src/latchd/cred/ident.c): certificates, names, channel bindings. */
#include "unit.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "latchd/cred/ident.h"

/*
 * Made with strongSwan's pki: an ECDSA P-256 CA "C=CH, O=latch-test, CN=Test
 * CA" issued this certificate for "C=CH, O=latch-test, CN=b.example" with
 * subjectAltNames b.example and 192.0.2.2. Its SPKI hash was computed apart:
 *   openssl x509 -noout -pubkey | openssl pkey -pubin -outform der | sha256sum
 */
static const char CERT_PEM[] = "-----BEGIN CERTIFICATE-----\n"
			       "MIIBnzCCAUWgAwIBAgIIfuZNsXiHhYowCgYIKoZIzj0EAwIwNDELMAkGA1UEBhMC\n"
			       "Q0gxEzARBgNVBAoTCmxhdGNoLXRlc3QxEDAOBgNVBAMTB1Rlc3QgQ0EwHhcNMjYx\n"
			       "MTI3MDUzNjUwWhcNMzYxMTI0MDUzNjUwWjA2MQswCQYDVQQGEwJDSDETMBEGA1UE\n"
			       "ChMKbGF0Y2gtdGVzdDESMBAGA1UEAxMJYi5leGFtcGxlMFkwEwYHKoZIzj0CAQYI\n"
			       "KoZIzj0DAQcDQgAEEPZ5h8z+SgBZtiSyLXFJu8+ar51W3pB7TkoMF3brrhQyD5X5\n"
			       "AFebN51XdCAV3x/R7unDz9GpTOQHZdToMx6zYaM/MD0wHwYDVR0jBBgwFoAUpHDT\n"
			       "0wX45LRnoBu8/N+JaTzTCLcwGgYDVR0RBBMwEYIJYi5leGFtcGxlhwTAAAICMAoG\n"
			       "CCqGSM49BAMCA0gAMEUCIQDMwWbFnbo1B6GYLUKqQp5YaY3sR8W0vGjJ3MVEia5U\n"
			       "OQIgF01qNSCUlWWBYzOC6eyjE9mb5Z1cHENBRgldUpUGo6M=\n"
			       "-----END CERTIFICATE-----\n";
static const char SPKI_HEX[] = "1bcba7d14d4ee0573f74da9f9a87f5854bbeb85557bfaec7c0bfc0958969d1e6";

static void read_cert(uint8_t **der, size_t *len, struct cert_info *info)
{
	char path[] = "/tmp/latch-test-cert-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, CERT_PEM, strlen(CERT_PEM)), (ssize_t)strlen(CERT_PEM));
	close(fd);
	assert_int_equal(ident_cert_read_pem(path, der, len, info), 0);
	unlink(path);
}

static void pem_and_der_say_the_same(void **state)
{
	struct cert_info a, b;
	size_t len, spki_len;
	uint8_t *der, *spki = unit_hex(SPKI_HEX, &spki_len);

	read_cert(&der, &len, &a);
	assert_string_equal(a.subject, "C=CH, O=latch-test, CN=b.example");
	assert_string_equal(a.issuer, "C=CH, O=latch-test, CN=Test CA");
	assert_int_equal(a.n_sans, 2);
	assert_string_equal(a.sans[0], "b.example");
	assert_string_equal(a.sans[1], "192.0.2.2");
	assert_false(a.is_ca);
	unit_assert_bytes(a.spki_sha256, sizeof(a.spki_sha256), spki, spki_len);
	assert_int_equal(ident_cert_parse_der(der, len, &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	free(der);
	free(spki);
}

static void garbage_is_no_certificate(void **state)
{
	struct cert_info info, untouched;
	size_t len;
	uint8_t *der;

	read_cert(&der, &len, &info);
	memset(&untouched, 0x5a, sizeof(untouched));
	info = untouched;
	assert_int_equal(ident_cert_parse_der(der, len - 1, &info), -EBADMSG); /* truncated */
	assert_int_equal(ident_cert_parse_der(der, len, &info), 0); /* the whole one parses */
	info = untouched;
	assert_int_equal(ident_cert_parse_der((const uint8_t *)"\x30\x03\x02\x01", 4, &info),
			 -EBADMSG);
	assert_memory_equal(&info, &untouched, sizeof(info)); /* nothing written on failure */
	free(der);
}

static void certificate_vouches_for_its_names(void **state)
{
	struct cert_info c;
	size_t len;
	uint8_t *der;

	read_cert(&der, &len, &c);
	assert_true(ident_cert_vouches_for(&c, "b.example"));
	assert_true(ident_cert_vouches_for(&c, "B.EXAMPLE"));
	assert_true(ident_cert_vouches_for(&c, "192.0.2.2"));
	assert_true(ident_cert_vouches_for(&c, "C=CH,O=latch-test,CN=b.example"));
	assert_false(ident_cert_vouches_for(&c, "c.example"));
	assert_false(ident_cert_vouches_for(&c, "192.0.2.3"));
	assert_false(ident_cert_vouches_for(&c, "C=CH, O=latch-test, CN=Test CA"));
	free(der);
}

static void dn_and_pattern_matching(void **state)
{
	assert_true(ident_dn_equal("C=CH, O=x, CN=a", "C=CH,O=x,CN=a"));
	assert_true(ident_dn_equal("C = CH, O = x", "C=CH, O=x"));
	assert_false(ident_dn_equal("C=CH, O=x, CN=a", "C=CH, O=x, CN=b"));
	assert_true(ident_id_match("*.example", "b.example"));
	assert_false(ident_id_match("*.example", "b.example.org"));
	assert_true(ident_id_match("C=CH, O=BTNS, CN=*", "C=CH,O=BTNS,CN=anything"));
	assert_false(ident_id_match("C=CH, O=BTNS, CN=*", "C=CH, O=latch-test, CN=b"));
	assert_true(ident_id_match("b.example", "b.example"));
}

static void channel_binding_is_symmetric_and_labelled(void **state)
{
	uint8_t i[32], r[32], ab[32], ba[32], out[IPC_CB_MAX];
	size_t n;

	for (int k = 0; k < 32; k++) {
		i[k] = (uint8_t)k;
		r[k] = (uint8_t)(0xf0 | k);
	}
	ident_channel_binding(i, r, ab);
	ident_channel_binding(i, r, ba);
	assert_memory_equal(ab, ba, 32);
	assert_int_equal(ab[0], 0xf0);
	assert_int_equal(ab[31], 0x1f ^ 0xff);
	n = ident_channel_binding_export(ab, out);
	assert_int_equal(n, strlen(IDENT_CB_PREFIX) + 32);
	assert_memory_equal(out, "ipsec-end-point-sha256:", 23);
	assert_memory_equal(out + 23, ab, 32);
}

static void add_dns(GENERAL_NAMES *names, const char *s, size_t n)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();

	assert_true(g && ia5 && ASN1_STRING_set(ia5, s, (int)n) == 1);
	GENERAL_NAME_set0_value(g, GEN_DNS, ia5);
	assert_true(sk_GENERAL_NAME_push(names, g) > 0);
}

/* A self-signed certificate whose maker chose odd bytes for its names: DER, caller frees. */
static uint8_t *odd_cert(size_t *len)
{
	static const char cn[] = "b\x1b[2J\xc2\x9b\xe2\x80\xae"
				 "x";
	EVP_PKEY *key = EVP_EC_gen("P-256");
	GENERAL_NAMES *names = GENERAL_NAMES_new();
	X509_NAME *n = X509_NAME_new();
	unsigned char *der = NULL;
	X509 *x = X509_new();
	uint8_t *out;
	int l;

	assert_true(key && names && n && x);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
						    (const unsigned char *)cn, -1, -1, 0),
			 1);
	add_dns(names, "b.example", 9);
	add_dns(names, "evil\x1b[2J.example", 16);
	add_dns(names, "good.example\0.evil.example", 26); /* a forgery: no name */
	assert_true(X509_set_version(x, 2) && X509_set_subject_name(x, n) &&
		    X509_set_issuer_name(x, n) && X509_set_pubkey(x, key) &&
		    ASN1_INTEGER_set(X509_get_serialNumber(x), 1) &&
		    X509_gmtime_adj(X509_getm_notBefore(x), 0) &&
		    X509_gmtime_adj(X509_getm_notAfter(x), 3600) &&
		    X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, 0) == 1 &&
		    X509_sign(x, key, EVP_sha256()) > 0);
	l = i2d_X509(x, &der);
	assert_true(l > 0);
	out = malloc((size_t)l);
	assert_non_null(out);
	memcpy(out, der, (size_t)l);
	*len = (size_t)l;
	OPENSSL_free(der);
	GENERAL_NAMES_free(names);
	X509_NAME_free(n);
	X509_free(x);
	EVP_PKEY_free(key);
	return out;
}

/* Whoever made a certificate chose its bytes: its names enter cleaned (shared/text.h). */
static void certificate_names_enter_cleaned(void **state)
{
	struct cert_info c;
	size_t len;
	uint8_t *der = odd_cert(&len);

	assert_int_equal(ident_cert_parse_der(der, len, &c), 0);
	/* OpenSSL escapes C0 controls in DNs itself (RFC 2253 \1B); the rest is cleaned. */
	assert_string_equal(c.subject, "CN=b\\1B[2J\\xc2\\x9b\\xe2\\x80\\xaex");
	assert_string_equal(c.issuer, c.subject);
	assert_int_equal(c.n_sans, 2);
	assert_string_equal(c.sans[0], "b.example");
	assert_string_equal(c.sans[1], "evil\\x1b[2J.example");
	assert_true(ident_cert_vouches_for(&c, "b.example"));
	assert_false(ident_cert_vouches_for(&c, "good.example"));
	free(der);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pem_and_der_say_the_same),
		cmocka_unit_test(garbage_is_no_certificate),
		cmocka_unit_test(certificate_vouches_for_its_names),
		cmocka_unit_test(dn_and_pattern_matching),
		cmocka_unit_test(channel_binding_is_symmetric_and_labelled),
		cmocka_unit_test(certificate_names_enter_cleaned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
