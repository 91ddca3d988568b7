/* SPDX-License-Identifier: MIT */
/*
 * latch._latch: the C half of Python's latch module, a thin layer over
 * liblatch (<latch/latch.h>). It converts arguments and results and holds the
 * objects; what the calls do is liblatch's. The Python half (latch/__init__.py)
 * gives the socket-like functions, the classes and asyncio.
 *
 * Every call into a ctx releases the GIL and takes the Ctx's own lock (a
 * liblatch ctx is not thread-safe), so a thread waiting for IKE holds up no
 * other Python thread. Errors are raised as the exception latch._errors.error()
 * builds from the errno and latchd's words.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <arpa/inet.h>
#include <errno.h>
#include <latch/latch.h>
#include <netinet/in.h>
#include <string.h>
#include <structmember.h>

static PyObject *error_fn; /* latch._errors.error(errno, words) -> exception */

/* Raise the exception for -r with words (latchd's, or ours); returns NULL. */
static PyObject *raise_errno(int r, const char *words)
{
	PyObject *exc = PyObject_CallFunction(error_fn, "is", -r, words ? words : "");

	if (exc) {
		PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
		Py_DECREF(exc);
	}
	return NULL;
}

/* ---- Token ------------------------------------------------------------ */

typedef struct {
	PyObject_HEAD latch_token *tok;
} TokenObject;

static void Token_dealloc(TokenObject *self)
{
	latch_token_free(self->tok);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static int set_str(latch_token *tok, int (*fn)(latch_token *, const char *), const char *s,
		   const char *what)
{
	int r = s ? fn(tok, s) : 0;

	if (r < 0) {
		PyErr_Format(PyExc_ValueError, "%s: %s", what, strerror(-r));
		return -1;
	}
	return 0;
}

static int check(int r, const char *what)
{
	if (r < 0) {
		PyErr_Format(PyExc_ValueError, "%s: %s", what, strerror(-r));
		return -1;
	}
	return 0;
}

static int Token_init(TokenObject *self, PyObject *args, PyObject *kw)
{
	static char *names[] = { "encrypt",    "integrity",	  "mode",    "encr_bits",
				 "integ_bits", "on_break",	  "flags",   "policy_name",
				 "peer_id",    "peer_id_pattern", "peer_ca", "spki",
				 NULL };
	int encrypt = 0, integrity = 0, mode = 0, on_break = LATCH_ON_BREAK_RESET;
	unsigned encr_bits = 0, integ_bits = 0, flags = 0;
	const char *policy = NULL, *peer = NULL, *pattern = NULL, *ca = NULL;
	PyObject *spki = NULL;
	latch_token *tok;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|$iiiIIiIzzzzO:Token", names, &encrypt,
					 &integrity, &mode, &encr_bits, &integ_bits, &on_break,
					 &flags, &policy, &peer, &pattern, &ca, &spki))
		return -1;
	if (latch_token_new(&tok) < 0) {
		PyErr_NoMemory();
		return -1;
	}
	latch_token_free(self->tok);
	self->tok = tok;
	if (check(latch_token_set_encrypt(tok, encrypt), "encrypt") ||
	    check(latch_token_set_integrity(tok, integrity), "integrity") ||
	    check(latch_token_set_mode(tok, mode), "mode") ||
	    check(latch_token_set_min_bits(tok, encr_bits, integ_bits), "min_bits") ||
	    check(latch_token_set_on_break(tok, on_break), "on_break") ||
	    check(latch_token_set_flags(tok, flags), "flags") ||
	    set_str(tok, latch_token_set_policy_name, policy, "policy_name") ||
	    set_str(tok, latch_token_set_peer_id, peer, "peer") ||
	    set_str(tok, latch_token_set_peer_id_pattern, pattern, "peer_pattern") ||
	    set_str(tok, latch_token_set_peer_ca, ca, "ca"))
		return -1;
	if (spki && spki != Py_None) {
		PyObject *seq = PySequence_Fast(spki, "spki_sha256: a sequence of 32-byte values");

		if (!seq)
			return -1;
		for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
			PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
			Py_buffer b;
			int r;

			if (PyObject_GetBuffer(item, &b, PyBUF_SIMPLE) < 0) {
				Py_DECREF(seq);
				return -1;
			}
			r = b.len == LATCH_SHA256_LEN ? latch_token_add_peer_spki(tok, b.buf)
						      : -EINVAL;
			PyBuffer_Release(&b);
			if (r < 0) {
				Py_DECREF(seq);
				PyErr_Format(PyExc_ValueError,
					     "spki_sha256: %s (32-byte SHA-256 values, at most %d)",
					     strerror(-r), LATCH_TOKEN_SPKI_MAX);
				return -1;
			}
		}
		Py_DECREF(seq);
	}
	return 0;
}

