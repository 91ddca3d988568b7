/* SPDX-License-Identifier: MIT */
/*
 * latchctl: what an administrator sees of latchd and does with latches.
 * An explicit table of subcommands; each prints text for a terminal or, with
 * --json, one JSON document (latchctl(8) documents the schema).
 *
 * Exit codes: 0 done; 1 latchd refused or found nothing; 2 usage; 3 latchd
 * unreachable.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "latchctl/client.h"
#include "latchctl/info.h"
#include "latchctl/metrics.h"
#include "latchctl/pins.h"

#define EXIT_REFUSED	 CTL_EXIT_REFUSED
#define EXIT_USAGE	 CTL_EXIT_USAGE
#define EXIT_UNREACHABLE CTL_EXIT_UNREACHABLE

struct opts {
	const char *socket;
	bool json;
	bool color;
	uint8_t state;
	long uid;
	const char *peer; /* list: only latches whose peer identity contains this */
	long port;	  /* list: only latches with this local or remote port */
	long limit;	  /* list: at most this many rows (0: all) */
	bool help;
	bool version;
	bool said; /* a bad value was named already (parse_opts) */
	int count; /* watch: stop after this many events; 0: never */
	int timeout_ms;
	const char *bad; /* the option getopt refused, said by latchctl itself */
};

struct cmd {
	const char *name;
	const char *args;
	const char *help;
	int n_args; /* positional arguments: 0 none, 1 one latch id, -1 the command checks */
	int (*run)(struct ctl_client *c, struct opts *o, int argc, char **argv);
};

static bool json_out; /* --json: errors are JSON documents on stdout too */

static int refused(struct ctl_client *c, int r)
{
	return ctl_refused(c, json_out, r);
}

/* ---------------------------------------------------------------- status */

struct status {
	struct opts *o;
	bool first;
};

/* The doctor's lines from the running daemon (latchd --check words them alike). */
static void print_checks(const struct opts *o, const struct wire_attrs *a)
{
	char t[CTL_TEXT_MAX], w[CTL_TEXT_MAX];
	struct wire_attr at;
	size_t cur = 0;

	if (o->json)
		printf(",\"checks\":[");
	for (bool first = true; wire_next(a, IPC_A_CHECK, &cur, &at) == 1; first = false) {
		struct wire_attrs n = { at.val, at.len };
		const char *what = "?", *text = "";
		uint64_t ok = 0;

		wire_get_str(&n, IPC_A_NAME, &what);
		wire_get_u64(&n, IPC_A_VALUE, &ok);
		wire_get_str(&n, IPC_A_MESSAGE, &text);
		if (o->json) {
			printf("%s{\"name\":", first ? "" : ",");
			json_str(stdout, what);
			printf(",\"ok\":%s,\"message\":", ok ? "true" : "false");
			json_str(stdout, text);
			printf("}");
		} else {
			printf("%-4s %s: %s\n", ok ? "ok" : "FAIL",
			       ctl_text(w, sizeof(w), what, NULL),
			       ctl_text(t, sizeof(t), text, NULL));
		}
	}
	if (o->json)
		printf("]");
}

