/* SPDX-License-Identifier: MIT */
/*
 * latch-raw: a client that speaks latch's wire format by hand (src/shared/wire.h)
 * and sends what liblatch never would: malformed and oversized messages,
 * unknown types and attributes, descriptors of the wrong kind, another user's
 * latch by id, a request after BYE. Each case runs on a connection of its own
 * (after HELLO) and prints one line:
 *
 *   latch-raw SOCKET CASE...
 *   CASE STATUS ERRNAME: MESSAGE     latchd's reply (STATUS 0 or -errno)
 *   CASE closed                      latchd closed the connection instead
 *
 * Cases: short-header, bad-length, bad-tlv, bad-flags, client-reply,
 * unknown-type, unknown-attr, oversized, after-bye, status; MSG-KIND with MSG
 * one of connect, latch, listen, accept, attach, query and KIND one of pipe,
 * file, eventfd, unix, netlink; show:ID, close:ID, release:ID.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "shared/fdpass.h"
#include "shared/wire.h"

static const char *sock_path;

static int hello(int s);

static int conn_open(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || hello(s) < 0) {
		perror("latch-raw: connect");
		exit(2);
	}
	return s;
}

/* The reply's status, printed as "NAME STATUS ERRNAME: MESSAGE" when name is set. */
static int reply(int s, const char *name)
{
	static uint8_t p[IPC_MSG_MAX];
	const char *msg = "";
	struct wire_msg m;
	char err[256];
	int n = fdpass_recv(s, p, sizeof(p), NULL);

	if (n <= 0) {
		if (name)
			printf("%s closed\n", name);
		return n < 0 ? n : -EPIPE;
	}
	/* the reply to an unknown type or a short header echoes what it could read of
	 * it, which the daemon's own schema does not know: read its header and TLVs */
	if (wire_parse(p, (size_t)n, WIRE_FROM_DAEMON, 0, &m, err, sizeof(err)) < 0) {
		if (wire_peek_hdr(p, (size_t)n, &m.hdr) < 0) {
			printf("%s unparsable reply: %s\n", name ? name : "?", err);
			return -EBADMSG;
		}
		m.attrs = (struct wire_attrs){ p + IPC_HDR_LEN, (size_t)n - IPC_HDR_LEN };
	}
	wire_get_str(&m.attrs, IPC_A_MESSAGE, &msg);
	if (name)
		printf("%s %d %s: %s\n", name, (int)m.hdr.status,
		       m.hdr.status ? strerrorname_np(-m.hdr.status) : "OK", msg);
	return m.hdr.status;
}

/* Send b's message (fd attached when >= 0) and print the reply; b is freed. */
static void exchange(int s, struct buf *b, int fd, const char *name)
{
	if (wire_end(b) < 0) {
		fprintf(stderr, "latch-raw: %s: cannot encode\n", name);
		exit(2);
	}
	if (fdpass_send(s, b->data, b->len, fd) < 0)
		printf("%s closed\n", name);
	else
		reply(s, name);
	buf_free(b);
}

static int hello(int s)
{
	struct buf b;
	int r;

	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, IPC_MSG_HELLO, 0, 1, 0);
	wire_put_u32(&b, IPC_A_VERSION, IPC_VERSION);
	r = fdpass_send(s, b.data, b.len, -1);
	buf_free(&b);
	return r < 0 ? r : reply(s, NULL);
}

/* ---------------------------------------------------------------- malformed */

/* A STATUS request's header with the given type and flags, then raw bytes. */
static void raw(int s, const char *name, uint16_t type, uint16_t flags, const void *tail,
		size_t tail_len, size_t send_len)
{
	struct buf b;

	buf_init(&b, 0);
	buf_put_be16(&b, type);
	buf_put_be16(&b, flags);
	buf_put_be32(&b, 2);
	buf_put_be32(&b, 0);
	buf_put(&b, tail, tail_len);
	if (fdpass_send(s, b.data, send_len ? send_len : b.len, -1) < 0)
		printf("%s closed\n", name);
	else
		reply(s, name);
	buf_free(&b);
}

static int malformed(int s, const char *name)
{
	static const uint8_t long_attr[] = { 0, 64, 0, IPC_A_NAME, 'a', 'b', 'c', 0 };
	static const uint8_t short_attr[] = { 0, 2, 0, IPC_A_NAME };
	static const uint8_t unknown_attr[] = { 0, 8, 0, 126, 0, 0, 0, 0 };
	static uint8_t big[20000];

	if (!strcmp(name, "short-header"))
		raw(s, name, IPC_MSG_STATUS, 0, NULL, 0, IPC_HDR_LEN / 2);
	else if (!strcmp(name, "bad-length"))
		raw(s, name, IPC_MSG_STATUS, 0, long_attr, sizeof(long_attr), 0);
	else if (!strcmp(name, "bad-tlv"))
		raw(s, name, IPC_MSG_STATUS, 0, short_attr, sizeof(short_attr), 0);
	else if (!strcmp(name, "bad-flags"))
		raw(s, name, IPC_MSG_STATUS, 0x8000, NULL, 0, 0);
	else if (!strcmp(name, "client-reply"))
		raw(s, name, IPC_MSG_STATUS, IPC_F_REPLY, NULL, 0, 0);
	else if (!strcmp(name, "unknown-type"))
		raw(s, name, 777, 0, NULL, 0, 0);
	else if (!strcmp(name, "unknown-attr"))
		raw(s, name, IPC_MSG_STATUS, 0, unknown_attr, sizeof(unknown_attr), 0);
	else if (!strcmp(name, "oversized"))
		raw(s, name, IPC_MSG_STATUS, 0, big, sizeof(big), 0);
	else
		return -1;
	return 0;
}

