/* SPDX-License-Identifier: MIT */
#include "latchd/charon/sacache.h"

#include "latchd/charon/sacache-feed.h"
#include "latchd/charon/vici-cmd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/text.h"

/*
 * Plain arrays searched linearly: in shared mode a host has a handful of
 * IKE_SAs and children; in exact mode thousands of children cost a few
 * microseconds per event, far below charon's own per-child cost
 * (docs/performance.md).
 */
struct sacache {
	const struct sacache_ops *ops;
	void *u;
	struct sa_ike *ikes;
	size_t n_ikes, cap_ikes;
	struct sa_child *children;
	size_t n_children, cap_children;
};

int sacache_new(const struct sacache_ops *ops, void *userdata, struct sacache **ret)
{
	struct sacache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->ops = ops;
	c->u = userdata;
	*ret = c;
	return 0;
}

void sacache_free(struct sacache *c)
{
	if (!c)
		return;
	free(c->ikes);
	free(c->children);
	free(c);
}

/* ---------------------------------------------------------------- selectors */

int sacache_ts_parse(const char *text, struct sa_ts *ret)
{
	struct sa_ts ts = { .port_hi = 65535 };
	struct vici_ts_parsed p;
	unsigned long prefix;
	char *slash, *end;

	/* vici-cmd maps charon's service names back to ports. */
	if (vici_ts_parse(text, &p) < 0)
		return -EINVAL;
	ts.proto = p.proto;
	if (p.port || p.port_last) {
		ts.port_lo = p.port;
		ts.port_hi = p.port_last ? p.port_last : p.port;
	}
	slash = strchr(p.net, '/');
	if (slash)
		*slash = '\0';
	ts.family = strchr(p.net, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(ts.family, p.net, ts.addr) != 1)
		return -EINVAL; /* ranges (a..b): neither latch nor swanctl's defaults make them */
	prefix = ts.family == AF_INET ? 32 : 128;
	if (slash) {
		unsigned long n = strtoul(slash + 1, &end, 10);

		if (*end || end == slash + 1 || n > prefix)
			return -EINVAL;
		prefix = n;
	}
	ts.prefix = (uint8_t)prefix;
	*ret = ts;
	return 0;
}

static bool prefix_match(const uint8_t *net, const uint8_t *addr, unsigned prefix)
{
	unsigned bytes = prefix / 8, bits = prefix % 8;
	uint8_t mask;

	if (memcmp(net, addr, bytes))
		return false;
	if (!bits)
		return true;
	mask = (uint8_t)(0xff << (8 - bits));
	return (net[bytes] & mask) == (addr[bytes] & mask);
}

bool sacache_ts_covers(const struct sa_ts *ts, int family, const uint8_t *addr, uint8_t proto,
		       uint16_t port)
{
	if (ts->family != family || (ts->proto && ts->proto != proto))
		return false;
	if (port < ts->port_lo || port > ts->port_hi)
		return false;
	return prefix_match(ts->addr, addr, ts->prefix);
}

bool sacache_ts_is_exact(const struct sa_ts *ts)
{
	return ts->proto && ts->port_lo == ts->port_hi &&
	       ts->prefix == (ts->family == AF_INET ? 32 : 128);
}

/* ---------------------------------------------------------------- storage */

static struct sa_ike *ike_find(const struct sacache *c, uint32_t id)
{
	for (size_t i = 0; i < c->n_ikes; i++) {
		if (c->ikes[i].id == id)
			return &c->ikes[i];
	}
	return NULL;
}

static struct sa_child *child_find(const struct sacache *c, uint32_t id)
{
	for (size_t i = 0; i < c->n_children; i++) {
		if (c->children[i].id == id)
			return &c->children[i];
	}
	return NULL;
}

const struct sa_ike *sacache_ike(const struct sacache *c, uint32_t id)
{
	return ike_find(c, id);
}

const struct sa_child *sacache_child(const struct sacache *c, uint32_t id)
{
	return child_find(c, id);
}

