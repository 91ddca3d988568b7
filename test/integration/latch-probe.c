/* SPDX-License-Identifier: MIT */
/*
 * latch-probe: the integration tests' application, written to <latch/latch.h>.
 * It prints what it learns as "key=value" lines a shell script can grep.
 *
 *   latch-probe connect ADDR PORT [options]   latch_connect, then write marker lines
 *   latch-probe serve PORT [options]          latch_listen, latch_accept, record what arrives
 *
 * options: --peer-id ID, --peer-ca DN, --pattern P, --spki HEX, --exact, --wait (on break),
 *   --allow-unlatched, --no-connect (UDP: latch the destination, sendto(2) it unconnected),
 *   --udp, --sport P, --marker M, --count N, --interval MS, --out FILE, --accepts N,
 *   --until FILE (go on writing lines, --count at least, until FILE exists),
 *   --hold MS (keep the connection after the last line, reporting events),
 *   --reset (close with a reset, SO_LINGER 0: no TIME_WAIT, the port is free at once),
 *   --btns (a BTNS peer is acceptable), --lof (leap of faith: pin the peer's key)
 *
 * A connecting probe also prints what latch_socket_query() says of its connection after
 * each batch of events ("query ...") and at the end of --hold ("held ...").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <latch/latch.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct opts {
	const char *peer_id, *peer_ca, *pattern, *spki, *marker, *out, *until;
	bool exact, wait, udp, allow_unlatched, no_connect, btns, lof, reset;
	int sport, count, interval_ms, accepts, hold_ms;
};

static const char *errname(int e)
{
	static char buf[16];

	switch (e) {
	case ECONNABORTED:
		return "ECONNABORTED";
	case ECONNREFUSED:
		return "ECONNREFUSED";
	case ECONNRESET:
		return "ECONNRESET";
	case ETIMEDOUT:
		return "ETIMEDOUT";
	case EACCES:
		return "EACCES";
	case EPERM:
		return "EPERM";
	case EPIPE:
		return "EPIPE";
	case ENOENT:
		return "ENOENT";
	case ENOSPC:
		return "ENOSPC";
	default:
		snprintf(buf, sizeof(buf), "E%d", e);
		return buf;
	}
}

static void hex(const char *key, const uint8_t *p, size_t n)
{
	printf(" %s=", key);
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

static void print_ident(const char *side, const latch_ident *id)
{
	uint8_t spki[LATCH_SHA256_LEN];
	const void *der;
	size_t der_len;

	if (!id)
		return;
	printf(" %s_id=\"%s\" %s_auth=%s", side, latch_ident_get_id(id), side,
	       latch_auth_name(latch_ident_get_auth(id)));
	if (latch_ident_get_subject(id))
		printf(" %s_subject=\"%s\"", side, latch_ident_get_subject(id));
	if (latch_ident_get_issuer(id))
		printf(" %s_issuer=\"%s\"", side, latch_ident_get_issuer(id));
	if (latch_ident_get_pubkey_id(id, spki) == 0)
		hex(!strcmp(side, "peer") ? "peer_pubkey" : "local_pubkey", spki, sizeof(spki));
	if (latch_ident_get_cert_der(id, 0, &der, &der_len) == 0)
		hex(!strcmp(side, "peer") ? "peer_cert_der" : "local_cert_der", der, der_len);
}

static void print_info(const char *what, const latch_info *info)
{
	uint8_t cb[LATCH_CB_LEN];
	uint32_t child, in, out;

	printf("%s id=%llu state=%d reason=%d", what, (unsigned long long)latch_info_get_id(info),
	       latch_info_get_state(info), latch_info_get_reason(info));
	print_ident("peer", latch_info_get_remote(info));
	print_ident("local", latch_info_get_local(info));
	if (latch_ident_get_channel_binding(latch_info_get_remote(info), 0, cb, sizeof(cb)) > 0)
		hex("cb", cb, sizeof(cb));
	if (latch_info_get_sa_ids(info, &child, &in, &out) == 0)
		printf(" child=%u spi_in=%08x spi_out=%08x shared=%d encr=%s", child, in, out,
		       latch_info_get_sa_shared(info), latch_info_get_sa_encr_alg(info));
	printf("\n");
	fflush(stdout);
}

static int hexbytes(const char *s, uint8_t out[LATCH_SHA256_LEN])
{
	if (strlen(s) != 2 * LATCH_SHA256_LEN)
		return -EINVAL;
	for (int i = 0; i < LATCH_SHA256_LEN; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		out[i] = (uint8_t)v;
	}
	return 0;
}

static int make_token(const struct opts *o, latch_token **ret)
{
	uint8_t spki[LATCH_SHA256_LEN];
	latch_token *tok;
	int r = latch_token_new(&tok);

	if (r == 0 && o->peer_id)
		r = latch_token_set_peer_id(tok, o->peer_id);
	if (r == 0 && o->peer_ca)
		r = latch_token_set_peer_ca(tok, o->peer_ca);
	if (r == 0 && o->pattern)
		r = latch_token_set_peer_id_pattern(tok, o->pattern);
	if (r == 0 && o->spki)
		r = hexbytes(o->spki, spki);
	if (r == 0 && o->spki)
		r = latch_token_add_peer_spki(tok, spki);
	if (r == 0 && (o->exact || o->allow_unlatched || o->btns || o->lof))
		r = latch_token_set_flags(
			tok, (o->exact ? LATCH_TOKEN_EXACT : 0) |
				     (o->allow_unlatched ? LATCH_TOKEN_ALLOW_UNLATCHED : 0) |
				     (o->btns ? LATCH_TOKEN_PEER_BTNS : 0) |
				     (o->lof ? LATCH_TOKEN_LEAP_OF_FAITH : 0));
	if (r == 0 && o->wait)
		r = latch_token_set_on_break(tok, LATCH_ON_BREAK_WAIT);
	if (r < 0) {
		latch_token_free(tok);
		return r;
	}
	*ret = tok;
	return 0;
}

/* The connected socket whose latch the owner asks about after events and holds, or -1. */
static int query_fd = -1;
static bool evented;

