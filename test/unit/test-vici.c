/* SPDX-License-Identifier: MIT */
/*
 * The VICI client against a fake charon: a listening UNIX socket in a
 * temporary directory, driven step by step from the test with blocking
 * reads (bounded by SO_RCVTIMEO) while the client runs on its event loop.
 * The fake answers with frames captured from the real charon.
 */
#include "unit.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "latchd/charon/vici-cmd.h"
#include "latchd/charon/vici.h"
#include "vici-golden.h"

#define MAX_SEEN 16

struct fixture {
	char dir[64], path[96];
	int lfd, cmd, evt; /* the fake charon's listening and accepted sockets */
	struct ev_loop *loop;
	struct vici_client *vc;
	/* what the client reported, in order */
	char seen[MAX_SEEN][48];
	int nseen;
	int down_err;
	struct vici_result last;
	const char *last_daemon;
	int last_stream_count;
	int replies;
};

static void note(struct fixture *f, const char *what)
{
	assert_true(f->nseen < MAX_SEEN);
	snprintf(f->seen[f->nseen++], sizeof(f->seen[0]), "%s", what);
}

static void on_up(void *u, bool resync, unsigned unknown)
{
	note(u, resync ? "up resync" : "up");
}

static void on_down(void *u, int err, const char *why)
{
	struct fixture *f = u;

	f->down_err = err;
	note(f, "down");
}

static void on_event(void *u, const char *name, const struct vici_node *msg)
{
	char buf[48];

	snprintf(buf, sizeof(buf), "event %s %s", name, vici_get_yes(msg, "up") ? "up" : "down");
	note(u, buf);
}

static const struct vici_client_ops ops = { .up = on_up, .down = on_down, .event = on_event };
static const char *const events[] = { "ike-updown", "child-updown", NULL };
static const char *const streams[] = { "list-sa",     "list-conn",	"list-cert",
				       "list-policy", "list-authority", "control-log" };

static void on_reply(void *u, const struct vici_result *res)
{
	struct fixture *f = u;

	f->replies++;
	f->last.err = res->err;
	f->last_daemon = NULL;
	if (res->reply && vici_get_str(res->reply, "daemon"))
		f->last_daemon = "charon";
	f->last_stream_count = 0;
	for (const struct vici_node *n = res->stream ? res->stream->child : NULL; n; n = n->next)
		f->last_stream_count++;
	note(f, res->err ? "reply error" : "reply");
}

/* ---- the fake charon ---- */

static int srv_accept(struct fixture *f)
{
	struct timeval tv = { .tv_sec = 3 };
	struct pollfd p = { .fd = f->lfd, .events = POLLIN };
	int fd;

	/* The client connects from its loop (reconnects are timers): run it until it does. */
	for (int i = 0; i < 300 && poll(&p, 1, 0) == 0; i++)
		ev_run_once(f->loop, 10000);
	fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Run the client's loop until fd has something to read (or a timeout fails the test). */
static void pump_until_readable(struct fixture *f, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	for (int i = 0; i < 300; i++) {
		if (poll(&p, 1, 0) > 0)
			return;
		ev_run_once(f->loop, 10000);
	}
	fail_msg("the client sent nothing");
}

static void read_all(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);

		assert_true(r > 0);
		p += r;
		n -= (size_t)r;
	}
}

/* Read one frame sent by the client; return its message as a tree (caller frees). */
static struct vici_node *srv_recv(struct fixture *f, int fd, enum vici_pkt type, const char *name)
{
	struct vici_packet pkt;
	struct vici_err err;
	struct vici_node *msg = NULL;
	uint8_t hdr[4], *body;
	uint32_t len;

	pump_until_readable(f, fd);
	read_all(fd, hdr, 4);
	assert_int_equal(vici_frame_len(hdr, &len, &err), 0);
	body = malloc(len);
	assert_non_null(body);
	read_all(fd, body, len);
	assert_int_equal(vici_packet_decode(body, len, &pkt, &err), 0);
	assert_int_equal(pkt.type, type);
	assert_string_equal(pkt.name, name);
	assert_int_equal(vici_msg_decode(pkt.msg, pkt.msg_len, &msg, &err), 0);
	free(body);
	return msg;
}

static void srv_expect(struct fixture *f, int fd, enum vici_pkt type, const char *name)
{
	vici_node_free(srv_recv(f, fd, type, name));
}

static void srv_send_hex(int fd, const char *hex)
{
	size_t n;
	uint8_t *b = unit_hex(hex, &n);

	assert_int_equal(write(fd, b, n), (ssize_t)n);
	free(b);
}

static bool srv_quiet(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 20) == 0;
}

static void pump(struct fixture *f, int *counter, int want)
{
	for (int i = 0; i < 300 && *counter < want; i++)
		ev_run_once(f->loop, 10000);
	assert_int_equal(*counter, want);
}

