/* SPDX-License-Identifier: MIT */
/*
 * The requests of liblatch and latchctl, typed and validated by the control
 * module, turned into latches. Addresses always come from the passed socket;
 * only CONNECT's remote end is the caller's word (it is where the caller is
 * about to connect its own socket).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "latchd/base/log.h"
#include "latchd/core/core-int.h"
#include "latchd/dataplane/sockdiag.h"
#include "shared/fail.h"
#include "shared/text.h"

/* ---------------------------------------------------------------- pending */

/* Timed out: because charon was unreachable, or because no SA came up (issue 17). */
static int pending_timeout(struct ev_source *s, uint64_t usec, void *u)
{
	struct pending *p = u;
	const char *why = charon_error(p->core->charon);
	char msg[256];

	if (!charon_is_up(p->core->charon))
		snprintf(msg, sizeof(msg), "charon is unreachable (%s): no SA could be asked for",
			 why ? why : "its events are not registered yet");
	else
		snprintf(msg, sizeof(msg), "%s",
			 p->latch && p->latch->listener
				 ? "charon did not load the responder connection in time"
				 : "charon is reachable, but no SA with an acceptable peer came up "
				   "in time");
	core_reply_pending(p->core, p, -ETIMEDOUT, msg);
	return 0;
}

/* The client went away before its answer: the latch cannot be handed to anyone. */
static void pending_cancel(struct request *req)
{
	struct pending *p = req->data;

	if (!p)
		return;
	p->req = NULL;
	core_reply_pending(p->core, p, -ECANCELED, "the client went away");
}

struct pending *core_pending_new(struct core *c, struct latch *l, struct request *req, int sock)
{
	struct pending *p = calloc(1, sizeof(*p));
	bool keep;

	if (!p)
		return NULL;
	/*
	 * A plane that holds the flow by its socket sets the socket's policies
	 * when its SA is up: keep the socket till then.
	 */
	keep = sock >= 0 && enforce_caps(c->enf)->needs_socket;
	p->sock = keep ? fcntl(sock, F_DUPFD_CLOEXEC, 0) : -1;
	if ((keep && p->sock < 0) || (req && control_request_hold(req) < 0) ||
	    ev_add_time(c->loop, &p->timer, 0, pending_timeout, p) < 0) {
		if (p->sock >= 0)
			close(p->sock);
		free(p);
		return NULL;
	}
	ev_time_set_in(p->timer, (uint64_t)(c->cfg.initiate_timeout + 1) * 1000000u);
	p->core = c;
	p->latch = l;
	p->req = req;
	if (req) {
		req->data = p;
		req->cancel = pending_cancel;
	}
	p->next = c->pending;
	c->pending = p;
	return p;
}

