/* SPDX-License-Identifier: MIT */
/*
 * Whose key is behind a BTNS name (src/latchd/cred/btns.c, btns_claims_*): what
 * charon's certificate cache can tell, and what it cannot.
 */
#include "unit.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "latchd/cred/btns.h"

#define ANCHOR "O=BTNS, CN=BTNS anchor (its private key is public)"

static struct btns anchor = { .anchor = { .subject = ANCHOR } };

/* An anchor-issued end-entity certificate for the key whose SPKI hash starts with k. */
static struct cert_info cert(const char *subject, uint8_t k)
{
	struct cert_info c = { .is_ca = false };

	snprintf(c.subject, sizeof(c.subject), "%s", subject);
	snprintf(c.issuer, sizeof(c.issuer), "%s", ANCHOR);
	memset(c.spki_sha256, k, sizeof(c.spki_sha256));
	return c;
}

/* The latch host name of the key k: O=BTNS, CN=kkkk… */
static const char *name_of(uint8_t k)
{
	static char id[64];
	uint8_t spki[IPC_SHA256_LEN];

	memset(spki, k, sizeof(spki));
	btns_id_for(spki, id, sizeof(id));
	return id;
}

static enum btns_key judge(const char *name, const struct cert_info *certs, size_t n,
			   struct btns_claims *cl)
{
	btns_claims_init(cl, name);
	for (size_t i = 0; i < n; i++)
		btns_claims_add(cl, &anchor, &certs[i]);
	return btns_claims_key(cl);
}

static void own_name_is_its_key(void **state)
{
	char name[64];
	struct cert_info certs[2];
	struct btns_claims cl;

	snprintf(name, sizeof(name), "%s", name_of(0xb0));
	certs[0] = cert("O=BTNS, CN=somebody-else", 0xc0); /* names another peer */
	certs[1] = cert(name, 0xb0);
	assert_int_equal(judge(name, certs, 2, &cl), BTNS_KEY_ONE);
	assert_memory_equal(cl.key.spki_sha256, certs[1].spki_sha256, IPC_SHA256_LEN);
	assert_int_equal(judge(name, certs, 1, &cl), BTNS_KEY_NONE);
	/* the same key again (a reissued certificate): still one key */
	certs[0] = cert(name, 0xb0);
	assert_int_equal(judge(name, certs, 2, &cl), BTNS_KEY_ONE);
}

/* Another key under a latch host's name may be the key of the IKE_SA at hand: no guess. */
static void squatters_are_seen_however_they_spell_it(void **state)
{
	const char *prefixes[] = { "O=BTNS, CN=", "O=BTNS + CN=", "o=btns, cn=" };
	char name[64], hex[64], upper[64], subject[128];
	struct cert_info certs[2];
	struct btns_claims cl;

	snprintf(name, sizeof(name), "%s", name_of(0xb0));
	snprintf(hex, sizeof(hex), "%s", strstr(name, "CN=") + 3);
	certs[0] = cert(name, 0xb0);
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		snprintf(subject, sizeof(subject), "%s%s", prefixes[i], hex);
		certs[1] = cert(subject, 0xc0);
		assert_int_equal(judge(name, certs, 2, &cl), BTNS_KEY_SQUATTED);
		assert_int_equal(judge(name, certs + 1, 1, &cl), BTNS_KEY_SQUATTED);
	}
	for (size_t i = 0; hex[i]; i++)
		upper[i] = (char)(hex[i] >= 'a' ? hex[i] - 'a' + 'A' : hex[i]);
	upper[strlen(hex)] = '\0';
	snprintf(subject, sizeof(subject), "O=BTNS, CN=%s", upper); /* charon ignores case */
	certs[1] = cert(subject, 0xc0);
	assert_int_equal(judge(name, certs, 2, &cl), BTNS_KEY_SQUATTED);
	certs[1] = cert("O=BTNS, CN=evil", 0xc0); /* its name in a subjectAltName */
	snprintf(certs[1].sans[0], sizeof(certs[1].sans[0]), "%s", name);
	certs[1].n_sans = 1;
	assert_int_equal(judge(name, certs, 2, &cl), BTNS_KEY_SQUATTED);
	certs[1].n_sans = 0; /* a subjectAltName latchd could not keep could be the name */
	certs[1].sans_cut = true;
	assert_int_equal(judge(name, certs, 2, &cl), BTNS_KEY_SQUATTED);
}

