/* SPDX-License-Identifier: MIT */
/*
 * Blocking VICI calls for the baselines, over latchd's own client (so the
 * baseline pays the same encoding and parsing latchd does), and a listener
 * for child-updown: the moment charon reports an SA up or down.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bench.h"
#include "latchd/base/event.h"
#include "latchd/charon/vici-cmd.h"
#include "latchd/charon/vici.h"

struct waiter {
	bool done;
	int err;
	size_t n;
};

struct vsync {
	struct ev_loop *loop;
	struct vici_client *vc;
	bool up;
	struct vsync_event last;
	struct waiter async; /* the command sent without waiting */
	uint64_t fd_usec;    /* when the watched socket reported an error */
	int fd_err;
};

static void on_up(void *u, bool resync, unsigned unknown)
{
	((struct vsync *)u)->up = true;
}

static void on_down(void *u, int err, const char *why)
{
	((struct vsync *)u)->up = false;
}

static void on_event(void *u, const char *name, const struct vici_node *msg)
{
	struct vsync *v = u;
	uint64_t t = now_usec();
	struct vici_ike_sa *sas;
	size_t n;

	if (strcmp(name, "child-updown") || vici_ike_sas_parse(msg, 0, &sas, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < sas[i].n_children; k++) {
			v->last = (struct vsync_event){ t, vici_get_yes(msg, "up"),
							sas[i].children[k].uniqueid,
							v->last.count + 1 };
		}
	}
	vici_ike_sas_free(sas, n);
}

static const struct vici_client_ops ops = { on_up, on_down, on_event };

void vsync_pump(struct vsync *v, int64_t usec)
{
	ev_run_once(v->loop, usec);
}

static int wait_for(struct vsync *v, struct waiter *w)
{
	while (!w->done)
		ev_run_once(v->loop, 1000000);
	return w->err;
}

int vsync_new(const char *path, struct vsync **ret)
{
	static const char *const events[] = { "child-updown", NULL };
	struct vici_client_config cfg = { .path = path, .events = events };
	struct vsync *v = calloc(1, sizeof(*v));
	uint64_t deadline = now_usec() + 10000000u;

	if (!v || ev_loop_new(&v->loop) < 0 || vici_client_new(v->loop, &cfg, &ops, v, &v->vc) < 0)
		return -ENOMEM;
	while (!v->up && now_usec() < deadline)
		ev_run_once(v->loop, 100000);
	if (!v->up)
		return -ETIMEDOUT;
	*ret = v;
	return 0;
}

void vsync_free(struct vsync *v)
{
	if (!v)
		return;
	vici_client_free(v->vc);
	ev_loop_free(v->loop);
	free(v);
}

static void done(void *u, int err, const char *errmsg, const struct vici_node *reply)
{
	struct waiter *w = u;

	if (err)
		fprintf(stderr, "vici: %s\n", errmsg);
	w->err = err;
	w->done = true;
}

int vsync_initiate(struct vsync *v, const char *ike, const char *child)
{
	struct waiter w = { 0 };
	int r = vici_initiate(v->vc, ike, child, 0, done, &w);

	return r < 0 ? r : wait_for(v, &w);
}

int vsync_load_conn(struct vsync *v, const struct charon_conn_cfg *cfg)
{
	struct waiter w = { 0 };
	int r = vici_load_conn(v->vc, cfg, done, &w);

	return r < 0 ? r : wait_for(v, &w);
}

int vsync_unload_conn(struct vsync *v, const char *name)
{
	struct waiter w = { 0 };
	int r = vici_unload_conn(v->vc, name, done, &w);

	return r < 0 ? r : wait_for(v, &w);
}

int vsync_terminate_child(struct vsync *v, uint64_t child_id)
{
	struct waiter w = { 0 };
	int r = vici_terminate(v->vc, 0, child_id, false, 0, done, &w);

	return r < 0 ? r : wait_for(v, &w);
}

static void listed(void *u, int err, const char *errmsg, const struct vici_ike_sa *sas, size_t n)
{
	struct waiter *w = u;

	w->n = 0;
	for (size_t i = 0; i < n; i++)
		w->n += sas[i].n_children;
	w->err = err;
	w->done = true;
}

int vsync_list_child(struct vsync *v, uint64_t child_id, size_t *n)
{
	struct vici_sa_filter f = { .child_id = child_id, .noblock = true };
	struct waiter w = { 0 };
	int r = vici_list_sas(v->vc, &f, VICI_SAS_INSTALLED, listed, &w);

	if (r == 0)
		r = wait_for(v, &w);
	*n = w.n;
	return r;
}

int vsync_terminate_async(struct vsync *v, uint64_t child_id)
{
	v->async = (struct waiter){ 0 };
	return vici_terminate(v->vc, 0, child_id, false, 0, done, &v->async);
}

void vsync_finish_async(struct vsync *v)
{
	wait_for(v, &v->async);
}

static int fd_ready(struct ev_source *s, int fd, uint32_t revents, void *u)
{
	struct vsync *v = u;
	socklen_t len = sizeof(v->fd_err);
	char b[4096];

	if (v->fd_usec)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &v->fd_err, &len) < 0)
		v->fd_err = errno;
	if (!v->fd_err && recv(fd, b, sizeof(b), MSG_DONTWAIT) < 0 && errno != EAGAIN)
		v->fd_err = errno;
	if (v->fd_err)
		v->fd_usec = now_usec();
	return 0;
}

int vsync_wait_reset(struct vsync *v, int fd, unsigned count0, uint64_t timeout_usec,
		     uint64_t *ret_event, uint64_t *ret_reset)
{
	uint64_t deadline = now_usec() + timeout_usec;
	struct ev_source *src;
	int r;

	v->fd_usec = 0;
	v->fd_err = 0;
	r = ev_add_io(v->loop, &src, fd, EPOLLIN | EPOLLRDHUP, fd_ready, v);
	if (r < 0)
		return r;
	while ((!v->fd_usec || v->last.count == count0) && now_usec() < deadline)
		ev_run_once(v->loop, 10000);
	ev_source_free(src);
	if (!v->fd_usec || v->last.count == count0)
		return -ETIMEDOUT;
	*ret_event = v->last.usec;
	*ret_reset = v->fd_usec;
	return v->fd_err;
}

const struct vsync_event *vsync_last(const struct vsync *v)
{
	return &v->last;
}
