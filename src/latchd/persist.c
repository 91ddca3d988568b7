/* SPDX-License-Identifier: MIT */
#include "latchd/persist.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOURNAL "latches"
#define VERSION "v1"

struct persist {
	char path[512], tmp[520];
	int fd;
};

/* ---------------------------------------------------------------- format */

struct out {
	char *p;
	size_t left;
	bool full;
};

static void emit(struct out *o, const char *s, size_t n)
{
	if (o->full || n + 1 > o->left) {
		o->full = true;
		return;
	}
	memcpy(o->p, s, n);
	o->p += n;
	o->left -= n;
	*o->p = '\0';
}

static void emit_u(struct out *o, uint64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof(b), " %" PRIu64, v);

	emit(o, b, (size_t)n);
}

/* A string field: "-" when empty; blanks, '%', '-' alone and non-ASCII escaped as %XX. */
static void emit_s(struct out *o, const char *s)
{
	char e[4];

	emit(o, " ", 1);
	if (!*s) {
		emit(o, "-", 1);
		return;
	}
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch <= ' ' || ch >= 0x7f || ch == '%' ||
		    (ch == '-' && o->p[-1] == ' ' && !s[1])) {
			snprintf(e, sizeof(e), "%%%02X", ch);
			emit(o, e, 3);
		} else {
			emit(o, (const char *)s, 1);
		}
	}
}

static void emit_hex(struct out *o, const uint8_t *b, size_t n, bool present)
{
	char h[3];

	emit(o, " ", 1);
	if (!present) {
		emit(o, "-", 1);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(h, sizeof(h), "%02x", b[i]);
		emit(o, h, 2);
	}
}

int persist_format(const struct latch *l, char *buf, size_t len)
{
	struct out o = { buf, len, false };
	const union flow_addr *la = l->listener ? &l->listen.addr : &l->flow.laddr;

	emit(&o, VERSION, strlen(VERSION));
	emit_u(&o, l->id);
	emit_u(&o, l->state);
	emit_u(&o, l->listener);
	emit_u(&o, l->listener ? l->listen.family : l->flow.family);
	emit_u(&o, l->listener ? l->listen.proto : l->flow.proto);
	emit_hex(&o, la->b, sizeof(la->b), true);
	emit_u(&o, l->listener ? l->listen.port : l->flow.lport);
	emit_hex(&o, l->flow.raddr.b, sizeof(l->flow.raddr.b), true);
	emit_u(&o, l->flow.rport);
	emit_u(&o, l->cookie);
	emit_u(&o, l->owner.uid);
	emit_u(&o, l->owner.gid);
	emit_u(&o, (uint64_t)l->owner.pid);
	emit_u(&o, l->pol->on_break);
	emit_u(&o, l->pol->exact);
	emit_u(&o, l->pol->allow_unlatched);
	emit_u(&o, l->pol->encrypt);
	emit_s(&o, l->pol->peer_id);
	emit_s(&o, l->pol->peer_ca);
	emit_s(&o, l->remote->id);
	emit_hex(&o, l->remote->spki, sizeof(l->remote->spki), l->remote->has_spki);
	emit_s(&o, l->sa.encr);
	emit_s(&o, l->sa.integ);
	emit_u(&o, l->sa.tunnel);
	emit_u(&o, l->sa.shared);
	emit_u(&o, (l->pol->btns ? 1u : 0u) | (l->pol->leap_of_faith ? 2u : 0u)); /* BTNS */
	return o.full ? -ENOSPC : 0;
}

/* ---------------------------------------------------------------- parse */

struct in {
	char *save;
	bool bad;
};

static char *field(struct in *in, char *first)
{
	char *t = strtok_r(first, " ", &in->save);

	if (!t)
		in->bad = true;
	return t ? t : "";
}

static uint64_t get_u(struct in *in, uint64_t max)
{
	char *t = field(in, NULL), *end;
	unsigned long long v = strtoull(t, &end, 10);

	if (*end || end == t || v > max)
		in->bad = true;
	return v;
}

