/* SPDX-License-Identifier: MIT */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fake-latchd.h"
#include "lib/internal.h"

/* The native API against the fake latchd: requests, replies, errors, events. */

static latch_ctx *new_ctx(void)
{
	latch_ctx *ctx = NULL;

	assert_int_equal(latch_ctx_new(&ctx, NULL, 0), 0); /* through LATCH_SOCKET */
	return ctx;
}

/* A loopback TCP listener; its address in *sa. */
static int listener(int family, struct sockaddr_storage *sa, socklen_t *len)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(sa, 0, sizeof(*sa));
	sa->ss_family = (sa_family_t)family;
	if (family == AF_INET)
		((struct sockaddr_in *)sa)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)sa)->sin6_addr = in6addr_loopback;
	*len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	assert_int_equal(bind(fd, (struct sockaddr *)sa, *len), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)sa, len), 0);
	return fd;
}

static void ctx_basics(void **state)
{
	latch_ctx *ctx = NULL, *bad = (latch_ctx *)&bad;
	int fd;

	/* Not running: ESRCH, never ENOENT, which means "no such latch". */
	assert_int_equal(latch_ctx_new(&bad, "/nonexistent/latchd.sock", 0), -ESRCH);
	assert_int_equal(errno, ESRCH);
	assert_ptr_equal(bad, (latch_ctx *)&bad);
	assert_int_equal(latch_ctx_new(&ctx, NULL, 1), -EINVAL);
	assert_int_equal(latch_ctx_new(&ctx, fake->path, 0), 0);
	fd = latch_ctx_get_fd(ctx);
	assert_true(fd >= 0);
	assert_int_equal(latch_ctx_pending(ctx), 0);
	assert_int_equal(latch_ctx_process(ctx), 0);
	assert_string_equal(latch_ctx_last_error(ctx), "");
	assert_int_equal(latch_ctx_set_timeout(ctx, -2), -EINVAL);
	assert_string_equal(latch_version(), "0.1.0");
	latch_ctx_free(ctx);
	latch_ctx_free(NULL);
}

static void hello_refused(void **state)
{
	latch_ctx *ctx = NULL;

	fake->hello_status = -EPROTO;
	assert_int_equal(latch_ctx_new(&ctx, NULL, 0), -EPROTO);
	assert_null(ctx);
}

/* The peer's certificate as latchd sent it, whole, on the remote identity only. */
static void peer_cert_der(const latch_info *info)
{
	const latch_ident *remote = latch_info_get_remote(info);
	uint8_t want[FAKE_DER_LEN];
	latch_ident *copy = NULL;
	const void *der = NULL;
	size_t len = 0;

	fake_cert_der(want);
	assert_int_equal(latch_ident_get_cert_der(remote, 0, &der, &len), 0);
	assert_int_equal(len, FAKE_DER_LEN);
	assert_memory_equal(der, want, FAKE_DER_LEN);
	/* No chain is carried; the local end has no certificate of the peer's. */
	assert_int_equal(latch_ident_get_cert_der(remote, 1, &der, &len), -ENOENT);
	assert_int_equal(latch_ident_get_cert_der(latch_info_get_local(info), 0, &der, &len),
			 -ENODATA);
	assert_int_equal(latch_ident_get_cert_der(NULL, 0, &der, &len), -EINVAL);
	/* A copy has its own. */
	assert_int_equal(latch_ident_dup(remote, &copy), 0);
	assert_int_equal(latch_ident_get_cert_der(copy, 0, &der, &len), 0);
	assert_int_equal(len, FAKE_DER_LEN);
	assert_memory_equal(der, want, FAKE_DER_LEN);
	latch_ident_free(copy);
}

