/* SPDX-License-Identifier: MIT */
#include "latchd/db/persist.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOURNAL "latches"
#define VERSION "v1"

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
	/* when it was made (CLOCK_MONOTONIC: a restart of latchd keeps it; /run goes with a boot)
	 */
	emit_u(&o, l->created_usec);
	emit_s(&o, l->comm); /* its owner's program */
	return o.full ? -ENOSPC : 0;
}

/* ---------------------------------------------------------------- parse */

struct in {
	char *p; /* what is left of the line, split in place */
	bool bad;
};

/* The next blank-separated field, or NULL at the end of the line. */
static char *field_opt(struct in *in)
{
	char *t = in->p, *e;

	while (*t == ' ')
		t++;
	if (!*t)
		return NULL;
	for (e = t; *e && *e != ' '; e++)
		;
	in->p = *e ? e + 1 : e;
	*e = '\0';
	return t;
}

static char *field(struct in *in)
{
	char *t = field_opt(in);

	if (!t)
		in->bad = true;
	return t ? t : "";
}

static uint64_t get_u(struct in *in, uint64_t max)
{
	char *t = field(in), *end;
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
	char *t = field(in);
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
	char *t = field(in);

	if (!strcmp(t, "-"))
		return false;
	if (strlen(t) != 2 * n) {
		in->bad = true;
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		int hi = unhex(t[2 * i]), lo = unhex(t[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			in->bad = true;
			return false;
		}
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
	struct latch_policy *pol = &ret->pol;
	struct latch_ident *remote = &ret->remote;
	struct latch *l = &ret->l;
	struct in in = { copy, false };
	size_t n = strlen(line);
	char *t;

	if (n >= sizeof(copy))
		return -EINVAL;
	memcpy(copy, line, n + 1);
	if (strcmp(field(&in), VERSION))
		return -EINVAL;
	/* Zeroed whole: records are interned by their bytes (latchdb), padding included. */
	memset(ret, 0, sizeof(*ret));
	l->id = get_u(&in, UINT64_MAX);
	l->state = (uint8_t)get_u(&in, IPC_STATE_LARVAL);
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
	t = field_opt(&in);
	if (t && (t[0] < '0' || t[0] > '3' || t[1]))
		in.bad = true;
	pol->btns = t && ((t[0] - '0') & 1);
	pol->leap_of_faith = t && ((t[0] - '0') & 2);
	/* age and owner's program: absent in records of latchds before them */
	if (t && in.p[strspn(in.p, " ")]) {
		l->created_usec = get_u(&in, UINT64_MAX);
		get_s(&in, l->comm, sizeof(l->comm));
	}
	if (in.bad || l->id == 0 || (t && field_opt(&in)))
		return -EINVAL;
	ret->l.pol = &ret->pol;
	ret->l.remote = &ret->remote;
	ret->l.local = &ret->local;
	return 0;
}

/* ---------------------------------------------------------------- ids */

/*
 * Journaled ids, each with an offset in the journal: open addressing with
 * linear probing, at most half full; id 0 (never a latch's) marks a free slot.
 */
struct slot {
	uint64_t id;
	size_t off;
};

struct idmap {
	struct slot *v;
	size_t cap, n; /* cap: 2^bits */
	unsigned bits;
};

/* Fibonacci hashing: the product's top bits spread consecutive ids evenly. */
static size_t home(const struct idmap *m, uint64_t id)
{
	return (size_t)((id * 0x9E3779B97F4A7C15ull) >> (64 - m->bits));
}

static size_t slot_of(const struct idmap *m, uint64_t id)
{
	size_t i = home(m, id);

	while (m->v[i].id && m->v[i].id != id)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static int map_grow(struct idmap *m)
{
	struct idmap g = { calloc(m->cap ? m->cap * 2 : 64, sizeof(struct slot)),
			   m->cap ? m->cap * 2 : 64, m->n, m->cap ? m->bits + 1 : 6 };

	if (!g.v)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++)
		if (m->v[i].id)
			g.v[slot_of(&g, m->v[i].id)] = m->v[i];
	free(m->v);
	*m = g;
	return 0;
}

static const struct slot *map_get(const struct idmap *m, uint64_t id)
{
	size_t i = m->cap ? slot_of(m, id) : 0;

	return m->cap && m->v[i].id ? &m->v[i] : NULL;
}

static int map_put(struct idmap *m, uint64_t id, size_t off)
{
	size_t i;

	if ((m->n + 1) * 2 > m->cap && map_grow(m) < 0)
		return -ENOMEM;
	i = slot_of(m, id);
	m->n += !m->v[i].id;
	m->v[i] = (struct slot){ id, off };
	return 0;
}

/* Whether id was there. Later entries of the probe run move back into the hole. */
static bool map_del(struct idmap *m, uint64_t id)
{
	size_t mask = m->cap - 1, i = m->cap ? slot_of(m, id) : 0, h;

	if (!m->cap || !m->v[i].id)
		return false;
	for (size_t j = (i + 1) & mask; m->v[j].id; j = (j + 1) & mask) {
		h = home(m, m->v[j].id);
		/* j may fill the hole unless its home lies cyclically in (i, j] */
		if (i < j ? h <= i || h > j : h <= i && h > j) {
			m->v[i] = m->v[j];
			i = j;
		}
	}
	m->v[i].id = 0;
	m->n--;
	return true;
}

static void map_free(struct idmap *m)
{
	free(m->v);
	*m = (struct idmap){ 0 };
}

/* ---------------------------------------------------------------- squash */

/* "- <id>": decimal, no sign, no blanks, not 0. */
static bool parse_id(const char *s, uint64_t *id)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*id = strtoull(s, &end, 10);
	return !*end && !errno && *id;
}

/* The length of the line at off, without its newline; -1 if it has none (cut short by a crash). */
static ssize_t line_len(const char *buf, size_t size, size_t off)
{
	const char *nl = memchr(buf + off, '\n', size - off);

	return nl ? nl - (buf + off) : -1;
}

/* The id of a "+ v1 <id> …" line, or 0. */
static uint64_t rec_id(const char *line)
{
	static const char prefix[] = "+ " VERSION " ";

	return strncmp(line, prefix, sizeof(prefix) - 1)
		       ? 0
		       : strtoull(line + sizeof(prefix) - 1, NULL, 10);
}

/*
 * The last record of each id wins; "- id" ends it; lines that do not parse
 * are skipped. Unchecked, a record line counts by its id alone.
 */
static int index_line(struct idmap *m, const char *line, size_t len, size_t off, bool check)
{
	char copy[PERSIST_LINE_MAX + 4];
	struct persist_rec rec;
	uint64_t id;

	if (!check && rec_id(line))
		return map_put(m, rec_id(line), off);
	if (len >= sizeof(copy) || memchr(line, '\0', len))
		return 0;
	memcpy(copy, line, len);
	copy[len] = '\0';
	if (copy[0] == '-' && copy[1] == ' ' && parse_id(copy + 2, &id))
		map_del(m, id);
	else if (copy[0] == '+' && copy[1] == ' ' && persist_parse(copy + 2, &rec) == 0)
		return map_put(m, rec.l.id, off);
	return 0;
}

/* Index buf's lines by id; *lines gets their number. */
static int index_journal(const char *buf, size_t size, bool check, struct idmap *m, size_t *lines)
{
	ssize_t len = 0;
	int r = 0;

	*lines = 0;
	for (size_t off = 0; r == 0 && len >= 0 && off < size; off += (size_t)len + 1) {
		(*lines)++;
		len = line_len(buf, size, off);
		if (len >= 0)
			r = index_line(m, buf + off, (size_t)len, off, check);
	}
	return r;
}

/* The surviving line of each id, in the journal's order, into *ret (*len bytes). */
static int survivors(const char *buf, size_t size, const struct idmap *m, char **ret, size_t *len)
{
	char *out = malloc(size + 1);
	const struct slot *s;
	ssize_t k = 0;
	size_t n = 0;

	if (!out)
		return -ENOMEM;
	for (size_t off = 0; k >= 0 && off < size; off += (size_t)k + 1) {
		k = line_len(buf, size, off);
		s = k >= 0 ? map_get(m, rec_id(buf + off)) : NULL;
		if (s && s->off == off) {
			memcpy(out + n, buf + off, (size_t)k + 1);
			n += (size_t)k + 1;
		}
	}
	*ret = out;
	*len = n;
	return 0;
}

static int squash(const char *buf, size_t size, bool check, char **ret, size_t *len, size_t *lines)
{
	struct idmap m = { 0 };
	int r = index_journal(buf, size, check, &m, lines);

	if (r == 0)
		r = survivors(buf, size, &m, ret, len);
	map_free(&m);
	return r;
}

int persist_squash(const char *buf, size_t size, char **ret, size_t *len, size_t *lines)
{
	return squash(buf, size, true, ret, len, lines);
}

/* The ids of squashed lines. */
static int live_ids(const char *out, size_t len, struct idmap *m)
{
	int r = 0;

	for (const char *line = out; r == 0 && line < out + len; line = strchr(line, '\n') + 1)
		r = map_put(m, rec_id(line), 0);
	return r;
}

/* ---------------------------------------------------------------- file */

#define JOURNAL_TMP JOURNAL ".new"

struct persist {
	int dir, fd;	    /* the state directory; the journal, O_APPEND */
	struct idmap live;  /* ids whose last line in the journal is a record */
	size_t lines, size; /* the journal's */
	size_t retry;	    /* after a failed compaction: not before this many lines */
	struct {
		bool on;
		char *v;
		size_t len, cap, lines;
	} held; /* while loading: what is appended, written at once after */
};

/*
 * Whoever else may write the state directory could plant a journal of their
 * own, or a link in its place: such a directory is refused, not repaired
 * (repairing it would adopt what they planted).
 */
static int open_dir(const char *dir, mode_t mode)
{
	struct stat st;
	int fd, r = 0;

	if (mkdir(dir, mode) < 0 && errno != EEXIST)
		return -errno;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)))
		r = -EPERM;
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

