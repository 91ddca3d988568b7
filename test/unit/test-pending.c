/* SPDX-License-Identifier: MIT */
/*
 * The pending requests (src/latchd/core/pending.c) on fuzz-core's fake clock
 * and control socket (test/fuzz/core/): timers, cancels, answers and copies
 * of sockets, with a handler that makes each request a pending one.
 */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../fuzz/core/harness.h"
#include "latchd/control/control.h"
#include "latchd/core/pending.h"
#include "shared/wire.h"

#define TIMEOUT 3000000u

static struct {
	struct control *ctl;
	struct pending_set *set;
	struct pending *last;	     /* made by the last request */
	int last_err;		     /* what pending_new said */
	unsigned expired, cancelled; /* hooks called */
	unsigned released;
	struct pending *released_p; /* the last one released */
} t;

/* Stands for the owner's latch and connection: pending.c never reads them. */
static int latch_a, conn_a;

static void answer(struct pending *p, int err)
{
	struct request *req = pending_take_request(p);

	if (req)
		control_reply_error(req, err, "answered by the test");
	pending_free(p);
}

static void on_expired(void *u, struct pending *p)
{
	t.expired++;
	answer(p, -ETIMEDOUT);
}

static void on_cancelled(void *u, struct pending *p)
{
	t.cancelled++;
	assert_null(p->req); /* its client is gone: nobody to answer */
	pending_free(p);
}

static void on_release(void *u, struct pending *p)
{
	t.released++;
	t.released_p = p;
	assert_ptr_equal(p->conn, (struct conn *)&conn_a);
}

static const struct pending_ops ops = {
	.expired = on_expired,
	.cancelled = on_cancelled,
	.release = on_release,
};

/* Every request becomes a pending one, with the socket it carries. */
static int handle(void *core, struct request *req, char *err, size_t el)
{
	t.last = NULL;
	t.last_err = pending_new(t.set, (struct latch *)&latch_a, req, req->fd, &t.last);
	if (t.last)
		t.last->conn = (struct conn *)&conn_a;
	return t.last_err;
}

static void client_gone(void *core, struct client *cl)
{
}

static const struct control_ops ctl_ops = { .handle = handle, .client_gone = client_gone };

static int setup(void **state)
{
	struct control_config cc = { .max_pending_per_uid = 2, .admin_gid = (gid_t)-1 };

	memset(&t, 0, sizeof(t));
	fake_ev_reset();
	fake_control_reset();
	assert_int_equal(control_new(NULL, &cc, &ctl_ops, NULL, &t.ctl), 0);
	assert_int_equal(pending_set_new(NULL, TIMEOUT, &ops, NULL, &t.set), 0);
	return 0;
}

static int teardown(void **state)
{
	pending_set_free(t.set);
	control_free(t.ctl);
	fake_control_finish();
	assert_int_equal(fake_ev_count(), 0); /* every timer went with its entry */
	return 0;
}

/* A request of cl waiting: QUERY takes a socket or none. */
static struct pending *waiting(struct client *cl, int fd)
{
	fake_client_send_bare(cl, IPC_MSG_QUERY, fd);
	assert_int_equal(t.last_err, 0);
	assert_non_null(t.last);
	return t.last;
}

static int udp_socket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	return fd;
}

/* The lowest free descriptor: a copy left behind moves it. */
static int next_fd(void)
{
	int fd = dup(0);

	assert_true(fd >= 0);
	close(fd);
	return fd;
}

static void expires_after_its_timeout(void **state)
{
	struct client *cl = fake_client_hello(1000);
	struct pending *p = waiting(cl, -1);

	assert_ptr_equal(p->latch, (struct latch *)&latch_a);
	fake_ev_advance(TIMEOUT - 1);
	assert_int_equal(t.expired, 0);
	assert_int_equal(pending_count(t.set), 1);
	fake_ev_advance(1);
	assert_int_equal(t.expired, 1);
	assert_int_equal(fake_client_last_status(cl), -ETIMEDOUT);
	assert_int_equal(pending_count(t.set), 0);
	assert_int_equal(t.released, 1);
}

static void a_client_gone_cancels_its_requests(void **state)
{
	struct client *cl = fake_client_hello(1000), *other = fake_client_hello(1001);
	struct pending *mine = waiting(cl, -1), *theirs = waiting(other, -1);

	fake_client_drop(cl);
	assert_int_equal(t.cancelled, 1);
	assert_int_equal(pending_count(t.set), 1);
	assert_ptr_equal(pending_of_latch(t.set, (struct latch *)&latch_a), theirs);
	assert_ptr_equal(t.released_p, mine);
	assert_non_null(theirs->req);
}

static void freed_with_its_request_answers_ecanceled(void **state)
{
	struct client *cl = fake_client_hello(1000);
	struct pending *p = waiting(cl, -1);

	assert_int_equal(fake_client_last_status(cl), 0); /* HELLO's */
	pending_free(p);
	assert_int_equal(fake_client_last_status(cl), -ECANCELED);
	assert_int_equal(t.released, 1);
	assert_int_equal(pending_count(t.set), 0);
}