static void connect_latched(void **state)
{
	struct sockaddr_storage sa, local, remote;
	latch_ctx *ctx = new_ctx();
	latch_token *tok = NULL;
	latch_info *info = NULL;
	uint32_t child, in, out;
	socklen_t len;
	int lfd = listener(AF_INET, &sa, &len), fd, proto;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(latch_token_new(&tok), 0);
	assert_int_equal(latch_token_set_encrypt(tok, LATCH_WANT_YES), 0);
	assert_int_equal(latch_token_set_peer_id(tok, "b.example"), 0);
	assert_int_equal(latch_connect(ctx, fd, (struct sockaddr *)&sa, len, tok, 0, &info), 0);
	/* latchd saw a bound socket and the token; connect(2) came after. */
	assert_int_equal(fake->last_type, IPC_MSG_CONNECT);
	assert_true(fake->last_local_port != 0);
	assert_int_equal(fake->last_encrypt, IPC_WANT_YES);
	assert_string_equal(fake->last_peer_id, "b.example");
	assert_int_equal(getpeername(fd, (struct sockaddr *)&remote, &len), 0);
	assert_int_equal(latch_info_get_state(info), LATCH_STATE_ESTABLISHED);
	assert_string_equal(latch_ident_get_id(latch_info_get_remote(info)), "b.example");
	assert_string_equal(latch_ident_get_id(latch_info_get_local(info)), "a.example");
	assert_int_equal(latch_token_get_mode(latch_info_get_protection(info)), LATCH_MODE_TUNNEL);
	assert_int_equal(latch_info_get_sa_shared(info), 1);
	assert_int_equal(latch_info_get_sa_mode(info), LATCH_MODE_TUNNEL);
	assert_string_equal(latch_info_get_sa_encr_alg(info), "AES_GCM_16-256");
	assert_null(latch_info_get_sa_integ_alg(info));
	assert_int_equal(latch_info_get_sa_ids(info, &child, &in, &out), 0);
	assert_int_equal(child, 17);
	assert_int_equal(out, 0xc2000002);
	assert_int_equal(latch_info_get_tuple(info, &proto, &local, NULL), 0);
	assert_int_equal(proto, 6);
	assert_int_equal(ntohs(((struct sockaddr_in *)&local)->sin_port), fake->last_local_port);
	peer_cert_der(info);
	latch_info_free(info);
	latch_token_free(tok);
	close(fd);
	close(lfd);
	latch_ctx_free(ctx);
}

static void connect_refused(void **state)
{
	struct sockaddr_storage sa;
	latch_ctx *ctx = new_ctx();
	latch_info *info = (latch_info *)&info;
	socklen_t len;
	int lfd = listener(AF_INET, &sa, &len), fd;

	fake->fail_type = IPC_MSG_CONNECT;
	fake->fail_status = -EACCES;
	fake->fail_msg = "peer CN=evil is not b.example";
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(latch_connect(ctx, fd, (struct sockaddr *)&sa, len, NULL, 0, &info),
			 -EACCES);
	assert_int_equal(errno, EACCES);
	assert_string_equal(latch_ctx_last_error(ctx), "peer CN=evil is not b.example");
	assert_ptr_equal(info, (latch_info *)&info);
	/* Not connected: nothing may leave when the latch was refused. */
	assert_int_equal(getpeername(fd, (struct sockaddr *)&sa, &len), -1);
	assert_int_equal(errno, ENOTCONN);
	close(fd);
	close(lfd);
	latch_ctx_free(ctx);
}

/* connect(2) fails after the latch was made: the latch is released. */
/*
 * latchd's words are data: an odd byte in them costs nothing of the answer
 * (its status stands) and reaches the application cleaned (shared/text.h).
 */
static void refusal_words_are_data(void **state)
{
	struct sockaddr_storage sa;
	latch_ctx *ctx = new_ctx();
	latch_info *info = NULL;
	socklen_t len;
	int lfd = listener(AF_INET, &sa, &len), fd;

	fake->fail_type = IPC_MSG_CONNECT;
	fake->fail_status = -EACCES;
	fake->fail_msg = "peer \x1b[2J\xff\xc2\x9b"
			 "evil";
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(latch_connect(ctx, fd, (struct sockaddr *)&sa, len, NULL, 0, &info),
			 -EACCES);
	assert_string_equal(latch_ctx_last_error(ctx), "peer \\x1b[2J\\xff\\xc2\\x9bevil");
	close(fd);
	close(lfd);
	latch_ctx_free(ctx);
}

static void connect_fails_releases(void **state)
{
	struct sockaddr_storage sa;
	latch_ctx *ctx = new_ctx();
	socklen_t len;
	int lfd = listener(AF_INET, &sa, &len), fd;

	close(lfd); /* nobody listens on that port any more */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(latch_connect(ctx, fd, (struct sockaddr *)&sa, len, NULL, 0, NULL),
			 -ECONNREFUSED);
	assert_int_equal(fake->count[IPC_MSG_CONNECT - 200], 1);
	assert_int_equal(fake->count[IPC_MSG_RELEASE - 200], 1);
	close(fd);
	latch_ctx_free(ctx);
}

