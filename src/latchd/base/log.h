/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_LOG_H
#define LATCH_LATCHD_LOG_H

#include <stddef.h>

/*
 * latchd's log: one line per event on stderr, with a syslog-style priority
 * prefix "<N>" when stderr is the journal. When stderr is the journal's
 * stream (JOURNAL_STREAM names its device and inode) and journald's native
 * socket is there, every line goes to that socket instead, as a datagram of
 * KEY=value fields (PRIORITY, SYSLOG_IDENTIFIER, MESSAGE), and the events of
 * a latch carry their own fields (MESSAGE_ID, LATCH_ID, PEER_ID, UID,
 * REASON): latchd(8), LOGGING. Never secrets.
 */

#define LOG_JOURNAL_SOCKET "/run/systemd/journal/socket"
#define LOG_FIELDS_MAX	   8

enum log_level {
	LOG_LVL_ERR = 3,
	LOG_LVL_WARN = 4,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7,
};

/* The kinds of latch events, each with its own MESSAGE_ID. */
enum log_event {
	LOG_EV_ESTABLISHED,
	LOG_EV_BROKEN,
	LOG_EV_CLOSED,
	LOG_EV_REFUSED,
};

/* A journal field: KEY (upper case, digits, '_') and its value; NULL is left out. */
struct log_field {
	const char *key;
	const char *value;
};

void log_set_level(enum log_level max);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A latch event: its MESSAGE_ID and up to LOG_FIELDS_MAX fields on the journal, the text elsewhere.
 */
void log_event(enum log_level lvl, enum log_event ev, const struct log_field *fields, size_t n,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The MESSAGE_ID of an event kind: 32 hex digits. */
const char *log_event_id(enum log_event ev);
/*
 * Send to the journal's native socket at path from now on (NULL: never), in
 * place of the check at the first line (JOURNAL_STREAM and
 * LOG_JOURNAL_SOCKET). 0 or -errno (the socket is not there).
 */
int log_journal_open(const char *path);

#define log_err(...)   log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
