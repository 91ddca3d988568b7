/* SPDX-License-Identifier: MIT */
#include "latchctl/metrics.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "latchctl/info.h"

/*
 * What each of latchd's METRICS counters is: the family it belongs to, its
 * type, unit and label, and its help text. Families are printed in this
 * order, each with all its samples together, as OpenMetrics wants; a counter
 * latchd sends that is not here is printed as type unknown.
 */
struct family {
	const char *wire; /* the COUNTER's NAME */
	const char *name; /* the metric family */
	bool counter;	  /* else a gauge */
	const char *unit; /* the family's name ends with _<unit> */
	const char *label;
	const char *help;
};

static const struct family families[] = {
	{ "latches", "latchd_latches", false, NULL, "state",
	  "Latches by state (LARVAL: waiting for an acceptable SA)" },
	{ "established", "latchd_established", true, NULL, NULL,
	  "Times a latch became ESTABLISHED (restored ones included)" },
	{ "breaks", "latchd_breaks", true, NULL, "reason", "Latches BROKEN, by reason" },
	{ "closed", "latchd_closed", true, NULL, NULL,
	  "Latches CLOSED after they were handed out" },
	{ "refusals", "latchd_refusals", true, NULL, "reason",
	  "Latch requests refused, by error (EACCES: no acceptable peer; ETIMEDOUT: no SA in "
	  "time)" },
	{ "pending_requests", "latchd_pending_requests", false, NULL, NULL,
	  "Latch requests waiting for charon" },
	{ "clients", "latchd_clients", false, NULL, NULL,
	  "Connections to latchd's control socket" },
	{ "ike_sas", "latchd_ike_sas", false, NULL, NULL, "charon's IKE_SAs as latchd knows them" },
	{ "child_sas", "latchd_child_sas", false, NULL, NULL,
	  "charon's child SAs as latchd knows them" },
	{ "charon_reachable", "latchd_charon_reachable", false, NULL, NULL,
	  "1 when latchd's VICI connection to charon is up" },
	{ "resident_memory_bytes", "latchd_resident_memory_bytes", false, "bytes", NULL,
	  "latchd's resident memory" },
	{ "start_time_seconds", "latchd_start_time_seconds", false, "seconds", NULL,
	  "When latchd started, in seconds since the epoch" },
};

#define N_FAMILIES (sizeof(families) / sizeof(families[0]))

static void put_escaped(FILE *f, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (quote && *s == '"')
			fputs("\\\"", f);
		else
			fputc(*s, f);
	}
}

static const struct family *family_of(const char *wire)
{
	for (size_t i = 0; i < N_FAMILIES; i++)
		if (!strcmp(families[i].wire, wire))
			return &families[i];
	return NULL;
}

struct sample {
	const char *name, *label;
	uint64_t value;
};

static bool sample_at(const struct wire_msg *m, size_t *cur, struct sample *s)
{
	struct wire_attr at;

	if (wire_next(&m->attrs, IPC_A_COUNTER, cur, &at) != 1)
		return false;
	struct wire_attrs n = { at.val, at.len };

	*s = (struct sample){ "?", NULL, 0 };
	wire_get_str(&n, IPC_A_NAME, &s->name);
	wire_get_str(&n, IPC_A_LABEL, &s->label);
	wire_get_u64(&n, IPC_A_VALUE, &s->value);
	return true;
}

/* A name latchd sent that latchctl does not know, as a metric name: [a-zA-Z0-9_] only. */
static void unknown_name(char *buf, size_t cap, const char *wire)
{
	size_t n = (size_t)snprintf(buf, cap, "latchd_");

	for (; *wire && n + 1 < cap; wire++)
		buf[n++] = isalnum((unsigned char)*wire) ? *wire : '_';
	buf[n] = 0;
}

