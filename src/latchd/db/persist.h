/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_PERSIST_H
#define LATCH_LATCHD_PERSIST_H

/*
 * What latchd keeps of its latches across its own restart (RFC 5660 R16,
 * docs/architecture.md, "Restarts"): a journal in the state directory (under /run, so a reboot
 * clears it, R24), one text line per change: "+ <record>" when a latch is
 * established, listening or changes state, "- <id>" when a journaled latch
 * ends (a latch never journaled leaves no line). At start the journal is
 * replayed (the last line of an id wins) and rewritten compactly, in time
 * linear in its length (a hash by id); while latchd runs it is rewritten the
 * same way whenever its dead lines outnumber the live ones, so it holds at
 * most 2 × the live records + PERSIST_SLACK lines. A record holds what
 * re-adoption needs and nothing the kernel or charon can tell again: the flow
 * and the owner's socket (cookie), the latched peer (identity and key), the
 * latched protection and the token's choices that matter afterwards.
 *
 * persist_format, persist_parse and persist_squash are pure; the file
 * functions do plain I/O.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "latchd/db/latchdb.h"

/*
 * The longest record: three identities (the token's peer and CA, the peer's
 * own) of IPC_DN_MAX bytes and two algorithm names, every byte escaped as
 * %XX, and the rest (numbers, addresses, the key: under 512). Any record a
 * client or a peer can bring about fits, so none is left unjournaled.
 */
#define PERSIST_LINE_MAX (3 * 3 * IPC_DN_MAX + 2 * 3 * sizeof(((struct latch_sa *)0)->encr) + 512)
/* Lines beyond 2 × the live records before the journal is compacted. */
#define PERSIST_SLACK 64

/* One record as a line (no newline). -ENOSPC if it does not fit. */
int persist_format(const struct latch *l, char *buf, size_t len);

/*
 * A parsed record: the latch (id, state, flow or listener, cookie, owner,
 * latched protection) with the policy parts and remote identity it points to
 * beside it (l.pol, l.remote, l.local point into the record; local is empty).
 */
struct persist_rec {
	struct latch l;
	struct latch_policy pol;
	struct latch_ident remote, local;
};

/* Parse a record. -EINVAL on anything malformed; *ret holds nothing usable then. */
int persist_parse(const char *line, struct persist_rec *ret);

/*
 * The journal's text buf (size bytes) squashed: the last record of each id
 * that no "- id" ended, one line each, in the journal's order, into *ret
 * (malloc'd, *len bytes; the caller frees it). Lines that do not parse are
 * skipped. *lines gets the number of lines buf holds. 0 or -ENOMEM.
 */
int persist_squash(const char *buf, size_t size, char **ret, size_t *len, size_t *lines);

struct persist;

/*
 * Open (create) the journal in dir, which is created with mode if missing.
 * -EPERM if dir is not latchd's own (another owner, or writable by group or
 * others); a symbolic link in the place of dir (-ENOTDIR) or of the journal
 * (-ELOOP) is never followed.
 */
int persist_open(const char *dir, mode_t mode, struct persist **ret);
void persist_close(struct persist *p);

/*
 * Append "+ record" or "- id" (nothing for an id not journaled), compacting
 * when due. Errors are returned, not fatal: /run may be full.
 */
int persist_put(struct persist *p, const struct latch *l);
int persist_del(struct persist *p, uint64_t id);

/*
 * Replay: rewrite the journal with the latches still alive in it (records
 * the journal's own format can read; other lines are skipped), then call fn
 * for each, which may persist_put or persist_del it. Returns the number of
 * records, or -errno.
 */
int persist_load(struct persist *p, void (*fn)(void *u, const struct persist_rec *r), void *u);

#endif
