/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_CONTROL_INT_H
#define LATCH_LATCHD_CONTROL_INT_H

/*
 * Inside the control module: control.c (requests, replies, events, the life
 * of a client) and control-accept.c (the listening socket and who may
 * connect) share these.
 */

#include "latchd/control/control.h"

/* Packets up to this size are read whole, so oversized ones get a proper -EMSGSIZE reply. */
#define RECV_MAX (4 * IPC_MSG_MAX)

/*
 * A request lives until its last reply is sent (done) and no frame uses it
 * (busy: dispatch() is still in its handler). A held one is on its client's
 * list (holder) until then, so that the client's teardown can cancel it.
 */
struct req_impl {
	struct request pub;
	struct buf reply;
	bool held, done, busy;
	struct client *holder;
	struct req_impl *next; /* in the holder's list */
};

struct client {
	struct control *ctl;
	int fd;
	struct ucred cred;
	bool admin;
	struct ev_source *src; /* NULL once gone */
	const char *gone;      /* why it is gone, or NULL: freed by reap() */
	bool hello;
	uint64_t features; /* IPC_FEATURE_* granted in HELLO */
	bool watch;
	uint64_t watch_id;
	unsigned n_held;
	struct req_impl *held;
	struct req_impl *dispatching;	  /* the request being handled, if any */
	struct outmsg *outq, **outq_tail; /* replies and events the socket had no room for */
	size_t queued;			  /* bytes allocated for outq */
	uint64_t *gen; /* the generation page shared with the client (IPC_FEATURE_GEN_PAGE) */
	struct client *next;
};

struct outmsg {
	struct outmsg *next;
	size_t len;
	uint8_t data[];
};

struct control {
	struct ev_loop *loop;
	int fd;
	struct ev_source *src, *resume, *reaper;
	struct control_config cfg;
	struct control_ops ops;
	void *core;
	struct client *clients;
	unsigned n_clients, n_admins;
	size_t queued_users;	 /* bytes allocated for the queues of non-administrators */
	uint64_t refused_logged; /* when a refused connection was last logged */
	unsigned refused_quiet;	 /* refused since, not logged */
	uint8_t rbuf[RECV_MAX];
};

/* A new client's socket: read and dispatch its packets, flush its queue (control.c). */
int control_client_read(struct ev_source *s, int fd, uint32_t revents, void *userdata);

/* The listening socket (control-accept.c): opened, its accept callback, and closed. */
int control_listen(struct control *c);
void control_unlisten(struct control *c);

#endif