static PyTypeObject TokenType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "latch._latch.Token",
	.tp_doc = PyDoc_STR("A liblatch protection token (latch_token); built by latch.Token."),
	.tp_basicsize = sizeof(TokenObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)Token_init,
	.tp_dealloc = (destructor)Token_dealloc,
};

/* ---- Conversions ------------------------------------------------------ */

static PyObject *str_or_none(const char *s)
{
	if (!s)
		Py_RETURN_NONE;
	return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "surrogateescape");
}

static PyObject *addr_to_py(const struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		return Py_BuildValue("(si)", host, ntohs(sin->sin_port));
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		return Py_BuildValue("(siII)", host, ntohs(sin6->sin6_port),
				     ntohl(sin6->sin6_flowinfo), sin6->sin6_scope_id);
	}
	Py_RETURN_NONE;
}

/* A numeric address tuple as the socket module writes it, for family. */
static int addr_from_py(int family, PyObject *addr, struct sockaddr_storage *ss, socklen_t *len)
{
	const char *host;
	int port;
	unsigned flowinfo = 0, scope = 0;

	memset(ss, 0, sizeof(*ss));
	if (!PyTuple_Check(addr)) {
		PyErr_SetString(PyExc_TypeError, "address: a (host, port) tuple");
		return -1;
	}
	if (family == AF_INET) {
		struct sockaddr_in *sin = (void *)ss;

		if (!PyArg_ParseTuple(addr, "si:address", &host, &port))
			return -1;
		sin->sin_family = AF_INET;
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			goto bad;
		sin->sin_port = htons((uint16_t)port);
		*len = sizeof(*sin);
	} else if (family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (void *)ss;

		if (!PyArg_ParseTuple(addr, "si|II:address", &host, &port, &flowinfo, &scope))
			return -1;
		sin6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			goto bad;
		sin6->sin6_port = htons((uint16_t)port);
		sin6->sin6_flowinfo = htonl(flowinfo);
		sin6->sin6_scope_id = scope;
		*len = sizeof(*sin6);
	} else {
		PyErr_SetString(PyExc_ValueError,
				"only AF_INET and AF_INET6 sockets can be latched");
		return -1;
	}
	if (port < 0 || port > 65535) {
		PyErr_SetString(PyExc_OverflowError, "port must be 0-65535");
		return -1;
	}
	return 0;
bad:
	PyErr_Format(PyExc_ValueError, "address: %s is not a numeric address", host);
	return -1;
}

static int dict_set(PyObject *d, const char *key, PyObject *v)
{
	int r;

	if (!v)
		return -1;
	r = PyDict_SetItemString(d, key, v);
	Py_DECREF(v);
	return r;
}

static PyObject *ident_to_py(const latch_ident *id)
{
	uint8_t key[LATCH_SHA256_LEN], cb[LATCH_CB_LEN];
	int auth, r;
	char *line = NULL;
	const void *der;
	size_t der_len;
	PyObject *d;

	if (!id)
		Py_RETURN_NONE;
	d = PyDict_New();
	if (!d)
		return NULL;
	auth = latch_ident_get_auth(id);
	r = latch_ident_get_channel_binding(id, 0, cb, sizeof(cb));
	if (dict_set(d, "id", str_or_none(latch_ident_get_id(id))) ||
	    dict_set(d, "subject", str_or_none(latch_ident_get_subject(id))) ||
	    dict_set(d, "issuer", str_or_none(latch_ident_get_issuer(id))) ||
	    dict_set(d, "audit", str_or_none(latch_ident_get_audit(id))) ||
	    dict_set(d, "auth", auth < 0 ? Py_NewRef(Py_None) : PyLong_FromLong(auth)) ||
	    dict_set(d, "pubkey_sha256",
		     latch_ident_get_pubkey_id(id, key) == 0
			     ? PyBytes_FromStringAndSize((char *)key, sizeof(key))
			     : Py_NewRef(Py_None)) ||
	    dict_set(d, "channel_binding",
		     r == LATCH_CB_LEN ? PyBytes_FromStringAndSize((char *)cb, sizeof(cb))
				       : Py_NewRef(Py_None)))
		goto fail;
	if (latch_ident_get_cert_der(id, 0, &der, &der_len) == 0 &&
	    dict_set(d, "cert_der", PyBytes_FromStringAndSize(der, (Py_ssize_t)der_len)))
		goto fail;
	if (latch_ident_to_string(id, &line) == 0) {
		r = dict_set(d, "line", str_or_none(line));
		free(line);
		if (r)
			goto fail;
	}
	return d;
fail:
	Py_DECREF(d);
	return NULL;
}

