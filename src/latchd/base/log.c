/* SPDX-License-Identifier: MIT */
#include "latchd/base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* The daemon's one piece of process-wide state: how much to say. */
static enum log_level log_max = LOG_LVL_INFO;

void log_set_level(enum log_level max)
{
	log_max = max;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = { [LOG_LVL_ERR] = "error",
					     [LOG_LVL_WARN] = "warning",
					     [LOG_LVL_INFO] = "info",
					     [LOG_LVL_DEBUG] = "debug" };
	char line[1024];
	struct timespec ts;
	va_list ap;

	if (lvl > log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (getenv("JOURNAL_STREAM")) {
		fprintf(stderr, "<%d>%s\n", (int)lvl, line);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(stderr, "%02ld:%02ld:%02ld.%03ld %s: %s\n", (long)(ts.tv_sec / 3600 % 24),
		(long)(ts.tv_sec / 60 % 60), (long)(ts.tv_sec % 60), ts.tv_nsec / 1000000,
		names[lvl], line);
}
