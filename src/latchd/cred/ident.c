/* SPDX-License-Identifier: MIT */
#include "latchd/cred/ident.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/text.h"

/* DNs the way charon prints them: "C=CH, O=latch-lab, CN=b.example". */
static int name_to_str(const X509_NAME *n, char *out, size_t cap)
{
	unsigned long flags = XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN | ASN1_STRFLGS_RFC2253;
	BIO *bio = BIO_new(BIO_s_mem());
	char *p;
	long len;
	int r;

	if (!bio)
		return -ENOMEM;
	flags &= ~(unsigned long)ASN1_STRFLGS_ESC_MSB;
	if (X509_NAME_print_ex(bio, n, 0, flags) < 0) {
		BIO_free(bio);
		return -EBADMSG;
	}
	/* Cleaned (shared/text.h): whoever made the certificate chose its bytes. */
	len = BIO_get_mem_data(bio, &p);
	r = len < 0 || text_clean(out, cap, p, (size_t)len) >= cap ? -ENAMETOOLONG : 0;
	BIO_free(bio);
	return r;
}

/* A name with a NUL in it is a forgery ("good.example\0.evil.example"): no name at all. */
static void san_add(struct cert_info *c, const char *s, size_t len)
{
	if (c->n_sans == IDENT_SANS_MAX || memchr(s, 0, len) ||
	    text_clean(c->sans[c->n_sans], sizeof(c->sans[0]), s, len) >= sizeof(c->sans[0])) {
		c->sans_cut = true;
		return;
	}
	c->n_sans++;
}

static void san_ip(struct cert_info *c, const ASN1_OCTET_STRING *ip)
{
	char text[INET6_ADDRSTRLEN];
	int len = ASN1_STRING_length(ip);
	int af = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;

	if (af && inet_ntop(af, ASN1_STRING_get0_data(ip), text, sizeof(text)))
		san_add(c, text, strlen(text));
}

static void san_dn(struct cert_info *c, const X509_NAME *dn)
{
	char text[IDENT_STR_MAX];

	if (name_to_str(dn, text, sizeof(text)) < 0)
		c->sans_cut = true;
	else
		san_add(c, text, strlen(text));
}

static void read_sans(X509 *x, struct cert_info *c)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int n = names ? sk_GENERAL_NAME_num(names) : 0;

	for (int i = 0; i < n; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		const ASN1_STRING *s;

		switch (g->type) {
		case GEN_DNS:
		case GEN_EMAIL:
			s = g->type == GEN_DNS ? g->d.dNSName : g->d.rfc822Name;
			san_add(c, (const char *)ASN1_STRING_get0_data(s),
				(size_t)ASN1_STRING_length(s));
			break;
		case GEN_IPADD:
			san_ip(c, g->d.iPAddress);
			break;
		case GEN_DIRNAME: /* charon authenticates a DN identity with it too */
			san_dn(c, g->d.directoryName);
			break;
		default:
			break;
		}
	}
	GENERAL_NAMES_free(names);
}

static int spki_hash(X509 *x, uint8_t out[IPC_SHA256_LEN])
{
	unsigned char *der = NULL;
	int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);

	if (len <= 0)
		return -EBADMSG;
	SHA256(der, (size_t)len, out);
	OPENSSL_free(der);
	return 0;
}

static int cert_info_from(X509 *x, struct cert_info *ret)
{
	struct cert_info c = { 0 };
	int r;

	r = name_to_str(X509_get_subject_name(x), c.subject, sizeof(c.subject));
	if (r == 0)
		r = name_to_str(X509_get_issuer_name(x), c.issuer, sizeof(c.issuer));
	if (r == 0)
		r = spki_hash(x, c.spki_sha256);
	if (r < 0)
		return r;
	read_sans(x, &c);
	c.is_ca = X509_check_ca(x) > 0;
	*ret = c;
	return 0;
}

