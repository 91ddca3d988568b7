/* SPDX-License-Identifier: MIT */
/*
 * The draft flow (ATTACH): ipsec_set_socket_pToken() on an unconnected
 * socket, then the application's own connect(2) (DESIGN.md §3.3). latchd
 * records the socket's local end and policy and puts it in the attach sets:
 * the enforcement's hold rule queues every packet of it whose flow is not
 * armed. The first one (the SYN) names the 5-tuple: a latch is made exactly
 * as CONNECT makes one (enforcement first, then the SA, judged against the
 * token) and the packet waits. ESTABLISHED: the held packets are accepted
 * with the routing mark, so the kernel routes them again, into the data
 * plane: the SYN leaves as ESP, connect(2) pays no retransmission. The latch
 * fails: they are dropped and the socket is destroyed (ECONNABORTED at once).
 *
 * A TCP socket's attachment ends with its latch (made or failed); a UDP
 * socket stays attached while it lives, so that each destination it sends to
 * gets a latch before its first datagram leaves.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "latchd/core-int.h"
#include "latchd/log.h"
#include "latchd/nfq.h"
#include "latchd/sockdiag.h"

#define FAIL(r, ...) (snprintf(err, el, __VA_ARGS__), (r))

/* The hold rule's queue: one latchd per network namespace. */
#define ATTACH_QUEUE 207
/* ATTACH answers before there is a latch: its id names the attachment, outside latch ids. */
#define ATTACH_ID_BASE (1ull << 63)
/* Packets held at once, all latches together (a SYN and its retransmissions each). */
#define HELD_MAX 256

struct attach {
	struct flow3 local; /* as bound: a wildcard address, or AF_UNSPEC for dual stack */
	uint64_t cookie, id;
	struct ucred owner;
	struct client *client; /* NULL once gone */
	int fd;		       /* kernel data plane: the socket, for its policies; else -1 */
	struct latch_policy pol;
	struct attach *next;
};

struct held {
	uint32_t pkt;	   /* the kernel's packet id */
	uint64_t latch_id; /* the latch it waits for */
};

struct attachments {
	struct nfq *q;
	struct ev_source *src;
	struct attach *list;
	uint64_t next_id;
	struct held held[HELD_MAX];
	unsigned n_held;
};

/* ---------------------------------------------------------------- entries */

static struct attach *by_cookie(const struct attachments *at, uint64_t cookie)
{
	for (struct attach *a = at->list; a; a = a->next) {
		if (a->cookie == cookie)
			return a;
	}
	return NULL;
}

static bool addr_is_any(const union flow_addr *a)
{
	static const union flow_addr any;

	return !memcmp(a, &any, sizeof(any));
}

/* The attachment whose local end sent f (f's local side is the packet's source). */
static struct attach *by_flow(const struct attachments *at, const struct flow *f)
{
	for (struct attach *a = at->list; a; a = a->next) {
		if (a->local.proto != f->proto || a->local.port != f->lport)
			continue;
		if (a->local.family != AF_UNSPEC && a->local.family != f->family)
			continue;
		if (addr_is_any(&a->local.addr) || !memcmp(&a->local.addr, &f->laddr, 16))
			return a;
	}
	return NULL;
}

static unsigned count_uid(const struct attachments *at, uid_t uid)
{
	unsigned n = 0;

	for (const struct attach *a = at->list; a; a = a->next)
		n += a->owner.uid == uid;
	return n;
}

static void forget(struct core *c, struct attach *a)
{
	for (struct attach **pp = &c->att->list; *pp; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	}
	enforce_attach_del(c->enf, &a->local);
	if (a->fd >= 0)
		close(a->fd);
	free(a);
}

/* ---------------------------------------------------------------- held packets */

static void verdict(struct core *c, uint32_t pkt, bool accept)
{
	int r = nfq_verdict(c->att->q, pkt, accept, c->cfg.mark);

	if (r < 0)
		log_warn("NFQUEUE verdict for packet %u: %s", pkt, strerror(-r));
}

static void hold(struct core *c, uint32_t pkt, uint64_t latch_id)
{
	struct attachments *at = c->att;

	if (at->n_held == HELD_MAX) {
		verdict(c, pkt, false); /* a retransmission comes again */
		return;
	}
	at->held[at->n_held++] = (struct held){ pkt, latch_id };
}

/* Accept (with the routing mark) or drop every packet held for latch_id, in order; how many. */
static unsigned release(struct core *c, uint64_t latch_id, bool accept)
{
	struct attachments *at = c->att;
	unsigned kept = 0, n = 0;

	for (unsigned i = 0; i < at->n_held; i++) {
		if (at->held[i].latch_id == latch_id) {
			verdict(c, at->held[i].pkt, accept);
			n++;
		} else {
			at->held[kept++] = at->held[i];
		}
	}
	at->n_held = kept;
	return n;
}

/* ---------------------------------------------------------------- latches */