static void on_event(latch_ctx *ctx, uint64_t id, int state, int reason, const char *msg, void *u)
{
	printf("event id=%llu state=%d reason=%d message=\"%s\"\n", (unsigned long long)id, state,
	       reason, msg ? msg : "");
	fflush(stdout);
	evented = true;
}

/* What latch_socket_query() says of the connection now, as a line tagged what. */
static void print_query(latch_ctx *ctx, const char *what)
{
	latch_info *info = NULL;
	int r;

	if (query_fd < 0)
		return;
	r = latch_socket_query(ctx, query_fd, &info);
	if (r < 0) {
		printf("%s error %s\n", what, errname(-r));
		fflush(stdout);
		return;
	}
	print_info(what, info);
	latch_info_free(info);
}

/* Sleep ms while delivering latch events. */
static void pause_ms(latch_ctx *ctx, int ms)
{
	struct pollfd p = { .fd = latch_ctx_get_fd(ctx), .events = POLLIN };
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		long left;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = ms - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return;
		if (latch_ctx_process(ctx) < 0) {
			/* latchd went away (a restart): keep the pace without events */
			struct timespec ts = { left / 1000, (left % 1000) * 1000000 };

			nanosleep(&ts, NULL);
			return;
		}
		if (evented)
			print_query(ctx, "query");
		evented = false;
	}
}

static int bind_sport(int fd, int family, int port)
{
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
	int one = 1;

	if (!port)
		return 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
	return bind(fd, (struct sockaddr *)&ss, sizeof(ss)) < 0 ? -errno : 0;
}

/* A stream with --until lasts as long as the scenario needs, however slow the machine. */
static bool more_lines(const struct opts *o, int sent)
{
	return sent < o->count || (o->until && access(o->until, F_OK) != 0);
}

