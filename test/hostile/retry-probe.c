/* SPDX-License-Identifier: MIT */
/*
 * An application that keeps using a socket after its latch failed, for
 * retry-clear.t: the socket is given a token (the draft's pToken, or the
 * native latch_connect), the first attempt fails or succeeds, and then the
 * same descriptor connects again, or sends to another port, with plain
 * socket calls: what must never leave in clear.
 *
 *	retry-probe MODE HOST PORT PEER_ID PLAIN_PORT MARKER [SPORT] [--then ctx|exec|release]
 *
 * MODE draft: TCP, ipsec_set_socket_pToken() then connect(2) to PORT; native:
 * TCP, latch_connect() to PORT; udp: UDP, latch_connect() to PORT. Then, on
 * the same socket: TCP connect(2) to PLAIN_PORT and the marker written; UDP
 * sendto(2) of the marker to PLAIN_PORT. --then, between the two: ctx frees
 * the native ctx; exec forks, the child execs this program again with the
 * socket (the parent exits, and its connection to latchd with it); release
 * releases the native latch (latch_socket_release). A TCP retry gives up
 * after 3 s (SO_SNDTIMEO: a connect(2) whose SYNs are dropped).
 *
 * Prints "first ok" or "first error ENAME", then "retry ok" or "retry error
 * ENAME" (a UDP datagram is "ok" when sendto(2) took it). Exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ipsecapi.h>
#include <latch/latch.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static const char *errname(int e)
{
	static const struct {
		int e;
		const char *name;
	} names[] = {
		{ ECONNABORTED, "ECONNABORTED" },
		{ ECONNREFUSED, "ECONNREFUSED" },
		{ ETIMEDOUT, "ETIMEDOUT" },
		{ EACCES, "EACCES" },
		{ EPERM, "EPERM" },
		{ EAGAIN, "EAGAIN" },
		{ ECONNRESET, "ECONNRESET" },
		{ EPIPE, "EPIPE" },
		{ EISCONN, "EISCONN" },
		{ EHOSTUNREACH, "EHOSTUNREACH" },
		{ EINPROGRESS, "EINPROGRESS" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i].e == e)
			return names[i].name;
	}
	return "EOTHER";
}

static struct sockaddr_in addr_of(const char *host, const char *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(atoi(port)) };

	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
		fprintf(stderr, "bad address %s\n", host);
		exit(2);
	}
	return sin;
}

static void report(const char *what, int r)
{
	if (r < 0)
		printf("%s error %s (%s)\n", what, errname(-r), strerror(-r));
	else
		printf("%s ok\n", what);
	fflush(stdout);
}

/* The draft flow's token on fd: privacy, the peer named. */
static int draft_token(int fd, const char *peer)
{
	char text[512];
	ipsec_pToken_t pt = ipsec_create_pToken();
	ipsec_iToken_t it = NULL;
	uint16_t on = IPSEC_API_ATTR_ENABLE;
	int r = 0;

	snprintf(text, sizeof(text), "latch-ident/1 id=%s", peer);
	if (!pt || ipsec_set_token_attr(pt, IPSEC_API_ATTR_privacyProtected, sizeof(on), &on) ||
	    ipsec_import_iToken(text, &it) ||
	    ipsec_set_token_attr(pt, IPSEC_API_ATTR_iToken, sizeof(it), &it) ||
	    ipsec_set_socket_pToken(fd, pt))
		r = -errno;
	if (it)
		ipsec_free_iToken(it);
	if (pt)
		ipsec_free_pToken(pt);
	return r;
}

/* The first attempt: the socket is given its token. */
static int first(const char *mode, int fd, const struct sockaddr_in *to, const char *peer,
		 latch_ctx **ctx)
{
	latch_token *tok;
	int r;

	if (!strcmp(mode, "draft")) {
		r = draft_token(fd, peer);
		if (r < 0)
			return r;
		return connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0 ? -errno : 0;
	}
	r = latch_ctx_new(ctx, NULL, 0);
	if (r == 0)
		r = latch_token_new(&tok);
	if (r < 0)
		return r;
	r = latch_token_set_peer_id(tok, peer);
	if (r == 0)
		r = latch_connect(*ctx, fd, (const struct sockaddr *)to, sizeof(*to), tok, 0, NULL);
	latch_token_free(tok);
	return r;
}

/* The retry, with plain socket calls on the same descriptor. */
static int retry(bool udp, int fd, const struct sockaddr_in *to, const char *marker)
{
	char line[256];
	size_t n = (size_t)snprintf(line, sizeof(line), "%s\n", marker);
	int r;

	if (udp)
		return sendto(fd, line, n, 0, (const struct sockaddr *)to, sizeof(*to)) < 0 ? -errno
											    : 0;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &(struct timeval){ .tv_sec = 3 },
		       sizeof(struct timeval)) < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)to, sizeof(*to));
	if (r < 0 && errno == EISCONN) {
		/* a reset connection (a released latch): disconnect, as a program would */
		struct sockaddr unspec = { .sa_family = AF_UNSPEC };

		r = connect(fd, &unspec, sizeof(unspec));
		if (r == 0)
			r = connect(fd, (const struct sockaddr *)to, sizeof(*to));
	}
	if (r < 0)
		return -errno;
	if (write(fd, line, n) < 0)
		return -errno;
	usleep(300000); /* the server reads the line before the connection ends */
	return 0;
}

int main(int argc, char **argv)
{
	const char *then = argc >= 9 && !strcmp(argv[argc - 2], "--then") ? argv[argc - 1] : "";
	latch_ctx *ctx = NULL;
	struct sockaddr_in to, plain;
	bool udp;
	int fd;

	if (argc >= 5 && !strcmp(argv[1], "--retry-fd")) { /* the exec'd child: no ctx at all */
		usleep(500000);				   /* latchd has read its client's end */
		plain = addr_of(argv[3], argv[4]);
		report("retry", retry(!strcmp(argv[5], "udp"), atoi(argv[2]), &plain, argv[6]));
		return 0;
	}
	if (argc < 7) {
		fprintf(stderr,
			"usage: %s MODE HOST PORT PEER_ID PLAIN_PORT MARKER [SPORT] "
			"[--then ctx|exec|release]\n",
			argv[0]);
		return 2;
	}
	udp = !strcmp(argv[1], "udp");
	to = addr_of(argv[2], argv[3]);
	plain = addr_of(argv[2], argv[5]);
	fd = socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
	if (argc > 7 && argv[7][0] != '-') { /* a known local port, for the capture's filter */
		struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[7])) };

		if (bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0)
			return perror("bind"), 1;
	}
	report("first", first(argv[1], fd, &to, argv[4], &ctx));
	if (!strcmp(then, "release")) {
		report("release", latch_socket_release(ctx, fd));
	} else if (!strcmp(then, "ctx")) {
		latch_ctx_free(ctx);
		ctx = NULL;
		usleep(500000); /* latchd has read its client's end */
	} else if (!strcmp(then, "exec")) {
		char fdtext[16];

		snprintf(fdtext, sizeof(fdtext), "%d", fd);
		if (fork() == 0) {
			execl("/proc/self/exe", argv[0], "--retry-fd", fdtext, argv[2], argv[5],
			      argv[1], argv[6], (char *)NULL);
			_exit(127);
		}
		latch_ctx_free(ctx);
		return 0; /* the parent's connection to latchd ends with it */
	}
	report("retry", retry(udp, fd, &plain, argv[6]));
	latch_ctx_free(ctx);
	close(fd);
	return 0;
}
