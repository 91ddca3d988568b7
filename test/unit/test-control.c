/* SPDX-License-Identifier: MIT */
/*
 * The control server on the real event loop, with real clients on its
 * socket and a fake core: framing, the client limits (a refused connection
 * is answered and closed at once), a client dropped while its request is
 * held and while others watch (cancel runs from the loop, after the read
 * that saw it go), and a client that does not read (dropped at its queue
 * limit).
 */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "latchd/control/control.h"
#include "shared/fdpass.h"
#include "shared/wire.h"

struct fake {
	struct control *ctl;
	int handled, cancelled, gone;
	bool cancel_had_client;
};

static void fake_cancel(struct request *req)
{
	struct fake *f = req->data;
	struct buf b;

	f->cancelled++;
	f->cancel_had_client = req->client != NULL;
	/* what the core does when a pending latch closes: an ALERT to every watcher */
	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, IPC_MSG_ALERT, 0, 0, 0);
	wire_put_u64(&b, IPC_A_LATCH_ID, 1);
	wire_put_u8(&b, IPC_A_STATE, IPC_STATE_CLOSED);
	wire_put_u16(&b, IPC_A_REASON, IPC_REASON_OWNER);
	control_send_event(f->ctl, req->client, req->cred.uid, 1, &b);
	buf_free(&b);
}

static int fake_handle(void *core, struct request *req, char *err, size_t el)
{
	struct fake *f = core;
	struct buf *b;

	f->handled++;
	switch (req->type) {
	case IPC_MSG_LISTEN: /* waits for charon: held until the client goes */
		if (control_request_hold(req) < 0)
			return -EAGAIN;
		req->cancel = fake_cancel;
		req->data = f;
		return 0;
	case IPC_MSG_QUERY: /* held, then decided at once (an SA carries the flow already) */
		if (control_request_hold(req) < 0)
			return -EAGAIN;
		control_reply_begin(req, 0);
		return control_reply_send(req);
	case IPC_MSG_WATCH:
		control_client_watch(req->client, true, 0);
		control_reply_begin(req, 0);
		return control_reply_send(req);
	default: /* STATUS: a reply of some size */
		b = control_reply_begin(req, 0);
		wire_put_u32(b, IPC_A_VERSION, IPC_VERSION);
		wire_put_str(b, IPC_A_NAME, "latchd, a reply the client does not read");
		return control_reply_send(req);
	}
}

static void fake_gone(void *core, struct client *cl)
{
	((struct fake *)core)->gone++;
}

static const struct control_ops ops = { fake_handle, fake_gone };

struct server {
	char dir[64], path[108];
	struct ev_loop *loop;
	struct fake f;
};

static void server_start(struct server *s, struct control_config *cfg)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/latch-test-control.XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->path, sizeof(s->path), "%s/latchd.sock", s->dir);
	cfg->path = s->path;
	assert_int_equal(ev_loop_new(&s->loop), 0);
	assert_int_equal(control_new(s->loop, cfg, &ops, &s->f, &s->f.ctl), 0);
}

static void server_stop(struct server *s)
{
	control_free(s->f.ctl);
	ev_loop_free(s->loop);
	rmdir(s->dir);
}

static void pump(struct server *s)
{
	for (int i = 0; i < 20; i++)
		ev_run_once(s->loop, 1000);
}

static struct control_config config(void)
{
	return (struct control_config){
		.max_clients_per_uid = 8,
		.max_clients = 16,
		.admin_clients = 4,
		.max_pending_per_uid = 8,
		.max_queued_per_uid = 1 << 20,
		.max_queued = 4 << 20,
		.admin_gid = (gid_t)-1,
	};
}