/* A latch_info as a dict of plain values; frees info. */
static PyObject *info_to_py(latch_info *info)
{
	struct sockaddr_storage l, rm;
	uint32_t child = 0, spi_in = 0, spi_out = 0;
	int proto = 0, shared;
	PyObject *d;

	if (!info)
		Py_RETURN_NONE;
	d = PyDict_New();
	if (!d)
		goto out;
	if (dict_set(d, "id", PyLong_FromUnsignedLongLong(latch_info_get_id(info))) ||
	    dict_set(d, "state", PyLong_FromLong(latch_info_get_state(info))) ||
	    dict_set(d, "reason", PyLong_FromLong(latch_info_get_reason(info))) ||
	    dict_set(d, "message", str_or_none(latch_info_get_message(info))) ||
	    dict_set(d, "remote", ident_to_py(latch_info_get_remote(info))) ||
	    dict_set(d, "local", ident_to_py(latch_info_get_local(info))))
		goto fail;
	memset(&l, 0, sizeof(l));
	memset(&rm, 0, sizeof(rm));
	if (latch_info_get_tuple(info, &proto, &l, &rm) == 0 &&
	    (dict_set(d, "proto", PyLong_FromLong(proto)) ||
	     dict_set(d, "local_addr", addr_to_py(&l)) ||
	     dict_set(d, "remote_addr", addr_to_py(&rm))))
		goto fail;
	shared = latch_info_get_sa_shared(info);
	if (shared >= 0) {
		if (latch_info_get_sa_ids(info, &child, &spi_in, &spi_out) < 0)
			child = spi_in = spi_out = 0;
		if (dict_set(d, "sa",
			     Py_BuildValue(
				     "{s:O,s:i,s:N,s:N,s:I,s:I,s:I}", "shared",
				     shared ? Py_True : Py_False, "mode",
				     latch_info_get_sa_mode(info), "encr_alg",
				     str_or_none(latch_info_get_sa_encr_alg(info)), "integ_alg",
				     str_or_none(latch_info_get_sa_integ_alg(info)), "child_id",
				     child, "spi_in", spi_in, "spi_out", spi_out)))
			goto fail;
	}
	goto out;
fail:
	Py_CLEAR(d);
out:
	latch_info_free(info);
	return d;
}

/* ---- Ctx -------------------------------------------------------------- */

/* An event as the event function saw it: kept in C, as it runs without the GIL. */
struct event {
	uint64_t id;
	int state, reason;
	char *message;
};

struct events {
	struct event *v;
	size_t n, cap;
};

typedef struct {
	PyObject_HEAD latch_ctx *ctx;
	PyThread_type_lock lock;
	struct events events; /* filled by the event function, under lock */
} CtxObject;

static void events_free(struct events *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i].message);
	free(e->v);
	*e = (struct events){ 0 };
}

static PyTypeObject CtxType;

/* Run stmt with the GIL released and the ctx's lock held. */
#define UNLOCKED(self, stmt)                                                           \
	do {                                                                           \
		Py_BEGIN_ALLOW_THREADS PyThread_acquire_lock((self)->lock, WAIT_LOCK); \
		stmt;                                                                  \
		PyThread_release_lock((self)->lock);                                   \
		Py_END_ALLOW_THREADS                                                   \
	} while (0)

static int ctx_ok(CtxObject *self)
{
	if (!self->ctx) {
		PyErr_SetString(PyExc_ValueError, "I/O operation on a closed latch context");
		return -1;
	}
	return 0;
}