/* ---------------------------------------------------------------- requests */

static void request(int s, const char *name, uint16_t type, int fd)
{
	struct buf b;

	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, type, 0, 2, 0);
	if (type == IPC_MSG_CONNECT) {
		/* a valid remote end: only the descriptor is wrong */
		static const uint8_t addr[4] = { 192, 0, 2, 2 };
		size_t t = wire_nest_begin(&b, IPC_A_TUPLE);

		wire_put_u8(&b, IPC_A_TUPLE_FAMILY, IPC_FAMILY_INET);
		wire_put_u8(&b, IPC_A_TUPLE_PROTO, 6);
		wire_put_bytes(&b, IPC_A_TUPLE_REMOTE_ADDR, addr, sizeof(addr));
		wire_put_u16(&b, IPC_A_TUPLE_REMOTE_PORT, 8080);
		wire_nest_end(&b, t);
	}
	exchange(s, &b, fd, name);
}

static int after_bye(int s, const char *name)
{
	struct buf b;

	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, IPC_MSG_BYE, 0, 2, 0);
	if (fdpass_send(s, b.data, b.len, -1) < 0 || reply(s, NULL) != 0) {
		printf("%s bye-refused\n", name);
		buf_free(&b);
		return 0;
	}
	buf_free(&b);
	request(s, name, IPC_MSG_STATUS, -1);
	return 0;
}

/* MSG:ID — another user's latch by id. */
static int by_id(int s, const char *name)
{
	static const struct {
		const char *verb;
		uint16_t type;
	} verbs[] = { { "show:", IPC_MSG_QUERY },
		      { "close:", IPC_MSG_CLOSE },
		      { "release:", IPC_MSG_RELEASE } };

	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		size_t n = strlen(verbs[i].verb);
		struct buf b;

		if (strncmp(name, verbs[i].verb, n))
			continue;
		buf_init(&b, IPC_MSG_MAX);
		wire_begin(&b, verbs[i].type, 0, 2, 0);
		wire_put_u64(&b, IPC_A_LATCH_ID, strtoull(name + n, NULL, 10));
		exchange(s, &b, -1, name);
		return 0;
	}
	return -1;
}

/* ---------------------------------------------------------------- descriptors */

static int kind_fd(const char *kind)
{
	int p[2];

	if (!strcmp(kind, "pipe"))
		return pipe2(p, O_CLOEXEC) < 0 ? -1 : p[0];
	if (!strcmp(kind, "file"))
		return open("/etc/passwd", O_RDONLY | O_CLOEXEC);
	if (!strcmp(kind, "eventfd"))
		return eventfd(0, EFD_CLOEXEC);
	if (!strcmp(kind, "unix"))
		return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0 ? -1 : p[0];
	if (!strcmp(kind, "netlink"))
		return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	return -1;
}

/* MSG-KIND: a request that carries a descriptor, given one of the wrong kind. */
static int wrong_fd(int s, const char *name)
{
	static const struct {
		const char *msg;
		uint16_t type;
	} msgs[] = { { "connect-", IPC_MSG_CONNECT }, { "latch-", IPC_MSG_LATCH },
		     { "listen-", IPC_MSG_LISTEN },   { "accept-", IPC_MSG_ACCEPT },
		     { "attach-", IPC_MSG_ATTACH },   { "query-", IPC_MSG_QUERY } };

	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		size_t n = strlen(msgs[i].msg);
		int fd;

		if (strncmp(name, msgs[i].msg, n))
			continue;
		fd = kind_fd(name + n);
		if (fd < 0)
			return -1;
		request(s, name, msgs[i].type, fd);
		close(fd);
		return 0;
	}
	return -1;
}

static int run_case(const char *name)
{
	int s = conn_open(), r;

	if (!strcmp(name, "status")) {
		request(s, name, IPC_MSG_STATUS, -1);
		r = 0;
	} else if (!strcmp(name, "after-bye")) {
		r = after_bye(s, name);
	} else {
		r = malformed(s, name);
		if (r < 0)
			r = by_id(s, name);
		if (r < 0)
			r = wrong_fd(s, name);
	}
	close(s);
	if (r < 0)
		fprintf(stderr, "latch-raw: unknown case %s\n", name);
	return r;
}

int main(int argc, char **argv)
{
	int rc = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: latch-raw SOCKET CASE...\n");
		return 2;
	}
	sock_path = argv[1];
	for (int i = 2; i < argc; i++) {
		rc |= run_case(argv[i]) < 0;
		fflush(stdout);
	}
	return rc ? 2 : 0;
}
