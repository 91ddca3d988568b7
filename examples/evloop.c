/* SPDX-License-Identifier: MIT */
/*
 * The native API in a poll(2) event loop, one thread, several latched
 * connections at once: the latch requests go out together, latchd's answers
 * arrive on the ctx's descriptor in any order, and each connection goes on
 * as soon as its own latch is up.
 *
 *	cc evloop.c $(pkg-config --cflags --libs latch)
 *	./evloop serve 8080 3			# accept 3 latched connections, echo
 *	./evloop connect 192.0.2.2 8080 b.example 3 hello
 *
 * Each connection prints "peer[i] id=... subject=... cb=<hex>" once latched,
 * and the client "answer[i] ..." for the echo of "MESSAGE-i". The same loop
 * fits libuv, asyncio or tokio: watch latch_ctx_get_fd() for reading, and
 * call latch_op_finish() for the ops in flight when it is readable.
 */
#include <errno.h>
#include <latch/latch.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONN_MAX 16

enum step {
	IDLE,
	LATCHING,
	CONNECTING,
	TALKING,
	DONE
};

struct conn {
	enum step step;
	latch_op *op; /* while LATCHING */
	int fd;
	char msg[128];
};

static void print_peer(int i, const latch_info *info)
{
	const latch_ident *peer = latch_info_get_remote(info);
	unsigned char cb[LATCH_CB_LEN];

	printf("peer[%d] id=%s subject=%s", i, latch_ident_get_id(peer),
	       latch_ident_get_subject(peer));
	if (latch_ident_get_channel_binding(peer, 0, cb, sizeof(cb)) == LATCH_CB_LEN) {
		printf(" cb=");
		for (size_t k = 0; k < sizeof(cb); k++)
			printf("%02x", cb[k]);
	}
	printf("\n");
	fflush(stdout);
}

/* A latch event: say it; an overflow means "query your latches again". */
static void on_event(latch_ctx *ctx, uint64_t id, int state, int reason, const char *msg,
		     void *userdata)
{
	printf("event latch=%llu state=%d reason=%d %s\n", (unsigned long long)id, state, reason,
	       msg ? msg : "");
	fflush(stdout);
}

/* The op of c is answered (or failed): its connection goes on, or ends. */
static int finish(latch_ctx *ctx, struct conn *c, int i, bool server)
{
	latch_info *info = NULL;
	int r = latch_op_finish(ctx, c->op, &info);

	if (r == -EAGAIN)
		return 0; /* not yet: stays LATCHING */
	c->op = NULL;
	if (r < 0 && r != -EINPROGRESS) {
		fprintf(stderr, "[%d] %s: %s: %s\n", i, server ? "latch_accept" : "latch_connect",
			strerror(-r), latch_ctx_last_error(ctx));
		c->step = DONE;
		return -1;
	}
	if (server)
		c->fd = r;
	print_peer(i, info);
	latch_info_free(info);
	c->step = r == -EINPROGRESS ? CONNECTING : TALKING;
	if (!server && c->step == TALKING && write(c->fd, c->msg, strlen(c->msg)) < 0)
		c->step = DONE;
	return 0;
}

/* Data on a latched connection: the server echoes, the client prints. */
static void talk(struct conn *c, int i, bool server)
{
	char buf[256];
	ssize_t n = read(c->fd, buf, sizeof(buf) - 1);

	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		c->step = DONE;
		return;
	}
	if (server) {
		if (write(c->fd, buf, (size_t)n) < 0)
			c->step = DONE;
		return;
	}
	buf[n] = 0;
	printf("answer[%d] %s\n", i, buf);
	fflush(stdout);
	c->step = DONE; /* one echo is the whole exchange */
}

/*
 * One poll(2) over the ctx, the listener (server) and every connection,
 * until all n are DONE. Returns the number that failed.
 */
