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
#include "latchd/core/core.h"
#include "latchd/dataplane/enforce.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: latchd [-c FILE] [-o KEY=VALUE]... [-d] [--cleanup]\n"
		   "  -c, --config FILE   configuration (default " CONFIG_PATH_DEFAULT ")\n"
		   "  -o, --set KEY=VALUE override one configuration key\n"
		   "  -d, --debug         log debug messages\n"
		   "      --cleanup       remove latchd's firewall table and rule, then exit\n"
		   "      --print-paths   print the files and directories latchd uses, then exit\n"
		   "  -V, --version       print the version\n");
}

/* systemd's readiness protocol: one datagram to $NOTIFY_SOCKET. */
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

static int parse_args(int argc, char **argv, struct config *cfg, bool *do_cleanup)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' }, { "set", required_argument, NULL, 'o' },
		{ "debug", no_argument, NULL, 'd' },	    { "cleanup", no_argument, NULL, 'C' },
		{ "version", no_argument, NULL, 'V' },	    { "help", no_argument, NULL, 'h' },
		{ "print-paths", no_argument, NULL, 'P' },  { NULL, 0, NULL, 0 },
	};
	const char *path = CONFIG_PATH_DEFAULT;
	bool explicit_path = false; /* a file named on the command line must exist */
	bool paths = false;
	char err[512], *sets[64];
	int n_sets = 0, o;

	while ((o = getopt_long(argc, argv, "c:o:dVh", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			path = optarg;
			explicit_path = true;
			break;
		case 'o':
			if (n_sets == 64)
				return -E2BIG;
			sets[n_sets++] = optarg;
			break;
		case 'd':
			log_set_level(LOG_LVL_DEBUG);
			break;
		case 'C':
			*do_cleanup = true;
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
	config_defaults(cfg);
	if (config_load(cfg, path, explicit_path, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return -EINVAL;
	}
	for (int i = 0; i < n_sets; i++) {
		char *eq = strchr(sets[i], '=');

		if (eq)
			*eq = '\0';
		if (!eq || config_set(cfg, sets[i], eq + 1, err, sizeof(err)) < 0) {
			log_err("-o %s: %s", sets[i], eq ? err : "expected KEY=VALUE");
			return -EINVAL;
		}
	}
	if (paths) {
		print_paths(path, cfg);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	bool do_cleanup = false;
	struct ev_loop *loop = NULL;
	struct core *core = NULL;
	struct config cfg;
	int r;

	r = parse_args(argc, argv, &cfg, &do_cleanup);
	if (r != 0)
		return r > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	if (do_cleanup)
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
	notify("READY=1");
	r = ev_loop_run(loop);
	notify("STOPPING=1");
	core_free(core, true);
	ev_loop_free(loop);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