static int status_entry(void *u, const struct wire_msg *m)
{
	struct status *st = u;
	const char *name = "?";
	char t[CTL_TEXT_MAX];
	struct wire_attr at;
	size_t cur = 0;
	uint32_t version = 0;

	wire_get_u32(&m->attrs, IPC_A_VERSION, &version);
	wire_get_str(&m->attrs, IPC_A_NAME, &name);
	if (st->o->json) {
		json_doc_begin(stdout, "status");
		printf("{\"daemon\":");
		json_str(stdout, name);
		printf(",\"protocol\":%u", version);
	} else {
		printf("%-20s %s (protocol %u)\n", "daemon", ctl_text(t, sizeof(t), name, NULL),
		       version);
	}
	for (uint16_t type = IPC_A_COUNTER; type <= IPC_A_LIMIT; type++) {
		if (st->o->json)
			printf(",\"%s\":{", type == IPC_A_COUNTER ? "counters" : "limits");
		cur = 0;
		for (bool first = true; wire_next(&m->attrs, type, &cur, &at) == 1; first = false) {
			struct wire_attrs n = { at.val, at.len };
			const char *key = "?";
			uint64_t v = 0;

			wire_get_str(&n, IPC_A_NAME, &key);
			wire_get_u64(&n, IPC_A_VALUE, &v);
			if (st->o->json) {
				printf("%s", first ? "" : ",");
				json_str(stdout, key);
				printf(":%llu", (unsigned long long)v);
			} else {
				printf("%-20s %llu\n", ctl_text(t, sizeof(t), key, NULL),
				       (unsigned long long)v);
			}
		}
		if (st->o->json)
			printf("}");
	}
	print_checks(st->o, &m->attrs);
	if (st->o->json) {
		printf("}");
		json_doc_end(stdout);
	}
	return 0;
}

static int cmd_status(struct ctl_client *c, struct opts *o, int argc, char **argv)
{
	struct status st = { o, true };
	struct buf b;
	int r;

	ctl_begin(c, &b, IPC_MSG_STATUS);
	r = ctl_call(c, &b, status_entry, &st);
	buf_free(&b);
	return r < 0 ? refused(c, r) : 0;
}

/* ---------------------------------------------------------------- latches */

struct lister {
	struct opts *o;
	unsigned n, more;
	bool show;
	const char *key; /* --json: the document's member, its array opened at the first entry */
	bool opened;
};

/* --json dumps: {"schema":N,"<key>":[ at the first entry or at the end, ]} at the end. */
static void dump_open(struct lister *ls)
{
	if (ls->o->json && !ls->opened) {
		json_doc_begin(stdout, ls->key);
		putchar('[');
		ls->opened = true;
	}
}

static void dump_close(struct lister *ls, int r)
{
	if (!ls->o->json || (r < 0 && !ls->opened))
		return;
	dump_open(ls);
	putchar(']');
	json_doc_end(stdout);
}

static bool wanted(const struct opts *o, const struct ctl_latch *l)
{
	if (o->peer && (!l->remote.id || !strstr(l->remote.id, o->peer)))
		return false;
	return o->port < 0 || l->lport == o->port || l->rport == o->port;
}

static int list_entry(void *u, const struct wire_msg *m)
{
	struct lister *ls = u;
	struct ctl_latch l;

	if (ctl_latch_decode(&m->attrs, &l) < 0 || !wanted(ls->o, &l))
		return 0;
	if (ls->o->limit > 0 && ls->n >= (unsigned long)ls->o->limit) {
		ls->more++; /* counted, not printed: a terminal is no place for 10,000 rows */
		return 0;
	}
	if (ls->o->json && ls->show) {
		json_doc_begin(stdout, "latch");
		ctl_latch_json(stdout, &l);
		json_doc_end(stdout);
	} else if (ls->o->json) {
		dump_open(ls);
		printf("%s", ls->n ? ",\n " : "");
		ctl_latch_json(stdout, &l);
	} else if (ls->show) {
		ctl_latch_show(stdout, &l);
	} else {
		if (!ls->n)
			ctl_latch_row_header(stdout);
		ctl_latch_row(stdout, &l, ls->o->color);
	}
	ls->n++;
	return 0;
}

