/* SPDX-License-Identifier: MIT */
#include "fake-latchd.h"

#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "shared/buf.h"
#include "shared/fdpass.h"
#include "shared/wire.h"

#define CLIENTS_MAX 8

struct cmd {
	uint64_t id; /* 0: stop; CMD_ANSWER_HELD: answer the held requests */
	uint8_t state;
	uint16_t reason;
};
#define DROP_CLIENTS UINT64_MAX /* a command id: close every client connection */

#define CMD_ANSWER_HELD (UINT64_MAX - 1) /* a command id: answer the held requests */

/* A request kept unanswered (hold_type): its bytes, its descriptor, its client. */
struct fake_held {
	struct fake_held *next;
	int c, fd;
	size_t n;
	uint8_t in[];
};

static uint64_t next_id = 1;

/* The socket's ends; a socket not connected yet has the remote end the request named. */
static void put_tuple(struct buf *b, int fd, const struct wire_attrs *req)
{
	struct wire_attrs t;
	const uint8_t *ra;
	uint16_t rport;
	size_t rlen;
	struct sockaddr_storage l, r;
	socklen_t ll = sizeof(l), rl = sizeof(r);
	size_t nest = wire_nest_begin(b, IPC_A_TUPLE);
	bool six;

	getsockname(fd, (struct sockaddr *)&l, &ll);
	six = l.ss_family == AF_INET6;
	wire_put_u8(b, IPC_A_TUPLE_FAMILY, six ? IPC_FAMILY_INET6 : IPC_FAMILY_INET);
	wire_put_u8(b, IPC_A_TUPLE_PROTO, 6);
	if (six) {
		wire_put_bytes(b, IPC_A_TUPLE_LOCAL_ADDR, &((struct sockaddr_in6 *)&l)->sin6_addr,
			       16);
		wire_put_u16(b, IPC_A_TUPLE_LOCAL_PORT,
			     ntohs(((struct sockaddr_in6 *)&l)->sin6_port));
	} else {
		wire_put_bytes(b, IPC_A_TUPLE_LOCAL_ADDR, &((struct sockaddr_in *)&l)->sin_addr, 4);
		wire_put_u16(b, IPC_A_TUPLE_LOCAL_PORT,
			     ntohs(((struct sockaddr_in *)&l)->sin_port));
	}
	if (getpeername(fd, (struct sockaddr *)&r, &rl) == 0 && !six) {
		wire_put_bytes(b, IPC_A_TUPLE_REMOTE_ADDR, &((struct sockaddr_in *)&r)->sin_addr,
			       4);
		wire_put_u16(b, IPC_A_TUPLE_REMOTE_PORT,
			     ntohs(((struct sockaddr_in *)&r)->sin_port));
	} else if (wire_get_nested(req, IPC_A_TUPLE, &t) == 0 &&
		   wire_get_bytes(&t, IPC_A_TUPLE_REMOTE_ADDR, &ra, &rlen) == 0 &&
		   wire_get_u16(&t, IPC_A_TUPLE_REMOTE_PORT, &rport) == 0) {
		wire_put_bytes(b, IPC_A_TUPLE_REMOTE_ADDR, ra, rlen);
		wire_put_u16(b, IPC_A_TUPLE_REMOTE_PORT, rport);
	}
	wire_nest_end(b, nest);
}

static void put_ident(struct buf *b, uint16_t type, const char *id, uint16_t auth)
{
	uint8_t spki[IPC_SHA256_LEN];
	size_t nest = wire_nest_begin(b, type);
	char subject[128];

	memset(spki, type == IPC_A_REMOTE_IDENTITY ? FAKE_SPKI_BYTE : 0x11, sizeof(spki));
	snprintf(subject, sizeof(subject), "C=CH, O=latch-lab, CN=%s", id);
	wire_put_str(b, IPC_A_IDENT_ID, id);
	wire_put_u16(b, IPC_A_IDENT_AUTH_METHOD, auth);
	wire_put_str(b, IPC_A_IDENT_CERT_SUBJECT, subject);
	wire_put_str(b, IPC_A_IDENT_CERT_ISSUER, "C=CH, O=latch-lab, CN=Lab CA");
	wire_put_bytes(b, IPC_A_IDENT_SPKI_SHA256, spki, sizeof(spki));
	wire_put_str(b, IPC_A_IDENT_AUDIT, id);
	wire_nest_end(b, nest);
}

