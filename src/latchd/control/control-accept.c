/* SPDX-License-Identifier: MIT */
/*
 * The control socket's listening side: who may connect, and what happens
 * when latchd is out of room. A connection over a limit is answered and
 * closed at once; running out of descriptors pauses accepting instead of
 * spinning on a backlog latchd cannot take.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "latchd/base/log.h"
#include "latchd/control/control-int.h"
#include "shared/fail.h"
#include "shared/fdpass.h"

/* Descriptors latchd keeps for itself beside its clients' (charon, netlink, files, sockets). */
#define FD_OWN 64
/* How long accepting pauses when latchd is out of descriptors: a wait, not a spin. */
#define ACCEPT_PAUSE_USEC 100000

/*
 * Is gid the peer's primary group or one of the supplementary groups it had
 * when it connected (SO_PEERGROUPS)? Decided once per connection, from what
 * the kernel recorded, never from /proc, where a reused pid could answer.
 */
static bool peer_in_group(int fd, const struct ucred *cred, gid_t gid)
{
	gid_t few[64], *g = few;
	socklen_t len = sizeof(few);
	bool found = cred->gid == gid;

	if (found || getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) < 0) {
		if (found || errno != ERANGE || !(g = malloc(len)))
			return found;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) < 0)
			len = 0;
	}
	for (size_t i = 0; i < len / sizeof(gid_t) && !found; i++)
		found = g[i] == gid;
	if (g != few)
		free(g);
	return found;
}

static unsigned clients_of_uid(const struct control *c, uid_t uid)
{
	unsigned n = 0;

	for (const struct client *cl = c->clients; cl; cl = cl->next)
		n += cl->cred.uid == uid && !cl->gone;
	return n;
}

/* 0 when cl may connect, or -EUSERS with the reason in err. Administrators have a reserve. */
static int admit(const struct control *c, const struct client *cl, char *err, size_t el)
{
	const struct control_config *cfg = &c->cfg;
	unsigned users = cfg->max_clients - cfg->admin_clients;

	if (cl->admin && c->n_clients >= cfg->max_clients)
		return FAIL(-EUSERS, "latchd serves %u clients, its limit", c->n_clients);
	if (cl->admin)
		return 0;
	if (clients_of_uid(c, cl->cred.uid) >= cfg->max_clients_per_uid)
		return FAIL(-EUSERS, "too many connections for uid %u (limit %u)",
			    (unsigned)cl->cred.uid, cfg->max_clients_per_uid);
	if (c->n_clients - c->n_admins >= users)
		return FAIL(-EUSERS, "latchd serves %u users' clients, its limit", users);
	return 0;
}

/*
 * A connection refused at accept is closed at once: its first packet is
 * answered (HELLO, as a rule) if it came already, and nothing waits for
 * more. A packet that comes later finds the connection closed.
 */
static void refuse_connection(struct control *c, int cfd, int err, const char *text)
{
	struct wire_hdr h = { .type = IPC_MSG_HELLO };
	struct buf b;
	int n, pfd = -1;

	n = fdpass_recv(cfd, c->rbuf, sizeof(c->rbuf), &pfd);
	if (pfd >= 0)
		close(pfd);
	if (n >= IPC_HDR_LEN)
		wire_peek_hdr(c->rbuf, (size_t)n, &h);
	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, h.type, IPC_F_REPLY, h.seq, err);
	wire_put_str(&b, IPC_A_MESSAGE, text);
	if (wire_end(&b) == 0)
		(void)fdpass_send(cfd, b.data, b.len, -1);
	buf_free(&b);
	close(cfd);
}

/* One line a second at most: a flood of refused connections must not flood the log too. */
static void log_refused(struct control *c, const struct client *cl, const char *why)
{
	uint64_t now = ev_now(c->loop);

	if (c->refused_logged && now - c->refused_logged < 1000000) {
		c->refused_quiet++;
		return;
	}
	log_info("client pid %d uid %u: refused: %s (%u more refused since the last such line)",
		 (int)cl->cred.pid, (unsigned)cl->cred.uid, why, c->refused_quiet);
	c->refused_logged = now;
	c->refused_quiet = 0;
}

