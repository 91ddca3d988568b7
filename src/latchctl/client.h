/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHCTL_CLIENT_H
#define LATCH_LATCHCTL_CLIENT_H

/*
 * latchctl's connection to latchd: blocking, one request at a time. A call
 * sends a request and collects its reply (or, for dumps, every entry up to
 * the bare end); ALERTs arriving meanwhile are handed to the watch callback.
 */

#include <stdbool.h>
#include <stdint.h>

#include "shared/buf.h"
#include "shared/wire.h"

struct ctl_client {
	int fd;
	uint32_t seq;
	char error[IPC_MESSAGE_MAX + 1]; /* latchd's words for the last failure */
	uint8_t rbuf[IPC_MSG_MAX];
	unsigned skipped; /* dump entries and ALERTs that did not parse: the rest are shown */
	char skip_why[IPC_MESSAGE_MAX + 1];
};

/* Connect and say HELLO. 0 or -errno (error text in c->error). */
int ctl_connect(struct ctl_client *c, const char *path);
void ctl_close(struct ctl_client *c);

/* Start a request of type into b (owned by the caller, IPC_MSG_MAX bound). */
void ctl_begin(struct ctl_client *c, struct buf *b, uint16_t type);

/*
 * Send b, then call on_entry for the reply (or for each dump entry) with the
 * parsed message. Returns the reply's status (0 or -errno), or the first
 * non-zero value on_entry returns. A dump entry (or an ALERT) that does not
 * parse is counted in c->skipped (why in c->skip_why), not the end of the
 * listing.
 */
typedef int (*ctl_entry_fn)(void *u, const struct wire_msg *m);
int ctl_call(struct ctl_client *c, const struct buf *b, ctl_entry_fn on_entry, void *u);

/* Wait for the next ALERT (timeout_ms < 0: forever). 1 and *m, 0 on timeout, or -errno. */
int ctl_next_event(struct ctl_client *c, int timeout_ms, struct wire_msg *m);

#endif
