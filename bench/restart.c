/* SPDX-License-Identifier: MIT */
/*
 * latch-restart: how long latchd takes from exec to ready (its sd_notify
 * READY=1, sent once the journal is replayed and the control socket
 * listens) with N latches in its journal, against the same with none, in
 * the same run. Run inside a lab host's namespace by bench/restart.sh:
 *
 *	latch-restart LATCHD CONF STATE_DIR LOG [--quick]
 *
 * The journal is generated before each start with latchd's own record
 * writer (persist_format), of two kinds:
 * - listeners: LISTENER latches, which latchd re-adopts as they are (a
 *   listener's socket is not checked): N live latches, re-adopted;
 * - gone flows: ESTABLISHED latches whose sockets no longer exist, each
 *   looked up with sock_diag, dropped and ended in the journal.
 * No live connection is needed for either, so 100,000 are cheap to make.
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "latchd/db/persist.h"

static const struct latch_policy pol = { .encrypt = IPC_WANT_YES,
					 .peer_id = "b.example",
					 .peer_ca = "C=CH, O=latch-lab, CN=ca CA" };
static const struct latch_ident remote = { .id = "b.example" };

static struct latch record(unsigned i, bool listener)
{
	struct latch l = { .id = i + 1, .listener = listener, .pol = &pol };
	char addr[32];

	l.remote = l.local = &remote;
	if (listener) {
		snprintf(addr, sizeof(addr), "10.%u.%u.1", i / 60000 / 256, i / 60000 % 256);
		l.state = IPC_STATE_LISTENER;
		l.listen = (struct flow3){ .family = AF_INET,
					   .proto = IPPROTO_TCP,
					   .port = (uint16_t)(1024 + i % 60000) };
		inet_pton(AF_INET, addr, l.listen.addr.b);
	} else {
		snprintf(addr, sizeof(addr), "10.%u.%u.2", i / 60000 / 256, i / 60000 % 256);
		l.state = IPC_STATE_ESTABLISHED;
		l.cookie = 0x4c00000000000000ull + i; /* no socket has it */
		flow_parse("tcp", "192.0.2.1", 1024 + i % 60000, addr, 8080, &l.flow);
	}
	return l;
}

static void journal(const char *dir, unsigned n, bool listeners)
{
	char path[512], line[PERSIST_LINE_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/latches", dir);
	f = fopen(path, "we");
	if (!f) {
		perror(path);
		exit(1);
	}
	for (unsigned i = 0; i < n; i++) {
		struct latch l = record(i, listeners);

		if (persist_format(&l, line, sizeof(line)) < 0)
			exit(1);
		fprintf(f, "+ %s\n", line);
	}
	fclose(f);
}

/* Start latchd, wait for READY=1 on our notify socket, stop it: the ms to ready; *cpu its CPU ms by
 * then. */
static double start_once(const char *latchd, const char *conf, const char *log, double *cpu)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { 180, 0 };
	char buf[256];
	double t0, t = -1;
	socklen_t len;
	ssize_t n;
	pid_t pid;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "@latch-restart-%d", (int)getpid());
	setenv("NOTIFY_SOCKET", sa.sun_path, 1);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(sa.sun_path));
	sa.sun_path[0] = '\0'; /* abstract: the name is len bytes long, no NUL */
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, len) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		perror("notify socket");
		exit(1);
	}
	t0 = now_ms();
	pid = fork();
	if (pid == 0) {
		if (!freopen(log, "a", stderr))
			_exit(126);
		execl(latchd, latchd, "-c", conf, (char *)NULL);
		_exit(127);
	}
	while ((n = recv(fd, buf, sizeof(buf) - 1, 0)) > 0) {
		buf[n] = '\0';
		if (strstr(buf, "READY=1")) {
			t = now_ms() - t0;
			*cpu = (double)cpu_usec(pid) / 1000;
			break;
		}
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	close(fd);
	return t;
}

/* The wall clock to ready into s[0], latchd's CPU time by then into s[1]. */
static void measure(const char **args, unsigned n, bool listeners, unsigned reps, struct stats s[2])
{
	for (unsigned r = 0; r < reps; r++) {
		double t, cpu = 0;

		journal(args[2], n, listeners);
		t = start_once(args[0], args[1], args[3], &cpu);
		if (t < 0) {
			fprintf(stderr, "latchd did not become ready (see %s)\n", args[3]);
			exit(1);
		}
		st_add(&s[0], t);
		st_add(&s[1], cpu);
	}
}

static void rows(unsigned n, bool listeners, struct stats s[2], struct stats none[2])
{
	const char *what = listeners ? "listeners (re-adopted)" : "flows (sockets gone)";
	bool target = n >= 100000;
	char figure[160];

	snprintf(figure, sizeof(figure), "6. restart, %u %s journaled: ready vs none", n, what);
	row_stats(figure, "ms", &s[0], &none[0], target ? "< 1000 ms" : "-",
		  !target		 ? "-"
		  : st_med(&s[0]) < 1000 ? "yes"
					 : "no");
	snprintf(figure, sizeof(figure), "6. restart, %u %s journaled: latchd CPU to ready vs none",
		 n, what);
	row_stats(figure, "ms CPU", &s[1], &none[1], "-", "-");
}

int main(int argc, char **argv)
{
	static const unsigned sizes[] = { 10, 100000 };
	bool quick = argc == 6 && !strcmp(argv[5], "--quick");
	unsigned reps = quick ? 2 : 7;
	struct stats none[2] = { 0 };

	if (argc != 5 && !quick) {
		fprintf(stderr, "usage: latch-restart LATCHD CONF STATE_DIR LOG [--quick]\n");
		return 2;
	}
	measure((const char **)argv + 1, 0, true, reps, none);
	for (size_t k = 0; k < 2 * sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct stats s[2] = { 0 };

		measure((const char **)argv + 1, sizes[k / 2], k % 2 == 0, reps, s);
		rows(sizes[k / 2], k % 2 == 0, s, none);
		st_free(&s[0]);
		st_free(&s[1]);
	}
	note("restart: %u starts of latchd per row, the journal generated before each; CPU: "
	     "latchd's user + system time when it said READY=1 (10 ms ticks)",
	     reps);
	st_free(&none[0]);
	st_free(&none[1]);
	return 0;
}
