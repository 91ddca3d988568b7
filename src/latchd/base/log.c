/* SPDX-License-Identifier: MIT */
#include "latchd/base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* The daemon's process-wide state: how much to say, and where. */
static enum log_level log_max = LOG_LVL_INFO;
static int journal_fd = -1;
static struct sockaddr_un journal_addr;
static bool journal_decided;

/* Indexed by enum log_event; latchd(8), LOGGING, lists them. */
static const char *const event_ids[] = {
	[LOG_EV_ESTABLISHED] = "fc6e4e9dfd2d433ea95a6b46499e53e9",
	[LOG_EV_BROKEN] = "39f80e2eb299426095b84c309f2de7b9",
	[LOG_EV_CLOSED] = "d05c6324fa1e459db45356c6d308f51e",
	[LOG_EV_REFUSED] = "34e0d6b04a4e4f779ccb88a1c2458767",
};

void log_set_level(enum log_level max)
{
	log_max = max;
}

const char *log_event_id(enum log_event ev)
{
	return ev < sizeof(event_ids) / sizeof(event_ids[0]) ? event_ids[ev] : NULL;
}

int log_journal_open(const char *path)
{
	int fd;

	journal_decided = true;
	if (journal_fd >= 0)
		close(journal_fd);
	journal_fd = -1;
	if (!path)
		return 0;
	if (strlen(path) >= sizeof(journal_addr.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	memset(&journal_addr, 0, sizeof(journal_addr));
	journal_addr.sun_family = AF_UNIX;
	memcpy(journal_addr.sun_path, path, strlen(path));
	if (access(path, W_OK) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	journal_fd = fd;
	return 0;
}

/* Is stderr the journal's stream, as systemd says in JOURNAL_STREAM=dev:ino? */
static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
	       (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static void journal_decide(void)
{
	if (!journal_decided && stderr_is_journal())
		log_journal_open(LOG_JOURNAL_SOCKET);
	journal_decided = true;
}

/*
 * One field of the native protocol: KEY=value\n, or, for a value with a
 * newline, KEY\n, its length as 64-bit little endian, the value and \n.
 */
static void put_field(char *buf, size_t cap, size_t *len, const char *key, const char *val)
{
	size_t kl = strlen(key), vl = strlen(val), need = kl + vl + (strchr(val, '\n') ? 10 : 2);
	char *p = buf + *len;

	if (*len + need > cap)
		return; /* a field that does not fit is left out, never cut */
	memcpy(p, key, kl);
	p += kl;
	if (strchr(val, '\n')) {
		uint64_t n = vl;

		*p++ = '\n';
		for (int i = 0; i < 8; i++)
			*p++ = (char)(n >> (8 * i));
	} else {
		*p++ = '=';
	}
	memcpy(p, val, vl);
	p[vl] = '\n';
	*len += need;
}

/*
 * 0 when the journal took it; otherwise (no journal, or its queue is full: the
 * socket never blocks the event loop) the caller writes the line to stderr.
 */
static int journal_send(enum log_level lvl, const char *msg, const struct log_field *f, size_t n)
{
	char buf[8192], prio[4];
	size_t len = 0;

	journal_decide();
	if (journal_fd < 0)
		return -ENOTCONN;
	snprintf(prio, sizeof(prio), "%d", (int)lvl);
	put_field(buf, sizeof(buf), &len, "PRIORITY", prio);
	put_field(buf, sizeof(buf), &len, "SYSLOG_IDENTIFIER", "latchd");
	for (size_t i = 0; i < n; i++)
		if (f[i].value)
			put_field(buf, sizeof(buf), &len, f[i].key, f[i].value);
	put_field(buf, sizeof(buf), &len, "MESSAGE", msg);
	if (sendto(journal_fd, buf, len, MSG_NOSIGNAL, (struct sockaddr *)&journal_addr,
		   sizeof(journal_addr)) < 0)
		return -errno;
	return 0;
}

static void log_line(enum log_level lvl, const char *line)
{
	static const char *const names[] = { [LOG_LVL_ERR] = "error",
					     [LOG_LVL_WARN] = "warning",
					     [LOG_LVL_INFO] = "info",
					     [LOG_LVL_DEBUG] = "debug" };
	struct timespec ts;

	if (getenv("JOURNAL_STREAM")) {
		fprintf(stderr, "<%d>%s\n", (int)lvl, line);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(stderr, "%02ld:%02ld:%02ld.%03ld %s: %s\n", (long)(ts.tv_sec / 3600 % 24),
		(long)(ts.tv_sec / 60 % 60), (long)(ts.tv_sec % 60), ts.tv_nsec / 1000000,
		names[lvl], line);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (lvl > log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (journal_send(lvl, line, NULL, 0) < 0)
		log_line(lvl, line);
}

void log_event(enum log_level lvl, enum log_event ev, const struct log_field *fields, size_t n,
	       const char *fmt, ...)
{
	struct log_field all[LOG_FIELDS_MAX + 1];
	char line[1024];
	va_list ap;

	if (lvl > log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > LOG_FIELDS_MAX)
		n = LOG_FIELDS_MAX;
	all[0] = (struct log_field){ "MESSAGE_ID", log_event_id(ev) };
	memcpy(all + 1, fields, n * sizeof(*fields));
	if (journal_send(lvl, line, all, n + 1) < 0)
		log_line(lvl, line);
}
