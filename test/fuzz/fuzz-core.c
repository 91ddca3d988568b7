/* SPDX-License-Identifier: MIT */
/*
 * Stateful libFuzzer target for latchd's request layer: core_handle and the
 * state behind it (latches, pending requests, connections, the SA cache),
 * compiled from the real core sources and linked against the fakes in
 * core/ (event loop, control socket, charon over VICI, data plane). The
 * input is a program: its first byte sets the data plane and a fault rate
 * of the enforcement, then each operation takes one byte and its operands:
 * clients connect (any uid, gid, pid), send requests (built with the wire
 * encoder, or raw bytes), with sockets of several kinds; charon comes and
 * goes, answers commands in any order and sends events; sockets vanish;
 * clients break or leave; time passes and timers fire. Afterwards time runs
 * past every timeout and the core is freed.
 *
 * Checked, each by abort() (besides ASan, UBSan and LeakSanitizer): what
 * fake-control.c checks (one answer per request, well-formed replies and
 * events, events only to live clients, a latch id for one uid only); every
 * latch in the database is owned by the uid whose request made it; after
 * the timeouts every live client's requests are answered; freeing the core
 * leaves no timer, source or client behind.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/harness.h"
#include "latchd/base/log.h"
#include "latchd/core/core-int.h"
#include "latchd/dataplane/sockdiag.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SOCKS_MAX 10
#define ADMIN_GID 50

struct input {
	const uint8_t *p;
	size_t n;
};

/* latchd.conf's "ca": made as test/lab/pki.sh makes them ("C=CH, O=latch-lab, CN=lab CA"). */
static const char lab_ca[] = "-----BEGIN CERTIFICATE-----\n"
			     "MIIBnTCCAUKgAwIBAgIIFHm8M+JovXUwCgYIKoZIzj0EAwIwMjELMAkGA1UEBhMC\n"
			     "Q0gxEjAQBgNVBAoTCWxhdGNoLWxhYjEPMA0GA1UEAxMGbGFiIENBMB4XDTI2MTIw\n"
			     "NzIyMDcxM1oXDTI3MDEwNjIyMDcxM1owMjELMAkGA1UEBhMCQ0gxEjAQBgNVBAoT\n"
			     "CWxhdGNoLWxhYjEPMA0GA1UEAxMGbGFiIENBMFkwEwYHKoZIzj0CAQYIKoZIzj0D\n"
			     "AQcDQgAECYTBBbXo9AtJ7MXyQvhcX3GJDBD0K6iBE2mWG9HMOGGsHP+hu+ui+RF6\n"
			     "oZiX3OE7dadLEwO11HzaI+gZF6UduKNCMEAwDwYDVR0TAQH/BAUwAwEB/zAOBgNV\n"
			     "HQ8BAf8EBAMCAQYwHQYDVR0OBBYEFCIopOQKaWvlaD1on7cGQEset1IaMAoGCCqG\n"
			     "SM49BAMCA0kAMEYCIQCUD5pYp1beo89T9LCLleFQKtKYYLeVHgxvQ9/yHrI4WAIh\n"
			     "ANdXaGIV9g8NYIDYlBx4WoAaQql+ypMklj1tqKqBf64E\n"
			     "-----END CERTIFICATE-----\n";