/* Accept both connections and answer every registration; the client must then be up. */
static void srv_handshake(struct fixture *f)
{
	f->cmd = srv_accept(f);
	f->evt = srv_accept(f);
	for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
		srv_expect(f, f->cmd, VICI_EVENT_REGISTER, streams[i]);
		/* One request in flight: nothing more until this one is answered. */
		assert_true(srv_quiet(f->cmd));
		srv_send_hex(f->cmd, GOLDEN_CONFIRM);
	}
	srv_expect(f, f->evt, VICI_EVENT_REGISTER, "ike-updown");
	srv_send_hex(f->evt, GOLDEN_CONFIRM);
	srv_expect(f, f->evt, VICI_EVENT_REGISTER, "child-updown");
	srv_send_hex(f->evt, GOLDEN_CONFIRM);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vici_client_config cfg = {
		.events = events,
		.timeout_usec = 2000000,
		.backoff_min_usec = 1000,
		.backoff_max_usec = 20000,
	};

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-vici-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/charon.vici", f->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->lfd, 8), 0);
	f->cmd = f->evt = -1;
	assert_int_equal(ev_loop_new(&f->loop), 0);
	cfg.path = f->path;
	assert_int_equal(vici_client_new(f->loop, &cfg, &ops, f, &f->vc), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vici_client_free(f->vc);
	ev_loop_free(f->loop);
	if (f->cmd >= 0)
		close(f->cmd);
	if (f->evt >= 0)
		close(f->evt);
	close(f->lfd);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void assert_seen(struct fixture *f, int i, const char *what)
{
	assert_true(i < f->nseen);
	assert_string_equal(f->seen[i], what);
}

/* ---- tests ---- */

static void test_events_before_confirm_are_queued(void **state)
{
	struct fixture *f = *state;

	f->cmd = srv_accept(f);
	f->evt = srv_accept(f);
	srv_expect(f, f->evt, VICI_EVENT_REGISTER, "ike-updown");
	/* An event slips in before the confirm of its registration, as charon's do. */
	srv_send_hex(f->evt, GOLDEN_CHILD_UPDOWN_EVENT);
	srv_send_hex(f->evt, GOLDEN_CONFIRM);
	srv_expect(f, f->evt, VICI_EVENT_REGISTER, "child-updown");
	srv_send_hex(f->evt, GOLDEN_CONFIRM);
	for (int i = 0; i < 5; i++)
		ev_run_once(f->loop, 5000);
	assert_int_equal(f->nseen, 0); /* the command connection is still registering */
	assert_false(vici_client_is_up(f->vc));
	for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
		srv_expect(f, f->cmd, VICI_EVENT_REGISTER, streams[i]);
		srv_send_hex(f->cmd, GOLDEN_CONFIRM);
	}
	pump(f, &f->nseen, 2);
	assert_seen(f, 0, "up");
	assert_seen(f, 1, "event child-updown up");
	assert_true(vici_client_is_up(f->vc));
	srv_send_hex(f->evt, GOLDEN_IKE_UPDOWN_EVENT);
	pump(f, &f->nseen, 3);
	assert_seen(f, 2, "event ike-updown up");
}

static void test_fifo_and_stream(void **state)
{
	struct fixture *f = *state;
	struct vici_node *req;

	srv_handshake(f);
	pump(f, &f->nseen, 1);
	assert_int_equal(vici_call(f->vc, "version", NULL, 0, on_reply, f, NULL), 0);
	assert_int_equal(vici_call(f->vc, "list-sas", NULL, 0, on_reply, f, NULL), 0);
	assert_int_equal(f->replies, 0); /* never called from inside vici_call */
	srv_expect(f, f->cmd, VICI_CMD_REQUEST, "version");
	assert_true(srv_quiet(f->cmd));
	srv_send_hex(f->cmd, GOLDEN_VERSION_RES);
	req = srv_recv(f, f->cmd, VICI_CMD_REQUEST, "list-sas");
	assert_null(req->child);
	vici_node_free(req);
	assert_int_equal(f->replies, 1);
	assert_string_equal(f->last_daemon, "charon");
	assert_int_equal(f->last_stream_count, 0);
	srv_send_hex(f->cmd, GOLDEN_LIST_SA_EVENT);
	srv_send_hex(f->cmd, GOLDEN_LIST_SA_EVENT);
	srv_send_hex(f->cmd, GOLDEN_LIST_SAS_RES);
	pump(f, &f->replies, 2);
	assert_int_equal(f->last.err, 0);
	assert_int_equal(f->last_stream_count, 2);
}

