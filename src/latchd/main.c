/* SPDX-License-Identifier: MIT */
/*
 * latchd: connection latching over strongSwan. Reads its configuration,
 * opens its parts (core.h), tells systemd it is ready, and runs the event
 * loop until SIGTERM/SIGINT. On the way out it leaves its enforcement in the
 * kernel, so latched flows stay fail-closed until the next latchd adopts
 * them (latchd --cleanup removes it for good).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "latchd/base/config.h"
#include "latchd/base/event.h"
#include "latchd/base/log.h"
#include "latchd/check.h"
#include "latchd/core/core.h"
#include "latchd/core/doctor.h"
#include "latchd/dataplane/enforce.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: latchd [-c FILE] [-o KEY=VALUE]... [-d] [--check | --cleanup]\n"
		   "  -c, --config FILE   configuration (default " CONFIG_PATH_DEFAULT ")\n"
		   "  -o, --set KEY=VALUE override one configuration key\n"
		   "  -d, --debug         log debug messages\n"
		   "      --check         check what latchd needs, one line each; exit 1 on a "
		   "failure\n"
		   "      --cleanup       remove latchd's firewall table and rule, then exit\n"
		   "      --print-paths   print the files and directories latchd uses, then exit\n"
		   "  -V, --version       print the version\n");
}

/*
 * systemd's notification protocol (sd_notify(3)): one datagram to
 * $NOTIFY_SOCKET. A few lines of our own rather than libsystemd: latchd needs
 * three messages, and the protocol is a stable, documented datagram.
 */
static void notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sa.sun_path))
		return;
	strcpy(sa.sun_path, path);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	close(fd);
}

/*
 * What systemd hears while latchd runs: STATUS= whenever the line changes
 * (charon reachable or not and why, the latches), checked every second, and
 * WATCHDOG=1 at half of WatchdogSec= when the service manager asks for it
 * ($WATCHDOG_USEC, for this process: $WATCHDOG_PID). The pings come from the
 * event loop: a loop that hangs stops them, and systemd restarts latchd.
 */
struct notifier {
	struct core *core;
	struct ev_source *timer;
	uint64_t watchdog_usec, next_ping;
	char status[512];
};

#define NOTIFY_TICK_USEC 1000000u

static uint64_t watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	unsigned long long v;
	char *end;

	if (!usec || (pid && strtol(pid, NULL, 10) != (long)getpid()))
		return 0;
	errno = 0;
	v = strtoull(usec, &end, 10);
	return errno || *end ? 0 : v;
}

/* head ("READY=1\n" or ""), then STATUS= with the line as it is now, if it changed or head */
static void notify_status(struct notifier *n, const char *head)
{
	char line[sizeof(n->status) + 16], status[sizeof(n->status)];

	core_status_text(n->core, status, sizeof(status));
	if (!*head && !strcmp(status, n->status))
		return;
	memcpy(n->status, status, sizeof(status));
	snprintf(line, sizeof(line), "%sSTATUS=%s", head, status);
	notify(line);
}

static int on_notify_tick(struct ev_source *s, uint64_t now, void *u)
{
	struct notifier *n = u;
	uint64_t tick = NOTIFY_TICK_USEC;

	notify_status(n, "");
	if (n->watchdog_usec) {
		if (now >= n->next_ping) {
			notify("WATCHDOG=1");
			n->next_ping = now + n->watchdog_usec / 2;
		}
		if (n->watchdog_usec / 2 < tick)
			tick = n->watchdog_usec / 2;
	}
	ev_time_set_in(s, tick ? tick : 1);
	return 0;
}

static int on_signal(struct ev_source *s, const struct signalfd_siginfo *si, void *u)
{
	log_info("signal %u: stopping", si->ssi_signo);
	ev_loop_exit(ev_source_loop(s), 0);
	return 0;
}

/*
 * Every client costs a descriptor: take all the hard limit allows (systemd's
 * soft default of 1,024 is for select(), which latchd does not use). The
 * control module fits max_clients into what is left.
 */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("RLIMIT_NOFILE: %s", strerror(errno));
	}
}

static int cleanup(const struct config *cfg)
{
	struct enforce_config ec = ENFORCE_CONFIG_DEFAULT;
	struct enforce *e;
	int r;

	ec.table = cfg->nft_table;
	ec.iface = cfg->tun;
	ec.mark = cfg->mark;
	ec.ct_mark = cfg->mark;
	r = enforce_open(&e, &ec, ENFORCE_ADOPT);
	if (r == 0)
		r = enforce_close(e, false);
	if (r < 0)
		log_err("cleanup: %s", strerror(-r));
	return r;
}

struct args {
	bool cleanup, check, debug;
	const char *path;
};