static void connect_ipv6_udp(void **state)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(9) };
	latch_ctx *ctx = new_ctx();
	latch_info *info = NULL;
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	socklen_t len = sizeof(sa);

	sa.sin6_addr = in6addr_loopback;
	assert_int_equal(latch_connect(ctx, fd, (struct sockaddr *)&sa, sizeof(sa), NULL, 0, &info),
			 0);
	assert_true(fake->last_local_port != 0);
	assert_int_equal(getpeername(fd, (struct sockaddr *)&sa, &len), 0);
	assert_int_equal(latch_connect(ctx, fd, (struct sockaddr *)&sa, sizeof(sa), NULL, 4, NULL),
			 -EINVAL);
	latch_info_free(info);
	close(fd);
	latch_ctx_free(ctx);
}

static void listen_accept(void **state)
{
	struct sockaddr_storage sa, peer;
	latch_ctx *ctx = new_ctx();
	latch_info *info = NULL;
	socklen_t len, plen = sizeof(peer);
	int lfd = listener(AF_INET, &sa, &len), c, c2, fd;

	assert_int_equal(latch_listen(ctx, lfd, NULL, 0, &info), 0);
	assert_int_equal(latch_info_get_state(info), LATCH_STATE_LISTENER);
	latch_info_free(info);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sa, len), 0);
	fd = latch_accept(ctx, lfd, (struct sockaddr *)&peer, &plen, LATCH_ACCEPT_NONBLOCK, &info);
	assert_true(fd >= 0);
	assert_int_equal(fake->last_type, IPC_MSG_ACCEPT);
	assert_int_equal(latch_info_get_state(info), LATCH_STATE_ESTABLISHED);
	assert_int_equal(latch_ident_get_auth(latch_info_get_remote(info)),
			 LATCH_AUTH_PKIX_TRUSTED);
	latch_info_free(info);
	close(fd);

	/* Allowed unlatched: returned, and said so. */
	fake->accept_unlatched = true;
	c2 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(c2, (struct sockaddr *)&sa, len), 0);
	fd = latch_accept(ctx, lfd, NULL, NULL, 0, &info);
	assert_true(fd >= 0);
	assert_int_equal(latch_info_get_state(info), LATCH_STATE_NONE);
	assert_int_equal(latch_info_get_reason(info), LATCH_REASON_UNLATCHED);
	assert_null(latch_info_get_remote(info));
	assert_int_equal(latch_info_get_id(info), 0);
	latch_info_free(info);
	close(fd);
	close(c);
	close(c2);
	close(lfd);
	latch_ctx_free(ctx);
}

struct seen {
	int calls;
	uint64_t id;
	int state, reason;
	char message[64];
};

static void on_event(latch_ctx *ctx, uint64_t id, int st, int reason, const char *msg,
		     void *userdata)
{
	struct seen *s = userdata;

	s->calls++;
	s->id = id;
	s->state = st;
	s->reason = reason;
	snprintf(s->message, sizeof(s->message), "%s", msg ? msg : "");
}

/* Wait until the ctx's descriptor is readable, as an event loop would. */
static void wait_ctx(latch_ctx *ctx)
{
	struct pollfd p = { .fd = latch_ctx_get_fd(ctx), .events = POLLIN };

	assert_int_equal(poll(&p, 1, 5000), 1);
}

static uint16_t local_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	return ntohs(sin.sin_port);
}

static uint16_t info_local_port(const latch_info *info)
{
	struct sockaddr_storage local;

	assert_int_equal(latch_info_get_tuple(info, NULL, &local, NULL), 0);
	return ntohs(((struct sockaddr_in *)&local)->sin_port);
}

/*
 * Two connects started on one ctx without waiting, answered by latchd in
 * the reverse order: each op gets its own socket's latch, and connect(2)
 * runs only when it is finished.
 */