static void a_taken_request_is_the_callers(void **state)
{
	struct client *cl = fake_client_hello(1000);
	struct pending *p = waiting(cl, -1);
	struct request *req = pending_take_request(p);

	assert_non_null(req);
	assert_null(p->req);
	assert_null(pending_take_request(p));
	pending_free(p);
	assert_int_equal(fake_client_last_status(cl), 0); /* not answered by the free */
	control_reply_error(req, -EACCES, "the caller's answer");
	assert_int_equal(fake_client_last_status(cl), -EACCES);
	fake_client_drop(cl); /* no cancel: the request is no entry's any more */
	assert_int_equal(t.cancelled, 0);
}

static void over_the_limit_nothing_is_left(void **state)
{
	struct client *cl = fake_client_hello(1000);
	int fd = udp_socket(), free_fd;

	waiting(cl, fd);
	waiting(cl, fd);
	free_fd = next_fd();
	fake_client_send_bare(cl, IPC_MSG_QUERY, fd); /* max_pending_per_uid = 2 */
	assert_int_equal(t.last_err, -EAGAIN);
	assert_null(t.last);
	assert_int_equal(fake_client_last_status(cl), -EAGAIN);
	assert_int_equal(pending_count(t.set), 2);
	assert_int_equal(fake_ev_count(), 2); /* no timer of the refused one */
	assert_int_equal(next_fd(), free_fd); /* no copy of its socket */
	close(fd);
}

static void keeps_a_copy_of_the_socket_until_freed(void **state)
{
	struct client *cl = fake_client_hello(1000);
	int fd = udp_socket(), copy;
	struct stat a, b;
	struct pending *p = waiting(cl, fd);

	copy = p->sock;
	assert_true(copy >= 0);
	assert_int_not_equal(copy, fd);
	assert_int_equal(fstat(fd, &a), 0);
	assert_int_equal(fstat(copy, &b), 0);
	assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	assert_true(fcntl(copy, F_GETFD) & FD_CLOEXEC);
	close(fd); /* the request's own copy is closed by the control module */
	pending_free(p);
	assert_int_equal(fcntl(copy, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(waiting(cl, -1)->sock, -1);
}

static void free_each(void *u, struct pending *p)
{
	(*(unsigned *)u)++;
	pending_free(p);
}

static void found_by_id_and_latch_each_one_once(void **state)
{
	struct client *a = fake_client_hello(1000), *b = fake_client_hello(1001);
	struct pending *p = waiting(a, -1), *q = waiting(b, -1);
	struct pending *r = waiting(b, -1);
	unsigned seen = 0;

	assert_true(p->id < q->id && q->id < r->id);
	assert_ptr_equal(pending_by_id(t.set, q->id), q);
	assert_null(pending_by_id(t.set, r->id + 1));
	r->latch = NULL; /* being answered: no latch finds it */
	assert_ptr_equal(pending_of_latch(t.set, (struct latch *)&latch_a), q);
	pending_each(t.set, free_each, &seen); /* each may free itself */
	assert_int_equal(seen, 3);
	assert_int_equal(pending_count(t.set), 0);
	assert_int_equal(t.released, 3);
}

/* What stops after the set is emptied may still walk it and look in it. */
static void emptied_the_set_stays(void **state)
{
	struct client *a = fake_client_hello(1000);
	struct pending *p = waiting(a, -1);
	uint64_t id = p->id;
	unsigned seen = 0;

	pending_free_all(t.set);
	assert_int_equal(fake_client_last_status(a), -ECANCELED);
	assert_int_equal(t.released, 1);
	assert_int_equal(pending_count(t.set), 0);
	assert_null(pending_by_id(t.set, id));
	assert_null(pending_of_latch(t.set, (struct latch *)&latch_a));
	pending_each(t.set, free_each, &seen);
	assert_int_equal(seen, 0);
	assert_int_equal(waiting(a, -1)->id, id + 1); /* and takes new ones */
}

static void freeing_the_set_answers_every_request(void **state)
{
	struct client *a = fake_client_hello(1000), *b = fake_client_hello(1001);

	waiting(a, -1);
	waiting(b, -1);
	assert_int_equal(fake_ev_count(), 2);
	pending_set_free(t.set);
	t.set = NULL;
	assert_int_equal(fake_client_last_status(a), -ECANCELED);
	assert_int_equal(fake_client_last_status(b), -ECANCELED);
	assert_int_equal(t.released, 2);
	assert_int_equal(fake_ev_count(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(expires_after_its_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(a_client_gone_cancels_its_requests, setup,
						teardown),
		cmocka_unit_test_setup_teardown(freed_with_its_request_answers_ecanceled, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_taken_request_is_the_callers, setup, teardown),
		cmocka_unit_test_setup_teardown(over_the_limit_nothing_is_left, setup, teardown),
		cmocka_unit_test_setup_teardown(keeps_a_copy_of_the_socket_until_freed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(found_by_id_and_latch_each_one_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(emptied_the_set_stays, setup, teardown),
		cmocka_unit_test_setup_teardown(freeing_the_set_answers_every_request, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
