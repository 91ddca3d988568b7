/* SPDX-License-Identifier: MIT */
/*
 * What an administrator's monitoring sees of latches: each event (established,
 * broken, closed, refused) counted and logged with its journal fields
 * (latchd(8), LOGGING), and METRICS, the counters and gauges that latchctl
 * metrics prints as OpenMetrics text (latchctl(8)).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "latchd/base/log.h"
#include "latchd/core/core-int.h"

/* The peer a latch is with: the one it was latched to, else the one its token asks for. */
static const char *peer_of(const struct latch *l)
{
	if (!l)
		return NULL;
	if (l->remote->id[0])
		return l->remote->id;
	if (l->pol->peer_id[0])
		return l->pol->peer_id;
	return l->pol->peer_pattern[0] ? l->pol->peer_pattern : NULL;
}

static void log_latch(enum log_level lvl, enum log_event ev, const struct latch *l, uid_t uid,
		      const char *reason, const char *text)
{
	char id[24], u[16];
	struct log_field f[] = {
		{ "LATCH_ID", id },
		{ "PEER_ID", peer_of(l) },
		{ "UID", u },
		{ "REASON", reason },
	};

	snprintf(id, sizeof(id), "%llu", l ? (unsigned long long)l->id : 0ull);
	snprintf(u, sizeof(u), "%u", (unsigned)uid);
	if (!l)
		f[0].value = NULL;
	log_event(lvl, ev, f, sizeof(f) / sizeof(f[0]), "%s", text);
}

void core_metrics_changed(struct core *c, const struct latch *l, uint8_t old)
{
	struct core_metrics *m = &c->metrics;
	const char *reason = wire_reason_name(l->reason);
	char text[512], flow[FLOW_FMT_MAX];
	int ev = -1;

	snprintf(text, sizeof(text), "latch %llu %s: %s -> %s (%s)", (unsigned long long)l->id,
		 l->listener ? "listener" : flow_format(flow, sizeof(flow), &l->flow),
		 latchdb_state_name(old), latchdb_state_name(l->state),
		 latchdb_reason_name(l->reason));
	if (l->state == IPC_STATE_ESTABLISHED) {
		m->established++;
		ev = LOG_EV_ESTABLISHED;
	} else if (l->state == IPC_STATE_BROKEN) {
		if (l->reason < sizeof(m->breaks) / sizeof(m->breaks[0]))
			m->breaks[l->reason]++;
		ev = LOG_EV_BROKEN;
	} else if (l->state == IPC_STATE_CLOSED && old != IPC_STATE_LARVAL) {
		m->closed++;
		ev = LOG_EV_CLOSED;
	}
	/* a LARVAL latch that closes was refused: core_metrics_refused said why */
	if (ev < 0 && !(old == IPC_STATE_LARVAL && l->state == IPC_STATE_CLOSED &&
			l->reason == IPC_REASON_NONE))
		log_info("%s", text);
	else
		log_latch(LOG_LVL_INFO, (enum log_event)ev, l, l->owner.uid, reason, text);
}

void core_metrics_refused(struct core *c, const struct request *req, const struct latch *l, int err,
			  const char *why)
{
	const char *name = strerrorname_np(-err);
	char text[768], flow[FLOW_FMT_MAX];
	uid_t uid = l ? l->owner.uid : req ? req->cred.uid : 0;

	if (err == -ECANCELED)
		return; /* the client went away, or latchd stops: nobody was refused */
	if (-err > 0 && -err < CORE_ERRNO_MAX)
		c->metrics.refusals[-err]++;
	if (l) /* its flow too: which connection failed, and why (issue 17) */
		snprintf(text, sizeof(text), "latch %llu %s: refused for uid %u: %s (%s)",
			 (unsigned long long)l->id,
			 l->listener ? "listener" : flow_format(flow, sizeof(flow), &l->flow),
			 (unsigned)uid, why && why[0] ? why : strerror(-err), name ? name : "?");
	else
		snprintf(text, sizeof(text), "%s refused for uid %u: %s (%s)",
			 req ? wire_msg_name(req->type) : "request", (unsigned)uid,
			 why && why[0] ? why : strerror(-err), name ? name : "?");
	log_latch(LOG_LVL_INFO, LOG_EV_REFUSED, l, uid, name, text);
}

/* ---------------------------------------------------------------- METRICS */

static void put_metric(struct buf *b, const char *name, const char *label, uint64_t v)
{
	size_t n = wire_nest_begin(b, IPC_A_COUNTER);

	wire_put_str(b, IPC_A_NAME, name);
	if (label)
		wire_put_str(b, IPC_A_LABEL, label);
	wire_put_u64(b, IPC_A_VALUE, v);
	wire_nest_end(b, n);
}

/* latchd's resident set, from /proc/self/statm (pages); 0 if unknown. */
static uint64_t rss_bytes(void)
{
	unsigned long long size, rss;
	FILE *f = fopen("/proc/self/statm", "re");
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "%llu %llu", &size, &rss);
	fclose(f);
	return n == 2 ? rss * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

/* The reasons a latch breaks for: always sent, so that a rate over them starts at 0. */
static const uint16_t break_reasons[] = {
	IPC_REASON_SA_CONFLICT,	 IPC_REASON_SA_GONE, IPC_REASON_PEER_DEAD,
	IPC_REASON_PEER_CHANGED, IPC_REASON_POLICY,  IPC_REASON_KEY_MANAGER,
	IPC_REASON_DAEMON,
};

int core_req_metrics(struct core *c, struct request *req, char *err, size_t el)
{
	const struct core_metrics *m = &c->metrics;
	struct buf *b = control_reply_begin(req, 0);
	size_t pending = pending_count(c->pend);

	for (uint8_t s = IPC_STATE_LISTENER; s <= IPC_STATE_LARVAL; s++)
		if (s != IPC_STATE_CLOSED) /* closed latches leave the database */
			put_metric(b, "latches", latchdb_state_name(s), latchdb_count(c->db, s));
	put_metric(b, "established", NULL, m->established);
	put_metric(b, "closed", NULL, m->closed);
	for (uint16_t r = 0; r < sizeof(m->breaks) / sizeof(m->breaks[0]); r++) {
		bool always = false;

		for (size_t i = 0; i < sizeof(break_reasons) / sizeof(break_reasons[0]); i++)
			always |= break_reasons[i] == r;
		if (always || m->breaks[r])
			put_metric(b, "breaks", wire_reason_name(r), m->breaks[r]);
	}
	for (int e = 1; e < CORE_ERRNO_MAX; e++)
		if (m->refusals[e] && strerrorname_np(e))
			put_metric(b, "refusals", strerrorname_np(e), m->refusals[e]);
	put_metric(b, "pending_requests", NULL, pending);
	put_metric(b, "clients", NULL, control_client_count(c->ctl));
	put_metric(b, "ike_sas", NULL, sacache_count_ike(c->sa));
	put_metric(b, "child_sas", NULL, sacache_count_children(c->sa));
	put_metric(b, "charon_reachable", NULL, charon_is_up(c->charon));
	put_metric(b, "resident_memory_bytes", NULL, rss_bytes());
	put_metric(b, "start_time_seconds", NULL,
		   (uint64_t)time(NULL) - (ev_now(c->loop) - c->started_usec) / 1000000);
	return control_reply_send(req);
}
