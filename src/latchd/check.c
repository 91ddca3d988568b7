/* SPDX-License-Identifier: MIT */
/*
 * latchd --check: the doctor's lines (core/doctor.h) for a latchd that is
 * not running, charon asked over a VICI connection of its own.
 */
#include "latchd/check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "latchd/base/event.h"
#include "latchd/charon/vici-cmd.h"
#include "latchd/core/doctor.h"

struct ask {
	struct ev_loop *loop;
	struct vici_client *vc;
	struct vici_charon info;
	bool have;
	int err;
	char errmsg[200];
};

static void on_info(void *u, int err, const char *errmsg, const struct vici_charon *info)
{
	struct ask *a = u;

	a->err = err;
	if (info) {
		a->info = *info;
		a->have = true;
	} else {
		snprintf(a->errmsg, sizeof(a->errmsg), "charon did not answer 'version': %s",
			 errmsg);
	}
	ev_loop_exit(a->loop, 0);
}

static void on_up(void *u, bool resync, unsigned unknown)
{
	struct ask *a = u;
	int r = vici_charon_info(a->vc, on_info, a);

	if (r < 0) {
		a->err = r;
		snprintf(a->errmsg, sizeof(a->errmsg), "asking charon: %s", strerror(-r));
		ev_loop_exit(a->loop, 0);
	}
}

static int on_timeout(struct ev_source *s, uint64_t usec, void *u)
{
	ev_loop_exit(((struct ask *)u)->loop, 0);
	return 0;
}

static const struct vici_client_ops ask_ops = { .up = on_up };

/* charon over a VICI connection of our own: NULL, or why it did not answer. */
static const char *ask_charon(const struct config *cfg, struct ask *a, unsigned timeout_ms)
{
	struct vici_client_config vc = { .path = cfg->vici_socket };
	struct ev_source *t = NULL;
	const char *why = NULL;
	int r;

	r = ev_loop_new(&a->loop);
	if (r == 0)
		r = ev_add_time(a->loop, &t, 0, on_timeout, a);
	if (r == 0)
		r = ev_time_set_in(t, (uint64_t)timeout_ms * 1000);
	if (r == 0)
		r = vici_client_new(a->loop, &vc, &ask_ops, a, &a->vc);
	if (r == 0)
		r = ev_loop_run(a->loop);
	if (r < 0) {
		snprintf(a->errmsg, sizeof(a->errmsg), "%s", strerror(-r));
		why = a->errmsg;
	} else if (!a->have) {
		if (a->errmsg[0])
			why = a->errmsg;
		else if (a->vc && vici_client_error(a->vc))
			why = vici_client_error(a->vc);
		else
			why = "charon did not answer in time";
		snprintf(a->errmsg, sizeof(a->errmsg), "%s", why);
		why = a->errmsg;
	}
	vici_client_free(a->vc);
	ev_source_free(t);
	ev_loop_free(a->loop);
	return why;
}

unsigned check_run(const struct config *cfg, const char *config_path, FILE *out,
		   unsigned timeout_ms)
{
	struct doctor *d = calloc(1, sizeof(*d));
	struct probe_result probes[PROBE_N];
	struct ask a = { 0 };
	enum data_plane plane;
	const char *why;
	unsigned failed;

	if (!d) {
		fprintf(out, "FAIL latchd: out of memory\n");
		return 1;
	}
	doctor_add(d, true, "config", "%s parses", config_path);
	doctor_privileges(d);
	doctor_credentials(d, cfg);
	probe_kernel(probes);
	plane = doctor_plane(d, cfg);
	doctor_kernel(d, probes, plane);
	why = ask_charon(cfg, &a, timeout_ms);
	doctor_charon(d, cfg, why, why ? NULL : &a.info, plane);
	doctor_settings(d, cfg, a.have ? a.info.daemon : NULL, plane);
	doctor_print(out, d);
	if (d->failed)
		fprintf(out, "%u of %u checks failed\n", d->failed, d->n);
	else
		fprintf(out, "all %u checks passed\n", d->n);
	failed = d->failed;
	free(d);
	return failed;
}
