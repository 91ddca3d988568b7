/* SPDX-License-Identifier: MIT */
/* The host's BTNS key and its certificate under the public anchor (btns.h). */
#include "latchd/cred/btns.h"
#include "shared/fail.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- files */

/* Write path atomically (temporary file, fsync, rename) with mode. */
static int write_file(const char *path, const char *data, size_t len, mode_t mode)
{
	char tmp[512];
	ssize_t n;
	int fd, r = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	n = write(fd, data, len);
	if (n < 0 || (size_t)n != len || fchmod(fd, mode) < 0 || fsync(fd) < 0)
		r = n >= 0 && (size_t)n != len ? -EIO : -errno;
	close(fd);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

/* mkdir -p, the last component 0700 (it holds a private key). */
static int make_dir(const char *dir)
{
	char p[256];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(p))
		return -ENAMETOOLONG;
	memcpy(p, dir, n + 1);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* PEM text of a key (PKCS#8) or a certificate, malloc'd. */
static int pem_of(EVP_PKEY *key, X509 *x, char **ret, size_t *ret_len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p;
	long n;
	int ok;

	if (!bio)
		return -ENOMEM;
	ok = key ? PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)
		 : PEM_write_bio_X509(bio, x);
	n = BIO_get_mem_data(bio, &p);
	if (!ok || n <= 0 || !(*ret = malloc((size_t)n + 1))) {
		BIO_free(bio);
		return ok ? -ENOMEM : -EIO;
	}
	memcpy(*ret, p, (size_t)n);
	(*ret)[n] = '\0';
	*ret_len = (size_t)n;
	BIO_free(bio);
	return 0;
}

static EVP_PKEY *read_key(const char *path)
{
	FILE *f = fopen(path, "re");
	EVP_PKEY *k;

	if (!f)
		return NULL;
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return k;
}

/* ---------------------------------------------------------------- the host's key */

static int make_key(const char *path, EVP_PKEY **ret)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	char *pem;
	size_t len;
	int r;

	if (!k)
		return -EIO;
	r = pem_of(k, NULL, &pem, &len);
	if (r == 0) {
		r = write_file(path, pem, len, 0600);
		OPENSSL_cleanse(pem, len);
		free(pem);
	}
	if (r < 0) {
		EVP_PKEY_free(k);
		return r;
	}
	*ret = k;
	return 0;
}

/* The key in dir, made on first start; a key file others may read is refused. */
static int host_key(const char *dir, EVP_PKEY **ret, char *err, size_t el)
{
	char path[512];
	struct stat st;
	int r;

	r = make_dir(dir);
	if (r < 0)
		return FAIL(r, "%s: %s", dir, strerror(-r));
	snprintf(path, sizeof(path), "%s/%s", dir, BTNS_KEY_FILE);
	if (lstat(path, &st) < 0 && errno == ENOENT) {
		r = make_key(path, ret);
		return r < 0 ? FAIL(r, "making %s: %s", path, strerror(-r)) : 0;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077))
		return FAIL(-EPERM, "%s must be a regular file of mode 0600", path);
	*ret = read_key(path);
	return *ret ? 0 : FAIL(-EBADMSG, "%s: not a private key", path);
}

/* ---------------------------------------------------------------- the anchor */

/* pathlen 0 and critical name constraints, or an anchor-issued certificate could be anyone. */
static bool anchor_constrained(X509 *x)
{
	int i = X509_get_ext_by_NID(x, NID_name_constraints, -1);

	return i >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, i)) &&
	       X509_get_pathlen(x) == 0 && X509_check_ca(x) > 0;
}

static int load_anchor(const char *cert, const char *key, X509 **x, EVP_PKEY **k, char *err,
		       size_t el)
{
	FILE *f = fopen(cert, "re");

	if (!f)
		return FAIL(-errno, "%s: %s", cert, strerror(errno));
	*x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!*x)
		return FAIL(-EBADMSG, "%s: not a certificate", cert);
	if (!anchor_constrained(*x))
		return FAIL(-EINVAL,
			    "%s: the BTNS anchor needs pathlen 0 and critical name "
			    "constraints (docs/btns.md)",
			    cert);
	*k = read_key(key);
	if (!*k)
		return FAIL(-EBADMSG, "%s: not a private key", key);
	if (X509_check_private_key(*x, *k) != 1)
		return FAIL(-EINVAL, "%s is not the key of %s", key, cert);
	return 0;
}

/* ---------------------------------------------------------------- the certificate */

