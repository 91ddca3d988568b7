/* SPDX-License-Identifier: MIT */
/*
 * A server on the native API: accept one latched TCP connection on PORT
 * (IPv6 and IPv4), print who the peer is, and echo what it sends.
 *
 *	cc native-server.c $(pkg-config --cflags --libs latch)
 *	./native-server 8080
 */
#include <latch/latch.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void print_peer(const latch_info *info)
{
	const latch_ident *peer = latch_info_get_remote(info);
	unsigned char key[LATCH_SHA256_LEN], cb[LATCH_CB_LEN];
	const char *auth = latch_auth_name(latch_ident_get_auth(peer));

	printf("peer id=%s subject=%s auth=%s", latch_ident_get_id(peer),
	       latch_ident_get_subject(peer), auth ? auth : "?");
	if (latch_ident_get_pubkey_id(peer, key) == 0) {
		printf(" pubkey=");
		for (size_t i = 0; i < sizeof(key); i++)
			printf("%02x", key[i]);
	}
	if (latch_ident_get_channel_binding(peer, 0, cb, sizeof(cb)) == LATCH_CB_LEN) {
		printf(" cb=");
		for (size_t i = 0; i < sizeof(cb); i++)
			printf("%02x", cb[i]);
	}
	printf("\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	latch_ctx *ctx;
	latch_token *tok;
	latch_info *info;
	char buf[256];
	ssize_t n;
	int lfd, fd, r, one = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PORT\n", argv[0]);
		return 2;
	}
	sa.sin6_port = htons((uint16_t)atoi(argv[1]));
	lfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 8) < 0) {
		perror("listen");
		return 1;
	}
	if (latch_ctx_new(&ctx, NULL, 0) < 0 || latch_token_new(&tok) < 0 ||
	    latch_token_set_encrypt(tok, LATCH_WANT_YES) < 0) {
		perror("latch");
		return 1;
	}
	r = latch_listen(ctx, lfd, tok, 0, NULL);
	if (r < 0) {
		fprintf(stderr, "latch_listen: %s: %s\n", strerror(-r), latch_ctx_last_error(ctx));
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	fd = latch_accept(ctx, lfd, NULL, NULL, 0, &info);
	if (fd < 0) {
		fprintf(stderr, "latch_accept: %s: %s\n", strerror(-fd), latch_ctx_last_error(ctx));
		return 1;
	}
	print_peer(info);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) < 0)
			break;
	latch_info_free(info);
	latch_token_free(tok);
	latch_ctx_free(ctx);
	close(fd);
	close(lfd);
	return 0;
}