static int send_lines(latch_ctx *ctx, int fd, const struct opts *o, const struct sockaddr *to,
		      socklen_t tolen)
{
	char line[256];
	int i;

	for (i = 0; more_lines(o, i); i++) {
		int n = snprintf(line, sizeof(line), "%s-%d\n", o->marker, i);

		if (i > 0)
			pause_ms(ctx, o->interval_ms);
		if (sendto(fd, line, (size_t)n, MSG_NOSIGNAL, to, to ? tolen : 0) < 0) {
			printf("error %s after %d\n", errname(errno), i);
			return 1;
		}
	}
	printf("sent %d\n", i);
	return 0;
}

static int do_connect(latch_ctx *ctx, const char *addr, int port, const struct opts *o)
{
	struct sockaddr_storage ss = { 0 };
	latch_token *tok = NULL;
	latch_info *info = NULL;
	int fd, r, family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	socklen_t len;

	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, addr, &s6->sin6_addr);
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, addr, &s4->sin_addr);
		len = sizeof(*s4);
	}
	fd = socket(family, (o->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd < 0 || make_token(o, &tok) < 0 || bind_sport(fd, family, o->sport) < 0)
		return 2;
	r = latch_connect(ctx, fd, (struct sockaddr *)&ss, len, tok,
			  o->no_connect ? LATCH_CONNECT_NO_CONNECT : 0, &info);
	latch_token_free(tok);
	if (r < 0) {
		printf("error %s: %s\n", errname(-r), latch_ctx_last_error(ctx));
		return 1;
	}
	print_info("latched", info);
	latch_info_free(info);
	if (!o->no_connect)
		query_fd = fd;
	r = send_lines(ctx, fd, o, o->no_connect ? (struct sockaddr *)&ss : NULL, len);
	if (r == 0 && o->hold_ms) {
		pause_ms(ctx, o->hold_ms);
		print_query(ctx, "held");
		if (send(fd, "x\n", 2, MSG_NOSIGNAL) < 0)
			printf("after-hold error %s\n", errname(errno));
	}
	fflush(stdout);
	if (o->reset)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &(struct linger){ 1, 0 },
			   sizeof(struct linger));
	close(fd);
	return r;
}

static void record(int fd, FILE *out)
{
	char buf[4096];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		fwrite(buf, 1, (size_t)n, out);
		fflush(out);
	}
	if (n < 0)
		printf("recv-error %s\n", errname(errno));
}

/* A datagram server: every new sender's identity once, then what it sends. */
static int serve_udp(latch_ctx *ctx, int fd, FILE *out, int count)
{
	struct sockaddr_storage seen[16];
	int n_seen = 0;

	for (int got = 0; !count || got < count; got++) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		latch_info *info = NULL;
		char buf[2048];
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
		bool known = false;

		if (n < 0)
			return 1;
		for (int i = 0; i < n_seen; i++)
			known |= !memcmp(&seen[i], &from, flen);
		if (!known && n_seen < 16) {
			seen[n_seen++] = from;
			if (latch_socket_query_peer(ctx, fd, (struct sockaddr *)&from, flen,
						    &info) == 0)
				print_info("datagram", info);
			else
				printf("datagram-error %s\n", latch_ctx_last_error(ctx));
			latch_info_free(info);
			fflush(stdout);
		}
		fwrite(buf, 1, (size_t)n, out);
		fflush(out);
	}
	return 0;
}

