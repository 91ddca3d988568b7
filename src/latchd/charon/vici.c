/* SPDX-License-Identifier: MIT */
#include "latchd/charon/vici.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "latchd/base/log.h"

/* Streamed results: charon raises these only to the connection that asked. */
static const char *const stream_events[] = {
	"list-sa", "list-conn", "list-cert", "list-policy", "list-authority", "control-log",
};
#define N_STREAM_EVENTS (sizeof(stream_events) / sizeof(stream_events[0]))

#define READ_CHUNK 16384

struct conn {
	struct vici_client *c;
	int fd;
	struct ev_source *io;
	struct buf in, out;
	size_t out_off;
	bool events; /* the subscription connection */
};

struct cmd {
	struct cmd *next;
	struct vici_client *c;
	uint64_t id;
	bool is_register; /* internal EVENT_REGISTER of a stream event */
	bool sent, zombie;
	char name[VICI_NAME_MAX + 1];
	struct buf frame;
	struct ev_source *timer;
	vici_reply_fn cb;
	void *userdata;
	struct vici_node *stream;
	size_t stream_bytes;
	bool stream_over;
};

struct qevent {
	struct qevent *next;
	char name[VICI_NAME_MAX + 1];
	struct vici_node *msg;
};

struct vici_client {
	struct ev_loop *loop;
	char *path;
	struct vici_client_config cfg;
	const struct vici_client_ops *ops;
	void *userdata;
	struct conn cmdc, evtc;
	bool connected, up, ever_up;
	unsigned generation; /* bumped by every reset: stale work stops */
	size_t reg_next;     /* next subscription to register on evtc */
	bool reg_waiting;
	unsigned unknown_events;
	unsigned streams_pending; /* internal registrations not yet confirmed */
	struct cmd *head, **tail;
	struct qevent *qhead, **qtail;
	struct ev_source *retry, *kick, *reg_timer;
	uint64_t backoff;
	uint64_t next_id;
	char why[160];
	/* failed connects: the first, a changed errno and then once a minute are logged */
	int connect_err;
	unsigned connect_fails; /* since the last line logged */
	uint64_t connect_logged_usec;
};

#define CONNECT_LOG_EVERY_USEC (60 * 1000000ull)

static void client_reset(struct vici_client *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int register_next(struct vici_client *c);

/* ---- connections ---- */

static int on_io(struct ev_source *s, int fd, uint32_t revents, void *userdata);

static void conn_close(struct conn *k)
{
	ev_source_free(k->io);
	k->io = NULL;
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	buf_free(&k->in);
	buf_free(&k->out);
	k->out_off = 0;
}

static int conn_open(struct conn *k, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path));
	k->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (k->fd < 0)
		return -errno;
	/* A UNIX connect completes at once or fails (EAGAIN: backlog full, retried later). */
	if (connect(k->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		goto fail;
	}
	ret = ev_add_io(k->c->loop, &k->io, k->fd, EPOLLIN, on_io, k);
	if (ret < 0)
		goto fail;
	return 0;
fail:
	conn_close(k);
	return ret;
}

