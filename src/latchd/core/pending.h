/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_CORE_PENDING_H
#define LATCH_LATCHD_CORE_PENDING_H

/*
 * Requests that wait on charon: a latch waiting for its SA (CONNECT, LATCH,
 * an attached socket's first packet), for its peer's certificate (also
 * ACCEPT), or a listener waiting for its responder connection to load
 * (LISTEN). This module keeps the set of them, each one's timer, the life of
 * the request it answers (held with control_request_hold(), cancelled when
 * its client goes away) and, where the owner asks, a copy of the latch's
 * socket. What an entry waits for and how it is answered are its owner's
 * (the core's): the set tells it through pending_ops and never reads the
 * latch, the connection or the flags.
 *
 * Pitfalls:
 * - An entry ends with pending_free() only, also when its time is up or its
 *   client went away: the ops say so, the owner answers and frees it.
 * - pending_each()'s callback may free the entry it is given, and no other.
 * - A request still the entry's when it is freed gets -ECANCELED ("latchd is
 *   stopping"): answer it first, with pending_take_request().
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "latchd/base/event.h"

struct latch;
struct conn;
struct request;
struct pending_set;

struct pending {
	struct latch *latch; /* what waits; NULL once it is being answered */
	struct request *req; /* the request to answer; NULL: none, or its client is gone */
	int sock;	     /* a copy of the socket given to pending_new(), or -1 */
	uint64_t id;	     /* unique in its set, never reused */
	/* the owner's, never read here */
	struct conn *conn; /* the connection it waits on, let go of by ops->release */
	bool responder;	   /* never initiates: the peer brought the SA (ACCEPT) */
	bool initiated;	   /* an initiate was sent */
	bool connected;	   /* the socket has a connection: reset it if the latch fails */
	/* the set's */
	struct pending_set *set;
	struct ev_source *timer;
	struct pending *next;
};

struct pending_ops {
	/* p's time is up: answer it and free it. */
	void (*expired)(void *u, struct pending *p);
	/* p's client went away (p->req is NULL already): answer what waits and free it. */
	void (*cancelled)(void *u, struct pending *p);
	/* p is being freed: let go of what the owner hung on it. May be NULL. */
	void (*release)(void *u, struct pending *p);
};

/* Every entry gets timeout_usec from its creation (the loop's clock). */
int pending_set_new(struct ev_loop *loop, uint64_t timeout_usec, const struct pending_ops *ops,
		    void *u, struct pending_set **ret);
/*
 * Every entry freed (pending_free()): waiting requests get -ECANCELED. The
 * set stays, empty, for what its owner's other parts still ask while they
 * stop (charon's client fails its outstanding commands: their callbacks
 * walk the set).
 */
void pending_free_all(struct pending_set *s);
/* pending_free_all(), then the set itself. NULL: nothing. */
void pending_set_free(struct pending_set *s);

/*
 * A new entry for latch l answering req (NULL: none), keeping a copy of sock
 * (-1: none), held on req's client. -EAGAIN: the client has its limit of
 * waiting requests (control_request_hold()); -ENOMEM, or -errno of the copy.
 * On failure nothing is left: no timer, no copy, req not held.
 */
int pending_new(struct pending_set *s, struct latch *l, struct request *req, int sock,
		struct pending **ret);
/* Forget p: its timer, its copy of the socket, the owner's part (ops->release). */
void pending_free(struct pending *p);

/* p's request, no longer p's (no cancel, no answer at pending_free()); NULL when none. */
struct request *pending_take_request(struct pending *p);

struct pending *pending_of_latch(const struct pending_set *s, const struct latch *l);
struct pending *pending_by_id(const struct pending_set *s, uint64_t id);
/* fn on every entry, newest first; fn may free the entry it is given, and no other. */
void pending_each(struct pending_set *s, void (*fn)(void *u, struct pending *p), void *u);
size_t pending_count(const struct pending_set *s);

#endif
