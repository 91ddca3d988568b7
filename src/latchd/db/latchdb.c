/* SPDX-License-Identifier: MIT */
#include "latchd/db/latchdb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "shared/wire.h"

#define BUCKETS_MIN 256

/*
 * Interned values: a chain per hash bucket; the value follows the header.
 * Equal means equal bytes, so values are built zeroed (= { 0 }) before use.
 */
struct interned {
	struct interned *next;
	uint64_t hash;
	unsigned refs;
	size_t size;
	union {
		struct latch_policy pol;
		struct latch_ident ident;
	} v;
};

#define INTERN_BUCKETS 1024

static const struct latch_policy no_policy;
static const struct latch_ident no_ident;

struct uid_count {
	uid_t uid;
	unsigned n;
};

static void uncount(struct latchdb *db, struct latch *l);

struct latchdb {
	const struct latchdb_ops *ops;
	void *u;
	uint64_t next_id;
	size_t n, n_buckets;
	struct latch **by_id, **by_flow, **by_cookie;
	struct latch *listeners; /* few: a list */
	struct uid_count *uids;	 /* live latches per owner uid, for the per-uid limit */
	struct interned *interned[INTERN_BUCKETS];
	size_t n_uids;
	uint8_t hash_key[16];
	unsigned count[IPC_STATE_LARVAL + 1];
};

/*
 * Policies and identities are 3 KB each, hashed whole for every latch made or
 * re-adopted (100,000 at a restart): eight bytes at a time in four
 * independent lanes, then mixed (murmur3's finaliser) so every input bit
 * reaches the low bits that pick a bucket.
 */
static uint64_t bytes_hash(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h[4] = { 14695981039346656037ull, 1, 2, 3 }, w, x;
	size_t i = 0;

	for (; i + 32 <= n; i += 32) {
		for (int k = 0; k < 4; k++) {
			memcpy(&w, b + i + 8 * k, 8);
			h[k] = (h[k] ^ w) * 1099511628211ull;
			h[k] ^= h[k] >> 29;
		}
	}
	for (; i < n; i++)
		h[0] = (h[0] ^ b[i]) * 1099511628211ull;
	x = h[0] ^ (h[1] * 3) ^ (h[2] * 5) ^ (h[3] * 7) ^ n;
	x = (x ^ x >> 33) * 0xff51afd7ed558ccdull;
	x = (x ^ x >> 33) * 0xc4ceb9fe1a85ec53ull;
	return x ^ x >> 33;
}

