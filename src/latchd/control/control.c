/* SPDX-License-Identifier: MIT */
#include "latchd/control/control-int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <syslog.h>
#include <unistd.h>

#include "latchd/base/log.h"
#include "shared/fdpass.h"
#include "shared/text.h"

static struct req_impl *impl_of(struct request *req)
{
	return (struct req_impl *)((char *)req - offsetof(struct req_impl, pub));
}

bool control_is_admin(const struct request *req)
{
	return req->admin;
}

bool control_has_feature(const struct request *req, uint64_t feature)
{
	return req->client && (req->client->features & feature);
}

unsigned control_client_count(const struct control *c)
{
	return c->n_clients;
}

/* ---------------------------------------------------------------- replies */

static void req_free(struct req_impl *r)
{
	struct client *cl = r->holder;

	for (struct req_impl **pp = cl ? &cl->held : NULL; pp && *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			cl->n_held--;
			break;
		}
	}
	if (r->pub.fd >= 0)
		close(r->pub.fd);
	buf_free(&r->reply);
	free(r);
}

struct buf *control_reply_begin(struct request *req, uint16_t flags)
{
	struct req_impl *r = impl_of(req);

	buf_reset(&r->reply);
	wire_begin(&r->reply, req->type, IPC_F_REPLY | flags, req->seq, 0);
	return &r->reply;
}

static void drop_outq(struct client *cl)
{
	while (cl->outq) {
		struct outmsg *m = cl->outq;

		cl->outq = m->next;
		free(m);
	}
	if (!cl->admin)
		cl->ctl->queued_users -= cl->queued;
	cl->queued = 0;
}

/*
 * The client failed: from now on it is gone for everyone (its requests'
 * client is NULL, sends to it do nothing, its socket is no longer read),
 * but its memory stays until reap() runs from the event loop, so that
 * whoever is sending, closing or dispatching for it may go on.
 */
static void client_fail(struct client *cl, const char *why)
{
	if (cl->gone)
		return;
	cl->gone = why;
	ev_source_free(cl->src);
	cl->src = NULL;
	if (cl->dispatching)
		cl->dispatching->pub.client = NULL;
	for (struct req_impl *r = cl->held; r; r = r->next)
		r->pub.client = NULL;
	drop_outq(cl);
	ev_defer_enable(cl->ctl->reaper);
}

static size_t uid_queued(const struct control *c, uid_t uid)
{
	size_t n = 0;

	for (const struct client *cl = c->clients; cl; cl = cl->next)
		n += cl->cred.uid == uid ? cl->queued : 0;
	return n;
}

/* May cl hold size more bytes for its unread replies? If not, it is dropped, with a log line. */
static bool queue_room(struct client *cl, size_t size)
{
	struct control *c = cl->ctl;
	size_t uid = uid_queued(c, cl->cred.uid);

	if (uid + size <= c->cfg.max_queued_per_uid &&
	    (cl->admin || c->queued_users + size <= c->cfg.max_queued))
		return true;
	log_warn("client pid %d uid %u: dropped, not reading its replies: uid %u holds %zu bytes "
		 "(limit %zu), all users %zu (limit %zu)",
		 (int)cl->cred.pid, (unsigned)cl->cred.uid, (unsigned)cl->cred.uid, uid,
		 c->cfg.max_queued_per_uid, c->queued_users, c->cfg.max_queued);
	client_fail(cl, "not reading its replies");
	return false;
}

/* Keep a message for when the client's socket has room again (EPOLLOUT). */
static int enqueue(struct client *cl, const uint8_t *p, size_t n)
{
	struct outmsg *m = malloc(sizeof(*m) + n);
	size_t size;

	if (!m) {
		client_fail(cl, "out of memory for its replies");
		return -ENOMEM;
	}
	size = malloc_usable_size(m); /* what is held, not what is asked for */
	if (!queue_room(cl, size)) {
		free(m);
		return -ENOBUFS;
	}
	m->next = NULL;
	m->len = n;
	memcpy(m->data, p, n);
	if (!cl->outq) {
		cl->outq_tail = &cl->outq;
		ev_io_set_events(cl->src, EPOLLIN | EPOLLOUT);
	}
	*cl->outq_tail = m;
	cl->outq_tail = &m->next;
	cl->queued += size;
	if (!cl->admin)
		cl->ctl->queued_users += size;
	return 0;
}

