/* SPDX-License-Identifier: MIT */
/*
 * The control socket (src/latchd/control/control.h) as the core sees it, with the
 * clients the driver makes: any uid, gid and pid, no socket. It keeps the
 * contract of the real module (a request is answered by the handler's
 * error, by one final reply, or, held, later; a dropped client's held
 * requests are cancelled, then the core hears client_gone) and checks the
 * core's side of it, each by abort():
 * - a request gets at most one final answer, and one before its handler
 *   returns unless the handler held it;
 * - every reply and event is a message the codec accepts from latchd;
 * - events go to live clients only;
 * - a latch id given in a reply belongs to the uid that asked for it
 *   (fake_latch_maker lets the driver compare with the database).
 * A client whose send fails is dropped by the event loop afterwards
 * (fake_control_run_deferred), never from inside the send.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "latchd/control/control.h"

#define CLIENTS_MAX 8
#define MAKERS_MAX  256

struct req_impl {
	struct request pub;
	struct buf reply;
	bool held, answered, dispatching;
	struct req_impl *next; /* the client's held requests */
};

struct client {
	struct ucred cred;
	int32_t last_status;			/* of the last request answered */
	char last_message[IPC_MESSAGE_MAX + 1]; /* its MESSAGE, "" when none */
	bool hello, broken;
	struct req_impl *held;
	unsigned n_held;
};

struct control {
	struct control_config cfg;
	struct control_ops ops;
	void *core;
};

static struct {
	struct control *ctl;
	struct client *clients[CLIENTS_MAX];
	unsigned n;
	struct client *dropping; /* valid until client_gone returns, as in control.c */
	struct {
		uint64_t id;
		uid_t uid;
	} makers[MAKERS_MAX];
	unsigned n_makers;
} fc;

static struct req_impl *impl_of(struct request *req)
{
	return (struct req_impl *)((char *)req - offsetof(struct req_impl, pub));
}

static bool live(const struct client *cl)
{
	if (cl && cl == fc.dropping)
		return true;
	for (unsigned i = 0; i < fc.n; i++) {
		if (fc.clients[i] == cl)
			return true;
	}
	return false;
}

void fake_control_reset(void)
{
	fc.n = fc.n_makers = 0;
}

int control_new(struct ev_loop *loop, const struct control_config *cfg,
		const struct control_ops *ops, void *core, struct control **ret)
{
	struct control *c = calloc(1, sizeof(*c));

	(void)loop;
	if (!c)
		return -ENOMEM;
	c->cfg = *cfg;
	c->ops = *ops;
	c->core = core;
	fc.ctl = *ret = c;
	return 0;
}

/* control.c decides it at connect (SO_PEERCRED, SO_PEERGROUPS); the fake from the primary gid. */
static bool cred_admin(const struct ucred *cred)
{
	return cred->uid == 0 || cred->gid == fc.ctl->cfg.admin_gid;
}

bool control_is_admin(const struct request *req)
{
	return req->admin;
}

bool control_has_feature(const struct request *req, uint64_t feature)
{
	return false; /* the fuzzer's clients ask for no STATUS checks (no kernel probes) */
}

unsigned control_client_count(const struct control *c)
{
	(void)c;
	return fc.n;
}

/* ---------------------------------------------------------------- requests */

static void req_free(struct req_impl *r)
{
	if (r->pub.fd >= 0)
		close(r->pub.fd);
	buf_free(&r->reply);
	free(r);
}

static void unhold(struct req_impl *r)
{
	struct client *cl = r->pub.client;

	r->held = false;
	if (!cl)
		return;
	for (struct req_impl **pp = &cl->held; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			cl->n_held--;
			return;
		}
	}
}

int control_request_hold(struct request *req)
{
	struct req_impl *r = impl_of(req);
	struct client *cl = req->client;

	if (r->held)
		return 0;
	if (r->answered)
		abort(); /* held after its answer: nobody would free it */
	if (cl && !req->admin && cl->n_held >= fc.ctl->cfg.max_pending_per_uid)
		return -EAGAIN;
	r->held = true;
	if (cl) {
		r->next = cl->held;
		cl->held = r;
		cl->n_held++;
	}
	return 0;
}

struct buf *control_reply_begin(struct request *req, uint16_t flags)
{
	struct req_impl *r = impl_of(req);

	buf_reset(&r->reply);
	wire_begin(&r->reply, req->type, IPC_F_REPLY | flags, req->seq, 0);
	return &r->reply;
}

/* What latchd sends must be what liblatch accepts from it. */
static void check_sent(const struct buf *b, struct wire_msg *m)
{
	char err[256];

	if (wire_end(b) != 0 ||
	    wire_parse(b->data, b->len, WIRE_FROM_DAEMON, 0, m, err, sizeof(err)) != 0)
		abort();
}

