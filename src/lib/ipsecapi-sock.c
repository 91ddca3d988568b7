/* SPDX-License-Identifier: MIT */
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/draft.h"

/*
 * The one global state of liblatch (see ipsecapi.h): the draft has no
 * context, so its calls share hidden ctxs — a pool of at most POOL_MAX
 * connections to latchd, made as calls need them: a call takes an idle one
 * (or makes one) and gives it back, so a connect that waits seconds for IKE
 * holds one ctx, not every thread — and a table of the listeners latched
 * through them (to recognise their accepted sockets; it grows as needed).
 * g_lock guards the pool and the table, never a request to latchd.
 */
#define POOL_MAX 8

struct listener {
	uint64_t cookie; /* SO_COOKIE: tells a reused descriptor number from ours */
	int fd, proto;
	uint16_t port;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_idle = PTHREAD_COND_INITIALIZER;
static latch_ctx *g_pool[POOL_MAX]; /* the idle ctxs */
static unsigned g_n_idle, g_n_ctx;  /* idle; made and not freed */
static pid_t g_pid;
static struct listener *g_listeners;
static unsigned g_n_listeners, g_cap_listeners;

/*
 * A child after fork() must not talk over its parent's connections
 * (replies would go to whoever reads first): it drops its copies and makes
 * its own. It keeps the listener table: the listeners are its sockets too,
 * and a pre-fork server's children accept on them. With g_lock held.
 */
static void pool_after_fork(void)
{
	if (g_pid == getpid())
		return;
	while (g_n_idle)
		latch_ctx_free(g_pool[--g_n_idle]);
	g_n_ctx = 0;
	g_pid = getpid();
}

/* A ctx for this call, idle or new: give it back with ctx_put(). */
static int ctx_take(latch_ctx **ret)
{
	latch_ctx *ctx = NULL;
	int r;

	pthread_mutex_lock(&g_lock);
	pool_after_fork();
	while (!g_n_idle && g_n_ctx == POOL_MAX)
		pthread_cond_wait(&g_idle, &g_lock);
	if (g_n_idle)
		ctx = g_pool[--g_n_idle];
	else
		g_n_ctx++;
	pthread_mutex_unlock(&g_lock);
	/* Nobody listens to a pooled ctx's events: drain them, and notice a dead latchd. */
	if (ctx && latch_ctx_process(ctx) == -ECONNRESET) {
		latch_ctx_free(ctx);
		ctx = NULL;
	}
	if (!ctx && (r = latch_ctx_new(&ctx, NULL, 0)) < 0) {
		if (r == -ESRCH)
			draft_explain("latchd is not running (nothing answers on its socket)");
		pthread_mutex_lock(&g_lock);
		g_n_ctx--;
		pthread_cond_signal(&g_idle);
		pthread_mutex_unlock(&g_lock);
		return r;
	}
	ctx->error[0] = 0; /* what explains this call's failure, not an earlier one's */
	*ret = ctx;
	return 0;
}

/* Give ctx back to the pool; one latchd closed is freed instead. */
static void ctx_put(latch_ctx *ctx, int r)
{
	pthread_mutex_lock(&g_lock);
	if (r == -ECONNRESET || g_pid != getpid()) {
		latch_ctx_free(ctx);
		if (g_pid == getpid())
			g_n_ctx--;
	} else {
		g_pool[g_n_idle++] = ctx;
	}
	pthread_cond_signal(&g_idle);
	pthread_mutex_unlock(&g_lock);
}

/* latchd's words for the failure just reported on ctx, if it gave any. */
static void explain_ctx(latch_ctx *ctx)
{
	const char *why = latch_ctx_last_error(ctx);

	if (*why)
		draft_explain("%s", why);
}

static int sock_u64(int fd, int opt, uint64_t *ret)
{
	socklen_t len = sizeof(*ret);

	return getsockopt(fd, SOL_SOCKET, opt, ret, &len) < 0 ? -errno : 0;
}

static int sock_int(int fd, int opt, int *ret)
{
	socklen_t len = sizeof(*ret);

	return getsockopt(fd, SOL_SOCKET, opt, ret, &len) < 0 ? -errno : 0;
}

static int local_port(int fd, uint16_t *ret)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (ss.ss_family == AF_INET)
		*ret = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else if (ss.ss_family == AF_INET6)
		*ret = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		return -EAFNOSUPPORT;
	return 0;
}

