/* SPDX-License-Identifier: MIT */
/*
 * Drives latchd's enforcement library inside a lab host for enforce-lab.t.
 * Every command opens the table (ADOPT unless told otherwise), does one
 * thing, and closes with keep, as a restarting latchd would: the kernel state
 * must protect the flows with no process holding it. Only init, adopt and
 * remove touch the ip rule (ENFORCE_NORULE otherwise), so that the test can
 * take the rule away and watch the next layer.
 *
 *   enforce-probe init                         fresh table (replace) + ip rule
 *   enforce-probe adopt                        enforce_open(ADOPT) + ip rule
 *   enforce-probe add|del|arm|disarm PROTO LADDR LPORT RADDR RPORT
 *   enforce-probe listen|unlisten PROTO ADDR PORT     (ADDR any: dual-stack wildcard)
 *   enforce-probe dump                         one line per element
 *   enforce-probe counters                     "name packets bytes" lines
 *   enforce-probe remove                       enforce_close(keep=false)
 *   enforce-probe destroy ADDR PORT SPORT      TCP connect; a child blocks in recv while
 *                                              the parent destroys the socket by sock_diag
 *   enforce-probe udp-destroy ADDR PORT SPORT  the same for a connected UDP socket
 *   enforce-probe monitor SECONDS              print sock_diag destroy events
 *   enforce-probe events ADDR PORT             what the kernel reports for a TCP close,
 *                                              a TCP abort and a UDP close
 * LATCH_TABLE overrides the table name ("latch").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "latchd/base/flow.h"
#include "latchd/dataplane/enforce.h"
#include "latchd/dataplane/sockdiag.h"

static struct enforce_config config(void)
{
	struct enforce_config cfg = ENFORCE_CONFIG_DEFAULT;
	const char *t = getenv("LATCH_TABLE");

	if (t && *t)
		cfg.table = t;
	return cfg;
}

static int open_table(struct enforce **e, unsigned flags)
{
	struct enforce_config cfg = config();
	int r = enforce_open(e, &cfg, flags | ENFORCE_NORULE);

	if (r < 0)
		fprintf(stderr, "enforce_open: %s (%s)\n", strerror(-r), enforce_last_error(NULL));
	return r;
}

static int report(struct enforce *e, const char *what, int r)
{
	if (r < 0)
		fprintf(stderr, "%s: %s (%s)\n", what, strerror(-r), enforce_last_error(e));
	return r;
}

static int cmd_flow(const char *op, char **av)
{
	static const struct {
		const char *name;
		enum enforce_op_kind kind;
	} ops[] = { { "add", ENFORCE_FLOW_ADD },
		    { "del", ENFORCE_FLOW_DEL },
		    { "arm", ENFORCE_FLOW_ARM },
		    { "disarm", ENFORCE_FLOW_DISARM } };
	struct enforce_op o = { 0 };
	struct enforce *e;
	int r = -EINVAL;

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(op, ops[i].name) == 0)
			o.kind = ops[i].kind;
	if (flow_parse(av[0], av[1], (unsigned)atoi(av[2]), av[3], (unsigned)atoi(av[4]), &o.flow) <
	    0) {
		fprintf(stderr, "bad flow\n");
		return r;
	}
	r = open_table(&e, ENFORCE_ADOPT);
	if (r < 0)
		return r;
	r = report(e, op, enforce_apply(e, &o, 1));
	enforce_close(e, true);
	return r;
}

static int cmd_listen(bool add, char **av)
{
	struct enforce_op o = { .kind = add ? ENFORCE_LISTEN_ADD : ENFORCE_LISTEN_DEL };
	struct enforce *e;
	int r;

	o.listen.proto = strcmp(av[0], "tcp") == 0 ? IPPROTO_TCP : IPPROTO_UDP;
	o.listen.port = (uint16_t)atoi(av[2]);
	if (strcmp(av[1], "any") == 0)
		o.listen.family = AF_UNSPEC;
	else
		o.listen.family = strchr(av[1], ':') ? AF_INET6 : AF_INET;
	if (o.listen.family != AF_UNSPEC && inet_pton(o.listen.family, av[1], o.listen.addr.b) != 1)
		return -EINVAL;
	r = open_table(&e, ENFORCE_ADOPT);
	if (r < 0)
		return r;
	r = report(e, "listen", enforce_apply(e, &o, 1));
	enforce_close(e, true);
	return r;
}

static int print_elem(const struct enforce_elem *el, void *arg)
{
	static const char *const names[] = { "flows", "armed", "listen" };
	char text[FLOW_FMT_MAX];

	if (el->set == ENFORCE_SET_LISTEN)
		flow3_format(text, sizeof(text), &el->listen);
	else
		flow_format(text, sizeof(text), &el->flow);
	printf("%s %s\n", names[el->set], text);
	return 0;
}

static int cmd_dump(void)
{
	struct enforce *e;
	int r = open_table(&e, ENFORCE_ADOPT);

	if (r < 0)
		return r;
	r = report(e, "dump", enforce_dump(e, print_elem, NULL));
	enforce_close(e, true);
	return r;
}

static int cmd_counters(void)
{
	struct enforce_counters c;
	struct enforce *e;
	int r = open_table(&e, ENFORCE_ADOPT);

	if (r < 0)
		return r;
	r = report(e, "counters", enforce_counters(e, &c));
	if (r == 0) {
		printf("in_flow %llu %llu\n", (unsigned long long)c.in_flow.packets,
		       (unsigned long long)c.in_flow.bytes);
		printf("in_listen %llu\n", (unsigned long long)c.in_listen.packets);
		printf("icmp %llu\n", (unsigned long long)c.icmp.packets);
		printf("steered %llu\n", (unsigned long long)c.steered.packets);
		printf("out_flow %llu\n", (unsigned long long)c.out_flow.packets);
		printf("out_listen %llu\n", (unsigned long long)c.out_listen.packets);
		printf("unarmed %llu\n", (unsigned long long)c.unarmed.packets);
	}
	enforce_close(e, true);
	return r;
}

static int cmd_init(unsigned flags)
{
	struct enforce_config cfg = config();
	struct enforce *e;
	int r = enforce_open(&e, &cfg, flags);

	if (r < 0) {
		fprintf(stderr, "enforce_open: %s (%s)\n", strerror(-r), enforce_last_error(NULL));
		return r;
	}
	enforce_close(e, true);
	return 0;
}

static int cmd_remove(void)
{
	struct enforce *e;
	struct enforce_config cfg = config();
	int r = enforce_open(&e, &cfg, ENFORCE_ADOPT);

	if (r < 0)
		return r;
	r = enforce_close(e, false);
	if (r < 0)
		fprintf(stderr, "enforce_close: %s\n", strerror(-r));
	return r;
}

static int connect_from(int type, const char *addr, int port, int sport)
{
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons((uint16_t)sport) };
	int one = 1, fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	if (fd < 0 || inet_pton(AF_INET, addr, &dst.sin_addr) != 1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if ((sport && bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) ||
	    connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
		perror("connect");
		close(fd);
		return -1;
	}
	return fd;
}

/* The owner: blocks in recv and reports how it ended (errno name, or "data"/"eof"). */
static void owner(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, 0);

	if (n < 0)
		printf("owner recv: %s\n",
		       errno == ECONNABORTED ? "ECONNABORTED" : strerror(errno));
	else
		printf("owner recv: %s\n", n ? "data" : "eof");
	fflush(stdout);
	_exit(n < 0 && errno == ECONNABORTED ? 0 : 1);
}

