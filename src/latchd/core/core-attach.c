/* SPDX-License-Identifier: MIT */
/*
 * The draft flow (ATTACH): ipsec_set_socket_pToken() on an unconnected
 * socket, then the application's own connect(2) (docs/architecture.md, "A latched connection").
 * latchd records the socket's local end and policy and puts it in the attach sets: the
 * enforcement's hold rule queues every packet of it whose flow is not armed. The first one (the
 * SYN) names the 5-tuple: a latch is made exactly as CONNECT makes one (enforcement first, then the
 * SA, judged against the token) and the packet waits. ESTABLISHED: the held packets are accepted
 * with the routing mark, so the kernel routes them again, into the data
 * plane: the SYN leaves as ESP, connect(2) pays no retransmission. The latch
 * fails: they are dropped and the socket is destroyed (ECONNABORTED at once).
 *
 * Protection is the socket's for its whole life, not its first flow's
 * (docs/architecture.md, "Protected sockets"). On libipsec every socket given
 * a token (ATTACH, and CONNECT and LATCH through its protect hook) gets a
 * mark of its own (SO_MARK on latchd's copy): the hold rule queues every
 * packet of it whose flow is not armed, whatever its tuple, and the mark
 * names the socket. So a second connect(2) after a failed or released latch
 * (another source port), a sendto(2) elsewhere, is latched again under the
 * socket's last token, also when its owner's connection to latchd is gone;
 * a latch that cannot be made resets the socket (TCP) or drops the datagram.
 * The entry goes with the socket (its destroy event). On the kernel data
 * plane the socket's own XFRM policies cover all its flows (enforce-xfrm.h):
 * a TCP attachment there ends with its latch, made or failed, and what its
 * socket tries afterwards is blocked (connect(2) fails with EPERM).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "latchd/base/log.h"
#include "latchd/core/core-int.h"
#include "latchd/dataplane/nfq.h"
#include "latchd/dataplane/sockdiag.h"
#include "shared/fail.h"

/* The hold rule's queue: one latchd per network namespace. */
#define ATTACH_QUEUE 207
/* ATTACH answers before there is a latch: its id names the attachment, outside latch ids. */
#define ATTACH_ID_BASE (1ull << 63)

struct attach {
	struct flow3 local; /* as bound: a wildcard address, or AF_UNSPEC for dual stack */
	uint64_t cookie, id;
	uint32_t mark; /* libipsec: the socket's mark id; 0: kernel, its local end is in the sets */
	struct ucred owner;
	bool admin;	       /* the owner's rights when it attached */
	struct client *client; /* NULL once gone */
	int fd;		       /* kernel data plane: the socket, for its policies; else -1 */
	struct latch_policy pol;
	struct attach *next;
};

