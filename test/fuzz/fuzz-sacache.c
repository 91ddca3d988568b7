/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the meaning of charon's events (sacache_feed in
 * src/latchd/charon/sacache.c). The input is a byte stream as it would arrive on
 * the event connection: length-prefixed VICI frames; each EVENT is fed to
 * one cache under its name (list-sa entries too), in order, then the cache
 * is cleared as when charon goes away. The callbacks keep a model of what
 * the owner was told. Properties, each by abort():
 * - the owner's picture and the cache agree after every event: a child is
 *   in the cache exactly when it was reported up (or rekeyed to) and not
 *   down since, and the same for IKE_SAs;
 * - every child in the cache belongs to an IKE_SA in the cache (the core
 *   finds a child's peer through it);
 * - after sacache_clear nothing is left and everything was reported down.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "latchd/charon/sacache-feed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MODEL_MAX 4096

struct ids {
	uint32_t v[MODEL_MAX];
	size_t n;
};

struct model {
	struct ids ikes, children;
	struct sacache *cache;
};

static void ids_add(struct ids *s, uint32_t id)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i] == id)
			return;
	}
	if (s->n == MODEL_MAX)
		abort(); /* the input is bounded well below this */
	s->v[s->n++] = id;
}

static void ids_del(struct ids *s, uint32_t id)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i] == id) {
			s->v[i] = s->v[--s->n];
			return;
		}
	}
}

static void ike_up(void *u, const struct sa_ike *ike)
{
	ids_add(&((struct model *)u)->ikes, ike->id);
}

static void ike_down(void *u, const struct sa_ike *ike)
{
	ids_del(&((struct model *)u)->ikes, ike->id);
}

static void child_up(void *u, const struct sa_ike *ike, const struct sa_child *c)
{
	if (!ike || ike->id != c->ike_id)
		abort();
	ids_add(&((struct model *)u)->children, c->id);
}

static void child_down(void *u, const struct sa_ike *ike, const struct sa_child *c)
{
	ids_del(&((struct model *)u)->children, c->id);
}

static void child_rekeyed(void *u, uint32_t old_id, const struct sa_ike *ike,
			  const struct sa_child *c)
{
	struct model *m = u;

	if (!ike || ike->id != c->ike_id)
		abort();
	ids_del(&m->children, old_id);
	ids_add(&m->children, c->id);
}

static void check(const struct model *m)
{
	if (sacache_count_ike(m->cache) != m->ikes.n ||
	    sacache_count_children(m->cache) != m->children.n)
		abort();
	for (size_t i = 0; i < m->ikes.n; i++) {
		if (!sacache_ike(m->cache, m->ikes.v[i]))
			abort();
	}
	for (size_t i = 0; i < m->children.n; i++) {
		const struct sa_child *c = sacache_child(m->cache, m->children.v[i]);

		if (!c || !sacache_ike(m->cache, c->ike_id))
			abort();
	}
}

static void feed_frame(struct model *m, const uint8_t *frame, size_t len)
{
	struct vici_node *msg = NULL;
	struct vici_packet pkt;
	struct vici_err err;

	if (vici_packet_decode(frame, len, &pkt, &err) < 0 || pkt.type != VICI_EVENT ||
	    vici_msg_decode(pkt.msg, pkt.msg_len, &msg, &err) < 0)
		return;
	(void)sacache_feed(m->cache, pkt.name, msg);
	vici_node_free(msg);
	check(m);
}

static const struct sacache_ops ops = {
	.ike_up = ike_up,
	.ike_down = ike_down,
	.child_up = child_up,
	.child_down = child_down,
	.child_rekeyed = child_rekeyed,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct model m; /* large: not on the stack */
	struct vici_err err;
	uint32_t len;

	m.ikes.n = m.children.n = 0;
	if (size > 65536 || sacache_new(&ops, &m, &m.cache) < 0)
		return 0;
	while (size >= 4) {
		if (vici_frame_len(data, &len, &err) < 0 || len > size - 4)
			break;
		feed_frame(&m, data + 4, len);
		data += len + 4;
		size -= len + 4;
	}
	sacache_clear(m.cache);
	check(&m);
	if (m.ikes.n || m.children.n)
		abort();
	sacache_free(m.cache);
	return 0;
}
