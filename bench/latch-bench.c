/* SPDX-License-Identifier: MIT */
/*
 * latch-bench: run by bench/run.sh on the lab (see bench.h).
 *
 *	latch-bench [options] PHASE...
 *
 * phases: setup (shared), setup-exact, load-conn (charon's part of an exact
 *	   setup), query, break, load, scale, exact-scale,
 *	   takeover DIR (latched connections broken by run.sh's takeovers,
 *	   stepped through files in DIR: see bench_takeover())
 * options: --ns-a/--ns-b PATH, --latchd-a/--latchd-b SOCK, --vici-a/--vici-b
 *	   SOCK, --pid-latchd-a/-b, --pid-charon-a/-b PID, --latchctl BIN,
 *	   --peer-id ID, --peer-ca DN, --ca-file PEM, --cert-file PEM, --quick
 *
 * Every figure is printed as a Markdown table row: latch's median / p99, the
 * baseline's, their ratio, the target and whether it is met.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "latchd/charon/vici-cmd.h"

/* Charon's CPU per filtered list-sas, from the query phase: the load phase's baseline. */
static double charon_us_per_list = -1;

static const char *yes(bool ok)
{
	return ok ? "yes" : "**no**";
}

/* A latched connection a -> b: the client's fd, the accepted one in *afd. */
static int latched_pair(struct bench *B, bool exact, int *afd)
{
	latch_token *tok = token(B, exact);
	int fd = sock_a(B, false, 0), r;

	r = latch_connect(B->ca, fd, (struct sockaddr *)&B->b, sizeof(B->b), tok, 0, NULL);
	latch_token_free(tok);
	if (r < 0) {
		fprintf(stderr, "latch_connect: %s: %s\n", strerror(-r),
			latch_ctx_last_error(B->ca));
		close(fd);
		return r;
	}
	*afd = accept_b(B, true);
	return fd;
}

static uint64_t child_of(latch_ctx *ctx, int fd)
{
	latch_info *info;
	uint32_t child = 0;

	if (latch_socket_query(ctx, fd, &info) == 0) {
		if (latch_info_get_sa_ids(info, &child, NULL, NULL) < 0)
			child = 0;
		latch_info_free(info);
	}
	return child;
}

/* Wait for the child-updown event of a child initiated just now; its unique id. */
static uint64_t child_up(struct vsync *v, unsigned count0)
{
	uint64_t deadline = now_usec() + 5000000u;

	while ((vsync_last(v)->count == count0 || !vsync_last(v)->up) && now_usec() < deadline)
		vsync_pump(v, 10000);
	return vsync_last(v)->up ? vsync_last(v)->child_id : 0;
}

/* A file's contents (the caller frees them), or NULL. */
static char *file_text(const char *path, size_t *len)
{
	FILE *f = path ? fopen(path, "re") : NULL;
	char *buf = f ? malloc(65536) : NULL;

	*len = buf ? fread(buf, 1, 65536, f) : 0;
	if (f)
		fclose(f);
	return buf;
}

/*
 * What an exact latch's load-conn costs charon: a connection shaped like
 * latchd's exact ones (one 5-tuple child, the peer named, pubkey auth), loaded
 * under a new name and unloaded again (not timed), as latchd does per flow:
 * with the pinned CA inline (what latchd sends), with our certificate inline
 * too (what it sent before it loaded the certificate once), and with neither
 * (the rest: the round trip, building and merging the config).
 */
