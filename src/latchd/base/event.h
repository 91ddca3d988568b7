/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_EVENT_H
#define LATCH_LATCHD_EVENT_H

/*
 * The daemon's event loop: one epoll instance, one timerfd for all timers
 * (a min-heap of deadlines), one signalfd for all signals, and deferred
 * callbacks. Modelled on sd-event, much smaller. Single-threaded; nothing
 * here is global, so tests can run several loops.
 *
 *	struct ev_loop *loop;
 *	ev_loop_new(&loop);
 *	ev_add_io(loop, &src, fd, EPOLLIN, on_readable, ctx);
 *	ev_add_signal(loop, NULL, SIGTERM, on_term, ctx);   // calls ev_loop_exit()
 *	ret = ev_loop_run(loop);
 *	ev_loop_free(loop);
 *
 * Every call returns 0 or -errno. Callbacks return 0, or a negative errno,
 * which disables the source that returned it (as sd-event does): a broken
 * fd cannot spin the loop. Any source may be freed from any callback, even
 * one whose event is pending in the same iteration: its memory lives until
 * the iteration ends and it is never dispatched again.
 *
 * Time is CLOCK_MONOTONIC in microseconds. Timers are one-shot: they fire
 * once and stay disabled until ev_time_set() arms them again.
 */

#include <stdint.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

struct ev_loop;
struct ev_source;

typedef int (*ev_io_fn)(struct ev_source *s, int fd, uint32_t revents, void *userdata);
typedef int (*ev_time_fn)(struct ev_source *s, uint64_t usec, void *userdata);
typedef int (*ev_signal_fn)(struct ev_source *s, const struct signalfd_siginfo *si, void *userdata);
typedef int (*ev_defer_fn)(struct ev_source *s, void *userdata);

int ev_loop_new(struct ev_loop **out);
/* Frees the loop and every source still attached; NULL-safe. Borrowed fds stay open. */
void ev_loop_free(struct ev_loop *l);

/* The time this iteration started (cached, so all callbacks of one iteration agree). */
uint64_t ev_now(struct ev_loop *l);

/*
 * Sources. out may be NULL when the caller never frees the source itself
 * (it then lives as long as the loop). The fd is borrowed.
 */
int ev_add_io(struct ev_loop *l, struct ev_source **out, int fd, uint32_t events, ev_io_fn cb,
	      void *userdata);
int ev_io_set_events(struct ev_source *s, uint32_t events);

/* usec: absolute deadline on CLOCK_MONOTONIC; 0 creates it disarmed. */
int ev_add_time(struct ev_loop *l, struct ev_source **out, uint64_t usec, ev_time_fn cb,
		void *userdata);
int ev_time_set(struct ev_source *s, uint64_t usec); /* 0 disarms */
int ev_time_set_in(struct ev_source *s, uint64_t usec_from_now);

/* Blocks sig for the calling thread so that only the signalfd sees it. One source per signal. */
int ev_add_signal(struct ev_loop *l, struct ev_source **out, int sig, ev_signal_fn cb,
		  void *userdata);

/* Runs once, at the end of the current (or next) iteration; ev_defer_enable() queues it again. */
int ev_add_defer(struct ev_loop *l, struct ev_source **out, ev_defer_fn cb, void *userdata);
int ev_defer_enable(struct ev_source *s);

/* NULL-safe, callable from any callback (see above). */
void ev_source_free(struct ev_source *s);
struct ev_loop *ev_source_loop(const struct ev_source *s);

/* One iteration: wait at most timeout_usec (-1: no limit), dispatch. Returns events handled. */
int ev_run_once(struct ev_loop *l, int64_t timeout_usec);
/* Iterate until ev_loop_exit(); returns its code. */
int ev_loop_run(struct ev_loop *l);
void ev_loop_exit(struct ev_loop *l, int code);

#endif
