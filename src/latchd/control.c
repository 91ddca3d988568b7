/* SPDX-License-Identifier: MIT */
#include "latchd/control.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "latchd/log.h"
#include "shared/fdpass.h"

/* Packets up to this size are read whole, so oversized ones get a proper -EMSGSIZE reply. */
#define RECV_MAX (4 * IPC_MSG_MAX)
/*
 * What a client may leave unread before it is dropped: a dump of 10,000
 * latches is about 10 MB; a client that does not read at all must not make
 * latchd hold its memory for ever.
 */
#define OUTQ_MAX (64u << 20)

/*
 * A client is dropped the moment its socket fails, which may be in the middle
 * of handling or answering one of its requests (a reply that finds the socket
 * gone, a queue over OUTQ_MAX). busy counts the frames using a request; a
 * held request dropped while busy is an orphan, freed by the last of them.
 */
struct req_impl {
	struct request pub;
	struct buf reply;
	bool held;
	bool orphan;
	unsigned busy;
	struct req_impl *next; /* in the client's list of held requests */
};

struct client {
	struct control *ctl;
	int fd;
	struct ucred cred;
	struct ev_source *src;
	int refused; /* -errno to answer every request with (over the limit), or 0 */
	bool hello;
	bool watch;
	uint64_t watch_id;
	unsigned n_held;
	struct req_impl *held;
	struct req_impl *dispatching;	  /* the request being handled, if not held */
	struct outmsg *outq, **outq_tail; /* replies and events the socket had no room for */
	size_t outq_bytes;
	uint64_t *gen; /* the generation page shared with the client (IPC_FEATURE_GEN_PAGE) */
	struct client *next;
};

struct outmsg {
	struct outmsg *next;
	size_t len;
	uint8_t data[];
};

struct control {
	struct ev_loop *loop;
	int fd;
	struct ev_source *src;
	struct control_config cfg;
	struct control_ops ops;
	void *core;
	struct client *clients;
	unsigned n_clients;
	uint8_t rbuf[RECV_MAX];
};

static struct req_impl *impl_of(struct request *req)
{
	return (struct req_impl *)((char *)req - offsetof(struct req_impl, pub));
}

/* Is gid among pid's supplementary groups (/proc/PID/status "Groups:")? */
static bool in_groups(pid_t pid, gid_t gid)
{
	char path[64], line[1024];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *save = NULL;

		if (strncmp(line, "Groups:", 7))
			continue;
		for (char *t = strtok_r(line + 7, " \t\n", &save); t && !found;
		     t = strtok_r(NULL, " \t\n", &save))
			found = strtoul(t, NULL, 10) == gid;
	}
	fclose(f);
	return found;
}

bool control_is_admin(const struct control *c, const struct ucred *cred)
{
	gid_t g = c->cfg.admin_gid;

	return cred->uid == 0 || (g != (gid_t)-1 && (cred->gid == g || in_groups(cred->pid, g)));
}

static unsigned clients_of_uid(const struct control *c, uid_t uid)
{
	unsigned n = 0;

	for (const struct client *cl = c->clients; cl; cl = cl->next)
		n += cl->cred.uid == uid;
	return n;
}

unsigned control_client_count(const struct control *c)
{
	return c->n_clients;
}

/* ---------------------------------------------------------------- replies */

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

	if (!r->held || !cl)
		return;
	for (struct req_impl **pp = &cl->held; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			cl->n_held--;
			break;
		}
	}
}

struct buf *control_reply_begin(struct request *req, uint16_t flags)
{
	struct req_impl *r = impl_of(req);

	buf_reset(&r->reply);
	wire_begin(&r->reply, req->type, IPC_F_REPLY | flags, req->seq, 0);
	return &r->reply;
}

static void client_drop(struct client *cl, const char *why);