/* The latch every request gets: built from the socket, like latchd would. */
static void put_latch(struct fake *f, struct buf *b, uint8_t state, int fd,
		      const struct wire_attrs *req)
{
	uint8_t cb[23 + IPC_SHA256_LEN];
	uint8_t der[FAKE_DER_LEN];
	uint64_t id = next_id++;
	size_t nest;

	memcpy(cb, "ipsec-end-point-sha256:", 23);
	memset(cb + 23, FAKE_CB_BYTE, IPC_SHA256_LEN);
	wire_put_u64(b, IPC_A_LATCH_ID, id);
	wire_put_u8(b, IPC_A_STATE, state);
	if (!f->no_gen_page)
		wire_put_u64(b, IPC_A_GENERATION,
			     __atomic_load_n(&f->gen[id % IPC_GEN_SLOTS], __ATOMIC_ACQUIRE));
	if (fd >= 0)
		put_tuple(b, fd, req);
	nest = wire_nest_begin(b, IPC_A_PROTECTION);
	wire_put_u8(b, IPC_A_PROT_ENCRYPT, f->query_encrypt ? f->query_encrypt : IPC_WANT_YES);
	wire_put_u8(b, IPC_A_PROT_MODE, IPC_MODE_TUNNEL);
	wire_nest_end(b, nest);
	put_ident(b, IPC_A_LOCAL_IDENTITY, "a.example", IPC_AUTH_PKIX_TRUSTED);
	put_ident(b, IPC_A_REMOTE_IDENTITY, "b.example", IPC_AUTH_PKIX_TRUSTED);
	nest = wire_nest_begin(b, IPC_A_SA);
	wire_put_u32(b, IPC_A_SA_CHILD_ID, 17);
	wire_put_u32(b, IPC_A_SA_SPI_IN, 0xc1000001);
	wire_put_u32(b, IPC_A_SA_SPI_OUT, 0xc2000002);
	wire_put_str(b, IPC_A_SA_ENCR_ALG, "AES_GCM_16-256");
	wire_put_u8(b, IPC_A_SA_SHARED, 1);
	wire_put_u8(b, IPC_A_SA_MODE, IPC_MODE_TUNNEL);
	wire_nest_end(b, nest);
	wire_put_bytes(b, IPC_A_CHANNEL_BINDING, cb, sizeof(cb));
	fake_cert_der(der);
	wire_put_bytes(b, IPC_A_PEER_CERT_DER, der, sizeof(der));
}

void fake_cert_der(uint8_t der[FAKE_DER_LEN])
{
	for (size_t i = 0; i < FAKE_DER_LEN; i++)
		der[i] = (uint8_t)(i * 7 + 0x30);
}

static void record(struct fake *f, const struct wire_msg *m, int fd)
{
	struct sockaddr_in6 sa;
	socklen_t len = sizeof(sa);
	struct wire_attrs a;
	const char *id;

	f->last_type = m->hdr.type;
	if (m->hdr.type >= 200 && m->hdr.type < 200 + FAKE_TYPES)
		__atomic_fetch_add(&f->count[m->hdr.type - 200], 1, __ATOMIC_RELEASE);
	f->last_local_port = 0;
	if (fd >= 0 && getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		f->last_local_port = ntohs(sa.sin6_port); /* same offset in sockaddr_in */
	f->last_encrypt = 0;
	if (wire_get_nested(&m->attrs, IPC_A_PROTECTION, &a) == 0)
		(void)wire_get_u8(&a, IPC_A_PROT_ENCRYPT, &f->last_encrypt);
	f->last_had_peer = wire_get_nested(&m->attrs, IPC_A_PEER, &a) == 0;
	f->last_peer_id[0] = 0;
	f->last_peer_btns = 0;
	if (f->last_had_peer && wire_get_str(&a, IPC_A_PEER_ID, &id) == 0)
		snprintf(f->last_peer_id, sizeof(f->last_peer_id), "%s", id);
	if (f->last_had_peer)
		(void)wire_get_u8(&a, IPC_A_PEER_BTNS, &f->last_peer_btns);
}

static void send_alert(int c, uint64_t id, uint8_t state, uint16_t reason)
{
	struct buf b;

	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, IPC_MSG_ALERT, 0, 0, 0);
	wire_put_u64(&b, IPC_A_LATCH_ID, id);
	wire_put_u8(&b, IPC_A_STATE, state);
	wire_put_u16(&b, IPC_A_REASON, reason);
	wire_put_str(&b, IPC_A_MESSAGE, "peer went away");
	(void)fdpass_send(c, b.data, b.len, -1);
	buf_free(&b);
}

/* 1 when the client asked for the generation page and gets it with this reply. */
static bool gives_page(struct fake *f, const struct wire_msg *m)
{
	uint64_t features = 0;

	return m->hdr.type == IPC_MSG_HELLO && !f->no_gen_page &&
	       wire_get_u64(&m->attrs, IPC_A_FEATURES, &features) == 0 &&
	       (features & IPC_FEATURE_GEN_PAGE);
}