/* Send what waits, in order; 0 when all went, -EAGAIN when the socket is full again. */
static int flush(struct client *cl)
{
	while (cl->outq) {
		struct outmsg *m = cl->outq;
		size_t size = malloc_usable_size(m);
		int r = fdpass_send(cl->fd, m->data, m->len, -1);

		if (r < 0)
			return r;
		cl->outq = m->next;
		cl->queued -= size;
		if (!cl->admin)
			cl->ctl->queued_users -= size;
		free(m);
	}
	ev_io_set_events(cl->src, EPOLLIN);
	return 0;
}

/* A descriptor cannot wait in the queue: only a first reply (HELLO's) carries one. */
static int send_buf(struct client *cl, const struct buf *b, int fd)
{
	int r = wire_end(b);

	if (r < 0)
		return r;
	if (cl->gone)
		return -EPIPE;
	r = cl->outq ? -EAGAIN : fdpass_send(cl->fd, b->data, b->len, fd);
	if (r == -EAGAIN && fd >= 0) {
		client_fail(cl, "no room for its HELLO reply");
		return -ENOBUFS;
	}
	if (r == -EAGAIN)
		return enqueue(cl, b->data, b->len);
	if (r == -EPIPE || r == -ECONNRESET)
		client_fail(cl, "gone");
	return r;
}

static int reply_send(struct request *req, int fd)
{
	struct req_impl *r = impl_of(req);
	bool more = r->reply.len >= 4 && (r->reply.data[3] & IPC_F_MORE);
	int ret = 0;

	if (req->client)
		ret = send_buf(req->client, &r->reply, fd);
	if (more)
		return ret;
	r->done = true;
	if (r->held && !r->busy)
		req_free(r);
	return ret;
}

int control_reply_send(struct request *req)
{
	return reply_send(req, -1);
}

static void set_status(struct buf *b, int32_t status)
{
	buf_set_be32(b, 8, (uint32_t)status);
}

int control_reply_error(struct request *req, int err, const char *fmt, ...)
{
	char text[IPC_MESSAGE_MAX + 1], clean[IPC_MESSAGE_MAX + 1];
	struct buf *b = control_reply_begin(req, 0);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* Clean text whatever was quoted, and whatever vsnprintf cut: shared/text.h. */
	text_clean(clean, sizeof(clean), text, strlen(text));
	set_status(b, err < 0 && err >= IPC_STATUS_MIN ? err : -EINVAL);
	wire_put_str(b, IPC_A_MESSAGE, clean);
	return control_reply_send(req);
}

int control_request_hold(struct request *req)
{
	struct req_impl *r = impl_of(req);
	struct client *cl = req->client;

	if (r->held)
		return 0;
	if (!cl)
		return -ECANCELED; /* nobody would read the answer */
	if (!req->admin && cl->n_held >= cl->ctl->cfg.max_pending_per_uid)
		return -EAGAIN;
	r->held = true;
	r->holder = cl;
	r->next = cl->held;
	cl->held = r;
	cl->n_held++;
	return 0;
}

/* ---------------------------------------------------------------- events */

void control_client_watch(struct client *cl, bool on, uint64_t latch_id)
{
	cl->watch = on;
	cl->watch_id = on ? latch_id : 0;
}

void control_send_event(struct control *c, struct client *to, uid_t owner_uid, uint64_t latch_id,
			const struct buf *msg)
{
	struct client *cl;

	if (to)
		send_buf(to, msg, -1);
	for (cl = c->clients; cl; cl = cl->next) {
		if (cl == to || !cl->watch)
			continue;
		if (cl->watch_id && cl->watch_id != latch_id)
			continue;
		if (cl->cred.uid != owner_uid && !cl->admin)
			continue;
		send_buf(cl, msg, -1); /* a failure marks cl gone, never frees it */
	}
}

/* ---------------------------------------------------------------- generations */

/*
 * The client's generation page (IPC_FEATURE_GEN_PAGE): a memfd we map
 * writable, then seal, so that the client can neither shrink it under our
 * mapping (we would die of SIGBUS) nor map it writable. Returns the memfd
 * for the HELLO reply, or -errno.
 */
static int gen_page_new(struct client *cl)
{
	const int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL;
	void *p = MAP_FAILED;
	int fd, r;

	fd = memfd_create("latch-generations", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, IPC_GEN_PAGE_SIZE) < 0 ||
	    (p = mmap(NULL, IPC_GEN_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) ==
		    MAP_FAILED ||
	    fcntl(fd, F_ADD_SEALS, seals) < 0) {
		r = -errno;
		if (p != MAP_FAILED)
			munmap(p, IPC_GEN_PAGE_SIZE);
		close(fd);
		return r;
	}
	cl->gen = p;
	return fd;
}