void bench_load_conn(struct bench *B)
{
	static const char *const la[] = { "192.0.2.1", NULL }, *const ra[] = { "192.0.2.2", NULL };
	static const char *const esp[] = { "aes256gcm16", NULL };
	const struct charon_ts lts = { "192.0.2.1/32", IPPROTO_TCP, 19999, 0 },
			       rts = { "192.0.2.2/32", IPPROTO_TCP, 8080, 0 };
	size_t ca_len, cert_len;
	char *ca = file_text(B->ca_file, &ca_len), *cert = file_text(B->cert_file, &cert_len);
	struct charon_blob cab = { ca, ca_len }, certb = { cert, cert_len };
	char name[32];
	struct charon_child_cfg child = { .name = name,
					  .local_ts = &lts,
					  .n_local_ts = 1,
					  .remote_ts = &rts,
					  .n_remote_ts = 1,
					  .esp_proposals = esp };
	struct charon_conn_cfg cfg = { .name = name,
				       .local_addrs = la,
				       .remote_addrs = ra,
				       .version = 2,
				       .encap = true,
				       .local = { .auth = "pubkey", .id = "a.example" },
				       .remote = { .auth = "pubkey", .id = B->peer_id },
				       .children = &child,
				       .n_children = 1 };
	struct stats st[3] = { 0 };
	unsigned reps = B->quick ? 10 : 60;

	for (unsigned i = 0; ca && cert && i < reps; i++) {
		for (unsigned k = 0; k < 3; k++) {
			double t0 = now_ms();

			cfg.remote.cacerts = k < 2 ? &cab : NULL;
			cfg.remote.n_cacerts = k < 2;
			cfg.local.certs = k == 1 ? &certb : NULL;
			cfg.local.n_certs = k == 1;
			snprintf(name, sizeof(name), "bl-%u-%u", i, k);
			if (vsync_load_conn(B->va, &cfg) == 0)
				st_add(&st[k], now_ms() - t0);
			vsync_unload_conn(B->va, name);
		}
	}
	if (st[0].n && st[1].n && st[2].n) {
		row_stats("1. setup, exact: load-conn per flow, CA inline (latchd now) vs neither",
			  "ms", &st[0], &st[2], "-", "-");
		row_stats("1. setup, exact: load-conn per flow, CA and our certificate inline "
			  "(before) "
			  "vs neither",
			  "ms", &st[1], &st[2], "-", "-");
		note("load-conn: %zu+%zu+%zu samples on a's charon; the CA costs %.3f ms, our "
		     "certificate %.3f ms at the median",
		     st[0].n, st[1].n, st[2].n, st_med(&st[0]) - st_med(&st[2]),
		     st_med(&st[1]) - st_med(&st[0]));
	} else {
		fprintf(stderr, "load-conn: no samples (--ca-file, --cert-file?)\n");
	}
	for (unsigned k = 0; k < 3; k++)
		st_free(&st[k]);
	free(ca);
	free(cert);
}

/* One latched connect (latch_connect, or attach then connect(2)); ms, or < 0. */
static double one_latched(struct bench *B, bool exact, bool attach)
{
	latch_token *tok = token(B, exact);
	int fd = sock_a(B, false, 0), afd, r;
	double t0 = now_ms(), t;

	if (attach) {
		r = latch_socket_attach(B->ca, fd, tok, 0, NULL);
		if (r == 0)
			r = plain_connect(B, fd);
	} else {
		r = latch_connect(B->ca, fd, (struct sockaddr *)&B->b, sizeof(B->b), tok, 0, NULL);
	}
	t = now_ms() - t0;
	latch_token_free(tok);
	if (r < 0) {
		fprintf(stderr, "%s: %s: %s\n", attach ? "attach+connect" : "latch_connect",
			strerror(-r), latch_ctx_last_error(B->ca));
		close(fd);
		return -1;
	}
	afd = accept_b(B, true);
	close_rst(fd);
	if (afd >= 0)
		close(afd);
	return t;
}

/*
 * The baseline: a plain connect marked into ipsec0, over the peer's SA
 * (shared), or after a blocking VICI initiate of the flow's own narrow child
 * (exact; run.sh loaded children bx-PORT for the source ports used here).
 */
static double one_plain(struct bench *B, bool exact, unsigned i)
{
	uint16_t sport = exact ? (uint16_t)(20000 + i) : 0;
	int fd = sock_a(B, true, sport), afd, r = 0;
	unsigned count0 = vsync_last(B->va)->count;
	uint64_t child = 0;
	char name[32];
	double t0 = now_ms(), t;

	if (exact) {
		snprintf(name, sizeof(name), "bx-%u", sport);
		r = vsync_initiate(B->va, "bx", name);
	}
	if (r == 0)
		r = plain_connect(B, fd);
	t = now_ms() - t0;
	if (exact)
		child = child_up(B->va, count0);
	if (r < 0) {
		fprintf(stderr, "baseline connect: %s\n", strerror(-r));
		close(fd);
		return -1;
	}
	afd = accept_b(B, false);
	close_rst(fd);
	if (afd >= 0)
		close(afd);
	if (child)
		vsync_terminate_child(B->va, child);
	return t;
}

