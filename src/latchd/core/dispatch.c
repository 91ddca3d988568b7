/* SPDX-License-Identifier: MIT */
/*
 * The core's two tables, and the one place that names its parts: which
 * handler serves each request, with the checks every request of a kind gets
 * before its handler runs, and which features hook into the core's life
 * cycle (core-int.h, struct core_feature). The rest of the core calls
 * handlers and features only through these tables.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "latchd/core/core-int.h"
#include "latchd/dataplane/sockdiag.h"
#include "shared/fail.h"

/* Features, in the order their hooks are called (freed in the reverse). */
const struct core_feature *const core_features[] = {
	&core_health_feature, /* core-admin.c: what STATUS says of charon */
	&core_btns_feature,   /* core-btns.c */
	&core_attach_feature, /* core-attach.c */
	&core_linger_feature, /* core-linger.c */
	&core_adopt_feature,  /* core-adopt.c */
	NULL,
};

static int req_bye(struct core *c, struct request *req, char *err, size_t el)
{
	control_reply_begin(req, 0);
	return control_reply_send(req);
}

/* One row per message type of shared/proto.h (test-core-dispatch checks it). */
const struct core_handler core_handlers[] = {
	{ IPC_MSG_HELLO, NULL, CORE_FD_NONE, NULL, false }, /* the control module's */
	{ IPC_MSG_BYE, req_bye, CORE_FD_NONE, NULL, false },
	{ IPC_MSG_CONNECT, core_req_connect, CORE_FD_REQUIRED, NULL, true },
	{ IPC_MSG_LISTEN, core_req_listen, CORE_FD_REQUIRED, NULL, true },
	{ IPC_MSG_ACCEPT, core_req_accept, CORE_FD_REQUIRED, NULL, true },
	{ IPC_MSG_LATCH, core_req_latch, CORE_FD_REQUIRED, NULL, true },
	{ IPC_MSG_QUERY, core_req_query, CORE_FD_OPTIONAL, NULL, false },
	{ IPC_MSG_RELEASE, core_req_release, CORE_FD_OPTIONAL, NULL, false },
	{ IPC_MSG_CLOSE, core_req_close, CORE_FD_NONE, NULL, false },
	{ IPC_MSG_ATTACH, core_req_attach, CORE_FD_REQUIRED, NULL, true },
	{ IPC_MSG_PEER_LIST, core_req_peer_list, CORE_FD_NONE, NULL, false },
	{ IPC_MSG_PIN_LIST, core_req_pins, CORE_FD_NONE, "leap-of-faith pins", false },
	{ IPC_MSG_PIN_DELETE, core_req_pins, CORE_FD_NONE, "leap-of-faith pins", false },
	{ IPC_MSG_STATUS, core_req_status, CORE_FD_NONE, NULL, false },
	{ IPC_MSG_LIST, core_req_list, CORE_FD_NONE, NULL, false },
	{ IPC_MSG_WATCH, core_req_watch, CORE_FD_NONE, NULL, false },
	{ IPC_MSG_UNWATCH, core_req_watch, CORE_FD_NONE, NULL, false },
	{ IPC_MSG_METRICS, core_req_metrics, CORE_FD_NONE, NULL, false },
	{ IPC_MSG_ALERT, NULL, CORE_FD_NONE, NULL, false }, /* an event: never a request */
};
const size_t core_n_handlers = sizeof(core_handlers) / sizeof(core_handlers[0]);

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

static const struct core_handler *handler_of(uint16_t type)
{
	for (size_t i = 0; i < core_n_handlers; i++) {
		if (core_handlers[i].type == type)
			return &core_handlers[i];
	}
	return NULL;
}

/* The checks of h's row, in the order core-int.h gives. */
static int check_row(struct core *c, const struct core_handler *h, struct request *req, char *err,
		     size_t el)
{
	const char *name = wire_msg_name(req->type);
	int r;

	if (h->fd == CORE_FD_REQUIRED && req->fd < 0)
		return FAIL(-EBADF, "%s needs the socket passed with SCM_RIGHTS", name);
	if (h->fd == CORE_FD_NONE && req->fd >= 0)
		return FAIL(-EBADF, "%s takes no socket", name);
	r = req->fd >= 0 ? check_socket(c, req->fd, err, el) : 0;
	if (r == 0 && h->admin_only && !control_is_admin(req))
		r = FAIL(-EPERM, "%s are for root or the admin group", h->admin_only);
	return r;
}

int core_handle(void *core, struct request *req, char *err, size_t el)
{
	const struct core_handler *h = handler_of(req->type);
	struct core *c = core;
	int r;

	if (!h || !h->handle)
		return FAIL(-EOPNOTSUPP, "%s is not served by this latchd yet",
			    wire_msg_name(req->type));
	r = check_row(c, h, req, err, el);
	if (r == 0)
		r = h->handle(c, req, err, el);
	if (r < 0 && h->makes_latch) /* a refusal: counted (latchctl metrics) */
		core_metrics_refused(c, req, NULL, r, err);
	return r;
}
