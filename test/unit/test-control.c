/* SPDX-License-Identifier: MIT */
/*
 * The control socket (src/latchd/control.c) with a handler of its own, over
 * a real UNIX socket and event loop. Run under AddressSanitizer (build-san)
 * to see what it guards against.
 */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "latchd/control.h"
#include "latchd/event.h"
#include "shared/wire.h"

/* Holds the request, then answers it before returning: control.h allows both. */
static int hold_and_answer(void *core, struct request *req, char *err, size_t el)
{
	if (control_request_hold(req) < 0)
		return -EAGAIN;
	control_reply_begin(req, 0);
	return control_reply_send(req);
}

static void client_gone(void *core, struct client *cl)
{
}

static void send_msg(int fd, uint16_t type, uint32_t seq)
{
	struct buf b;

	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, type, 0, seq, 0);
	if (type == IPC_MSG_HELLO)
		wire_put_u32(&b, IPC_A_VERSION, IPC_VERSION);
	assert_int_equal(wire_end(&b), 0);
	assert_int_equal(write(fd, b.data, b.len), (ssize_t)b.len);
	buf_free(&b);
}

static void expect_reply(struct ev_loop *loop, int fd, uint16_t type, uint32_t seq)
{
	uint8_t in[IPC_MSG_MAX];
	struct wire_msg m;
	char err[256];
	ssize_t n = -1;

	for (int i = 0; i < 50 && n < 0; i++) {
		ev_run_once(loop, 10000);
		n = recv(fd, in, sizeof(in), MSG_DONTWAIT);
	}
	assert_true(n > 0);
	assert_int_equal(wire_parse(in, (size_t)n, WIRE_FROM_DAEMON, 0, &m, err, sizeof(err)), 0);
	assert_int_equal(m.hdr.type, type);
	assert_int_equal(m.hdr.seq, seq);
	assert_int_equal(m.hdr.status, 0);
}

/*
 * Found while writing fuzz-core's fake of this module: a request the
 * handler held and answered before returning was freed by the answer, and
 * dispatch() then used it (AddressSanitizer: heap-use-after-free). The core
 * does this whenever a CONNECT, LATCH or ACCEPT is decided at once (an SA
 * carries the flow already, a conflicting one exists, no trust anchor).
 */
static void held_and_answered_at_once(void **state)
{
	char dir[] = "/tmp/test-control-XXXXXX", path[64];
	struct control_config cfg = { .max_clients_per_uid = 4,
				      .max_pending_per_uid = 4,
				      .admin_gid = (gid_t)-1 };
	struct control_ops ops = { .handle = hold_and_answer, .client_gone = client_gone };
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct control *ctl;
	struct ev_loop *loop;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sock", dir);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	cfg.path = path;
	assert_int_equal(ev_loop_new(&loop), 0);
	assert_int_equal(control_new(loop, &cfg, &ops, NULL, &ctl), 0);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	send_msg(fd, IPC_MSG_HELLO, 1);
	expect_reply(loop, fd, IPC_MSG_HELLO, 1);
	send_msg(fd, IPC_MSG_WATCH, 2);
	expect_reply(loop, fd, IPC_MSG_WATCH, 2);
	close(fd);
	control_free(ctl);
	ev_loop_free(loop);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(held_and_answered_at_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