/* The latch of the flow f of an attached socket, as CONNECT makes it (new_flow_latch). */
static int make_latch(struct core *c, struct attach *a, const struct flow *f, struct latch **ret)
{
	struct request req = { .client = a->client, .cred = a->owner, .fd = a->fd };
	struct pending *p;
	char err[256] = "", text[FLOW_FMT_MAX];
	struct latch *l;
	int r = new_flow_latch(c, &req, f, &a->pol, &l, err, sizeof(err));

	if (r < 0) {
		log_warn("attached socket %s: %s", flow_format(text, sizeof(text), f), err);
		return r;
	}
	latchdb_set_cookie(c->db, l, a->cookie);
	p = core_pending_new(c, l, NULL, a->fd);
	if (!p) {
		core_close(c, l, IPC_REASON_OWNER, false);
		return -ENOMEM;
	}
	p->connected = true; /* a failure destroys the socket: connect(2) fails at once */
	log_info("latch %llu %s: made for an attached socket, its first packet held",
		 (unsigned long long)l->id, flow_format(text, sizeof(text), f));
	*ret = l;
	return 0;
}

/* A packet the hold rule queued: an attached socket's, whose flow is not armed. */
static void on_packet(const struct nfq_packet *pkt, void *u)
{
	struct core *c = u;
	struct attach *a;
	struct latch *l;
	struct flow f;
	bool syn;

	if (nfq_packet_flow(pkt->payload, pkt->len, &f, &syn) < 0 || !(a = by_flow(c->att, &f))) {
		verdict(c, pkt->id, false); /* no attachment (any more): never in clear */
		return;
	}
	l = latchdb_by_flow(c->db, &f);
	if (l && (l->state != IPC_STATE_PENDING || l->cookie != a->cookie)) {
		verdict(c, pkt->id, false); /* latched, not armed: as the unarmed rule would */
		return;
	}
	if (l) {
		hold(c, pkt->id, l->id); /* a retransmission: goes with the first */
		return;
	}
	if ((a->fd < 0 && enforce_data_plane(c->enf) == ENFORCE_PLANE_KERNEL) ||
	    make_latch(c, a, &f, &l) < 0) {
		verdict(c, pkt->id, false);
		sockdiag_destroy(&f, a->cookie);
		forget(c, a);
		return;
	}
	hold(c, pkt->id, l->id);
	core_resolve_pending(c); /* an SA that is up carries it at once */
}

static int on_readable(struct ev_source *s, int fd, uint32_t revents, void *u)
{
	struct core *c = u;
	int r = nfq_read(c->att->q, on_packet, c);

	if (r < 0)
		log_warn("NFQUEUE %u: %s%s", nfq_queue(c->att->q), strerror(-r),
			 r == -ENOBUFS ? " (those packets stay queued, never sent)" : "");
	return 0;
}

/* ---------------------------------------------------------------- the core's hooks */

void core_attach_changed(struct core *c, struct latch *l, uint8_t old)
{
	bool up = l->state == IPC_STATE_ESTABLISHED;
	struct attach *a;

	if (!c->att || old != IPC_STATE_PENDING || l->listener)
		return;
	if (!release(c, l->id, up))
		return; /* not made for an attachment */
	a = by_cookie(c->att, l->cookie);
	if (a && (!up || l->flow.proto == IPPROTO_TCP))
		forget(c, a);
}

void core_attach_gone(struct core *c, uint64_t cookie)
{
	struct attach *a = c->att ? by_cookie(c->att, cookie) : NULL;

	if (a)
		forget(c, a);
}

/*
 * An attachment outlives its client: the socket may still be connected, and
 * its first packet is held as ever. On the kernel data plane latchd holds the
 * socket itself, which would keep it open after its owner closed it: that
 * reference goes now (the socket's destroy event forgets the attachment), and
 * a first packet that comes later cannot get its socket policies: the socket
 * is reset (on_packet).
 */
void core_attach_client_gone(struct core *c, struct client *cl)
{
	for (struct attach *a = c->att ? c->att->list : NULL; a; a = a->next) {
		if (a->client != cl)
			continue;
		a->client = NULL;
		if (a->fd >= 0)
			close(a->fd);
		a->fd = -1;
	}
}

int core_attach_open(struct core *c, struct enforce_config *ec)
{
	struct attachments *at = calloc(1, sizeof(*at));
	int r;

	if (!at)
		return -ENOMEM;
	at->next_id = ATTACH_ID_BASE + 1;
	c->att = at;
	r = nfq_open(ATTACH_QUEUE, &at->q);
	if (r == 0)
		r = ev_add_io(c->loop, &at->src, nfq_fd(at->q), EPOLLIN, on_readable, c);
	if (r < 0) {
		log_warn("NFQUEUE %u: %s: ATTACH (the draft API's plain connect) is not served",
			 ATTACH_QUEUE, strerror(-r));
		nfq_close(at->q);
		at->q = NULL;
		return 0;
	}
	ec->hold = true;
	ec->hold_queue = ATTACH_QUEUE;
	return 0;
}