static int conn_flush(struct conn *k)
{
	while (k->out_off < k->out.len) {
		ssize_t n = send(k->fd, k->out.data + k->out_off, k->out.len - k->out_off,
				 MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return ev_io_set_events(k->io, EPOLLIN | EPOLLOUT);
		if (n < 0)
			return -errno;
		k->out_off += (size_t)n;
	}
	buf_reset(&k->out);
	k->out_off = 0;
	return ev_io_set_events(k->io, EPOLLIN);
}

static int conn_send_frame(struct conn *k, enum vici_pkt type, const char *name)
{
	struct vici_err err;
	int ret = vici_frame_encode(&k->out, type, name, NULL, &err);

	return ret < 0 ? ret : conn_flush(k);
}

/* ---- commands ---- */

static void cmd_free(struct cmd *cmd)
{
	ev_source_free(cmd->timer);
	buf_free(&cmd->frame);
	vici_node_free(cmd->stream);
	free(cmd);
}

static void cmd_unlink(struct vici_client *c, struct cmd *cmd)
{
	struct cmd **pp;

	for (pp = &c->head; *pp && *pp != cmd; pp = &(*pp)->next)
		;
	if (!*pp)
		return;
	*pp = cmd->next;
	if (c->tail == &cmd->next)
		c->tail = pp;
	cmd->next = NULL;
}

/* Deliver the outcome (unless cancelled or already timed out) and free the command. */
static void cmd_complete(struct cmd *cmd, int err, const char *errmsg,
			 const struct vici_node *reply)
{
	struct vici_result res = {
		.err = err,
		.errmsg = errmsg ? errmsg : "",
		.reply = err ? NULL : reply,
		.stream = cmd->stream,
	};

	if (err == 0 && cmd->stream_over) {
		res.err = -E2BIG;
		res.errmsg = "streamed results exceed the client's limit";
		res.reply = NULL;
	}
	if (cmd->cb && !cmd->zombie)
		cmd->cb(cmd->userdata, &res);
	cmd_free(cmd);
}

static int on_cmd_timeout(struct ev_source *s, uint64_t usec, void *userdata)
{
	struct cmd *cmd = userdata;
	struct vici_client *c = cmd->c;
	char msg[VICI_NAME_MAX + 64];

	if (cmd->is_register) {
		client_reset(c, -ETIMEDOUT, "charon did not confirm '%s'", cmd->name);
		return 0;
	}
	snprintf(msg, sizeof(msg), "charon did not answer '%s' in time", cmd->name);
	if (!cmd->sent) {
		cmd_unlink(c, cmd);
		cmd_complete(cmd, -ETIMEDOUT, msg, NULL);
		return 0;
	}
	/*
	 * No sequence numbers: the reply will still come and must be matched to
	 * this command, so it stays at the head, answered, until then.
	 */
	if (cmd->cb) {
		struct vici_result res = { .err = -ETIMEDOUT, .errmsg = msg };

		cmd->cb(cmd->userdata, &res);
	}
	cmd->zombie = true;
	return 0;
}

static struct cmd *cmd_new(struct vici_client *c, const char *name, uint64_t timeout_usec)
{
	struct cmd *cmd = calloc(1, sizeof(*cmd));

	if (!cmd)
		return NULL;
	cmd->c = c;
	cmd->id = ++c->next_id;
	snprintf(cmd->name, sizeof(cmd->name), "%s", name);
	buf_init(&cmd->frame, 4 + VICI_FRAME_MAX);
	cmd->stream = vici_msg_new();
	if (!cmd->stream || ev_add_time(c->loop, &cmd->timer, 0, on_cmd_timeout, cmd) < 0 ||
	    ev_time_set_in(cmd->timer, timeout_usec) < 0) {
		cmd_free(cmd);
		return NULL;
	}
	return cmd;
}

static void cmd_enqueue(struct vici_client *c, struct cmd *cmd)
{
	*c->tail = cmd;
	c->tail = &cmd->next;
	ev_defer_enable(c->kick);
}

/* Send the head of the FIFO when nothing is in flight. Deferred, so vici_call never re-enters. */
static int on_kick(struct ev_source *s, void *userdata)
{
	struct vici_client *c = userdata;
	struct cmd *cmd = c->head;
	int ret;

	if (!c->connected || !cmd || cmd->sent)
		return 0;
	buf_put(&c->cmdc.out, cmd->frame.data, cmd->frame.len);
	cmd->sent = true;
	ret = buf_error(&c->cmdc.out);
	if (ret == 0)
		ret = conn_flush(&c->cmdc);
	if (ret < 0)
		client_reset(c, ret, "sending '%s' failed: %s", cmd->name, strerror(-ret));
	return 0;
}

int vici_call(struct vici_client *c, const char *name, struct vici_node *msg, uint64_t timeout_usec,
	      vici_reply_fn cb, void *userdata, uint64_t *id)
{
	struct vici_err err;
	struct cmd *cmd = NULL;
	int ret = -ENOTCONN;

	if (!c->connected)
		goto out;
	ret = -ENOMEM;
	cmd = cmd_new(c, name, timeout_usec ? timeout_usec : c->cfg.timeout_usec);
	if (!cmd)
		goto out;
	ret = vici_frame_encode(&cmd->frame, VICI_CMD_REQUEST, name, msg, &err);
	if (ret < 0)
		goto out;
	cmd->cb = cb;
	cmd->userdata = userdata;
	if (id)
		*id = cmd->id;
	cmd_enqueue(c, cmd);
	cmd = NULL;
out:
	if (cmd)
		cmd_free(cmd);
	vici_node_free(msg);
	return ret;
}

int vici_cancel(struct vici_client *c, uint64_t id)
{
	for (struct cmd *cmd = c->head; cmd; cmd = cmd->next) {
		if (cmd->id == id && !cmd->is_register) {
			cmd->cb = NULL;
			return 0;
		}
	}
	return -ENOENT;
}

/* ---- becoming ready ---- */

static void deliver_queued(struct vici_client *c)
{
	unsigned gen = c->generation;
	struct qevent *q;

	while (c->generation == gen && (q = c->qhead)) {
		c->qhead = q->next;
		if (!c->qhead)
			c->qtail = &c->qhead;
		if (c->ops->event)
			c->ops->event(c->userdata, q->name, q->msg);
		vici_node_free(q->msg);
		free(q);
	}
}

static void maybe_up(struct vici_client *c)
{
	bool resync = c->ever_up;

	if (c->up || c->reg_waiting || c->cfg.events[c->reg_next] || c->streams_pending)
		return;
	c->up = c->ever_up = true;
	c->backoff = c->cfg.backoff_min_usec;
	ev_time_set(c->reg_timer, 0);
	if (c->ops->up)
		c->ops->up(c->userdata, resync, c->unknown_events);
	deliver_queued(c);
}

static int register_next(struct vici_client *c)
{
	const char *name = c->cfg.events[c->reg_next];
	int ret;

	if (!name) {
		maybe_up(c);
		return 0;
	}
	ret = conn_send_frame(&c->evtc, VICI_EVENT_REGISTER, name);
	if (ret < 0)
		return ret;
	c->reg_waiting = true;
	return ev_time_set_in(c->reg_timer, c->cfg.timeout_usec);
}

static int on_reg_timeout(struct ev_source *s, uint64_t usec, void *userdata)
{
	struct vici_client *c = userdata;

	client_reset(c, -ETIMEDOUT, "charon did not confirm event '%s'",
		     c->cfg.events[c->reg_next]);
	return 0;
}

static int queue_stream_registrations(struct vici_client *c)
{
	for (size_t i = 0; i < N_STREAM_EVENTS; i++) {
		struct cmd *cmd = cmd_new(c, stream_events[i], c->cfg.timeout_usec);
		struct vici_err err;

		if (!cmd)
			return -ENOMEM;
		cmd->is_register = true;
		if (vici_frame_encode(&cmd->frame, VICI_EVENT_REGISTER, cmd->name, NULL, &err) <
		    0) {
			cmd_free(cmd);
			return -ENOMEM;
		}
		cmd_enqueue(c, cmd);
		c->streams_pending++;
	}
	return 0;
}

/* ---- packets from charon ---- */

static int collect_stream(struct vici_client *c, const struct vici_packet *pkt)
{
	struct cmd *cmd = c->head;
	struct vici_node *sec;
	struct vici_err err;

	/* Late stream events of a command already answered or timed out are dropped. */
	if (!cmd || !cmd->sent || cmd->is_register || cmd->zombie || cmd->stream_over)
		return 0;
	cmd->stream_bytes += pkt->msg_len;
	if (cmd->stream_bytes > c->cfg.stream_max) {
		cmd->stream_over = true;
		while (cmd->stream->child)
			vici_node_free(cmd->stream->child);
		return 0;
	}
	sec = vici_add_section(cmd->stream, pkt->name);
	if (!sec)
		return vici_msg_error(cmd->stream);
	return vici_msg_decode_into(sec, pkt->msg, pkt->msg_len, &err);
}

static int cmd_reply(struct vici_client *c, const struct vici_packet *pkt)
{
	struct cmd *cmd = c->head;
	struct vici_node *reply = NULL;
	struct vici_err err;
	char msg[VICI_NAME_MAX + 64];
	int ret;

	if (!cmd || !cmd->sent)
		return -EPROTO;
	if (cmd->is_register !=
	    (pkt->type == VICI_EVENT_CONFIRM || pkt->type == VICI_EVENT_UNKNOWN))
		return -EPROTO;
	ret = vici_msg_decode(pkt->msg, pkt->msg_len, &reply, &err);
	if (ret < 0)
		return ret;
	c->head = cmd->next;
	if (!c->head)
		c->tail = &c->head;
	if (cmd->is_register) {
		/* An older charon may lack a stream: its command then simply streams nothing. */
		cmd_complete(cmd, 0, NULL, reply);
		c->streams_pending--;
		maybe_up(c);
	} else if (pkt->type == VICI_CMD_UNKNOWN) {
		snprintf(msg, sizeof(msg), "charon knows no command '%s'", cmd->name);
		cmd_complete(cmd, -EOPNOTSUPP, msg, NULL);
	} else {
		cmd_complete(cmd, 0, NULL, reply);
	}
	vici_node_free(reply);
	ev_defer_enable(c->kick);
	return 0;
}

static int evt_packet(struct vici_client *c, const struct vici_packet *pkt)
{
	struct vici_node *msg = NULL;
	struct vici_err err;
	struct qevent *q;
	int ret;

	if (pkt->type == VICI_EVENT_CONFIRM || pkt->type == VICI_EVENT_UNKNOWN) {
		if (!c->reg_waiting)
			return -EPROTO;
		c->reg_waiting = false;
		c->unknown_events += pkt->type == VICI_EVENT_UNKNOWN;
		c->reg_next++;
		return register_next(c);
	}
	if (pkt->type != VICI_EVENT)
		return -EPROTO;
	ret = vici_msg_decode(pkt->msg, pkt->msg_len, &msg, &err);
	if (ret < 0)
		return ret;
	if (c->up) {
		if (c->ops->event)
			c->ops->event(c->userdata, pkt->name, msg);
		vici_node_free(msg);
		return 0;
	}
	/* Before every registration is confirmed: keep it for after ops->up. */
	q = calloc(1, sizeof(*q));
	if (!q) {
		vici_node_free(msg);
		return -ENOMEM;
	}
	memcpy(q->name, pkt->name, sizeof(q->name));
	q->msg = msg;
	*c->qtail = q;
	c->qtail = &q->next;
	return 0;
}

static int handle_frame(struct conn *k, const uint8_t *body, size_t len)
{
	struct vici_client *c = k->c;
	struct vici_packet pkt;
	struct vici_err err;
	int ret;

	ret = vici_packet_decode(body, len, &pkt, &err);
	if (ret < 0) {
		client_reset(c, ret, "malformed packet from charon: %s", vici_strerror(err.code));
		return ret;
	}
	if (k->events)
		ret = evt_packet(c, &pkt);
	else if (pkt.type == VICI_EVENT)
		ret = collect_stream(c, &pkt);
	else
		ret = cmd_reply(c, &pkt);
	if (ret == -EBADMSG)
		client_reset(c, ret, "malformed message from charon: %s", vici_strerror(err.code));
	else if (ret < 0)
		client_reset(c, ret, "unexpected packet type %d from charon", (int)pkt.type);
	return ret;
}

/* Handle every whole frame in k->in, then keep the partial tail. */
static int drain_frames(struct conn *k)
{
	struct vici_client *c = k->c;
	unsigned gen = c->generation;
	size_t off = 0;
	struct vici_err err;
	uint32_t len;
	int ret;

	while (k->in.len - off >= 4) {
		ret = vici_frame_len(k->in.data + off, &len, &err);
		if (ret < 0) {
			client_reset(c, ret, "bad frame from charon: %s", vici_strerror(err.code));
			return ret;
		}
		if (k->in.len - off - 4 < len)
			break;
		ret = handle_frame(k, k->in.data + off + 4, len);
		if (ret < 0 || c->generation != gen)
			return -ECONNRESET;
		off += 4 + (size_t)len;
	}
	memmove(k->in.data, k->in.data + off, k->in.len - off);
	k->in.len -= off;
	return 0;
}

static int on_io(struct ev_source *s, int fd, uint32_t revents, void *userdata)
{
	struct conn *k = userdata;
	struct vici_client *c = k->c;
	uint8_t chunk[READ_CHUNK];
	int ret;

	if (revents & EPOLLOUT) {
		ret = conn_flush(k);
		if (ret < 0) {
			client_reset(c, ret, "writing to charon failed: %s", strerror(-ret));
			return 0;
		}
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			client_reset(c, n ? -errno : -ECONNRESET,
				     "charon closed the %s connection%s%s",
				     k->events ? "event" : "command", n ? ": " : "",
				     n ? strerror(errno) : "");
			return 0;
		}
		buf_put(&k->in, chunk, (size_t)n);
		if (buf_error(&k->in)) {
			client_reset(c, -ENOMEM, "out of memory reading from charon");
			return 0;
		}
		if (drain_frames(k) < 0)
			return 0;
	}
}