int ident_cert_parse_der(const uint8_t *der, size_t len, struct cert_info *ret)
{
	const unsigned char *p = der;
	X509 *x;
	int r;

	if (len > LONG_MAX)
		return -EBADMSG;
	x = d2i_X509(NULL, &p, (long)len);
	if (!x)
		return -EBADMSG;
	r = p == der + len ? cert_info_from(x, ret) : -EBADMSG;
	X509_free(x);
	return r;
}

int ident_cert_read_pem(const char *path, uint8_t **der, size_t *der_len, struct cert_info *ret)
{
	struct cert_info info;
	unsigned char *out = NULL;
	X509 *x;
	FILE *f;
	int len, r;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x)
		return -EBADMSG;
	r = cert_info_from(x, &info);
	len = r == 0 ? i2d_X509(x, &out) : -1;
	X509_free(x);
	if (r < 0 || len <= 0)
		return r < 0 ? r : -EBADMSG;
	*der = malloc((size_t)len);
	if (!*der) {
		OPENSSL_free(out);
		return -ENOMEM;
	}
	memcpy(*der, out, (size_t)len);
	OPENSSL_free(out);
	*der_len = (size_t)len;
	*ret = info;
	return 0;
}

int ident_file_read(const char *path, char **ret, size_t *ret_len, size_t max)
{
	struct stat st;
	ssize_t n;
	char *p;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_size < 0 || (size_t)st.st_size > max) {
		r = st.st_size > 0 ? -EFBIG : -errno;
		goto out;
	}
	p = malloc((size_t)st.st_size + 1);
	if (!p) {
		r = -ENOMEM;
		goto out;
	}
	n = read(fd, p, (size_t)st.st_size);
	if (n != st.st_size) {
		free(p);
		r = n < 0 ? -errno : -EIO;
		goto out;
	}
	p[n] = '\0';
	*ret = p;
	*ret_len = (size_t)n;
out:
	close(fd);
	return r;
}

/* Copy s without the blanks that follow ',' or surround '='. */
static void dn_squeeze(const char *s, char *out, size_t cap)
{
	size_t n = 0;

	for (; *s && n + 1 < cap; s++) {
		if (*s == ' ' && n && (out[n - 1] == ',' || out[n - 1] == '='))
			continue;
		if (*s == '=' && n && out[n - 1] == ' ')
			n--;
		out[n++] = *s;
	}
	out[n] = '\0';
}

bool ident_dn_equal(const char *a, const char *b)
{
	char x[IDENT_STR_MAX], y[IDENT_STR_MAX];

	dn_squeeze(a, x, sizeof(x));
	dn_squeeze(b, y, sizeof(y));
	return strcmp(x, y) == 0;
}

bool ident_cert_vouches_for(const struct cert_info *c, const char *id)
{
	for (unsigned i = 0; i < c->n_sans; i++) {
		if (!strcasecmp(c->sans[i], id))
			return true;
	}
	return ident_dn_equal(c->subject, id);
}

bool ident_id_match(const char *pattern, const char *id)
{
	char p[IDENT_STR_MAX], s[IDENT_STR_MAX];

	dn_squeeze(pattern, p, sizeof(p));
	dn_squeeze(id, s, sizeof(s));
	return fnmatch(p, s, FNM_NOESCAPE) == 0;
}

void ident_channel_binding(const uint8_t init_spki[IPC_SHA256_LEN],
			   const uint8_t resp_spki[IPC_SHA256_LEN], uint8_t out[IPC_SHA256_LEN])
{
	for (size_t i = 0; i < IPC_SHA256_LEN; i++)
		out[i] = init_spki[i] ^ resp_spki[i];
}

size_t ident_channel_binding_export(const uint8_t cb[IPC_SHA256_LEN], uint8_t out[IPC_CB_MAX])
{
	size_t plen = sizeof(IDENT_CB_PREFIX) - 1;

	_Static_assert(sizeof(IDENT_CB_PREFIX) - 1 + IPC_SHA256_LEN <= IPC_CB_MAX,
		       "exported channel binding fits the attribute");
	memcpy(out, IDENT_CB_PREFIX, plen);
	memcpy(out + plen, cb, IPC_SHA256_LEN);
	return plen + IPC_SHA256_LEN;
}
