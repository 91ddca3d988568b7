/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_VICI_H
#define LATCH_LATCHD_VICI_H

/*
 * A non-blocking VICI client on the daemon's event loop.
 *
 * Two connections to charon: one for commands, one for event subscriptions.
 * VICI has no sequence numbers, so the command connection carries one
 * command at a time and queues the rest (FIFO). Streamed results (list-sa,
 * list-conn, list-cert, list-policy, list-authority, control-log) are
 * registered once per connection and collected into the command in flight.
 *
 *	static const char *const events[] = { "ike-updown", "child-updown", NULL };
 *	struct vici_client_config cfg = { .path = "/run/charon.vici", .events = events };
 *	vici_client_new(loop, &cfg, &ops, ctx, &vc);
 *	// ops.up(ctx, resync) once both connections are ready: (re)read the state
 *	vici_call(vc, "list-sas", NULL, 0, on_list, ctx, NULL);
 *	// ops.event(ctx, "child-updown", msg) for every subscribed event
 *	// ops.down(ctx, err, why) as soon as charon goes away; it reconnects by itself
 *
 * Events that arrive before every registration is confirmed are queued and
 * delivered right after ops.up. When charon goes away, ops.down is called at
 * once, every queued command fails with -ECONNRESET, vici_call() refuses new
 * ones with -ENOTCONN until ops.up, and the client reconnects with
 * exponential backoff. Nothing blocks and nothing sleeps.
 *
 * Not thread-safe. Callbacks may call vici_call() and vici_cancel(), but must
 * not free the client.
 */

#include <stdbool.h>
#include <stdint.h>

#include "latchd/base/event.h"
#include "latchd/charon/vici-msg.h"

struct vici_client;

struct vici_client_config {
	const char *path;	   /* charon's VICI socket (a UNIX socket path) */
	const char *const *events; /* NULL-terminated names to subscribe to; NULL: none */
	uint64_t timeout_usec;	   /* default per-command timeout; 0: 30 s */
	uint64_t backoff_min_usec; /* first reconnect delay; 0: 50 ms */
	uint64_t backoff_max_usec; /* delays double up to this; 0: 5 s */
	size_t stream_max;	   /* bytes of streamed events per command; 0: 64 MiB */
};

struct vici_client_ops {
	/*
	 * Both connections are up and every event is registered. resync is
	 * false only the first time: after a reconnect the caller's picture of
	 * charon is stale (SAs may be gone or new) and must be rebuilt.
	 * unknown_events counts subscribed events charon refused (EVENT_UNKNOWN).
	 */
	void (*up)(void *userdata, bool resync, unsigned unknown_events);
	/* charon went away (or broke the protocol); err: -ECONNRESET, -EBADMSG, -ETIMEDOUT, … */
	void (*down)(void *userdata, int err, const char *why);
	/* A subscribed event; msg is borrowed for the duration of the call. */
	void (*event)(void *userdata, const char *name, const struct vici_node *msg);
};

struct vici_result {
	/*
	 * 0, or: -ETIMEDOUT (no reply in time), -ECONNRESET (charon went away),
	 * -EOPNOTSUPP (charon knows no such command), -E2BIG (streamed results
	 * over stream_max), -ECANCELED (client freed), -ENOMEM.
	 * A command charon ran but refused is not an error here: see its
	 * "success"/"errmsg" keys (vici-cmd.h does that).
	 */
	int err;
	const char *errmsg;		/* never NULL */
	const struct vici_node *reply;	/* the CMD_RESPONSE message; NULL when err */
	const struct vici_node *stream; /* one section per streamed event, named after it */
};

typedef void (*vici_reply_fn)(void *userdata, const struct vici_result *res);

int vici_client_new(struct ev_loop *loop, const struct vici_client_config *cfg,
		    const struct vici_client_ops *ops, void *userdata, struct vici_client **out);
/* Fails every queued command with -ECANCELED, closes both connections; NULL-safe. */
void vici_client_free(struct vici_client *c);
bool vici_client_is_up(const struct vici_client *c);
/*
 * Why charon is unreachable (NULL while both connections are open, even
 * before every event is registered): the last failed connect with
 * the socket's path and errno ("cannot connect to charon's VICI socket
 * /run/charon.vici: No such file or directory"), or why charon went away.
 */
const char *vici_client_error(const struct vici_client *c);

/*
 * Queue command cmd with message msg (consumed, even on failure; NULL: an
 * empty message). timeout_usec 0 uses the default. cb is called exactly once,
 * later, never from inside vici_call(). *id (optional) names the call for
 * vici_cancel(). Returns 0, or -ENOTCONN while charon is unreachable,
 * -EMSGSIZE/-ENAMETOOLONG/-EINVAL for a message that cannot be encoded,
 * -ENOMEM; then cb is never called.
 */
int vici_call(struct vici_client *c, const char *cmd, struct vici_node *msg, uint64_t timeout_usec,
	      vici_reply_fn cb, void *userdata, uint64_t *id);

/* Forget the callback of call id: it will not be called. A sent command still runs. */
int vici_cancel(struct vici_client *c, uint64_t id);

#endif