void bench_setup(struct bench *B, bool exact)
{
	unsigned reps = B->quick ? 8 : exact ? 40 : 200;
	struct stats nat = { 0 }, att = { 0 }, base = { 0 };
	const char *mode = exact ? "exact" : "shared";
	char fig[128];
	double v;

	/* warm: the IKE_SAs (latchd's and the baseline's) and the peer's SA exist */
	one_latched(B, false, false);
	if (exact)
		one_plain(B, true, reps);
	for (unsigned i = 0; i < reps; i++) {
		if ((v = one_latched(B, exact, false)) >= 0)
			st_add(&nat, v);
		if (exact)
			settle(B, 20);
		if ((v = one_latched(B, exact, true)) >= 0)
			st_add(&att, v);
		if (exact)
			settle(B, 20);
		if ((v = one_plain(B, exact, i)) >= 0)
			st_add(&base, v);
		if (exact)
			settle(B, 20);
	}
	if (exact) {
		snprintf(fig, sizeof(fig),
			 "1. setup, exact: latch_connect vs VICI initiate + connect");
		row_stats(fig, "ms", &nat, &base, "≤ 1.10×",
			  yes(st_med(&nat) <= 1.1 * st_med(&base)));
		snprintf(fig, sizeof(fig),
			 "1. setup, exact: attach + connect(2) (draft flow) vs the same");
		row_stats(fig, "ms", &att, &base, "≤ 1.10×",
			  yes(st_med(&att) <= 1.1 * st_med(&base)));
	} else {
		snprintf(fig, sizeof(fig), "1. setup, %s (SA up): latch_connect vs plain connect",
			 mode);
		row_stats(fig, "ms", &nat, &base, "≤ +1 ms",
			  yes(st_med(&nat) - st_med(&base) <= 1.0));
		snprintf(fig, sizeof(fig),
			 "1. setup, %s: attach + connect(2) (draft flow) vs the same", mode);
		row_stats(fig, "ms", &att, &base, "≤ +1 ms",
			  yes(st_med(&att) - st_med(&base) <= 1.0));
	}
	note("setup %s: %zu+%zu+%zu samples; latch adds %.3f ms (native), %.3f ms (attach) at the "
	     "median",
	     mode, nat.n, att.n, base.n, st_med(&nat) - st_med(&base),
	     st_med(&att) - st_med(&base));
	st_free(&nat);
	st_free(&att);
	st_free(&base);
}

void bench_query(struct bench *B)
{
	unsigned reps = B->quick ? 300 : 3000;
	struct stats q = { 0 }, v = { 0 };
	int afd, fd = latched_pair(B, false, &afd);
	uint64_t child = afd >= 0 ? child_of(B->cb, afd) : 0, cpu0, cpu1;
	double t0;
	size_t n;

	if (fd < 0 || !child) {
		note("query: no latched connection");
		return;
	}
	cpu1 = 0;
	for (unsigned i = 0; i < reps; i++) {
		latch_info *info = NULL;

		t0 = now_ms();
		if (latch_socket_query(B->cb, afd, &info) == 0)
			st_add(&q, (now_ms() - t0) * 1000);
		latch_info_free(info);
		cpu0 = cpu_usec(B->charon_b);
		t0 = now_ms();
		if (vsync_list_child(B->vb, child, &n) == 0 && n == 1)
			st_add(&v, (now_ms() - t0) * 1000);
		cpu1 += cpu_usec(B->charon_b) - cpu0;
	}
	charon_us_per_list = v.n ? (double)cpu1 / (double)v.n : -1;
	row_stats("2. identity query (accepted socket): latch_socket_query vs filtered list-sas",
		  "µs", &q, &v, "≤ 0.05× and < 50 µs",
		  yes(st_med(&q) <= 0.05 * st_med(&v) && st_med(&q) < 50));
	note("query: %zu + %zu samples; list-sas by child-id on b's charon (1 child listed), "
	     "%.0f µs of charon CPU each",
	     q.n, v.n, charon_us_per_list);
	close_rst(fd);
	close(afd);
	st_free(&q);
	st_free(&v);
}

/*
 * SA loss: a terminates the child carrying a latched connection; charon's
 * child-updown (down) against the owner's socket reporting ECONNABORTED.
 * Baseline: the terminate command against that event (charon's own delay).
 */