static void note_maker(const struct request *req, const struct wire_msg *m)
{
	uint64_t id;
	bool known;
	uid_t uid;

	if (m->hdr.status != 0 || !(req->type == IPC_MSG_CONNECT || req->type == IPC_MSG_LATCH ||
				    req->type == IPC_MSG_LISTEN || req->type == IPC_MSG_ACCEPT ||
				    req->type == IPC_MSG_ATTACH))
		return;
	if (wire_get_u64(&m->attrs, IPC_A_LATCH_ID, &id) != 0 || !id)
		return;
	uid = fake_latch_maker(id, &known);
	if (known && uid != req->cred.uid)
		abort(); /* one latch id handed to two users */
	if (!known && fc.n_makers < MAKERS_MAX) {
		fc.makers[fc.n_makers].id = id;
		fc.makers[fc.n_makers++].uid = req->cred.uid;
	}
}

uid_t fake_latch_maker(uint64_t latch_id, bool *known)
{
	for (unsigned i = 0; i < fc.n_makers; i++) {
		if (fc.makers[i].id == latch_id) {
			*known = true;
			return fc.makers[i].uid;
		}
	}
	*known = false;
	return (uid_t)-1;
}

int control_reply_send(struct request *req)
{
	struct req_impl *r = impl_of(req);
	struct wire_msg m;

	if (r->answered)
		abort(); /* a second answer */
	check_sent(&r->reply, &m);
	if (m.hdr.flags & IPC_F_MORE)
		return 0;
	r->answered = true;
	note_maker(req, &m);
	if (req->client) {
		const char *text = "";

		req->client->last_status = m.hdr.status;
		(void)wire_get_str(&m.attrs, IPC_A_MESSAGE, &text);
		snprintf(req->client->last_message, sizeof(req->client->last_message), "%s", text);
	}
	if (req->client && req->client->broken)
		return -EPIPE; /* dropped by the loop, afterwards */
	if (r->held) {
		unhold(r);
		if (!r->dispatching)
			req_free(r);
	}
	return 0;
}