static void text_family(FILE *f, const struct family *fam, const char *name,
			const struct wire_msg *m, const char *wire, enum ctl_metrics_format fmt)
{
	bool om = fmt == CTL_METRICS_OPENMETRICS, counter = fam && fam->counter;
	const char *suffix = counter ? "_total" : "";
	const char *type = !fam ? (om ? "unknown" : "untyped") : counter ? "counter" : "gauge";
	struct sample s;
	size_t cur = 0;

	/* Prometheus text names a counter's family by its sample: foo_total */
	fprintf(f, "# TYPE %s%s %s\n", name, om ? "" : suffix, type);
	if (fam) {
		fprintf(f, "# HELP %s%s ", name, om ? "" : suffix);
		put_escaped(f, fam->help, false);
		fputc('\n', f);
	}
	if (om && fam && fam->unit)
		fprintf(f, "# UNIT %s %s\n", name, fam->unit);
	while (sample_at(m, &cur, &s)) {
		if (strcmp(s.name, wire))
			continue;
		fprintf(f, "%s%s", name, suffix);
		if (s.label) {
			char t[CTL_TEXT_MAX]; /* latchd's words: cleaned, as everything latchctl
						 shows */

			fprintf(f, "{%s=\"", fam && fam->label ? fam->label : "label");
			put_escaped(f, ctl_text(t, sizeof(t), s.label, ""), true);
			fputs("\"}", f);
		}
		fprintf(f, " %llu\n", (unsigned long long)s.value);
	}
}

static void json_metrics(FILE *f, const struct wire_msg *m)
{
	struct sample s;
	size_t cur = 0;
	bool first = true;

	json_doc_begin(f, "metrics");
	fputc('[', f);
	while (sample_at(m, &cur, &s)) {
		const struct family *fam = family_of(s.name);
		char name[IPC_NAME_MAX + 16];

		if (fam)
			snprintf(name, sizeof(name), "%s%s", fam->name,
				 fam->counter ? "_total" : "");
		else
			unknown_name(name, sizeof(name), s.name);
		fprintf(f, "%s{\"name\":", first ? "" : ",");
		json_str(f, name);
		fprintf(f, ",\"type\":\"%s\"",
			!fam	       ? "unknown"
			: fam->counter ? "counter"
				       : "gauge");
		if (s.label) {
			fputs(",\"labels\":{", f);
			json_str(f, fam && fam->label ? fam->label : "label");
			fputc(':', f);
			json_str(f, s.label);
			fputc('}', f);
		}
		fprintf(f, ",\"value\":%llu}", (unsigned long long)s.value);
		first = false;
	}
	fputc(']', f);
	json_doc_end(f);
}

void ctl_metrics_render(FILE *f, const struct wire_msg *m, enum ctl_metrics_format fmt)
{
	struct sample s;
	size_t cur = 0;

	if (fmt == CTL_METRICS_JSON) {
		json_metrics(f, m);
		return;
	}
	for (size_t i = 0; i < N_FAMILIES; i++)
		text_family(f, &families[i], families[i].name, m, families[i].wire, fmt);
	/* newer latchd, older latchctl: each unknown name once, as its own family */
	for (unsigned i = 0; sample_at(m, &cur, &s); i++) {
		struct sample e;
		size_t c2 = 0;
		bool seen = false;
		char name[IPC_NAME_MAX + 16];

		for (unsigned j = 0; j < i && sample_at(m, &c2, &e); j++)
			seen |= !strcmp(e.name, s.name);
		if (family_of(s.name) || seen)
			continue;
		unknown_name(name, sizeof(name), s.name);
		text_family(f, NULL, name, m, s.name, fmt);
	}
	if (fmt == CTL_METRICS_OPENMETRICS)
		fputs("# EOF\n", f);
}

struct render {
	enum ctl_metrics_format fmt;
};

static int on_reply(void *u, const struct wire_msg *m)
{
	struct render *r = u;

	ctl_metrics_render(stdout, m, r->fmt);
	return 0;
}

int ctl_metrics(struct ctl_client *c, bool json, int argc, char **argv)
{
	struct render rd = { json ? CTL_METRICS_JSON : CTL_METRICS_OPENMETRICS };
	struct buf b;
	int r;

	if (argc > 1 ||
	    (argc == 1 && strcmp(argv[0], "openmetrics") && strcmp(argv[0], "prometheus")))
		return ctl_usage_error(json,
				       "metrics takes openmetrics (the default) or prometheus, "
				       "not '%s'",
				       argc > 1 ? argv[1] : argv[0]);
	if (argc == 1 && !json && !strcmp(argv[0], "prometheus"))
		rd.fmt = CTL_METRICS_PROMETHEUS;
	ctl_begin(c, &b, IPC_MSG_METRICS);
	r = ctl_call(c, &b, on_reply, &rd);
	buf_free(&b);
	return r < 0 ? ctl_refused(c, json, r) : 0;
}