static int destroy_test(int type, char **av)
{
	struct timespec pause = { 0, 300 * 1000 * 1000 };
	int fd = connect_from(type, av[0], atoi(av[1]), atoi(av[2])), status, r;
	char text[FLOW_FMT_MAX];
	uint64_t cookie;
	struct flow f;
	pid_t pid;

	if (fd < 0 || flow_from_fd(fd, &f) < 0 || sockdiag_cookie(fd, &cookie) < 0)
		return -1;
	if (type == SOCK_DGRAM && send(fd, "x", 1, 0) < 0)
		perror("udp send");
	printf("flow %s cookie %llu\n", flow_format(text, sizeof(text), &f),
	       (unsigned long long)cookie);
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		owner(fd);
	nanosleep(&pause, NULL);
	printf("exists before: %d\n", sockdiag_exists(&f, cookie));
	printf("exists with a wrong cookie: %d\n", sockdiag_exists(&f, cookie + 1));
	r = sockdiag_destroy(&f, cookie + 1);
	printf("destroy with a wrong cookie: %s\n", r < 0 ? strerror(-r) : "ok");
	r = sockdiag_destroy(&f, cookie);
	printf("destroy: %s\n", r < 0 ? strerror(-r) : "ok");
	fflush(stdout);
	waitpid(pid, &status, 0);
	close(fd);
	nanosleep(&pause, NULL);
	printf("exists after close: %d\n", sockdiag_exists(&f, cookie));
	return r == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

static void print_gone(const struct flow *f, uint64_t cookie, void *arg)
{
	char text[FLOW_FMT_MAX];

	printf("%sdestroyed %s cookie %llu\n", (const char *)arg,
	       flow_format(text, sizeof(text), f), (unsigned long long)cookie);
	fflush(stdout);
}

/* Events for up to ms milliseconds. */
static int drain(int mon, int ms, const char *prefix)
{
	struct pollfd p = { .fd = mon, .events = POLLIN };
	int n = 0, r;

	while (poll(&p, 1, ms) > 0) {
		r = sockdiag_monitor_read(mon, print_gone, (void *)prefix);
		if (r < 0)
			printf("%smonitor: %s\n", prefix, strerror(-r));
		else
			n += r;
		ms = 200;
	}
	return n;
}

static int cmd_monitor(char **av)
{
	int mon, r = sockdiag_monitor_open(&mon);

	if (r < 0) {
		fprintf(stderr, "monitor: %s\n", strerror(-r));
		return r;
	}
	printf("monitoring\n");
	fflush(stdout);
	drain(mon, atoi(av[0]) * 1000, "");
	close(mon);
	return 0;
}

/* Which destroy events this kernel sends: TCP close, TCP abort (linger 0), UDP close. */
static int cmd_events(char **av)
{
	struct linger lg = { 1, 0 };
	uint64_t cookie;
	int mon, fd, r = sockdiag_monitor_open(&mon);

	if (r < 0)
		return r;
	fd = connect_from(SOCK_STREAM, av[0], atoi(av[1]), 0);
	if (fd >= 0 && sockdiag_cookie(fd, &cookie) == 0)
		printf("tcp-close cookie %llu\n", (unsigned long long)cookie);
	close(fd);
	printf("tcp-close events %d\n", drain(mon, 3000, "tcp-close "));
	fd = connect_from(SOCK_STREAM, av[0], atoi(av[1]), 0);
	if (fd >= 0 && sockdiag_cookie(fd, &cookie) == 0)
		printf("tcp-abort cookie %llu\n", (unsigned long long)cookie);
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
	printf("tcp-abort events %d\n", drain(mon, 1000, "tcp-abort "));
	fd = connect_from(SOCK_DGRAM, av[0], atoi(av[1]), 0);
	if (fd >= 0 && sockdiag_cookie(fd, &cookie) == 0)
		printf("udp-close cookie %llu\n", (unsigned long long)cookie);
	close(fd);
	printf("udp-close events %d\n", drain(mon, 1000, "udp-close "));
	close(mon);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: enforce-probe init|reinit|add|del|arm|disarm|listen|unlisten|dump|"
			"counters|remove|destroy|udp-destroy|monitor|events ...\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	int r;

	if (strcmp(cmd, "init") == 0)
		r = cmd_init(0);
	else if (strcmp(cmd, "adopt") == 0)
		r = cmd_init(ENFORCE_ADOPT);
	else if (strcmp(cmd, "remove") == 0)
		r = cmd_remove();
	else if ((!strcmp(cmd, "add") || !strcmp(cmd, "del") || !strcmp(cmd, "arm") ||
		  !strcmp(cmd, "disarm")) &&
		 argc == 7)
		r = cmd_flow(cmd, argv + 2);
	else if ((!strcmp(cmd, "listen") || !strcmp(cmd, "unlisten")) && argc == 5)
		r = cmd_listen(cmd[0] == 'l', argv + 2);
	else if (strcmp(cmd, "dump") == 0)
		r = cmd_dump();
	else if (strcmp(cmd, "counters") == 0)
		r = cmd_counters();
	else if (strcmp(cmd, "destroy") == 0 && argc == 5)
		r = destroy_test(SOCK_STREAM, argv + 2);
	else if (strcmp(cmd, "udp-destroy") == 0 && argc == 5)
		r = destroy_test(SOCK_DGRAM, argv + 2);
	else if (strcmp(cmd, "monitor") == 0 && argc == 3)
		r = cmd_monitor(argv + 2);
	else if (strcmp(cmd, "events") == 0 && argc == 4)
		r = cmd_events(argv + 2);
	else
		return usage();
	return r == 0 ? 0 : 1;
}