static void connect_start_two_out_of_order(void **state)
{
	struct sockaddr_storage sa, peer;
	latch_ctx *ctx = new_ctx();
	latch_info *ia = NULL, *ib = NULL;
	latch_op *a = NULL, *b = NULL;
	socklen_t len, plen = sizeof(peer);
	int lfd = listener(AF_INET, &sa, &len), fa, fb, r;

	fake->hold_type = IPC_MSG_CONNECT;
	fa = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	fb = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_int_equal(latch_connect_start(ctx, fa, (struct sockaddr *)&sa, len, NULL, 0, &a), 0);
	assert_int_equal(latch_connect_start(ctx, fb, (struct sockaddr *)&sa, len, NULL, 0, &b), 0);
	assert_int_equal(latch_op_get_fd(a), fa);
	assert_int_equal(latch_op_get_fd(b), fb);
	/* Not answered yet: no waiting, and nothing leaves the sockets. */
	assert_int_equal(latch_op_finish(ctx, a, &ia), -EAGAIN);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(latch_op_finish(ctx, b, &ib), -EAGAIN);
	assert_null(ia);
	assert_int_equal(getpeername(fa, (struct sockaddr *)&peer, &plen), -1);
	fake_wait_count(fake, IPC_MSG_CONNECT, 2);
	fake_answer_held(fake); /* b's answer comes first */
	wait_ctx(ctx);
	while ((r = latch_op_finish(ctx, a, &ia)) == -EAGAIN)
		wait_ctx(ctx);
	assert_true(r == 0 || r == -EINPROGRESS);
	r = latch_op_finish(ctx, b, &ib);
	assert_true(r == 0 || r == -EINPROGRESS);
	assert_int_equal(info_local_port(ia), local_port(fa));
	assert_int_equal(info_local_port(ib), local_port(fb));
	assert_int_equal(latch_info_get_state(ia), LATCH_STATE_ESTABLISHED);
	/* connect(2) ran at finish. */
	plen = sizeof(peer);
	assert_true(getpeername(fa, (struct sockaddr *)&peer, &plen) == 0 || errno == ENOTCONN);
	latch_info_free(ia);
	latch_info_free(ib);
	close(fa);
	close(fb);
	close(lfd);
	latch_ctx_free(ctx);
}

/*
 * An op's answer read by something else (a blocking call, latch_ctx_process)
 * is kept for it; events that come meanwhile are kept too.
 */
static void op_answer_kept_across_calls(void **state)
{
	struct sockaddr_storage sa;
	latch_ctx *ctx = new_ctx();
	latch_info *info = NULL, *q = NULL;
	struct seen s = { 0 };
	latch_op *op = NULL;
	socklen_t len;
	int lfd = listener(AF_INET, &sa, &len), fd;

	assert_int_equal(latch_ctx_set_event_fn(ctx, on_event, &s), 0);
	fake->alert_before_reply = true;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(latch_connect_start(ctx, fd, (struct sockaddr *)&sa, len, NULL, 0, &op),
			 0);
	/* The blocking query's wait reads the connect's answer first. */
	assert_int_equal(latch_query(ctx, 3, &q), 0);
	latch_info_free(q);
	assert_int_equal(latch_ctx_process(ctx), 2); /* both calls' alerts */
	assert_int_equal(latch_op_finish(ctx, op, &info), 0);
	assert_int_equal(info_local_port(info), local_port(fd));
	assert_string_equal(latch_ctx_last_error(ctx), "");
	latch_info_free(info);
	close(fd);
	close(lfd);
	latch_ctx_free(ctx);
}

/* A refusal comes through the op with latchd's words; the socket stays unconnected. */
static void connect_start_refused(void **state)
{
	struct sockaddr_storage sa;
	latch_ctx *ctx = new_ctx();
	latch_info *info = (latch_info *)&info;
	latch_op *op = NULL, *left = NULL;
	socklen_t len;
	int lfd = listener(AF_INET, &sa, &len), fd, r;

	fake->fail_type = IPC_MSG_CONNECT;
	fake->fail_status = -EACCES;
	fake->fail_msg = "peer CN=evil is not b.example";
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(latch_connect_start(NULL, fd, (struct sockaddr *)&sa, len, NULL, 0, &op),
			 -EINVAL);
	assert_int_equal(latch_connect_start(ctx, fd, (struct sockaddr *)&sa, len, NULL, 2, &op),
			 -EINVAL);
	assert_int_equal(latch_connect_start(ctx, fd, (struct sockaddr *)&sa, len, NULL, 0, NULL),
			 -EINVAL);
	assert_int_equal(latch_connect_start(ctx, fd, (struct sockaddr *)&sa, len, NULL, 0, &op),
			 0);
	while ((r = latch_op_finish(ctx, op, &info)) == -EAGAIN)
		wait_ctx(ctx);
	assert_int_equal(r, -EACCES);
	assert_string_equal(latch_ctx_last_error(ctx), "peer CN=evil is not b.example");
	assert_ptr_equal(info, (latch_info *)&info);
	assert_int_equal(getpeername(fd, (struct sockaddr *)&sa, &len), -1);
	assert_int_equal(errno, ENOTCONN);
	/* One left in flight is freed with its ctx (the sanitizer build checks). */
	fake->fail_type = 0;
	fake->hold_type = IPC_MSG_CONNECT;
	assert_int_equal(latch_connect_start(ctx, fd, (struct sockaddr *)&sa, len, NULL, 0, &left),
			 0);
	close(fd);
	close(lfd);
	latch_ctx_free(ctx);
}