void core_pending_free(struct core *c, struct pending *p)
{
	struct request *req = p->req;

	for (struct pending **pp = &c->pending; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	p->req = NULL;
	if (req) {
		req->data = NULL;
		req->cancel = NULL;
		control_reply_error(req, -ECANCELED, "latchd is stopping");
	}
	ev_source_free(p->timer);
	core_conn_put(c, p->conn);
	if (p->sock >= 0)
		close(p->sock);
	free(p);
}

void core_reply_pending(struct core *c, struct pending *p, int err, const char *why)
{
	struct latch *l = p->latch;
	struct request *req = p->req;
	bool reset = p->connected;

	p->req = NULL;
	p->latch = NULL;
	if (!err && l) {
		l->core = p->conn; /* the latch keeps its connection in use */
		p->conn = NULL;
		if (l->listener && c->persist)
			persist_put(c->persist, l);
	}
	if (err && (l || req))
		core_metrics_refused(c, req, l, err, why);
	if (req) {
		req->data = NULL;
		req->cancel = NULL;
		if (err) {
			control_reply_error(req, err, "%s", why);
		} else {
			core_reply_latch(c, req, l);
		}
	}
	core_pending_free(c, p);
	/* not "released by owner" (issue 17): core_metrics_refused logged why */
	if (err && l)
		core_close(c, l, IPC_REASON_NONE, reset);
}

/* ---------------------------------------------------------------- resolving */

struct verdict {
	struct core *core;
	struct latch *latch;
	const struct sa_ike *ike;
	const struct sa_child *ok; /* an acceptable carrier */
	bool conflict, waiting;
	char why[256];
};

static bool judge_carrier(void *u, const struct sa_ike *ike, const struct sa_child *ch)
{
	struct verdict *v = u;
	char why[256];
	int r = core_judge(v->core, v->latch, ike, ch, why, sizeof(why));

	if (r == -EAGAIN) {
		v->waiting = true;
	} else if (r < 0) {
		v->conflict = true;
		snprintf(v->why, sizeof(v->why), "%s", why);
	} else if (!judge_exact_carrier(v->latch, ch)) {
		/* congruent, but shared: an exact latch waits for its own SA (R19) */
	} else if (!v->ok) {
		v->ok = ch;
		v->ike = ike;
	}
	return false; /* every covering SA is judged: one conflict is enough to refuse */
}

static void establish(struct core *c, struct pending *p, const struct sa_ike *ike,
		      const struct sa_child *ch)
{
	struct latch *l = p->latch;
	int r;

	core_bind(c, l, ike, ch);
	/* kernel data plane: from now on only this child (its reqid) carries the socket's flow */
	r = p->sock >= 0 ? core_sock_hold(c, l, p->sock, ike, ch) : 0;
	if (r == 0)
		r = enforce_flow_arm(c->enf, &l->flow);
	if (r < 0) {
		core_reply_pending(c, p, r, enforce_last_error(c->enf));
		return;
	}
	latchdb_set_state(c->db, l, IPC_STATE_ESTABLISHED,
			  p->responder ? IPC_REASON_NEW_CONNECTION : IPC_REASON_NONE,
			  ev_now(c->loop));
	core_reply_pending(c, p, 0, NULL);
}

/* No CA of latchd's matches the token's: name both (issue 17), the CAs by subject. */
static void no_anchor(struct core *c, struct pending *p)
{
	char msg[IPC_MESSAGE_MAX + 1];
	const char *want = p->latch->pol->peer_ca;
	size_t at;
	int n;

	n = snprintf(msg, sizeof(msg), "no trust anchor to pin for that peer: %s%s%s, and latchd ",
		     want[0] ? "the token names CA '" : "the token names no CA", want,
		     want[0] ? "'" : "");
	at = n < 0 ? 0 : (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1;
	if (!c->n_cas)
		snprintf(msg + at, sizeof(msg) - at, "has no CA (no ca line in latchd.conf)");
	for (unsigned i = 0; i < c->n_cas && at < sizeof(msg) - 1; i++) {
		n = snprintf(msg + at, sizeof(msg) - at, "%s'%s'", i ? ", " : "has only the CAs ",
			     c->cas[i].info.subject);
		at += n < 0 ? 0 : (size_t)n;
	}
	core_reply_pending(c, p, -EACCES, msg);
}

/* Still no SA for an initiator: make sure charon is asked for one. */
static void need_sa(struct core *c, struct pending *p)
{
	int r = 0;

	if (!p->conn)
		r = core_conn_initiator(c, p->latch, &p->conn);
	if (r == 0 && p->conn->loaded)
		r = core_initiate(c, p);
	if (r == -ENOENT)
		no_anchor(c, p);
	else if (r < 0)
		core_reply_pending(c, p, r, "charon could not be asked for an SA");
}

static void resolve_one(struct core *c, struct pending *p)
{
	struct verdict v = { .core = c, .latch = p->latch };

	if (p->latch->listener) {
		if (p->conn && p->conn->loaded)
			core_reply_pending(c, p, 0, NULL);
		return;
	}
	sacache_covering(c->sa, &p->latch->flow, judge_carrier, &v);
	if (v.conflict) /* R29: never latch while a conflicting SA exists */
		core_reply_pending(c, p, -EACCES, v.why);
	else if (v.ok)
		establish(c, p, v.ike, v.ok);
	else if (v.waiting)
		return;
	else if (p->responder)
		return; /* it came through the data plane: its SA's up event is on its way */
	else if (!p->initiated)
		need_sa(c, p);
}

void core_resolve_pending(struct core *c)
{
	struct pending *p, *next;

	/* Answering removes entries; the next pointer is taken first. */
	for (p = c->pending; p; p = next) {
		next = p->next;
		if (p->latch)
			resolve_one(c, p);
	}
}

/* ---------------------------------------------------------------- requests */

/*
 * The owner's program name, cleaned (shared/text.h): its owner chose every
 * byte of it (prctl, or the name it was run by), newlines and escapes too.
 */
static void owner_comm(struct latch *l, pid_t pid)
{
	char path[64], comm[64]; /* 15 bytes and the kernel's newline, with room to spare */
	ssize_t n;
	int cfd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	cfd = open(path, O_RDONLY | O_CLOEXEC);
	if (cfd < 0)
		return;
	n = read(cfd, comm, sizeof(comm));
	close(cfd);
	/* The kernel ends the name with a newline of its own; the name may hold more. */
	if (n > 0 && comm[n - 1] == '\n')
		n--;
	text_clean(l->comm, sizeof(l->comm), comm, n > 0 ? (size_t)n : 0);
	log_debug("latch %llu: owner pid %d uid %u, program '%s'", (unsigned long long)l->id,
		  (int)pid, (unsigned)l->owner.uid, l->comm);
}

static void owner_from(struct core *c, struct latch *l, const struct request *req, int fd)
{
	uint64_t cookie;

	latchdb_set_owner(c->db, l, &req->cred);
	l->client = req->client;
	if (fd >= 0 && sockdiag_cookie(fd, &cookie) == 0)
		latchdb_set_cookie(c->db, l, cookie);
	owner_comm(l, req->cred.pid);
}

static int check_quota(struct core *c, const struct request *req, char *err, size_t el)
{
	unsigned n;

	if (control_is_admin(req))
		return 0;
	n = latchdb_count_uid(c->db, req->cred.uid);
	if (n >= c->cfg.max_latches)
		return FAIL(-ENOSPC, "uid %u has %u latches, the limit", (unsigned)req->cred.uid,
			    n);
	return 0;
}

int core_check_policy_rights(struct core *c, const struct request *req,
			     const struct latch_policy *pol, char *err, size_t el)
{
	/* Less than the system's protection is a bypass: only for administrators. */
	if (pol->allow_unlatched && !control_is_admin(req))
		return FAIL(-EPERM, "allowing unlatched connections needs root or the admin group");
	return 0;
}

static int tuple_remote(const struct wire_attrs *a, struct flow *f, char *err, size_t el)
{
	struct wire_attrs t;
	const uint8_t *addr;
	size_t alen;
	uint8_t fam;

	if (wire_get_nested(a, IPC_A_TUPLE, &t) < 0 ||
	    wire_get_u8(&t, IPC_A_TUPLE_FAMILY, &fam) < 0)
		return FAIL(-EINVAL, "CONNECT: TUPLE with FAMILY needed");
	if (wire_get_bytes(&t, IPC_A_TUPLE_REMOTE_ADDR, &addr, &alen) < 0 ||
	    wire_get_u16(&t, IPC_A_TUPLE_REMOTE_PORT, &f->rport) < 0)
		return FAIL(-EDESTADDRREQ, "CONNECT: TUPLE needs REMOTE_ADDR and REMOTE_PORT");
	if ((fam == IPC_FAMILY_INET && alen != 4) || (fam == IPC_FAMILY_INET6 && alen != 16))
		return FAIL(-EINVAL, "CONNECT: REMOTE_ADDR of %zu bytes for family %u", alen, fam);
	if (f->rport == 0)
		return FAIL(-EINVAL, "CONNECT: REMOTE_PORT 0");
	f->family = fam == IPC_FAMILY_INET6 ? AF_INET6 : AF_INET;
	memset(&f->raddr, 0, sizeof(f->raddr));
	memcpy(f->raddr.b, addr, alen);
	return 0;
}

/*
 * The source address the kernel will use toward the remote end, for a socket
 * bound to the wildcard address: what a connect(2) of a datagram socket picks.
 */
static int route_source(struct flow *f)
{
	struct sockaddr_storage ss = { .ss_family = f->family };
	socklen_t sl =
		f->family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int fd, r = 0;

	if (f->family == AF_INET6) {
		memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr, f->raddr.b, 16);
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(f->rport);
	} else {
		memcpy(&((struct sockaddr_in *)&ss)->sin_addr, f->raddr.b, 4);
		((struct sockaddr_in *)&ss)->sin_port = htons(f->rport);
	}
	fd = socket(f->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		r = -errno;
	else if (f->family == AF_INET6)
		memcpy(f->laddr.b, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	else
		memcpy(f->laddr.b, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	close(fd);
	return r;
}

static int route_source_if_any(struct flow *f)
{
	static const union flow_addr any;

	return memcmp(&f->laddr, &any, sizeof(any)) ? 0 : route_source(f);
}

/* CONNECT's flow: the local end from the bound socket, the remote from the request. */
static int connect_flow(int fd, const struct wire_attrs *a, struct flow *ret, char *err, size_t el)
{
	struct flow f = { 0 };
	struct flow3 l3;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int r;

	/* its kind first: a connected UNIX or netlink socket is no TCP or UDP one */
	r = flow3_from_fd(fd, &l3);
	if (r < 0)
		return FAIL(r, "the socket passed is no bound TCP or UDP socket");
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
		return FAIL(-EISCONN, "the socket is connected already: latch it with LATCH");
	r = tuple_remote(a, &f, err, el);
	if (r < 0)
		return r;
	if (l3.port == 0 || (l3.family != f.family && l3.family != AF_UNSPEC))
		return FAIL(-EINVAL, "bind the socket to a local port of the remote's family first "
				     "(latch_connect does)");
	f.proto = l3.proto;
	f.laddr = l3.addr;
	f.lport = l3.port;
	r = route_source_if_any(&f);
	if (r < 0)
		return FAIL(r, "no route to the remote end");
	*ret = f;
	return 0;
}

/*
 * A flow latched already: by this very socket (-EEXIST), or by one the kernel
 * has destroyed whose destroy event latchd has not read yet (a port reused at
 * once): that latch is over, end it (0).
 */
static int stale_latch_gone(struct core *c, const struct request *req, const struct flow *f)
{
	struct latch *old = latchdb_by_flow(c->db, f);
	uint64_t cookie = 0;

	if (!old)
		return 0;
	if (req->fd >= 0)
		sockdiag_cookie(req->fd, &cookie);
	if (!old->cookie || old->cookie == cookie || sockdiag_exists(f, old->cookie) != 0)
		return -EEXIST;
	core_close(c, old, IPC_REASON_OWNER, false);
	return 0;
}

int core_new_flow_latch(struct core *c, struct request *req, const struct flow *f,
			const struct latch_policy *pol, struct latch **ret, char *err, size_t el)
{
	char text[FLOW_FMT_MAX];
	struct latch *l;
	int r;

	r = stale_latch_gone(c, req, f);
	if (r < 0)
		return FAIL(r, "%s is latched already", flow_format(text, sizeof(text), f));
	r = check_quota(c, req, err, el);
	if (r < 0)
		return r;
	l = latchdb_add(c->db, f, ev_now(c->loop));
	if (!l)
		return -ENOMEM;
	if (latchdb_set_policy(c->db, l, pol) < 0) {
		latchdb_remove(c->db, l);
		return -ENOMEM;
	}
	owner_from(c, l, req, req->fd);
	/* Enforcement before anything else: from here nothing of the flow leaves unarmed. */
	core_linger_forget(c, f);
	r = enforce_flow_add(c->enf, f);
	if (r == 0 && req->fd >= 0) /* kernel data plane: the socket's own policy blocks it */
		r = enforce_flow_sock(c->enf, req->fd, f, NULL);
	if (r < 0) {
		snprintf(err, el, "enforcement: %s", enforce_last_error(c->enf));
		latchdb_remove(c->db, l);
		return r;
	}
	*ret = l;
	return 0;
}

static int start_pending(struct core *c, struct request *req, struct latch *l, bool responder,
			 bool connected, struct pending **ret, char *err, size_t el)
{
	struct pending *p = core_pending_new(c, l, req, req->fd);

	if (!p) {
		core_close(c, l, IPC_REASON_OWNER, false);
		return FAIL(-EAGAIN, "too many requests of this connection wait for charon "
				     "(max_pending_per_uid)");
	}
	p->responder = responder;
	p->connected = connected;
	*ret = p;
	return 0;
}

static int start_resolving(struct core *c, struct request *req, struct latch *l, bool responder,
			   bool connected, char *err, size_t el)
{
	struct pending *p;
	int r = start_pending(c, req, l, responder, connected, &p, err, el);

	if (r == 0)
		resolve_one(c, p);
	return r;
}

static int req_connect(struct core *c, struct request *req, char *err, size_t el)
{
	struct latch_policy pol;
	struct latch *l;
	struct flow f;
	int r;

	r = core_get_policy(&req->msg.attrs, &pol, err, el);
	if (r == 0)
		r = core_check_policy_rights(c, req, &pol, err, el);
	if (r == 0)
		r = connect_flow(req->fd, &req->msg.attrs, &f, err, el);
	if (r == 0)
		r = core_attach_protect(c, req, &pol, err, el);
	if (r == 0)
		r = core_new_flow_latch(c, req, &f, &pol, &l, err, el);
	if (r < 0)
		return r;
	return start_resolving(c, req, l, false, false, err, el);
}

static int req_latch(struct core *c, struct request *req, char *err, size_t el)
{
	struct latch_policy pol;
	struct latch *l;
	struct flow f;
	int r;

	r = core_get_policy(&req->msg.attrs, &pol, err, el);
	if (r == 0)
		r = core_check_policy_rights(c, req, &pol, err, el);
	if (r < 0)
		return r;
	r = flow_from_fd(req->fd, &f);
	if (r < 0)
		return FAIL(r, "the socket passed is no connected TCP or UDP socket");
	r = core_attach_protect(c, req, &pol, err, el);
	if (r == 0)
		r = core_new_flow_latch(c, req, &f, &pol, &l, err, el);
	if (r < 0)
		return r;
	return start_resolving(c, req, l, false, true, err, el);
}

static int req_accept(struct core *c, struct request *req, char *err, size_t el)
{
	char text[FLOW_FMT_MAX];
	struct latch *lst, *l;
	struct flow f;
	int r;

	r = flow_from_fd(req->fd, &f);
	if (r < 0)
		return FAIL(r, "the socket passed is no connected TCP or UDP socket");
	lst = latchdb_listener_for(c->db, &f);
	if (!lst)
		return FAIL(-ENOENT, "no latched listener covers %s",
			    flow_format(text, sizeof(text), &f));
	if (lst->owner.uid != req->cred.uid && !control_is_admin(req))
		return FAIL(-EPERM, "the listener belongs to uid %u", (unsigned)lst->owner.uid);
	r = core_new_flow_latch(c, req, &f, lst->pol, &l, err, el);
	if (r < 0)
		return r;
	return start_resolving(c, req, l, true, true, err, el);
}

static int req_listen(struct core *c, struct request *req, char *err, size_t el)
{
	struct latch_policy pol;
	struct pending *p;
	struct latch *l;
	struct flow3 l3;
	int r;

	r = core_get_policy(&req->msg.attrs, &pol, err, el);
	if (r == 0)
		r = core_check_policy_rights(c, req, &pol, err, el);
	/* R33 is kept by refusal; admitting unlatched connections is not served (yet). */
	if (r == 0 && pol.allow_unlatched)
		r = FAIL(-EOPNOTSUPP,
			 "a listener that admits unlatched connections is not served: "
			 "connections without an admitted peer's SA are refused (R33)");
	if (r == 0)
		r = check_quota(c, req, err, el);
	if (r < 0)
		return r;
	r = flow3_from_fd(req->fd, &l3);
	if (r < 0 || l3.port == 0)
		return FAIL(r < 0 ? r : -EINVAL, "the socket passed is no bound TCP or UDP socket");
	if (latchdb_listener(c->db, &l3))
		return FAIL(-EADDRINUSE, "that address and port have a latched listener already");
	l = latchdb_add_listener(c->db, &l3, ev_now(c->loop));
	if (!l)
		return -ENOMEM;
	if (latchdb_set_policy(c->db, l, &pol) < 0) {
		latchdb_remove(c->db, l);
		return -ENOMEM;
	}
	owner_from(c, l, req, req->fd); /* its cookie: the listener ends when its socket does */
	r = enforce_listen_add(c->enf, &l3);
	if (r == 0) /* kernel data plane: only what ESP carried reaches the socket */
		r = enforce_listen_sock(c->enf, req->fd, &l3);
	if (r < 0) {
		snprintf(err, el, "enforcement: %s", enforce_last_error(c->enf));
		latchdb_remove(c->db, l);
		return r;
	}
	r = start_pending(c, req, l, true, false, &p, err, el);
	if (r < 0)
		return r;
	r = core_btns_responder(c, l, &p->conn);
	if (r < 0)
		core_reply_pending(
			c, p, r,
			r == -ENOENT ? "no trust anchor to pin for the listener's peers"
				     : "charon could not be asked for a responder connection");
	else
		resolve_one(c, p);
	return 0;
}

/*
 * Is l the latch of this very socket (SO_COOKIE)? A latch is found by its
 * ends, but another socket with the same ends (UDP sockets share ports with
 * SO_REUSEADDR, whatever their owners) names nothing.
 */
static bool same_socket(int fd, const struct latch *l)
{
	uint64_t cookie;

	return l && sockdiag_cookie(fd, &cookie) == 0 && l->cookie == cookie;
}

static int check_owner(struct core *c, const struct request *req, const struct latch *l, char *err,
		       size_t el)
{
	if (l->owner.uid != req->cred.uid && !control_is_admin(req))
		return FAIL(-EPERM, "latch %llu belongs to uid %u", (unsigned long long)l->id,
			    (unsigned)l->owner.uid);
	return 0;
}

/* QUERY, RELEASE, WATCH: the latch named by the passed socket or by LATCH_ID. */
static int find_latch(struct core *c, struct request *req, struct latch **ret, char *err, size_t el)
{
	struct latch *l = NULL;
	struct flow3 l3;
	struct flow f;
	uint64_t id;
	int r;

	if (req->fd >= 0) {
		if (flow_from_fd(req->fd, &f) == 0)
			l = latchdb_by_flow(c->db, &f);
		else if ((r = flow3_from_fd(req->fd, &l3)) == 0)
			l = latchdb_listener(c->db, &l3);
		else
			return FAIL(r, "the socket passed is no TCP or UDP socket");
		if (!same_socket(req->fd, l))
			l = NULL;
	} else if (wire_get_u64(&req->msg.attrs, IPC_A_LATCH_ID, &id) == 0) {
		l = latchdb_by_id(c->db, id);
	} else {
		return FAIL(-EINVAL, "name the latch: pass its socket or a LATCH_ID");
	}
	r = l ? check_owner(c, req, l, err, el) : 0;
	if (r < 0)
		return r;
	if (!l || l->state == IPC_STATE_PENDING)
		return FAIL(-ENOENT, "no such latch");
	*ret = l;
	return 0;
}

/* A datagram peer's SA and identity, judged by the socket's latch policy. */
struct peer_view {
	struct core *core;
	struct latch view; /* the socket's latch, seen from the datagram's 5-tuple */
	bool found;
};

static bool view_carrier(void *u, const struct sa_ike *ike, const struct sa_child *ch)
{
	struct peer_view *pv = u;
	char why[256];

	if (core_judge(pv->core, &pv->view, ike, ch, why, sizeof(why)) < 0)
		return false;
	core_bind(pv->core, &pv->view, ike, ch);
	pv->found = true;
	return true;
}

/*
 * QUERY with a TUPLE: who is behind the datagrams from that remote end on
 * this (unconnected) socket. The answer is the socket's latch (its datagram
 * latch to that end, or its listener) with the identity of the SA that
 * carries the datagrams; the database does not change.
 */
static int req_query_peer(struct core *c, struct request *req, char *err, size_t el)
{
	struct peer_view pv = { .core = c };
	struct flow3 l3;
	struct latch *l;
	struct flow f = { 0 };
	int r;

	if (req->fd < 0 || flow3_from_fd(req->fd, &l3) < 0)
		return FAIL(-EBADF, "QUERY with a TUPLE needs the (bound) socket it concerns");
	r = tuple_remote(&req->msg.attrs, &f, err, el);
	if (r < 0)
		return r;
	f.proto = l3.proto;
	f.laddr = l3.addr;
	f.lport = l3.port;
	r = route_source_if_any(&f);
	if (r < 0)
		return FAIL(r, "no route to that remote end");
	l = latchdb_by_flow(c->db, &f);
	if (!same_socket(req->fd, l))
		l = latchdb_listener_for(c->db, &f);
	if (!same_socket(req->fd, l) || l->state == IPC_STATE_PENDING)
		return FAIL(-ENOENT, "the socket has no latch for that remote end");
	r = check_owner(c, req, l, err, el);
	if (r < 0)
		return r;
	latchdb_view(c->db, l, &pv.view);
	pv.view.flow = f;
	pv.view.state = IPC_STATE_PENDING; /* judged against the policy, not a latched peer */
	sacache_covering(c->sa, &f, view_carrier, &pv);
	if (pv.found) {
		pv.view.state = l->state;
		core_put_latch(c, control_reply_begin(req, 0), &pv.view);
	}
	latchdb_view_done(c->db, &pv.view);
	if (!pv.found)
		return FAIL(-ENOENT, "no SA of an admitted peer carries datagrams from there");
	return control_reply_send(req);
}

static int req_query(struct core *c, struct request *req, char *err, size_t el)
{
	struct latch *l;
	int r;

	if (wire_has(&req->msg.attrs, IPC_A_TUPLE))
		return req_query_peer(c, req, err, el);
	r = find_latch(c, req, &l, err, el);

	if (r < 0)
		return r;
	return core_reply_latch(c, req, l);
}

static int req_release(struct core *c, struct request *req, char *err, size_t el)
{
	struct latch *l;
	int r = find_latch(c, req, &l, err, el);

	if (r < 0)
		return r;
	/* A latch lives as long as its connection: releasing one ends it, never leaves it clear. */
	core_close(c, l, req->type == IPC_MSG_CLOSE ? IPC_REASON_ADMIN : IPC_REASON_OWNER,
		   !l->listener);
	control_reply_begin(req, 0);
	return control_reply_send(req);
}

static int req_close(struct core *c, struct request *req, char *err, size_t el)
{
	if (req->fd >= 0 || !wire_has(&req->msg.attrs, IPC_A_LATCH_ID))
		return FAIL(-EINVAL, "CLOSE names a latch by LATCH_ID");
	return req_release(c, req, err, el);
}

static int req_watch(struct core *c, struct request *req, char *err, size_t el)
{
	uint64_t id = 0;
	struct latch *l;
	int r;

	if (wire_get_u64(&req->msg.attrs, IPC_A_LATCH_ID, &id) == 0) {
		r = find_latch(c, req, &l, err, el);
		if (r < 0)
			return r;
	}
	if (req->client)
		control_client_watch(req->client, req->type == IPC_MSG_WATCH, id);
	control_reply_begin(req, 0);
	return control_reply_send(req);
}

/*
 * Every passed descriptor enters here, before any request reads it. Inside a
 * network namespace of their own (unshare -rn) anyone makes sockets with any
 * addresses: such a socket names, makes and ends no latch of latchd's own.
 */
static int check_socket(const struct core *c, int fd, char *err, size_t el)
{
	struct flow3 l3;
	uint64_t ns;
	int r = sockdiag_netns(fd, &ns);

	if (r == -ENOTSOCK)
		return FAIL(r, "the descriptor passed is no socket");
	if (r < 0)
		return FAIL(r, "SO_NETNS_COOKIE of the socket passed: %s", strerror(-r));
	if (ns != c->netns)
		return FAIL(-EXDEV, "the socket passed belongs to another network namespace: "
				    "latchd serves only sockets of its own");
	/* its kind, before any request reads its token or counts it (docs/ipc.md) */
	r = flow3_from_fd(fd, &l3);
	if (r == -EAFNOSUPPORT || r == -EPROTONOSUPPORT)
		return FAIL(r, "the socket passed is no TCP or UDP socket");
	return 0;
}

static int handle(void *core, struct request *req, char *err, size_t el)
{
	struct core *c = core;
	int r = req->fd >= 0 ? check_socket(c, req->fd, err, el) : 0;

	if (r < 0)
		return r;
	switch (req->type) {
	case IPC_MSG_CONNECT:
		return req_connect(c, req, err, el);
	case IPC_MSG_LATCH:
		return req_latch(c, req, err, el);
	case IPC_MSG_LISTEN:
		return req_listen(c, req, err, el);
	case IPC_MSG_ACCEPT:
		return req_accept(c, req, err, el);
	case IPC_MSG_ATTACH:
		return core_req_attach(c, req, err, el);
	case IPC_MSG_QUERY:
		return req_query(c, req, err, el);
	case IPC_MSG_RELEASE:
		return req_release(c, req, err, el);
	case IPC_MSG_CLOSE:
		return req_close(c, req, err, el);
	case IPC_MSG_WATCH:
	case IPC_MSG_UNWATCH:
		return req_watch(c, req, err, el);
	case IPC_MSG_STATUS:
		return core_req_status(c, req, err, el);
	case IPC_MSG_METRICS:
		return core_req_metrics(c, req, err, el);
	case IPC_MSG_LIST:
		return core_req_list(c, req, err, el);
	case IPC_MSG_PIN_LIST:
	case IPC_MSG_PIN_DELETE:
		return core_req_pins(c, req, err, el);
	case IPC_MSG_PEER_LIST:
		return core_req_peer_list(c, req, err, el);
	case IPC_MSG_BYE:
		control_reply_begin(req, 0);
		return control_reply_send(req);
	default:
		return FAIL(-EOPNOTSUPP, "%s is not served by this latchd yet",
			    wire_msg_name(req->type));
	}
}

/* A request that would have made a latch and was answered with an error was refused. */
int core_handle(void *core, struct request *req, char *err, size_t el)
{
	int r = handle(core, req, err, el);

	if (r < 0 && (req->type == IPC_MSG_CONNECT || req->type == IPC_MSG_LATCH ||
		      req->type == IPC_MSG_LISTEN || req->type == IPC_MSG_ACCEPT ||
		      req->type == IPC_MSG_ATTACH))
		core_metrics_refused(core, req, NULL, r, err);
	return r;
}

static bool forget_client(void *u, struct latch *l)
{
	if (l->client == u)
		l->client = NULL;
	return false;
}

void core_client_gone(void *core, struct client *cl)
{
	struct core *c = core;

	latchdb_each(c->db, forget_client, cl);
	core_attach_client_gone(c, cl);
}