static int cmd_list(struct ctl_client *c, struct opts *o, int argc, char **argv)
{
	struct lister ls = { .o = o, .key = "latches" };
	struct buf b;
	size_t n;
	int r;

	ctl_begin(c, &b, IPC_MSG_LIST);
	if (o->state)
		wire_put_u8(&b, IPC_A_STATE, o->state);
	if (o->uid >= 0) {
		n = wire_nest_begin(&b, IPC_A_OWNER);
		wire_put_u32(&b, IPC_A_OWNER_UID, (uint32_t)o->uid);
		wire_nest_end(&b, n);
	}
	r = ctl_call(c, &b, list_entry, &ls);
	buf_free(&b);
	dump_close(&ls, r);
	if (!o->json && r == 0 && !ls.n)
		printf("no latches\n");
	if (!o->json && ls.more)
		printf("... and %u more (narrow with --state, --peer, --port, --uid, or raise "
		       "--limit)\n",
		       ls.more);
	return r < 0 ? refused(c, r) : 0;
}

static int parse_id(const char *s, uint64_t *id)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (!*s || *end || v == 0)
		return -EINVAL;
	*id = v;
	return 0;
}

static int by_id(struct ctl_client *c, struct opts *o, int argc, char **argv, uint16_t type)
{
	struct lister ls = { .o = o, .show = true };
	struct buf b;
	uint64_t id;
	int r;

	if (argc != 1 || parse_id(argv[0], &id) < 0)
		return ctl_usage_error(o->json,
				       "give one latch id (a number from 'latchctl list')");
	ctl_begin(c, &b, type);
	wire_put_u64(&b, IPC_A_LATCH_ID, id);
	r = ctl_call(c, &b, type == IPC_MSG_QUERY ? list_entry : NULL, &ls);
	buf_free(&b);
	if (r < 0)
		return refused(c, r);
	if (type == IPC_MSG_CLOSE && o->json) {
		json_doc_begin(stdout, "closed");
		printf("%llu", (unsigned long long)id);
		json_doc_end(stdout);
	} else if (type == IPC_MSG_CLOSE) {
		printf("latch %llu closed\n", (unsigned long long)id);
	}
	return 0;
}

static int cmd_show(struct ctl_client *c, struct opts *o, int argc, char **argv)
{
	return by_id(c, o, argc, argv, IPC_MSG_QUERY);
}

static int cmd_close(struct ctl_client *c, struct opts *o, int argc, char **argv)
{
	return by_id(c, o, argc, argv, IPC_MSG_CLOSE);
}

static void print_event(const struct opts *o, const struct wire_msg *m)
{
	const char *why = NULL;
	char t[CTL_TEXT_MAX];
	struct ctl_latch l;

	if (ctl_latch_decode(&m->attrs, &l) < 0)
		return;
	wire_get_str(&m->attrs, IPC_A_MESSAGE, &why);
	if (o->json) {
		json_doc_begin(stdout, "event");
		printf("{\"id\":%llu,\"state\":\"%s\",\"reason\":\"%s\",\"local\":",
		       (unsigned long long)l.id, ctl_state_name(l.state),
		       ctl_reason_name(l.reason));
		json_str(stdout, l.laddr);
		printf(",\"local_port\":%u,\"remote\":", l.lport);
		json_str(stdout, l.has_remote ? l.raddr : "");
		printf(",\"remote_port\":%u,\"message\":", l.rport);
		why ? json_str(stdout, why) : (void)fputs("null", stdout);
		putchar('}');
		json_doc_end(stdout);
	} else {
		printf("latch %llu %s (%s) %s:%u -> %s:%u%s%s\n", (unsigned long long)l.id,
		       ctl_state_name(l.state), ctl_reason_name(l.reason), l.laddr, l.lport,
		       l.has_remote ? l.raddr : "*", l.rport, why ? ": " : "",
		       ctl_text(t, sizeof(t), why, ""));
	}
	fflush(stdout);
}

static int cmd_watch(struct ctl_client *c, struct opts *o, int argc, char **argv)
{
	struct wire_msg m;
	struct buf b;
	int r, seen = 0;

	ctl_begin(c, &b, IPC_MSG_WATCH);
	r = ctl_call(c, &b, NULL, NULL);
	buf_free(&b);
	if (r < 0)
		return refused(c, r);
	if (!o->json)
		fprintf(stderr, "watching latch events (Ctrl-C ends)\n");
	while (!o->count || seen < o->count) {
		r = ctl_next_event(c, o->timeout_ms ? o->timeout_ms : -1, &m);
		if (r == 0)
			return 0; /* --timeout reached */
		if (r < 0)
			return refused(c, r);
		print_event(o, &m);
		seen++;
	}
	return 0;
}