static bool is_socket(int fd)
{
	int type;

	return sock_int(fd, SO_TYPE, &type) == 0;
}

static bool is_connected(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	return getpeername(fd, (struct sockaddr *)&ss, &len) == 0;
}

/* Forget listeners whose descriptor is closed or now another socket. */
static void listeners_prune(void)
{
	uint64_t cookie;

	for (unsigned i = 0; i < g_n_listeners;) {
		if (sock_u64(g_listeners[i].fd, SO_COOKIE, &cookie) == 0 &&
		    cookie == g_listeners[i].cookie) {
			i++;
			continue;
		}
		g_listeners[i] = g_listeners[--g_n_listeners];
	}
}

static int listener_add(int fd)
{
	struct listener l = { .fd = fd }, *grown;
	unsigned cap;

	listeners_prune();
	if (sock_u64(fd, SO_COOKIE, &l.cookie) < 0 || sock_int(fd, SO_PROTOCOL, &l.proto) < 0 ||
	    local_port(fd, &l.port) < 0)
		return -ENOTSOCK;
	if (g_n_listeners == g_cap_listeners) {
		cap = g_cap_listeners ? 2 * g_cap_listeners : 16;
		grown = realloc(g_listeners, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		g_listeners = grown, g_cap_listeners = cap;
	}
	g_listeners[g_n_listeners++] = l;
	return 0;
}

static void listener_forget(int fd)
{
	pthread_mutex_lock(&g_lock);
	for (unsigned i = 0; i < g_n_listeners; i++) {
		if (g_listeners[i].fd == fd) {
			g_listeners[i] = g_listeners[--g_n_listeners];
			break;
		}
	}
	pthread_mutex_unlock(&g_lock);
}

/* Was fd accepted from a listener latched here (same protocol and local port)? */
static bool from_listener(int fd)
{
	uint16_t port;
	int proto;

	if (sock_int(fd, SO_PROTOCOL, &proto) < 0 || local_port(fd, &port) < 0)
		return false;
	listeners_prune();
	for (unsigned i = 0; i < g_n_listeners; i++) {
		if (g_listeners[i].proto == proto && g_listeners[i].port == port &&
		    g_listeners[i].fd != fd)
			return true;
	}
	return false;
}

/*
 * What set_socket_pToken asks of latchd, from the socket's state: a
 * listener (or a bound, unconnected datagram socket: a UDP server) gets
 * LISTEN; a connected socket LATCH; any other socket ATTACH, for the
 * connect(2) the application will make.
 */
static int apply(latch_ctx *ctx, int fd, const latch_token *tok)
{
	uint16_t port = 0;
	int listening = 0, type = 0, r;

	if (sock_int(fd, SO_ACCEPTCONN, &listening) < 0 || sock_int(fd, SO_TYPE, &type) < 0)
		return -ENOTSOCK;
	if (!listening && !is_connected(fd) && type == SOCK_DGRAM && local_port(fd, &port) == 0 &&
	    port)
		listening = 1;
	if (listening) {
		/* Room first: a listener whose accepted sockets would go unrecognised is refused.
		 */
		pthread_mutex_lock(&g_lock);
		r = listener_add(fd);
		pthread_mutex_unlock(&g_lock);
		if (r == 0 && (r = latch_listen(ctx, fd, tok, 0, NULL)) < 0)
			listener_forget(fd);
		return r;
	}
	if (is_connected(fd))
		return latch_socket_latch(ctx, fd, tok, 0, NULL);
	return latch_socket_attach(ctx, fd, tok, 0, NULL);
}

LATCH_EXPORT int ipsec_set_socket_pToken(int fd, const ipsec_pToken_t pToken)
{
	latch_token *tok;
	latch_ctx *ctx;
	int r;

	if (fd < 0 || !pToken || pToken->magic != PTOKEN_MAGIC)
		return draft_ret(-EINVAL);
	if (!is_socket(fd)) {
		draft_explain("descriptor %d is not a socket", fd);
		return draft_ret(-ENOTSOCK);
	}
	r = ptoken_to_native(pToken, &tok);
	if (r < 0)
		return draft_ret(r);
	r = ctx_take(&ctx);
	if (r == 0) {
		if ((r = apply(ctx, fd, tok)) < 0)
			explain_ctx(ctx);
		ctx_put(ctx, r);
	}
	latch_token_free(tok);
	return draft_ret(r);
}

/* The socket's latch; an accepted socket of one of our listeners is latched now. */
static int socket_info(int fd, latch_info **ret)
{
	latch_ctx *ctx;
	bool ours;
	int r;

	r = ctx_take(&ctx);
	if (r < 0)
		return r;
	r = latch_socket_query(ctx, fd, ret);
	if (r == -ENOENT && is_connected(fd)) {
		pthread_mutex_lock(&g_lock);
		ours = from_listener(fd);
		pthread_mutex_unlock(&g_lock);
		if (ours)
			r = socket_accepted(ctx, fd, ret);
	}
	if (r < 0)
		explain_ctx(ctx);
	ctx_put(ctx, r);
	return r;
}

LATCH_EXPORT int ipsec_get_socket_pToken(int fd, ipsec_pToken_t pToken)
{
	latch_info *info;
	int r;

	if (fd < 0 || !pToken || pToken->magic != PTOKEN_MAGIC)
		return draft_ret(-EINVAL);
	if (!is_socket(fd)) {
		draft_explain("descriptor %d is not a socket", fd);
		return draft_ret(-ENOTSOCK);
	}
	r = socket_info(fd, &info);
	if (r < 0)
		return draft_ret(r);
	r = ptoken_fill(pToken, info);
	latch_info_free(info);
	return draft_ret(r);
}

LATCH_EXPORT int ipsec_set_msg_pToken(struct msghdr *msg, const ipsec_pToken_t pToken)
{
	return draft_ret(!msg || !pToken ? -EINVAL : -EOPNOTSUPP);
}

LATCH_EXPORT int ipsec_get_msg_pToken(const struct msghdr *msg, ipsec_pToken_t pToken)
{
	return draft_ret(!msg || !pToken ? -EINVAL : -EOPNOTSUPP);
}

/* ---- channel bindings (draft-ietf-btns-channel-binding-api-00 §5) ---- */

LATCH_EXPORT int ipsec_set_cbinding(int fd)
{
	int type;

	return draft_ret(sock_int(fd, SO_TYPE, &type) < 0 ? -ENOTSOCK : 0);
}

LATCH_EXPORT int ipsec_get_cbinding_types(int fd, char *buf, socklen_t *len)
{
	static const char types[] = IP_SEC_CBINDING_ENDPOINT_SHA256_NAME;
	int type;

	if (!buf || !len)
		return draft_ret(-EINVAL);
	if (sock_int(fd, SO_TYPE, &type) < 0)
		return draft_ret(-ENOTSOCK);
	if (*len < sizeof(types)) {
		*len = sizeof(types);
		return draft_ret(-EOVERFLOW);
	}
	memcpy(buf, types, sizeof(types));
	*len = sizeof(types);
	return 0;
}

LATCH_EXPORT int ipsec_get_cbinding_data(int fd, void *buf, socklen_t *len)
{
	static const char want[] = IP_SEC_CBINDING_ENDPOINT_SHA256_NAME ":";
	uint8_t cb[LATCH_CB_EXPORT_LEN];
	latch_info *info;
	int r;

	if (!buf || !len)
		return draft_ret(-EINVAL);
	if (*len < sizeof(want) - 1 || memcmp(buf, want, sizeof(want) - 1))
		return draft_ret(-ENOENT); /* not a type this system provides */
	r = socket_info(fd, &info);
	if (r < 0)
		return draft_ret(r);
	r = info->remote
		    ? latch_ident_get_channel_binding(info->remote, LATCH_CB_EXPORT, cb, sizeof(cb))
		    : -ENODATA;
	latch_info_free(info);
	if (r < 0)
		return draft_ret(r);
	if (*len < sizeof(cb)) {
		*len = sizeof(cb);
		return draft_ret(-EOVERFLOW);
	}
	memcpy(buf, cb, sizeof(cb));
	*len = sizeof(cb);
	return 0;
}