static int spki_sha256(EVP_PKEY *k, uint8_t out[IPC_SHA256_LEN])
{
	unsigned char *der = NULL;
	int len = i2d_PUBKEY(k, &der);

	if (len <= 0)
		return -EIO;
	EVP_Digest(der, (size_t)len, out, NULL, EVP_sha256(), NULL);
	OPENSSL_free(der);
	return 0;
}

void btns_id_for(const uint8_t spki[IPC_SHA256_LEN], char *out, size_t len)
{
	char hex[BTNS_CN_HEX + 1];

	for (int i = 0; i < BTNS_CN_HEX / 2; i++)
		snprintf(hex + 2 * i, 3, "%02x", spki[i]);
	snprintf(out, len, "O=BTNS, CN=%s", hex);
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok = e && X509_add_ext(x, e, -1);

	X509_EXTENSION_free(e);
	return ok ? 0 : -EIO;
}

static int set_serial(X509 *x)
{
	unsigned char rnd[16];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -EIO;
	rnd[0] &= 0x7f; /* positive */
	bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
	ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	return ok ? 0 : -EIO;
}

static int set_subject(X509 *x, EVP_PKEY *key)
{
	uint8_t spki[IPC_SHA256_LEN];
	char id[64];
	X509_NAME *n = X509_get_subject_name(x);
	int r = spki_sha256(key, spki);

	if (r < 0)
		return r;
	btns_id_for(spki, id, sizeof(id));
	/* O first: the anchor's permitted subtree is the DN prefix O=BTNS. */
	if (!X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"BTNS", -1, -1,
					0) ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
					(const unsigned char *)id + strlen("O=BTNS, CN="), -1, -1,
					0))
		return -EIO;
	return 0;
}

static int fill_cert(X509 *x, EVP_PKEY *key, X509 *ca)
{
	X509V3_CTX ctx;
	int r;

	if (!X509_set_version(x, 2) || !X509_set_issuer_name(x, X509_get_subject_name(ca)) ||
	    !X509_set_pubkey(x, key) || !X509_gmtime_adj(X509_getm_notBefore(x), -86400) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), BTNS_CERT_DAYS, 0, NULL))
		return -EIO;
	r = set_serial(x);
	if (r == 0)
		r = set_subject(x, key);
	X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
	if (r == 0)
		r = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE");
	if (r == 0)
		r = add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature");
	if (r == 0)
		r = add_ext(x, &ctx, NID_subject_key_identifier, "hash");
	if (r == 0)
		r = add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
	return r;
}

static int issue(EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key, X509 **ret)
{
	X509 *x = X509_new();
	int r;

	if (!x)
		return -ENOMEM;
	r = fill_cert(x, key, ca);
	if (r == 0 && X509_sign(x, ca_key, EVP_sha256()) <= 0)
		r = -EIO;
	if (r < 0) {
		X509_free(x);
		return r;
	}
	*ret = x;
	return 0;
}

static int describe(X509 *x, char **pem, size_t *len, struct cert_info *info)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der), r;

	if (n <= 0)
		return -EIO;
	r = ident_cert_parse_der(der, (size_t)n, info);
	OPENSSL_free(der);
	return r < 0 ? r : pem_of(NULL, x, pem, len);
}

/* ---------------------------------------------------------------- open */

struct material {
	EVP_PKEY *key, *ca_key;
	X509 *ca, *cert;
};

static int build(struct btns *b, const char *dir, struct material *m, char *err, size_t el)
{
	char path[512];
	int r;

	r = issue(m->key, m->ca, m->ca_key, &m->cert);
	if (r == 0)
		r = describe(m->cert, &b->cert_pem, &b->cert_len, &b->cert);
	if (r == 0)
		r = describe(m->ca, &b->anchor_pem, &b->anchor_len, &b->anchor);
	if (r == 0)
		r = pem_of(m->key, NULL, &b->key_pem, &b->key_len);
	if (r < 0)
		return FAIL(r, "issuing the BTNS certificate: %s", strerror(-r));
	snprintf(b->id, sizeof(b->id), "%s", b->cert.subject);
	/* For administrators and stock peers that want to see it; latchd does not read it. */
	snprintf(path, sizeof(path), "%s/%s", dir, BTNS_CERT_FILE);
	write_file(path, b->cert_pem, b->cert_len, 0644);
	return 0;
}

int btns_open(const char *dir, const char *anchor_cert, const char *anchor_key, struct btns **ret,
	      char *err, size_t el)
{
	struct material m = { 0 };
	struct btns *b = calloc(1, sizeof(*b));
	int r;

	if (!b)
		return -ENOMEM;
	r = load_anchor(anchor_cert, anchor_key, &m.ca, &m.ca_key, err, el);
	if (r == 0)
		r = host_key(dir, &m.key, err, el);
	if (r == 0)
		r = build(b, dir, &m, err, el);
	EVP_PKEY_free(m.key);
	EVP_PKEY_free(m.ca_key);
	X509_free(m.ca);
	X509_free(m.cert);
	if (r < 0) {
		btns_free(b);
		return r;
	}
	*ret = b;
	return 0;
}

