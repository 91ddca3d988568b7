/* SPDX-License-Identifier: MIT */
#include "latchd/charon/swconf.h"

#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEPTH_MAX 16 /* include nesting */
#define KEY_MAX	  512
#define FILE_MAX  (1u << 20)

struct kv {
	char *key, *value;
};

struct swconf {
	struct kv *kv;
	size_t n, cap;
	char *err;
	size_t el;
};

static int fail(struct swconf *s, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct swconf *s, int r, const char *fmt, ...)
{
	va_list ap;

	if (s->el) {
		va_start(ap, fmt);
		vsnprintf(s->err, s->el, fmt, ap);
		va_end(ap);
	}
	return r;
}

static int add(struct swconf *s, const char *key, const char *value)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct kv *kv = realloc(s->kv, cap * sizeof(*kv));

		if (!kv)
			return -ENOMEM;
		s->kv = kv;
		s->cap = cap;
	}
	s->kv[s->n].key = strdup(key);
	s->kv[s->n].value = strdup(value);
	if (!s->kv[s->n].key || !s->kv[s->n].value) {
		free(s->kv[s->n].key);
		free(s->kv[s->n].value);
		return -ENOMEM;
	}
	s->n++;
	return 0;
}

/* A parse of one file: where it is. */
struct pos {
	const char *path;
	const char *p;
	unsigned line;
};

static void skip_space(struct pos *ps, bool newlines)
{
	for (;;) {
		if (*ps->p == '#') {
			while (*ps->p && *ps->p != '\n')
				ps->p++;
		} else if (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r' ||
			   (newlines && *ps->p == '\n')) {
			if (*ps->p == '\n')
				ps->line++;
			ps->p++;
		} else {
			return;
		}
	}
}

static bool name_char(char c)
{
	return c && !strchr(" \t\r\n{}=:#\"", c);
}

static size_t read_name(struct pos *ps, char *out, size_t cap)
{
	size_t n = 0;

	while (name_char(*ps->p)) {
		if (n + 1 < cap)
			out[n++] = *ps->p;
		ps->p++;
	}
	out[n] = '\0';
	return n;
}

/* A value: quoted (escapes, may span lines) or to the end of the line, trimmed. */
static int read_value(struct swconf *s, struct pos *ps, char *out, size_t cap)
{
	size_t n = 0;

	skip_space(ps, false);
	if (*ps->p == '"') {
		for (ps->p++; *ps->p && *ps->p != '"'; ps->p++) {
			char c = *ps->p;

			if (c == '\\' && ps->p[1]) {
				c = *++ps->p;
				c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
			}
			if (c == '\n')
				ps->line++;
			if (n + 1 < cap)
				out[n++] = c;
		}
		if (*ps->p != '"')
			return fail(s, -EINVAL, "%s:%u: a quoted value does not end", ps->path,
				    ps->line);
		ps->p++;
		out[n] = '\0';
		return 0;
	}
	while (*ps->p && *ps->p != '\n' && *ps->p != '#' && *ps->p != '}') {
		if (n + 1 < cap)
			out[n++] = *ps->p;
		ps->p++;
	}
	while (n && (out[n - 1] == ' ' || out[n - 1] == '\t' || out[n - 1] == '\r'))
		n--;
	out[n] = '\0';
	return 0;
}

static int load_file(struct swconf *s, const char *path, const char *prefix, unsigned depth);

static int include(struct swconf *s, struct pos *ps, const char *pattern, const char *prefix,
		   unsigned depth)
{
	char full[8192 + 16];
	const char *slash = strrchr(ps->path, '/');
	glob_t g;
	int r = 0;

	if (pattern[0] != '/' && slash)
		snprintf(full, sizeof(full), "%.*s/%s", (int)(slash - ps->path), ps->path, pattern);
	else
		snprintf(full, sizeof(full), "%s", pattern);
	if (glob(full, 0, NULL, &g) != 0)
		return 0; /* as charon: a pattern that matches nothing is fine */
	for (size_t i = 0; r == 0 && i < g.gl_pathc; i++)
		r = load_file(s, g.gl_pathv[i], prefix, depth + 1);
	globfree(&g);
	return r;
}