static int do_serve(latch_ctx *ctx, int port, const struct opts *o)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
	FILE *out = o->out ? fopen(o->out, "a") : stdout;
	latch_token *tok = NULL;
	int lfd, one = 1, zero = 0, r;

	lfd = socket(AF_INET6, (o->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (lfd < 0 || !out || make_token(o, &tok) < 0)
		return 2;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || (!o->udp && listen(lfd, 16) < 0))
		return 2;
	r = latch_listen(ctx, lfd, tok, 0, NULL);
	latch_token_free(tok);
	if (r < 0) {
		printf("error %s: %s\n", errname(-r), latch_ctx_last_error(ctx));
		return 1;
	}
	printf("listening port=%d\n", port);
	fflush(stdout);
	if (o->udp)
		return serve_udp(ctx, lfd, out, o->accepts);
	for (int i = 0; !o->accepts || i < o->accepts; i++) {
		latch_info *info = NULL;
		int fd = latch_accept(ctx, lfd, NULL, NULL, 0, &info);

		if (fd < 0) {
			printf("accept-error %s: %s\n", errname(-fd), latch_ctx_last_error(ctx));
			fflush(stdout);
			continue;
		}
		print_info("accepted", info);
		latch_info_free(info);
		record(fd, out);
		close(fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "peer-id", required_argument, NULL, 'i' },
		{ "peer-ca", required_argument, NULL, 'C' },
		{ "pattern", required_argument, NULL, 'p' },
		{ "spki", required_argument, NULL, 'k' },
		{ "exact", no_argument, NULL, 'x' },
		{ "wait", no_argument, NULL, 'w' },
		{ "udp", no_argument, NULL, 'u' },
		{ "sport", required_argument, NULL, 's' },
		{ "marker", required_argument, NULL, 'm' },
		{ "count", required_argument, NULL, 'n' },
		{ "interval", required_argument, NULL, 'I' },
		{ "out", required_argument, NULL, 'o' },
		{ "accepts", required_argument, NULL, 'a' },
		{ "allow-unlatched", no_argument, NULL, 'U' },
		{ "no-connect", no_argument, NULL, 'N' },
		{ "reset", no_argument, NULL, 'R' },
		{ "until", required_argument, NULL, 'T' },
		{ "hold", required_argument, NULL, 'h' },
		{ "btns", no_argument, NULL, 'B' },
		{ "lof", no_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .marker = "PROBE", .count = 1, .interval_ms = 50 };
	latch_ctx *ctx;
	int ch, r;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'i':
			o.peer_id = optarg;
			break;
		case 'C':
			o.peer_ca = optarg;
			break;
		case 'p':
			o.pattern = optarg;
			break;
		case 'k':
			o.spki = optarg;
			break;
		case 'U':
			o.allow_unlatched = true;
			break;
		case 'R':
			o.reset = true;
			break;
		case 'N':
			o.no_connect = true;
			break;
		case 'x':
			o.exact = true;
			break;
		case 'w':
			o.wait = true;
			break;
		case 'u':
			o.udp = true;
			break;
		case 's':
			o.sport = atoi(optarg);
			break;
		case 'm':
			o.marker = optarg;
			break;
		case 'n':
			o.count = atoi(optarg);
			break;
		case 'I':
			o.interval_ms = atoi(optarg);
			break;
		case 'o':
			o.out = optarg;
			break;
		case 'a':
			o.accepts = atoi(optarg);
			break;
		case 'T':
			o.until = optarg;
			break;
		case 'h':
			o.hold_ms = atoi(optarg);
			break;
		case 'B':
			o.btns = true;
			break;
		case 'L':
			o.lof = true;
			break;
		default:
			return 2;
		}
	}
	if (argc - optind < 2)
		return 2;
	r = latch_ctx_new(&ctx, NULL, 0);
	if (r < 0) {
		printf("error %s: cannot reach latchd\n", errname(-r));
		return 1;
	}
	if (latch_ctx_set_event_fn(ctx, on_event, NULL) < 0 || latch_ctx_watch(ctx, 0) < 0)
		return 2;
	if (!strcmp(argv[optind], "connect") && argc - optind == 3)
		r = do_connect(ctx, argv[optind + 1], atoi(argv[optind + 2]), &o);
	else if (!strcmp(argv[optind], "serve"))
		r = do_serve(ctx, atoi(argv[optind + 1]), &o);
	else
		r = 2;
	latch_ctx_free(ctx);
	return r;
}