void btns_free(struct btns *b)
{
	if (!b)
		return;
	if (b->key_pem)
		OPENSSL_cleanse(b->key_pem, b->key_len);
	free(b->key_pem);
	free(b->cert_pem);
	free(b->anchor_pem);
	free(b);
}

/* ---------------------------------------------------------------- names */

bool btns_issued(const struct btns *b, const struct cert_info *cert)
{
	return b && ident_dn_equal(cert->issuer, b->anchor.subject);
}

bool btns_namespace(const char *id)
{
	return ident_id_match(BTNS_ID_PATTERN, id);
}

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return s[n] == '\0';
}

/* "O=BTNS, CN=<BTNS_CN_HEX lower-case hex digits>": the form of a latch host's name. */
static bool own_name(const char *name)
{
	uint8_t spki[IPC_SHA256_LEN] = { 0 };
	const char *cn = strstr(name, "CN=");
	char want[64];

	if (!cn || !is_hex(cn + 3, BTNS_CN_HEX))
		return false;
	for (int i = 0; i < BTNS_CN_HEX / 2; i++)
		sscanf(cn + 3 + 2 * i, "%2hhx", &spki[i]);
	btns_id_for(spki, want, sizeof(want));
	return ident_dn_equal(want, name);
}

/*
 * A DN as charon might read it: lower case (it ignores case in PrintableString
 * values) and a multi-valued RDN's " + " as ", " (charon prints every
 * attribute after a ", "). Folding more than charon does only finds more
 * claimants, which is the safe side.
 */
static void fold(const char *s, char *out, size_t cap)
{
	size_t n = 0;

	for (; *s && n + 1 < cap; s++) {
		if (!strncmp(s, " + ", 3)) {
			s += 2;
			out[n++] = ',';
			continue;
		}
		out[n++] = (char)(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s == '+' ? ',' : *s);
	}
	out[n] = '\0';
}

static bool folded_equal(const char *a, const char *b)
{
	char x[IDENT_STR_MAX], y[IDENT_STR_MAX];

	fold(a, x, sizeof(x));
	fold(b, y, sizeof(y));
	return ident_dn_equal(x, y);
}

/* Could charon have authenticated name with cert's key? A name cut off could be any. */
static bool claims(const struct cert_info *cert, const char *name)
{
	if (cert->sans_cut || folded_equal(cert->subject, name))
		return true;
	for (unsigned i = 0; i < cert->n_sans; i++) {
		if (folded_equal(cert->sans[i], name))
			return true;
	}
	return false;
}

/* charon reads an attribute value "*" in a peer's identity as a wildcard. */
static bool wildcard(const char *name)
{
	for (const char *p = strstr(name, "=*"); p; p = strstr(p + 1, "=*")) {
		if (p[2] == '\0' || p[2] == ',' || p[2] == ' ' || p[2] == '+')
			return true;
	}
	return false;
}

void btns_claims_init(struct btns_claims *cl, const char *name)
{
	*cl = (struct btns_claims){ .name = name,
				    .own = own_name(name),
				    .wildcard = wildcard(name) };
}

void btns_claims_add(struct btns_claims *cl, const struct btns *b, const struct cert_info *cert)
{
	char named[64];

	if (cert->is_ca)
		return;
	cl->certs++;
	if (!btns_issued(b, cert) || !claims(cert, cl->name))
		return;
	btns_id_for(cert->spki_sha256, named, sizeof(named));
	/* no certificate of a latch host's: another key under its name */
	if (cl->own && !ident_dn_equal(named, cl->name)) {
		cl->squatted = true;
		return;
	}
	if (cl->keys == 0) {
		cl->key = *cert;
		cl->keys = 1;
	} else if (memcmp(cl->key.spki_sha256, cert->spki_sha256, IPC_SHA256_LEN)) {
		cl->keys = 2;
	}
}

enum btns_key btns_claims_key(const struct btns_claims *cl)
{
	if (cl->wildcard)
		return BTNS_KEY_WILDCARD;
	if (cl->squatted)
		return BTNS_KEY_SQUATTED;
	if (cl->keys > 1)
		return BTNS_KEY_TWO;
	if (cl->keys == 0)
		return BTNS_KEY_NONE;
	return cl->certs >= BTNS_CACHE_FULL ? BTNS_KEY_CHURN : BTNS_KEY_ONE;
}
