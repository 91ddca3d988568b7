/* SPDX-License-Identifier: MIT */
/*
 * charon behind VICI (src/latchd/charon/vici.h): commands queue until the driver
 * answers them, in any order and with any outcome; events come when the
 * driver sends them. The contract kept from the real client: vici_call
 * takes msg and refuses with -ENOTCONN while charon is down; going down
 * fails every queued command with -ECONNRESET before telling the owner;
 * freeing the client fails them with -ECANCELED; a cancelled command's
 * callback never runs. The real typed commands (vici-cmd.c) and the
 * facade the core uses (charon.c) sit on top; each call keeps its message
 * until it is answered, for tests that check what was asked.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "latchd/charon/vici.h"

#define CALLS_MAX 64

struct call {
	char name[VICI_NAME_MAX + 1];
	vici_reply_fn cb; /* NULL: cancelled */
	void *userdata;
	uint64_t id;
	struct vici_node *msg; /* what was sent; NULL: an empty message */
};

struct vici_client {
	struct vici_client_ops ops;
	void *userdata;
	bool up, was_up;
};

static struct {
	struct vici_client *client;
	struct call calls[CALLS_MAX];
	size_t n;
	uint64_t next_id;
} fv;

void fake_vici_reset(void)
{
	while (fv.n)
		vici_node_free(fv.calls[--fv.n].msg);
	fv.next_id = 1;
}

int vici_client_new(struct ev_loop *loop, const struct vici_client_config *cfg,
		    const struct vici_client_ops *ops, void *userdata, struct vici_client **out)
{
	struct vici_client *c = calloc(1, sizeof(*c));

	(void)loop;
	(void)cfg;
	if (!c)
		return -ENOMEM;
	c->ops = *ops;
	c->userdata = userdata;
	fv.client = *out = c;
	return 0;
}

static struct call take(size_t i)
{
	struct call c = fv.calls[i];

	memmove(&fv.calls[i], &fv.calls[i + 1], (fv.n - i - 1) * sizeof(fv.calls[0]));
	fv.n--;
	return c;
}

static void fail_all(int err, const char *why)
{
	struct vici_result res = { .err = err, .errmsg = why };

	while (fv.n) {
		struct call c = take(0);

		vici_node_free(c.msg);
		if (c.cb)
			c.cb(c.userdata, &res);
	}
}

void vici_client_free(struct vici_client *c)
{
	if (!c)
		return;
	fail_all(-ECANCELED, "VICI client freed");
	fv.client = NULL;
	free(c);
}

bool vici_client_is_up(const struct vici_client *c)
{
	return c->up;
}

const char *vici_client_error(const struct vici_client *c)
{
	return c->up ? NULL : "charon is down (fake)";
}

int vici_call(struct vici_client *c, const char *cmd, struct vici_node *msg, uint64_t timeout_usec,
	      vici_reply_fn cb, void *userdata, uint64_t *id)
{
	(void)timeout_usec;
	if (!c->up || fv.n == CALLS_MAX) {
		vici_node_free(msg);
		return c->up ? -ENOMEM : -ENOTCONN;
	}
	fv.calls[fv.n] =
		(struct call){ .cb = cb, .userdata = userdata, .id = fv.next_id++, .msg = msg };
	snprintf(fv.calls[fv.n].name, sizeof(fv.calls[0].name), "%s", cmd);
	if (id)
		*id = fv.calls[fv.n].id;
	fv.n++;
	return 0;
}

int vici_cancel(struct vici_client *c, uint64_t id)
{
	(void)c;
	for (size_t i = 0; i < fv.n; i++) {
		if (fv.calls[i].id == id) {
			fv.calls[i].cb = NULL;
			return 0;
		}
	}
	return -ENOENT;
}

void fake_vici_up(bool resync)
{
	struct vici_client *c = fv.client;

	if (!c || c->up)
		return;
	c->up = true;
	c->ops.up(c->userdata, c->was_up && resync, 0);
	c->was_up = true;
}

void fake_vici_down(int err)
{
	struct vici_client *c = fv.client;

	if (!c || !c->up)
		return;
	c->up = false;
	fail_all(-ECONNRESET, "charon closed the connection");
	c->ops.down(c->userdata, err, "charon went away");
}

size_t fake_vici_calls(void)
{
	return fv.n;
}

const char *fake_vici_call_name(size_t i)
{
	return fv.calls[i].name;
}

const struct vici_node *fake_vici_call_msg(size_t i)
{
	return fv.calls[i].msg;
}

void fake_vici_answer(size_t i, int err, const struct vici_node *reply,
		      const struct vici_node *stream)
{
	struct call c = take(i);
	struct vici_result res = {
		.err = err,
		.errmsg = err ? "injected" : "",
		.reply = err ? NULL : reply,
		.stream = err ? NULL : stream,
	};

	if (getenv("FUZZ_CORE_LOG")) /* the conversation, to adapt the harness */
		fprintf(stderr, "fake charon: %s answered %d%s\n", c.name, err,
			c.cb ? "" : " (cancelled)");
	vici_node_free(c.msg);
	if (c.cb)
		c.cb(c.userdata, &res);
}

void fake_vici_event(const char *name, const struct vici_node *msg)
{
	struct vici_client *c = fv.client;

	if (getenv("FUZZ_CORE_LOG"))
		fprintf(stderr, "fake charon: event %s%s\n", name,
			c && c->up ? "" : " (down: lost)");
	if (c && c->up)
		c->ops.event(c->userdata, name, msg);
}
