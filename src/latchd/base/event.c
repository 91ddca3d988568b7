/* SPDX-License-Identifier: MIT */
#include "latchd/base/event.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

enum ev_type {
	EV_IO,
	EV_TIME,
	EV_SIGNAL,
	EV_DEFER,
	EV_TIMERFD, /* the loop's own timerfd and signalfd are sources too */
	EV_SIGNALFD,
};

struct ev_source {
	struct ev_loop *loop;
	enum ev_type type;
	void *userdata;
	union {
		ev_io_fn io;
		ev_time_fn time;
		ev_signal_fn signal;
		ev_defer_fn defer;
	} cb;
	int fd;
	uint32_t events;
	uint64_t usec;
	size_t heap_idx; /* SIZE_MAX: not in the heap */
	int sig;
	bool enabled, dead, pending;
	struct ev_source *prev, *next; /* every source of the loop */
	struct ev_source *later;       /* the defer queue, or the garbage list */
};

struct ev_loop {
	int epfd, tfd, sfd;
	sigset_t sigmask;
	struct ev_source *sig[_NSIG];
	struct ev_source **heap;
	size_t nheap, capheap;
	struct ev_source *all;
	struct ev_source *defer_head, **defer_tail;
	struct ev_source *garbage;
	uint64_t now;
	bool exiting;
	int exit_code;
};

static uint64_t mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t ev_now(struct ev_loop *l)
{
	return l->now;
}

struct ev_loop *ev_source_loop(const struct ev_source *s)
{
	return s->loop;
}

static struct ev_source *source_new(struct ev_loop *l, enum ev_type type, void *userdata)
{
	struct ev_source *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->loop = l;
	s->type = type;
	s->userdata = userdata;
	s->fd = -1;
	s->heap_idx = SIZE_MAX;
	s->next = l->all;
	if (l->all)
		l->all->prev = s;
	l->all = s;
	return s;
}

static void source_unlink(struct ev_source *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		s->loop->all = s->next;
	if (s->next)
		s->next->prev = s->prev;
}

/* The common tail of ev_add_*: hand the source out on success, drop it on failure. */
static int source_done(struct ev_source *s, int ret, struct ev_source **out)
{
	if (ret < 0) {
		source_unlink(s);
		free(s);
		return ret;
	}
	if (out)
		*out = s;
	return 0;
}

static int watch_fd(struct ev_source *s, int op)
{
	struct epoll_event ev = { .events = s->events, .data.ptr = s };

	return epoll_ctl(s->loop->epfd, op, s->fd, &ev) < 0 ? -errno : 0;
}

int ev_loop_new(struct ev_loop **out)
{
	struct ev_loop *l = calloc(1, sizeof(*l));
	struct ev_source *t, *s;
	int ret = -ENOMEM;

	if (!l)
		return -ENOMEM;
	l->tfd = l->sfd = -1;
	l->defer_tail = &l->defer_head;
	sigemptyset(&l->sigmask);
	l->now = mono_usec();
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	l->sfd = signalfd(-1, &l->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (l->epfd < 0 || l->tfd < 0 || l->sfd < 0) {
		ret = -errno;
		goto fail;
	}
	t = source_new(l, EV_TIMERFD, NULL);
	s = source_new(l, EV_SIGNALFD, NULL);
	if (!t || !s)
		goto fail;
	t->fd = l->tfd;
	s->fd = l->sfd;
	t->events = s->events = EPOLLIN;
	if ((ret = watch_fd(t, EPOLL_CTL_ADD)) < 0 || (ret = watch_fd(s, EPOLL_CTL_ADD)) < 0)
		goto fail;
	*out = l;
	return 0;
fail:
	ev_loop_free(l);
	return ret;
}

void ev_loop_free(struct ev_loop *l)
{
	struct ev_source *s, *next;

	if (!l)
		return;
	for (s = l->all; s; s = next) {
		next = s->next;
		free(s);
	}
	for (s = l->garbage; s; s = next) {
		next = s->next;
		free(s);
	}
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->tfd >= 0)
		close(l->tfd);
	if (l->sfd >= 0)
		close(l->sfd);
	free(l->heap);
	free(l);
}

/* ---- io ---- */

int ev_add_io(struct ev_loop *l, struct ev_source **out, int fd, uint32_t events, ev_io_fn cb,
	      void *userdata)
{
	struct ev_source *s;

	if (fd < 0 || !cb)
		return -EINVAL;
	s = source_new(l, EV_IO, userdata);
	if (!s)
		return -ENOMEM;
	s->cb.io = cb;
	s->fd = fd;
	s->events = events;
	s->enabled = true;
	return source_done(s, watch_fd(s, EPOLL_CTL_ADD), out);
}

int ev_io_set_events(struct ev_source *s, uint32_t events)
{
	int ret;

	if (s->type != EV_IO || s->dead)
		return -EINVAL;
	if (s->enabled && s->events == events)
		return 0;
	s->events = events;
	ret = watch_fd(s, s->enabled ? EPOLL_CTL_MOD : EPOLL_CTL_ADD);
	if (ret == 0)
		s->enabled = true;
	return ret;
}