/* ---- connecting, losing the connection ---- */

static void close_all(struct vici_client *c)
{
	struct qevent *q;

	conn_close(&c->cmdc);
	conn_close(&c->evtc);
	c->connected = c->up = c->reg_waiting = false;
	c->reg_next = 0;
	c->unknown_events = c->streams_pending = 0;
	if (c->reg_timer)
		ev_time_set(c->reg_timer, 0);
	while ((q = c->qhead)) {
		c->qhead = q->next;
		vici_node_free(q->msg);
		free(q);
	}
	c->qtail = &c->qhead;
}

static void fail_all(struct vici_client *c, int err, const char *why)
{
	struct cmd *cmd;

	while ((cmd = c->head)) {
		c->head = cmd->next;
		if (!c->head)
			c->tail = &c->head;
		cmd_complete(cmd, err, why, NULL);
	}
}

static void schedule_retry(struct vici_client *c)
{
	ev_time_set_in(c->retry, c->backoff);
	c->backoff =
		c->backoff > c->cfg.backoff_max_usec / 2 ? c->cfg.backoff_max_usec : 2 * c->backoff;
}

static void client_reset(struct vici_client *c, int err, const char *fmt, ...)
{
	bool was_up = c->up;
	char msg[sizeof(c->why) + 32];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	c->generation++;
	close_all(c);
	if (was_up && c->ops->down)
		c->ops->down(c->userdata, err, c->why);
	snprintf(msg, sizeof(msg), "connection to charon lost: %s", c->why);
	fail_all(c, -ECONNRESET, msg);
	schedule_retry(c);
}