/* Accept without waiting: the connection is the op's until finished, then the caller's. */
static void accept_start_finish(void **state)
{
	struct sockaddr_storage sa;
	latch_ctx *ctx = new_ctx();
	latch_info *info = NULL;
	latch_op *op = NULL;
	socklen_t len;
	int lfd = listener(AF_INET, &sa, &len), c, fd, r;

	assert_int_equal(fcntl(lfd, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(latch_listen(ctx, lfd, NULL, 0, NULL), 0);
	/* Nothing to accept: accept4(2)'s EAGAIN, no op. */
	assert_int_equal(latch_accept_start(ctx, lfd, NULL, NULL, 0, &op), -EAGAIN);
	assert_null(op);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sa, len), 0);
	fake->hold_type = IPC_MSG_ACCEPT;
	assert_int_equal(latch_accept_start(ctx, lfd, NULL, NULL, LATCH_ACCEPT_NONBLOCK, &op), 0);
	assert_true(latch_op_get_fd(op) >= 0);
	assert_int_equal(latch_op_finish(ctx, op, &info), -EAGAIN);
	fake_wait_count(fake, IPC_MSG_ACCEPT, 1);
	fake_answer_held(fake);
	while ((fd = latch_op_finish(ctx, op, &info)) == -EAGAIN)
		wait_ctx(ctx);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_int_equal(latch_info_get_state(info), LATCH_STATE_ESTABLISHED);
	assert_int_equal(fake->last_type, IPC_MSG_ACCEPT);
	latch_info_free(info);
	close(fd);

	/* Refused: the connection is closed by the library, never handed out. */
	fake->hold_type = 0;
	fake->fail_type = IPC_MSG_ACCEPT;
	fake->fail_status = -ECONNREFUSED;
	assert_int_equal(connect(c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0),
				 (struct sockaddr *)&sa, len),
			 0);
	assert_int_equal(latch_accept_start(ctx, lfd, NULL, NULL, 0, &op), 0);
	fd = latch_op_get_fd(op);
	while ((r = latch_op_finish(ctx, op, &info)) == -EAGAIN)
		wait_ctx(ctx);
	assert_int_equal(r, -ECONNREFUSED);
	assert_int_equal(fcntl(fd, F_GETFD), -1); /* closed */
	close(c);
	close(lfd);
	latch_ctx_free(ctx);
}

static void accept_refused_closes(void **state)
{
	struct sockaddr_storage sa;
	latch_ctx *ctx = new_ctx();
	latch_info *info = (latch_info *)&info;
	socklen_t len;
	int lfd = listener(AF_INET, &sa, &len), c;
	char byte;

	fake->fail_type = IPC_MSG_ACCEPT;
	fake->fail_status = -ECONNREFUSED;
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sa, len), 0);
	assert_int_equal(latch_accept(ctx, lfd, NULL, NULL, 0, &info), -ECONNREFUSED);
	assert_ptr_equal(info, (latch_info *)&info);
	/* The library closed its end: the client sees the connection end. */
	assert_int_equal(read(c, &byte, 1), 0);
	close(c);
	close(lfd);
	latch_ctx_free(ctx);
}

static void query_release(void **state)
{
	latch_ctx *ctx = new_ctx();
	latch_info *info = NULL;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_int_equal(latch_query(ctx, 5, &info), 0);
	assert_int_equal(fake->last_type, IPC_MSG_QUERY);
	latch_info_free(info);
	assert_int_equal(latch_release(ctx, 5), 0);
	assert_int_equal(fake->last_type, IPC_MSG_RELEASE);
	assert_int_equal(latch_socket_release(ctx, fd), 0);
	fake->query_enoent = true;
	info = (latch_info *)&info;
	assert_int_equal(latch_socket_query(ctx, fd, &info), -ENOENT);
	assert_ptr_equal(info, (latch_info *)&info);
	assert_int_equal(latch_query(ctx, 0, &info), -EINVAL);
	close(fd);
	latch_ctx_free(ctx);
}

/*
 * Queries answered by liblatch itself (src/lib/cache.c): a connected UDP
 * socket latched through ctx, its info kept with the generation latchd gave.
 */
static int latched_udp(latch_ctx *ctx, uint16_t rport, uint16_t lport, uint64_t *ret_id)
{
	struct sockaddr_in r = { .sin_family = AF_INET, .sin_port = htons(rport) };
	struct sockaddr_in l = { .sin_family = AF_INET, .sin_port = htons(lport) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;
	latch_info *info = NULL;

	r.sin_addr.s_addr = l.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&l, sizeof(l)), 0);
	assert_int_equal(latch_connect(ctx, fd, (struct sockaddr *)&r, sizeof(r), NULL, 0, &info),
			 0);
	*ret_id = latch_info_get_id(info);
	latch_info_free(info);
	return fd;
}