void core_attach_close(struct core *c)
{
	struct attachments *at = c->att;

	if (!at)
		return;
	ev_source_free(at->src);
	nfq_close(at->q); /* the kernel drops what is still held */
	while (at->list) {
		struct attach *next = at->list->next;

		if (at->list->fd >= 0)
			close(at->list->fd);
		free(at->list);
		at->list = next;
	}
	free(at);
	c->att = NULL;
}

/* ---------------------------------------------------------------- ATTACH */

/* A bound, unconnected, not listening TCP or UDP socket: its local end and cookie. */
static int attach_socket(int fd, bool kernel, struct flow3 *l3, uint64_t *cookie, char *err,
			 size_t el)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int listening = 0, r;

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
		return FAIL(-EISCONN, "the socket is connected already: latch it with LATCH");
	sl = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &sl) == 0 && listening)
		return FAIL(-EINVAL, "a listening socket is latched with LISTEN");
	r = flow3_from_fd(fd, l3);
	if (r < 0)
		return FAIL(r, "the socket passed is no TCP or UDP socket");
	if (kernel && l3->proto != IPPROTO_TCP)
		return FAIL(-EOPNOTSUPP,
			    "on the kernel data plane a socket holds one policy, for one "
			    "destination: connect(2) the UDP socket and latch it with LATCH");
	if (l3->port == 0)
		return FAIL(-EINVAL, "bind the socket to a local port first (liblatch does)");
	r = sockdiag_cookie(fd, cookie);
	return r < 0 ? FAIL(r, "SO_COOKIE: %s", strerror(-r)) : 0;
}

static int attach_new(struct core *c, struct request *req, const struct flow3 *l3, uint64_t cookie,
		      struct attach **ret, char *err, size_t el)
{
	struct attach *a;
	struct flow f = { .family = l3->family, .proto = l3->proto, .lport = l3->port };
	int r;

	f.laddr = l3->addr;
	if (by_flow(c->att, &f))
		return FAIL(-EADDRINUSE, "another attached socket has that local port");
	if (!control_is_admin(c->ctl, &req->cred) &&
	    count_uid(c->att, req->cred.uid) >= c->cfg.max_pending)
		return FAIL(-ENOSPC, "uid %u has %u attached sockets, the limit",
			    (unsigned)req->cred.uid, c->cfg.max_pending);
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->fd = -1;
	if (enforce_data_plane(c->enf) == ENFORCE_PLANE_KERNEL &&
	    (a->fd = fcntl(req->fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		free(a);
		return FAIL(-errno, "keeping the socket: %s", strerror(errno));
	}
	r = enforce_attach_add(c->enf, l3);
	if (r < 0) {
		if (a->fd >= 0)
			close(a->fd);
		free(a);
		return FAIL(r, "enforcement: %s", enforce_last_error(c->enf));
	}
	a->local = *l3;
	a->cookie = cookie;
	a->id = c->att->next_id++;
	a->next = c->att->list;
	c->att->list = a;
	*ret = a;
	return 0;
}

/* STATE PENDING, the attachment's id and the socket's local end. */
static int reply(struct core *c, struct request *req, const struct attach *a)
{
	static const struct latch_ident none;
	/* A reply's temporary: it borrows its values, it is never in the database. */
	struct latch tmp = {
		.id = a->id,
		.state = IPC_STATE_PENDING,
		.listener = true, /* only the local half of the tuple is known */
		.listen = a->local,
		.pol = &a->pol,
		.local = &none,
		.remote = &none,
		.owner = a->owner,
	};

	core_put_latch(c, control_reply_begin(req, 0), &tmp);
	return control_reply_send(req);
}

int core_req_attach(struct core *c, struct request *req, char *err, size_t el)
{
	char text[FLOW_FMT_MAX];
	struct latch_policy pol;
	struct attach *a;
	struct flow3 l3;
	uint64_t cookie;
	int r;

	if (!c->att || !c->att->q)
		return FAIL(-EOPNOTSUPP, "latchd cannot hold first packets here (no NFQUEUE)");
	r = core_get_policy(&req->msg.attrs, &pol, err, el);
	if (r == 0)
		r = check_policy_rights(c, req, &pol, err, el);
	if (r == 0)
		r = attach_socket(req->fd, enforce_data_plane(c->enf) == ENFORCE_PLANE_KERNEL, &l3,
				  &cookie, err, el);
	if (r < 0)
		return r;
	a = by_cookie(c->att, cookie); /* a second token for the same socket replaces the first */
	if (a && a->owner.uid != req->cred.uid)
		return FAIL(-EPERM, "the socket is attached by another user already");
	if (!a) {
		r = attach_new(c, req, &l3, cookie, &a, err, el);
		if (r < 0)
			return r;
	}
	a->pol = pol;
	a->owner = req->cred;
	a->client = req->client;
	log_info("attached %s (uid %u): its first packet will wait for its latch",
		 flow3_format(text, sizeof(text), &l3), (unsigned)req->cred.uid);
	return reply(c, req, a);
}
