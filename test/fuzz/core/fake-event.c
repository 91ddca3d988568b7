/* SPDX-License-Identifier: MIT */
/*
 * The event loop (src/latchd/base/event.h) as the core uses it: timers and io
 * sources, with a clock that moves only when the driver advances it.
 * Sources live in one list; a callback may free any source, its own too.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "harness.h"

struct ev_source {
	bool is_time;
	int fd;
	uint64_t usec; /* deadline; 0 disarmed */
	ev_io_fn io;
	ev_time_fn time;
	void *userdata;
	struct ev_source *next;
};

static struct ev_source *sources;
static uint64_t now_usec;

void fake_ev_reset(void)
{
	if (sources)
		abort(); /* the core freed everything it made */
	now_usec = 1000000;
}

size_t fake_ev_count(void)
{
	size_t n = 0;

	for (struct ev_source *s = sources; s; s = s->next)
		n++;
	return n;
}

uint64_t ev_now(struct ev_loop *l)
{
	(void)l;
	return now_usec;
}

static struct ev_source *add(struct ev_source **out, void *userdata)
{
	struct ev_source *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->userdata = userdata;
	s->fd = -1;
	s->next = sources;
	sources = s;
	if (out)
		*out = s;
	return s;
}

int ev_add_io(struct ev_loop *l, struct ev_source **out, int fd, uint32_t events, ev_io_fn cb,
	      void *userdata)
{
	struct ev_source *s = add(out, userdata);

	(void)l;
	(void)events;
	if (!s)
		return -ENOMEM;
	s->fd = fd;
	s->io = cb;
	return 0;
}

int ev_io_set_events(struct ev_source *s, uint32_t events)
{
	(void)s;
	(void)events;
	return 0;
}

int ev_add_time(struct ev_loop *l, struct ev_source **out, uint64_t usec, ev_time_fn cb,
		void *userdata)
{
	struct ev_source *s = add(out, userdata);

	(void)l;
	if (!s)
		return -ENOMEM;
	s->is_time = true;
	s->usec = usec;
	s->time = cb;
	return 0;
}

int ev_time_set(struct ev_source *s, uint64_t usec)
{
	s->usec = usec;
	return 0;
}

int ev_time_set_in(struct ev_source *s, uint64_t usec_from_now)
{
	s->usec = now_usec + usec_from_now;
	return 0;
}

void ev_source_free(struct ev_source *s)
{
	for (struct ev_source **pp = &sources; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			free(s);
			return;
		}
	}
}

static struct ev_source *earliest_due(void)
{
	struct ev_source *best = NULL;

	for (struct ev_source *s = sources; s; s = s->next) {
		if (s->is_time && s->usec && s->usec <= now_usec && (!best || s->usec < best->usec))
			best = s;
	}
	return best;
}

void fake_ev_advance(uint64_t usec)
{
	struct ev_source *s;

	now_usec += usec;
	/* One-shot like the real loop's; a timer re-armed in the past fires on the next advance. */
	for (unsigned budget = 64; budget && (s = earliest_due()); budget--) {
		uint64_t at = s->usec;

		s->usec = 0;
		(void)s->time(s, at, s->userdata); /* it may have freed s */
		fake_control_run_deferred();
	}
}

bool fake_ev_readable(int fd)
{
	for (struct ev_source *s = sources; s; s = s->next) {
		if (!s->is_time && s->fd == fd) {
			s->io(s, fd, EPOLLIN, s->userdata);
			return true;
		}
	}
	return false;
}