/*
 * Every failed connect is remembered (vici_client_error()); the log gets the
 * first, each change of errno, and then one line a minute with how many
 * attempts failed since: a wrong vici_socket must be seen, not flood the log.
 */
static void connect_failed(struct vici_client *c, int err)
{
	uint64_t now = ev_now(c->loop);

	snprintf(c->why, sizeof(c->why), "cannot connect to charon's VICI socket %s: %s", c->path,
		 strerror(-err));
	c->connect_fails++;
	if (err == c->connect_err && now - c->connect_logged_usec < CONNECT_LOG_EVERY_USEC)
		return;
	if (err == c->connect_err && c->connect_fails > 1)
		log_warn("%s (%u attempts in the last %llu s; retrying every %llu s at most)",
			 c->why, c->connect_fails,
			 (unsigned long long)((now - c->connect_logged_usec) / 1000000),
			 (unsigned long long)(c->cfg.backoff_max_usec / 1000000));
	else
		log_warn("%s (retrying)", c->why);
	c->connect_err = err;
	c->connect_fails = 0;
	c->connect_logged_usec = now;
}

static int client_connect(struct vici_client *c)
{
	int ret;

	ret = conn_open(&c->cmdc, c->path);
	if (ret == 0)
		ret = conn_open(&c->evtc, c->path);
	if (ret < 0) {
		close_all(c);
		connect_failed(c, ret);
		schedule_retry(c);
		return ret;
	}
	if (c->connect_err)
		log_info("charon's VICI socket %s accepts connections again", c->path);
	c->connect_err = 0;
	c->connect_fails = 0;
	c->connected = true;
	ret = queue_stream_registrations(c);
	if (ret == 0)
		ret = register_next(c);
	if (ret < 0)
		client_reset(c, ret, "registering with charon failed: %s", strerror(-ret));
	return ret;
}