static void client_new(struct control *c, int cfd)
{
	char err[IPC_MESSAGE_MAX + 1];
	struct client *cl = calloc(1, sizeof(*cl));
	int r;

	if (!cl || fdpass_peercred(cfd, &cl->cred) < 0)
		goto fail;
	cl->ctl = c;
	cl->fd = cfd;
	cl->admin = cl->cred.uid == 0 || (c->cfg.admin_gid != (gid_t)-1 &&
					  peer_in_group(cfd, &cl->cred, c->cfg.admin_gid));
	r = admit(c, cl, err, sizeof(err));
	if (r < 0) {
		log_refused(c, cl, err);
		refuse_connection(c, cfd, r, err);
		free(cl);
		return;
	}
	if (ev_add_io(c->loop, &cl->src, cfd, EPOLLIN, control_client_read, cl) < 0)
		goto fail;
	cl->next = c->clients;
	c->clients = cl;
	c->n_clients++;
	c->n_admins += cl->admin;
	return;
fail:
	close(cfd);
	free(cl);
}

static int resume_accept(struct ev_source *s, uint64_t usec, void *userdata)
{
	struct control *c = userdata;

	ev_io_set_events(c->src, EPOLLIN);
	return 0;
}

static int on_accept(struct ev_source *s, int fd, uint32_t revents, void *userdata)
{
	struct control *c = userdata;
	int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (cfd >= 0) {
		client_new(c, cfd);
		return 0;
	}
	if (errno != EMFILE && errno != ENFILE && errno != ENOBUFS && errno != ENOMEM)
		return 0; /* EAGAIN, or the client gave up already */
	/* The connection stays in the backlog: wait for descriptors instead of spinning on it. */
	log_warn("accepting a client: %s; pausing for %d ms", strerror(errno),
		 ACCEPT_PAUSE_USEC / 1000);
	ev_io_set_events(c->src, 0);
	ev_time_set_in(c->resume, ACCEPT_PAUSE_USEC);
	return 0;
}

/*
 * The clients latchd can serve with the descriptors it may open: a
 * max_clients above that would end in EMFILE for everyone, administrators
 * included, instead of a refusal that keeps their reserve.
 */
static void fit_descriptors(struct control_config *cfg)
{
	struct rlimit rl;
	rlim_t room;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		rl.rlim_cur = RLIM_INFINITY;
	room = rl.rlim_cur > 2 * FD_OWN ? rl.rlim_cur - FD_OWN : rl.rlim_cur / 2;
	if (rl.rlim_cur != RLIM_INFINITY && cfg->max_clients > room) {
		log_warn("max_clients %u: RLIMIT_NOFILE %llu leaves room for %llu clients",
			 cfg->max_clients, (unsigned long long)rl.rlim_cur,
			 (unsigned long long)room);
		cfg->max_clients = (unsigned)room;
	}
	if (cfg->admin_clients > cfg->max_clients / 2)
		cfg->admin_clients = cfg->max_clients / 2;
}

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
	mode_t mask;
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
	/*
	 * Everyone may connect: authorisation is by credentials, per request.
	 * bind() gives the new file the socket's own mode less the umask, so the
	 * mode is set on the socket first: a chmod of the path after bind would
	 * follow a symlink put there in between.
	 */
	mask = umask(0);
	r = fchmod(fd, 0666) < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(mask);
	if (r == 0 && listen(fd, 128) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	*ret = fd;
	return 0;
}

int control_listen(struct control *c)
{
	int r;

	fit_descriptors(&c->cfg);
	r = listen_on(c->cfg.path, &c->fd);
	if (r == 0)
		r = ev_add_io(c->loop, &c->src, c->fd, EPOLLIN, on_accept, c);
	if (r == 0)
		r = ev_add_time(c->loop, &c->resume, 0, resume_accept, c);
	return r;
}

void control_unlisten(struct control *c)
{
	ev_source_free(c->resume);
	ev_source_free(c->src);
	if (c->fd >= 0) {
		close(c->fd);
		unlink(c->cfg.path);
	}
}