static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	p = realloc(*arr, ncap * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* Store or update an established IKE_SA; a new one is reported up. */
static int ike_store(struct sacache *c, const struct sa_ike *ike, struct sa_ike **ret)
{
	struct sa_ike *slot = ike_find(c, ike->id);
	bool fresh = !slot;
	int r;

	if (fresh) {
		r = grow((void **)&c->ikes, &c->cap_ikes, c->n_ikes, sizeof(*c->ikes));
		if (r < 0)
			return r;
		slot = &c->ikes[c->n_ikes++];
	}
	*slot = *ike;
	if (fresh && c->ops->ike_up)
		c->ops->ike_up(c->u, slot);
	*ret = ike_find(c, ike->id);
	return *ret ? 0 : -ENOENT;
}

static int child_store(struct sacache *c, const struct sa_child *ch)
{
	struct sa_child *slot = child_find(c, ch->id);
	int r;

	if (!slot) {
		r = grow((void **)&c->children, &c->cap_children, c->n_children,
			 sizeof(*c->children));
		if (r < 0)
			return r;
		slot = &c->children[c->n_children++];
	}
	*slot = *ch;
	return 0;
}

/* Order does not matter to lookups, so removal swaps in the last element. */
static void child_remove(struct sacache *c, struct sa_child *ch)
{
	*ch = c->children[--c->n_children];
}

static void ike_remove(struct sacache *c, struct sa_ike *ike)
{
	*ike = c->ikes[--c->n_ikes];
}

/* ---------------------------------------------------------------- parsing */

/* Cleaned (shared/text.h): identities and names are what a peer presented. */
static void copy_str(char *dst, size_t cap, const struct vici_node *sec, const char *key)
{
	const char *v = vici_get_str(sec, key);

	text_clean(dst, cap, v ? v : "", v ? strlen(v) : 0);
}

static uint32_t get_u32(const struct vici_node *sec, const char *key, int base)
{
	const char *v = vici_get_str(sec, key);

	return v ? (uint32_t)strtoul(v, NULL, base) : 0;
}

static int parse_ike(const struct vici_node *sec, struct sa_ike *ret)
{
	struct sa_ike ike = { 0 };
	const char *state = vici_get_str(sec, "state");
	uint64_t id;

	if (vici_get_u64(sec, "uniqueid", &id) < 0 || id == 0 || id > UINT32_MAX || !sec->name)
		return -EBADMSG;
	ike.id = (uint32_t)id;
	snprintf(ike.name, sizeof(ike.name), "%s", sec->name);
	ike.established = state && !strcmp(state, "ESTABLISHED");
	ike.initiator = vici_get_yes(sec, "initiator");
	copy_str(ike.local_id, sizeof(ike.local_id), sec, "local-id");
	copy_str(ike.remote_id, sizeof(ike.remote_id), sec, "remote-id");
	copy_str(ike.local_host, sizeof(ike.local_host), sec, "local-host");
	copy_str(ike.remote_host, sizeof(ike.remote_host), sec, "remote-host");
	copy_str(ike.encr, sizeof(ike.encr), sec, "encr-alg");
	copy_str(ike.prf, sizeof(ike.prf), sec, "prf-alg");
	copy_str(ike.dh, sizeof(ike.dh), sec, "dh-group");
	*ret = ike;
	return 0;
}

static int parse_ts_list(const struct vici_node *sec, const char *key, struct sa_ts *ts,
			 unsigned *n)
{
	const struct vici_node *l = vici_get_list(sec, key);

	*n = 0;
	for (const struct vici_node *it = l ? l->child : NULL; it; it = it->next) {
		if (*n == SA_TS_MAX)
			return -E2BIG;
		if (sacache_ts_parse((const char *)it->value, &ts[*n]) < 0)
			return -EBADMSG;
		(*n)++;
	}
	return 0;
}

static void parse_child_alg(const struct vici_node *sec, struct sa_child *ch)
{
	const char *encr = vici_get_str(sec, "encr-alg");
	const char *bits = vici_get_str(sec, "encr-keysize");
	char alg[SA_ALG_MAX];

	ch->encr_bits = bits ? (unsigned)strtoul(bits, NULL, 10) : 0;
	snprintf(alg, sizeof(alg), "%s%s%s", encr ? encr : "", encr && bits ? "-" : "",
		 encr && bits ? bits : "");
	text_clean(ch->encr, sizeof(ch->encr), alg, strlen(alg));
	copy_str(ch->integ, sizeof(ch->integ), sec, "integ-alg");
	bits = vici_get_str(sec, "integ-keysize");
	ch->integ_bits = bits ? (unsigned)strtoul(bits, NULL, 10) : 0;
	/* AEAD ciphers integrity-protect with the cipher's own key. */
	if (!ch->integ[0] && strstr(ch->encr, "GCM"))
		ch->integ_bits = ch->encr_bits;
}

static int parse_child(const struct vici_node *sec, uint32_t ike_id, struct sa_child *ret)
{
	struct sa_child ch = { .ike_id = ike_id };
	const char *state = vici_get_str(sec, "state"), *mode = vici_get_str(sec, "mode");
	uint64_t id;
	int r;

	if (vici_get_u64(sec, "uniqueid", &id) < 0 || id == 0 || id > UINT32_MAX)
		return -EBADMSG;
	ch.id = (uint32_t)id;
	copy_str(ch.name, sizeof(ch.name), sec, "name");
	ch.reqid = get_u32(sec, "reqid", 10);
	ch.installed = state && !strcmp(state, "INSTALLED");
	ch.tunnel = mode && !strcmp(mode, "TUNNEL");
	ch.spi_in = get_u32(sec, "spi-in", 16);
	ch.spi_out = get_u32(sec, "spi-out", 16);
	parse_child_alg(sec, &ch);
	r = parse_ts_list(sec, "local-ts", ch.lts, &ch.n_lts);
	if (r == 0)
		r = parse_ts_list(sec, "remote-ts", ch.rts, &ch.n_rts);
	if (r < 0)
		return r;
	*ret = ch;
	return 0;
}

/* The one IKE section of an event: the first member that is a section. */
static const struct vici_node *ike_section(const struct vici_node *msg)
{
	for (const struct vici_node *n = msg->child; n; n = n->next) {
		if (n->type == VICI_NODE_SECTION)
			return n;
	}
	return NULL;
}

/* ---------------------------------------------------------------- events */

static void report_child_down(struct sacache *c, struct sa_child *ch)
{
	struct sa_child gone = *ch;
	const struct sa_ike *ike = ike_find(c, gone.ike_id);
	struct sa_ike none = { .id = gone.ike_id };

	child_remove(c, ch);
	if (c->ops->child_down)
		c->ops->child_down(c->u, ike ? ike : &none, &gone);
}

static int child_up(struct sacache *c, const struct sa_ike *ike, const struct vici_node *sec)
{
	struct sa_child ch;
	int r = parse_child(sec, ike->id, &ch);

	if (r < 0)
		return r;
	if (!ch.installed) {
		struct sa_child *old = child_find(c, ch.id);

		if (old)
			report_child_down(c, old);
		return 0;
	}
	r = child_store(c, &ch);
	if (r == 0 && c->ops->child_up)
		c->ops->child_up(c->u, ike, &ch);
	return r;
}

static int child_gone(struct sacache *c, const struct vici_node *sec)
{
	uint64_t id;
	struct sa_child *ch;

	if (vici_get_u64(sec, "uniqueid", &id) < 0)
		return -EBADMSG;
	ch = child_find(c, (uint32_t)id);
	if (ch)
		report_child_down(c, ch);
	return 0;
}

static void ike_gone(struct sacache *c, uint32_t id)
{
	struct sa_ike *ike = ike_find(c, id), gone;

	if (!ike)
		return;
	for (size_t i = 0; i < c->n_children;) {
		if (c->children[i].ike_id == id)
			report_child_down(c, &c->children[i]);
		else
			i++;
	}
	ike = ike_find(c, id); /* callbacks may not touch the cache, but stay safe */
	if (!ike)
		return;
	gone = *ike;
	ike_remove(c, ike);
	if (c->ops->ike_down)
		c->ops->ike_down(c->u, &gone);
}

static int children_gone(struct sacache *c, const struct vici_node *sec)
{
	const struct vici_node *children = vici_get_section(sec, "child-sas");
	int r = 0;

	for (const struct vici_node *ch = children ? children->child : NULL; ch && r == 0;
	     ch = ch->next) {
		if (ch->type == VICI_NODE_SECTION)
			r = child_gone(c, ch);
	}
	return r;
}

/* list-sa entries and child-updown ups: the IKE_SA with (some of) its children. */
static int feed_ike_and_children(struct sacache *c, const struct vici_node *sec, bool up)
{
	const struct vici_node *children = vici_get_section(sec, "child-sas");
	struct sa_ike parsed, *ike;
	int r;

	if (!up)
		return children_gone(c, sec); /* whatever state the IKE_SA is in by now */
	r = parse_ike(sec, &parsed);
	if (r < 0)
		return r;
	if (!parsed.established)
		return 0; /* CONNECTING (an auth failure) or DELETING: nothing usable */
	r = ike_store(c, &parsed, &ike);
	for (const struct vici_node *ch = children ? children->child : NULL; ch && r == 0;
	     ch = ch->next) {
		if (ch->type != VICI_NODE_SECTION)
			continue;
		r = child_up(c, ike, ch);
		ike = ike_find(c, parsed.id);
		if (!ike)
			break;
	}
	return r;
}

static int feed_ike_updown(struct sacache *c, const struct vici_node *msg)
{
	const struct vici_node *sec = ike_section(msg);
	struct sa_ike parsed, *ike;
	int r;

	if (!sec)
		return -EBADMSG;
	r = parse_ike(sec, &parsed);
	if (r < 0)
		return r;
	if (!vici_get_yes(msg, "up")) {
		ike_gone(c, parsed.id);
		return 0;
	}
	if (!parsed.established)
		return 0;
	return ike_store(c, &parsed, &ike);
}

static int feed_child_rekey(struct sacache *c, const struct vici_node *msg)
{
	const struct vici_node *sec = ike_section(msg), *children, *ch;
	struct sa_ike parsed, *ike;
	struct sa_child old, nu;
	int r;

	if (!sec)
		return -EBADMSG;
	r = parse_ike(sec, &parsed);
	if (r == 0)
		r = ike_store(c, &parsed, &ike);
	children = vici_get_section(sec, "child-sas");
	for (ch = children ? children->child : NULL; ch && r == 0; ch = ch->next) {
		const struct vici_node *o = vici_get_section(ch, "old");
		const struct vici_node *n = vici_get_section(ch, "new");
		struct sa_child *slot;

		if (!o || !n)
			return -EBADMSG;
		r = parse_child(o, parsed.id, &old);
		if (r == 0)
			r = parse_child(n, parsed.id, &nu);
		if (r < 0)
			return r;
		slot = child_find(c, old.id);
		if (slot)
			child_remove(c, slot);
		nu.installed = true; /* the event fires once the new SA is in place */
		r = child_store(c, &nu);
		if (r == 0 && c->ops->child_rekeyed)
			c->ops->child_rekeyed(c->u, old.id, ike_find(c, parsed.id), &nu);
	}
	return r;
}

/* IKE rekey: the children move to the new IKE_SA, which has a new unique id. */
static int feed_ike_rekey(struct sacache *c, const struct vici_node *msg)
{
	const struct vici_node *sec = ike_section(msg);
	const struct vici_node *o = sec ? vici_get_section(sec, "old") : NULL;
	const struct vici_node *n = sec ? vici_get_section(sec, "new") : NULL;
	struct sa_ike old, nu, *ike, *gone;
	int r;

	if (!o || !n)
		return -EBADMSG;
	r = parse_ike(o, &old);
	if (r == 0)
		r = parse_ike(n, &nu);
	if (r < 0)
		return r;
	snprintf(nu.name, sizeof(nu.name), "%s", sec->name);
	if (c->ops->ike_rekeyed && !ike_find(c, nu.id))
		c->ops->ike_rekeyed(c->u, old.id, &nu);
	r = ike_store(c, &nu, &ike);
	if (r < 0)
		return r;
	for (size_t i = 0; i < c->n_children; i++) {
		if (c->children[i].ike_id == old.id)
			c->children[i].ike_id = nu.id;
	}
	gone = old.id != nu.id ? ike_find(c, old.id) : NULL; /* same id: nothing is gone */
	if (gone) {
		struct sa_ike was = *gone;

		ike_remove(c, gone);
		if (c->ops->ike_down)
			c->ops->ike_down(c->u, &was); /* its children live on under the new one */
	}
	return 0;
}

static int feed_ike_update(struct sacache *c, const struct vici_node *msg)
{
	const struct vici_node *sec = ike_section(msg);
	struct sa_ike parsed, *ike;
	const char *rh = vici_get_str(msg, "remote-host");

	if (!sec || parse_ike(sec, &parsed) < 0)
		return -EBADMSG;
	ike = ike_find(c, parsed.id);
	if (ike && rh)
		snprintf(ike->remote_host, sizeof(ike->remote_host), "%s", rh);
	return 0;
}

int sacache_feed(struct sacache *c, const char *event, const struct vici_node *msg)
{
	const struct vici_node *sec;

	if (!strcmp(event, "ike-updown"))
		return feed_ike_updown(c, msg);
	if (!strcmp(event, "child-updown")) {
		sec = ike_section(msg);
		return sec ? feed_ike_and_children(c, sec, vici_get_yes(msg, "up")) : -EBADMSG;
	}
	if (!strcmp(event, "list-sa")) {
		for (sec = msg->child; sec; sec = sec->next) {
			int r = sec->type == VICI_NODE_SECTION ? feed_ike_and_children(c, sec, true)
							       : 0;
			if (r < 0)
				return r;
		}
		return 0;
	}
	if (!strcmp(event, "child-rekey"))
		return feed_child_rekey(c, msg);
	if (!strcmp(event, "ike-rekey"))
		return feed_ike_rekey(c, msg);
	if (!strcmp(event, "ike-update"))
		return feed_ike_update(c, msg);
	return 0;
}

void sacache_clear(struct sacache *c)
{
	while (c->n_ikes)
		ike_gone(c, c->ikes[c->n_ikes - 1].id);
	while (c->n_children)
		report_child_down(c, &c->children[c->n_children - 1]);
}

/* ---------------------------------------------------------------- queries */

static bool any_covers(const struct sa_ts *ts, unsigned n, int family, const uint8_t *addr,
		       uint8_t proto, uint16_t port)
{
	for (unsigned i = 0; i < n; i++) {
		if (sacache_ts_covers(&ts[i], family, addr, proto, port))
			return true;
	}
	return false;
}

bool sacache_child_covers(const struct sa_child *ch, const struct flow *f)
{
	return any_covers(ch->lts, ch->n_lts, f->family, f->laddr.b, f->proto, f->lport) &&
	       any_covers(ch->rts, ch->n_rts, f->family, f->raddr.b, f->proto, f->rport);
}

unsigned sacache_covering(const struct sacache *c, const struct flow *f, sacache_visit_fn fn,
			  void *u)
{
	unsigned n = 0;

	for (size_t i = c->n_children; i-- > 0;) {
		const struct sa_child *ch = &c->children[i];
		const struct sa_ike *ike;

		if (!ch->installed || !sacache_child_covers(ch, f))
			continue;
		ike = ike_find(c, ch->ike_id);
		if (!ike)
			continue;
		n++;
		if (fn(u, ike, ch))
			break;
	}
	return n;
}

bool sacache_child_is_exact(const struct sa_child *c, const struct flow *f)
{
	return c->n_lts == 1 && c->n_rts == 1 && sacache_ts_is_exact(&c->lts[0]) &&
	       sacache_ts_is_exact(&c->rts[0]) && c->lts[0].port_lo == f->lport &&
	       c->rts[0].port_lo == f->rport;
}

unsigned sacache_count_ike(const struct sacache *c)
{
	return (unsigned)c->n_ikes;
}

unsigned sacache_count_children(const struct sacache *c)
{
	return (unsigned)c->n_children;
}

void sacache_each_child(const struct sacache *c, uint32_t ike_id,
			void (*fn)(void *u, const struct sa_child *ch), void *u)
{
	for (size_t i = 0; i < c->n_children; i++) {
		if (c->children[i].ike_id == ike_id && c->children[i].installed)
			fn(u, &c->children[i]);
	}
}

const struct sa_child *sacache_child_with(const struct sacache *c,
					  bool (*want)(const void *u, const struct sa_child *ch),
					  const void *u)
{
	for (size_t i = 0; i < c->n_children; i++) {
		if (want(u, &c->children[i]))
			return &c->children[i];
	}
	return NULL;
}

void sacache_each_ike(const struct sacache *c, void (*fn)(void *u, const struct sa_ike *ike),
		      void *u)
{
	for (size_t i = 0; i < c->n_ikes; i++)
		fn(u, &c->ikes[i]);
}