/* The state a query gives, and whether it asked latchd. */
static int query_state(latch_ctx *ctx, int fd, bool *asked)
{
	unsigned before = fake->count[IPC_MSG_QUERY - 200];
	latch_info *info = NULL;
	int r = latch_socket_query(ctx, fd, &info), st;

	*asked = fake->count[IPC_MSG_QUERY - 200] != before;
	if (r < 0)
		return r;
	st = latch_info_get_state(info);
	assert_string_equal(latch_ident_get_id(latch_info_get_remote(info)), "b.example");
	latch_info_free(info);
	return st;
}

static void query_answered_until_changed(void **state)
{
	latch_ctx *ctx = new_ctx();
	uint64_t id;
	int fd = latched_udp(ctx, 9, 0, &id);
	bool asked;

	/* What CONNECT answered, without asking again. */
	assert_int_equal(query_state(ctx, fd, &asked), LATCH_STATE_ESTABLISHED);
	assert_false(asked);
	assert_int_equal(query_state(ctx, fd, &asked), LATCH_STATE_ESTABLISHED);
	assert_false(asked);
	/* latchd counted a change (the latch broke): never the old answer. */
	fake->query_state = IPC_STATE_BROKEN;
	fake_bump(fake, id);
	assert_int_equal(query_state(ctx, fd, &asked), LATCH_STATE_BROKEN);
	assert_true(asked);
	/* That answer is kept in turn. */
	assert_int_equal(query_state(ctx, fd, &asked), LATCH_STATE_BROKEN);
	assert_false(asked);
	close(fd);
	latch_ctx_free(ctx);
}

static void query_reused_fd_asks(void **state)
{
	latch_ctx *ctx = new_ctx();
	uint64_t id;
	int fd = latched_udp(ctx, 9, 0, &id), again, one = 1;
	struct sockaddr_in l = { .sin_family = AF_INET, .sin_port = htons(local_port(fd)) };
	struct sockaddr_in r = { .sin_family = AF_INET, .sin_port = htons(9) };
	bool asked;

	assert_int_equal(query_state(ctx, fd, &asked), LATCH_STATE_ESTABLISHED);
	assert_false(asked);
	/* Another socket with the same ends under the same number: not the latch's. */
	l.sin_addr.s_addr = r.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	again = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_int_equal(setsockopt(again, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(bind(again, (struct sockaddr *)&l, sizeof(l)), 0);
	assert_int_equal(connect(again, (struct sockaddr *)&r, sizeof(r)), 0);
	close(fd);
	assert_int_equal(dup2(again, fd), fd);
	close(again);
	fake->query_enoent = true;
	assert_int_equal(query_state(ctx, fd, &asked), -ENOENT);
	assert_true(asked);
	close(fd);
	latch_ctx_free(ctx);
}

static void query_moved_socket_asks(void **state)
{
	struct sockaddr_in r = { .sin_family = AF_INET, .sin_port = htons(10) };
	latch_ctx *ctx = new_ctx();
	uint64_t id;
	int fd = latched_udp(ctx, 9, 0, &id);
	bool asked;

	/* The same socket, connected elsewhere: latchd finds latches by the socket's ends. */
	r.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&r, sizeof(r)), 0);
	fake->query_enoent = true;
	assert_int_equal(query_state(ctx, fd, &asked), -ENOENT);
	assert_true(asked);
	close(fd);
	latch_ctx_free(ctx);
}

static void query_daemon_gone_not_answered(void **state)
{
	latch_ctx *ctx = new_ctx();
	uint64_t id;
	int fd = latched_udp(ctx, 9, 0, &id);
	bool asked;

	assert_int_equal(query_state(ctx, fd, &asked), LATCH_STATE_ESTABLISHED);
	assert_false(asked);
	/* latchd went away: its page can no longer change, so it vouches for nothing. */
	fake->close_on_type = IPC_MSG_WATCH;
	assert_int_equal(latch_ctx_watch(ctx, 0), -ECONNRESET);
	assert_int_equal(query_state(ctx, fd, &asked), -ECONNRESET);
	close(fd);
	latch_ctx_free(ctx);
}