/* b.example's certificate (subjectAltNames b.example, 192.0.2.2) under that CA, DER. */
static const uint8_t peer_cert[] = {
	0x30, 0x82, 0x01, 0x9d, 0x30, 0x82, 0x01, 0x42, 0xa0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x08,
	0x66, 0x04, 0x55, 0x9f, 0x1c, 0x80, 0x23, 0x14, 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48,
	0xce, 0x3d, 0x04, 0x03, 0x02, 0x30, 0x32, 0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04,
	0x06, 0x13, 0x02, 0x43, 0x48, 0x31, 0x12, 0x30, 0x10, 0x06, 0x03, 0x55, 0x04, 0x0a, 0x13,
	0x09, 0x6c, 0x61, 0x74, 0x63, 0x68, 0x2d, 0x6c, 0x61, 0x62, 0x31, 0x0f, 0x30, 0x0d, 0x06,
	0x03, 0x55, 0x04, 0x03, 0x13, 0x06, 0x6c, 0x61, 0x62, 0x20, 0x43, 0x41, 0x30, 0x1e, 0x17,
	0x0d, 0x32, 0x36, 0x31, 0x32, 0x30, 0x37, 0x32, 0x32, 0x30, 0x37, 0x31, 0x33, 0x5a, 0x17,
	0x0d, 0x32, 0x37, 0x30, 0x31, 0x30, 0x36, 0x32, 0x32, 0x30, 0x37, 0x31, 0x33, 0x5a, 0x30,
	0x35, 0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, 0x43, 0x48, 0x31,
	0x12, 0x30, 0x10, 0x06, 0x03, 0x55, 0x04, 0x0a, 0x13, 0x09, 0x6c, 0x61, 0x74, 0x63, 0x68,
	0x2d, 0x6c, 0x61, 0x62, 0x31, 0x12, 0x30, 0x10, 0x06, 0x03, 0x55, 0x04, 0x03, 0x13, 0x09,
	0x62, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x30, 0x59, 0x30, 0x13, 0x06, 0x07,
	0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03,
	0x01, 0x07, 0x03, 0x42, 0x00, 0x04, 0x09, 0x84, 0xc1, 0x05, 0xb5, 0xe8, 0xf4, 0x0b, 0x49,
	0xec, 0xc5, 0xf2, 0x42, 0xf8, 0x5c, 0x5f, 0x71, 0x89, 0x0c, 0x10, 0xf4, 0x2b, 0xa8, 0x81,
	0x13, 0x69, 0x96, 0x1b, 0xd1, 0xcc, 0x38, 0x61, 0xac, 0x1c, 0xff, 0xa1, 0xbb, 0xeb, 0xa2,
	0xf9, 0x11, 0x7a, 0xa1, 0x98, 0x97, 0xdc, 0xe1, 0x3b, 0x75, 0xa7, 0x4b, 0x13, 0x03, 0xb5,
	0xd4, 0x7c, 0xda, 0x23, 0xe8, 0x19, 0x17, 0xa5, 0x1d, 0xb8, 0xa3, 0x3f, 0x30, 0x3d, 0x30,
	0x1f, 0x06, 0x03, 0x55, 0x1d, 0x23, 0x04, 0x18, 0x30, 0x16, 0x80, 0x14, 0x22, 0x28, 0xa4,
	0xe4, 0x0a, 0x69, 0x6b, 0xe5, 0x68, 0x3d, 0x68, 0x9f, 0xb7, 0x06, 0x40, 0x4b, 0x1e, 0xb7,
	0x52, 0x1a, 0x30, 0x1a, 0x06, 0x03, 0x55, 0x1d, 0x11, 0x04, 0x13, 0x30, 0x11, 0x82, 0x09,
	0x62, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x87, 0x04, 0xc0, 0x00, 0x02, 0x02,
	0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02, 0x03, 0x49, 0x00,
	0x30, 0x46, 0x02, 0x21, 0x00, 0xfc, 0x99, 0x74, 0x3a, 0xc0, 0x16, 0xa3, 0x54, 0xc6, 0x70,
	0x91, 0x91, 0x4d, 0x49, 0x25, 0xf3, 0x3c, 0x4d, 0x31, 0x1e, 0x32, 0xcf, 0x07, 0x40, 0x74,
	0xf4, 0xfd, 0x0a, 0xdf, 0x6e, 0x4d, 0x8c, 0x02, 0x21, 0x00, 0xb9, 0xa6, 0x93, 0xb6, 0x42,
	0xdd, 0x60, 0x7f, 0xf6, 0xb7, 0x25, 0x00, 0xc4, 0x35, 0x62, 0x18, 0xad, 0xe3, 0x77, 0xbc,
	0xe9, 0x40, 0xe7, 0x1e, 0x9d, 0x45, 0x56, 0xe2, 0xd7, 0xc8, 0xf0, 0x28,
};

static char state_dir[64], ca_path[80];
static int socks[SOCKS_MAX];
static uint16_t tcp_port, udp_port;

static uint8_t u8(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint16_t u16(struct input *in)
{
	return (uint16_t)(u8(in) << 8 | u8(in));
}

/* ---------------------------------------------------------------- sockets */

static uint16_t local_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	return getsockname(fd, (struct sockaddr *)&a, &len) == 0 ? ntohs(a.sin_port) : 0;
}

static int inet_socket(int type, bool bind_it)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	if (fd >= 0 && bind_it)
		(void)bind(fd, (struct sockaddr *)&a, sizeof(a));
	return fd;
}