int control_reply_error(struct request *req, int err, const char *fmt, ...)
{
	struct req_impl *r = impl_of(req);
	char text[IPC_MESSAGE_MAX + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	for (char *p = text; *p; p++) {
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	}
	if (getenv("FUZZ_CORE_LOG")) /* what the core refused, to adapt the harness */
		fprintf(stderr, "fake control: %s refused: %s\n", wire_msg_name(req->type), text);
	buf_reset(&r->reply);
	wire_begin(&r->reply, req->type, IPC_F_REPLY, req->seq,
		   err < 0 && err >= IPC_STATUS_MIN ? err : -EINVAL);
	wire_put_str(&r->reply, IPC_A_MESSAGE, text);
	return control_reply_send(req);
}

/* ---------------------------------------------------------------- events */

void control_send_event(struct control *c, struct client *to, uid_t owner_uid, uint64_t latch_id,
			const struct buf *msg)
{
	struct wire_msg m;

	(void)c;
	(void)owner_uid;
	(void)latch_id;
	if (to && !live(to))
		abort(); /* a client already dropped */
	check_sent(msg, &m);
}

void control_latch_changed(struct client *cl, uint64_t latch_id)
{
	(void)latch_id;
	if (cl && !live(cl))
		abort();
}

bool control_latch_generation(const struct client *cl, uint64_t latch_id, uint64_t *ret)
{
	(void)latch_id;
	(void)ret;
	if (cl && !live(cl))
		abort();
	return false;
}

void control_client_watch(struct client *cl, bool on, uint64_t latch_id)
{
	(void)on;
	(void)latch_id;
	if (!live(cl))
		abort();
}

/* ---------------------------------------------------------------- clients */

struct client *fake_client_connect(uid_t uid, gid_t gid, pid_t pid)
{
	struct client *cl;

	if (fc.n == CLIENTS_MAX || !(cl = calloc(1, sizeof(*cl))))
		return NULL;
	cl->cred = (struct ucred){ .pid = pid, .uid = uid, .gid = gid };
	fc.clients[fc.n++] = cl;
	return cl;
}

struct client *fake_client_at(unsigned i)
{
	return i < fc.n ? fc.clients[i] : NULL;
}

unsigned fake_client_live(void)
{
	return fc.n;
}

int32_t fake_client_last_status(const struct client *cl)
{
	return cl->last_status;
}

const char *fake_client_last_message(const struct client *cl)
{
	return cl->last_message;
}

void fake_client_break(struct client *cl)
{
	cl->broken = true;
}

void fake_client_drop(struct client *cl)
{
	struct req_impl *r, *next;
	unsigned i;

	for (i = 0; i < fc.n && fc.clients[i] != cl; i++)
		;
	if (i == fc.n)
		abort();
	fc.clients[i] = fc.clients[--fc.n];
	fc.dropping = cl;
	for (r = cl->held; r; r = next) {
		next = r->next;
		r->pub.client = NULL;
		r->held = false;
		if (r->pub.cancel)
			r->pub.cancel(&r->pub);
		req_free(r); /* never while dispatching: drops are the loop's */
	}
	fc.ctl->ops.client_gone(fc.ctl->core, cl);
	fc.dropping = NULL;
	free(cl);
}

void fake_control_run_deferred(void)
{
	for (unsigned i = 0; i < fc.n;) {
		if (fc.clients[i]->broken)
			fake_client_drop(fc.clients[i]);
		else
			i++;
	}
}

void control_free(struct control *c)
{
	while (fc.n)
		fake_client_drop(fc.clients[0]);
	fc.ctl = NULL;
	free(c);
}

void fake_control_all_answered(void)
{
	for (unsigned i = 0; i < fc.n; i++) {
		if (fc.clients[i]->held)
			abort(); /* time ran past every timeout and a request still waits */
	}
}

void fake_control_finish(void)
{
	if (fc.ctl || fc.n)
		abort();
}

/* What the control module answers itself (HELLO, and nothing before it), as control.c does. */
static int session(struct client *cl, struct request *req, char *err, size_t el)
{
	int r;

	if (req->type == IPC_MSG_HELLO) {
		r = wire_hello_check(&req->msg, err, el);
		if (r < 0)
			return r;
		cl->hello = true;
		control_reply_begin(req, 0);
		wire_put_u32(&impl_of(req)->reply, IPC_A_VERSION, IPC_VERSION);
		wire_put_u64(&impl_of(req)->reply, IPC_A_FEATURES, 0);
		return control_reply_send(req);
	}
	if (!cl->hello) {
		snprintf(err, el, "the first message must be HELLO");
		return -EPROTO;
	}
	return 1;
}

static void dispatch(struct client *cl, struct req_impl *r)
{
	char err[IPC_MESSAGE_MAX + 1] = "";
	int ret;

	r->dispatching = true;
	ret = session(cl, &r->pub, err, sizeof(err));
	if (ret == 1)
		ret = fc.ctl->ops.handle(fc.ctl->core, &r->pub, err, sizeof(err));
	r->dispatching = false;
	if (ret < 0)
		control_reply_error(&r->pub, ret, "%s", err[0] ? err : strerror(-ret));
	if (r->answered && !r->held) {
		if (r->pub.type == IPC_MSG_BYE && ret == 0 && r->pub.client)
			cl->broken = true; /* said goodbye: closed by the loop */
		req_free(r);
		return;
	}
	if (!r->held)
		abort(); /* neither answered nor kept: the client would wait forever */
}

void fake_client_send(struct client *cl, const uint8_t *msg, size_t len, int fd)
{
	struct req_impl *r;
	struct wire_msg m;
	char err[256];

	if (!live(cl))
		abort();
	/* The codec refuses it: control.c answers with the error, the core never sees it. */
	if (wire_parse(msg, len, WIRE_FROM_CLIENT, fd >= 0, &m, err, sizeof(err)) < 0)
		return;
	r = calloc(1, sizeof(*r));
	if (!r)
		return;
	buf_init(&r->reply, IPC_MSG_MAX);
	r->pub = (struct request){ .client = cl,
				   .cred = cl->cred,
				   .admin = cred_admin(&cl->cred),
				   .msg = m,
				   .type = m.hdr.type,
				   .seq = m.hdr.seq };
	r->pub.fd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
	dispatch(cl, r);
}

/* ---------------------------------------------------------------- for unit tests */

void fake_client_send_bare(struct client *cl, uint16_t type, int fd)
{
	struct buf b;

	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, type, 0, 1, 0);
	if (type == IPC_MSG_HELLO)
		wire_put_u32(&b, IPC_A_VERSION, IPC_VERSION);
	if (wire_end(&b) != 0)
		abort();
	fake_client_send(cl, b.data, b.len, fd);
	buf_free(&b);
}

struct client *fake_client_hello(uid_t uid)
{
	struct client *cl = fake_client_connect(uid, uid, 100 + (pid_t)uid);

	if (!cl)
		abort();
	fake_client_send_bare(cl, IPC_MSG_HELLO, -1);
	if (cl->last_status != 0)
		abort();
	return cl;
}