static PyObject *ctx_error(CtxObject *self, int r)
{
	/* another thread may have closed the ctx while this call waited for its lock */
	return raise_errno(r,
			   self->ctx ? latch_ctx_last_error(self->ctx) : "the context was closed");
}

/*
 * Called from latch_ctx_process(), which runs without the GIL and under the
 * ctx's lock: the event is kept in C (no Python object made here, so no
 * finalizer can run and want the lock). Out of memory, it is counted as lost.
 */
static void on_event(latch_ctx *ctx, uint64_t id, int state, int reason, const char *message,
		     void *userdata)
{
	struct events *e = &((CtxObject *)userdata)->events;
	struct event *v = e->v;

	if (e->n == e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 16;

		v = realloc(e->v, cap * sizeof(*v));
		if (!v)
			return;
		e->v = v;
		e->cap = cap;
	}
	v[e->n++] = (struct event){ id, state, reason, message ? strdup(message) : NULL };
}

static int Ctx_init(CtxObject *self, PyObject *args, PyObject *kw)
{
	static char *names[] = { "path", "timeout_ms", NULL };
	const char *path = NULL;
	int timeout = -2, r;
	latch_ctx *ctx = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|z$i:Ctx", names, &path, &timeout))
		return -1;
	if (self->ctx) {
		PyErr_SetString(PyExc_RuntimeError, "Ctx already initialised");
		return -1;
	}
	if (!self->lock && !(self->lock = PyThread_allocate_lock())) {
		PyErr_NoMemory();
		return -1;
	}
	Py_BEGIN_ALLOW_THREADS r = latch_ctx_new(&ctx, path, 0);
	Py_END_ALLOW_THREADS if (r < 0)
	{
		/* nothing (or nothing that speaks latchd's protocol) answers: latchd unavailable */
		char words[160];

		snprintf(words, sizeof(words), "latchd is not reachable on %s (%s)",
			 path ? path
			      : (getenv(LATCH_SOCKET_ENV) ? getenv(LATCH_SOCKET_ENV)
							  : LATCH_SOCKET_DEFAULT),
			 strerror(-r));
		raise_errno(r == -ENOENT || r == -ECONNREFUSED || r == -ECONNRESET ||
					    r == -EPROTOTYPE || r == -ENOTSOCK || r == -ETIMEDOUT
				    ? -ESRCH
				    : r,
			    words);
		return -1;
	}
	self->ctx = ctx;
	if (latch_ctx_set_event_fn(ctx, on_event, self) < 0 ||
	    (timeout != -2 && latch_ctx_set_timeout(ctx, timeout) < 0)) {
		PyErr_SetString(PyExc_ValueError, "timeout_ms: -1 or a number of milliseconds");
		return -1;
	}
	return 0;
}

static void Ctx_dealloc(CtxObject *self)
{
	latch_ctx_free(self->ctx);
	if (self->lock)
		PyThread_free_lock(self->lock);
	events_free(&self->events);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Ctx_close(CtxObject *self, PyObject *unused)
{
	if (self->ctx)
		UNLOCKED(self, latch_ctx_free(self->ctx); self->ctx = NULL);
	Py_RETURN_NONE;
}

static PyObject *Ctx_fileno(CtxObject *self, PyObject *unused)
{
	if (ctx_ok(self))
		return NULL;
	return PyLong_FromLong(latch_ctx_get_fd(self->ctx));
}

static PyObject *Ctx_last_error(CtxObject *self, PyObject *unused)
{
	if (ctx_ok(self))
		return NULL;
	return str_or_none(latch_ctx_last_error(self->ctx));
}

static PyObject *Ctx_pending(CtxObject *self, PyObject *unused)
{
	if (ctx_ok(self))
		return NULL;
	return PyLong_FromLong(latch_ctx_pending(self->ctx));
}

/* Read what latchd sent without blocking; the events delivered, as (id, state, reason, message). */
static PyObject *Ctx_process(CtxObject *self, PyObject *unused)
{
	struct events got = { 0 };
	PyObject *out;
	int r;

	if (ctx_ok(self))
		return NULL;
	UNLOCKED(self, r = latch_ctx_process(self->ctx); got = self->events;
		 self->events = (struct events){ 0 });
	if (r < 0 && got.n == 0)
		return ctx_error(self, r);
	out = PyList_New((Py_ssize_t)got.n);
	for (size_t i = 0; out && i < got.n; i++) {
		PyObject *ev =
			Py_BuildValue("(KiiN)", (unsigned long long)got.v[i].id, got.v[i].state,
				      got.v[i].reason, str_or_none(got.v[i].message));

		if (!ev)
			Py_CLEAR(out);
		else
			PyList_SET_ITEM(out, (Py_ssize_t)i, ev);
	}
	events_free(&got);
	return out;
}

static PyObject *Ctx_watch(CtxObject *self, PyObject *args)
{
	unsigned long long id = 0;
	int r;

	if (!PyArg_ParseTuple(args, "|K:watch", &id) || ctx_ok(self))
		return NULL;
	UNLOCKED(self, r = latch_ctx_watch(self->ctx, id));
	if (r < 0)
		return ctx_error(self, r);
	Py_RETURN_NONE;
}

static const latch_token *token_arg(PyObject *o)
{
	if (o == Py_None)
		return NULL;
	if (!PyObject_TypeCheck(o, &TokenType)) {
		PyErr_SetString(PyExc_TypeError, "token: a latch.Token or None");
		return (const latch_token *)-1;
	}
	return ((TokenObject *)o)->tok;
}

static int fd_arg(PyObject *o, int *fd)
{
	*fd = PyObject_AsFileDescriptor(o);
	if (*fd < 0) {
		if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_ValueError)) {
			PyErr_Clear();
			PyErr_SetString(PyExc_ValueError, "the socket is closed");
		}
		return -1;
	}
	return 0;
}