static int run(latch_ctx *ctx, int lfd, struct conn *conns, int n)
{
	struct pollfd p[CONN_MAX + 2];
	int failed = 0, accepted = lfd >= 0 ? 0 : n, done = 0;

	while (done < n) {
		int np = 0, idx[CONN_MAX];

		p[np++] = (struct pollfd){ .fd = latch_ctx_get_fd(ctx), .events = POLLIN };
		p[np++] = (struct pollfd){ .fd = accepted < n ? lfd : -1, .events = POLLIN };
		for (int i = 0; i < n; i++) {
			idx[i] = -1;
			if (conns[i].step == CONNECTING || conns[i].step == TALKING) {
				idx[i] = np;
				p[np++] = (struct pollfd){ .fd = conns[i].fd,
							   .events = conns[i].step == CONNECTING
									     ? POLLOUT
									     : POLLIN };
			}
		}
		if (latch_ctx_pending(ctx) <= 0 && poll(p, (nfds_t)np, -1) < 0 && errno != EINTR)
			return n;
		if (latch_ctx_process(ctx) < 0) /* events, and the ops' answers read meanwhile */
			return n;
		if (p[1].revents & POLLIN) {
			struct conn *c = &conns[accepted];

			if (latch_accept_start(ctx, lfd, NULL, NULL, LATCH_ACCEPT_NONBLOCK,
					       &c->op) == 0) {
				c->step = LATCHING;
				accepted++;
			}
		}
		done = 0;
		for (int i = 0; i < n; i++) {
			struct conn *c = &conns[i];

			if (c->step == LATCHING)
				failed -= finish(ctx, c, i, lfd >= 0);
			else if (c->step == CONNECTING && idx[i] >= 0 && p[idx[i]].revents) {
				c->step = TALKING;
				if (write(c->fd, c->msg, strlen(c->msg)) < 0)
					c->step = DONE;
			} else if (c->step == TALKING && idx[i] >= 0 && p[idx[i]].revents)
				talk(c, i, lfd >= 0);
			done += c->step == DONE;
		}
	}
	return failed;
}

static int serve(latch_ctx *ctx, latch_token *tok, const char *port, int n, struct conn *conns)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	int lfd, r, one = 1;

	sa.sin6_port = htons((uint16_t)atoi(port));
	lfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, CONN_MAX) < 0) {
		perror("listen");
		return 1;
	}
	r = latch_listen(ctx, lfd, tok, 0, NULL);
	if (r < 0) {
		fprintf(stderr, "latch_listen: %s: %s\n", strerror(-r), latch_ctx_last_error(ctx));
		close(lfd);
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	r = run(ctx, lfd, conns, n);
	close(lfd);
	return r != 0;
}

static int connect_all(latch_ctx *ctx, latch_token *tok, char **argv, int n, struct conn *conns)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	int r;

	if (getaddrinfo(argv[2], argv[3], &hints, &ai) != 0 ||
	    latch_token_set_peer_id(tok, argv[4]) < 0)
		return 1;
	/* Every latch asked for at once: IKE for one does not hold up the others. */
	for (int i = 0; i < n; i++) {
		struct conn *c = &conns[i];

		snprintf(c->msg, sizeof(c->msg), "%s-%d", argv[6], i);
		c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		r = latch_connect_start(ctx, c->fd, ai->ai_addr, ai->ai_addrlen, tok, 0, &c->op);
		if (r < 0) {
			fprintf(stderr, "[%d] latch_connect_start: %s: %s\n", i, strerror(-r),
				latch_ctx_last_error(ctx));
			c->step = DONE;
			continue;
		}
		c->step = LATCHING;
	}
	freeaddrinfo(ai);
	return run(ctx, -1, conns, n) != 0;
}

int main(int argc, char **argv)
{
	struct conn conns[CONN_MAX];
	bool server = argc == 4 && !strcmp(argv[1], "serve");
	latch_ctx *ctx = NULL;
	latch_token *tok = NULL;
	int n, rc = 1;

	if (!server && (argc != 7 || strcmp(argv[1], "connect"))) {
		fprintf(stderr,
			"usage: %s serve PORT N\n       %s connect HOST PORT PEER N MESSAGE\n",
			argv[0], argv[0]);
		return 2;
	}
	n = atoi(argv[server ? 3 : 5]);
	if (n < 1 || n > CONN_MAX)
		return 2;
	for (int i = 0; i < n; i++)
		conns[i] = (struct conn){ .step = IDLE, .fd = -1 };
	if (latch_ctx_new(&ctx, NULL, 0) < 0 || latch_token_new(&tok) < 0 ||
	    latch_ctx_set_event_fn(ctx, on_event, NULL) < 0 ||
	    latch_token_set_encrypt(tok, LATCH_WANT_YES) < 0) {
		perror("latch");
		goto out;
	}
	rc = server ? serve(ctx, tok, argv[2], n, conns) : connect_all(ctx, tok, argv, n, conns);
out:
	for (int i = 0; i < n; i++) {
		latch_op_cancel(ctx, conns[i].op);
		if (conns[i].fd >= 0)
			close(conns[i].fd);
	}
	latch_token_free(tok);
	latch_ctx_free(ctx);
	return rc;
}
