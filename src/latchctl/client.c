/* SPDX-License-Identifier: MIT */
#include "latchctl/client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "shared/fdpass.h"
#include "shared/text.h"

static int fail(struct ctl_client *c, int r, const char *what)
{
	snprintf(c->error, sizeof(c->error), "%s: %s", what, strerror(-r));
	return r;
}

/* Is the n bytes in rbuf one item of a stream: an entry of this call's dump, or an ALERT? */
static bool is_item(const struct ctl_client *c, int n)
{
	struct wire_hdr h;

	if (wire_peek_hdr(c->rbuf, (size_t)n, &h) < 0)
		return false;
	if (h.type == IPC_MSG_ALERT)
		return !(h.flags & IPC_F_REPLY);
	return h.seq == c->seq && (h.flags & IPC_F_ALL) == IPC_F_ALL;
}

/* 1 and *m; 2: an item that did not parse, skipped (ctl_call); 0 on timeout; -errno. */
static int recv_msg(struct ctl_client *c, int timeout_ms, struct wire_msg *m)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	char why[IPC_MESSAGE_MAX + 1];
	int n, r;

	r = poll(&pfd, 1, timeout_ms);
	if (r < 0)
		return fail(c, -errno, "poll");
	if (r == 0)
		return 0;
	n = fdpass_recv(c->fd, c->rbuf, sizeof(c->rbuf), NULL);
	if (n == 0)
		return fail(c, -ECONNRESET, "latchd closed the connection");
	if (n < 0)
		return fail(c, n, "receiving from latchd");
	r = wire_parse(c->rbuf, (size_t)n, WIRE_FROM_DAEMON, 0, m, why, sizeof(why));
	if (r < 0 && is_item(c, n)) {
		c->skipped++;
		snprintf(c->skip_why, sizeof(c->skip_why), "%s", why);
		return 2;
	}
	if (r < 0) {
		snprintf(c->error, sizeof(c->error), "latchd sent a bad message: %.400s", why);
		return r;
	}
	return 1;
}

void ctl_begin(struct ctl_client *c, struct buf *b, uint16_t type)
{
	buf_init(b, IPC_MSG_MAX);
	wire_begin(b, type, 0, ++c->seq, 0);
}

static int status_of(struct ctl_client *c, const struct wire_msg *m)
{
	const char *text;

	if (m->hdr.status >= 0)
		return 0;
	/* latchd's words are data: shown cleaned (shared/text.h). */
	if (wire_get_str(&m->attrs, IPC_A_MESSAGE, &text) == 0)
		text_clean(c->error, sizeof(c->error), text, strlen(text));
	else
		snprintf(c->error, sizeof(c->error), "%s", strerror(-m->hdr.status));
	return m->hdr.status;
}

int ctl_call(struct ctl_client *c, const struct buf *b, ctl_entry_fn on_entry, void *u)
{
	struct wire_msg m;
	int r = wire_end(b);

	if (r == 0)
		r = fdpass_send(c->fd, b->data, b->len, -1);
	if (r < 0)
		return fail(c, r, "sending to latchd");
	for (;;) {
		r = recv_msg(c, 30000, &m);
		if (r == 0)
			return fail(c, -ETIMEDOUT, "waiting for latchd");
		if (r < 0)
			return r;
		if (r == 2 || !(m.hdr.flags & IPC_F_REPLY) || m.hdr.seq != c->seq)
			continue; /* skipped, an ALERT, or a late answer: not this call's */
		r = status_of(c, &m);
		if (r < 0)
			return r;
		/* A dump's entries carry MORE; its bare end carries nothing. */
		if (on_entry && m.attrs.len)
			r = on_entry(u, &m);
		if (r || !(m.hdr.flags & IPC_F_MORE))
			return r;
	}
}

int ctl_next_event(struct ctl_client *c, int timeout_ms, struct wire_msg *m)
{
	for (;;) {
		int r = recv_msg(c, timeout_ms, m);

		if (r == 2)
			continue;
		if (r <= 0 || m->hdr.type == IPC_MSG_ALERT)
			return r;
	}
}

int ctl_connect(struct ctl_client *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct buf b;
	int r;

	c->seq = 0;
	c->error[0] = '\0';
	if (strlen(path) >= sizeof(sa.sun_path))
		return fail(c, -ENAMETOOLONG, path);
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return fail(c, -errno, "socket");
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		snprintf(c->error, sizeof(c->error), "cannot reach latchd at %.300s: %s", path,
			 strerror(-r));
		close(c->fd);
		c->fd = -1;
		return r;
	}
	ctl_begin(c, &b, IPC_MSG_HELLO);
	wire_put_u32(&b, IPC_A_VERSION, IPC_VERSION);
	wire_put_str(&b, IPC_A_NAME, "latchctl");
	wire_put_u64(&b, IPC_A_FEATURES, IPC_FEATURE_STATUS_CHECKS);
	r = ctl_call(c, &b, NULL, NULL);
	buf_free(&b);
	return r;
}

void ctl_close(struct ctl_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
