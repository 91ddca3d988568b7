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
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "latchd/control/control.h"
#include "shared/fdpass.h"
#include "shared/wire.h"

struct fake {
	struct control *ctl;
	int handled, cancelled, gone;
	bool cancel_had_client;
	struct request *dump; /* a LIST being answered entry by entry */
	int dump_cancelled;
};

static void dump_cancel(struct request *req)
{
	struct fake *f = req->data;

	f->dump_cancelled++;
	f->dump = NULL;
}

/* One entry of a dump: a latch's id and state. */
static int dump_entry(struct request *req, uint64_t id)
{
	struct buf *b = control_reply_begin(req, IPC_F_MORE);

	wire_put_u64(b, IPC_A_LATCH_ID, id);
	wire_put_u8(b, IPC_A_STATE, IPC_STATE_ESTABLISHED);
	return control_reply_send(req);
}

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
	case IPC_MSG_LIST: /* a dump: its first entry now, the rest when the test says */
		if (control_request_hold(req) < 0)
			return -EAGAIN;
		req->cancel = dump_cancel;
		req->data = f;
		f->dump = req;
		return dump_entry(req, 1);
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
	assert_int_equal(chmod(s->dir, 0755), 0); /* users' clients reach the socket */
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

/* ---------------------------------------------------------------- replies in detail */

/* A reply as the client sees it: header, MESSAGE and VERSION if any; closed: the connection ended.
 */
struct reply {
	bool closed;
	struct wire_hdr h;
	char msg[IPC_MESSAGE_MAX + 1];
	uint32_t version;
	bool has_version;
};

static struct reply recv_reply(struct server *s, int fd)
{
	uint8_t p[IPC_MSG_MAX];
	struct reply r = { .closed = false };
	struct wire_attrs at;
	const char *m;
	int n;

	pump(s);
	n = (int)recv(fd, p, sizeof(p), MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno == ECONNRESET)) {
		r.closed = true;
		return r;
	}
	if (n < IPC_HDR_LEN)
		fail_msg("no reply (recv: %d, %s)", n, n < 0 ? strerror(errno) : "short");
	assert_int_equal(wire_peek_hdr(p, (size_t)n, &r.h), 0);
	at = (struct wire_attrs){ p + IPC_HDR_LEN, (size_t)n - IPC_HDR_LEN };
	if (wire_get_str(&at, IPC_A_MESSAGE, &m) == 0)
		snprintf(r.msg, sizeof(r.msg), "%s", m);
	r.has_version = wire_get_u32(&at, IPC_A_VERSION, &r.version) == 0;
	return r;
}

/* The reply to the last packet: this status, echoing type and seq, its MESSAGE saying want. */
static void expect(struct server *s, int fd, uint16_t type, uint32_t seq, int status,
		   const char *want)
{
	struct reply r = recv_reply(s, fd);

	if (r.closed)
		fail_msg("connection closed, want status %d \"%s\"", status, want);
	assert_int_equal(r.h.status, status);
	assert_int_equal(r.h.type, type);
	assert_int_equal(r.h.seq, seq);
	assert_true(r.h.flags & IPC_F_REPLY);
	if (!strstr(r.msg, want))
		fail_msg("MESSAGE \"%s\" does not say \"%s\"", r.msg, want);
}

/* A packet of a header and raw bytes after it (attributes, as a client could write them). */
static void send_raw(int fd, uint16_t type, uint16_t flags, uint32_t seq, const void *body,
		     size_t n, int pass)
{
	uint8_t p[64] = { type >> 8, type & 0xff, flags >> 8, flags & 0xff,
			  0,	     0,		  seq >> 8,   seq & 0xff };

	assert_true(n <= sizeof(p) - IPC_HDR_LEN);
	if (n)
		memcpy(p + IPC_HDR_LEN, body, n);
	assert_int_equal(fdpass_send(fd, p, IPC_HDR_LEN + n, pass), 0);
}

/* Is this descriptor's last copy gone (the other end of a pipe sees EPIPE)? */
static bool pipe_closed(int wr)
{
	return write(wr, "x", 1) < 0 && errno == EPIPE;
}