/* ---------------------------------------------------------------- peers */

static uint64_t counter(const struct wire_attrs *a, const char *name)
{
	struct wire_attr at;
	size_t cur = 0;

	while (wire_next(a, IPC_A_COUNTER, &cur, &at) == 1) {
		struct wire_attrs n = { at.val, at.len };
		const char *key = NULL;
		uint64_t v = 0;

		wire_get_str(&n, IPC_A_NAME, &key);
		wire_get_u64(&n, IPC_A_VALUE, &v);
		if (key && !strcmp(key, name))
			return v;
	}
	return 0;
}

static int peer_entry(void *u, const struct wire_msg *m)
{
	struct lister *ls = u;
	struct ctl_ident remote, local;
	struct ctl_latch t = { 0 };
	char peer[27], cert[CTL_TEXT_MAX];
	struct wire_attrs tup;

	ctl_ident_decode(&m->attrs, IPC_A_REMOTE_IDENTITY, &remote);
	ctl_ident_decode(&m->attrs, IPC_A_LOCAL_IDENTITY, &local);
	if (wire_get_nested(&m->attrs, IPC_A_TUPLE, &tup) == 0)
		ctl_latch_decode_tuple(&tup, &t);
	if (ls->o->json) {
		dump_open(ls);
		printf("%s{\"ike_sa\":%llu,\"address\":", ls->n ? ",\n " : "",
		       (unsigned long long)counter(&m->attrs, "ike_sa"));
		json_str(stdout, t.raddr);
		printf(",\"latches\":%llu,\"child_sas\":%llu",
		       (unsigned long long)counter(&m->attrs, "latches"),
		       (unsigned long long)counter(&m->attrs, "child_sas"));
		ctl_ident_json(stdout, "remote_identity", &remote);
		ctl_ident_json(stdout, "local_identity", &local);
		printf("}");
	} else {
		if (!ls->n)
			printf("%-6s %-22s %-26s %-13s %-8s %-8s %s\n", "IKE_SA", "ADDRESS", "PEER",
			       "METHOD", "LATCHES", "CHILDREN", "CERTIFICATE");
		printf("#%-5llu %-22s %-26s %-13s %-8llu %-8llu %s\n",
		       (unsigned long long)counter(&m->attrs, "ike_sa"), t.raddr,
		       ctl_text(peer, sizeof(peer), remote.id, "-"), ctl_auth_name(remote.auth),
		       (unsigned long long)counter(&m->attrs, "latches"),
		       (unsigned long long)counter(&m->attrs, "child_sas"),
		       ctl_text(cert, sizeof(cert), remote.subject, "-"));
	}
	ls->n++;
	return 0;
}

static int cmd_peers(struct ctl_client *c, struct opts *o, int argc, char **argv)
{
	struct lister ls = { .o = o, .key = "peers" };
	struct buf b;
	int r;

	ctl_begin(c, &b, IPC_MSG_PEER_LIST);
	r = ctl_call(c, &b, peer_entry, &ls);
	buf_free(&b);
	dump_close(&ls, r);
	if (!o->json && r == 0 && !ls.n)
		printf("no IKE peers\n");
	return r < 0 ? refused(c, r) : 0;
}

static int cmd_pins(struct ctl_client *c, struct opts *o, int argc, char **argv)
{
	return ctl_pins(c, o->json, argc, argv);
}

static int cmd_metrics(struct ctl_client *c, struct opts *o, int argc, char **argv)
{
	return ctl_metrics(c, o->json, argc, argv);
}

/* ---------------------------------------------------------------- main */