void bench_break(struct bench *B)
{
	unsigned reps = B->quick ? 4 : 20, other = 0;
	struct stats lat = { 0 }, ch = { 0 };

	for (unsigned i = 0; i < reps; i++) {
		int afd, fd = latched_pair(B, false, &afd), r;
		uint64_t child = fd >= 0 ? child_of(B->ca, fd) : 0, t_cmd, t_ev, t_rst;
		unsigned count0 = vsync_last(B->va)->count;

		if (!child) {
			note("break: no latched connection");
			continue;
		}
		settle(B, 10);
		count0 = vsync_last(B->va)->count;
		t_cmd = now_usec();
		vsync_terminate_async(B->va, child);
		r = vsync_wait_reset(B->va, fd, count0, 5000000u, &t_ev, &t_rst);
		vsync_finish_async(B->va);
		if (r == ECONNABORTED) {
			/* signed: both are seen in one loop iteration, in either order */
			st_add(&lat, (double)(int64_t)(t_rst - t_ev) / 1000);
			st_add(&ch, (double)(t_ev - t_cmd) / 1000);
		} else {
			other++;
			fprintf(stderr, "break: socket error %d (%s)\n", r,
				strerror(r < 0 ? -r : r));
		}
		close(fd);
		if (afd >= 0)
			close(afd);
		settle(B, 50);
	}
	row_stats("4. break (SA lost): child-updown → ECONNABORTED vs terminate → child-updown",
		  "ms", &lat, &ch, "< 10 ms", yes(lat.n && st_p99(&lat) < 10));
	if (other)
		note("break: %u of %u samples saw no ECONNABORTED", other, reps);
	st_free(&lat);
	st_free(&ch);
}

/* ---- 5. daemon overhead: 100 clients querying in a loop ---- */

struct loader {
	struct bench *B;
	int fd;
	volatile bool *stop;
	unsigned long n;
};

static void *load_thread(void *u)
{
	struct loader *ld = u;
	latch_ctx *ctx;

	if (latch_ctx_new(&ctx, ld->B->sock_b, 0) < 0)
		return NULL;
	while (!*ld->stop) {
		latch_info *info = NULL;

		if (latch_socket_query(ctx, ld->fd, &info) == 0)
			ld->n++;
		latch_info_free(info);
	}
	latch_ctx_free(ctx);
	return NULL;
}

void bench_load(struct bench *B)
{
	enum {
		CLIENTS = 100
	};
	static struct loader ld[CLIENTS];
	static int fds[CLIENTS], afds[CLIENTS];
	pthread_t th[CLIENTS];
	volatile bool stop = false;
	unsigned secs = B->quick ? 2 : 5, k = 0;
	uint64_t c0, c1, t0, t1;
	unsigned long total = 0;
	double us_q;

	for (k = 0; k < CLIENTS; k++) {
		fds[k] = latched_pair(B, false, &afds[k]);
		if (fds[k] < 0 || afds[k] < 0)
			break;
		ld[k] = (struct loader){ B, afds[k], &stop, 0 };
	}
	for (unsigned i = 0; i < k; i++)
		pthread_create(&th[i], NULL, load_thread, &ld[i]);
	usleep(200000); /* every client connected */
	c0 = cpu_usec(B->latchd_b);
	t0 = now_usec();
	for (unsigned i = 0; i < k; i++)
		ld[i].n = 0;
	sleep(secs);
	c1 = cpu_usec(B->latchd_b);
	t1 = now_usec();
	for (unsigned i = 0; i < k; i++)
		total += ld[i].n;
	stop = true;
	for (unsigned i = 0; i < k; i++)
		pthread_join(th[i], NULL);
	us_q = total ? (double)(c1 - c0) / (double)total : -1;
	row("5. latchd CPU per query, 100 clients looping vs charon CPU per list-sas", "µs CPU",
	    us_q, us_q, charon_us_per_list, charon_us_per_list, "-", "-");
	note("load: %u clients, %.0f queries/s, latchd %.0f %% of one CPU (%.1f s CPU in %.1f s)",
	     k, (double)total * 1e6 / (double)(t1 - t0),
	     100.0 * (double)(c1 - c0) / (double)(t1 - t0), (double)(c1 - c0) / 1e6,
	     (double)(t1 - t0) / 1e6);
	for (unsigned i = 0; i < k; i++) {
		close_rst(fds[i]);
		close(afds[i]);
	}
}

/* ---- takeover: samples on a quiet daemon, driven by run.sh ---- */

/* Steps with run.sh: files DIR/NAME.I, made by one side, awaited by the other. */
static void signal_step(const char *dir, const char *name, unsigned i)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s.%u", dir, name, i);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
}

/* 0, or -1 when run.sh did not say it within a minute. */
static int wait_step(struct bench *B, const char *dir, const char *name, unsigned i)
{
	uint64_t deadline = now_usec() + 60000000u;
	char path[512];

	snprintf(path, sizeof(path), "%s/%s.%u", dir, name, i);
	while (access(path, F_OK) < 0) {
		if (now_usec() > deadline)
			return -1;
		settle(B, 10);
	}
	return 0;
}