static int open_journal(int dir, const char *name, int flags, size_t *size)
{
	struct stat st;
	int fd = openat(dir, name, O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC | flags, 0600);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	*size = (size_t)st.st_size;
	return fd;
}

int persist_open(const char *dir, mode_t mode, struct persist **ret)
{
	struct persist *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->dir = open_dir(dir, mode);
	p->fd = p->dir < 0 ? p->dir : open_journal(p->dir, JOURNAL, O_CREAT, &p->size);
	if (p->fd < 0) {
		int r = p->fd;

		if (p->dir >= 0)
			close(p->dir);
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
	close(p->dir);
	map_free(&p->live);
	free(p);
}

static int read_all(int fd, size_t size, char **ret)
{
	char *buf = malloc(size + 1);
	size_t got = 0;
	ssize_t n = 1;

	if (!buf)
		return -ENOMEM;
	while (got < size && (n = pread(fd, buf + got, size - got, (off_t)got)) > 0)
		got += (size_t)n;
	if (n < 0) {
		free(buf);
		return -errno;
	}
	buf[got] = '\0';
	*ret = buf;
	return (int)(got == size ? 0 : -EIO);
}

/*
 * Make buf the journal: written to a file beside it and renamed over it, so
 * a crash leaves the old journal or the new one. fdatasync first: free on
 * /run (tmpfs), and on a disk it keeps a crash from leaving an empty journal.
 */
static int replace(struct persist *p, const char *buf, size_t len)
{
	size_t size;
	int fd, r = 0;

	if (unlinkat(p->dir, JOURNAL_TMP, 0) < 0 && errno != ENOENT)
		return -errno;
	fd = open_journal(p->dir, JOURNAL_TMP, O_CREAT | O_EXCL, &size);
	if (fd < 0)
		return fd;
	errno = 0;
	if (write(fd, buf, len) != (ssize_t)len || fdatasync(fd) < 0 ||
	    renameat(p->dir, JOURNAL_TMP, p->dir, JOURNAL) < 0)
		r = errno ? -errno : -ENOSPC;
	if (r < 0) {
		unlinkat(p->dir, JOURNAL_TMP, 0);
		close(fd);
		return r;
	}
	close(p->fd);
	p->fd = fd;
	p->size = len;
	return 0;
}

static int visit(char *out, size_t len, void (*fn)(void *u, const struct persist_rec *r), void *u)
{
	struct persist_rec rec;
	int count = 0;

	for (char *line = out, *nl; line < out + len; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(out + len - line));
		*nl = '\0';
		if (persist_parse(line + 2, &rec) == 0) {
			fn(u, &rec);
			count++;
		}
	}
	return count;
}