static PyObject *Ctx_connect(CtxObject *self, PyObject *args)
{
	PyObject *sock, *addr, *tokobj;
	int family, r, fd;
	unsigned flags;
	struct sockaddr_storage ss;
	socklen_t len;
	const latch_token *tok;
	latch_info *info = NULL;

	if (!PyArg_ParseTuple(args, "OiOOI:connect", &sock, &family, &addr, &tokobj, &flags) ||
	    ctx_ok(self) || fd_arg(sock, &fd) || addr_from_py(family, addr, &ss, &len))
		return NULL;
	if ((tok = token_arg(tokobj)) == (const latch_token *)-1)
		return NULL;
	UNLOCKED(self,
		 r = latch_connect(self->ctx, fd, (struct sockaddr *)&ss, len, tok, flags, &info));
	if (r < 0 && r != -EINPROGRESS)
		return ctx_error(self, r);
	return Py_BuildValue("(iN)", r, info_to_py(info));
}

/* listen and attach: a socket and a token in, the latch's info out. */
typedef int socket_token_fn(latch_ctx *ctx, int fd, const latch_token *tok, unsigned flags,
			    latch_info **ret);

static PyObject *socket_token_call(CtxObject *self, PyObject *args, const char *format,
				   socket_token_fn *fn)
{
	PyObject *sock, *tokobj;
	const latch_token *tok;
	latch_info *info = NULL;
	int fd, r;

	if (!PyArg_ParseTuple(args, format, &sock, &tokobj) || ctx_ok(self) || fd_arg(sock, &fd))
		return NULL;
	if ((tok = token_arg(tokobj)) == (const latch_token *)-1)
		return NULL;
	UNLOCKED(self, r = fn(self->ctx, fd, tok, 0, &info));
	if (r < 0)
		return ctx_error(self, r);
	return info_to_py(info);
}

static PyObject *Ctx_listen(CtxObject *self, PyObject *args)
{
	return socket_token_call(self, args, "OO:listen", latch_listen);
}

static PyObject *Ctx_attach(CtxObject *self, PyObject *args)
{
	return socket_token_call(self, args, "OO:attach", latch_socket_attach);
}

static PyObject *Ctx_accept(CtxObject *self, PyObject *args)
{
	PyObject *sock;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	latch_info *info = NULL;
	unsigned flags = 0;
	int fd, r;

	if (!PyArg_ParseTuple(args, "O|I:accept", &sock, &flags) || ctx_ok(self) ||
	    fd_arg(sock, &fd))
		return NULL;
	memset(&ss, 0, sizeof(ss));
	UNLOCKED(self, r = latch_accept(self->ctx, fd, (struct sockaddr *)&ss, &len, flags, &info));
	if (r < 0)
		return ctx_error(self, r);
	return Py_BuildValue("(iNN)", r, addr_to_py(&ss), info_to_py(info));
}

