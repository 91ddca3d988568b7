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

int core_req_policy(struct core *c, const struct request *req, struct latch_policy *ret, char *err,
		    size_t el)
{
	int r = core_get_policy(&req->msg.attrs, ret, err, el);

	/* Less than the system's protection is a bypass: only for administrators. */
	if (r == 0 && ret->allow_unlatched && !control_is_admin(req))
		return FAIL(-EPERM, "allowing unlatched connections needs root or the admin group");
	return r;
}

/* Every feature's say on a socket given a token (attach: its protection for life). */
static int protect(struct core *c, struct request *req, const struct latch_policy *pol, char *err,
		   size_t el)
{
	int r = 0;

	for (const struct core_feature *const *f = core_features; *f && r == 0; f++) {
		if ((*f)->protect)
			r = (*f)->protect(c, req, pol, err, el);
	}
	return r;
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
	CORE_FEATURES_CALL(flow_taken, c, f);
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
	struct pending *p = NULL; /* set when start_pending succeeds (gcc cannot tell) */
	int r = start_pending(c, req, l, responder, connected, &p, err, el);

	if (r == 0)
		core_pending_resolve(c, p);
	return r;
}

int core_req_connect(struct core *c, struct request *req, char *err, size_t el)
{
	struct latch_policy pol;
	struct latch *l;
	struct flow f;
	int r;

	r = core_req_policy(c, req, &pol, err, el);
	if (r == 0)
		r = connect_flow(req->fd, &req->msg.attrs, &f, err, el);
	if (r == 0)
		r = protect(c, req, &pol, err, el);
	if (r == 0)
		r = core_new_flow_latch(c, req, &f, &pol, &l, err, el);
	if (r < 0)
		return r;
	return start_resolving(c, req, l, false, false, err, el);
}

int core_req_latch(struct core *c, struct request *req, char *err, size_t el)
{
	struct latch_policy pol;
	struct latch *l;
	struct flow f;
	int r;

	r = core_req_policy(c, req, &pol, err, el);
	if (r < 0)
		return r;
	r = flow_from_fd(req->fd, &f);
	if (r < 0)
		return FAIL(r, "the socket passed is no connected TCP or UDP socket");
	r = protect(c, req, &pol, err, el);
	if (r == 0)
		r = core_new_flow_latch(c, req, &f, &pol, &l, err, el);
	if (r < 0)
		return r;
	return start_resolving(c, req, l, false, true, err, el);
}

int core_req_accept(struct core *c, struct request *req, char *err, size_t el)
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

int core_req_listen(struct core *c, struct request *req, char *err, size_t el)
{
	struct latch_policy pol;
	struct pending *p = NULL; /* set when start_pending succeeds */
	struct latch *l;
	struct flow3 l3;
	int r;

	r = core_req_policy(c, req, &pol, err, el);
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
	r = core_conn_responder(c, l, &p->conn);
	if (r < 0)
		core_reply_pending(
			c, p, r,
			r == -ENOENT ? "no trust anchor to pin for the listener's peers"
				     : "charon could not be asked for a responder connection");
	else
		core_pending_resolve(c, p);
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
	if (!l || l->state == IPC_STATE_LARVAL)
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
	if (!same_socket(req->fd, l) || l->state == IPC_STATE_LARVAL)
		return FAIL(-ENOENT, "the socket has no latch for that remote end");
	r = check_owner(c, req, l, err, el);
	if (r < 0)
		return r;
	latchdb_view(c->db, l, &pv.view);
	pv.view.flow = f;
	pv.view.state = IPC_STATE_LARVAL; /* judged against the policy, not a latched peer */
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

int core_req_query(struct core *c, struct request *req, char *err, size_t el)
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

int core_req_release(struct core *c, struct request *req, char *err, size_t el)
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

int core_req_close(struct core *c, struct request *req, char *err, size_t el)
{
	if (!wire_has(&req->msg.attrs, IPC_A_LATCH_ID)) /* a socket: CORE_FD_NONE */
		return FAIL(-EINVAL, "CLOSE names a latch by LATCH_ID");
	return core_req_release(c, req, err, el);
}

int core_req_watch(struct core *c, struct request *req, char *err, size_t el)
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