static int connect_to(struct server *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(sa.sun_path, s->path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static int send_msg(int fd, uint16_t type, uint32_t seq, int pass)
{
	struct buf b;
	int r;

	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, type, 0, seq, 0);
	if (type == IPC_MSG_HELLO)
		wire_put_u32(&b, IPC_A_VERSION, IPC_VERSION);
	assert_int_equal(wire_end(&b), 0);
	r = fdpass_send(fd, b.data, b.len, pass);
	buf_free(&b);
	return r;
}

/* The status of the next packet, after the loop ran; 1 when the connection ended. */
static int recv_status(struct server *s, int fd)
{
	uint8_t p[IPC_MSG_MAX];
	struct wire_hdr h;
	int n;

	pump(s);
	n = (int)recv(fd, p, sizeof(p), MSG_DONTWAIT);
	if (n == 0)
		return 1;
	assert_true(n >= IPC_HDR_LEN);
	assert_int_equal(wire_peek_hdr(p, (size_t)n, &h), 0);
	return h.status;
}

static int hello(struct server *s)
{
	int fd = connect_to(s);

	assert_int_equal(send_msg(fd, IPC_MSG_HELLO, 1, -1), 0);
	assert_int_equal(recv_status(s, fd), 0);
	return fd;
}

static void test_framing(void **state)
{
	struct control_config cfg = config();
	uint8_t big[20000] = { 0 };
	struct server s;
	int fd;

	server_start(&s, &cfg);
	fd = connect_to(&s);
	assert_int_equal(send_msg(fd, IPC_MSG_STATUS, 1, -1), 0);
	assert_int_equal(recv_status(&s, fd), -EPROTO); /* HELLO first */
	assert_int_equal(send_msg(fd, IPC_MSG_HELLO, 2, -1), 0);
	assert_int_equal(recv_status(&s, fd), 0);
	assert_int_equal(send(fd, big, sizeof(big), 0), (ssize_t)sizeof(big));
	assert_int_equal(recv_status(&s, fd), -EMSGSIZE);
	assert_int_equal(send(fd, big, 2, 0), 2);
	assert_int_equal(recv_status(&s, fd), -EBADMSG);
	assert_int_equal(send_msg(fd, IPC_MSG_STATUS, 3, -1), 0);
	assert_int_equal(recv_status(&s, fd), 0); /* still served */
	assert_int_equal(s.f.gone, 0);
	close(fd);
	pump(&s);
	assert_int_equal(s.f.gone, 1);
	server_stop(&s);
}

/* Over the limit: answered EUSERS and closed at once, holding nothing of latchd's. */
/*
 * Found while writing fuzz-core's fake of this module: a request its handler
 * held and answered before returning was freed by the answer, and dispatch()
 * then used it (AddressSanitizer: heap-use-after-free; build-san shows it).
 * The core does this whenever a CONNECT, LATCH or ACCEPT is decided at once.
 */
static void test_held_answered_at_once(void **state)
{
	struct control_config cfg = config();
	struct server s;
	int fd;

	server_start(&s, &cfg);
	fd = hello(&s);
	assert_int_equal(send_msg(fd, IPC_MSG_QUERY, 2, -1), 0);
	assert_int_equal(recv_status(&s, fd), 0);
	assert_int_equal(send_msg(fd, IPC_MSG_STATUS, 3, -1), 0);
	assert_int_equal(recv_status(&s, fd), 0); /* still served */
	close(fd);
	pump(&s);
	assert_int_equal(s.f.gone, 1);
	server_stop(&s);
}

static void test_client_limits(void **state)
{
	struct control_config cfg = config();
	/* root is an administrator: bound by max_clients alone; users by their share */
	unsigned room = geteuid() == 0 ? 3 : 2;
	int fds[4], extra;
	struct server s;

	cfg.max_clients = 3;
	cfg.admin_clients = 1;
	cfg.max_clients_per_uid = 2;
	server_start(&s, &cfg);
	for (unsigned i = 0; i < room; i++)
		fds[i] = hello(&s);
	extra = connect_to(&s);
	assert_int_equal(send_msg(extra, IPC_MSG_HELLO, 7, -1), 0);
	assert_int_equal(recv_status(&s, extra), -EUSERS);
	assert_int_equal(recv_status(&s, extra), 1); /* closed */
	assert_int_equal(control_client_count(s.f.ctl), room);
	close(extra);
	close(fds[0]);
	pump(&s);
	close(hello(&s)); /* a place came free */
	for (unsigned i = 1; i < room; i++)
		close(fds[i]);
	server_stop(&s);
}

/*
 * A client goes away with a request held, while a watcher that went away
 * too is to get the ALERT its cancel sends: both are dropped by the loop,
 * the cancel runs once, without its client, and nothing is freed twice.
 */
static void test_drop_held(void **state)
{
	struct control_config cfg = config();
	struct server s;
	int a, w, sock;

	server_start(&s, &cfg);
	w = hello(&s);
	assert_int_equal(send_msg(w, IPC_MSG_WATCH, 2, -1), 0);
	assert_int_equal(recv_status(&s, w), 0);
	a = hello(&s);
	sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(send_msg(a, IPC_MSG_LISTEN, 2, sock), 0);
	pump(&s);
	assert_int_equal(s.f.cancelled, 0);
	close(w);
	close(a);
	pump(&s);
	assert_int_equal(s.f.cancelled, 1);
	assert_false(s.f.cancel_had_client);
	assert_int_equal(s.f.gone, 2);
	assert_int_equal(control_client_count(s.f.ctl), 0);
	close(sock);
	server_stop(&s);
}

/* A client that asks and never reads is dropped when its queue passes its limit. */
static void test_not_reading(void **state)
{
	struct control_config cfg = config();
	struct server s;
	int fd, r = 0;

	cfg.max_queued_per_uid = 64 << 10;
	server_start(&s, &cfg);
	fd = hello(&s);
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK),
			 0); /* the test is the loop's only thread */
	for (uint32_t seq = 2; seq < 20000 && r == 0; seq++) {
		r = send_msg(fd, IPC_MSG_STATUS, seq, -1);
		if (r == -EAGAIN)
			r = 0;
		ev_run_once(s.loop, 0);
	}
	pump(&s);
	assert_int_equal(s.f.gone, 1);
	assert_int_equal(control_client_count(s.f.ctl), 0);
	close(fd);
	server_stop(&s);
}

