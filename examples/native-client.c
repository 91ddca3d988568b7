/* SPDX-License-Identifier: MIT */
/*
 * A client on the native API: latch a TCP connection to HOST PORT, insisting
 * on encryption and on the peer named PEER, print who the peer is, send a
 * line and print the answer.
 *
 *	cc native-client.c $(pkg-config --cflags --libs latch)
 *	./native-client 192.0.2.2 8080 b.example hello
 */
#include <latch/latch.h>
#include <netdb.h>
#include <stdio.h>
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
	printf(" sa=%s\n", latch_info_get_sa_shared(info) == 1 ? "shared" : "own");
}

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	latch_ctx *ctx = NULL;
	latch_token *tok = NULL;
	latch_info *info = NULL;
	char buf[256];
	ssize_t n;
	int fd = -1, r, rc = 1;

	if (argc != 5) {
		fprintf(stderr, "usage: %s HOST PORT PEER MESSAGE\n", argv[0]);
		return 2;
	}
	if (getaddrinfo(argv[1], argv[2], &hints, &ai) != 0)
		return 1;
	if (latch_ctx_new(&ctx, NULL, 0) < 0 || latch_token_new(&tok) < 0) {
		perror("latch");
		goto out;
	}
	if (latch_token_set_encrypt(tok, LATCH_WANT_YES) < 0 ||
	    latch_token_set_peer_id(tok, argv[3]) < 0)
		goto out;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	r = latch_connect(ctx, fd, ai->ai_addr, ai->ai_addrlen, tok, 0, &info);
	if (r < 0) {
		fprintf(stderr, "latch_connect: %s: %s\n", strerror(-r), latch_ctx_last_error(ctx));
		goto out;
	}
	print_peer(info);
	if (write(fd, argv[4], strlen(argv[4])) < 0)
		goto out;
	shutdown(fd, SHUT_WR);
	while ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = 0;
		printf("answer %s\n", buf);
	}
	rc = 0;
out:
	/* everything freed on every path, so that a leak checker sees none */
	latch_info_free(info);
	latch_token_free(tok);
	latch_ctx_free(ctx);
	freeaddrinfo(ai);
	if (fd >= 0)
		close(fd);
	return rc;
}