static void to_port(int fd, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	(void)connect(fd, (struct sockaddr *)&a, sizeof(a));
}

/* Listening, connected (both ends), bound and connected UDP, unbound, a pipe, a UNIX socket. */
static void make_sockets(void)
{
	int p[2];

	socks[0] = inet_socket(SOCK_STREAM, true);
	(void)listen(socks[0], 8);
	tcp_port = local_port(socks[0]);
	socks[1] = inet_socket(SOCK_STREAM, false);
	to_port(socks[1], tcp_port);
	socks[2] = accept4(socks[0], NULL, NULL, SOCK_CLOEXEC);
	socks[3] = inet_socket(SOCK_DGRAM, true);
	udp_port = local_port(socks[3]);
	socks[4] = inet_socket(SOCK_DGRAM, true);
	to_port(socks[4], udp_port);
	socks[5] = inet_socket(SOCK_STREAM, false);
	socks[6] = inet_socket(SOCK_STREAM, true);
	if (pipe2(p, O_CLOEXEC) == 0) {
		socks[7] = p[0];
		socks[8] = p[1];
	}
	socks[9] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

static void close_sockets(void)
{
	for (int i = 0; i < SOCKS_MAX; i++) {
		if (socks[i] >= 0)
			close(socks[i]);
		socks[i] = -1;
	}
}

/* ---------------------------------------------------------------- requests */

static const uint16_t req_types[] = {
	IPC_MSG_CONNECT,    IPC_MSG_LISTEN, IPC_MSG_ACCEPT, IPC_MSG_LATCH,     IPC_MSG_QUERY,
	IPC_MSG_RELEASE,    IPC_MSG_CLOSE,  IPC_MSG_ATTACH, IPC_MSG_PEER_LIST, IPC_MSG_PIN_LIST,
	IPC_MSG_PIN_DELETE, IPC_MSG_STATUS, IPC_MSG_LIST,   IPC_MSG_WATCH,     IPC_MSG_UNWATCH,
	IPC_MSG_BYE,	    IPC_MSG_HELLO,
};

static void put_protection(struct buf *b, struct input *in)
{
	uint8_t bits = u8(in);
	size_t nest = wire_nest_begin(b, IPC_A_PROTECTION);

	if (bits & 1)
		wire_put_u8(b, IPC_A_PROT_ENCRYPT, u8(in) % 4);
	if (bits & 2)
		wire_put_u8(b, IPC_A_PROT_INTEGRITY, u8(in) % 4);
	if (bits & 4)
		wire_put_u8(b, IPC_A_PROT_MODE, u8(in) % 3);
	if (bits & 8)
		wire_put_u8(b, IPC_A_PROT_EXACT, 1);
	if (bits & 16)
		wire_put_u8(b, IPC_A_PROT_ALLOW_UNLATCHED, 1);
	if (bits & 32)
		wire_put_u8(b, IPC_A_PROT_ON_BREAK, u8(in) % 3);
	wire_nest_end(b, nest);
	if (!(bits & 64))
		return;
	nest = wire_nest_begin(b, IPC_A_PEER);
	if (bits & 128)
		wire_put_str(b, IPC_A_PEER_ID_PATTERN, "C=CH, O=latch-lab, CN=*");
	else
		wire_put_str(b, IPC_A_PEER_ID, "b.example");
	wire_nest_end(b, nest);
}

static void put_tuple(struct buf *b, struct input *in)
{
	uint8_t bits = u8(in);
	uint32_t lo = htonl(INADDR_LOOPBACK);
	size_t nest = wire_nest_begin(b, IPC_A_TUPLE);

	wire_put_u8(b, IPC_A_TUPLE_FAMILY, IPC_FAMILY_INET);
	wire_put_u8(b, IPC_A_TUPLE_PROTO, bits & 1 ? IPPROTO_UDP : IPPROTO_TCP);
	wire_put_bytes(b, IPC_A_TUPLE_REMOTE_ADDR, &lo, 4);
	wire_put_u16(b, IPC_A_TUPLE_REMOTE_PORT,
		     bits & 2	? u16(in)
		     : bits & 1 ? udp_port
				: tcp_port);
	wire_nest_end(b, nest);
}

/* A well-formed request: a type, then the attributes its selector byte picks. */
static void send_request(struct client *cl, struct input *in)
{
	uint16_t type = req_types[u8(in) % (sizeof(req_types) / sizeof(req_types[0]))];
	uint8_t bits = u8(in), fdsel = u8(in);
	struct buf b;

	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, type, 0, u16(in), 0);
	if (type == IPC_MSG_HELLO)
		wire_put_u32(&b, IPC_A_VERSION, IPC_VERSION);
	if (bits & 1)
		wire_put_u64(&b, IPC_A_LATCH_ID, u8(in) % 8);
	if (bits & 2)
		put_tuple(&b, in);
	if (bits & 4)
		put_protection(&b, in);
	if (bits & 8)
		wire_put_u8(&b, IPC_A_STATE, u8(in) % 8);
	if (bits & 16)
		wire_put_str(&b, IPC_A_NAME, "b.example");
	if (wire_end(&b) == 0)
		fake_client_send(cl, b.data, b.len, fdsel < SOCKS_MAX ? socks[fdsel] : -1);
	buf_free(&b);
}

