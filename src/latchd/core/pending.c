/* SPDX-License-Identifier: MIT */
/* Requests that wait on charon: the set, the timers, the requests' lives (pending.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "latchd/control/control.h"
#include "latchd/core/pending.h"

struct pending_set {
	struct ev_loop *loop;
	uint64_t timeout_usec;
	struct pending_ops ops;
	void *u;
	struct pending *list;
	uint64_t next_id;
	size_t n;
};

int pending_set_new(struct ev_loop *loop, uint64_t timeout_usec, const struct pending_ops *ops,
		    void *u, struct pending_set **ret)
{
	struct pending_set *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->timeout_usec = timeout_usec;
	s->ops = *ops;
	s->u = u;
	s->next_id = 1;
	*ret = s;
	return 0;
}

void pending_free_all(struct pending_set *s)
{
	while (s->list)
		pending_free(s->list);
}

void pending_set_free(struct pending_set *s)
{
	if (!s)
		return;
	pending_free_all(s);
	free(s);
}

static int expired(struct ev_source *src, uint64_t usec, void *u)
{
	struct pending *p = u;

	p->set->ops.expired(p->set->u, p);
	return 0;
}

/* The client went away before its answer: what waits cannot be handed to anyone. */
static void cancelled(struct request *req)
{
	struct pending *p = req->data;

	if (!p)
		return;
	p->req = NULL;
	p->set->ops.cancelled(p->set->u, p);
}

int pending_new(struct pending_set *s, struct latch *l, struct request *req, int sock,
		struct pending **ret)
{
	struct pending *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	p->sock = -1;
	r = ev_add_time(s->loop, &p->timer, 0, expired, p);
	if (r == 0 && sock >= 0 && (p->sock = fcntl(sock, F_DUPFD_CLOEXEC, 0)) < 0)
		r = -errno;
	/* last: a held request cannot be let go of again */
	if (r == 0 && req)
		r = control_request_hold(req);
	if (r < 0) {
		if (p->sock >= 0)
			close(p->sock);
		ev_source_free(p->timer);
		free(p);
		return r;
	}
	ev_time_set_in(p->timer, s->timeout_usec);
	p->set = s;
	p->id = s->next_id++;
	p->latch = l;
	p->req = req;
	if (req) {
		req->data = p;
		req->cancel = cancelled;
	}
	p->next = s->list;
	s->list = p;
	s->n++;
	*ret = p;
	return 0;
}

struct request *pending_take_request(struct pending *p)
{
	struct request *req = p->req;

	p->req = NULL;
	if (req) {
		req->data = NULL;
		req->cancel = NULL;
	}
	return req;
}

void pending_free(struct pending *p)
{
	struct pending_set *s = p->set;
	struct request *req = pending_take_request(p);

	for (struct pending **pp = &s->list; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			s->n--;
			break;
		}
	}
	if (req)
		control_reply_error(req, -ECANCELED, "latchd is stopping");
	ev_source_free(p->timer);
	if (s->ops.release)
		s->ops.release(s->u, p);
	if (p->sock >= 0)
		close(p->sock);
	free(p);
}

struct pending *pending_of_latch(const struct pending_set *s, const struct latch *l)
{
	for (struct pending *p = s->list; p; p = p->next) {
		if (p->latch == l)
			return p;
	}
	return NULL;
}

struct pending *pending_by_id(const struct pending_set *s, uint64_t id)
{
	for (struct pending *p = s->list; p; p = p->next) {
		if (p->id == id)
			return p;
	}
	return NULL;
}

void pending_each(struct pending_set *s, void (*fn)(void *u, struct pending *p), void *u)
{
	struct pending *p, *next;

	/* fn may free p: the next one is taken first */
	for (p = s->list; p; p = next) {
		next = p->next;
		fn(u, p);
	}
}

size_t pending_count(const struct pending_set *s)
{
	return s->n;
}
