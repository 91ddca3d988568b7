/* SPDX-License-Identifier: MIT */
/*
 * journal-churn: what an unprivileged user does to latchd's journal.
 *
 *   journal-churn PORT KEEP CYCLES REFUSED BADCA
 *
 * Latches KEEP TCP listeners on PORT+1… and keeps them (printing "kept N"),
 * then on PORT makes and releases a listener latch CYCLES times ("cycles N"),
 * then asks REFUSED times for a listener pinned to the CA BADCA, which latchd
 * does not hold and refuses ("refused N error=E"). Then it holds its
 * listeners (if any) until killed, so that latchd can be restarted meanwhile.
 */
#include <errno.h>
#include <latch/latch.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int listener(unsigned port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
		perror("listener");
		exit(2);
	}
	return fd;
}

static latch_token *token(const char *ca)
{
	latch_token *tok;

	if (latch_token_new(&tok) < 0 || latch_token_set_peer_id(tok, "a.example") < 0 ||
	    (ca && latch_token_set_peer_ca(tok, ca) < 0)) {
		fprintf(stderr, "token\n");
		exit(2);
	}
	return tok;
}

static void fail(latch_ctx *ctx, const char *what, int r)
{
	printf("%s failed: %s (%s)\n", what, strerror(-r), latch_ctx_last_error(ctx));
	exit(1);
}

int main(int argc, char **argv)
{
	unsigned port, keep, cycles, refused, i, n_refused = 0;
	latch_token *tok, *bad;
	latch_ctx *ctx;
	int fd, r = 0;

	if (argc != 6)
		return 2;
	port = (unsigned)atoi(argv[1]);
	keep = (unsigned)atoi(argv[2]);
	cycles = (unsigned)atoi(argv[3]);
	refused = (unsigned)atoi(argv[4]);
	tok = token(NULL);
	bad = token(argv[5]);
	if ((r = latch_ctx_new(&ctx, NULL, 0)) < 0)
		fail(NULL, "latch_ctx_new", r);
	for (i = 1; i <= keep; i++)
		if ((r = latch_listen(ctx, listener(port + i), tok, 0, NULL)) < 0)
			fail(ctx, "latch_listen (kept)", r);
	printf("kept %u\n", keep);
	fd = listener(port);
	for (i = 0; i < cycles; i++) {
		if ((r = latch_listen(ctx, fd, tok, 0, NULL)) < 0)
			fail(ctx, "latch_listen", r);
		if ((r = latch_socket_release(ctx, fd)) < 0)
			fail(ctx, "latch_socket_release", r);
	}
	printf("cycles %u\n", cycles);
	for (i = 0; i < refused; i++) {
		r = latch_listen(ctx, fd, bad, 0, NULL);
		n_refused += r < 0;
	}
	printf("refused %u error=%s\n", n_refused, strerror(-r));
	fflush(stdout);
	while (keep) /* the kept listeners stay until the test kills us */
		pause();
	latch_ctx_free(ctx);
	latch_token_free(bad);
	latch_token_free(tok);
	return 0;
}
