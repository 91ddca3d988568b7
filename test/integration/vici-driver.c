/* SPDX-License-Identifier: MIT */
/*
 * Drives latchd's VICI client against a real charon for the integration
 * tests, and prints one line for everything it sees, so a script can wait
 * for lines instead of sleeping.
 *
 *	vici-driver SOCKET CMD_FIFO
 *
 * Commands, one per line on the FIFO:
 *	load NAME LOCAL REMOTE LOCAL_ID REMOTE_ID CERT CACERT PROTO LPORT:RPORT...
 *	initiate CHILD            list [CHILD_ID]           terminate CHILD_ID
 * Output (stdout, a line per fact):
 *	up | up resync | down ERRNO
 *	event NAME up|down IKE#ID [CHILD#ID]
 *	load|initiate|terminate ok | … error MESSAGE
 *	sa IKE#ID CHILD#ID STATE LOCAL_TS === REMOTE_TS   (ports as numbers)
 *	list done N
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "latchd/base/event.h"
#include "latchd/charon/vici-cmd.h"
#include "latchd/charon/vici.h"

#define MAX_CHILDREN 16

struct driver {
	struct ev_loop *loop;
	struct vici_client *vc;
	char line[4096];
	size_t len;
};

static void on_up(void *u, bool resync, unsigned unknown)
{
	printf("up%s\n", resync ? " resync" : "");
}

static void on_down(void *u, int err, const char *why)
{
	printf("down %d %s\n", err, why);
}

static void on_event(void *u, const char *name, const struct vici_node *msg)
{
	const char *dir = vici_get_yes(msg, "up") ? "up" : "down";
	struct vici_ike_sa *sas;
	size_t n;

	if (vici_ike_sas_parse(msg, 0, &sas, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		printf("event %s %s %s#%llu", name, dir, sas[i].name,
		       (unsigned long long)sas[i].uniqueid);
		for (size_t k = 0; k < sas[i].n_children; k++)
			printf(" %s#%llu", sas[i].children[k].name,
			       (unsigned long long)sas[i].children[k].uniqueid);
		printf("\n");
	}
	vici_ike_sas_free(sas, n);
}

static void print_done(const char *what, int err, const char *errmsg)
{
	if (err)
		printf("%s error %d %s\n", what, err, errmsg);
	else
		printf("%s ok\n", what);
}

static void on_load(void *u, int err, const char *errmsg, const struct vici_node *r)
{
	print_done("load", err, errmsg);
}

static void on_initiate(void *u, int err, const char *errmsg, const struct vici_node *r)
{
	print_done("initiate", err, errmsg);
}

static void on_terminate(void *u, int err, const char *errmsg, const struct vici_node *r)
{
	print_done("terminate", err, errmsg);
}

static void print_ts(const struct vici_node *list)
{
	struct vici_ts_parsed ts;

	for (const struct vici_node *i = list ? list->child : NULL; i; i = i->next) {
		if (vici_ts_parse((const char *)i->value, &ts) < 0)
			printf(" ?%s", (const char *)i->value);
		else
			printf(" %s/%u/%u", ts.net, ts.proto, ts.port);
	}
}

static void on_sas(void *u, int err, const char *errmsg, const struct vici_ike_sa *sas, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < sas[i].n_children; k++) {
			const struct vici_child_sa *ch = &sas[i].children[k];

			printf("sa %s#%llu %s#%llu %s", sas[i].name,
			       (unsigned long long)sas[i].uniqueid, ch->name,
			       (unsigned long long)ch->uniqueid, ch->state);
			print_ts(ch->local_ts);
			printf(" ===");
			print_ts(ch->remote_ts);
			printf("\n");
		}
	}
	if (err)
		printf("list error %d %s\n", err, errmsg);
	else
		printf("list done %zu\n", n);
}

static int read_file(const char *path, char *buf, size_t cap, struct charon_blob *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap);
	close(fd);
	if (n < 0 || (size_t)n == cap)
		return -EFBIG;
	*out = (struct charon_blob){ buf, (size_t)n };
	return 0;
}

/* load NAME LOCAL REMOTE LOCAL_ID REMOTE_ID CERT CACERT PROTO LPORT:RPORT... */
static int cmd_load(struct driver *d, char **argv, int argc)
{
	static char cert[8192], ca[8192];
	const char *la[] = { argv[1], NULL }, *ra[] = { argv[2], NULL };
	static const char *const esp[] = { "aes256gcm16", NULL };
	struct charon_child_cfg children[MAX_CHILDREN] = { 0 };
	struct charon_ts lts[MAX_CHILDREN], rts[MAX_CHILDREN];
	char names[MAX_CHILDREN][32], lnet[64], rnet[64];
	struct charon_conn_cfg cfg = { .name = argv[0], .version = 2, .encap = true };
	struct charon_blob certb, cab;
	int n = argc - 8;

	if (n < 1 || n > MAX_CHILDREN || read_file(argv[5], cert, sizeof(cert), &certb) < 0 ||
	    read_file(argv[6], ca, sizeof(ca), &cab) < 0)
		return -EINVAL;
	snprintf(lnet, sizeof(lnet), "%s/32", argv[1]);
	snprintf(rnet, sizeof(rnet), "%s/32", argv[2]);
	for (int i = 0; i < n; i++) {
		unsigned lp = 0, rp = 0;

		if (sscanf(argv[8 + i], "%u:%u", &lp, &rp) != 2)
			return -EINVAL;
		lts[i] = (struct charon_ts){ lnet, (uint8_t)atoi(argv[7]), (uint16_t)lp, 0 };
		rts[i] = (struct charon_ts){ rnet, (uint8_t)atoi(argv[7]), (uint16_t)rp, 0 };
		snprintf(names[i], sizeof(names[i]), "%s-%u", argv[0], lp);
		children[i] = (struct charon_child_cfg){ .name = names[i],
							 .local_ts = &lts[i],
							 .n_local_ts = 1,
							 .remote_ts = &rts[i],
							 .n_remote_ts = 1,
							 .esp_proposals = esp };
	}
	cfg.local_addrs = la;
	cfg.remote_addrs = ra;
	cfg.local = (struct charon_auth_cfg){
		.auth = "pubkey", .id = argv[3], .certs = &certb, .n_certs = 1
	};
	cfg.remote = (struct charon_auth_cfg){
		.auth = "pubkey", .id = argv[4], .cacerts = &cab, .n_cacerts = 1
	};
	cfg.children = children;
	cfg.n_children = (size_t)n;
	return vici_load_conn(d->vc, &cfg, on_load, d);
}

