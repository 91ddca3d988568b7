/* SPDX-License-Identifier: MIT */
#ifndef LATCH_BENCH_H
#define LATCH_BENCH_H

/*
 * latch-bench: what a latch costs against what IPsec alone costs, measured in
 * one process on the lab. The process holds sockets in two hosts' network
 * namespaces at once (setns(2) before socket(2): a socket stays in the
 * namespace it was made in), talks to both hosts' latchd and charon, and so
 * can connect on a, accept on b and time both without any coordination.
 *
 * Files: latch-bench.c (options, the lab, setup, query, break, load),
 * scale.c (concurrent latches, exact mode's ceiling, throughput), vsync.c
 * (blocking calls over latchd's own VICI client), util.c (statistics,
 * sockets, /proc, the table).
 */

#include <latch/latch.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The mark latchd's hosts route into ipsec0 (lab_latch_host: kernel-netlink fwmark). */
#define BENCH_MARK 0x100

struct stats {
	double *v;
	size_t n, cap;
	bool sorted;
};

void st_add(struct stats *s, double v);
double st_med(struct stats *s);
double st_p99(struct stats *s);
void st_free(struct stats *s);

uint64_t now_usec(void);
double now_ms(void);

/* ---- the table ---- */

/*
 * One row: the figure, latch's median/p99, the baseline's, latch over
 * baseline, the target and whether it is met ("yes", "no", "-").
 */
void row(const char *figure, const char *unit, double l_med, double l_p99, double b_med,
	 double b_p99, const char *target, const char *met);
void row_stats(const char *figure, const char *unit, struct stats *l, struct stats *b,
	       const char *target, const char *met);
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- sockets ---- */

struct bench {
	bool quick;
	int ns_a, ns_b;		     /* /run/netns/<lab>-a, -b */
	const char *sock_a, *sock_b; /* latchd's sockets */
	const char *vici_a, *vici_b; /* charon's VICI sockets */
	pid_t latchd_a, latchd_b, charon_a, charon_b;
	const char *latchctl;
	const char *peer_id, *peer_ca;
	const char *ca_file, *cert_file; /* PEM: the lab CA (latchd's pin) and a's certificate */
	struct sockaddr_in a, b;	 /* a's address; b's latched listener */
	uint16_t port;			 /* b's latched listener */
	latch_ctx *ca, *cb;		 /* a's and b's latchd */
	int lfd;			 /* b's listening socket, latched */
	struct vsync *va, *vb;		 /* a's and b's charon */
};

/* Make the calling thread's next sockets in this namespace. */
void enter_ns(int nsfd);
/* A TCP socket in a (mark: routed into ipsec0 without a latch), bound to sport if non-zero. */
int sock_a(struct bench *B, bool mark, uint16_t sport);
/* connect(2) to b's listener; 0 or -errno. */
int plain_connect(struct bench *B, int fd);
/* Close without TIME_WAIT: the benchmark makes tens of thousands of connections. */
void close_rst(int fd);
/* accept4(2) on b's listener (not latched), or latch_accept when latched. */
int accept_b(struct bench *B, bool latched);

/*
 * A new ctx for a: latchd tells a ctx of every change of its latches and
 * drops a client that does not read (closing 1,000 latches at once is 1,000
 * CLOSED events): the benchmark does not want them.
 */
void bench_reconnect(struct bench *B);

latch_token *token(struct bench *B, bool exact);

/* ---- /proc ---- */

long rss_kib(pid_t pid);
/* utime + stime in microseconds. */
uint64_t cpu_usec(pid_t pid);
/* Pump both charons' events for ms. */
void settle(struct bench *B, unsigned ms);
/*
 * Wait until both hosts' latchd and charon are idle (under 1 % of a CPU
 * over 200 ms), at most max_ms; the ms waited. Tearing down thousands of
 * latches or children keeps them busy for seconds after the sockets closed.
 */
double bench_quiet(struct bench *B, double max_ms);

/* ---- phases ---- */

void bench_setup(struct bench *B, bool exact);
void bench_query(struct bench *B);
void bench_break(struct bench *B);
void bench_load(struct bench *B);
void bench_scale(struct bench *B, const unsigned *sizes, size_t n);
void bench_exact_scale(struct bench *B, const unsigned *sizes, size_t n);
int bench_takeover(struct bench *B, const char *ready_file);
void bench_load_conn(struct bench *B);

/* ---- VICI, blocking ---- */

struct vsync;

int vsync_new(const char *path, struct vsync **ret);
void vsync_free(struct vsync *v);
/* Dispatch what charon sent, waiting at most usec. */
void vsync_pump(struct vsync *v, int64_t usec);
/* Blocking initiate (charon answers once the child is up or failed). */
int vsync_initiate(struct vsync *v, const char *ike, const char *child);
int vsync_terminate_child(struct vsync *v, uint64_t child_id);
/* Send a terminate and return at once; vsync_finish_async() waits for its answer. */
int vsync_terminate_async(struct vsync *v, uint64_t child_id);
void vsync_finish_async(struct vsync *v);
/*
 * Dispatch charon's events and watch socket fd until it reports an error and
 * a child-updown event newer than count0 arrived: *ret_event and *ret_reset
 * get when each was seen; returns the socket's error (ECONNABORTED expected)
 * or -ETIMEDOUT.
 */
int vsync_wait_reset(struct vsync *v, int fd, unsigned count0, uint64_t timeout_usec,
		     uint64_t *ret_event, uint64_t *ret_reset);
struct charon_conn_cfg;
int vsync_load_conn(struct vsync *v, const struct charon_conn_cfg *cfg);
int vsync_unload_conn(struct vsync *v, const char *name);
/* list-sas filtered by child unique id; *n gets the number of children listed. */
int vsync_list_child(struct vsync *v, uint64_t child_id, size_t *n);

/* The last child-updown event seen: when (CLOCK_MONOTONIC µs), up or down, the child. */
struct vsync_event {
	uint64_t usec;
	bool up;
	uint64_t child_id;
	unsigned count;
};
const struct vsync_event *vsync_last(const struct vsync *v);

#endif
