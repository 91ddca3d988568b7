/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

void st_add(struct stats *s, double v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		double *nv = realloc(s->v, cap * sizeof(*nv));

		if (!nv)
			return;
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n++] = v;
	s->sorted = false;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest rank: the value below which q of the samples lie. */
static double quantile(struct stats *s, double q)
{
	size_t i;

	if (!s->n)
		return NAN;
	if (!s->sorted) {
		qsort(s->v, s->n, sizeof(*s->v), cmp_double);
		s->sorted = true;
	}
	i = (size_t)ceil(q * (double)s->n);
	return s->v[i ? i - 1 : 0];
}

double st_med(struct stats *s)
{
	return quantile(s, 0.5);
}

double st_p99(struct stats *s)
{
	return quantile(s, 0.99);
}

void st_free(struct stats *s)
{
	free(s->v);
	*s = (struct stats){ 0 };
}

uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void num(char *buf, size_t len, double v)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else if (v != 0 && fabs(v) < 10)
		snprintf(buf, len, "%.3g", v);
	else
		snprintf(buf, len, "%.0f", v);
}

void row(const char *figure, const char *unit, double l_med, double l_p99, double b_med,
	 double b_p99, const char *target, const char *met)
{
	char lm[32], lp[32], bm[32], bp[32], ratio[32];

	num(lm, sizeof(lm), l_med);
	num(lp, sizeof(lp), l_p99);
	num(bm, sizeof(bm), b_med);
	num(bp, sizeof(bp), b_p99);
	if (isnan(l_med) || isnan(b_med) || b_med == 0)
		snprintf(ratio, sizeof(ratio), "-");
	else
		snprintf(ratio, sizeof(ratio), "%.3g×", l_med / b_med);
	printf("| %s | %s / %s %s | %s / %s %s | %s | %s | %s |\n", figure, lm, lp, unit, bm, bp,
	       unit, ratio, target, met);
	fflush(stdout);
}

void row_stats(const char *figure, const char *unit, struct stats *l, struct stats *b,
	       const char *target, const char *met)
{
	row(figure, unit, st_med(l), st_p99(l), st_med(b), st_p99(b), target, met);
}

void note(const char *fmt, ...)
{
	va_list ap;

	printf("note: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

void enter_ns(int nsfd)
{
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		perror("setns");
		exit(1);
	}
}

int sock_a(struct bench *B, bool mark, uint16_t sport)
{
	int fd, m = BENCH_MARK, one = 1;

	enter_ns(B->ns_a);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("socket");
		exit(1);
	}
	if (mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &m, sizeof(m)) < 0) {
		perror("SO_MARK");
		exit(1);
	}
	if (sport) {
		struct sockaddr_in me = B->a;

		me.sin_port = htons(sport);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0) {
			perror("bind");
			exit(1);
		}
	}
	return fd;
}

int plain_connect(struct bench *B, int fd)
{
	return connect(fd, (struct sockaddr *)&B->b, sizeof(B->b)) < 0 ? -errno : 0;
}

void close_rst(int fd)
{
	struct linger lg = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

int accept_b(struct bench *B, bool latched)
{
	int fd;

	if (!latched)
		return accept4(B->lfd, NULL, NULL, SOCK_CLOEXEC);
	fd = latch_accept(B->cb, B->lfd, NULL, NULL, 0, NULL);
	if (fd < 0)
		fprintf(stderr, "latch_accept: %s: %s\n", strerror(-fd),
			latch_ctx_last_error(B->cb));
	return fd;
}

latch_token *token(struct bench *B, bool exact)
{
	latch_token *tok;

	if (latch_token_new(&tok) < 0 || latch_token_set_peer_id(tok, B->peer_id) < 0 ||
	    (exact && latch_token_set_flags(tok, LATCH_TOKEN_EXACT) < 0)) {
		fprintf(stderr, "token\n");
		exit(1);
	}
	return tok;
}

static int read_proc(pid_t pid, const char *what, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

long rss_kib(pid_t pid)
{
	char buf[4096], *p;

	if (read_proc(pid, "status", buf, sizeof(buf)) < 0 || !(p = strstr(buf, "VmRSS:")))
		return -1;
	return strtol(p + 6, NULL, 10);
}

uint64_t cpu_usec(pid_t pid)
{
	unsigned long long ut, st;
	long hz = sysconf(_SC_CLK_TCK);
	char buf[1024], *p;

	/* comm may hold spaces: the fields start after its closing parenthesis */
	if (read_proc(pid, "stat", buf, sizeof(buf)) < 0 || !(p = strrchr(buf, ')')))
		return 0;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return (ut + st) * 1000000ull / (unsigned long long)hz;
}

void bench_reconnect(struct bench *B)
{
	latch_ctx_free(B->ca);
	if (latch_ctx_new(&B->ca, B->sock_a, 0) < 0) {
		fprintf(stderr, "cannot reach a's latchd\n");
		exit(1);
	}
}

void settle(struct bench *B, unsigned ms)
{
	uint64_t end = now_usec() + ms * 1000u;

	while (now_usec() < end) {
		vsync_pump(B->va, 2000);
		vsync_pump(B->vb, 0);
	}
}

static uint64_t daemons_cpu(const struct bench *B)
{
	return cpu_usec(B->latchd_a) + cpu_usec(B->charon_a) + cpu_usec(B->latchd_b) +
	       cpu_usec(B->charon_b);
}

double bench_quiet(struct bench *B, double max_ms)
{
	double t0 = now_ms();
	uint64_t c0;

	do {
		c0 = daemons_cpu(B);
		settle(B, 200);
	} while (daemons_cpu(B) - c0 > 2000 && now_ms() - t0 < max_ms);
	return now_ms() - t0;
}
