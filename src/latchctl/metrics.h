/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHCTL_METRICS_H
#define LATCH_LATCHCTL_METRICS_H

/*
 * `latchctl metrics [openmetrics|prometheus]` (METRICS): latchd's counters
 * and gauges as OpenMetrics text (the default), or as Prometheus text 0.0.4
 * (counters typed by their _total name, no # UNIT, no # EOF), which
 * node_exporter's textfile collector reads with each counter's type kept.
 * With --json, one document (latchctl(8)). Returns latchctl's exit code.
 */

#include <stdbool.h>
#include <stdio.h>

#include "latchctl/client.h"

int ctl_metrics(struct ctl_client *c, bool json, int argc, char **argv);

/* The rendering alone, of a METRICS reply: for the unit test. */
enum ctl_metrics_format {
	CTL_METRICS_OPENMETRICS,
	CTL_METRICS_PROMETHEUS,
	CTL_METRICS_JSON,
};
void ctl_metrics_render(FILE *f, const struct wire_msg *m, enum ctl_metrics_format fmt);

#endif
