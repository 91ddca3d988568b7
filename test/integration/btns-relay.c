/* SPDX-License-Identifier: MIT */
/*
 * btns-relay: the man in the middle of BTNS scenario 5. It accepts BTNS
 * connections on PORT (latched: IPsec with the client, under its own key)
 * and, for each, opens a BTNS connection to ADDR:PORT2 (IPsec with the
 * server, under its own key again), and copies bytes both ways. Both ends
 * see ESP and a BTNS peer; only their channel bindings tell.
 *
 *   btns-relay PORT ADDR PORT2
 */
#include <arpa/inet.h>
#include <latch/latch.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static latch_token *btns(void)
{
	latch_token *tok = NULL;

	if (latch_token_new(&tok) < 0 || latch_token_set_flags(tok, LATCH_TOKEN_PEER_BTNS) < 0)
		exit(2);
	return tok;
}

static int outward(latch_ctx *ctx, const char *addr, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	latch_token *tok = btns();
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

	inet_pton(AF_INET, addr, &sa.sin_addr);
	r = latch_connect(ctx, fd, (struct sockaddr *)&sa, sizeof(sa), tok, 0, NULL);
	latch_token_free(tok);
	if (r < 0) {
		printf("relay-error %s\n", latch_ctx_last_error(ctx));
		close(fd);
		return -1;
	}
	return fd;
}

static void pump(int a, int b)
{
	struct pollfd p[2] = { { .fd = a, .events = POLLIN }, { .fd = b, .events = POLLIN } };
	char buf[4096];

	while (poll(p, 2, -1) > 0) {
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (!p[i].revents)
				continue;
			n = recv(p[i].fd, buf, sizeof(buf), 0);
			if (n <= 0 || send(p[1 - i].fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
				return;
		}
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
	latch_token *tok;
	latch_ctx *ctx;
	int lfd, one = 1, zero = 0;

	if (argc != 4 || latch_ctx_new(&ctx, NULL, 0) < 0)
		return 2;
	sa.sin6_port = htons((uint16_t)atoi(argv[1]));
	lfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	tok = btns();
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 8) < 0 ||
	    latch_listen(ctx, lfd, tok, 0, NULL) < 0)
		return 2;
	latch_token_free(tok);
	printf("listening port=%s\n", argv[1]);
	fflush(stdout);
	for (;;) {
		int in = latch_accept(ctx, lfd, NULL, NULL, 0, NULL), out;

		if (in < 0)
			continue;
		out = outward(ctx, argv[2], atoi(argv[3]));
		if (out >= 0) {
			printf("relaying\n");
			fflush(stdout);
			pump(in, out);
			close(out);
		}
		close(in);
	}
}