static PyObject *Ctx_query(CtxObject *self, PyObject *args)
{
	PyObject *sock;
	latch_info *info = NULL;
	int fd, r;

	if (!PyArg_ParseTuple(args, "O:query", &sock) || ctx_ok(self) || fd_arg(sock, &fd))
		return NULL;
	UNLOCKED(self, r = latch_socket_query(self->ctx, fd, &info));
	if (r < 0)
		return ctx_error(self, r);
	return info_to_py(info);
}

static PyObject *Ctx_query_id(CtxObject *self, PyObject *args)
{
	unsigned long long id;
	latch_info *info = NULL;
	int r;

	if (!PyArg_ParseTuple(args, "K:query_id", &id) || ctx_ok(self))
		return NULL;
	UNLOCKED(self, r = latch_query(self->ctx, id, &info));
	if (r < 0)
		return ctx_error(self, r);
	return info_to_py(info);
}

static PyObject *Ctx_release(CtxObject *self, PyObject *args)
{
	PyObject *sock;
	int fd, r;

	if (!PyArg_ParseTuple(args, "O:release", &sock) || ctx_ok(self) || fd_arg(sock, &fd))
		return NULL;
	UNLOCKED(self, r = latch_socket_release(self->ctx, fd));
	if (r < 0)
		return ctx_error(self, r);
	Py_RETURN_NONE;
}

/* ---- Op: a connect or accept in flight -------------------------------- */

typedef struct {
	PyObject_HEAD CtxObject *ctx;
	latch_op *op;
	int fd;			      /* the op's socket: connect's fd, accept's new connection */
	struct sockaddr_storage addr; /* accept: the peer's address */
} OpObject;

static void Op_drop(OpObject *self)
{
	if (self->op && self->ctx->ctx)
		UNLOCKED(self->ctx, latch_op_cancel(self->ctx->ctx, self->op));
	self->op = NULL;
}

