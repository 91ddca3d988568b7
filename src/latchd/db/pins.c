/* SPDX-License-Identifier: MIT */
/* Leap-of-faith pins, persistent in the data directory (pins.h). */
#include "latchd/db/pins.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/text.h"

struct pins {
	char path[512];
	struct pin *v;
	size_t n, cap;
};

/* ---------------------------------------------------------------- lines */

int pins_format_line(const struct pin *p, char *buf, size_t len)
{
	size_t off = 0;
	int n;

	if (len < 2 * IPC_SHA256_LEN + 1)
		return -ENOSPC;
	for (int i = 0; i < IPC_SHA256_LEN; i++, off += 2)
		snprintf(buf + off, 3, "%02x", p->spki[i]);
	n = snprintf(buf + off, len - off, " %" PRIu64 " %s", p->when, p->name);
	return n < 0 || (size_t)n >= len - off ? -ENOSPC : 0;
}

static int hexdigit(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/* Two hex digits a byte, nothing else (sscanf's %x would take a sign or "0x"). */
static int unhex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hexdigit(s[2 * i]), lo = hi < 0 ? -1 : hexdigit(s[2 * i + 1]);

		if (lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int name_ok(const char *s)
{
	size_t n = strlen(s);

	/* Names are listed to administrators: clean text (shared/text.h) or none. */
	if (n == 0 || n > PINS_NAME_MAX || text_clean_prefix(s, n) < n)
		return -EINVAL;
	return 0;
}

int pins_parse_line(const char *line, struct pin *ret)
{
	struct pin p = { 0 };
	const char *s = line + 2 * IPC_SHA256_LEN;
	char *end;

	if (strlen(line) < 2 * IPC_SHA256_LEN + 4 || *s != ' ' ||
	    unhex(line, p.spki, IPC_SHA256_LEN) < 0 || s[1] < '0' || s[1] > '9')
		return -EINVAL;
	errno = 0;
	p.when = strtoull(s + 1, &end, 10);
	if (errno || *end != ' ' || name_ok(end + 1) < 0)
		return -EINVAL;
	strcpy(p.name, end + 1);
	*ret = p;
	return 0;
}

/* ---------------------------------------------------------------- the file */

static int save(const struct pins *ps)
{
	char tmp[520], line[PINS_NAME_MAX + 128];
	FILE *f;
	int fd, r = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", ps->path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	fprintf(f, "# latchd leap-of-faith pins: <SHA-256 of the SPKI> <unix time> <name>\n");
	for (size_t i = 0; i < ps->n && r == 0; i++) {
		r = pins_format_line(&ps->v[i], line, sizeof(line));
		if (r == 0)
			fprintf(f, "%s\n", line);
	}
	if (fflush(f) != 0 || fsync(fileno(f)) < 0)
		r = r ? r : -errno;
	fclose(f);
	if (r == 0 && rename(tmp, ps->path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

static int push(struct pins *ps, const struct pin *p)
{
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 16;
		struct pin *v = realloc(ps->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		ps->v = v;
		ps->cap = cap;
	}
	ps->v[ps->n++] = *p;
	return 0;
}

static int load(struct pins *ps)
{
	char line[PINS_NAME_MAX + 128];
	FILE *f = fopen(ps->path, "re");
	struct pin p;
	int r = 0;

	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (r == 0 && ps->n < PINS_MAX && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || !line[0])
			continue;
		if (pins_parse_line(line, &p) < 0)
			continue; /* a damaged line loses that pin, not the others */
		r = pins_find(ps, p.name) ? 0 : push(ps, &p);
	}
	fclose(f);
	return r;
}

int pins_open(const char *dir, struct pins **ret)
{
	struct pins *ps = calloc(1, sizeof(*ps));
	int r;

	if (!ps)
		return -ENOMEM;
	if ((size_t)snprintf(ps->path, sizeof(ps->path), "%s/%s", dir, PINS_FILE) >=
	    sizeof(ps->path)) {
		free(ps);
		return -ENAMETOOLONG;
	}
	r = load(ps);
	if (r < 0) {
		pins_free(ps);
		return r;
	}
	*ret = ps;
	return 0;
}

void pins_free(struct pins *ps)
{
	if (!ps)
		return;
	free(ps->v);
	free(ps);
}

/* ---------------------------------------------------------------- pins */

const struct pin *pins_find(const struct pins *ps, const char *name)
{
	for (size_t i = 0; ps && i < ps->n; i++) {
		if (!strcmp(ps->v[i].name, name))
			return &ps->v[i];
	}
	return NULL;
}

int pins_add(struct pins *ps, const char *name, const uint8_t spki[IPC_SHA256_LEN], uint64_t when)
{
	struct pin p = { .when = when };
	struct pin *old = (struct pin *)pins_find(ps, name);
	int r;

	if (name_ok(name) < 0)
		return -EINVAL;
	snprintf(p.name, sizeof(p.name), "%s", name);
	memcpy(p.spki, spki, IPC_SHA256_LEN);
	if (old) {
		*old = p;
	} else {
		if (ps->n >= PINS_MAX)
			return -ENOSPC;
		r = push(ps, &p);
		if (r < 0)
			return r;
	}
	return save(ps);
}

int pins_del(struct pins *ps, const char *name)
{
	const struct pin *p = pins_find(ps, name);
	struct pin gone;
	size_t i;
	int r;

	if (!p)
		return -ENOENT;
	i = (size_t)(p - ps->v);
	gone = *p;
	memmove(&ps->v[i], &ps->v[i + 1], (ps->n - i - 1) * sizeof(ps->v[0]));
	ps->n--;
	r = save(ps);
	if (r < 0) {
		/* not forgotten after all: the caller is told it failed */
		memmove(&ps->v[i + 1], &ps->v[i], (ps->n - i) * sizeof(ps->v[0]));
		ps->v[i] = gone;
		ps->n++;
	}
	return r;
}

size_t pins_count(const struct pins *ps)
{
	return ps ? ps->n : 0;
}

const struct pin *pins_at(const struct pins *ps, size_t i)
{
	return ps && i < ps->n ? &ps->v[i] : NULL;
}