static void send_raw(struct client *cl, struct input *in)
{
	size_t len = u16(in) % 512, fdsel = u8(in);

	len = len < in->n ? len : in->n;
	fake_client_send(cl, in->p, len, fdsel < SOCKS_MAX ? socks[fdsel] : -1);
	in->p += len;
	in->n -= len;
}

/* ---------------------------------------------------------------- charon */

static void add_ts(struct vici_node *child, const char *key, uint16_t port, bool udp)
{
	struct vici_node *l = vici_add_list(child, key);
	char ts[64];

	snprintf(ts, sizeof(ts), "127.0.0.1/32[%s/%u]", udp ? "udp" : "tcp", (unsigned)port);
	vici_add_item(l, ts);
}

/* An IKE_SA with one child carrying a flow to one of the harness's ports. */
/* An IKE_SA or child being replaced: its unique id is all a rekey event's "old" needs. */
static void old_sa(struct vici_node *sec, unsigned id)
{
	struct vici_node *old = vici_add_section(sec, "old");

	vici_add_kvf(old, "uniqueid", "%u", id);
	vici_add_kv(old, "state", "REKEYED");
}

/*
 * An IKE_SA (section name) with one child carrying a flow to one of the
 * harness's ports; for child-rekey the child is the new one of a pair.
 */
static struct vici_node *sa_tree(struct vici_node *root, const char *name, const char *conn,
				 bool child_rekey, struct input *in)
{
	uint8_t bits = u8(in);
	struct vici_node *ike = vici_add_section(root, name), *children, *ch;

	vici_add_kvf(ike, "uniqueid", "%u", (unsigned)(u8(in) % 4 + 1));
	vici_add_kv(ike, "state", bits & 1 ? "CONNECTING" : "ESTABLISHED");
	vici_add_kv(ike, "local-host", "127.0.0.1");
	vici_add_kv(ike, "remote-host", "127.0.0.1");
	vici_add_kv(ike, "local-id", "a.example");
	vici_add_kv(ike, "remote-id", bits & 2 ? "O=BTNS, CN=x" : "b.example");
	vici_add_kv(ike, "initiator", bits & 4 ? "yes" : "no");
	children = vici_add_section(ike, "child-sas");
	ch = vici_add_section(children, "c");
	if (child_rekey) {
		old_sa(ch, u8(in) % 8 + 1);
		ch = vici_add_section(ch, "new");
	}
	vici_add_kv(ch, "name", conn);
	vici_add_kvf(ch, "uniqueid", "%u", (unsigned)(u8(in) % 8 + 1));
	vici_add_kvf(ch, "reqid", "%u", bits & 8 ? CORE_REQID_BASE + u8(in) % 4 : 1u);
	vici_add_kv(ch, "state", bits & 16 ? "REKEYED" : "INSTALLED");
	vici_add_kv(ch, "mode", bits & 32 ? "TUNNEL" : "TRANSPORT");
	vici_add_kv(ch, "protocol", "ESP");
	vici_add_kv(ch, "encr-alg", bits & 64 ? "NULL" : "AES_GCM_16");
	vici_add_kv(ch, "encr-keysize", "256");
	add_ts(ch, "local-ts", local_port(socks[u8(in) % SOCKS_MAX]), bits & 128);
	add_ts(ch, "remote-ts", bits & 128 ? udp_port : tcp_port, bits & 128);
	return ike;
}