struct attachments {
	struct nfq *q;
	struct ev_source *src;
	struct attach *list;
	uint64_t next_id;
	uint32_t sock_mark, mark_ids; /* enforce_config's sock_mark and ~sock_mark_mask */
	uint32_t next_mark;
	struct nfq_held_queue held; /* first packets waiting for their latches */
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

static struct attach *by_mark(const struct attachments *at, uint32_t mark)
{
	for (struct attach *a = at->list; a; a = a->next) {
		if (a->mark == mark)
			return a;
	}
	return NULL;
}

/* The attachment in the sets whose local end sent f (f's local side is the packet's source). */
static struct attach *by_flow(const struct attachments *at, const struct flow *f)
{
	for (struct attach *a = at->list; a; a = a->next) {
		if (a->mark || a->local.proto != f->proto || a->local.port != f->lport)
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
	if (!a->mark)
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

/*
 * Held per uid and in all (nfq.h: NFQ_HELD_PER_UID of NFQ_HELD_MAX; root and
 * the admin group count against the total only): one user's sockets cannot
 * fill the queue for the others. A packet over a limit is dropped: a TCP
 * retransmission comes again, a datagram is lost; never sent in clear.
 */
static void hold(struct core *c, uint32_t pkt, uint64_t latch_id, const struct attach *a)
{
	if (nfq_held_add(&c->att->held, pkt, latch_id, a->owner.uid, a->admin) < 0)
		verdict(c, pkt, false);
}

/* Accept (with the routing mark) or drop every packet held for latch_id, in order; how many. */
static unsigned release(struct core *c, uint64_t latch_id, bool accept)
{
	uint32_t pkts[NFQ_HELD_MAX];
	unsigned n = nfq_held_take(&c->att->held, latch_id, pkts);

	for (unsigned i = 0; i < n; i++)
		verdict(c, pkts[i], accept);
	return n;
}

/* ---------------------------------------------------------------- latches */

/* The latch of the flow f of an attached socket, as CONNECT makes it (core_new_flow_latch). */
static int make_latch(struct core *c, struct attach *a, const struct flow *f, struct latch **ret)
{
	struct request req = {
		.client = a->client, .cred = a->owner, .admin = a->admin, .fd = a->fd
	};
	struct pending *p;
	char err[256] = "", text[FLOW_FMT_MAX];
	struct latch *l;
	int r = core_new_flow_latch(c, &req, f, &a->pol, &l, err, sizeof(err));

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

/* The socket that sent a queued packet: by its mark, or (kernel) by its local end. */
static struct attach *sender(const struct attachments *at, const struct nfq_packet *pkt,
			     const struct flow *f)
{
	if (pkt->has_mark && (pkt->mark & ~at->mark_ids) == at->sock_mark)
		return by_mark(at, pkt->mark & at->mark_ids);
	return by_flow(at, f);
}

/*
 * The kernel data plane's hold rule knows an attached socket by its local end
 * only (libipsec's by the socket's own mark): a port shared
 * (SO_REUSEADDR) with another socket, another user's too, brings that one's
 * packets as well (a root service's SYN-ACKs). TCP names the sender: the
 * socket of the packet's 4-tuple, connected, half-open or in TIME_WAIT
 * (which keeps its cookie). Not found, or only a listener: the attached
 * socket may have closed meanwhile, and it is held as ever. UDP sockets can
 * share a 4-tuple, so there every packet of the port is held.
 */
static bool other_socket(const struct attach *a, const struct flow *f)
{
	uint64_t cookie;
	uint8_t state;

	return f->proto == IPPROTO_TCP && sockdiag_find(f, &cookie, &state) == 0 &&
	       cookie != a->cookie && state != TCP_LISTEN;
}

/* A packet the hold rule queued: an attached socket's, whose flow is not armed. */
static void on_packet(const struct nfq_packet *pkt, void *u)
{
	struct core *c = u;
	struct attach *a;
	struct latch *l;
	struct flow f;
	bool syn;

	if (nfq_packet_flow(pkt->payload, pkt->len, &f, &syn) < 0 ||
	    !(a = sender(c->att, pkt, &f))) {
		verdict(c, pkt->id, false); /* no attachment (any more): never in clear */
		return;
	}
	if (!a->mark && other_socket(a, &f)) { /* a mark is the socket's own: only it sends it */
		if (nfq_pass(c->att->q, pkt->id) < 0)
			log_warn("NFQUEUE: passing packet %u of another socket failed", pkt->id);
		return;
	}
	l = latchdb_by_flow(c->db, &f);
	if (l && (l->state != IPC_STATE_LARVAL || l->cookie != a->cookie)) {
		verdict(c, pkt->id, false); /* latched, not armed: as the unarmed rule would */
		return;
	}
	if (l) {
		hold(c, pkt->id, l->id, a); /* a retransmission: goes with the first */
		return;
	}
	if ((a->fd < 0 && enforce_caps(c->enf)->needs_socket) || make_latch(c, a, &f, &l) < 0) {
		verdict(c, pkt->id, false);
		sockdiag_destroy(&f, a->cookie);
		if (!a->mark)
			forget(c, a); /* kernel: the socket's block policy stays */
		return;
	}
	hold(c, pkt->id, l->id, a);
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

static void latch_changed(struct core *c, struct latch *l, uint8_t old)
{
	bool up = l->state == IPC_STATE_ESTABLISHED;
	struct attach *a;

	if (!c->att || old != IPC_STATE_LARVAL || l->listener)
		return;
	if (!release(c, l->id, up))
		return; /* not made for an attachment */
	a = by_cookie(c->att, l->cookie);
	if (a && !a->mark && (!up || l->flow.proto == IPPROTO_TCP))
		forget(c, a); /* kernel: the socket's policies hold it from now on */
}

static void socket_gone(struct core *c, uint64_t cookie)
{
	struct attach *a = c->att ? by_cookie(c->att, cookie) : NULL;

	if (a)
		forget(c, a);
}

/*
 * An attachment outlives its client: the socket may still be connected, and
 * its packets are held and judged as ever (their latches have no client). On
 * the kernel data plane latchd holds the socket itself, which would keep it
 * open after its owner closed it: that reference goes now (the socket's
 * destroy event forgets the attachment), and a first packet that comes later
 * cannot get its socket policies: the socket is reset (on_packet).
 */
static void client_gone(struct core *c, struct client *cl)
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

/* The NFQUEUE listener; sets ec's hold rule when it is bound (else ATTACH is EOPNOTSUPP). */
static int attach_open(struct core *c, struct enforce_config *ec)
{
	struct attachments *at = calloc(1, sizeof(*at));
	int r;

	if (!at)
		return -ENOMEM;
	at->next_id = ATTACH_ID_BASE + 1;
	at->sock_mark = ec->sock_mark;
	at->mark_ids = ~ec->sock_mark_mask;
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

static void attach_free(struct core *c)
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
static int attach_socket(int fd, bool udp, struct flow3 *l3, uint64_t *cookie, char *err, size_t el)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int listening = 0, r;

	/* its kind first: a connected UNIX or netlink socket is no TCP or UDP one */
	r = flow3_from_fd(fd, l3);
	if (r < 0)
		return FAIL(r, "the socket passed is no TCP or UDP socket");
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
		return FAIL(-EISCONN, "the socket is connected already: latch it with LATCH");
	sl = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &sl) == 0 && listening)
		return FAIL(-EINVAL, "a listening socket is latched with LISTEN");
	if (!udp && l3->proto != IPPROTO_TCP)
		return FAIL(-EOPNOTSUPP,
			    "on the kernel data plane a socket holds one policy, for one "
			    "destination: connect(2) the UDP socket and latch it with LATCH");
	if (l3->port == 0)
		return FAIL(-EINVAL, "bind the socket to a local port first (liblatch does)");
	r = sockdiag_cookie(fd, cookie);
	return r < 0 ? FAIL(r, "SO_COOKIE: %s", strerror(-r)) : 0;
}

/*
 * No socket marks (kernel): the local end into the attach sets, the socket
 * kept for its policies.
 */
static int attach_set(struct core *c, struct request *req, const struct flow3 *l3, struct attach *a)
{
	int r;

	a->fd = fcntl(req->fd, F_DUPFD_CLOEXEC, 0);
	if (a->fd < 0)
		return -errno;
	r = enforce_attach_add(c->enf, l3);
	if (r < 0) {
		close(a->fd);
		a->fd = -1;
	}
	return r;
}

/* Socket marks (libipsec): a mark of its own on the socket, one no other protected socket has. */
static int attach_mark(struct core *c, struct request *req, struct attach *a)
{
	struct attachments *at = c->att;

	for (uint32_t tries = 0; tries < 4096 && !a->mark; tries++) {
		uint32_t id = ++at->next_mark & at->mark_ids;

		if (id && !by_mark(at, id))
			a->mark = id;
	}
	return a->mark ? enforce_sock_protect(c->enf, req->fd, a->mark) : -ENOSPC;
}

static int attach_new(struct core *c, struct request *req, const struct flow3 *l3, uint64_t cookie,
		      struct attach **ret, char *err, size_t el)
{
	bool marks = enforce_caps(c->enf)->marks_sockets;
	/* marked sockets' entries live as long as their sockets: as many as latches */
	unsigned max = marks ? c->cfg.max_latches : c->cfg.max_pending;
	struct attach *a;
	struct flow f = { .family = l3->family, .proto = l3->proto, .lport = l3->port };
	int r;

	f.laddr = l3->addr;
	if (!marks && by_flow(c->att, &f))
		return FAIL(-EADDRINUSE, "another attached socket has that local port");
	if (!control_is_admin(req) && count_uid(c->att, req->cred.uid) >= max)
		return FAIL(-ENOSPC, "uid %u has %u protected sockets, the limit",
			    (unsigned)req->cred.uid, max);
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->fd = -1;
	r = marks ? attach_mark(c, req, a) : attach_set(c, req, l3, a);
	if (r < 0) {
		free(a);
		return FAIL(r, "protecting the socket: %s",
			    enforce_last_error(c->enf)[0] ? enforce_last_error(c->enf)
							  : strerror(-r));
	}
	a->local = *l3;
	a->cookie = cookie;
	a->id = c->att->next_id++;
	a->next = c->att->list;
	c->att->list = a;
	*ret = a;
	return 0;
}

/* The socket's entry, made or found (a second token for a socket replaces the first). */
static int keep_socket(struct core *c, struct request *req, const struct latch_policy *pol,
		       const struct flow3 *l3, uint64_t cookie, struct attach **ret, char *err,
		       size_t el)
{
	struct attach *a = by_cookie(c->att, cookie);
	int r;

	if (a && a->owner.uid != req->cred.uid) /* its owner alone may give it another token */
		return FAIL(-EPERM, "the socket is attached by another user already");
	if (!a) {
		r = attach_new(c, req, l3, cookie, &a, err, el);
		if (r < 0)
			return r;
	}
	a->pol = *pol;
	a->owner = req->cred;
	a->admin = req->admin;
	a->client = req->client;
	*ret = a;
	return 0;
}

/*
 * CONNECT, LATCH: the socket of req keeps pol's protection for its whole life
 * (libipsec: its mark; kernel: nothing, its policies do it).
 */
static int protect(struct core *c, struct request *req, const struct latch_policy *pol, char *err,
		   size_t el)
{
	struct attach *a;
	struct flow3 l3;
	uint64_t cookie;
	int r;

	if (!c->att || !enforce_caps(c->enf)->marks_sockets)
		return 0; /* the socket's own policies cover all its flows */
	r = flow3_from_fd(req->fd, &l3);
	if (r < 0)
		return FAIL(r, "the socket passed is no TCP or UDP socket");
	r = sockdiag_cookie(req->fd, &cookie);
	if (r < 0)
		return FAIL(r, "SO_COOKIE: %s", strerror(-r));
	return keep_socket(c, req, pol, &l3, cookie, &a, err, el);
}

/* STATE LARVAL, the attachment's id and the socket's local end. */
static int reply(struct core *c, struct request *req, const struct attach *a)
{
	static const struct latch_ident none;
	/* A reply's temporary: it borrows its values, it is never in the database. */
	struct latch tmp = {
		.id = a->id,
		.state = IPC_STATE_LARVAL,
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
	r = core_req_policy(c, req, &pol, err, el);
	if (r == 0)
		r = attach_socket(req->fd, enforce_caps(c->enf)->attach_udp, &l3, &cookie, err, el);
	if (r < 0)
		return r;
	r = keep_socket(c, req, &pol, &l3, cookie, &a, err, el);
	if (r < 0)
		return r;
	log_info("attached %s (uid %u): its first packet will wait for its latch",
		 flow3_format(text, sizeof(text), &l3), (unsigned)req->cred.uid);
	return reply(c, req, a);
}

const struct core_feature core_attach_feature = {
	.name = "attach",
	.open = attach_open,
	.free = attach_free,
	.latch_changed = latch_changed,
	.protect = protect,
	.socket_gone = socket_gone,
	.client_gone = client_gone,
};