/*
 * Each malformed packet gets the documented -errno (docs/ipc.md, "Errors";
 * docs/security.md, "Malformed and unexpected requests") with a MESSAGE
 * naming the fault, echoing type and seq where there was a header; the core
 * never sees it, a descriptor that came with it is closed, and the
 * connection is served on.
 */
static void test_framing_errors(void **state)
{
	static const uint8_t overrun[] = { 0, 200, 0, 1, 0, 0, 0, 1 }; /* len 200, 8 bytes */
	static const uint8_t below4[] = { 0, 2, 0, 1 };
	static const uint8_t unknown_attr[] = { 0, 8, 0x0f, 0xa0, 0, 0, 0, 1 }; /* type 4000 */
	static const uint8_t pad[] = { 0, 5, 0, 1, 9, 1, 0, 0 }; /* padding not zero */
	struct control_config cfg = config();
	static uint8_t big[IPC_MSG_MAX + 1];
	int fd, p1[2], p2[2];
	struct server s;

	server_start(&s, &cfg);
	fd = hello(&s);
	assert_int_equal(send(fd, big, 5, 0), 5);
	expect(&s, fd, 0, 0, -EBADMSG, "5 bytes, shorter than the 12-byte header");
	send_raw(fd, IPC_MSG_STATUS, 0, 7, overrun, sizeof(overrun), -1);
	expect(&s, fd, IPC_MSG_STATUS, 7, -EBADMSG, "STATUS: attribute overruns at offset 0");
	send_raw(fd, IPC_MSG_STATUS, 0, 8, below4, sizeof(below4), -1);
	expect(&s, fd, IPC_MSG_STATUS, 8, -EBADMSG, "attribute length below 4");
	send_raw(fd, IPC_MSG_HELLO, 0, 9, pad, sizeof(pad), -1);
	expect(&s, fd, IPC_MSG_HELLO, 9, -EBADMSG, "non-zero padding");
	send_raw(fd, 999, 0, 10, NULL, 0, -1);
	expect(&s, fd, 999, 10, -EOPNOTSUPP, "unknown message type 999");
	send_raw(fd, IPC_MSG_ALERT, 0, 11, NULL, 0, -1);
	expect(&s, fd, IPC_MSG_ALERT, 11, -EOPNOTSUPP, "ALERT: is not a request");
	send_raw(fd, IPC_MSG_STATUS, IPC_F_REPLY, 12, NULL, 0, -1);
	expect(&s, fd, IPC_MSG_STATUS, 12, -EOPNOTSUPP, "clients send no replies");
	send_raw(fd, IPC_MSG_STATUS, 0x80, 13, NULL, 0, -1);
	expect(&s, fd, IPC_MSG_STATUS, 13, -EBADMSG, "unknown flags 0x0080");
	send_raw(fd, IPC_MSG_STATUS, 0, 14, unknown_attr, sizeof(unknown_attr), -1);
	expect(&s, fd, IPC_MSG_STATUS, 14, -EINVAL, "STATUS: unknown attribute type 4000");
	memcpy(big, (uint8_t[]){ 0x01, 0x90, 0, 0, 0, 0, 0, 15 }, 8); /* STATUS, seq 15 */
	assert_int_equal(send(fd, big, sizeof(big), 0), (ssize_t)sizeof(big));
	expect(&s, fd, IPC_MSG_STATUS, 15, -EMSGSIZE, "16385 bytes exceed the limit of 16384");
	{
		/* longer than latchd reads at all: refused whole, without a header to echo */
		static uint8_t huge[5 * IPC_MSG_MAX];

		assert_int_equal(send(fd, huge, sizeof(huge), 0), (ssize_t)sizeof(huge));
		expect(&s, fd, 0, 0, -EMSGSIZE, "message too large");
	}

	/* descriptors: one where none is taken, none where one is needed, two */
	assert_int_equal(pipe2(p1, O_CLOEXEC), 0);
	assert_int_equal(pipe2(p2, O_CLOEXEC), 0);
	send_raw(fd, IPC_MSG_STATUS, 0, 16, NULL, 0, p1[0]);
	expect(&s, fd, IPC_MSG_STATUS, 16, -EBADF, "STATUS: takes no fd, got 1");
	close(p1[0]);
	assert_true(pipe_closed(p1[1]));
	send_raw(fd, IPC_MSG_LISTEN, 0, 17, NULL, 0, -1);
	expect(&s, fd, IPC_MSG_LISTEN, 17, -EBADF, "LISTEN: needs the socket passed");
	{
		union {
			struct cmsghdr align;
			char b[CMSG_SPACE(2 * sizeof(int))];
		} ctl = { 0 };
		uint8_t p[IPC_HDR_LEN] = { 0x00, 0xc9, 0, 0, 0, 0, 0, 18 }; /* LISTEN, seq 18 */
		struct iovec iov = { p, sizeof(p) };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = ctl.b,
				     .msg_controllen = sizeof(ctl.b) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		int two[2] = { p1[0] = dup(p2[0]), p2[0] };

		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(two));
		memcpy(CMSG_DATA(c), two, sizeof(two));
		assert_int_equal(sendmsg(fd, &mh, 0), (ssize_t)sizeof(p));
		close(p1[0]);
		close(p2[0]);
	}
	/* fdpass_recv refused the packet before its header was read: no type, no seq */
	expect(&s, fd, 0, 0, -ETOOMANYREFS, "more than one descriptor in one packet");
	assert_true(pipe_closed(p2[1]));
	close(p1[1]);
	close(p2[1]);

	assert_int_equal(s.f.handled, 0); /* the core saw none of them */
	assert_int_equal(send_msg(fd, IPC_MSG_STATUS, 19, -1), 0);
	expect(&s, fd, IPC_MSG_STATUS, 19, 0, "");
	assert_int_equal(s.f.handled, 1);
	assert_int_equal(s.f.gone, 0);
	close(fd);
	server_stop(&s);
}