static const struct cmd cmds[] = {
	{ "status", "", "latchd and charon reachable, counts by state, limits", 0, cmd_status },
	{ "list", "[--state S] [--uid U] [--peer ID] [--port P] [--limit N]",
	  "one line per latch: owner, flow, peer, SA, age", 0, cmd_list },
	{ "show", "ID", "everything about one latch", 1, cmd_show },
	{ "close", "ID", "close a latch; its owner's connection is reset", 1, cmd_close },
	{ "watch", "[--count N] [--timeout MS]", "stream latch events", 0, cmd_watch },
	{ "peers", "", "IKE peers: identity, method, certificate, latches and child SAs", 0,
	  cmd_peers },
	{ "pins", "[forget NAME]", "leap-of-faith pins: BTNS peers' keys by name; forget one", -1,
	  cmd_pins },
	{ "metrics", "[openmetrics|prometheus]",
	  "counters and gauges as OpenMetrics (or Prometheus) text, for monitoring", -1,
	  cmd_metrics },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: latchctl [--json] [--socket PATH] COMMAND [ARGS]\n"
		   "       latchctl --version\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-7s %s\n          %s\n", cmds[i].name, cmds[i].args, cmds[i].help);
	fprintf(f,
		"\n'latchctl COMMAND --help' for one command; latchctl(8) for the JSON schema\n");
	fprintf(f, "\nexit: 0 done, 1 refused or not found, 2 usage, 3 latchd unreachable\n");
}

static uint8_t state_of(const char *s)
{
	for (uint8_t st = IPC_STATE_LISTENER; st <= IPC_STATE_LARVAL; st++) {
		if (!strcasecmp(s, ctl_state_name(st)))
			return st;
	}
	return 0;
}

/*
 * A whole decimal number from min to max, or a message naming the option and
 * the value as written (issue 17: checked before latchd is asked anything).
 */
static int parse_num(struct opts *o, const char *opt, const char *s, long min, long max, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < min || v > max) {
		ctl_usage_error(o->json, "%s '%s': expected a number from %ld to %ld", opt, s, min,
				max);
		o->said = true;
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "state", required_argument, NULL, 'S' },
		{ "uid", required_argument, NULL, 'u' },
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "peer", required_argument, NULL, 'p' },
		{ "port", required_argument, NULL, 'P' },
		{ "limit", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	long v;
	int ch;

	opterr = 0; /* said once, by latchctl (as JSON with --json) */
	while ((ch = getopt_long(argc, argv, "+js:h", lo, NULL)) != -1) {
		switch (ch) {
		case 'j':
			o->json = true;
			break;
		case 's':
			o->socket = optarg;
			break;
		case 'S':
			o->state = state_of(optarg);
			if (!o->state) {
				ctl_usage_error(o->json,
						"--state '%s': expected LISTENER, ESTABLISHED, "
						"BROKEN, CLOSED or LARVAL",
						optarg);
				o->said = true;
				return -EINVAL;
			}
			break;
		case 'u':
			if (parse_num(o, "--uid", optarg, 0, UINT32_MAX - 1, &o->uid) < 0)
				return -EINVAL;
			break;
		case 'n':
			if (parse_num(o, "--count", optarg, 0, INT_MAX, &v) < 0)
				return -EINVAL;
			o->count = (int)v;
			break;
		case 't':
			if (parse_num(o, "--timeout", optarg, 0, INT_MAX, &v) < 0)
				return -EINVAL;
			o->timeout_ms = (int)v;
			break;
		case 'p':
			o->peer = optarg;
			break;
		case 'P':
			if (parse_num(o, "--port", optarg, 0, 65535, &o->port) < 0)
				return -EINVAL;
			break;
		case 'l':
			if (parse_num(o, "--limit", optarg, 0, LONG_MAX, &o->limit) < 0)
				return -EINVAL;
			break;
		case 'h':
			o->help = true;
			break;
		case 'V':
			o->version = true;
			break;
		default:
			o->bad = argv[optind - 1];
			return -EINVAL;
		}
	}
	return 0;
}