static void Op_dealloc(OpObject *self)
{
	Op_drop(self);
	Py_XDECREF(self->ctx);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

/* None while latchd has not answered; then connect's (rc, info) or accept's (fd, addr, info). */
static PyObject *Op_finish(OpObject *self, PyObject *unused)
{
	latch_info *info = NULL;
	int r;

	if (!self->op) {
		PyErr_SetString(PyExc_ValueError, "the operation is finished or cancelled");
		return NULL;
	}
	if (ctx_ok(self->ctx))
		return NULL;
	UNLOCKED(self->ctx, r = latch_op_finish(self->ctx->ctx, self->op, &info));
	if (r == -EAGAIN)
		Py_RETURN_NONE;
	self->op = NULL;
	if (r < 0 && r != -EINPROGRESS)
		return ctx_error(self->ctx, r);
	if (self->addr.ss_family)
		return Py_BuildValue("(iNN)", r, addr_to_py(&self->addr), info_to_py(info));
	return Py_BuildValue("(iN)", r, info_to_py(info));
}

static PyObject *Op_cancel(OpObject *self, PyObject *unused)
{
	Op_drop(self);
	Py_RETURN_NONE;
}

static PyObject *Op_fileno(OpObject *self, PyObject *unused)
{
	return PyLong_FromLong(self->fd);
}

static PyMethodDef Op_methods[] = {
	{ "finish", (PyCFunction)Op_finish, METH_NOARGS,
	  PyDoc_STR("finish() -> None while latchd has not answered, else the outcome") },
	{ "cancel", (PyCFunction)Op_cancel, METH_NOARGS,
	  PyDoc_STR("cancel(): forget the operation (an accepted connection is closed)") },
	{ "fileno", (PyCFunction)Op_fileno, METH_NOARGS,
	  PyDoc_STR("fileno() -> the socket the operation is about") },
	{ NULL },
};

static PyTypeObject OpType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "latch._latch.Op",
	.tp_doc = PyDoc_STR("A latch_connect_start/latch_accept_start operation in flight."),
	.tp_basicsize = sizeof(OpObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_dealloc = (destructor)Op_dealloc,
	.tp_methods = Op_methods,
};

static PyObject *new_op(CtxObject *ctx, latch_op *op)
{
	OpObject *o = PyObject_New(OpObject, &OpType);

	if (!o) {
		UNLOCKED(ctx, latch_op_cancel(ctx->ctx, op));
		return NULL;
	}
	o->ctx = (CtxObject *)Py_NewRef(ctx);
	o->op = op;
	o->fd = latch_op_get_fd(op);
	memset(&o->addr, 0, sizeof(o->addr));
	return (PyObject *)o;
}

static PyObject *Ctx_connect_start(CtxObject *self, PyObject *args)
{
	PyObject *sock, *addr, *tokobj;
	int family, r, fd;
	unsigned flags;
	struct sockaddr_storage ss;
	socklen_t len;
	const latch_token *tok;
	latch_op *op = NULL;

	if (!PyArg_ParseTuple(args, "OiOOI:connect_start", &sock, &family, &addr, &tokobj,
			      &flags) ||
	    ctx_ok(self) || fd_arg(sock, &fd) || addr_from_py(family, addr, &ss, &len))
		return NULL;
	if ((tok = token_arg(tokobj)) == (const latch_token *)-1)
		return NULL;
	UNLOCKED(self, r = latch_connect_start(self->ctx, fd, (struct sockaddr *)&ss, len, tok,
					       flags, &op));
	if (r < 0)
		return ctx_error(self, r);
	return new_op(self, op);
}

/* None when no connection is waiting (accept4's EAGAIN), else an Op. */
static PyObject *Ctx_accept_start(CtxObject *self, PyObject *args)
{
	PyObject *sock, *o;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	unsigned flags = 0;
	latch_op *op = NULL;
	int fd, r;

	if (!PyArg_ParseTuple(args, "O|I:accept_start", &sock, &flags) || ctx_ok(self) ||
	    fd_arg(sock, &fd))
		return NULL;
	memset(&ss, 0, sizeof(ss));
	UNLOCKED(self,
		 r = latch_accept_start(self->ctx, fd, (struct sockaddr *)&ss, &len, flags, &op));
	if (r == -EAGAIN || r == -EWOULDBLOCK)
		Py_RETURN_NONE;
	if (r < 0)
		return ctx_error(self, r);
	o = new_op(self, op);
	if (o)
		((OpObject *)o)->addr = ss;
	return o;
}

static PyMethodDef Ctx_methods[] = {
	{ "close", (PyCFunction)Ctx_close, METH_NOARGS,
	  PyDoc_STR("close the connection to latchd") },
	{ "fileno", (PyCFunction)Ctx_fileno, METH_NOARGS,
	  PyDoc_STR("the descriptor to poll for reading") },
	{ "last_error", (PyCFunction)Ctx_last_error, METH_NOARGS,
	  PyDoc_STR("latchd's words for the last failure") },
	{ "pending", (PyCFunction)Ctx_pending, METH_NOARGS,
	  PyDoc_STR("events kept and not yet delivered") },
	{ "process", (PyCFunction)Ctx_process, METH_NOARGS,
	  PyDoc_STR("read without blocking; list of (latch_id, state, reason, message)") },
	{ "watch", (PyCFunction)Ctx_watch, METH_VARARGS,
	  PyDoc_STR("watch(latch_id=0): also receive events for that latch (0: all)") },
	{ "connect", (PyCFunction)Ctx_connect, METH_VARARGS,
	  PyDoc_STR("connect(sock, family, addr, token, flags) -> (rc, info)") },
	{ "listen", (PyCFunction)Ctx_listen, METH_VARARGS,
	  PyDoc_STR("listen(sock, token) -> info") },
	{ "attach", (PyCFunction)Ctx_attach, METH_VARARGS,
	  PyDoc_STR("attach(sock, token) -> info: latch the socket's coming connect(2)") },
	{ "accept", (PyCFunction)Ctx_accept, METH_VARARGS,
	  PyDoc_STR("accept(sock, flags=0) -> (fd, addr, info)") },
	{ "query", (PyCFunction)Ctx_query, METH_VARARGS, PyDoc_STR("query(sock) -> info") },
	{ "query_id", (PyCFunction)Ctx_query_id, METH_VARARGS,
	  PyDoc_STR("query_id(latch_id) -> info") },
	{ "release", (PyCFunction)Ctx_release, METH_VARARGS,
	  PyDoc_STR("release(sock): end the socket's latch") },
	{ "connect_start", (PyCFunction)Ctx_connect_start, METH_VARARGS,
	  PyDoc_STR("connect_start(sock, family, addr, token, flags) -> Op") },
	{ "accept_start", (PyCFunction)Ctx_accept_start, METH_VARARGS,
	  PyDoc_STR("accept_start(sock, flags=0) -> Op, or None when nobody is waiting") },
	{ NULL },
};

static PyTypeObject CtxType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "latch._latch.Ctx",
	.tp_doc = PyDoc_STR("Ctx(path=None, *, timeout_ms=...): a connection to latchd "
			    "(latch_ctx). Use latch.Context."),
	.tp_basicsize = sizeof(CtxObject),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)Ctx_init,
	.tp_dealloc = (destructor)Ctx_dealloc,
	.tp_methods = Ctx_methods,
};

