/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_LOG_H
#define LATCH_LATCHD_LOG_H

/*
 * latchd's log: one line per event on stderr (the journal takes it from
 * there under systemd), with a syslog-style priority prefix "<N>" when
 * stderr is the journal. Never secrets.
 */

enum log_level {
	LOG_LVL_ERR = 3,
	LOG_LVL_WARN = 4,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7,
};

void log_set_level(enum log_level max);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
