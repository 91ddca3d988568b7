/* SPDX-License-Identifier: MIT */
/*
 * Concurrent latches between two hosts: shared mode from 10 to 10,000, and
 * exact mode (a child SA per flow) up to where it degrades. Latches grow in
 * steps and stay open; each step is measured against plain connects over
 * the same SA, made and closed within the step.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static const char *yes(bool ok)
{
	return ok ? "yes" : "**no**";
}

struct sink {
	int fd;
	size_t got;
};

static void *sink_thread(void *u)
{
	struct sink *s = u;
	static __thread char buf[65536];
	ssize_t n;

	while ((n = recv(s->fd, buf, sizeof(buf), 0)) > 0)
		s->got += (size_t)n;
	return NULL;
}

/* One flow a -> b of len bytes, latched or a plain one over the same SA; Mbit/s, or NAN. */
static double xfer(struct bench *B, bool latched, bool exact, size_t len)
{
	static char buf[65536];
	int fd = sock_a(B, !latched, 0), r;
	struct sink s = { -1, 0 };
	pthread_t th;
	double t0, t;
	size_t sent = 0;

	if (latched) {
		latch_token *tok = token(B, exact);

		r = latch_connect(B->ca, fd, (struct sockaddr *)&B->b, sizeof(B->b), tok, 0, NULL);
		latch_token_free(tok);
	} else {
		r = plain_connect(B, fd);
	}
	if (r < 0 || (s.fd = accept_b(B, latched)) < 0) {
		fprintf(stderr, "xfer: %s\n", strerror(r < 0 ? -r : errno));
		close(fd);
		return NAN;
	}
	pthread_create(&th, NULL, sink_thread, &s);
	t0 = now_ms();
	while (sent < len) {
		ssize_t n = send(fd, buf, sizeof(buf) < len - sent ? sizeof(buf) : len - sent,
				 MSG_NOSIGNAL);

		if (n <= 0)
			break;
		sent += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	pthread_join(th, NULL);
	t = now_ms() - t0;
	close(fd);
	close(s.fd);
	return s.got == len ? (double)len * 8 / (t * 1000) : NAN;
}

static void throughput(struct bench *B, unsigned n, bool exact, size_t len)
{
	unsigned reps = B->quick ? 1 : 3;
	struct stats l = { 0 }, p = { 0 };
	char fig[128];
	double v;

	for (unsigned i = 0; i < reps; i++) {
		if (!isnan(v = xfer(B, true, exact, len)))
			st_add(&l, v);
		if (!isnan(v = xfer(B, false, false, len)))
			st_add(&p, v);
	}
	snprintf(fig, sizeof(fig), "3. %s, %u open: one latched flow vs unlatched IPsec flow",
		 exact ? "exact" : "shared", n);
	row(fig, "Mbit/s", st_med(&l), st_p99(&l), st_med(&p), st_p99(&p), "≥ 0.95×",
	    yes(st_med(&l) >= 0.95 * st_med(&p)));
	st_free(&l);
	st_free(&p);
}

/* Run latchctl against a's latchd; wall time in ms. */
static double latchctl_ms(struct bench *B, const char *what)
{
	double t0 = now_ms();
	pid_t pid;
	int st;

	if (!B->latchctl)
		return NAN;
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		execl(B->latchctl, "latchctl", "--socket", B->sock_a, what, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		return NAN;
	return now_ms() - t0;
}

static void query_at(struct bench *B, const int *afd, unsigned n, unsigned reps, struct stats *q)
{
	for (unsigned i = 0; i < reps; i++) {
		latch_info *info = NULL;
		double t0 = now_ms();

		if (latch_socket_query(B->cb, afd[(unsigned)random() % n], &info) == 0)
			st_add(q, (now_ms() - t0) * 1000);
		latch_info_free(info);
	}
}

/* Plain connects over the same SA, as many as the step added (at most 2,000); per second. */
static double plain_rate(struct bench *B, unsigned k)
{
	int *fd = calloc(k, sizeof(*fd));
	unsigned made = 0;
	double t0 = now_ms(), t;

	for (; made < k; made++) {
		fd[made] = sock_a(B, true, 0);
		if (plain_connect(B, fd[made]) < 0) {
			close(fd[made]);
			break;
		}
	}
	t = now_ms() - t0;
	for (unsigned i = 0; i < made; i++) {
		int afd = accept_b(B, false);

		if (afd >= 0)
			close(afd);
		close_rst(fd[i]);
	}
	free(fd);
	return made ? made * 1000.0 / t : NAN;
}

/*
 * b's side of the shared-mode latches lives in a helper process: 10,000
 * connections are 20,000 sockets, more than one process may open here
 * (RLIMIT_NOFILE's hard limit). It accepts and queries on request.
 */
struct cmd {
	char op; /* 'A': accept n latched; 'Q': n queries on random held sockets; 'X': exit */
	unsigned n;
};

static void holder_main(struct bench *B, int sv, unsigned max)
{
	int *fb = calloc(max, sizeof(*fb));
	unsigned have = 0;
	struct cmd c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (!fb || latch_ctx_new(&B->cb, B->sock_b, 0) < 0)
		_exit(1);
	while (read(sv, &c, sizeof(c)) == sizeof(c) && c.op != 'X') {
		double out[2] = { 0 }, t0 = now_ms();
		struct stats q = { 0 };

		if (c.op == 'A') {
			for (unsigned i = 0; i < c.n && have < max; i++)
				fb[have++] = accept_b(B, true);
			out[0] = now_ms() - t0;
		} else if (c.op == 'Q' && have) {
			query_at(B, fb, have, c.n, &q);
			out[0] = st_med(&q);
			out[1] = st_p99(&q);
			st_free(&q);
		}
		if (write(sv, out, sizeof(out)) != sizeof(out))
			break;
	}
	_exit(0);
}

static pid_t holder_start(struct bench *B, unsigned max, int *sv)
{
	int p[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		holder_main(B, p[1], max);
	}
	close(p[1]);
	*sv = p[0];
	return pid;
}

static void holder_ask(int sv, char op, unsigned n, double out[2])
{
	struct cmd c = { op, n };

	out[0] = out[1] = NAN;
	if (write(sv, &c, sizeof(c)) != sizeof(c) || read(sv, out, 2 * sizeof(*out)) < 0)
		out[0] = out[1] = NAN;
}

/*
 * Wait until a's latchd has closed every latch of the sockets just closed (it
 * learns of each from the kernel's destroy event): a new socket may get the
 * port of one whose latch is still there, and be refused with EEXIST.
 */
static void drained(struct bench *B)
{
	char cmd[512], line[256];
	double t0 = now_ms();

	if (!B->latchctl)
		return;
	snprintf(cmd, sizeof(cmd), "%s --socket %s status", B->latchctl, B->sock_a);
	while (now_ms() - t0 < 120000) {
		FILE *f = popen(cmd, "r");
		long n = -1;

		while (f && fgets(line, sizeof(line), f)) {
			if (!strncmp(line, "ESTABLISHED", 11))
				n = strtol(line + 11, NULL, 10);
		}
		if (f)
			pclose(f);
		if (n == 0)
			break;
		usleep(200000);
	}
	note("latches closed %.1f s after their sockets", (now_ms() - t0) / 1000);
}

void bench_scale(struct bench *B, const unsigned *sizes, size_t nsizes)
{
	unsigned max = sizes[nsizes - 1], have = 0, reps = B->quick ? 300 : 2000;
	int *fa = calloc(max, sizeof(*fa)), sv;
	long rss0_a = rss_kib(B->latchd_a), rss0_b = rss_kib(B->latchd_b);
	pid_t holder = holder_start(B, max, &sv);
	double q10[2] = { NAN, NAN };
	char fig[128];

	if (holder < 0 || !fa)
		return;
	for (size_t s = 0; s < nsizes; s++) {
		unsigned n = sizes[s], add = n - have;
		double t0, t_conn, acc[2], q[2], pr;
		long ra, rb;

		t0 = now_ms();
		for (; have < n; have++) {
			latch_token *tok = token(B, false);
			int r;

			fa[have] = sock_a(B, false, 0);
			r = latch_connect(B->ca, fa[have], (struct sockaddr *)&B->b, sizeof(B->b),
					  tok, 0, NULL);
			latch_token_free(tok);
			if (r < 0) {
				fprintf(stderr, "latch_connect %u: %s\n", have,
					latch_ctx_last_error(B->ca));
				close(fa[have]);
				break;
			}
		}
		t_conn = now_ms() - t0;
		holder_ask(sv, 'A', add, acc);
		if (have < n) {
			note("scale: stopped at %u latches", have);
			break;
		}
		pr = plain_rate(B, add < 2000 ? add : 2000);
		snprintf(fig, sizeof(fig), "3. shared, %u: latches/s vs plain connects/s", n);
		row(fig, "/s", add * 1000.0 / t_conn, NAN, pr, NAN, "-", "-");
		note("scale %u: %u latch_connect in %.0f ms, %u latch_accept on b in %.0f ms "
		     "(%.0f/s)",
		     n, add, t_conn, add, acc[0], add * 1000.0 / acc[0]);
		holder_ask(sv, 'Q', reps, q);
		if (s == 0)
			memcpy(q10, q, sizeof(q10));
		snprintf(fig, sizeof(fig), "3. shared, %u: identity query vs at %u", n, sizes[0]);
		row(fig, "µs", q[0], q[1], q10[0], q10[1], "≤ 2×", yes(q[0] <= 2 * q10[0]));
		ra = rss_kib(B->latchd_a);
		rb = rss_kib(B->latchd_b);
		snprintf(fig, sizeof(fig), "3. shared, %u: latchd RSS per latch (a; b)", n);
		row(fig, "B", (double)(ra - rss0_a) * 1024 / n, NAN,
		    (double)(rb - rss0_b) * 1024 / n, NAN, "< 2048 B",
		    yes((ra - rss0_a) * 1024 / n < 2048 && (rb - rss0_b) * 1024 / n < 2048));
		note("scale %u: latchd RSS a %ld → %ld KiB, b %ld → %ld KiB (second column: b, "
		     "not a baseline)",
		     n, rss0_a, ra, rss0_b, rb);
		if (B->latchctl) {
			struct stats l = { 0 }, st = { 0 };

			for (int i = 0; i < 3; i++) {
				st_add(&l, latchctl_ms(B, "list"));
				st_add(&st, latchctl_ms(B, "status"));
			}
			snprintf(fig, sizeof(fig),
				 "3. shared, %u: latchctl list vs latchctl status", n);
			row_stats(fig, "ms", &l, &st, "-", "-");
			st_free(&l);
			st_free(&st);
		}
		throughput(B, n, false, B->quick ? 4u << 20 : 16u << 20);
	}
	holder_ask(sv, 'X', 0, (double[2]){ 0 });
	waitpid(holder, NULL, 0);
	close(sv);
	bench_reconnect(B);
	for (unsigned i = 0; i < have; i++)
		close_rst(fa[i]);
	free(fa);
	drained(B);
}

/*
 * Exact mode: every latch brings up a child SA of its own; libipsec walks
 * lists of them per packet and charon per new child. Grow until a step's
 * median setup is 5× the first step's, or a step takes over budget.
 */
void bench_exact_scale(struct bench *B, const unsigned *sizes, size_t nsizes)
{
	unsigned max = sizes[nsizes - 1], have = 0, ceiling = 0;
	int *fa = calloc(max, sizeof(*fa)), *fb = calloc(max, sizeof(*fb));
	struct stats first = { 0 };
	double budget_ms = B->quick ? 20000 : 240000, t_start, waited = bench_quiet(B, 60000);
	char fig[128];

	note("exact: began after %.1f s waiting for both hosts' latchd and charon to be idle",
	     waited / 1000);
	t_start = now_ms();
	for (size_t s = 0; s < nsizes && !ceiling; s++) {
		unsigned n = sizes[s];
		struct stats st = { 0 };

		for (; have < n; have++) {
			latch_token *tok = token(B, true);
			double t0 = now_ms();
			int r;

			fa[have] = sock_a(B, false, 0);
			r = latch_connect(B->ca, fa[have], (struct sockaddr *)&B->b, sizeof(B->b),
					  tok, 0, NULL);
			latch_token_free(tok);
			if (r < 0) {
				fprintf(stderr, "exact latch_connect %u: %s\n", have,
					latch_ctx_last_error(B->ca));
				close(fa[have]);
				break;
			}
			st_add(&st, now_ms() - t0);
			/* out of b's backlog, so the next accept is the throughput flow's */
			fb[have] = accept_b(B, false);
			if (now_ms() - t_start > budget_ms)
				break;
		}
		if (s == 0) {
			for (size_t i = 0; i < st.n; i++)
				st_add(&first, st.v[i]);
		}
		snprintf(fig, sizeof(fig), "3. exact, %u: latch_connect vs at %u", have, sizes[0]);
		row_stats(fig, "ms", &st, &first, "-", "-");
		/* the newest flow's data plane: the lists libipsec walks now hold `have` children
		 */
		throughput(B, have, true, B->quick ? 2u << 20 : 8u << 20);
		if (have < n || st_med(&st) > 5 * st_med(&first))
			ceiling = have;
		st_free(&st);
	}
	if (ceiling)
		note("exact: ceiling at about %u children on one IKE_SA (setup ≥ 5× or budget)",
		     ceiling);
	else
		note("exact: no ceiling below %u children", have);
	bench_reconnect(B);
	for (unsigned i = 0; i < have; i++) {
		close_rst(fa[i]);
		close(fb[i]);
	}
	st_free(&first);
	free(fa);
	free(fb);
}