/* The body of a section (or the file) whose keys start with prefix. */
static int parse_body(struct swconf *s, struct pos *ps, const char *prefix, unsigned depth,
		      bool in_section)
{
	char name[KEY_MAX], key[KEY_MAX], value[4096];
	int r;

	for (;;) {
		skip_space(ps, true);
		if (!*ps->p)
			return in_section ? fail(s, -EINVAL, "%s:%u: a section does not end",
						 ps->path, ps->line)
					  : 0;
		if (*ps->p == '}') {
			if (!in_section)
				return fail(s, -EINVAL, "%s:%u: '}' without a section", ps->path,
					    ps->line);
			ps->p++;
			return 0;
		}
		if (!read_name(ps, name, sizeof(name)))
			return fail(s, -EINVAL, "%s:%u: expected a name, found '%c'", ps->path,
				    ps->line, *ps->p);
		if (snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "", name) >=
		    (int)sizeof(key))
			return fail(s, -ENAMETOOLONG, "%s:%u: a name longer than %d bytes",
				    ps->path, ps->line, KEY_MAX - 1);
		skip_space(ps, false);
		if (!strcmp(name, "include") && *ps->p != '=' && *ps->p != '{' && *ps->p != ':') {
			r = read_value(s, ps, value, sizeof(value));
			if (r == 0)
				r = include(s, ps, value, prefix, depth);
			if (r < 0)
				return r;
			continue;
		}
		if (*ps->p == '=') {
			ps->p++;
			r = read_value(s, ps, value, sizeof(value));
			if (r == 0)
				r = add(s, key, value);
			if (r < 0)
				return r;
			continue;
		}
		skip_space(ps, true);
		if (*ps->p == ':') { /* references: read, not followed */
			while (*ps->p && *ps->p != '{' && *ps->p != '\n')
				ps->p++;
			skip_space(ps, true);
		}
		if (*ps->p != '{')
			return fail(s, -EINVAL, "%s:%u: expected '=' or '{' after '%s'", ps->path,
				    ps->line, name);
		ps->p++;
		r = parse_body(s, ps, key, depth, true);
		if (r < 0)
			return r;
	}
}

static int load_file(struct swconf *s, const char *path, const char *prefix, unsigned depth)
{
	struct pos ps = { .path = path, .line = 1 };
	char *text;
	size_t n;
	FILE *f;
	int r;

	if (depth > DEPTH_MAX)
		return fail(s, -ELOOP, "%s: includes nested deeper than %d", path, DEPTH_MAX);
	f = fopen(path, "re");
	if (!f)
		return fail(s, -errno, "%s: %s", path, strerror(errno));
	text = malloc(FILE_MAX + 1);
	if (!text) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(text, 1, FILE_MAX + 1, f);
	fclose(f);
	if (n > FILE_MAX) {
		free(text);
		return fail(s, -EFBIG, "%s: larger than %u bytes", path, FILE_MAX);
	}
	text[n] = '\0';
	ps.p = text;
	r = parse_body(s, &ps, prefix, depth, false);
	free(text);
	return r;
}

int swconf_load(const char *path, struct swconf **ret, char *err, size_t errlen)
{
	struct swconf *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->err = err;
	s->el = errlen;
	r = load_file(s, path, "", 0);
	if (r < 0) {
		swconf_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

void swconf_free(struct swconf *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->kv[i].key);
		free(s->kv[i].value);
	}
	free(s->kv);
	free(s);
}

const char *swconf_get(const struct swconf *s, const char *key)
{
	for (size_t i = s->n; i-- > 0;) {
		if (!strcmp(s->kv[i].key, key))
			return s->kv[i].value;
	}
	return NULL;
}

const char *swconf_daemon_get(const struct swconf *s, const char *daemon, const char *rest)
{
	char key[KEY_MAX];
	const char *v = NULL;

	if (daemon && *daemon) {
		snprintf(key, sizeof(key), "%s.%s", daemon, rest);
		v = swconf_get(s, key);
	}
	if (!v) {
		snprintf(key, sizeof(key), "charon.%s", rest);
		v = swconf_get(s, key);
	}
	return v;
}

int swconf_bool(const char *v, int dflt)
{
	static const char *const yes[] = { "yes", "true", "enabled", "1" };
	static const char *const no[] = { "no", "false", "disabled", "0" };

	if (!v)
		return dflt;
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i]))
			return 1;
		if (!strcasecmp(v, no[i]))
			return 0;
	}
	return dflt;
}