/* ---- timers: a binary min-heap of deadlines behind one timerfd ---- */

static bool heap_less(struct ev_loop *l, size_t a, size_t b)
{
	return l->heap[a]->usec < l->heap[b]->usec;
}

static void heap_swap(struct ev_loop *l, size_t a, size_t b)
{
	struct ev_source *t = l->heap[a];

	l->heap[a] = l->heap[b];
	l->heap[b] = t;
	l->heap[a]->heap_idx = a;
	l->heap[b]->heap_idx = b;
}

static void heap_fix(struct ev_loop *l, size_t i)
{
	while (i > 0 && heap_less(l, i, (i - 1) / 2)) {
		heap_swap(l, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= l->nheap)
			break;
		if (c + 1 < l->nheap && heap_less(l, c + 1, c))
			c++;
		if (!heap_less(l, c, i))
			break;
		heap_swap(l, i, c);
		i = c;
	}
}

static void heap_remove(struct ev_source *s)
{
	struct ev_loop *l = s->loop;
	size_t i = s->heap_idx;

	if (i == SIZE_MAX)
		return;
	s->heap_idx = SIZE_MAX;
	if (--l->nheap == i)
		return;
	l->heap[i] = l->heap[l->nheap];
	l->heap[i]->heap_idx = i;
	heap_fix(l, i);
}