static void test_unknown_command(void **state)
{
	struct fixture *f = *state;

	srv_handshake(f);
	assert_int_equal(vici_call(f->vc, "nope", NULL, 0, on_reply, f, NULL), 0);
	srv_expect(f, f->cmd, VICI_CMD_REQUEST, "nope");
	srv_send_hex(f->cmd, GOLDEN_CMD_UNKNOWN);
	pump(f, &f->replies, 1);
	assert_int_equal(f->last.err, -EOPNOTSUPP);
}

/* A timed-out command keeps its place until its late reply, which must not go to the next. */
static void test_timeout_in_flight(void **state)
{
	struct fixture *f = *state;

	srv_handshake(f);
	assert_int_equal(vici_call(f->vc, "initiate", NULL, 30000, on_reply, f, NULL), 0);
	assert_int_equal(vici_call(f->vc, "version", NULL, 0, on_reply, f, NULL), 0);
	srv_expect(f, f->cmd, VICI_CMD_REQUEST, "initiate");
	pump(f, &f->replies, 1);
	assert_int_equal(f->last.err, -ETIMEDOUT);
	assert_true(srv_quiet(f->cmd));
	srv_send_hex(f->cmd, GOLDEN_LOAD_CONN_RES); /* the late answer to initiate */
	srv_expect(f, f->cmd, VICI_CMD_REQUEST, "version");
	assert_int_equal(f->replies, 1);
	srv_send_hex(f->cmd, GOLDEN_VERSION_RES);
	pump(f, &f->replies, 2);
	assert_int_equal(f->last.err, 0);
	assert_string_equal(f->last_daemon, "charon");
}

static void test_timeout_queued_and_cancel(void **state)
{
	struct fixture *f = *state;
	uint64_t id;

	srv_handshake(f);
	assert_int_equal(vici_call(f->vc, "version", NULL, 0, on_reply, f, &id), 0);
	assert_int_equal(vici_call(f->vc, "stats", NULL, 30000, on_reply, f, NULL), 0);
	assert_int_equal(vici_cancel(f->vc, id), 0);
	assert_int_equal(vici_cancel(f->vc, id + 100), -ENOENT);
	srv_expect(f, f->cmd, VICI_CMD_REQUEST, "version");
	/* stats waits behind version and times out there, without being sent. */
	pump(f, &f->replies, 1);
	assert_int_equal(f->last.err, -ETIMEDOUT);
	srv_send_hex(f->cmd, GOLDEN_VERSION_RES);
	for (int i = 0; i < 5; i++)
		ev_run_once(f->loop, 10000);
	assert_int_equal(f->replies, 1); /* version was cancelled */
	assert_true(srv_quiet(f->cmd));	 /* and stats never went out */
}

static void test_charon_goes_away(void **state)
{
	struct fixture *f = *state;

	srv_handshake(f);
	pump(f, &f->nseen, 1);
	assert_int_equal(vici_call(f->vc, "initiate", NULL, 0, on_reply, f, NULL), 0);
	assert_int_equal(vici_call(f->vc, "version", NULL, 0, on_reply, f, NULL), 0);
	srv_expect(f, f->cmd, VICI_CMD_REQUEST, "initiate");
	close(f->cmd);
	close(f->evt);
	f->cmd = f->evt = -1;
	pump(f, &f->replies, 2);
	assert_seen(f, 1, "down");
	assert_seen(f, 2, "reply error");
	assert_seen(f, 3, "reply error");
	assert_int_equal(f->down_err, -ECONNRESET);
	assert_int_equal(f->last.err, -ECONNRESET);
	/* Until the reconnect timer fires, new commands fail at once. */
	assert_false(vici_client_is_up(f->vc));
	assert_int_equal(vici_call(f->vc, "version", NULL, 0, on_reply, f, NULL), -ENOTCONN);
	srv_handshake(f);
	pump(f, &f->nseen, 5);
	assert_seen(f, 4, "up resync");
	srv_send_hex(f->evt, GOLDEN_IKE_UPDOWN_EVENT);
	pump(f, &f->nseen, 6);
	assert_seen(f, 5, "event ike-updown up");
}