static void query_without_page_asks(void **state)
{
	latch_ctx *ctx;
	uint64_t id;
	int fd;
	bool asked;

	fake->no_gen_page = true; /* a latchd without IPC_FEATURE_GEN_PAGE */
	ctx = new_ctx();
	fd = latched_udp(ctx, 9, 0, &id);
	assert_int_equal(query_state(ctx, fd, &asked), LATCH_STATE_ESTABLISHED);
	assert_true(asked);
	assert_int_equal(query_state(ctx, fd, &asked), LATCH_STATE_ESTABLISHED);
	assert_true(asked);
	close(fd);
	latch_ctx_free(ctx);
}

static void cache_forgets_stale(void **state)
{
	latch_ctx *ctx = new_ctx();
	uint64_t id;
	int fd;

	/* Latches that changed (closed, say) while their sockets went away... */
	for (unsigned i = 0; i < CACHE_SWEEP; i++) {
		fd = latched_udp(ctx, 9, 0, &id);
		fake_bump(fake, id);
		close(fd);
	}
	assert_int_equal(ctx->n_cached, CACHE_SWEEP);
	/* ...are forgotten when the entries reach the sweep mark. */
	fd = latched_udp(ctx, 9, 0, &id);
	assert_int_equal(ctx->n_cached, 1);
	close(fd);
	latch_ctx_free(ctx);
}

static void events(void **state)
{
	latch_ctx *ctx = new_ctx();
	struct seen s = { 0 };
	struct pollfd p = { .fd = latch_ctx_get_fd(ctx), .events = POLLIN };

	assert_int_equal(latch_ctx_set_event_fn(ctx, on_event, &s), 0);
	/* An event that arrives while a call waits is kept for latch_ctx_process(). */
	fake->alert_before_reply = true;
	assert_int_equal(latch_ctx_watch(ctx, 0), 0);
	assert_int_equal(fake->last_type, IPC_MSG_WATCH);
	assert_int_equal(latch_ctx_pending(ctx), 1);
	assert_int_equal(s.calls, 0);
	assert_int_equal(latch_ctx_process(ctx), 1);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.id, 99);
	assert_int_equal(s.state, LATCH_STATE_BROKEN);
	assert_int_equal(s.reason, LATCH_REASON_PEER_DEAD);
	assert_string_equal(s.message, "peer went away");
	/* One pushed later makes the fd readable. */
	fake_alert(fake, 42, IPC_STATE_CLOSED, IPC_REASON_ADMIN);
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_int_equal(latch_ctx_process(ctx), 1);
	assert_int_equal(s.id, 42);
	assert_int_equal(s.state, LATCH_STATE_CLOSED);
	latch_ctx_free(ctx);
}

/* Every event an application is given, in order. */
struct trail {
	unsigned n;
	uint64_t id[1100];
	int state[1100], reason[1100];
	char first_msg[160];
};

static void on_event_trail(latch_ctx *ctx, uint64_t id, int st, int reason, const char *msg,
			   void *userdata)
{
	struct trail *t = userdata;

	if (t->n == 0)
		snprintf(t->first_msg, sizeof(t->first_msg), "%s", msg ? msg : "");
	if (t->n < 1100) {
		t->id[t->n] = id;
		t->state[t->n] = st;
		t->reason[t->n] = reason;
	}
	t->n++;
}

/*
 * More events than the ctx keeps arrive while calls wait: the oldest are
 * dropped, and the application is told so before the ones kept.
 */
static void events_overflow_told(void **state)
{
	latch_ctx *ctx = new_ctx();
	struct trail *t = calloc(1, sizeof(*t));
	const unsigned pushed = EVENTS_MAX + 6;

	assert_non_null(t);
	assert_int_equal(latch_ctx_set_event_fn(ctx, on_event_trail, t), 0);
	for (uint64_t id = 1; id <= pushed; id++)
		fake_alert(fake, id, IPC_STATE_BROKEN, IPC_REASON_SA_GONE);
	/* The fake sends one alert per turn; each call reads what came before its reply. */
	for (unsigned i = 0; i < pushed + 16; i++)
		assert_int_equal(latch_ctx_watch(ctx, 0), 0);
	assert_int_equal(latch_ctx_pending(ctx), EVENTS_MAX + 1);
	assert_int_equal(latch_ctx_process(ctx), EVENTS_MAX + 1);
	assert_int_equal(t->n, EVENTS_MAX + 1);
	assert_int_equal(t->id[0], 0);
	assert_int_equal(t->state[0], LATCH_STATE_NONE);
	assert_int_equal(t->reason[0], LATCH_REASON_OVERFLOW);
	assert_non_null(strstr(t->first_msg, "6 events were dropped"));
	/* Then the newest EVENTS_MAX, oldest first: 7 .. pushed. */
	assert_int_equal(t->id[1], 7);
	assert_int_equal(t->state[1], LATCH_STATE_BROKEN);
	assert_int_equal(t->id[EVENTS_MAX], pushed);
	/* Told once: the next round has nothing. */
	assert_int_equal(latch_ctx_pending(ctx), 0);
	assert_int_equal(latch_ctx_process(ctx), 0);
	free(t);
	latch_ctx_free(ctx);
}