void control_latch_changed(struct client *cl, uint64_t latch_id)
{
	if (cl && cl->gen)
		__atomic_fetch_add(&cl->gen[latch_id % IPC_GEN_SLOTS], 1, __ATOMIC_RELEASE);
}

bool control_latch_generation(const struct client *cl, uint64_t latch_id, uint64_t *ret)
{
	if (!cl || !cl->gen)
		return false;
	*ret = __atomic_load_n(&cl->gen[latch_id % IPC_GEN_SLOTS], __ATOMIC_RELAXED);
	return true;
}

/* ---------------------------------------------------------------- clients */

/* Only here are a client's requests cancelled and the core told: never inside a caller's frame. */
static void client_free(struct client *cl)
{
	struct control *c = cl->ctl;
	struct req_impl *r;

	c->n_clients--;
	c->n_admins -= cl->admin;
	if (c->ops.client_gone)
		c->ops.client_gone(c->core, cl);
	while ((r = cl->held)) {
		r->pub.client = NULL;
		if (r->pub.cancel)
			r->pub.cancel(&r->pub); /* may send to others, who then fail, never free */
		req_free(r);			/* unlinks it from cl->held */
	}
	if (cl->gen)
		munmap(cl->gen, IPC_GEN_PAGE_SIZE);
	log_debug("client pid %d uid %u: closed (%s)", (int)cl->cred.pid, (unsigned)cl->cred.uid,
		  cl->gone);
	close(cl->fd);
	free(cl);
}

/* The event loop's deferred pass: free the clients that failed since the last one. */
static int reap(struct ev_source *s, void *userdata)
{
	struct control *c = userdata;
	struct client **pp = &c->clients;

	while (*pp) {
		struct client *cl = *pp;

		if (!cl->gone) {
			pp = &cl->next;
			continue;
		}
		*pp = cl->next;
		client_free(cl); /* may fail others: those are reaped in this pass or the next */
	}
	return 0;
}

/* The features asked for that we serve; the generation page once per connection. */
static int reply_hello(struct client *cl, struct request *req)
{
	struct buf *b = control_reply_begin(req, 0);
	uint64_t asked = 0, features = 0;
	int fd = -1;

	(void)wire_get_u64(&req->msg.attrs, IPC_A_FEATURES, &asked);
	if ((asked & IPC_FEATURE_GEN_PAGE) && !cl->gen) {
		fd = gen_page_new(cl);
		if (fd < 0)
			log_warn("client pid %d: no generation page: %s", (int)cl->cred.pid,
				 strerror(-fd));
		else
			features |= IPC_FEATURE_GEN_PAGE;
	}
	features |= asked & IPC_FEATURE_STATUS_CHECKS;
	cl->features = features;
	wire_put_u32(b, IPC_A_VERSION, IPC_VERSION);
	wire_put_u64(b, IPC_A_FEATURES, features);
	wire_put_str(b, IPC_A_NAME, "latchd " LATCH_VERSION);
	/* A failed send has dropped the client: nothing is left to answer. */
	(void)reply_send(req, fd);
	if (fd >= 0)
		close(fd);
	return 0;
}

/*
 * A HELLO of a version latchd does not speak: -EPROTO with latchd's VERSION
 * and why, then the connection ends (docs/ipc.md, "Session"). As a rule the
 * reply is the connection's first and goes out at once; one that would have
 * to wait behind unread replies goes with them.
 */
static int refuse_hello(struct client *cl, struct request *req, int err, const char *why)
{
	struct buf *b = control_reply_begin(req, 0);

	set_status(b, err);
	wire_put_u32(b, IPC_A_VERSION, IPC_VERSION);
	wire_put_str(b, IPC_A_MESSAGE, why);
	(void)control_reply_send(req);
	client_fail(cl, "speaks another protocol version");
	return 0;
}

/* What the control module answers itself; 1 when the core should handle it. */
static int handle_session(struct client *cl, struct request *req, char *err, size_t el)
{
	int r;

	if (req->type == IPC_MSG_HELLO) {
		r = wire_hello_check(&req->msg, err, el);
		if (r < 0)
			return refuse_hello(cl, req, r, err);
		cl->hello = true;
		return reply_hello(cl, req);
	}
	if (!cl->hello) {
		snprintf(err, el, "the first message must be HELLO");
		return -EPROTO;
	}
	return 1;
}