/*
 * Out of descriptors, latchd stops accepting for a moment instead of
 * spinning on the waiting connection (each turn of the loop finds nothing
 * to do), and takes it once a descriptor is free again.
 */
static void test_emfile_pause(void **state)
{
	struct control_config cfg = config();
	struct rlimit old, low;
	struct server s;
	int fd, spare, fill[64], n = 0, busy = 0;

	server_start(&s, &cfg);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	spare = dup(0);
	low = old;
	low.rlim_cur = (rlim_t)spare + 1; /* spare is the highest descriptor: none above */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	close(spare);
	fd = connect_to(&s); /* takes the last descriptor: accept4 meets EMFILE */
	while (n < 64 && (fill[n] = dup(0)) >= 0)
		n++;
	for (int i = 0; i < 10; i++)
		busy += ev_run_once(s.loop, 0) > 0;
	assert_true(busy <= 1); /* the one turn that met EMFILE, then quiet */
	assert_int_equal(control_client_count(s.f.ctl), 0);
	while (n > 0)
		close(fill[--n]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	for (int i = 0; i < 50 && control_client_count(s.f.ctl) == 0; i++)
		ev_run_once(s.loop, 20000);
	assert_int_equal(control_client_count(s.f.ctl), 1);
	assert_int_equal(send_msg(fd, IPC_MSG_HELLO, 1, -1), 0);
	assert_int_equal(recv_status(&s, fd), 0);
	close(fd);
	server_stop(&s);
}

/* The socket is 0666 whatever the umask: its mode is set before bind, not by path. */
static void test_socket_mode(void **state)
{
	struct control_config cfg = config();
	mode_t old = umask(077);
	struct server s;
	struct stat st;

	server_start(&s, &cfg);
	umask(old);
	assert_int_equal(lstat(s.path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0666);
	server_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framing),	      cmocka_unit_test(test_held_answered_at_once),
		cmocka_unit_test(test_client_limits), cmocka_unit_test(test_drop_held),
		cmocka_unit_test(test_not_reading),   cmocka_unit_test(test_emfile_pause),
		cmocka_unit_test(test_socket_mode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