static int unhex(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

static void get_s(struct in *in, char *dst, size_t cap)
{
	char *t = field(in, NULL);
	size_t n = 0;

	if (!strcmp(t, "-")) {
		*dst = '\0';
		return;
	}
	for (; *t && n + 1 < cap; t++) {
		if (*t == '%') {
			int hi = unhex(t[1]), lo = hi < 0 ? -1 : unhex(t[2]);

			if (lo < 0) {
				in->bad = true;
				break;
			}
			dst[n++] = (char)(hi << 4 | lo);
			t += 2;
		} else {
			dst[n++] = *t;
		}
	}
	if (*t)
		in->bad = true;
	dst[n] = '\0';
}

static bool get_hex(struct in *in, uint8_t *dst, size_t n)
{
	char *t = field(in, NULL);

	if (!strcmp(t, "-"))
		return false;
	if (strlen(t) != 2 * n) {
		in->bad = true;
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		int hi = unhex(t[2 * i]), lo = unhex(t[2 * i + 1]);

		if (hi < 0 || lo < 0)
			in->bad = true;
		dst[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static void parse_ends(struct in *in, struct latch *l)
{
	union flow_addr la = { 0 };
	unsigned fam = (unsigned)get_u(in, AF_INET6), proto = (unsigned)get_u(in, 255);
	uint16_t lport;

	get_hex(in, la.b, sizeof(la.b));
	lport = (uint16_t)get_u(in, 65535);
	get_hex(in, l->flow.raddr.b, sizeof(l->flow.raddr.b));
	l->flow.rport = (uint16_t)get_u(in, 65535);
	if (l->listener) {
		l->listen = (struct flow3){
			.family = (uint8_t)fam, .proto = (uint8_t)proto, .port = lport, .addr = la
		};
		return;
	}
	l->flow.family = (uint8_t)fam;
	l->flow.proto = (uint8_t)proto;
	l->flow.laddr = la;
	l->flow.lport = lport;
}

int persist_parse(const char *line, struct persist_rec *ret)
{
	char copy[PERSIST_LINE_MAX];
	struct persist_rec rec = { 0 };
	struct latch_policy *pol = &rec.pol;
	struct latch_ident *remote = &rec.remote;
	struct latch *l = &rec.l;
	struct in in = { 0 };
	char *t;

	if (strlen(line) >= sizeof(copy))
		return -EINVAL;
	strcpy(copy, line);
	if (strcmp(field(&in, copy), VERSION))
		return -EINVAL;
	l->id = get_u(&in, UINT64_MAX);
	l->state = (uint8_t)get_u(&in, IPC_STATE_PENDING);
	l->listener = get_u(&in, 1);
	parse_ends(&in, l);
	l->cookie = get_u(&in, UINT64_MAX);
	l->owner.uid = (uid_t)get_u(&in, UINT32_MAX);
	l->owner.gid = (gid_t)get_u(&in, UINT32_MAX);
	l->owner.pid = (pid_t)get_u(&in, INT32_MAX);
	pol->on_break = (uint8_t)get_u(&in, IPC_ON_BREAK_WAIT);
	pol->exact = get_u(&in, 1);
	pol->allow_unlatched = get_u(&in, 1);
	pol->encrypt = (uint8_t)get_u(&in, IPC_WANT_YES);
	pol->integrity = IPC_WANT_YES;
	get_s(&in, pol->peer_id, sizeof(pol->peer_id));
	get_s(&in, pol->peer_ca, sizeof(pol->peer_ca));
	get_s(&in, remote->id, sizeof(remote->id));
	remote->has_spki = get_hex(&in, remote->spki, sizeof(remote->spki));
	get_s(&in, l->sa.encr, sizeof(l->sa.encr));
	get_s(&in, l->sa.integ, sizeof(l->sa.integ));
	l->sa.tunnel = get_u(&in, 1);
	l->sa.shared = get_u(&in, 1);
	/* BTNS 1, leap of faith 2: absent in records of latchds before BTNS */
	t = strtok_r(NULL, " ", &in.save);
	if (t && (t[0] < '0' || t[0] > '3' || t[1]))
		in.bad = true;
	pol->btns = t && ((t[0] - '0') & 1);
	pol->leap_of_faith = t && ((t[0] - '0') & 2);
	if (in.bad || l->id == 0 || (t && strtok_r(NULL, " ", &in.save)))
		return -EINVAL;
	*ret = rec; /* then its pointers into itself */
	ret->l.pol = &ret->pol;
	ret->l.remote = &ret->remote;
	ret->l.local = &ret->local;
	return 0;
}

/* ---------------------------------------------------------------- file */

int persist_open(const char *dir, struct persist **ret)
{
	struct persist *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	/* 0755: the control socket may live here too; the journal itself is 0600. */
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		free(p);
		return -errno;
	}
	snprintf(p->path, sizeof(p->path), "%s/" JOURNAL, dir);
	snprintf(p->tmp, sizeof(p->tmp), "%s.new", p->path);
	p->fd = open(p->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (p->fd < 0) {
		int r = -errno;

		free(p);
		return r;
	}
	*ret = p;
	return 0;
}

void persist_close(struct persist *p)
{
	if (!p)
		return;
	close(p->fd);
	free(p);
}

static int put_line(int fd, const char *line)
{
	size_t n = strlen(line);

	/* One write per line: O_APPEND keeps lines whole even if latchd dies mid-way. */
	return write(fd, line, n) == (ssize_t)n ? 0 : -errno;
}

int persist_put(struct persist *p, const struct latch *l)
{
	char line[PERSIST_LINE_MAX + 4] = "+ ";
	int r = persist_format(l, line + 2, PERSIST_LINE_MAX);

	if (r < 0)
		return r;
	strcat(line, "\n");
	return put_line(p->fd, line);
}

int persist_del(struct persist *p, uint64_t id)
{
	char line[32];

	snprintf(line, sizeof(line), "- %" PRIu64 "\n", id);
	return put_line(p->fd, line);
}

struct entry {
	uint64_t id;
	char *line; /* NULL: deleted */
};

static int remember(struct entry **v, size_t *n, size_t *cap, uint64_t id, const char *line)
{
	for (size_t i = 0; i < *n; i++) {
		if ((*v)[i].id == id) {
			free((*v)[i].line);
			(*v)[i].line = line ? strdup(line) : NULL;
			return 0;
		}
	}
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct entry *nv = realloc(*v, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = nc;
	}
	(*v)[*n] = (struct entry){ id, line ? strdup(line) : NULL };
	(*n)++;
	return 0;
}

static int read_journal(const char *path, struct entry **v, size_t *n)
{
	char line[PERSIST_LINE_MAX + 8];
	size_t cap = 0;
	struct persist_rec rec;
	FILE *f = fopen(path, "re");

	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '-' && line[1] == ' ')
			remember(v, n, &cap, strtoull(line + 2, NULL, 10), NULL);
		else if (line[0] == '+' && line[1] == ' ' && persist_parse(line + 2, &rec) == 0)
			remember(v, n, &cap, rec.l.id, line);
	}
	fclose(f);
	return 0;
}

int persist_load(struct persist *p, void (*fn)(void *u, const struct persist_rec *rec), void *u)
{
	struct entry *v = NULL;
	size_t n = 0;
	int fd, count = 0, r = read_journal(p->path, &v, &n);
	struct persist_rec rec;

	fd = r == 0 ? open(p->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
	if (r == 0 && fd < 0)
		r = -errno;
	for (size_t i = 0; i < n; i++) {
		if (r == 0 && v[i].line && persist_parse(v[i].line + 2, &rec) == 0) {
			fn(u, &rec);
			count++;
			put_line(fd, v[i].line);
			put_line(fd, "\n");
		}
		free(v[i].line);
	}
	free(v);
	if (fd >= 0) {
		close(fd);
		if (rename(p->tmp, p->path) < 0)
			r = -errno;
		close(p->fd);
		p->fd = open(p->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	}
	return r < 0 ? r : count;
}