static int visit_held(struct persist *p, char *out, size_t len,
		      void (*fn)(void *u, const struct persist_rec *r), void *u);

/*
 * A journal that could not be rewritten stays as it is, less a last line a
 * crash cut short (whole: where it begins), so that the next line appended
 * starts a line of its own instead of being glued to it and lost. No new
 * attempt until it doubled.
 */
static void keep(struct persist *p, size_t whole)
{
	if (whole < p->size && ftruncate(p->fd, (off_t)whole) == 0)
		p->size = whole;
	p->retry = 2 * p->lines;
}

/*
 * Read the journal, keep the last record of each live id and rewrite it with
 * just those; then (at load) hand each to fn, whose changes are appended to
 * the new journal. A journal that cannot be rewritten (/run full) is kept as
 * it is, its records still handed out; no new attempt until it doubled.
 */
static int replay(struct persist *p, void (*fn)(void *u, const struct persist_rec *r), void *u)
{
	struct idmap m = { 0 };
	char *buf = NULL, *out = NULL, *nl;
	size_t lines = 0, len = 0, whole = 0;
	int r = read_all(p->fd, p->size, &buf);

	if (r == 0) {
		nl = memrchr(buf, '\n', p->size);
		whole = nl ? (size_t)(nl - buf) + 1 : 0;
		/*
		 * A load checks every line; a compaction while latchd runs reads
		 * back only whole lines this latchd wrote, whose ids suffice.
		 */
		r = squash(buf, p->size, fn != NULL, &out, &len, &lines);
	}
	free(buf);
	if (r == 0)
		r = live_ids(out, len, &m);
	if (r < 0) {
		map_free(&m);
		free(out);
		return r;
	}
	map_free(&p->live);
	p->live = m;
	p->lines = lines;
	if (replace(p, out, len) == 0)
		p->lines = p->live.n;
	else
		keep(p, whole);
	r = fn ? visit_held(p, out, len, fn, u) : 0;
	free(out);
	return r;
}