static const void *intern(struct latchdb *db, const void *v, size_t size)
{
	uint64_t h = bytes_hash(v, size);
	struct interned **head = &db->interned[h % INTERN_BUCKETS], *e;

	for (e = *head; e; e = e->next) {
		if (e->hash == h && e->size == size && !memcmp(&e->v, v, size)) {
			e->refs++;
			return &e->v;
		}
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->hash = h;
	e->size = size;
	e->refs = 1;
	memcpy(&e->v, v, size);
	e->next = *head;
	*head = e;
	return &e->v;
}

/* The table entry holding v; NULL for the empty defaults, which are not counted. */
static struct interned *entry_of(const void *v)
{
	if (v == &no_policy || v == &no_ident || !v)
		return NULL;
	return (struct interned *)((const char *)v - offsetof(struct interned, v));
}

static void unintern(struct latchdb *db, const void *v)
{
	struct interned **pp, *e = entry_of(v);

	if (!e || --e->refs)
		return;
	for (pp = &db->interned[e->hash % INTERN_BUCKETS]; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	}
	free(e);
}

static const void *ref(const void *v)
{
	struct interned *e = entry_of(v);

	if (e)
		e->refs++;
	return v;
}

int latchdb_set_policy(struct latchdb *db, struct latch *l, const struct latch_policy *p)
{
	const struct latch_policy *v = intern(db, p, sizeof(*p));

	if (!v)
		return -ENOMEM;
	unintern(db, l->pol);
	l->pol = v;
	return 0;
}

int latchdb_set_ident(struct latchdb *db, struct latch *l, bool remote,
		      const struct latch_ident *id)
{
	const struct latch_ident *v = intern(db, id, sizeof(*id));
	const struct latch_ident **slot = remote ? &l->remote : &l->local;

	if (!v)
		return -ENOMEM;
	unintern(db, *slot);
	*slot = v;
	return 0;
}

static void release_values(struct latchdb *db, struct latch *l)
{
	unintern(db, l->pol);
	unintern(db, l->local);
	unintern(db, l->remote);
	l->pol = &no_policy;
	l->local = l->remote = &no_ident;
}

void latchdb_view(struct latchdb *db, const struct latch *l, struct latch *view)
{
	*view = *l;
	ref(view->pol);
	ref(view->local);
	ref(view->remote);
}

void latchdb_view_done(struct latchdb *db, struct latch *view)
{
	release_values(db, view);
}

int latchdb_new(const struct latchdb_ops *ops, void *userdata, struct latchdb **ret)
{
	struct latchdb *db = calloc(1, sizeof(*db));

	if (!db)
		return -ENOMEM;
	db->n_buckets = BUCKETS_MIN;
	db->by_id = calloc(db->n_buckets, sizeof(*db->by_id));
	db->by_flow = calloc(db->n_buckets, sizeof(*db->by_flow));
	db->by_cookie = calloc(db->n_buckets, sizeof(*db->by_cookie));
	if (!db->by_id || !db->by_flow || !db->by_cookie) {
		latchdb_free(db);
		return -ENOMEM;
	}
	db->ops = ops;
	db->u = userdata;
	db->next_id = 1;
	/* A random key keeps local users from choosing flows that collide. */
	if (getrandom(db->hash_key, sizeof(db->hash_key), GRND_NONBLOCK) < 0)
		memset(db->hash_key, 0x5a, sizeof(db->hash_key));
	*ret = db;
	return 0;
}

void latchdb_free(struct latchdb *db)
{
	if (!db)
		return;
	for (size_t b = 0; db->by_id && b < db->n_buckets; b++) {
		struct latch *l = db->by_id[b], *next;

		for (; l; l = next) {
			next = l->next_id;
			free(l);
		}
	}
	free(db->by_id);
	free(db->by_flow);
	free(db->by_cookie);
	free(db->uids);
	for (size_t b = 0; b < INTERN_BUCKETS; b++) {
		for (struct interned *e = db->interned[b], *next; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(db);
}

static size_t id_bucket(const struct latchdb *db, uint64_t id)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 32) % db->n_buckets;
}

static size_t flow_bucket(const struct latchdb *db, const struct flow *f)
{
	return (size_t)(flow_hash(f, db->hash_key) % db->n_buckets);
}

static void link_latch(struct latchdb *db, struct latch *l)
{
	size_t b = id_bucket(db, l->id);
	struct latch **head;

	l->next_id = db->by_id[b];
	db->by_id[b] = l;
	head = l->listener ? &db->listeners : &db->by_flow[flow_bucket(db, &l->flow)];
	l->next_flow = *head;
	*head = l;
	if (l->cookie) {
		b = id_bucket(db, l->cookie);
		l->next_cookie = db->by_cookie[b];
		db->by_cookie[b] = l;
	}
}

/* Keep chains short: double the tables when there are more latches than buckets. */
static int maybe_grow(struct latchdb *db)
{
	struct latch **ids, **flows, **cookies, *all = NULL, *l, *next;
	size_t old = db->n_buckets;

	if (db->n < old)
		return 0;
	ids = calloc(old * 2, sizeof(*ids));
	flows = calloc(old * 2, sizeof(*flows));
	cookies = calloc(old * 2, sizeof(*cookies));
	if (!ids || !flows || !cookies) {
		free(ids);
		free(flows);
		free(cookies);
		return 0; /* longer chains, still correct */
	}
	db->listeners = NULL;
	for (size_t b = 0; b < old; b++) {
		for (l = db->by_id[b]; l; l = next) {
			next = l->next_id;
			l->next_id = all;
			all = l;
		}
	}
	free(db->by_id);
	free(db->by_flow);
	free(db->by_cookie);
	db->by_id = ids;
	db->by_flow = flows;
	db->by_cookie = cookies;
	db->n_buckets = old * 2;
	for (l = all; l; l = next) {
		next = l->next_id;
		link_latch(db, l);
	}
	return 0;
}

static void record(struct latch *l, uint64_t now)
{
	unsigned i = l->n_hist < LATCH_HIST_MAX ? l->n_hist++ : LATCH_HIST_MAX - 1;

	if (i == LATCH_HIST_MAX - 1 && l->n_hist == LATCH_HIST_MAX)
		memmove(&l->hist[0], &l->hist[1], sizeof(l->hist[0]) * (LATCH_HIST_MAX - 1));
	l->hist[i].state = l->state;
	l->hist[i].reason = l->reason;
	l->hist[i].usec = now;
	l->changed_usec = now;
}

/* Link a new latch in, with empty values and its history starting now. */
static struct latch *insert(struct latchdb *db, struct latch *l, uint64_t now)
{
	l->pol = &no_policy;
	l->local = l->remote = &no_ident;
	maybe_grow(db);
	l->created_usec = now;
	record(l, now);
	link_latch(db, l);
	db->n++;
	db->count[l->state]++;
	return l;
}

static struct latch *add(struct latchdb *db, struct latch *l, uint64_t now)
{
	l->id = db->next_id++;
	l->state = l->listener ? IPC_STATE_LISTENER : IPC_STATE_LARVAL;
	return insert(db, l, now);
}

struct latch *latchdb_add(struct latchdb *db, const struct flow *f, uint64_t now)
{
	struct latch *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->flow = *f;
	return add(db, l, now);
}

struct latch *latchdb_adopt(struct latchdb *db, const struct latch *rec, uint64_t now)
{
	struct latch *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	*l = *rec;
	l->cookie = 0; /* linked below */
	l->counted = false;
	l->client = l->core = NULL;
	l->n_hist = 0;
	if (rec->id >= db->next_id)
		db->next_id = rec->id + 1;
	insert(db, l, now); /* the caller sets the values (latchdb_set_*) */
	if (rec->created_usec && rec->created_usec < now) {
		/* its age goes on (journaled): its history starts when it was made */
		l->created_usec = rec->created_usec;
		l->hist[1] = l->hist[0];
		l->hist[0].state = IPC_STATE_LARVAL;
		l->hist[0].reason = IPC_REASON_NONE;
		l->hist[0].usec = rec->created_usec;
		l->n_hist = 2;
	}
	latchdb_set_cookie(db, l, rec->cookie);
	latchdb_set_owner(db, l, &rec->owner);
	return l;
}

struct latch *latchdb_add_listener(struct latchdb *db, const struct flow3 *f, uint64_t now)
{
	struct latch *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->listener = true;
	l->listen = *f;
	return add(db, l, now);
}

static void unlink_from(struct latch **head, struct latch *l, bool by_id)
{
	for (struct latch **pp = head; *pp; pp = by_id ? &(*pp)->next_id : &(*pp)->next_flow) {
		if (*pp == l) {
			*pp = by_id ? l->next_id : l->next_flow;
			return;
		}
	}
}

static void unlink_cookie(struct latchdb *db, struct latch *l)
{
	if (!l->cookie)
		return;
	for (struct latch **pp = &db->by_cookie[id_bucket(db, l->cookie)]; *pp;
	     pp = &(*pp)->next_cookie) {
		if (*pp == l) {
			*pp = l->next_cookie;
			return;
		}
	}
}

void latchdb_set_cookie(struct latchdb *db, struct latch *l, uint64_t cookie)
{
	size_t b;

	unlink_cookie(db, l);
	l->cookie = cookie;
	if (!cookie)
		return;
	b = id_bucket(db, cookie);
	l->next_cookie = db->by_cookie[b];
	db->by_cookie[b] = l;
}

struct latch *latchdb_by_cookie(const struct latchdb *db, uint64_t cookie)
{
	for (struct latch *l = db->by_cookie[id_bucket(db, cookie)]; l; l = l->next_cookie) {
		if (l->cookie == cookie && l->state != IPC_STATE_CLOSED)
			return l;
	}
	return NULL;
}

void latchdb_remove(struct latchdb *db, struct latch *l)
{
	release_values(db, l);
	uncount(db, l);
	unlink_cookie(db, l);
	unlink_from(&db->by_id[id_bucket(db, l->id)], l, true);
	unlink_from(l->listener ? &db->listeners : &db->by_flow[flow_bucket(db, &l->flow)], l,
		    false);
	db->count[l->state]--;
	db->n--;
	free(l);
}

static bool allowed(uint8_t from, uint8_t to)
{
	switch (from) {
	case IPC_STATE_LISTENER:
		return to == IPC_STATE_CLOSED;
	case IPC_STATE_LARVAL:
		return to == IPC_STATE_ESTABLISHED || to == IPC_STATE_BROKEN ||
		       to == IPC_STATE_CLOSED;
	case IPC_STATE_ESTABLISHED:
		return to == IPC_STATE_BROKEN || to == IPC_STATE_CLOSED;
	case IPC_STATE_BROKEN:
		return to == IPC_STATE_ESTABLISHED || to == IPC_STATE_CLOSED;
	default:
		return false;
	}
}

int latchdb_set_state(struct latchdb *db, struct latch *l, uint8_t state, uint16_t reason,
		      uint64_t now)
{
	uint8_t old = l->state;

	if (!allowed(old, state))
		return -EINVAL;
	db->count[old]--;
	db->count[state]++;
	if (state == IPC_STATE_CLOSED)
		uncount(db, l);
	l->state = state;
	l->reason = reason;
	record(l, now);
	if (db->ops && db->ops->changed)
		db->ops->changed(db->u, l, old);
	return 0;
}

struct latch *latchdb_by_id(const struct latchdb *db, uint64_t id)
{
	for (struct latch *l = db->by_id[id_bucket(db, id)]; l; l = l->next_id) {
		if (l->id == id)
			return l;
	}
	return NULL;
}

struct latch *latchdb_by_flow(const struct latchdb *db, const struct flow *f)
{
	for (struct latch *l = db->by_flow[flow_bucket(db, f)]; l; l = l->next_flow) {
		if (l->state != IPC_STATE_CLOSED && flow_equal(&l->flow, f))
			return l;
	}
	return NULL;
}

struct latch *latchdb_listener(const struct latchdb *db, const struct flow3 *f)
{
	for (struct latch *l = db->listeners; l; l = l->next_flow) {
		if (l->state != IPC_STATE_CLOSED && flow3_equal(&l->listen, f))
			return l;
	}
	return NULL;
}

static bool listen_covers(const struct flow3 *l, const struct flow *f)
{
	static const union flow_addr any;

	if (l->proto != f->proto || l->port != f->lport)
		return false;
	if (l->family != AF_UNSPEC && l->family != f->family)
		return false;
	return !memcmp(&l->addr, &any, sizeof(any)) || !memcmp(&l->addr, &f->laddr, sizeof(any));
}

struct latch *latchdb_listener_for(const struct latchdb *db, const struct flow *f)
{
	struct latch *wild = NULL;

	for (struct latch *l = db->listeners; l; l = l->next_flow) {
		if (l->state == IPC_STATE_CLOSED || !listen_covers(&l->listen, f))
			continue;
		if (memcmp(&l->listen.addr, &f->laddr, sizeof(f->laddr)) == 0)
			return l; /* a listener on the very address wins over a wildcard */
		wild = l;
	}
	return wild;
}

unsigned latchdb_count(const struct latchdb *db, uint8_t state)
{
	return state <= IPC_STATE_LARVAL ? db->count[state] : 0;
}

/* Few distinct uids own latches: a short array, searched linearly. */
static struct uid_count *uid_slot(struct latchdb *db, uid_t uid, bool make)
{
	struct uid_count *v;

	for (size_t i = 0; i < db->n_uids; i++) {
		if (db->uids[i].uid == uid)
			return &db->uids[i];
	}
	if (!make || !(v = realloc(db->uids, (db->n_uids + 1) * sizeof(*v))))
		return NULL;
	db->uids = v;
	v[db->n_uids] = (struct uid_count){ uid, 0 };
	return &v[db->n_uids++];
}

static void uncount(struct latchdb *db, struct latch *l)
{
	struct uid_count *u = l->counted ? uid_slot(db, l->owner.uid, false) : NULL;

	if (u && u->n)
		u->n--;
	l->counted = false;
}

void latchdb_set_owner(struct latchdb *db, struct latch *l, const struct ucred *owner)
{
	struct uid_count *u;

	uncount(db, l);
	l->owner = *owner;
	u = uid_slot(db, owner->uid, true);
	if (u) {
		u->n++;
		l->counted = true;
	}
}

unsigned latchdb_count_uid(const struct latchdb *db, uid_t uid)
{
	struct uid_count *u = uid_slot((struct latchdb *)db, uid, false);

	return u ? u->n : 0;
}

void latchdb_each(const struct latchdb *db, bool (*fn)(void *u, struct latch *l), void *u)
{
	for (size_t b = 0; b < db->n_buckets; b++) {
		for (struct latch *l = db->by_id[b]; l; l = l->next_id) {
			if (fn(u, l))
				return;
		}
	}
}

const char *latchdb_state_name(uint8_t state)
{
	const char *name = wire_state_name(state);

	return name ? name : "?";
}

const char *latchdb_reason_name(uint16_t reason)
{
	static const char *const names[] = {
		[IPC_REASON_NONE] = "none",
		[IPC_REASON_SA_CONFLICT] = "conflicting SA",
		[IPC_REASON_SA_GONE] = "SA gone",
		[IPC_REASON_PEER_DEAD] = "peer dead",
		[IPC_REASON_PEER_CHANGED] = "peer changed identity",
		[IPC_REASON_POLICY] = "policy change",
		[IPC_REASON_ADMIN] = "closed by administrator",
		[IPC_REASON_OWNER] = "released by owner",
		[IPC_REASON_KEY_MANAGER] = "key manager restarted",
		[IPC_REASON_DAEMON] = "latchd restarted",
		[IPC_REASON_RESTORED] = "restored",
		[IPC_REASON_NEW_CONNECTION] = "new connection",
		[IPC_REASON_UNLATCHED] = "unlatched",
	};

	return reason < sizeof(names) / sizeof(names[0]) && names[reason] ? names[reason] : "?";
}