/*
 * HELLO first: anything else before it is -EPROTO and never reaches the
 * core. A HELLO of another version is answered -EPROTO with latchd's
 * VERSION and a MESSAGE, and the connection is closed (docs/ipc.md,
 * "Session"). BYE is answered, then the connection closes.
 */
static void test_hello_first(void **state)
{
	struct control_config cfg = config();
	struct server s;
	struct buf b;
	struct reply r;
	int fd;

	server_start(&s, &cfg);
	fd = connect_to(&s);
	assert_int_equal(send_msg(fd, IPC_MSG_STATUS, 1, -1), 0);
	expect(&s, fd, IPC_MSG_STATUS, 1, -EPROTO, "the first message must be HELLO");
	assert_int_equal(s.f.handled, 0);
	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, IPC_MSG_HELLO, 0, 2, 0);
	wire_put_u32(&b, IPC_A_VERSION, IPC_VERSION + 1);
	assert_int_equal(wire_end(&b), 0);
	assert_int_equal(fdpass_send(fd, b.data, b.len, -1), 0);
	r = recv_reply(&s, fd);
	assert_false(r.closed);
	assert_int_equal(r.h.status, -EPROTO);
	assert_int_equal(r.h.seq, 2);
	assert_true(r.has_version);
	assert_int_equal(r.version, IPC_VERSION);
	if (!strstr(r.msg, "protocol version 2 not supported"))
		fail_msg("MESSAGE \"%s\"", r.msg);
	assert_true(recv_reply(&s, fd).closed);
	assert_int_equal(s.f.gone, 1);
	assert_int_equal(s.f.handled, 0);
	close(fd);

	fd = hello(&s);
	assert_int_equal(send_msg(fd, IPC_MSG_BYE, 3, -1), 0);
	expect(&s, fd, IPC_MSG_BYE, 3, 0, "");
	assert_true(recv_reply(&s, fd).closed);
	close(fd);
	assert_int_equal(control_client_count(s.f.ctl), 0);
	buf_free(&b);
	server_stop(&s);
}

/* ---------------------------------------------------------------- users' limits */

/*
 * A connection made by a process of uid: a child takes that uid, connects
 * and hands the socket back (SO_PEERCRED holds the connecting process's).
 */
static int connect_as(struct server *s, uid_t uid)
{
	int sp[2], fd = -1, st;
	char x;
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int c;

		if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
		    setresuid(uid, uid, uid) < 0)
			_exit(1);
		c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		strcpy(sa.sun_path, s->path);
		if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			_exit(2);
		_exit(fdpass_send(sp[1], "x", 1, c) < 0 ? 3 : 0);
	}
	close(sp[1]);
	assert_int_equal(fdpass_recv(sp[0], &x, 1, &fd), 1);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(sp[0]);
	assert_true(fd >= 0);
	return fd;
}

