/* SPDX-License-Identifier: MIT */
#include "latchd/cred/credcheck.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <string.h>

static X509 *read_cert(const char *path, int *err)
{
	FILE *f = fopen(path, "re");
	X509 *x;

	if (!f) {
		*err = -errno;
		return NULL;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	*err = x ? 0 : -EBADMSG;
	return x;
}

int credcheck_pair(const char *cert, const char *key, char *why, size_t len)
{
	EVP_PKEY *k = NULL;
	X509 *x;
	FILE *f;
	int r;

	x = read_cert(cert, &r);
	if (!x) {
		snprintf(why, len, "cert %s: %s", cert,
			 r == -EBADMSG ? "no PEM certificate in it" : strerror(-r));
		return r;
	}
	f = fopen(key, "re");
	if (!f) {
		r = -errno;
		snprintf(why, len, "key %s: %s", key, strerror(-r));
		goto out;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, (void *)"");
	fclose(f);
	if (!k) {
		r = -EBADMSG;
		snprintf(why, len, "key %s: no unencrypted PEM private key in it", key);
	} else if (X509_check_private_key(x, k) != 1) {
		r = -EKEYREJECTED;
		snprintf(why, len, "key %s is not the key of cert %s", key, cert);
	} else {
		snprintf(why, len, "cert %s and key %s are one pair", cert, key);
	}
out:
	ERR_clear_error();
	EVP_PKEY_free(k);
	X509_free(x);
	return r;
}

/* Every certificate of a PEM file into the store; how many, or -errno. */
static int add_cas(X509_STORE *st, const char *path)
{
	FILE *f = fopen(path, "re");
	int n = 0;
	X509 *x;

	if (!f)
		return -errno;
	while ((x = PEM_read_X509(f, NULL, NULL, NULL))) {
		X509_STORE_add_cert(st, x);
		X509_free(x);
		n++;
	}
	fclose(f);
	ERR_clear_error();
	return n ? n : -EBADMSG;
}

int credcheck_chain(const char *cert, const char *const *cas, unsigned n_cas, char *why, size_t len)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509 *x = NULL;
	int r = 0;

	if (!st || !ctx) {
		r = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < n_cas; i++) {
		int n = add_cas(st, cas[i]);

		if (n < 0) {
			r = n;
			snprintf(why, len, "ca %s: %s", cas[i],
				 n == -EBADMSG ? "no PEM certificate in it" : strerror(-n));
			goto out;
		}
	}
	x = read_cert(cert, &r);
	if (!x) {
		snprintf(why, len, "cert %s: %s", cert,
			 r == -EBADMSG ? "no PEM certificate in it" : strerror(-r));
		goto out;
	}
	if (X509_STORE_CTX_init(ctx, st, x, NULL) != 1) {
		r = -ENOMEM;
		goto out;
	}
	if (X509_verify_cert(ctx) == 1) {
		snprintf(why, len, "cert %s chains to the CAs (%u file%s)", cert, n_cas,
			 n_cas == 1 ? "" : "s");
	} else {
		r = -EKEYREJECTED;
		snprintf(why, len, "cert %s does not chain to the CAs: %s", cert,
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	}
out:
	ERR_clear_error();
	X509_free(x);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return r;
}