/* --print-paths: where this build looks, after the configuration (and -o) applied. */
static void print_paths(const char *path, const struct config *c)
{
	printf("config          %s\n"
	       "btns_anchor     %s\n"
	       "btns_anchor_key %s\n"
	       "data_dir        %s\n"
	       "state_dir       %s\n"
	       "socket          %s\n"
	       "vici_socket     %s\n",
	       path, c->btns_anchor, c->btns_anchor_key, c->data_dir, c->state_dir, c->socket,
	       c->vici_socket);
}

static int parse_args(int argc, char **argv, struct config *cfg, struct args *a)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, 'o' },
		{ "debug", no_argument, NULL, 'd' },
		{ "cleanup", no_argument, NULL, 'C' },
		{ "check", no_argument, NULL, 'K' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ "print-paths", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	bool explicit_path = false; /* a file named on the command line must exist */
	bool paths = false;
	char err[512], *sets[64];
	int n_sets = 0, o;

	while ((o = getopt_long(argc, argv, "c:o:dVh", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			a->path = optarg;
			explicit_path = true;
			break;
		case 'o':
			if (n_sets == 64)
				return -E2BIG;
			sets[n_sets++] = optarg;
			break;
		case 'd':
			a->debug = true;
			break;
		case 'C':
			a->cleanup = true;
			break;
		case 'K':
			a->check = true;
			break;
		case 'P':
			paths = true;
			break;
		case 'V':
			printf("latchd %s\n", LATCH_VERSION);
			return 1;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -EINVAL;
	}
	if (a->debug)
		log_set_level(LOG_LVL_DEBUG);
	else if (a->check) /* the lines say it; the log would say it twice */
		log_set_level(LOG_LVL_ERR);
	config_defaults(cfg);
	if (config_load(cfg, a->path, explicit_path, err, sizeof(err)) < 0) {
		if (a->check)
			printf("FAIL config: %s\n", err);
		else
			log_err("%s", err);
		return -EINVAL;
	}
	for (int i = 0; i < n_sets; i++) {
		char *eq = strchr(sets[i], '=');

		if (eq)
			*eq = '\0';
		if (!eq || config_set(cfg, sets[i], eq + 1, err, sizeof(err)) < 0) {
			if (a->check)
				printf("FAIL config: -o %s: %s\n", sets[i],
				       eq ? err : "expected KEY=VALUE");
			log_err("-o %s: %s", sets[i], eq ? err : "expected KEY=VALUE");
			return -EINVAL;
		}
	}
	if (paths) {
		print_paths(a->path, cfg);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct args a = { .path = CONFIG_PATH_DEFAULT };
	struct ev_loop *loop = NULL;
	struct core *core = NULL;
	struct notifier nt = { .watchdog_usec = watchdog_usec() };
	struct config cfg;
	int r;

	r = parse_args(argc, argv, &cfg, &a);
	if (r != 0)
		return r > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	if (a.check)
		return check_run(&cfg, a.path, stdout, 3000) ? EXIT_FAILURE : EXIT_SUCCESS;
	if (!doctor_cap_net_admin()) { /* say so, not "ip rule add ...: Operation not permitted" */
		log_err("%s", DOCTOR_NEEDS_NET_ADMIN);
		return EXIT_FAILURE;
	}
	if (a.cleanup)
		return cleanup(&cfg) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	signal(SIGHUP, SIG_IGN); /* nothing is reloaded: restart latchd, it re-adopts its latches */
	r = ev_loop_new(&loop);
	if (r == 0)
		r = ev_add_signal(loop, NULL, SIGTERM, on_signal, NULL);
	if (r == 0)
		r = ev_add_signal(loop, NULL, SIGINT, on_signal, NULL);
	if (r == 0)
		r = core_new(loop, &cfg, &core);
	if (r < 0) {
		log_err("cannot start: %s", strerror(-r));
		ev_loop_free(loop);
		return EXIT_FAILURE;
	}
	log_info("latchd %s ready on %s (charon at %s)", LATCH_VERSION, cfg.socket,
		 cfg.vici_socket);
	nt.core = core;
	notify_status(&nt, "READY=1\n");
	if (nt.watchdog_usec)
		notify("WATCHDOG=1");
	r = ev_add_time(loop, &nt.timer, 0, on_notify_tick, &nt);
	if (r == 0) {
		nt.next_ping = ev_now(loop) + nt.watchdog_usec / 2;
		r = ev_time_set_in(nt.timer, NOTIFY_TICK_USEC);
	}
	if (r == 0)
		r = ev_loop_run(loop);
	notify("STOPPING=1");
	ev_source_free(nt.timer);
	core_free(core, true);
	ev_loop_free(loop);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