/* a admits the CA's peers on a listener of its own: else no SA with c comes up at all. */
static int takeover_listener(struct bench *B)
{
	struct sockaddr_in any = { .sin_family = AF_INET, .sin_port = htons(9000) };
	latch_token *tok = NULL;
	int lfd, r = -1;

	enter_ns(B->ns_a);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd >= 0 && bind(lfd, (struct sockaddr *)&any, sizeof(any)) == 0 &&
	    listen(lfd, 4) == 0 && latch_token_new(&tok) == 0 &&
	    latch_token_set_peer_ca(tok, B->peer_ca) == 0)
		r = latch_listen(B->ca, lfd, tok, 0, NULL);
	latch_token_free(tok);
	if (r < 0)
		note("takeover: no listener on a: %s", latch_ctx_last_error(B->ca));
	return r < 0 ? -1 : lfd;
}

/*
 * For each sample: latch a connection a -> b, say DIR/ready.I; run.sh lets c
 * take b's address and bring up an SA with a; the latch breaks on that
 * child's up event (measured from the bench's own sight of the event to the
 * owner's ECONNABORTED); say DIR/seen.I and wait for DIR/restored.I (b has
 * its address back, c's SA is gone).
 */
int bench_takeover(struct bench *B, const char *dir)
{
	unsigned samples = B->quick ? 2 : 5, i;
	struct stats lat = { 0 };
	uint64_t t_ev, t_rst;
	int lfd = takeover_listener(B), fd, afd, r = 0;
	double waited = 0;

	if (lfd < 0)
		return 1;
	for (i = 1; i <= samples && r == 0; i++) {
		unsigned count0;

		waited += bench_quiet(B, 60000);
		fd = latched_pair(B, false, &afd);
		if (fd < 0)
			break;
		settle(B, 50);
		count0 = vsync_last(B->va)->count;
		signal_step(dir, "ready", i);
		r = vsync_wait_reset(B->va, fd, count0, 30000000u, &t_ev, &t_rst);
		if (r == ECONNABORTED)
			st_add(&lat, (double)(int64_t)(t_rst - t_ev) / 1000);
		else
			note("takeover %u: socket error %d, no ECONNABORTED", i, r);
		r = r == ECONNABORTED ? 0 : -1;
		close(fd);
		if (afd >= 0)
			close(afd);
		signal_step(dir, "seen", i);
		if (r == 0 && i < samples && wait_step(B, dir, "restored", i) < 0) {
			note("takeover %u: b did not get its address back", i);
			r = -1;
		}
	}
	row("4. break (takeover, quiet daemon): conflicting child-updown (up) → ECONNABORTED", "ms",
	    st_med(&lat), st_p99(&lat), NAN, NAN, "< 10 ms", yes(lat.n && st_p99(&lat) < 10));
	note("takeover: %zu samples; %.1f s in all waiting for both hosts' latchd and charon to "
	     "be idle",
	     lat.n, waited / 1000);
	st_free(&lat);
	close(lfd);
	return lat.n ? 0 : 1;
}

/* ---- main ---- */

static int open_ns(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		perror(path);
		exit(2);
	}
	return fd;
}