static void only_the_anchors_end_entities_count(void **state)
{
	char name[64];
	struct cert_info certs[3];
	struct btns_claims cl;

	snprintf(name, sizeof(name), "%s", name_of(0xb0));
	certs[0] = cert(name, 0xc0);
	snprintf(certs[0].issuer, sizeof(certs[0].issuer), "C=CH, O=latch-lab, CN=ca CA");
	certs[1] = cert(name, 0xd0);
	certs[1].is_ca = true;
	certs[2] = cert(name, 0xb0);
	assert_int_equal(judge(name, certs, 3, &cl), BTNS_KEY_ONE);
	assert_int_equal(cl.certs, 2); /* the CA is no end-entity certificate of charon's cache */
}

/* A name a stock peer chose says nothing about its key: one key, or none told. */
static void stock_names_need_one_key(void **state)
{
	const char *name = "O=BTNS, CN=myhost";
	struct cert_info certs[3] = { cert(name, 0xd0), cert(name, 0xd0), cert(name, 0xc0) };
	struct btns_claims cl;

	assert_int_equal(judge(name, certs, 2, &cl), BTNS_KEY_ONE);
	assert_memory_equal(cl.key.spki_sha256, certs[0].spki_sha256, IPC_SHA256_LEN);
	assert_int_equal(judge(name, certs, 3, &cl), BTNS_KEY_TWO);
	assert_int_equal(judge(name, certs + 2, 1, &cl), BTNS_KEY_ONE);
	/* a hash-shaped name with something more is no latch host's name */
	certs[0] = cert("O=BTNS, CN=0123456789abcdef0123456789abcdef, OU=x", 0xd0);
	assert_int_equal(judge(certs[0].subject, certs, 1, &cl), BTNS_KEY_ONE);
}

static void wildcards_name_nobody(void **state)
{
	struct cert_info c = cert("O=BTNS, CN=*", 0xc0);
	struct btns_claims cl;

	assert_int_equal(judge("O=BTNS, CN=*", &c, 1, &cl), BTNS_KEY_WILDCARD);
	assert_int_equal(judge("O=*, CN=x", &c, 1, &cl), BTNS_KEY_WILDCARD);
	c = cert("O=BTNS, CN=*x", 0xc0); /* only a value that is "*" is a wildcard */
	assert_int_equal(judge("O=BTNS, CN=*x", &c, 1, &cl), BTNS_KEY_ONE);
}

/* charon's cache holds 32 relations: once it may be full, one key is no proof. */
static void a_full_cache_tells_nothing(void **state)
{
	struct cert_info certs[BTNS_CACHE_FULL];
	char name[64];
	struct btns_claims cl;

	snprintf(name, sizeof(name), "%s", name_of(0xb0));
	for (unsigned i = 0; i < BTNS_CACHE_FULL; i++)
		certs[i] = cert("O=BTNS, CN=another", (uint8_t)i);
	certs[0] = cert(name, 0xb0);
	assert_int_equal(judge(name, certs, BTNS_CACHE_FULL - 1, &cl), BTNS_KEY_ONE);
	assert_int_equal(judge(name, certs, BTNS_CACHE_FULL, &cl), BTNS_KEY_CHURN);
}

/* A directoryName subjectAltName, as libcrypto writes it, reaches the claims. */
static void directory_names_are_read(void **state)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	GENERAL_NAME *g = GENERAL_NAME_new();
	X509_NAME *dn = X509_NAME_new();
	unsigned char *der = NULL;
	struct cert_info info;
	struct btns_claims cl;
	char name[64];
	int len;

	snprintf(name, sizeof(name), "%s", name_of(0xb0));
	X509_NAME_add_entry_by_txt(dn, "O", MBSTRING_ASC, (const unsigned char *)"BTNS", -1, -1, 0);
	X509_NAME_add_entry_by_txt(dn, "CN", MBSTRING_ASC,
				   (const unsigned char *)strstr(name, "CN=") + 3, -1, -1, 0);
	GENERAL_NAME_set0_value(g, GEN_DIRNAME, dn);
	sk_GENERAL_NAME_push(gens, g);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"evil", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_version(x, 2);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	len = i2d_X509(x, &der);
	assert_int_equal(ident_cert_parse_der(der, (size_t)len, &info), 0);
	assert_int_equal(info.n_sans, 1);
	assert_string_equal(info.sans[0], name);
	snprintf(info.issuer, sizeof(info.issuer), "%s", ANCHOR);
	assert_int_equal(judge(name, &info, 1, &cl), BTNS_KEY_SQUATTED);
	OPENSSL_free(der);
	GENERAL_NAMES_free(gens);
	X509_free(x);
	EVP_PKEY_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(own_name_is_its_key),
		cmocka_unit_test(squatters_are_seen_however_they_spell_it),
		cmocka_unit_test(only_the_anchors_end_entities_count),
		cmocka_unit_test(stock_names_need_one_key),
		cmocka_unit_test(wildcards_name_nobody),
		cmocka_unit_test(a_full_cache_tells_nothing),
		cmocka_unit_test(directory_names_are_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