static void answer_ok(struct fake *f, const struct wire_msg *m, int fd, struct buf *b)
{
	switch (m->hdr.type) {
	case IPC_MSG_HELLO:
		wire_put_u32(b, IPC_A_VERSION, IPC_VERSION);
		wire_put_u64(b, IPC_A_FEATURES, gives_page(f, m) ? IPC_FEATURE_GEN_PAGE : 0);
		wire_put_str(b, IPC_A_NAME, "fake-latchd");
		break;
	case IPC_MSG_LISTEN:
		put_latch(f, b, IPC_STATE_LISTENER, fd, &m->attrs);
		break;
	case IPC_MSG_ATTACH:
		put_latch(f, b, IPC_STATE_LARVAL, fd, &m->attrs);
		break;
	case IPC_MSG_ACCEPT:
		if (f->accept_unlatched)
			wire_put_u16(b, IPC_A_REASON, IPC_REASON_UNLATCHED);
		else
			put_latch(f, b, IPC_STATE_ESTABLISHED, fd, &m->attrs);
		break;
	case IPC_MSG_CONNECT:
	case IPC_MSG_LATCH:
		put_latch(f, b, IPC_STATE_ESTABLISHED, fd, &m->attrs);
		break;
	case IPC_MSG_QUERY:
		put_latch(f, b, f->query_state ? f->query_state : IPC_STATE_ESTABLISHED, fd,
			  &m->attrs);
		break;
	}
}

static int status_for(struct fake *f, const struct wire_msg *m, int fd)
{
	if (m->hdr.type == IPC_MSG_HELLO)
		return f->hello_status;
	if (m->hdr.type == f->fail_type)
		return f->fail_status;
	if (m->hdr.type == IPC_MSG_QUERY && fd >= 0 && f->query_enoent)
		return -ENOENT;
	return 0;
}

/* Answer the request m (with the socket fd, -1 for none) on the client c; closes fd. */
static void answer(struct fake *f, int c, const struct wire_msg *m, int fd)
{
	struct buf b;
	int st;

	if (f->alert_before_reply)
		send_alert(c, 99, IPC_STATE_BROKEN, IPC_REASON_PEER_DEAD);
	st = status_for(f, m, fd);
	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, m->hdr.type, IPC_F_REPLY, m->hdr.seq, st);
	if (st < 0)
		wire_put_str(&b, IPC_A_MESSAGE, f->fail_msg ? f->fail_msg : "fake failure");
	else
		answer_ok(f, m, fd, &b);
	if (wire_end(&b) == 0)
		(void)fdpass_send(c, b.data, b.len, st == 0 && gives_page(f, m) ? f->gen_fd : -1);
	buf_free(&b);
	if (fd >= 0)
		close(fd);
}

static void hold(struct fake *f, int c, const uint8_t *in, size_t n, int fd)
{
	struct fake_held *h = malloc(sizeof(*h) + n);

	assert_non_null(h);
	h->c = c;
	h->fd = fd;
	h->n = n;
	memcpy(h->in, in, n);
	h->next = f->held;
	f->held = h;
}

static void answer_held(struct fake *f)
{
	struct fake_held *h;
	struct wire_msg m;
	char err[256];

	while ((h = f->held)) {
		f->held = h->next;
		if (wire_parse(h->in, h->n, WIRE_FROM_CLIENT, h->fd >= 0, &m, err, sizeof(err)) ==
		    0)
			answer(f, h->c, &m, h->fd);
		free(h);
	}
}

/* A client went away: what it asked and was kept goes too. */
static void drop_held(struct fake *f, int c)
{
	for (struct fake_held **pp = &f->held, *h; (h = *pp);) {
		if (h->c != c) {
			pp = &h->next;
			continue;
		}
		*pp = h->next;
		if (h->fd >= 0)
			close(h->fd);
		free(h);
	}
}

/* One request: 0 to keep the connection, -1 to close it. */
static int serve(struct fake *f, int c)
{
	uint8_t in[IPC_MSG_MAX];
	struct wire_msg m;
	int fd = -1, n;
	char err[256];

	n = fdpass_recv(c, in, sizeof(in), &fd);
	if (n <= 0)
		return -1;
	if (wire_parse(in, (size_t)n, WIRE_FROM_CLIENT, fd >= 0, &m, err, sizeof(err)) < 0)
		fail_msg("fake latchd refused a request: %s", err);
	record(f, &m, fd);
	if (m.hdr.type == f->close_on_type || m.hdr.type == f->silent_type) {
		if (fd >= 0)
			close(fd);
		return m.hdr.type == f->close_on_type ? -1 : 0;
	}
	if (m.hdr.type == f->hold_type) {
		hold(f, c, in, (size_t)n, fd);
		return 0;
	}
	answer(f, c, &m, fd);
	return 0;
}