static void lab_open(struct bench *B)
{
	struct sockaddr_in6 any = { .sin6_family = AF_INET6, .sin6_port = htons(B->port) };
	struct rlimit rl;
	latch_token *tok;
	int one = 1, zero = 0, r;

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max; /* the hard limit: raising it needs CAP_SYS_RESOURCE */
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		perror("RLIMIT_NOFILE");
	if (latch_ctx_new(&B->ca, B->sock_a, 0) < 0 || latch_ctx_new(&B->cb, B->sock_b, 0) < 0 ||
	    vsync_new(B->vici_a, &B->va) < 0 || vsync_new(B->vici_b, &B->vb) < 0) {
		fprintf(stderr, "cannot reach latchd or charon\n");
		exit(1);
	}
	enter_ns(B->ns_b);
	B->lfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(B->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(B->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(B->lfd, (struct sockaddr *)&any, sizeof(any)) < 0 || listen(B->lfd, 65535) < 0) {
		perror("listen");
		exit(1);
	}
	if (latch_token_new(&tok) < 0 || latch_token_set_peer_ca(tok, B->peer_ca) < 0)
		exit(1);
	r = latch_listen(B->cb, B->lfd, tok, 0, NULL);
	latch_token_free(tok);
	if (r < 0) {
		fprintf(stderr, "latch_listen: %s\n", latch_ctx_last_error(B->cb));
		exit(1);
	}
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "ns-a", required_argument, NULL, 'A' },
		{ "ns-b", required_argument, NULL, 'B' },
		{ "latchd-a", required_argument, NULL, 'l' },
		{ "latchd-b", required_argument, NULL, 'm' },
		{ "vici-a", required_argument, NULL, 'v' },
		{ "vici-b", required_argument, NULL, 'w' },
		{ "pid-latchd-a", required_argument, NULL, '1' },
		{ "pid-latchd-b", required_argument, NULL, '2' },
		{ "pid-charon-a", required_argument, NULL, '3' },
		{ "pid-charon-b", required_argument, NULL, '4' },
		{ "latchctl", required_argument, NULL, 'c' },
		{ "peer-id", required_argument, NULL, 'i' },
		{ "peer-ca", required_argument, NULL, 'C' },
		{ "ca-file", required_argument, NULL, 'f' },
		{ "cert-file", required_argument, NULL, 'g' },
		{ "quick", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	static const unsigned sizes[] = { 10, 100, 1000, 10000 }, qsizes[] = { 10, 100, 1000 };
	static const unsigned xsizes[] = { 10, 100, 300, 1000 }, xqsizes[] = { 10, 50 };
	struct bench B = { .port = 8080, .peer_id = "b.example" };
	int ch, rc = 0;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'A':
			B.ns_a = open_ns(optarg);
			break;
		case 'B':
			B.ns_b = open_ns(optarg);
			break;
		case 'l':
			B.sock_a = optarg;
			break;
		case 'm':
			B.sock_b = optarg;
			break;
		case 'v':
			B.vici_a = optarg;
			break;
		case 'w':
			B.vici_b = optarg;
			break;
		case '1':
			B.latchd_a = atoi(optarg);
			break;
		case '2':
			B.latchd_b = atoi(optarg);
			break;
		case '3':
			B.charon_a = atoi(optarg);
			break;
		case '4':
			B.charon_b = atoi(optarg);
			break;
		case 'c':
			B.latchctl = optarg;
			break;
		case 'i':
			B.peer_id = optarg;
			break;
		case 'C':
			B.peer_ca = optarg;
			break;
		case 'f':
			B.ca_file = optarg;
			break;
		case 'g':
			B.cert_file = optarg;
			break;
		case 'q':
			B.quick = true;
			break;
		default:
			return 2;
		}
	}
	if (!B.ns_a || !B.ns_b || !B.sock_a || !B.sock_b || !B.vici_a || !B.vici_b || !B.peer_ca)
		return 2;
	B.a = (struct sockaddr_in){ .sin_family = AF_INET };
	B.b = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(B.port) };
	inet_pton(AF_INET, "192.0.2.1", &B.a.sin_addr);
	inet_pton(AF_INET, "192.0.2.2", &B.b.sin_addr);
	lab_open(&B);
	for (int i = optind; i < argc; i++) {
		const char *p = argv[i];

		if (!strcmp(p, "setup"))
			bench_setup(&B, false);
		else if (!strcmp(p, "setup-exact"))
			bench_setup(&B, true);
		else if (!strcmp(p, "load-conn"))
			bench_load_conn(&B);
		else if (!strcmp(p, "query"))
			bench_query(&B);
		else if (!strcmp(p, "break"))
			bench_break(&B);
		else if (!strcmp(p, "load"))
			bench_load(&B);
		else if (!strcmp(p, "scale") && B.quick)
			bench_scale(&B, qsizes, sizeof(qsizes) / sizeof(qsizes[0]));
		else if (!strcmp(p, "scale"))
			bench_scale(&B, sizes, sizeof(sizes) / sizeof(sizes[0]));
		else if (!strcmp(p, "exact-scale") && B.quick)
			bench_exact_scale(&B, xqsizes, sizeof(xqsizes) / sizeof(xqsizes[0]));
		else if (!strcmp(p, "exact-scale"))
			bench_exact_scale(&B, xsizes, sizeof(xsizes) / sizeof(xsizes[0]));
		else if (!strcmp(p, "takeover") && i + 1 < argc)
			rc |= bench_takeover(&B, argv[++i]);
		else
			return 2;
	}
	latch_ctx_free(B.ca);
	latch_ctx_free(B.cb);
	vsync_free(B.va);
	vsync_free(B.vb);
	return rc;
}