static void timeout_then_recover(void **state)
{
	latch_ctx *ctx = new_ctx();
	latch_info *info = NULL;

	fake->silent_type = IPC_MSG_QUERY;
	assert_int_equal(latch_ctx_set_timeout(ctx, 100), 0);
	assert_int_equal(latch_query(ctx, 3, &info), -ETIMEDOUT);
	assert_non_null(strstr(latch_ctx_last_error(ctx), "100 ms"));
	fake->silent_type = 0;
	assert_int_equal(latch_query(ctx, 3, &info), 0);
	latch_info_free(info);
	latch_ctx_free(ctx);
}

static void daemon_goes_away(void **state)
{
	latch_ctx *ctx = new_ctx();
	latch_info *info = NULL;

	fake->close_on_type = IPC_MSG_QUERY;
	assert_int_equal(latch_query(ctx, 3, &info), -ECONNRESET);
	assert_int_equal(latch_ctx_process(ctx), -ECONNRESET);
	latch_ctx_free(ctx);
}

/* A page of the right size (a memfd, or a plain file), sealed against shrinking or not. */
static int gen_page(bool memfd, bool seal)
{
	char path[] = "/tmp/latch-gen-XXXXXX";
	int fd = memfd ? memfd_create("gen", MFD_CLOEXEC | MFD_ALLOW_SEALING) : mkstemp(path);

	assert_true(fd >= 0);
	if (!memfd)
		unlink(path);
	assert_int_equal(ftruncate(fd, IPC_GEN_PAGE_SIZE), 0);
	if (seal)
		assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	return fd;
}

/* Only a page latchd cannot shrink under us is mapped: F_GET_SEALS failing is no seal. */
static void cache_page_needs_seal(void **state)
{
	latch_ctx ctx = { 0 };

	cache_page(&ctx, gen_page(false, false)); /* a plain file: F_GET_SEALS fails */
	assert_null(ctx.gen);
	cache_page(&ctx, gen_page(true, false));
	assert_null(ctx.gen);
	cache_page(&ctx, gen_page(true, true));
	assert_non_null(ctx.gen);
	munmap((void *)ctx.gen, IPC_GEN_PAGE_SIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(ctx_basics, fake_reset_test),
		cmocka_unit_test_setup(hello_refused, fake_reset_test),
		cmocka_unit_test_setup(connect_latched, fake_reset_test),
		cmocka_unit_test_setup(connect_refused, fake_reset_test),
		cmocka_unit_test_setup(refusal_words_are_data, fake_reset_test),
		cmocka_unit_test_setup(connect_fails_releases, fake_reset_test),
		cmocka_unit_test_setup(connect_ipv6_udp, fake_reset_test),
		cmocka_unit_test_setup(listen_accept, fake_reset_test),
		cmocka_unit_test_setup(accept_refused_closes, fake_reset_test),
		cmocka_unit_test_setup(connect_start_two_out_of_order, fake_reset_test),
		cmocka_unit_test_setup(op_answer_kept_across_calls, fake_reset_test),
		cmocka_unit_test_setup(connect_start_refused, fake_reset_test),
		cmocka_unit_test_setup(accept_start_finish, fake_reset_test),
		cmocka_unit_test_setup(query_release, fake_reset_test),
		cmocka_unit_test_setup(events, fake_reset_test),
		cmocka_unit_test_setup(events_overflow_told, fake_reset_test),
		cmocka_unit_test_setup(timeout_then_recover, fake_reset_test),
		cmocka_unit_test_setup(daemon_goes_away, fake_reset_test),
		cmocka_unit_test_setup(query_answered_until_changed, fake_reset_test),
		cmocka_unit_test_setup(query_reused_fd_asks, fake_reset_test),
		cmocka_unit_test_setup(query_moved_socket_asks, fake_reset_test),
		cmocka_unit_test_setup(query_daemon_gone_not_answered, fake_reset_test),
		cmocka_unit_test_setup(query_without_page_asks, fake_reset_test),
		cmocka_unit_test_setup(cache_forgets_stale, fake_reset_test),
		cmocka_unit_test(cache_page_needs_seal),
	};

	return cmocka_run_group_tests(tests, fake_group_setup, fake_group_teardown);
}