static int heap_insert(struct ev_source *s)
{
	struct ev_loop *l = s->loop;

	if (l->nheap == l->capheap) {
		size_t cap = l->capheap ? 2 * l->capheap : 16;
		struct ev_source **h = realloc(l->heap, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		l->heap = h;
		l->capheap = cap;
	}
	s->heap_idx = l->nheap;
	l->heap[l->nheap++] = s;
	heap_fix(l, s->heap_idx);
	return 0;
}

int ev_time_set(struct ev_source *s, uint64_t usec)
{
	if (s->type != EV_TIME || s->dead)
		return -EINVAL;
	s->usec = usec;
	s->enabled = usec != 0;
	if (!s->enabled) {
		heap_remove(s);
		return 0;
	}
	if (s->heap_idx != SIZE_MAX) {
		heap_fix(s->loop, s->heap_idx);
		return 0;
	}
	return heap_insert(s);
}

int ev_time_set_in(struct ev_source *s, uint64_t usec_from_now)
{
	uint64_t now = mono_usec();

	return ev_time_set(s, usec_from_now > UINT64_MAX - now ? UINT64_MAX : now + usec_from_now);
}

int ev_add_time(struct ev_loop *l, struct ev_source **out, uint64_t usec, ev_time_fn cb,
		void *userdata)
{
	struct ev_source *s;

	if (!cb)
		return -EINVAL;
	s = source_new(l, EV_TIME, userdata);
	if (!s)
		return -ENOMEM;
	s->cb.time = cb;
	return source_done(s, ev_time_set(s, usec), out);
}

static int arm_timerfd(struct ev_loop *l)
{
	struct itimerspec its = { 0 };
	uint64_t at;

	if (l->nheap) {
		/* 0 would disarm: a deadline already past becomes "1 µs after boot". */
		at = l->heap[0]->usec ? l->heap[0]->usec : 1;
		its.it_value.tv_sec = (time_t)(at / 1000000u);
		its.it_value.tv_nsec = (long)(at % 1000000u) * 1000;
	}
	return timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0 ? -errno : 0;
}

static int dispatch_timers(struct ev_loop *l)
{
	size_t budget = l->nheap; /* a timer re-armed in the past fires next iteration */
	int n = 0;

	while (budget-- && l->nheap && l->heap[0]->usec <= l->now) {
		struct ev_source *s = l->heap[0];

		heap_remove(s);
		s->enabled = false;
		n++;
		if (s->cb.time(s, s->usec, s->userdata) < 0)
			ev_time_set(s, 0);
	}
	return n;
}

/* ---- signals ---- */

int ev_add_signal(struct ev_loop *l, struct ev_source **out, int sig, ev_signal_fn cb,
		  void *userdata)
{
	struct ev_source *s;
	sigset_t one;

	if (sig <= 0 || sig >= _NSIG || !cb)
		return -EINVAL;
	if (l->sig[sig])
		return -EBUSY;
	s = source_new(l, EV_SIGNAL, userdata);
	if (!s)
		return -ENOMEM;
	sigemptyset(&one);
	sigaddset(&one, sig);
	sigaddset(&l->sigmask, sig);
	if (sigprocmask(SIG_BLOCK, &one, NULL) < 0 || signalfd(l->sfd, &l->sigmask, 0) < 0) {
		int ret = -errno;

		sigdelset(&l->sigmask, sig);
		source_unlink(s);
		free(s);
		return ret;
	}
	s->cb.signal = cb;
	s->sig = sig;
	s->enabled = true;
	l->sig[sig] = s;
	if (out)
		*out = s;
	return 0;
}

static int dispatch_signals(struct ev_loop *l)
{
	struct signalfd_siginfo si;
	int n = 0;

	while (read(l->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		struct ev_source *s = si.ssi_signo < _NSIG ? l->sig[si.ssi_signo] : NULL;

		if (!s || !s->enabled)
			continue;
		n++;
		if (s->cb.signal(s, &si, s->userdata) < 0)
			s->enabled = false;
	}
	return n;
}

/* ---- deferred callbacks ---- */

int ev_defer_enable(struct ev_source *s)
{
	struct ev_loop *l = s->loop;

	if (s->type != EV_DEFER || s->dead)
		return -EINVAL;
	if (s->pending)
		return 0;
	s->pending = true;
	s->later = NULL;
	*l->defer_tail = s;
	l->defer_tail = &s->later;
	return 0;
}

int ev_add_defer(struct ev_loop *l, struct ev_source **out, ev_defer_fn cb, void *userdata)
{
	struct ev_source *s;

	if (!cb)
		return -EINVAL;
	s = source_new(l, EV_DEFER, userdata);
	if (!s)
		return -ENOMEM;
	s->cb.defer = cb;
	s->enabled = true;
	ev_defer_enable(s);
	if (out)
		*out = s;
	return 0;
}

/* Only those queued before this pass run now; re-enabled ones wait for the next iteration. */
static int dispatch_defers(struct ev_loop *l)
{
	struct ev_source *s = l->defer_head, *next;
	int n = 0;

	l->defer_head = NULL;
	l->defer_tail = &l->defer_head;
	for (; s; s = next) {
		next = s->later;
		if (s->dead || !s->pending)
			continue;
		s->pending = false;
		n++;
		s->cb.defer(s, s->userdata);
	}
	return n;
}

/* ---- freeing and running ---- */

/* Not found means it is in the pass now running, which skips dead sources. */
static void defer_unqueue(struct ev_source *s)
{
	struct ev_loop *l = s->loop;
	struct ev_source **pp;

	for (pp = &l->defer_head; *pp; pp = &(*pp)->later) {
		if (*pp != s)
			continue;
		*pp = s->later;
		if (l->defer_tail == &s->later)
			l->defer_tail = pp;
		return;
	}
}

void ev_source_free(struct ev_source *s)
{
	struct ev_loop *l;

	if (!s || s->dead)
		return;
	l = s->loop;
	s->dead = true;
	if (s->type == EV_IO && s->enabled)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	if (s->type == EV_TIME)
		heap_remove(s);
	if (s->type == EV_SIGNAL)
		l->sig[s->sig] = NULL; /* stays blocked: unblocking could kill the daemon */
	if (s->pending)
		defer_unqueue(s);
	source_unlink(s);
	/* Freed at the end of the iteration: an epoll batch or the defer pass may point to it. */
	s->next = l->garbage;
	l->garbage = s;
}

static void collect_garbage(struct ev_loop *l)
{
	struct ev_source *s, *next;

	for (s = l->garbage; s; s = next) {
		next = s->next;
		free(s);
	}
	l->garbage = NULL;
}

static int dispatch_io(struct ev_loop *l, struct epoll_event *evs, int nev)
{
	int n = 0;

	for (int i = 0; i < nev; i++) {
		struct ev_source *s = evs[i].data.ptr;

		if (s->type == EV_TIMERFD) {
			uint64_t expired;

			/* Only drained here: expired timers run once per iteration, below. */
			while (read(l->tfd, &expired, sizeof(expired)) > 0)
				;
			continue;
		}
		if (s->type == EV_SIGNALFD) {
			n += dispatch_signals(l);
			continue;
		}
		if (s->dead || !s->enabled)
			continue;
		n++;
		if (s->cb.io(s, s->fd, evs[i].events, s->userdata) < 0 && !s->dead) {
			epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->fd, NULL);
			s->enabled = false;
		}
	}
	return n;
}

int ev_run_once(struct ev_loop *l, int64_t timeout_usec)
{
	struct epoll_event evs[64];
	int timeout_ms, nev, n, ret;

	ret = arm_timerfd(l);
	if (ret < 0)
		return ret;
	if (l->defer_head)
		timeout_ms = 0;
	else if (timeout_usec < 0)
		timeout_ms = -1;
	else if (timeout_usec > (int64_t)INT32_MAX * 1000)
		timeout_ms = INT32_MAX;
	else
		timeout_ms = (int)((timeout_usec + 999) / 1000);
	nev = epoll_wait(l->epfd, evs, 64, timeout_ms);
	if (nev < 0)
		return errno == EINTR ? 0 : -errno;
	l->now = mono_usec();
	n = dispatch_io(l, evs, nev);
	/* Checked whether or not the timerfd fired: a deadline may pass just after epoll woke. */
	n += dispatch_timers(l);
	n += dispatch_defers(l);
	collect_garbage(l);
	return n;
}

int ev_loop_run(struct ev_loop *l)
{
	int ret;

	l->exiting = false;
	while (!l->exiting) {
		ret = ev_run_once(l, -1);
		if (ret < 0)
			return ret;
	}
	return l->exit_code;
}

void ev_loop_exit(struct ev_loop *l, int code)
{
	l->exiting = true;
	l->exit_code = code;
}
