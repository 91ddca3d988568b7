/* SPDX-License-Identifier: MIT */
/*
 * btns-cb: BTNS with a channel-bound check (RFC 5056, RFC 5387 "CBB").
 * A BTNS peer is known only by its key, so a man in the middle can run BTNS
 * with each side. Both ends of one IPsec channel see the same channel
 * binding (ipsec-end-point-sha256, bound to both keys); across a man in the
 * middle they see two different ones. Here both ends know a shared secret
 * and exchange HMAC-SHA256(secret, role || channel binding): the check
 * passes only when they share one channel.
 *
 *   btns-cb server PORT SECRET        accept BTNS connections, check each
 *   btns-cb client ADDR PORT SECRET   connect with BTNS, check
 *
 * Prints "cb-check ok" or "cb-check MISMATCH" (exit 0 or 3) with the
 * channel binding and the peer's pubKeyID. A real protocol would send the
 * tag inside its own authentication (SASL, GSS-API, a PAKE); a secret known
 * to both is the smallest such thing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <latch/latch.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TAG_LEN 32

static void hex(const char *key, const uint8_t *p, size_t n)
{
	printf(" %s=", key);
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

/* HMAC-SHA256(secret, role || cb) */
static void tag(const char *secret, const char *role, const uint8_t *cb, size_t cb_len,
		uint8_t out[TAG_LEN])
{
	uint8_t msg[16 + 64];
	size_t rl = strlen(role);
	unsigned len = TAG_LEN;

	memcpy(msg, role, rl);
	memcpy(msg + rl, cb, cb_len);
	HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, rl + cb_len, out, &len);
}

static int full(int fd, void *buf, size_t n, int writing)
{
	for (size_t off = 0; off < n;) {
		ssize_t r = writing ? send(fd, (char *)buf + off, n - off, MSG_NOSIGNAL)
				    : recv(fd, (char *)buf + off, n - off, 0);

		if (r <= 0)
			return -1;
		off += (size_t)r;
	}
	return 0;
}

/* Send our tag, read theirs, compare with what they must have computed. */
static int check(int fd, const latch_info *info, const char *secret, bool server)
{
	const latch_ident *peer = latch_info_get_remote(info);
	uint8_t cb[64], mine[TAG_LEN], want[TAG_LEN], got[TAG_LEN], key[LATCH_SHA256_LEN];
	int n = latch_ident_get_channel_binding(peer, 0, cb, sizeof(cb));
	bool ok;

	if (n < 0) {
		printf("cb-check error: no channel binding (%s)\n", strerror(-n));
		return 2;
	}
	tag(secret, server ? "server" : "client", cb, (size_t)n, mine);
	tag(secret, server ? "client" : "server", cb, (size_t)n, want);
	if (full(fd, mine, TAG_LEN, 1) < 0 || full(fd, got, TAG_LEN, 0) < 0) {
		printf("cb-check error: the exchange failed\n");
		return 2;
	}
	ok = CRYPTO_memcmp(got, want, TAG_LEN) == 0;
	printf("cb-check %s auth=%s", ok ? "ok" : "MISMATCH",
	       latch_auth_name(latch_ident_get_auth(peer)));
	if (latch_ident_get_pubkey_id(peer, key) == 0)
		hex("peer_pubkey", key, sizeof(key));
	hex("cb", cb, (size_t)n);
	printf("\n");
	fflush(stdout);
	return ok ? 0 : 3;
}

static int btns_token(latch_token **tok)
{
	int r = latch_token_new(tok);

	if (r == 0)
		r = latch_token_set_flags(*tok, LATCH_TOKEN_PEER_BTNS);
	return r;
}

static int client(latch_ctx *ctx, const char *addr, int port, const char *secret)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	latch_token *tok = NULL;
	latch_info *info = NULL;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

	if (fd < 0 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1 || btns_token(&tok) < 0)
		return 2;
	r = latch_connect(ctx, fd, (struct sockaddr *)&sa, sizeof(sa), tok, 0, &info);
	latch_token_free(tok);
	if (r < 0) {
		printf("error %s: %s\n", strerror(-r), latch_ctx_last_error(ctx));
		close(fd);
		return 1;
	}
	r = check(fd, info, secret, false);
	latch_info_free(info);
	close(fd);
	return r;
}

static int server(latch_ctx *ctx, int port, const char *secret)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
	latch_token *tok = NULL;
	int lfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, zero = 0, r;

	if (lfd < 0 || btns_token(&tok) < 0)
		return 2;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 8) < 0)
		return 2;
	r = latch_listen(ctx, lfd, tok, 0, NULL);
	latch_token_free(tok);
	if (r < 0) {
		printf("error %s: %s\n", strerror(-r), latch_ctx_last_error(ctx));
		return 1;
	}
	printf("listening port=%d\n", port);
	fflush(stdout);
	for (;;) {
		latch_info *info = NULL;
		int fd = latch_accept(ctx, lfd, NULL, NULL, 0, &info);

		if (fd < 0) {
			printf("accept-error %s\n", latch_ctx_last_error(ctx));
			fflush(stdout);
			continue;
		}
		check(fd, info, secret, true);
		latch_info_free(info);
		close(fd);
	}
}

int main(int argc, char **argv)
{
	latch_ctx *ctx;
	int r;

	if (argc < 4 || (strcmp(argv[1], "server") && strcmp(argv[1], "client")) ||
	    (!strcmp(argv[1], "client") && argc != 5)) {
		fprintf(stderr, "usage: btns-cb server PORT SECRET | client ADDR PORT SECRET\n");
		return 2;
	}
	if (latch_ctx_new(&ctx, NULL, 0) < 0) {
		fprintf(stderr, "btns-cb: cannot reach latchd\n");
		return 1;
	}
	if (!strcmp(argv[1], "server"))
		r = server(ctx, atoi(argv[2]), argv[3]);
	else
		r = client(ctx, argv[2], atoi(argv[3]), argv[4]);
	latch_ctx_free(ctx);
	return r;
}