static int hello_as(struct server *s, uid_t uid)
{
	int fd = connect_as(s, uid);

	assert_int_equal(send_msg(fd, IPC_MSG_HELLO, 1, -1), 0);
	expect(s, fd, IPC_MSG_HELLO, 1, 0, "");
	return fd;
}

/* Refused at accept: -EUSERS with why, echoing the HELLO, then closed. */
static void refused_as(struct server *s, uid_t uid, const char *want)
{
	int fd = connect_as(s, uid);

	assert_int_equal(send_msg(fd, IPC_MSG_HELLO, 5, -1), 0);
	expect(s, fd, IPC_MSG_HELLO, 5, -EUSERS, want);
	assert_true(recv_reply(s, fd).closed);
	close(fd);
}

#define USER  65534
#define USER2 65533

/*
 * max_clients_per_uid for users, the users' share of max_clients, and the
 * administrators' reserve above it: each refusal names its limit, and root
 * still gets in where users do not.
 */
static void test_user_limits(void **state)
{
	struct control_config cfg = config();
	int u[3], a[2];
	struct server s;

	if (geteuid() != 0)
		skip();
	cfg.max_clients = 5;
	cfg.admin_clients = 2;
	cfg.max_clients_per_uid = 2;
	server_start(&s, &cfg);
	u[0] = hello_as(&s, USER);
	u[1] = hello_as(&s, USER);
	refused_as(&s, USER, "too many connections for uid 65534 (limit 2)");
	u[2] = hello_as(&s, USER2);
	refused_as(&s, USER2 - 1, "latchd serves 3 users' clients, its limit");
	a[0] = hello(&s); /* the reserve */
	a[1] = hello(&s);
	{
		int r = connect_to(&s);

		assert_int_equal(send_msg(r, IPC_MSG_HELLO, 6, -1), 0);
		expect(&s, r, IPC_MSG_HELLO, 6, -EUSERS, "latchd serves 5 clients, its limit");
		close(r);
	}
	assert_int_equal(control_client_count(s.f.ctl), 5);
	close(u[0]); /* a place comes free for that user */
	pump(&s);
	u[0] = hello_as(&s, USER);
	for (int i = 0; i < 3; i++)
		close(u[i]);
	close(a[0]);
	close(a[1]);
	server_stop(&s);
}

/*
 * Requests waiting on the core: max_pending_per_uid per connection for a
 * user (-EAGAIN, the connection served on), none for root. A second
 * connection of the same user has its own count.
 */
static void test_pending_limit(void **state)
{
	struct control_config cfg = config();
	int u, u2, a, sock;
	struct server s;

	if (geteuid() != 0)
		skip();
	cfg.max_pending_per_uid = 2;
	server_start(&s, &cfg);
	sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	u = hello_as(&s, USER);
	u2 = hello_as(&s, USER);
	a = hello(&s);
	for (uint32_t seq = 2; seq < 4; seq++) {
		assert_int_equal(send_msg(u, IPC_MSG_LISTEN, seq, sock), 0);
		assert_int_equal(send_msg(a, IPC_MSG_LISTEN, seq, sock), 0);
	}
	assert_int_equal(send_msg(u, IPC_MSG_LISTEN, 4, sock), 0);
	expect(&s, u, IPC_MSG_LISTEN, 4, -EAGAIN, "");
	assert_int_equal(send_msg(a, IPC_MSG_LISTEN, 4, sock), 0);
	assert_int_equal(send_msg(u2, IPC_MSG_LISTEN, 2, sock), 0);
	pump(&s);
	assert_int_equal(recv(a, (char[16]){ 0 }, 16, MSG_DONTWAIT), -1); /* root: all three wait */
	assert_int_equal(recv(u2, (char[16]){ 0 }, 16, MSG_DONTWAIT), -1);
	assert_int_equal(send_msg(u, IPC_MSG_STATUS, 5, -1), 0);
	expect(&s, u, IPC_MSG_STATUS, 5, 0, "");
	close(u);
	close(u2);
	close(a);
	pump(&s);
	assert_int_equal(s.f.cancelled, 2 + 3 + 1);
	close(sock);
	server_stop(&s);
}