static struct req_impl *req_new(struct client *cl, const struct wire_msg *m, int fd)
{
	struct req_impl *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	buf_init(&r->reply, IPC_MSG_MAX);
	r->pub.client = cl;
	r->pub.cred = cl->cred;
	r->pub.admin = cl->admin;
	r->pub.msg = *m;
	r->pub.fd = fd;
	r->pub.type = m->hdr.type;
	r->pub.seq = m->hdr.seq;
	return r;
}

static void dispatch(struct client *cl, const struct wire_msg *m, int fd)
{
	char err[IPC_MESSAGE_MAX + 1] = "";
	struct req_impl *r = req_new(cl, m, fd);
	int ret;

	if (!r) {
		if (fd >= 0)
			close(fd);
		return;
	}
	/* cl may fail from here on, but lives until reap(): r->pub.client says which */
	cl->dispatching = r;
	r->busy = true;
	ret = handle_session(cl, &r->pub, err, sizeof(err));
	if (ret == 1)
		ret = cl->ctl->ops.handle(cl->ctl->core, &r->pub, err, sizeof(err));
	cl->dispatching = NULL;
	if (ret < 0)
		control_reply_error(&r->pub, ret, "%s", err[0] ? err : strerror(-ret));
	r->busy = false;
	if (r->held && !r->done)
		return; /* the handler owns it now; the passed fd was taken or closed by it */
	if (r->pub.type == IPC_MSG_BYE && ret == 0)
		client_fail(cl, "said goodbye");
	req_free(r);
}

/* Answer a packet the codec refused, with its own type and seq where it had a header. */
static void refuse(struct client *cl, const void *p, size_t n, int err, const char *why)
{
	struct wire_hdr h = { 0 };
	struct req_impl *r;
	struct wire_msg m;

	if (n >= IPC_HDR_LEN)
		wire_peek_hdr(p, n, &h);
	m = (struct wire_msg){ .hdr = h };
	r = req_new(cl, &m, -1);
	if (!r)
		return;
	log_info("client pid %d uid %u: refused %s: %s", (int)cl->cred.pid, (unsigned)cl->cred.uid,
		 wire_msg_name(h.type), why);
	control_reply_error(&r->pub, err, "%s", why);
	req_free(r);
}

int control_client_read(struct ev_source *s, int fd, uint32_t revents, void *userdata)
{
	struct client *cl = userdata;
	struct control *c = cl->ctl;
	char err[IPC_MESSAGE_MAX + 1];
	struct wire_msg m;
	int n, pfd = -1, r;

	if (revents & EPOLLOUT) {
		r = flush(cl);
		if (r < 0 && r != -EAGAIN) {
			client_fail(cl, "gone");
			return 0;
		}
	}
	if (!(revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return 0;
	n = fdpass_recv(fd, c->rbuf, sizeof(c->rbuf), &pfd);
	if (n == -EAGAIN || n == -EINTR)
		return 0;
	if (n == 0 || n == -ECONNRESET) {
		client_fail(cl, "disconnected");
		return 0;
	}
	if (n < 0) {
		refuse(cl, NULL, 0, n,
		       n == -EMSGSIZE	    ? "message too large"
		       : n == -ETOOMANYREFS ? "more than one descriptor in one packet"
		       : n == -ENOBUFS	    ? "ancillary data cut short"
					    : strerror(-n));
		return 0;
	}
	r = wire_parse(c->rbuf, (size_t)n, WIRE_FROM_CLIENT, pfd >= 0, &m, err, sizeof(err));
	if (r < 0) {
		if (pfd >= 0)
			close(pfd);
		refuse(cl, c->rbuf, (size_t)n, r, err);
		return 0;
	}
	dispatch(cl, &m, pfd);
	return 0;
}

int control_new(struct ev_loop *loop, const struct control_config *cfg,
		const struct control_ops *ops, void *core, struct control **ret)
{
	struct control *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->loop = loop;
	c->cfg = *cfg;
	c->ops = *ops;
	c->core = core;
	c->fd = -1;
	r = control_listen(c);
	if (r == 0)
		r = ev_add_defer(loop, &c->reaper, reap, c);
	if (r < 0) {
		control_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

void control_free(struct control *c)
{
	if (!c)
		return;
	for (struct client *cl = c->clients; cl; cl = cl->next)
		client_fail(cl, "daemon stopping");
	if (c->reaper)
		reap(c->reaper, c);
	ev_source_free(c->reaper);
	control_unlisten(c);
	free(c);
}