/* The positional arguments of cmd, before latchd is reached: each bad one named. */
static int check_args(const struct cmd *cmd, const struct opts *o, int argc, char **argv)
{
	uint64_t id;

	if (cmd->n_args < 0)
		return 0;
	if (argc > cmd->n_args)
		return ctl_usage_error(o->json, "%s: unexpected argument '%s'", cmd->name,
				       argv[cmd->n_args]),
		       -EINVAL;
	if (argc < cmd->n_args)
		return ctl_usage_error(o->json,
				       "%s: give one latch id (a number from 'latchctl list')",
				       cmd->name),
		       -EINVAL;
	if (cmd->n_args == 1 && parse_id(argv[0], &id) < 0)
		return ctl_usage_error(
			       o->json,
			       "%s '%s': a latch id is a number from 1 (see 'latchctl list')",
			       cmd->name, argv[0]),
		       -EINVAL;
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .uid = -1, .port = -1, .color = isatty(STDOUT_FILENO) };
	struct ctl_client c = { .fd = -1 };
	const struct cmd *cmd = NULL;
	int r;

	o.socket = getenv("LATCH_SOCKET") ? getenv("LATCH_SOCKET") : "/run/latch/latchd.sock";
	if (parse_opts(argc, argv, &o) < 0 || (optind >= argc && !o.help && !o.version)) {
		if (o.said) /* a bad value, named already */
			return EXIT_USAGE;
		if (o.json)
			return ctl_usage_error(true,
					       "%s%s%susage: latchctl [--json] [--socket PATH] "
					       "COMMAND [ARGS] (latchctl --help)",
					       o.bad ? "bad option '" : "", o.bad ? o.bad : "",
					       o.bad ? "': " : "");
		if (o.bad)
			fprintf(stderr, "latchctl: bad option '%s'\n", o.bad);
		usage(stderr);
		return EXIT_USAGE;
	}
	json_out = o.json;
	if (o.version) {
		printf("latchctl %s\n", LATCH_VERSION);
		return 0;
	}
	if (optind >= argc) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (!strcmp(argv[optind], cmds[i].name))
			cmd = &cmds[i];
	}
	if (!cmd) {
		if (o.json)
			return ctl_usage_error(true, "unknown command '%s'", argv[optind]);
		fprintf(stderr, "latchctl: unknown command '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	argc -= optind + 1;
	argv += optind + 1;
	optind = 0;
	if (parse_opts(argc + 1, argv - 1, &o) < 0) {
		if (o.said)
			return EXIT_USAGE;
		if (o.json)
			return ctl_usage_error(true, "%s%s%susage: latchctl %s %s",
					       o.bad ? "bad option '" : "", o.bad ? o.bad : "",
					       o.bad ? "': " : "", cmd->name, cmd->args);
		if (o.bad)
			fprintf(stderr, "latchctl: bad option '%s'\n", o.bad);
		usage(stderr);
		return EXIT_USAGE;
	}
	json_out = o.json;
	argc -= optind - 1;
	argv += optind - 1;
	if (o.help) {
		printf("usage: latchctl [--json] [--socket PATH] %s %s\n  %s\n", cmd->name,
		       cmd->args, cmd->help);
		return 0;
	}
	if (check_args(cmd, &o, argc, argv) < 0)
		return EXIT_USAGE;
	r = ctl_connect(&c, o.socket);
	if (r < 0)
		return ctl_error(o.json, EXIT_UNREACHABLE, r, "%s", c.error);
	r = cmd->run(&c, &o, argc, argv);
	if (c.skipped)
		fprintf(stderr,
			"latchctl: %u entries latchd sent could not be read; the rest are shown "
			"(%s)\n",
			c.skipped, c.skip_why);
	ctl_close(&c);
	return r;
}