static const char *const event_names[] = {
	"ike-updown", "child-updown", "child-rekey", "ike-rekey", "ike-update", "list-sa",
};

static const char *conn_name(struct core *c, struct input *in)
{
	unsigned k = u8(in);

	for (struct conn *conn = c->conns; conn; conn = conn->next) {
		if (k-- == 0)
			return conn->name;
	}
	return "other";
}

static void charon_event(struct core *c, struct input *in)
{
	const char *name = event_names[u8(in) % (sizeof(event_names) / sizeof(event_names[0]))];
	struct vici_node *msg = vici_msg_new();
	uint8_t how = u8(in);

	const char *conn = conn_name(c, in);

	if (how & 1)
		vici_add_kv(msg, "up", "yes");
	if (!strcmp(name, "ike-rekey")) {
		struct vici_node *sec = vici_add_section(msg, conn);

		old_sa(sec, u8(in) % 4 + 1);
		(void)sa_tree(sec, "new", conn, false, in);
	} else {
		(void)sa_tree(msg, conn, conn, !strcmp(name, "child-rekey"), in);
	}
	if (vici_msg_error(msg) == 0)
		fake_vici_event(name, msg);
	vici_node_free(msg);
}

static void charon_raw_event(struct input *in)
{
	const char *name = event_names[u8(in) % (sizeof(event_names) / sizeof(event_names[0]))];
	size_t len = u16(in) % 1024;
	struct vici_node *msg = NULL;
	struct vici_err err;

	len = len < in->n ? len : in->n;
	if (vici_msg_decode(in->p, len, &msg, &err) == 0)
		fake_vici_event(name, msg);
	vici_node_free(msg);
	in->p += len;
	in->n -= len;
}

static void put_cert(struct vici_node *stream)
{
	struct vici_node *e = vici_add_section(stream, "list-cert");

	vici_add_kv(e, "type", "X509");
	vici_add_kv(e, "flag", "NONE");
	vici_add_kvb(e, "data", peer_cert, sizeof(peer_cert));
}

/* Answer one queued command: done, refused, failed, or a list of SAs. */
static void charon_answer(struct core *c, struct input *in)
{
	size_t n = fake_vici_calls(), i;
	struct vici_node *reply, *stream;
	uint8_t how = u8(in);
	const char *conn;

	if (!n)
		return;
	i = u8(in) % n;
	if (how % 4 == 2) {
		fake_vici_answer(i, how & 4 ? -ETIMEDOUT : -ECONNRESET, NULL, NULL);
		return;
	}
	reply = vici_msg_new();
	stream = vici_msg_new();
	vici_add_kv(reply, "success", how % 4 == 1 ? "no" : "yes");
	if (how % 4 == 1)
		vici_add_kv(reply, "errmsg", "refused by the fake charon");
	if (how % 4 == 3 && !strcmp(fake_vici_call_name(i), "list-certs"))
		put_cert(stream);
	else if (how % 4 == 3 && (conn = conn_name(c, in)))
		(void)sa_tree(vici_add_section(stream, "list-sa"), conn, conn, false, in);
	fake_vici_answer(i, 0, reply, stream);
	vici_node_free(reply);
	vici_node_free(stream);
}

/* ---------------------------------------------------------------- checks */

static bool owner_is_maker(void *u, struct latch *l)
{
	bool known;
	uid_t uid = fake_latch_maker(l->id, &known);

	(void)u;
	if (known && l->owner.uid != uid)
		abort(); /* a latch owned by another uid than the one that made it */
	return false;
}

/* ---------------------------------------------------------------- the program */

static struct client *pick_client(struct input *in)
{
	unsigned n = fake_client_live();

	return n ? fake_client_at(u8(in) % n) : NULL;
}

static void connect_client(struct input *in)
{
	static const uid_t uids[] = { 0, 1000, 1001, 65534 };
	uint8_t who = u8(in);
	uid_t uid = uids[who & 3];
	struct client *cl = fake_client_connect(uid, who & 4 ? ADMIN_GID : uid, 100 + (who >> 3));
	uint8_t hello[64];
	struct buf b;

	if (!cl || (who & 0x80))
		return; /* 0x80: no HELLO yet */
	buf_init(&b, sizeof(hello));
	wire_begin(&b, IPC_MSG_HELLO, 0, 1, 0);
	wire_put_u32(&b, IPC_A_VERSION, IPC_VERSION);
	if (wire_end(&b) == 0)
		fake_client_send(cl, b.data, b.len, -1);
	buf_free(&b);
}