/* Keep a message for when the client's socket has room again (EPOLLOUT). */
static int enqueue(struct client *cl, const uint8_t *p, size_t n)
{
	struct outmsg *m;

	if (cl->outq_bytes + n > OUTQ_MAX) {
		client_drop(cl, "not reading its replies");
		return -ENOBUFS;
	}
	m = malloc(sizeof(*m) + n);
	if (!m) {
		client_drop(cl, "out of memory for its replies");
		return -ENOMEM;
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
	cl->outq_bytes += n;
	return 0;
}

/* Send what waits, in order; 0 when all went, -EAGAIN when the socket is full again. */
static int flush(struct client *cl)
{
	while (cl->outq) {
		struct outmsg *m = cl->outq;
		int r = fdpass_send(cl->fd, m->data, m->len, -1);

		if (r < 0)
			return r;
		cl->outq = m->next;
		cl->outq_bytes -= m->len;
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
	r = cl->outq ? -EAGAIN : fdpass_send(cl->fd, b->data, b->len, fd);
	if (r == -EAGAIN && fd >= 0) {
		client_drop(cl, "no room for its HELLO reply");
		return -ENOBUFS;
	}
	if (r == -EAGAIN)
		return enqueue(cl, b->data, b->len);
	if (r == -EPIPE || r == -ECONNRESET)
		client_drop(cl, "gone");
	return r;
}

static int reply_send(struct request *req, int fd)
{
	struct req_impl *r = impl_of(req);
	bool more = r->reply.len >= 4 && (r->reply.data[3] & IPC_F_MORE);
	int ret = 0;

	r->busy++;
	if (req->client)
		ret = send_buf(req->client, &r->reply, fd);
	if (--r->busy == 0 && r->orphan) {
		req_free(r); /* its client was dropped by that send */
		return ret;
	}
	if (more)
		return ret;
	if (r->held) {
		unhold(r);
		r->held = false;
		if (!r->busy) /* answered while its handler runs: dispatch() frees it */
			req_free(r);
	}
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
	char text[IPC_MESSAGE_MAX + 1];
	struct buf *b = control_reply_begin(req, 0);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	for (char *p = text; *p; p++) {
		if ((unsigned char)*p < 0x20)
			*p = ' '; /* the codec refuses control characters in strings */
	}
	set_status(b, err < 0 && err >= IPC_STATUS_MIN ? err : -EINVAL);
	wire_put_str(b, IPC_A_MESSAGE, text);
	return control_reply_send(req);
}

int control_request_hold(struct request *req)
{
	struct req_impl *r = impl_of(req);
	struct client *cl = req->client;

	if (r->held)
		return 0;
	if (cl && !control_is_admin(cl->ctl, &cl->cred) &&
	    cl->n_held >= cl->ctl->cfg.max_pending_per_uid)
		return -EAGAIN;
	r->held = true;
	if (cl) {
		r->next = cl->held;
		cl->held = r;
		cl->n_held++;
	}
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
	struct client *cl, *next;

	if (to)
		send_buf(to, msg, -1);
	for (cl = c->clients; cl; cl = next) {
		next = cl->next; /* send_buf may drop cl */
		if (cl == to || !cl->watch)
			continue;
		if (cl->watch_id && cl->watch_id != latch_id)
			continue;
		if (cl->cred.uid != owner_uid && !control_is_admin(c, &cl->cred))
			continue;
		send_buf(cl, msg, -1);
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

static void client_drop(struct client *cl, const char *why)
{
	struct control *c = cl->ctl;
	struct req_impl *r, *next;

	for (struct client **pp = &c->clients; *pp; pp = &(*pp)->next) {
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	}
	c->n_clients--;
	if (cl->dispatching)
		cl->dispatching->pub.client = NULL;
	for (r = cl->held; r; r = next) {
		next = r->next;
		r->pub.client = NULL;
		r->held = false;
		if (r->pub.cancel)
			r->pub.cancel(&r->pub);
		if (r->busy)
			r->orphan = true;
		else
			req_free(r);
	}
	if (c->ops.client_gone)
		c->ops.client_gone(c->core, cl);
	while (cl->outq) {
		struct outmsg *m = cl->outq;

		cl->outq = m->next;
		free(m);
	}
	if (cl->gen)
		munmap(cl->gen, IPC_GEN_PAGE_SIZE);
	log_debug("client pid %d uid %u: closed (%s)", (int)cl->cred.pid, (unsigned)cl->cred.uid,
		  why);
	ev_source_free(cl->src);
	close(cl->fd);
	free(cl);
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
	wire_put_u32(b, IPC_A_VERSION, IPC_VERSION);
	wire_put_u64(b, IPC_A_FEATURES, features);
	wire_put_str(b, IPC_A_NAME, "latchd " LATCH_VERSION);
	/* A failed send has dropped the client: nothing is left to answer. */
	(void)reply_send(req, fd);
	if (fd >= 0)
		close(fd);
	return 0;
}

/* What the control module answers itself; 1 when the core should handle it. */
static int handle_session(struct client *cl, struct request *req, char *err, size_t el)
{
	int r;

	if (cl->refused)
		return cl->refused == -EUSERS
			       ? (snprintf(err, el, "too many connections for uid %u (limit %u)",
					   (unsigned)cl->cred.uid,
					   cl->ctl->cfg.max_clients_per_uid),
				  cl->refused)
			       : cl->refused;
	if (req->type == IPC_MSG_HELLO) {
		r = wire_hello_check(&req->msg, err, el);
		if (r < 0)
			return r;
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
	/* cl may be dropped from here on: r->pub.client says whether it still lives */
	cl->dispatching = r;
	r->busy++;
	ret = handle_session(cl, &r->pub, err, sizeof(err));
	if (ret == 1)
		ret = cl->ctl->ops.handle(cl->ctl->core, &r->pub, err, sizeof(err));
	if (r->pub.client)
		cl->dispatching = NULL;
	if (ret < 0)
		control_reply_error(&r->pub, ret, "%s", err[0] ? err : strerror(-ret));
	if (--r->busy == 0 && r->orphan) {
		req_free(r);
		return;
	}
	if (r->held)
		return; /* the handler owns it now; the passed fd was taken or closed by it */
	if (r->pub.type == IPC_MSG_BYE && ret == 0 && r->pub.client) {
		req_free(r);
		client_drop(cl, "said goodbye");
		return;
	}
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

static int client_read(struct ev_source *s, int fd, uint32_t revents, void *userdata)
{
	struct client *cl = userdata;
	struct control *c = cl->ctl;
	char err[IPC_MESSAGE_MAX + 1];
	struct wire_msg m;
	int n, pfd = -1, r;

	if (revents & EPOLLOUT) {
		r = flush(cl);
		if (r < 0 && r != -EAGAIN) {
			client_drop(cl, "gone");
			return 0;
		}
	}
	if (!(revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return 0;
	n = fdpass_recv(fd, c->rbuf, sizeof(c->rbuf), &pfd);
	if (n == -EAGAIN || n == -EINTR)
		return 0;
	if (n == 0 || n == -ECONNRESET) {
		client_drop(cl, "disconnected");
		return 0;
	}
	if (n < 0) {
		refuse(cl, NULL, 0, n, n == -EMSGSIZE ? "message too large" : strerror(-n));
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

static int on_accept(struct ev_source *s, int fd, uint32_t revents, void *userdata)
{
	struct control *c = userdata;
	struct client *cl;
	int cfd, r;

	cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0)
		return 0; /* EAGAIN, or the client gave up already */
	cl = calloc(1, sizeof(*cl));
	if (!cl || fdpass_peercred(cfd, &cl->cred) < 0) {
		free(cl);
		close(cfd);
		return 0;
	}
	cl->ctl = c;
	cl->fd = cfd;
	if (cl->cred.uid != 0 && clients_of_uid(c, cl->cred.uid) >= c->cfg.max_clients_per_uid)
		cl->refused = -EUSERS; /* told on its first request, so it learns why */
	r = ev_add_io(c->loop, &cl->src, cfd, EPOLLIN, client_read, cl);
	if (r < 0) {
		close(cfd);
		free(cl);
		return 0;
	}
	cl->next = c->clients;
	c->clients = cl;
	c->n_clients++;
	return 0;
}

/* ---------------------------------------------------------------- socket */

static int mkdir_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int listen_on(const char *path, int *ret)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	r = mkdir_parent(path);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path); /* a stale socket of an earlier latchd */
	/* Everyone may connect: authorisation is by credentials, per request. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0666) < 0 ||
	    listen(fd, 128) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*ret = fd;
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
	r = listen_on(cfg->path, &c->fd);
	if (r < 0) {
		free(c);
		return r;
	}
	r = ev_add_io(loop, &c->src, c->fd, EPOLLIN, on_accept, c);
	if (r < 0) {
		close(c->fd);
		free(c);
		return r;
	}
	*ret = c;
	return 0;
}

void control_free(struct control *c)
{
	if (!c)
		return;
	while (c->clients)
		client_drop(c->clients, "daemon stopping");
	ev_source_free(c->src);
	close(c->fd);
	unlink(c->cfg.path);
	free(c);
}
