/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_CORE_H
#define LATCH_LATCHD_CORE_H

/*
 * The daemon's core: where latches meet SAs. It owns the latch database,
 * the SA cache and the connections latchd loads into charon; it takes typed
 * requests from the control module, follows charon's events, judges every
 * SA against every latch it could carry (congruent, conflicting), breaks
 * latches and applies their disposition, and tells owners (ALERT).
 *
 * Files: core.c (life cycle, charon's events, what the judge is told),
 * judge.c (judging an SA against a latch: pure), core-charon.c (what latchd
 * loads into charon and initiates), dispatch.c (the table of request
 * handlers and the list of features), core-req.c and core-admin.c (the
 * requests), pending.c and core-wait.c (requests waiting on charon),
 * core-info.c (latch info on the wire); the features attach, BTNS, linger
 * and adopt (core-*.c) hook into the life cycle (core-int.h, struct
 * core_feature). docs/architecture.md, "The core, inside", draws who calls
 * whom.
 */

#include <stdbool.h>
#include <stdint.h>

#include "latchd/base/config.h"
#include "latchd/base/event.h"

struct core;

int core_new(struct ev_loop *loop, const struct config *cfg, struct core **ret);
/* keep: a restart is coming, leave the enforcement in place (flows stay fail-closed). */
void core_free(struct core *c, bool keep);
/*
 * One line for systemd's STATUS= (latchctl status says more): "charon
 * reachable; 2 latches (1 established, 1 listener)", or "charon unreachable:
 * cannot connect to charon's VICI socket /run/charon.vici: ...; 0 latches".
 */
void core_status_text(struct core *c, char *buf, size_t len);

#endif