/* Send STATUS and never read, until latchd drops the connection (or 20,000 went). */
static bool flood_unread(struct server *s, int fd)
{
	int r = 0;

	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	for (uint32_t seq = 2; seq < 20000 && r == 0; seq++) {
		r = send_msg(fd, IPC_MSG_STATUS, seq, -1);
		if (r == -EAGAIN)
			r = 0;
		ev_run_once(s->loop, 0);
	}
	pump(s);
	return r != 0;
}

/*
 * The memory queued for users who do not read, all users together: a
 * user's connection is dropped at max_queued though far below its own
 * max_queued_per_uid; root's, not counted there, is not. Others are served.
 */
static void test_queued_total(void **state)
{
	struct control_config cfg = config();
	int u, a, other;
	struct server s;

	if (geteuid() != 0)
		skip();
	cfg.max_queued_per_uid = 16 << 20;
	cfg.max_queued = 64 << 10;
	server_start(&s, &cfg);
	other = hello_as(&s, USER2);
	u = hello_as(&s, USER);
	assert_true(flood_unread(&s, u));
	assert_int_equal(s.f.gone, 1);
	a = hello(&s);
	assert_int_equal(fcntl(a, F_SETFL, O_NONBLOCK), 0);
	for (uint32_t seq = 2; seq < 3000; seq++) {
		int r = send_msg(a, IPC_MSG_STATUS, seq, -1);

		assert_true(r == 0 || r == -EAGAIN);
		ev_run_once(s.loop, 0);
	}
	pump(&s);
	assert_int_equal(s.f.gone, 1); /* root holds more than max_queued and stays */
	assert_int_equal(send_msg(other, IPC_MSG_STATUS, 2, -1), 0);
	expect(&s, other, IPC_MSG_STATUS, 2, 0, "");
	close(u);
	close(a);
	close(other);
	server_stop(&s);
}

/*
 * A client vanishes in the middle of a dump: one entry read, the next sent
 * into a socket whose peer is gone. The request stays the core's until the
 * loop frees the client; then its cancel runs once, and another client is
 * served all the while.
 */
static void test_drop_mid_reply(void **state)
{
	struct control_config cfg = config();
	struct server s;
	struct reply r;
	int a, b;

	server_start(&s, &cfg);
	a = hello(&s);
	b = hello(&s);
	assert_int_equal(send_msg(a, IPC_MSG_LIST, 2, -1), 0);
	r = recv_reply(&s, a);
	assert_int_equal(r.h.status, 0);
	assert_true(r.h.flags & IPC_F_MORE);
	assert_non_null(s.f.dump);
	assert_int_equal(dump_entry(s.f.dump, 2), 0);
	r = recv_reply(&s, a);
	assert_true(r.h.flags & IPC_F_MORE);
	close(a);
	assert_true(dump_entry(s.f.dump, 3) < 0); /* the peer is gone: EPIPE */
	assert_null(s.f.dump->client);
	assert_int_equal(s.f.dump_cancelled, 0); /* not inside the send */
	assert_int_equal(send_msg(b, IPC_MSG_STATUS, 2, -1), 0);
	expect(&s, b, IPC_MSG_STATUS, 2, 0, "");
	assert_int_equal(s.f.dump_cancelled, 1);
	assert_null(s.f.dump);
	assert_int_equal(s.f.gone, 1);
	assert_int_equal(control_client_count(s.f.ctl), 1);
	close(b);
	server_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framing),	       cmocka_unit_test(test_held_answered_at_once),
		cmocka_unit_test(test_client_limits),  cmocka_unit_test(test_drop_held),
		cmocka_unit_test(test_not_reading),    cmocka_unit_test(test_emfile_pause),
		cmocka_unit_test(test_socket_mode),    cmocka_unit_test(test_framing_errors),
		cmocka_unit_test(test_hello_first),    cmocka_unit_test(test_user_limits),
		cmocka_unit_test(test_pending_limit),  cmocka_unit_test(test_queued_total),
		cmocka_unit_test(test_drop_mid_reply),
	};

	signal(SIGPIPE, SIG_IGN); /* a closed pipe's writer gets EPIPE */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