static int on_retry(struct ev_source *s, uint64_t usec, void *userdata)
{
	struct vici_client *c = userdata;

	if (!c->connected)
		client_connect(c);
	return 0;
}

bool vici_client_is_up(const struct vici_client *c)
{
	return c->up;
}

const char *vici_client_error(const struct vici_client *c)
{
	return c->up || c->connected ? NULL : c->why[0] ? c->why : "not connected to charon yet";
}

static void apply_defaults(struct vici_client_config *cfg)
{
	static const char *const no_events[] = { NULL };

	if (!cfg->events)
		cfg->events = no_events;
	if (!cfg->timeout_usec)
		cfg->timeout_usec = 30 * 1000000u;
	if (!cfg->backoff_min_usec)
		cfg->backoff_min_usec = 50 * 1000u;
	if (!cfg->backoff_max_usec)
		cfg->backoff_max_usec = 5 * 1000000u;
	if (!cfg->stream_max)
		cfg->stream_max = 64u << 20;
}

int vici_client_new(struct ev_loop *loop, const struct vici_client_config *cfg,
		    const struct vici_client_ops *ops, void *userdata, struct vici_client **out)
{
	struct vici_client *c;
	int ret = -ENOMEM;

	if (!cfg->path || !ops)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->loop = loop;
	c->cfg = *cfg;
	apply_defaults(&c->cfg);
	c->ops = ops;
	c->userdata = userdata;
	c->cmdc = (struct conn){ .c = c, .fd = -1 };
	c->evtc = (struct conn){ .c = c, .fd = -1, .events = true };
	c->tail = &c->head;
	c->qtail = &c->qhead;
	c->backoff = c->cfg.backoff_min_usec;
	c->path = strdup(cfg->path);
	if (!c->path || (ret = ev_add_time(loop, &c->retry, 0, on_retry, c)) < 0 ||
	    (ret = ev_add_time(loop, &c->reg_timer, 0, on_reg_timeout, c)) < 0 ||
	    (ret = ev_add_defer(loop, &c->kick, on_kick, c)) < 0)
		goto fail;
	/* Not there yet is normal at boot: it keeps trying, ops->up says when it worked. */
	client_connect(c);
	*out = c;
	return 0;
fail:
	vici_client_free(c);
	return ret;
}

void vici_client_free(struct vici_client *c)
{
	if (!c)
		return;
	close_all(c);
	fail_all(c, -ECANCELED, "VICI client freed");
	ev_source_free(c->retry);
	ev_source_free(c->reg_timer);
	ev_source_free(c->kick);
	free(c->path);
	free(c);
}