static int run_command(struct driver *d, char *line)
{
	char *argv[40], *save = NULL;
	int argc = 0;

	for (char *t = strtok_r(line, " \t", &save); t && argc < 40;
	     t = strtok_r(NULL, " \t", &save))
		argv[argc++] = t;
	if (argc == 0)
		return 0;
	if (strcmp(argv[0], "load") == 0 && argc >= 10)
		return cmd_load(d, argv + 1, argc - 1);
	if (strcmp(argv[0], "initiate") == 0 && argc == 2)
		return vici_initiate(d->vc, NULL, argv[1], 10000, on_initiate, d);
	if (strcmp(argv[0], "terminate") == 0 && argc == 2)
		return vici_terminate(d->vc, 0, strtoull(argv[1], NULL, 10), false, 10000,
				      on_terminate, d);
	if (strcmp(argv[0], "list") == 0) {
		struct vici_sa_filter f = { .child_id =
						    argc > 1 ? strtoull(argv[1], NULL, 10) : 0 };

		return vici_list_sas(d->vc, &f, VICI_SAS_INSTALLED, on_sas, d);
	}
	return -EINVAL;
}

static int on_fifo(struct ev_source *s, int fd, uint32_t revents, void *u)
{
	struct driver *d = u;
	ssize_t n = read(fd, d->line + d->len, sizeof(d->line) - 1 - d->len);
	char *nl;

	if (n <= 0)
		return n < 0 && errno == EAGAIN ? 0 : -EIO;
	d->len += (size_t)n;
	d->line[d->len] = '\0';
	while ((nl = strchr(d->line, '\n'))) {
		int ret;

		*nl = '\0';
		ret = run_command(d, d->line);
		if (ret < 0)
			printf("command error %d\n", ret);
		d->len -= (size_t)(nl + 1 - d->line);
		memmove(d->line, nl + 1, d->len + 1);
	}
	if (d->len == sizeof(d->line) - 1)
		d->len = 0;
	return 0;
}

static int on_term(struct ev_source *s, const struct signalfd_siginfo *si, void *u)
{
	ev_loop_exit(ev_source_loop(s), 0);
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const events[] = { "ike-updown",  "child-updown", "ike-rekey",
					      "child-rekey", "ike-update",   NULL };
	static const struct vici_client_ops ops = { .up = on_up,
						    .down = on_down,
						    .event = on_event };
	struct vici_client_config cfg = { .events = events, .timeout_usec = 15000000 };
	struct driver d = { 0 };
	int fd, ret;

	if (argc != 3) {
		fprintf(stderr, "usage: %s SOCKET CMD_FIFO\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* O_RDWR: the FIFO never reports EOF when a writer closes it. */
	fd = open(argv[2], O_RDWR | O_NONBLOCK | O_CLOEXEC);
	cfg.path = argv[1];
	if (fd < 0 || ev_loop_new(&d.loop) < 0 ||
	    ev_add_io(d.loop, NULL, fd, EPOLLIN, on_fifo, &d) < 0 ||
	    ev_add_signal(d.loop, NULL, SIGTERM, on_term, &d) < 0 ||
	    vici_client_new(d.loop, &cfg, &ops, &d, &d.vc) < 0) {
		fprintf(stderr, "vici-driver: setup failed\n");
		return 1;
	}
	ret = ev_loop_run(d.loop);
	vici_client_free(d.vc);
	ev_loop_free(d.loop);
	close(fd);
	return ret < 0 ? 1 : 0;
}