/* ---- Module ----------------------------------------------------------- */

static PyObject *mod_auth_name(PyObject *m, PyObject *args)
{
	int auth;

	if (!PyArg_ParseTuple(args, "i:auth_name", &auth))
		return NULL;
	return str_or_none(latch_auth_name(auth));
}

static PyMethodDef module_methods[] = {
	{ "auth_name", mod_auth_name, METH_VARARGS,
	  PyDoc_STR("auth_name(auth) -> 'PKIX_TRUSTED' or None") },
	{ NULL },
};

static struct PyModuleDef module = {
	PyModuleDef_HEAD_INIT,
	.m_name = "latch._latch",
	.m_doc = PyDoc_STR("liblatch's native API for the latch package (use latch, not this)."),
	.m_size = -1,
	.m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__latch(void);
PyMODINIT_FUNC PyInit__latch(void)
{
	static const struct {
		const char *name;
		long value;
	} consts[] = {
#define C(x) { #x, LATCH_##x }
		C(STATE_NONE),
		C(STATE_LISTENER),
		C(STATE_ESTABLISHED),
		C(STATE_BROKEN),
		C(STATE_CLOSED),
		C(STATE_LARVAL),
		C(REASON_NONE),
		C(REASON_SA_CONFLICT),
		C(REASON_SA_GONE),
		C(REASON_PEER_DEAD),
		C(REASON_PEER_CHANGED),
		C(REASON_POLICY),
		C(REASON_ADMIN),
		C(REASON_OWNER),
		C(REASON_KEY_MANAGER),
		C(REASON_DAEMON),
		C(REASON_RESTORED),
		C(REASON_NEW_CONNECTION),
		C(REASON_UNLATCHED),
		C(REASON_OVERFLOW),
		C(WANT_ANY),
		C(WANT_NO),
		C(WANT_YES),
		C(MODE_ANY),
		C(MODE_TRANSPORT),
		C(MODE_TUNNEL),
		C(ON_BREAK_RESET),
		C(ON_BREAK_WAIT),
		C(TOKEN_EXACT),
		C(TOKEN_ALLOW_UNLATCHED),
		C(TOKEN_PEER_BTNS),
		C(TOKEN_LEAP_OF_FAITH),
		C(ACCEPT_NONBLOCK),
		C(CONNECT_NO_CONNECT),
#undef C
	};
	PyObject *m, *errors;

	if (PyType_Ready(&TokenType) < 0 || PyType_Ready(&CtxType) < 0 || PyType_Ready(&OpType) < 0)
		return NULL;
	errors = PyImport_ImportModule("latch._errors");
	if (!errors)
		return NULL;
	error_fn = PyObject_GetAttrString(errors, "error");
	Py_DECREF(errors);
	if (!error_fn)
		return NULL;
	m = PyModule_Create(&module);
	if (!m)
		return NULL;
	for (size_t i = 0; i < sizeof(consts) / sizeof(consts[0]); i++)
		if (PyModule_AddIntConstant(m, consts[i].name, consts[i].value) < 0)
			goto fail;
	if (PyModule_AddStringConstant(m, "LIB_VERSION", latch_version()) < 0 ||
	    PyModule_AddObjectRef(m, "Token", (PyObject *)&TokenType) < 0 ||
	    PyModule_AddObjectRef(m, "Ctx", (PyObject *)&CtxType) < 0 ||
	    PyModule_AddObjectRef(m, "Op", (PyObject *)&OpType) < 0)
		goto fail;
	return m;
fail:
	Py_DECREF(m);
	return NULL;
}
