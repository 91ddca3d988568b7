/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_SACACHE_H
#define LATCH_LATCHD_SACACHE_H

/*
 * latchd's picture of charon's SAs (docs/architecture.md, "Identity queries"), built from VICI
 * trees: seeded by list-sas, kept current by ike-updown, child-updown, ike-rekey, child-rekey and
 * ike-update. Every query is answered from memory. Pure: it does no I/O; it tells its owner what
 * changed through callbacks. Its owner sees typed SAs only: what feeds it VICI trees
 * (sacache-feed.h) is charon/'s alone.
 *
 * Pitfalls of charon's VICI handled here: ports printed as service names
 * ("[tcp/http-alt]"), rekeyed children lingering as REKEYED/DELETED (only
 * INSTALLED children carry traffic), authentication failures reported as
 * ike-updown in state CONNECTING (never an up).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "latchd/base/flow.h"

#define SA_TS_MAX   4
#define SA_NAME_MAX 64
#define SA_ID_MAX   256
#define SA_ALG_MAX  48

/* One traffic selector: an address range by prefix, a protocol (0: any), ports. */
struct sa_ts {
	int family;
	uint8_t addr[16];
	uint8_t prefix;
	uint8_t proto;
	uint16_t port_lo, port_hi;
};

int sacache_ts_parse(const char *text, struct sa_ts *ret);
bool sacache_ts_covers(const struct sa_ts *ts, int family, const uint8_t *addr, uint8_t proto,
		       uint16_t port);
/* True when ts is exactly one host and one port of one protocol (an "exact" child). */
bool sacache_ts_is_exact(const struct sa_ts *ts);

struct sa_child {
	uint32_t id; /* charon's CHILD_SA unique id */
	uint32_t ike_id;
	char name[SA_NAME_MAX];
	uint32_t reqid;
	bool installed;
	bool tunnel;
	uint32_t spi_in, spi_out;
	char encr[SA_ALG_MAX]; /* "AES_GCM_16-256" */
	char integ[SA_ALG_MAX];
	unsigned encr_bits, integ_bits;
	struct sa_ts lts[SA_TS_MAX], rts[SA_TS_MAX];
	unsigned n_lts, n_rts;
};

struct sa_ike {
	uint32_t id;
	char name[SA_NAME_MAX]; /* the peer config it was created with */
	bool established;
	bool initiator;
	char local_id[SA_ID_MAX], remote_id[SA_ID_MAX];
	char local_host[48], remote_host[48];
	char encr[SA_ALG_MAX], prf[SA_ALG_MAX], dh[SA_ALG_MAX];
};

struct sacache_ops {
	void (*ike_up)(void *u, const struct sa_ike *ike);
	void (*ike_down)(void *u, const struct sa_ike *ike);
	/* A child was installed; conflicts are judged by the owner. */
	void (*child_up)(void *u, const struct sa_ike *ike, const struct sa_child *c);
	/* A child is gone (deleted, expired, its IKE_SA gone) with no successor. */
	void (*child_down)(void *u, const struct sa_ike *ike, const struct sa_child *c);
	/* An IKE_SA was rekeyed: nu replaces old_id (reported before nu's ike_up). */
	void (*ike_rekeyed)(void *u, uint32_t old_id, const struct sa_ike *nu);
	/* A child was rekeyed: congruent, old_id is replaced by c. */
	void (*child_rekeyed)(void *u, uint32_t old_id, const struct sa_ike *ike,
			      const struct sa_child *c);
};

struct sacache;

int sacache_new(const struct sacache_ops *ops, void *userdata, struct sacache **ret);
void sacache_free(struct sacache *c);

/* Forget everything (charon restarted), reporting every child and IKE_SA as down. */
void sacache_clear(struct sacache *c);

const struct sa_ike *sacache_ike(const struct sacache *c, uint32_t id);
const struct sa_child *sacache_child(const struct sacache *c, uint32_t id);

/*
 * Visit every INSTALLED child whose selectors cover the flow (in both
 * directions: local selectors the flow's local end), in no particular
 * order. The visitor returns true to stop. Returns the number visited.
 */
typedef bool (*sacache_visit_fn)(void *u, const struct sa_ike *ike, const struct sa_child *c);
unsigned sacache_covering(const struct sacache *c, const struct flow *f, sacache_visit_fn fn,
			  void *u);

/* Do the child's selectors cover the flow (its local end on the local side)? */
bool sacache_child_covers(const struct sa_child *c, const struct flow *f);

/* True when the child's selectors carry only this one flow (R20: otherwise the QoP is shared). */
bool sacache_child_is_exact(const struct sa_child *c, const struct flow *f);

unsigned sacache_count_ike(const struct sacache *c);
unsigned sacache_count_children(const struct sacache *c);

/* Visit every installed child of an IKE_SA. */
void sacache_each_child(const struct sacache *c, uint32_t ike_id,
			void (*fn)(void *u, const struct sa_child *ch), void *u);

/* The first child in the cache that want accepts; NULL if none. */
const struct sa_child *sacache_child_with(const struct sacache *c,
					  bool (*want)(const void *u, const struct sa_child *ch),
					  const void *u);

/* Visit every established IKE_SA (latchctl peers). */
void sacache_each_ike(const struct sacache *c, void (*fn)(void *u, const struct sa_ike *ike),
		      void *u);

#endif