int persist_load(struct persist *p, void (*fn)(void *u, const struct persist_rec *r), void *u)
{
	return replay(p, fn, u);
}

/* When the dead lines outnumber the live ones: O(1) per line, amortised. */
static void maybe_compact(struct persist *p)
{
	if (p->lines > 2 * p->live.n + PERSIST_SLACK && p->lines >= p->retry)
		replay(p, NULL, NULL);
}

/* Whole lines in one write: O_APPEND keeps them whole; a short one is cut off again. */
static int write_lines(struct persist *p, const char *buf, size_t n, size_t lines)
{
	ssize_t w = write(p->fd, buf, n);

	if (w == (ssize_t)n) {
		p->size += n;
		p->lines += lines;
		maybe_compact(p);
		return 0;
	}
	if (w > 0 && ftruncate(p->fd, (off_t)p->size) < 0)
		return -errno;
	return w < 0 ? -errno : -ENOSPC;
}

static int append(struct persist *p, const char *line, size_t n)
{
	size_t cap = (p->held.len + n) * 2;
	char *v;

	if (!p->held.on)
		return write_lines(p, line, n, 1);
	if (p->held.len + n > p->held.cap) {
		v = realloc(p->held.v, cap);
		if (!v)
			return -ENOMEM;
		p->held.v = v;
		p->held.cap = cap;
	}
	memcpy(p->held.v + p->held.len, line, n);
	p->held.len += n;
	p->held.lines++;
	return 0;
}

/*
 * fn over the loaded records, what it appends held and written at once after
 * (a restart ends every latch whose socket went away meanwhile: 100,000 lines
 * in one write rather than 100,000).
 */
static int visit_held(struct persist *p, char *out, size_t len,
		      void (*fn)(void *u, const struct persist_rec *r), void *u)
{
	int count;

	p->held.on = true;
	count = visit(out, len, fn, u);
	p->held.on = false;
	if (p->held.len)
		write_lines(p, p->held.v, p->held.len, p->held.lines);
	free(p->held.v);
	memset(&p->held, 0, sizeof(p->held));
	return count;
}

int persist_put(struct persist *p, const struct latch *l)
{
	char line[PERSIST_LINE_MAX + 4] = "+ ";
	int r = persist_format(l, line + 2, PERSIST_LINE_MAX);

	if (r == 0 && !map_get(&p->live, l->id))
		r = map_put(&p->live, l->id, 0);
	if (r < 0)
		return r;
	strcat(line, "\n");
	return append(p, line, strlen(line));
}

int persist_del(struct persist *p, uint64_t id)
{
	char line[32];
	int n;

	/* A latch that was never journaled (refused, or closed while pending) leaves no line. */
	if (!map_del(&p->live, id))
		return 0;
	n = snprintf(line, sizeof(line), "- %" PRIu64 "\n", id);
	return append(p, line, (size_t)n);
}
