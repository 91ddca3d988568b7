/* SPDX-License-Identifier: MIT */
/* The event loop: io, timers in deadline order, signals, defers, freeing from callbacks. */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "latchd/base/event.h"

struct rec {
	int calls;
	int order[8];
	int norder;
	uint32_t revents;
	int fd;
	int ret;		  /* what the callback returns */
	struct ev_source *victim; /* freed by the callback */
	struct ev_source *rearm;  /* timer to re-arm in the past */
};

static int on_io(struct ev_source *s, int fd, uint32_t revents, void *u)
{
	struct rec *r = u;

	r->calls++;
	r->fd = fd;
	r->revents = revents;
	if (r->victim) {
		ev_source_free(r->victim);
		r->victim = NULL;
	}
	return r->ret;
}

static void test_io(void **state)
{
	struct ev_loop *l;
	struct ev_source *s;
	struct rec r = { 0 };
	int p[2];

	assert_int_equal(ev_loop_new(&l), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(ev_add_io(l, &s, p[0], EPOLLIN, on_io, &r), 0);
	assert_int_equal(ev_run_once(l, 0), 0);
	assert_int_equal(r.calls, 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(ev_run_once(l, 1000000), 1);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.fd, p[0]);
	assert_true(r.revents & EPOLLIN);
	/* Not drained, so readable again; with no events asked it is quiet. */
	assert_int_equal(ev_io_set_events(s, 0), 0);
	assert_int_equal(ev_run_once(l, 0), 0);
	assert_int_equal(r.calls, 1);
	/* A failing callback disables its source instead of spinning. */
	r.ret = -EIO;
	assert_int_equal(ev_io_set_events(s, EPOLLIN), 0);
	assert_int_equal(ev_run_once(l, 0), 1);
	assert_int_equal(ev_run_once(l, 0), 0);
	assert_int_equal(r.calls, 2);
	assert_int_equal(ev_io_set_events(s, EPOLLIN), 0);
	assert_int_equal(ev_run_once(l, 0), 1);
	ev_source_free(s);
	assert_int_equal(ev_run_once(l, 0), 0);
	assert_int_equal(r.calls, 3);
	close(p[0]);
	close(p[1]);
	ev_loop_free(l);
}

/* Two readable sources in one batch: whichever runs first frees the other. */
static void test_free_pending_io(void **state)
{
	struct ev_loop *l;
	struct ev_source *a, *b;
	struct rec ra = { 0 }, rb = { 0 };
	int p[2], q[2];

	assert_int_equal(ev_loop_new(&l), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(pipe2(q, O_CLOEXEC), 0);
	assert_int_equal(ev_add_io(l, &a, p[0], EPOLLIN, on_io, &ra), 0);
	assert_int_equal(ev_add_io(l, &b, q[0], EPOLLIN, on_io, &rb), 0);
	ra.victim = b;
	rb.victim = a;
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(write(q[1], "x", 1), 1);
	assert_int_equal(ev_run_once(l, 1000000), 1);
	assert_int_equal(ra.calls + rb.calls, 1);
	ev_source_free(ra.calls ? a : b);
	assert_int_equal(ev_run_once(l, 0), 0);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	ev_loop_free(l);
}

static int on_time(struct ev_source *s, uint64_t usec, void *u)
{
	struct rec *r = u;

	r->order[r->norder++] = (int)(usec % 1000);
	if (r->rearm) {
		ev_time_set(r->rearm, 1);
		r->rearm = NULL;
	}
	return 0;
}

static void test_timers_in_order(void **state)
{
	struct ev_loop *l;
	struct ev_source *t[4];
	struct rec r = { 0 };
	uint64_t base;

	assert_int_equal(ev_loop_new(&l), 0);
	/* Deadlines end in 1..4 so the callback can tell them apart. */
	base = (ev_now(l) / 1000) * 1000 + 20000;
	assert_int_equal(ev_add_time(l, &t[0], base + 3003, on_time, &r), 0);
	assert_int_equal(ev_add_time(l, &t[1], base + 1001, on_time, &r), 0);
	assert_int_equal(ev_add_time(l, &t[2], base + 2002, on_time, &r), 0);
	assert_int_equal(ev_add_time(l, &t[3], base + 4004, on_time, &r), 0);
	assert_int_equal(ev_time_set(t[3], 0), 0);	  /* disarmed: never fires */
	assert_int_equal(ev_time_set(t[0], base + 5), 0); /* moved earlier */
	while (r.norder < 3)
		assert_true(ev_run_once(l, 1000000) >= 0);
	assert_int_equal(r.order[0], 5);
	assert_int_equal(r.order[1], 1);
	assert_int_equal(r.order[2], 2);
	assert_true(ev_now(l) >= base + 2002);
	assert_int_equal(ev_run_once(l, 30000), 0);
	assert_int_equal(r.norder, 3);
	ev_loop_free(l);
}

/* A timer re-armed into the past from a callback fires on the next iteration, not in a loop. */
static void test_timer_rearm_past(void **state)
{
	struct ev_loop *l;
	struct ev_source *t;
	struct rec r = { 0 };

	assert_int_equal(ev_loop_new(&l), 0);
	assert_int_equal(ev_add_time(l, &t, 1, on_time, &r), 0);
	r.rearm = t;
	assert_int_equal(ev_run_once(l, 0), 1);
	assert_int_equal(r.norder, 1);
	assert_int_equal(ev_run_once(l, 0), 1);
	assert_int_equal(r.norder, 2);
	assert_int_equal(ev_run_once(l, 0), 0);
	ev_source_free(t);
	ev_loop_free(l);
}

static int on_signal(struct ev_source *s, const struct signalfd_siginfo *si, void *u)
{
	struct rec *r = u;

	r->calls++;
	r->fd = (int)si->ssi_signo;
	ev_loop_exit(ev_source_loop(s), 42);
	return 0;
}

static void test_signal_and_exit(void **state)
{
	struct ev_loop *l;
	struct rec r = { 0 };

	assert_int_equal(ev_loop_new(&l), 0);
	assert_int_equal(ev_add_signal(l, NULL, SIGUSR1, on_signal, &r), 0);
	assert_int_equal(ev_add_signal(l, NULL, SIGUSR1, on_signal, &r), -EBUSY);
	assert_int_equal(kill(getpid(), SIGUSR1), 0);
	assert_int_equal(ev_loop_run(l), 42);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.fd, SIGUSR1);
	ev_loop_free(l);
}

static int on_defer(struct ev_source *s, void *u)
{
	struct rec *r = u;

	r->calls++;
	if (r->victim) {
		ev_source_free(r->victim);
		r->victim = NULL;
	}
	if (r->ret)
		ev_defer_enable(s);
	return 0;
}

static void test_defer(void **state)
{
	struct ev_loop *l;
	struct ev_source *a, *b, *c;
	struct rec ra = { 0 }, rb = { 0 }, rc = { 0 };

	assert_int_equal(ev_loop_new(&l), 0);
	assert_int_equal(ev_add_defer(l, &a, on_defer, &ra), 0);
	assert_int_equal(ev_add_defer(l, &b, on_defer, &rb), 0);
	assert_int_equal(ev_add_defer(l, &c, on_defer, &rc), 0);
	ra.victim = b; /* queued behind a in the same pass */
	ra.ret = 1;    /* a re-enables itself: once per iteration, no spin */
	ev_source_free(c);
	assert_int_equal(ev_run_once(l, -1), 1);
	assert_int_equal(ev_run_once(l, -1), 1);
	assert_int_equal(ra.calls, 2);
	assert_int_equal(rb.calls, 0);
	assert_int_equal(rc.calls, 0);
	ra.ret = 0;
	assert_int_equal(ev_run_once(l, -1), 1);
	assert_int_equal(ev_run_once(l, 0), 0);
	assert_int_equal(ra.calls, 3);
	assert_int_equal(ev_defer_enable(a), 0);
	assert_int_equal(ev_defer_enable(a), 0); /* idempotent */
	assert_int_equal(ev_run_once(l, 0), 1);
	assert_int_equal(ra.calls, 4);
	ev_loop_free(l);
}

static void test_bad_args(void **state)
{
	struct ev_loop *l;
	struct ev_source *t;
	struct rec r = { 0 };

	assert_int_equal(ev_loop_new(&l), 0);
	assert_int_equal(ev_add_io(l, NULL, -1, EPOLLIN, on_io, &r), -EINVAL);
	assert_int_equal(ev_add_io(l, NULL, 12345, EPOLLIN, on_io, &r), -EBADF);
	assert_int_equal(ev_add_signal(l, NULL, 0, on_signal, &r), -EINVAL);
	assert_int_equal(ev_add_time(l, &t, 0, on_time, &r), 0);
	assert_int_equal(ev_io_set_events(t, EPOLLIN), -EINVAL);
	assert_int_equal(ev_defer_enable(t), -EINVAL);
	ev_loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_io),
		cmocka_unit_test(test_free_pending_io),
		cmocka_unit_test(test_timers_in_order),
		cmocka_unit_test(test_timer_rearm_past),
		cmocka_unit_test(test_signal_and_exit),
		cmocka_unit_test(test_defer),
		cmocka_unit_test(test_bad_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