static void *run(void *arg)
{
	struct fake *f = arg;
	struct pollfd p[CLIENTS_MAX + 2];
	unsigned n = 0;
	struct cmd cmd;

	for (;;) {
		p[0] = (struct pollfd){ .fd = f->cmd[0], .events = POLLIN };
		p[1] = (struct pollfd){ .fd = f->lfd, .events = POLLIN };
		if (poll(p, n + 2, -1) < 0)
			continue;
		if (p[0].revents) {
			if (read(f->cmd[0], &cmd, sizeof(cmd)) != sizeof(cmd) || !cmd.id)
				break;
			if (cmd.id == CMD_ANSWER_HELD) {
				answer_held(f);
				continue;
			}
			if (cmd.id == DROP_CLIENTS) {
				for (unsigned i = 0; i < n; i++) {
					drop_held(f, p[i + 2].fd);
					close(p[i + 2].fd);
				}
				n = 0;
				continue;
			}
			for (unsigned i = 0; i < n; i++)
				send_alert(p[i + 2].fd, cmd.id, cmd.state, cmd.reason);
		}
		for (unsigned i = 0; i < n; i++) {
			if (p[i + 2].revents && serve(f, p[i + 2].fd) < 0) {
				drop_held(f, p[i + 2].fd);
				close(p[i + 2].fd);
				p[i + 2] = p[n + 1];
				n--;
				i--;
			}
		}
		if ((p[1].revents & POLLIN) && n < CLIENTS_MAX)
			p[2 + n++] =
				(struct pollfd){ .fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC),
						 .events = POLLIN };
	}
	for (unsigned i = 0; i < n; i++)
		close(p[i + 2].fd);
	return NULL;
}

struct fake *fake_start(void)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	pthread_t *t = malloc(sizeof(*t));

	assert_non_null(f);
	assert_non_null(t);
	strcpy(f->dir, "/tmp/fake-latchd.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/latchd.sock", f->dir);
	strcpy(sun.sun_path, f->path);
	f->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(f->lfd, 8), 0);
	assert_int_equal(pipe2(f->cmd, O_CLOEXEC), 0);
	f->gen_fd = memfd_create("fake-generations", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(f->gen_fd >= 0);
	assert_int_equal(ftruncate(f->gen_fd, IPC_GEN_PAGE_SIZE), 0);
	f->gen = mmap(NULL, IPC_GEN_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->gen_fd, 0);
	assert_true(f->gen != MAP_FAILED);
	assert_int_equal(fcntl(f->gen_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	assert_int_equal(pthread_create(t, NULL, run, f), 0);
	f->thread = t;
	setenv("LATCH_SOCKET", f->path, 1);
	return f;
}

void fake_alert(struct fake *f, uint64_t id, uint8_t state, uint16_t reason)
{
	struct cmd c = { id, state, reason };

	assert_int_equal(write(f->cmd[1], &c, sizeof(c)), sizeof(c));
}

void fake_wait_count(struct fake *f, uint16_t type, unsigned n)
{
	for (int i = 0; i < 5000; i++) {
		if (__atomic_load_n(&f->count[type - 200], __ATOMIC_ACQUIRE) >= n)
			return;
		usleep(1000);
	}
	fail_msg("the fake latchd never got %u requests of type %u", n, type);
}

void fake_answer_held(struct fake *f)
{
	fake_alert(f, CMD_ANSWER_HELD, 0, 0);
}

void fake_drop_clients(struct fake *f)
{
	struct cmd c = { DROP_CLIENTS, 0, 0 };

	assert_int_equal(write(f->cmd[1], &c, sizeof(c)), sizeof(c));
}

void fake_bump(struct fake *f, uint64_t id)
{
	__atomic_fetch_add(&f->gen[id % IPC_GEN_SLOTS], 1, __ATOMIC_RELEASE);
}

void fake_stop(struct fake *f)
{
	struct cmd c = { 0 };

	assert_int_equal(write(f->cmd[1], &c, sizeof(c)), sizeof(c));
	pthread_join(*(pthread_t *)f->thread, NULL);
	for (struct fake_held *h = f->held, *next; h; h = next) {
		next = h->next;
		if (h->fd >= 0)
			close(h->fd);
		free(h);
	}
	close(f->cmd[0]);
	close(f->cmd[1]);
	close(f->lfd);
	munmap(f->gen, IPC_GEN_PAGE_SIZE);
	close(f->gen_fd);
	unlink(f->path);
	rmdir(f->dir);
	free(f->thread);
	free(f);
}

void fake_reset(struct fake *f)
{
	size_t off = offsetof(struct fake, dir);

	memset(f, 0, off); /* knobs and records come before the internals */
}

struct fake *fake;

int fake_group_setup(void **state)
{
	fake = fake_start();
	return 0;
}

int fake_group_teardown(void **state)
{
	fake_stop(fake);
	return 0;
}

int fake_reset_test(void **state)
{
	fake_reset(fake);
	return 0;
}
