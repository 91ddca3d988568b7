/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_PINS_H
#define LATCH_LATCHD_PINS_H

/*
 * Leap-of-faith pins (RFC 5387 §5.7): the key a BTNS peer showed on first
 * contact, by the name or address the application used for it. Kept in the
 * data directory (/var/lib/latch, not /run: a pin must survive a reboot, or
 * a man in the middle after the reboot would be a "first contact"), one line
 * per pin, "<SHA-256 of the SPKI, hex> <unix time pinned> <name>", rewritten
 * atomically on every change. At most PINS_MAX pins: past it no new pin is
 * made (and the contact is refused, never accepted unpinned).
 *
 * pins_format_line/pins_parse_line are pure; the rest does plain file I/O.
 */

#include <stddef.h>
#include <stdint.h>

#include "shared/proto.h"

#define PINS_MAX      4096
#define PINS_FILE     "pins"
#define PINS_NAME_MAX IPC_DN_MAX

struct pin {
	char name[PINS_NAME_MAX + 1];
	uint8_t spki[IPC_SHA256_LEN];
	uint64_t when; /* unix seconds */
};

/* "hex when name" (no newline). -ENOSPC when it does not fit. */
int pins_format_line(const struct pin *p, char *buf, size_t len);
/* The reverse; -EINVAL on anything malformed (names with control characters too). */
int pins_parse_line(const char *line, struct pin *ret);

struct pins;

/* Read dir's pins (none yet is fine). 0 or -errno. */
int pins_open(const char *dir, struct pins **ret);
void pins_free(struct pins *ps);

/* The pin named name, or NULL. Borrowed until the next change. */
const struct pin *pins_find(const struct pins *ps, const char *name);
/*
 * Add (or replace) a pin and save. -ENOSPC at PINS_MAX, or the write's
 * -errno: the pin is then kept in memory all the same, so that it guards
 * the peer until latchd restarts.
 */
int pins_add(struct pins *ps, const char *name, const uint8_t spki[IPC_SHA256_LEN], uint64_t when);
/* Forget a pin and save. -ENOENT when there is none of that name; on the write's -errno, kept. */
int pins_del(struct pins *ps, const char *name);
size_t pins_count(const struct pins *ps);
/* The i-th pin (0 ≤ i < pins_count), in the order they were made. */
const struct pin *pins_at(const struct pins *ps, size_t i);

#endif
