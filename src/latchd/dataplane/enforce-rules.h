/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_ENFORCE_RULES_H
#define LATCH_LATCHD_ENFORCE_RULES_H

/*
 * The netlink messages of enforce.c, built without I/O so the unit tests
 * can read them back: the table with its sets, counters, chains and rules,
 * and set elements for each operation.
 */

#include <stdbool.h>

#include "latchd/dataplane/enforce.h"
#include "latchd/dataplane/nft.h"

/* Counter object names, in the order of struct enforce_counters. */
extern const char *const enforce_counter_names[7];

/* Set names: the family's suffix is "4" or "6". */
#define ENFORCE_SET_NAME_MAX 16

/*
 * The whole ruleset into b. replace: delete any table of that name first
 * (same transaction: no instant without rules). Otherwise existing sets,
 * elements and counters stay and only the chains' rules are replaced. The
 * rules are cfg->data_plane's (enforce-plane.h), which must be resolved:
 * AUTO or no plane is -EINVAL.
 */
int enforce_rules_build(struct nft_batch *b, const struct enforce_config *cfg, bool replace);

/* A DELTABLE for cfg->table. */
int enforce_rules_build_delete(struct nft_batch *b, const struct enforce_config *cfg);

/* The element messages of ops; -EINVAL on a bad op (family, protocol, kind). */
int enforce_elems_build(struct nft_batch *b, const char *table, const struct enforce_op *ops,
			size_t n);

#endif