static void test_not_connected(void **state)
{
	struct fixture *f = *state;
	struct vici_node *m = vici_msg_new();

	/* Nobody accepted yet, but connect() succeeded on the backlog: commands queue. */
	vici_add_kv(m, "k", "v");
	assert_int_equal(vici_call(f->vc, "version", m, 0, on_reply, f, NULL), 0);
	close(f->lfd);
	unlink(f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* The pending connections die with the listener: down was never up, so no "down". */
	pump(f, &f->replies, 1);
	assert_int_equal(f->last.err, -ECONNRESET);
	assert_int_equal(vici_call(f->vc, "version", NULL, 0, on_reply, f, NULL), -ENOTCONN);
	for (int i = 0; i < 5; i++)
		ev_run_once(f->loop, 5000);
	assert_int_equal(vici_call(f->vc, "version", NULL, 0, on_reply, f, NULL), -ENOTCONN);
	assert_int_equal(f->nseen, 1);
}

static void test_malformed_from_charon(void **state)
{
	struct fixture *f = *state;

	srv_handshake(f);
	pump(f, &f->nseen, 1);
	srv_send_hex(f->evt, "00 08 00 01 07"); /* 512 KiB + 1 announced */
	pump(f, &f->nseen, 2);
	assert_seen(f, 1, "down");
	assert_int_equal(f->down_err, -EMSGSIZE);
	close(f->cmd);
	close(f->evt);
	srv_handshake(f);
	pump(f, &f->nseen, 3);
	assert_seen(f, 2, "up resync");
}

static void test_reply_without_command(void **state)
{
	struct fixture *f = *state;

	srv_handshake(f);
	pump(f, &f->nseen, 1);
	srv_send_hex(f->cmd, GOLDEN_VERSION_RES);
	pump(f, &f->nseen, 2);
	assert_seen(f, 1, "down");
	assert_int_equal(f->down_err, -EPROTO);
}

static void test_request_too_big(void **state)
{
	struct fixture *f = *state;
	struct vici_node *m = vici_msg_new();
	uint8_t *v = calloc(1, VICI_VALUE_MAX);
	char key[8];

	assert_non_null(v);
	srv_handshake(f);
	for (int i = 0; i < 8; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		vici_add_kvb(m, key, v, VICI_VALUE_MAX);
	}
	assert_int_equal(vici_call(f->vc, "load-conn", m, 0, on_reply, f, NULL), -EMSGSIZE);
	assert_int_equal(f->replies, 0);
	free(v);
}

static void on_sas(void *u, int err, const char *errmsg, const struct vici_ike_sa *sas, size_t n)
{
	struct fixture *f = u;

	f->replies++;
	f->last.err = err;
	f->last_stream_count = n == 1 ? (int)sas[0].n_children : -1;
	note(f, n == 1 && sas[0].n_children == 1 ? sas[0].children[0].name : "?");
}

static void on_done(void *u, int err, const char *errmsg, const struct vici_node *reply)
{
	struct fixture *f = u;

	f->replies++;
	f->last.err = err;
	note(f, errmsg);
}

/* The typed layer: a filtered list-sas, and charon's refusal as -EREMOTEIO with its words. */
static void test_typed_calls(void **state)
{
	struct fixture *f = *state;
	const struct vici_sa_filter filter = { .child_id = 3 };
	struct vici_node *req;

	srv_handshake(f);
	pump(f, &f->nseen, 1);
	assert_int_equal(vici_list_sas(f->vc, &filter, VICI_SAS_INSTALLED, on_sas, f), 0);
	assert_int_equal(vici_initiate(f->vc, NULL, "f8080", -1, on_done, f), 0);
	req = srv_recv(f, f->cmd, VICI_CMD_REQUEST, "list-sas");
	assert_string_equal(vici_get_str(req, "child-id"), "3");
	vici_node_free(req);
	/* charon would filter by child-id; the fake answers unfiltered: both children arrive. */
	srv_send_hex(f->cmd, GOLDEN_LIST_SA_EVENT);
	srv_send_hex(f->cmd, GOLDEN_LIST_SAS_RES);
	req = srv_recv(f, f->cmd, VICI_CMD_REQUEST, "initiate");
	assert_string_equal(vici_get_str(req, "child"), "f8080");
	assert_string_equal(vici_get_str(req, "timeout"), "-1");
	vici_node_free(req);
	assert_int_equal(f->replies, 1);
	assert_int_equal(f->last.err, 0);
	assert_int_equal(f->last_stream_count, 2);
	/* {success=no, errmsg="establishing CHILD_SA 'f8080' failed"}, as charon words it */
	srv_send_hex(f->cmd,
		     "00 00 00 3c 01 03 07 73 75 63 63 65 73 73 00 02 6e 6f 03 06 65 72 72 6d "
		     "73 67 00 24 65 73 74 61 62 6c 69 73 68 69 6e 67 20 43 48 49 4c 44 5f 53 "
		     "41 20 27 66 38 30 38 30 27 20 66 61 69 6c 65 64");
	pump(f, &f->replies, 2);
	assert_int_equal(f->last.err, -EREMOTEIO);
	assert_seen(f, 2, "establishing CHILD_SA 'f8080' failed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_events_before_confirm_are_queued, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fifo_and_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_queued_and_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_charon_goes_away, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_connected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_from_charon, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_without_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_too_big, setup, teardown),
		cmocka_unit_test_setup_teardown(test_typed_calls, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