static void step(struct core *c, struct input *in)
{
	struct client *cl;
	struct flow f;
	uint64_t cookie;
	uint8_t op = u8(in), k;

	switch (op % 13) {
	case 0:
		connect_client(in);
		break;
	case 1:
	case 2:
		if ((cl = pick_client(in)))
			send_request(cl, in);
		break;
	case 3:
		if ((cl = pick_client(in)))
			send_raw(cl, in);
		break;
	case 4:
		if ((cl = pick_client(in)))
			fake_client_drop(cl);
		break;
	case 5:
		if ((cl = pick_client(in)))
			fake_client_break(cl);
		break;
	case 6:
		fake_vici_up(u8(in) & 1);
		break;
	case 7:
		fake_vici_down(-ECONNRESET);
		break;
	case 8:
		charon_answer(c, in);
		break;
	case 9:
		charon_event(c, in);
		break;
	case 10:
		charon_raw_event(in);
		break;
	case 11:
		fake_ev_advance((uint64_t)u8(in) * 100000);
		break;
	case 12:
		k = u8(in) % SOCKS_MAX;
		if (socks[k] < 0 || flow_from_fd(socks[k], &f) < 0 ||
		    sockdiag_cookie(socks[k], &cookie) < 0)
			break;
		if (u8(in) & 1) {
			fake_plane_packet(&f, true);
			fake_ev_readable(fake_plane_nfq_fd());
		} else {
			fake_plane_socket_gone(&f, cookie);
			fake_ev_readable(fake_plane_diag_fd());
		}
		break;
	}
	fake_control_run_deferred();
	latchdb_each(c->db, owner_is_maker, NULL);
}

static void wipe_state_dir(void)
{
	DIR *d = opendir(state_dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] != '.')
			(void)unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

/* libFuzzer ends with exit(): leave nothing in /tmp. */
static void remove_scratch(void)
{
	wipe_state_dir();
	(void)rmdir(state_dir);
	(void)unlink(ca_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FILE *f;

	(void)argc;
	(void)argv;
	snprintf(state_dir, sizeof(state_dir), "/tmp/fuzz-core-XXXXXX");
	if (!mkdtemp(state_dir))
		abort();
	snprintf(ca_path, sizeof(ca_path), "%s.ca.pem", state_dir);
	f = fopen(ca_path, "we");
	if (!f || fputs(lab_ca, f) < 0 || fclose(f) != 0 || atexit(remove_scratch) != 0)
		abort();
	/* Silent, the findings are the aborts; FUZZ_CORE_LOG=7 shows latchd's log to adapt the
	 * harness. */
	log_set_level(
		(enum log_level)(getenv("FUZZ_CORE_LOG") ? atoi(getenv("FUZZ_CORE_LOG")) : 0));
	for (int i = 0; i < SOCKS_MAX; i++)
		socks[i] = -1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct config cfg;
	struct core *c;
	uint8_t setup = u8(&in);

	config_defaults(&cfg);
	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s", state_dir);
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", state_dir);
	snprintf(cfg.btns_anchor, sizeof(cfg.btns_anchor), "%s/none", state_dir);
	snprintf(cfg.cas[0], sizeof(cfg.cas[0]), "%s", ca_path);
	cfg.n_cas = 1;
	cfg.initiate_timeout = 2;
	cfg.max_latches = 4;
	cfg.max_pending = 4;
	cfg.admin_gid = ADMIN_GID;
	wipe_state_dir();
	fake_ev_reset();
	fake_control_reset();
	fake_vici_reset();
	fake_plane_reset(setup & 1, (setup >> 1) & 7 ? 2 + ((setup >> 1) & 7) : 0);
	make_sockets();
	if (core_new(NULL, &cfg, &c) < 0)
		abort();
	for (unsigned steps = 0; in.n && steps < 256; steps++)
		step(c, &in);
	for (int i = 0; i < 4; i++)
		fake_ev_advance((uint64_t)(cfg.initiate_timeout + 2) * 1000000);
	fake_control_run_deferred();
	fake_control_all_answered();
	core_free(c, false);
	fake_control_finish();
	if (fake_ev_count())
		abort(); /* a timer or io source outlived the core */
	close_sockets();
	return 0;
}
