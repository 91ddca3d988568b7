/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_SACACHE_FEED_H
#define LATCH_LATCHD_SACACHE_FEED_H

/*
 * Feeding the SA cache (sacache.h) from VICI trees: charon/'s side of it
 * (charon.c feeds events and list-sas; the tests and the fuzzer feed it
 * directly). The core reads the cache's typed SAs and never includes this.
 */

#include "latchd/charon/sacache.h"
#include "latchd/charon/vici-msg.h"

/* Feed one VICI event (or one list-sa stream entry, name "list-sa"). 0 or -EBADMSG. */
int sacache_feed(struct sacache *c, const char *event, const struct vici_node *msg);

#endif
