/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_CONTROL_H
#define LATCH_LATCHD_CONTROL_H

/*
 * The control socket: where liblatch and latchctl talk to latchd. This module
 * owns the untrusted side (docs/architecture.md, "Privilege"): it accepts clients, records
 * their credentials (SO_PEERCRED), enforces per-uid limits on connections and
 * pending requests, receives each packet with at most one socket
 * (SCM_RIGHTS), validates it with the pure codec (src/shared/wire.c) and
 * only then hands a typed request to the core. Every refusal is a reply with
 * a specific -errno and a message; the connection stays usable.
 *
 * A request is answered at once or later (requests that wait for charon):
 * the handler keeps the struct request and calls control_reply_*() when the
 * answer is known. If the client goes away first, the request's cancel
 * callback runs and the request is freed.
 *
 * No call of this module frees a client from inside a caller's frame: a
 * client whose socket fails, or that reads too slowly, is marked gone (its
 * requests' client becomes NULL, sends to it do nothing) and is freed by a
 * deferred callback of the event loop, where cancel and client_gone run.
 * So a reply, an ALERT or a close may fail any client without freeing what
 * its caller holds.
 *
 * Limits (each refusal closes what it refuses, each keeps a way in for root
 * and the admin group): connections per uid and in total, a reserve of
 * connections only administrators may use, pending requests per uid, and
 * the memory queued for clients that do not read, per uid and for all
 * users together, counted as allocated.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "latchd/base/event.h"
#include "shared/buf.h"
#include "shared/wire.h"

struct control;
struct client;

struct request {
	struct client *client; /* NULL once the client is gone */
	struct ucred cred;
	bool admin;	     /* root or the admin group, decided once at connect time */
	struct wire_msg msg; /* valid only during the handler call */
	int fd;		     /* the passed socket or -1; closed after the handler unless taken */
	uint16_t type;
	uint32_t seq;
	/* Set by a handler that answers later; called if the client goes away. */
	void (*cancel)(struct request *req);
	void *data;
};

struct control_ops {
	/*
	 * The core's request handler. Return 0 when it replied or will reply
	 * later (after control_request_hold()), or -errno with a message in err
	 * to have the control module reply with that error.
	 */
	int (*handle)(void *core, struct request *req, char *err, size_t errlen);
	/* A client went away: forget every pointer to it. */
	void (*client_gone)(void *core, struct client *cl);
};

struct control_config {
	const char *path;
	unsigned max_clients_per_uid; /* administrators: not counted */
	unsigned max_clients;	      /* in all, administrators' reserve included */
	unsigned admin_clients;	      /* of max_clients, kept for administrators */
	unsigned max_pending_per_uid; /* administrators: not counted */
	size_t max_queued_per_uid;    /* bytes allocated for unread replies and events */
	size_t max_queued;	      /* the same for all users but administrators */
	gid_t admin_gid;	      /* as primary or supplementary group; (gid_t)-1: none */
};

int control_new(struct ev_loop *loop, const struct control_config *cfg,
		const struct control_ops *ops, void *core, struct control **ret);
void control_free(struct control *c);

/* The handler keeps req past its return; returns -EAGAIN over the pending limit. */
int control_request_hold(struct request *req);

/*
 * Replies. control_reply_begin() gives a buffer holding the reply header
 * (the request's type, F_REPLY plus flags, its seq); add attributes, then
 * control_reply_send(). flags IPC_F_MORE makes a dump entry: send as many as
 * there are, then a reply without it, which ends the request (a held one is
 * freed by that send).
 */
struct buf *control_reply_begin(struct request *req, uint16_t flags);
int control_reply_send(struct request *req);
int control_reply_error(struct request *req, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Does the requester act with an administrator's rights: root, or the admin
 * group as its primary or a supplementary group when it connected?
 */
bool control_is_admin(const struct request *req);
/* Did the requester ask for feature (IPC_FEATURE_*) in its HELLO, and get it? */
bool control_has_feature(const struct request *req, uint64_t feature);

/* Send an event (ALERT) to one client, and to every watcher allowed to see uid's latches. */
void control_send_event(struct control *c, struct client *to, uid_t owner_uid, uint64_t latch_id,
			const struct buf *msg);

/*
 * Something latch info shows of latch_id changed: count it in the owning
 * client's generation page, if it has one (IPC_FEATURE_GEN_PAGE); cl may be
 * NULL. control_latch_generation() gives the slot's value for a reply, false
 * when the client has no page.
 */
void control_latch_changed(struct client *cl, uint64_t latch_id);
bool control_latch_generation(const struct client *cl, uint64_t latch_id, uint64_t *ret);

/* Make a client a watcher of all latches it may see (latch_id 0) or one latch. */
void control_client_watch(struct client *cl, bool on, uint64_t latch_id);

unsigned control_client_count(const struct control *c);

#endif
