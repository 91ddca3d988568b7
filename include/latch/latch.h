/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCH_H
#define LATCH_LATCH_H

/*
 * liblatch: IPsec channels for applications (RFC 5660 connection latching).
 *
 *	latch_ctx *ctx;
 *	latch_token *tok;
 *	latch_info *info;
 *
 *	latch_ctx_new(&ctx, NULL, 0);			// connects to latchd
 *	latch_token_new(&tok);
 *	latch_token_set_encrypt(tok, LATCH_WANT_YES);
 *	latch_token_set_peer_id(tok, "b.example");	// who the peer must be
 *	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
 *	latch_connect(ctx, fd, sa, salen, tok, 0, &info); // latched, then connect(2)
 *	printf("%s\n", latch_ident_get_subject(latch_info_get_remote(info)));
 *	... poll latch_ctx_get_fd(ctx); latch_ctx_process(ctx) calls the event
 *	    function set with latch_ctx_set_event_fn() on BROKEN/CLOSED ...
 *	latch_info_free(info); latch_token_free(tok); latch_ctx_free(ctx);
 *
 * A server: latch_listen(ctx, lfd, tok, 0, NULL) on a listening socket, then
 * fd = latch_accept(ctx, lfd, NULL, NULL, 0, &info) gives each connection
 * with the identity IKE authenticated.
 *
 * Conventions. Every call that can fail returns 0 (or a non-negative count
 * or descriptor) on success and -errno on failure, and also sets errno;
 * latch_ctx_last_error() gives latchd's words for the last failure on that
 * ctx. Output parameters come last and are not written on failure. Objects
 * are opaque; the caller owns what a function returns through an output
 * parameter and frees it with the matching _free(), which accepts NULL.
 * Getters returning pointers lend memory owned by the object. File
 * descriptors are always borrowed: the library passes the socket to latchd
 * (SCM_RIGHTS) and never closes it. Unknown bits in a flags word are
 * -EINVAL.
 *
 * Threads: there is no global state and no hidden thread. One ctx is not
 * thread-safe; separate ctxs are independent. Calls that ask latchd wait for
 * its answer (latch_ctx_set_timeout()); events arriving meanwhile are kept
 * and delivered by the next latch_ctx_process(). An event loop connects and
 * accepts without waiting: latch_connect_start(), latch_accept_start(),
 * latch_op_finish() (below, and examples/evloop.c).
 *
 * Errors common to the calls that ask latchd: -ECONNRESET (latchd went
 * away; make a new ctx), -ETIMEDOUT (no answer in time), -EBADMSG or
 * -EPROTO (latchd sent something this library does not understand), and
 * whatever latchd answers: -EACCES/-EPERM (peer not acceptable, not
 * allowed), -ECONNREFUSED (no SA could be made), -ENOENT (no such latch),
 * -ENOSPC (a per-user limit).
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LATCH_VERSION_MAJOR 0
#define LATCH_VERSION_MINOR 1

/* Where latch_ctx_new() connects when given no path and LATCH_SOCKET is unset. */
#define LATCH_SOCKET_DEFAULT "/run/latch/latchd.sock"
#define LATCH_SOCKET_ENV     "LATCH_SOCKET"

#define LATCH_SHA256_LEN 32
/* "ipsec-end-point-sha256:": the RFC 5056 prefix of the exported channel binding. */
#define LATCH_CB_TYPE	    "ipsec-end-point-sha256"
#define LATCH_CB_LEN	    32
#define LATCH_CB_EXPORT_LEN (sizeof(LATCH_CB_TYPE) + LATCH_CB_LEN) /* type, ':', data */

#if defined(__GNUC__)
#define LATCH_WUR __attribute__((warn_unused_result))
#else
#define LATCH_WUR
#endif

typedef struct latch_ctx latch_ctx;
typedef struct latch_token latch_token;
typedef struct latch_ident latch_ident;
typedef struct latch_info latch_info;
typedef struct latch_op latch_op;

/* Numbers are ABI: append-only. */

#if defined(__GNUC__)
#define LATCH_DEPRECATED(why) __attribute__((deprecated(why)))
#else
#define LATCH_DEPRECATED(why)
#endif

/*
 * RFC 5660 §2.2 latch states, by the RFC's names, as latchctl and latchd's
 * logs say them (latch_state_name()); NONE: the connection is not latched (R33).
 */
enum latch_state {
	LATCH_STATE_NONE = 0,
	LATCH_STATE_LISTENER = 1,
	LATCH_STATE_ESTABLISHED = 2,
	LATCH_STATE_BROKEN = 3,
	LATCH_STATE_CLOSED = 4,
	LATCH_STATE_LARVAL = 5, /* §2.3: waiting for its SA; nothing of the flow moves */
	/* Its first name, kept for programs that use it. */
	LATCH_STATE_PENDING LATCH_DEPRECATED("RFC 5660 calls it LARVAL: LATCH_STATE_LARVAL") = 5,
};

enum latch_reason {
	LATCH_REASON_NONE = 0,
	LATCH_REASON_SA_CONFLICT = 1,  /* an SA covering the flow differs in peer or protection */
	LATCH_REASON_SA_GONE = 2,      /* the carrying SA went away */
	LATCH_REASON_PEER_DEAD = 3,    /* dead peer detection */
	LATCH_REASON_PEER_CHANGED = 4, /* the peer came back under another identity */
	LATCH_REASON_POLICY = 5,       /* a policy change affected the flow */
	LATCH_REASON_ADMIN = 6,	       /* closed by an administrator */
	LATCH_REASON_OWNER = 7,	       /* released by its owner, or the socket went away */
	LATCH_REASON_KEY_MANAGER = 8,  /* charon restarted */
	LATCH_REASON_DAEMON = 9,       /* latchd restarted and could not re-adopt it */
	LATCH_REASON_RESTORED = 10,    /* ESTABLISHED again */
	LATCH_REASON_NEW_CONNECTION = 11, /* a listener spawned this latch */
	LATCH_REASON_UNLATCHED = 12,	  /* accepted without a latch (token allowed it) */
	LATCH_REASON_OVERFLOW = 13, /* latch id 0: events were dropped, query the latches again */
};

/* A wish: the draft's ANY (system default) / DISABLE / ENABLE. */
enum latch_want {
	LATCH_WANT_ANY = 0,
	LATCH_WANT_NO = 1,
	LATCH_WANT_YES = 2,
};

enum latch_mode {
	LATCH_MODE_ANY = 0,
	LATCH_MODE_TRANSPORT = 1,
	LATCH_MODE_TUNNEL = 2,
};

/* What happens to the socket when its latch breaks (RFC 5660 §5.5). */
enum latch_on_break {
	LATCH_ON_BREAK_RESET = 1, /* the default: the connection is reset */
	LATCH_ON_BREAK_WAIT = 2,  /* packets are held until the same peer is back */
};

/* How the peer was authenticated: draft-ietf-btns-c-api-04's list, in its order. */
enum latch_auth {
	LATCH_AUTH_NONE = 0,
	LATCH_AUTH_BTNS = 1, /* an unverified key: the pubKeyID is the identity */
	LATCH_AUTH_LEAP_OF_FAITH = 2,
	LATCH_AUTH_PSK = 3,
	LATCH_AUTH_GROUP_KEY = 4,
	LATCH_AUTH_XAUTH = 5,
	LATCH_AUTH_EAP = 6,
	LATCH_AUTH_PKIX_TRUSTED = 7,
	LATCH_AUTH_PKIX_INLINE = 8,
	LATCH_AUTH_PKIX_OFFLINE = 9,
};

/* Version of the library, "0.1.0". */
const char *latch_version(void);

/* ---- Context ---------------------------------------------------------- */

/*
 * Connect to latchd at path; NULL means $LATCH_SOCKET, or else
 * LATCH_SOCKET_DEFAULT. flags: 0. Caller owns *ret; free with
 * latch_ctx_free(). Errors: -ESRCH (latchd not running: nothing answers on path),
 * -EPROTO (another protocol version), -EINVAL, -ENOMEM.
 */
LATCH_WUR int latch_ctx_new(latch_ctx **ret, const char *path, unsigned flags);

/* Close the connection. Latches made through ctx stay: they belong to their sockets. */
void latch_ctx_free(latch_ctx *ctx);

/* latchd's words for the last failure on ctx; "" if none. Valid until the next call. */
const char *latch_ctx_last_error(const latch_ctx *ctx);

/* How long calls wait for latchd, in milliseconds; -1: forever. Default 30000. */
LATCH_WUR int latch_ctx_set_timeout(latch_ctx *ctx, int timeout_ms);

/*
 * Events: fn is called from latch_ctx_process() for every state change of
 * this ctx's latches (and of those named by latch_ctx_watch()): the latch's
 * id, its new enum latch_state, the enum latch_reason and latchd's message
 * (borrowed for the call; may be NULL). fn may call back into ctx.
 */
typedef void (*latch_event_fn)(latch_ctx *ctx, uint64_t latch_id, int state, int reason,
			       const char *message, void *userdata);
LATCH_WUR int latch_ctx_set_event_fn(latch_ctx *ctx, latch_event_fn fn, void *userdata);

/* The descriptor to poll for POLLIN; borrowed, owned by ctx. */
LATCH_WUR int latch_ctx_get_fd(const latch_ctx *ctx);

/* Events kept and not yet delivered: if > 0, call latch_ctx_process() without polling. */
LATCH_WUR int latch_ctx_pending(const latch_ctx *ctx);

/*
 * Deliver kept events and read what latchd sent, without blocking. Returns
 * the number of events delivered, or -ECONNRESET when latchd went away.
 * At most 1024 undelivered events are kept; when more arrive the oldest are
 * dropped, and the next delivery begins with one event for latch id 0,
 * state LATCH_STATE_NONE, reason LATCH_REASON_OVERFLOW and a message
 * counting them: the application should then query its latches again.
 */
LATCH_WUR int latch_ctx_process(latch_ctx *ctx);

/* Also receive events for latch id (0: every latch the caller may see). */
LATCH_WUR int latch_ctx_watch(latch_ctx *ctx, uint64_t latch_id);

/* ---- Protection tokens: what an application asks for ------------------ */

/* Flags of latch_token_set_flags(). */
#define LATCH_TOKEN_EXACT	    0x1u /* an SA of the flow's own (exact QoP, R19), not shared */
#define LATCH_TOKEN_ALLOW_UNLATCHED 0x2u /* fall back to an unlatched flow (and say so) */
#define LATCH_TOKEN_PEER_BTNS	    0x4u /* an unauthenticated (BTNS) peer is acceptable */
#define LATCH_TOKEN_LEAP_OF_FAITH   0x8u /* pin the peer's key on first contact */
#define LATCH_TOKEN_FLAGS_ALL	    0xfu

/* At most this many pinned keys per token. */
#define LATCH_TOKEN_SPKI_MAX 16

/*
 * A new token asking for the defaults: protection as system policy says,
 * the peer's shared SA, no unlatched fallback, reset when broken, any
 * authenticated peer. Caller owns *ret; free with latch_token_free().
 */
LATCH_WUR int latch_token_new(latch_token **ret);
void latch_token_free(latch_token *tok);
/* A deep copy. Caller owns *ret. */
LATCH_WUR int latch_token_dup(const latch_token *tok, latch_token **ret);

/* Confidentiality and integrity: enum latch_want. */
LATCH_WUR int latch_token_set_encrypt(latch_token *tok, int want);
LATCH_WUR int latch_token_set_integrity(latch_token *tok, int want);
/* enum latch_mode. */
LATCH_WUR int latch_token_set_mode(latch_token *tok, int mode);
/* Floors on key lengths in bits (cipher, integrity); 0: no floor; at most 65535. */
LATCH_WUR int latch_token_set_min_bits(latch_token *tok, unsigned encr_bits, unsigned integ_bits);
/* enum latch_on_break. */
LATCH_WUR int latch_token_set_on_break(latch_token *tok, int on_break);
/* LATCH_TOKEN_* bits; replaces the previous flags. */
LATCH_WUR int latch_token_set_flags(latch_token *tok, unsigned flags);
/* The system policy to use (draft policyName), ≤ 64 bytes; NULL clears. Copied. */
LATCH_WUR int latch_token_set_policy_name(latch_token *tok, const char *name);

/*
 * Who the peer may be; every constraint set must hold. Strings are copied,
 * NULL clears; identities and DNs ≤ 1024 bytes, printable.
 * peer_id: the exact IKE identity ("b.example", "C=CH, O=Lab, CN=b").
 * peer_id_pattern: '*' matches within one DN component or label run.
 * peer_ca: DN of the CA that must have issued the peer's certificate.
 * add_peer_spki: a pinned key, SHA-256 of its SubjectPublicKeyInfo (any
 * one of the pinned keys will do); -ENOSPC past LATCH_TOKEN_SPKI_MAX.
 */
LATCH_WUR int latch_token_set_peer_id(latch_token *tok, const char *id);
LATCH_WUR int latch_token_set_peer_id_pattern(latch_token *tok, const char *pattern);
LATCH_WUR int latch_token_set_peer_ca(latch_token *tok, const char *dn);
LATCH_WUR int latch_token_add_peer_spki(latch_token *tok, const uint8_t sha256[LATCH_SHA256_LEN]);
/*
 * Require the peer described by an identity (from a latch, or from
 * latch_ident_from_string()): its IKE identity (or certificate subject when
 * it has none), its issuer, and its key when known; a BTNS identity also
 * sets LATCH_TOKEN_PEER_BTNS, as its key is all that names it. Replaces the
 * token's peer constraints. Nothing of peer is kept.
 */
LATCH_WUR int latch_token_set_peer_ident(latch_token *tok, const latch_ident *peer);

/* Getters: the value, or -EINVAL for a NULL token. Strings: NULL when unset; borrowed. */
int latch_token_get_encrypt(const latch_token *tok);
int latch_token_get_integrity(const latch_token *tok);
int latch_token_get_mode(const latch_token *tok);
int latch_token_get_on_break(const latch_token *tok);
int latch_token_get_flags(const latch_token *tok);
LATCH_WUR int latch_token_get_min_bits(const latch_token *tok, unsigned *ret_encr,
				       unsigned *ret_integ);
const char *latch_token_get_policy_name(const latch_token *tok);
const char *latch_token_get_peer_id(const latch_token *tok);
const char *latch_token_get_peer_id_pattern(const latch_token *tok);
const char *latch_token_get_peer_ca(const latch_token *tok);
/* The i-th pinned key; -ENOENT past the last. */
LATCH_WUR int latch_token_get_peer_spki(const latch_token *tok, unsigned i,
					uint8_t ret[LATCH_SHA256_LEN]);

/* ---- Identities: read-only once obtained ------------------------------ */

void latch_ident_free(latch_ident *ident);
LATCH_WUR int latch_ident_dup(const latch_ident *ident, latch_ident **ret);

/* Strings borrowed from ident; NULL when latchd did not know them. */
const char *latch_ident_get_id(const latch_ident *ident);      /* IKE identity */
const char *latch_ident_get_subject(const latch_ident *ident); /* certificate subject DN */
const char *latch_ident_get_issuer(const latch_ident *ident);  /* issuing CA's DN */
const char *latch_ident_get_audit(const latch_ident *ident);   /* one line for logs */
/* enum latch_auth, or -ENODATA when unknown. */
int latch_ident_get_auth(const latch_ident *ident);
/* The pubKeyID: SHA-256 of the SubjectPublicKeyInfo. -ENODATA when unknown. */
LATCH_WUR int latch_ident_get_pubkey_id(const latch_ident *ident, uint8_t ret[LATCH_SHA256_LEN]);

/*
 * The channel's ipsec-end-point-sha256 binding (draft-ietf-btns-channel-
 * binding-api: SHA-256(SPKI initiator) XOR SHA-256(SPKI responder)), equal
 * on both ends. flags: LATCH_CB_EXPORT prefixes "ipsec-end-point-sha256:"
 * as RFC 5056 wants when it is handed to GSS-API or SASL. Returns the
 * length written (32, or LATCH_CB_EXPORT_LEN); -ERANGE if len is too
 * small, -ENODATA when the channel has none (a pre-shared key).
 */
#define LATCH_CB_EXPORT 0x1u
LATCH_WUR int latch_ident_get_channel_binding(const latch_ident *ident, unsigned flags, void *buf,
					      size_t len);

/*
 * The peer's certificate, DER-encoded, as charon received it in IKE, for
 * applications that check more than the names: i = 0 is the peer's own
 * certificate; *ret (borrowed from ident) and *ret_len are set. -ENODATA
 * when latchd sent none (no certificate: a pre-shared key, BTNS; a
 * certificate over 8192 bytes; a latch whose IKE_SA is gone, as a BROKEN
 * one's may be; an identity from latch_ident_from_string(), whose text form
 * does not carry it); -ENOENT for i ≥ 1, the issuers' chain,
 * which latchd does not carry (charon keeps received intermediates unlinked
 * from the SA).
 */
LATCH_WUR int latch_ident_get_cert_der(const latch_ident *ident, unsigned i, const void **ret,
				       size_t *ret_len);

/* 1 if a and b name the same peer (identity, method, subject, issuer, key), else 0. */
int latch_ident_same_peer(const latch_ident *a, const latch_ident *b);

/*
 * Serialized form, stable and documented in latch(3): one line
 *   latch-ident/1 id=… auth=PKIX_TRUSTED subject=… issuer=… spki=<hex> cb=<hex> audit=…
 * fields in that order, absent ones left out; values escape '%', space,
 * control and non-ASCII bytes as %XX. from_string(to_string(x)) equals x
 * and to_string(from_string(s)) equals s for every s to_string can write.
 * to_string: caller owns *ret, free() it. from_string: -EINVAL on any
 * deviation (unknown version or field, order, escape); caller owns *ret.
 */
LATCH_WUR int latch_ident_to_string(const latch_ident *ident, char **ret);
LATCH_WUR int latch_ident_from_string(const char *s, latch_ident **ret);

/* "PKIX_TRUSTED" for LATCH_AUTH_PKIX_TRUSTED; NULL when unknown. */
const char *latch_auth_name(int auth);
/* "LARVAL" for LATCH_STATE_LARVAL, as latchctl prints it; NULL for NONE or unknown. */
const char *latch_state_name(int state);

/* ---- A latch as latchd reports it ------------------------------------ */

void latch_info_free(latch_info *info);
/* The latch's id; 0 when the connection is not latched. */
uint64_t latch_info_get_id(const latch_info *info);
int latch_info_get_state(const latch_info *info);  /* enum latch_state */
int latch_info_get_reason(const latch_info *info); /* enum latch_reason */
/* Borrowed from info; NULL when absent. */
const char *latch_info_get_message(const latch_info *info);
const latch_ident *latch_info_get_remote(const latch_info *info);
const latch_ident *latch_info_get_local(const latch_info *info);
/* The parameters latched (what the SA gives, not only what was asked). */
const latch_token *latch_info_get_protection(const latch_info *info);
/*
 * The flow: IP protocol and both ends (AF_INET or AF_INET6 addresses with
 * ports). Any output may be NULL. -ENODATA when latchd sent no tuple.
 */
LATCH_WUR int latch_info_get_tuple(const latch_info *info, int *ret_proto,
				   struct sockaddr_storage *ret_local,
				   struct sockaddr_storage *ret_remote);
/*
 * The SA protection in force. shared: 1 when the SA carries other flows too
 * (RFC 5660 R20: QoP shared), 0 when it is the flow's own. Algorithms are
 * charon's names ("AES_GCM_16-256"); NULL when absent. -ENODATA when no SA.
 */
int latch_info_get_sa_shared(const latch_info *info);
int latch_info_get_sa_mode(const latch_info *info); /* enum latch_mode */
const char *latch_info_get_sa_encr_alg(const latch_info *info);
const char *latch_info_get_sa_integ_alg(const latch_info *info);
LATCH_WUR int latch_info_get_sa_ids(const latch_info *info, uint32_t *ret_child_id,
				    uint32_t *ret_spi_in, uint32_t *ret_spi_out);

/* ---- Sockets: TCP and connected UDP, IPv4 and IPv6 -------------------- */

/*
 * Latch fd to addr, then connect(2) it. An unbound socket is first bound to
 * the source address the kernel would use for addr (port 0), so latchd can
 * read the flow from the socket. latchd latches the flow and makes sure an
 * SA with an acceptable peer carries it (this may take seconds: IKE) before
 * the first packet leaves. connect(2) then runs as the socket is: blocking
 * or not. tok may be NULL (defaults). flags: 0. *ret (if ret is not
 * NULL) gets the latch; caller owns it. If connect(2) fails the latch is
 * released. -EINPROGRESS is passed through from a non-blocking connect(2):
 * the latch is up and *ret is written, the one error return that writes
 * its output.
 */
/*
 * flags for latch_connect: LATCH_CONNECT_NO_CONNECT latches the flow to addr
 * but leaves the socket unconnected: for a datagram socket that will
 * sendto(2) addr (the draft's per-datagram use, for one destination).
 */
#define LATCH_CONNECT_NO_CONNECT 0x1u
LATCH_WUR int latch_connect(latch_ctx *ctx, int fd, const struct sockaddr *addr, socklen_t addrlen,
			    const latch_token *tok, unsigned flags, latch_info **ret);

/*
 * Make a LISTENER latch for a listening TCP socket or a bound UDP socket:
 * only peers tok allows may connect, and every connection is latched.
 * flags: 0. ret may be NULL.
 */
LATCH_WUR int latch_listen(latch_ctx *ctx, int fd, const latch_token *tok, unsigned flags,
			   latch_info **ret);

/*
 * accept4(2) on a latched listener and latch the connection: returns the
 * new descriptor (close-on-exec; LATCH_ACCEPT_NONBLOCK makes it
 * non-blocking), which the caller owns, and in *ret its latch with the
 * peer's identity. addr and addrlen as for accept(2), may be NULL. A
 * connection without an acceptable SA is reset by latchd, closed here, and
 * reported as latchd's error (-ECONNREFUSED); if the listener allowed
 * unlatched connections it is returned with LATCH_STATE_NONE and
 * LATCH_REASON_UNLATCHED. -EAGAIN as accept4(2).
 */
#define LATCH_ACCEPT_NONBLOCK 0x1u
LATCH_WUR int latch_accept(latch_ctx *ctx, int lfd, struct sockaddr *addr, socklen_t *addrlen,
			   unsigned flags, latch_info **ret);

/*
 * ---- The same without waiting: for event loops ------------------------
 *
 * latch_connect_start() and latch_accept_start() send the request and
 * return at once with an op (0, or -errno as their blocking forms fail
 * before latchd is asked: a bad argument, accept4(2)'s -EAGAIN, ...).
 * Poll latch_ctx_get_fd() for POLLIN, then call latch_op_finish() (also
 * after latch_ctx_process(), which reads the answers too): -EAGAIN while
 * latchd has not answered; otherwise exactly what latch_connect() or
 * latch_accept() would have returned, with *ret, and the op is gone.
 * A connect op's connect(2) runs in latch_op_finish(): make the socket
 * non-blocking and take its -EINPROGRESS (*ret written) as with
 * latch_connect(). Any number of ops may be in flight on one ctx, along with
 * blocking calls and events; their answers come in any order. There is no
 * timeout but latchd's own (it answers -ETIMEDOUT when IKE does not come
 * up). An op belongs to its ctx: latch_ctx_free() frees those left.
 */
LATCH_WUR int latch_connect_start(latch_ctx *ctx, int fd, const struct sockaddr *addr,
				  socklen_t addrlen, const latch_token *tok, unsigned flags,
				  latch_op **ret);
/* accept4(2) now; the new connection is latch_op_get_fd(op) until finished. */
LATCH_WUR int latch_accept_start(latch_ctx *ctx, int lfd, struct sockaddr *addr, socklen_t *addrlen,
				 unsigned flags, latch_op **ret);
/* -EAGAIN, or the outcome (0/-EINPROGRESS for connect, the descriptor for accept, -errno). */
LATCH_WUR int latch_op_finish(latch_ctx *ctx, latch_op *op, latch_info **ret);
/* The socket the op is about: connect's fd, or accept's new connection. */
int latch_op_get_fd(const latch_op *op);
/*
 * Forget an op not finished; its answer, if it comes, is dropped. An accept
 * op's connection is closed. A connect op's socket may still be latched
 * (its packets never leave in clear): close it, or latch_socket_release().
 */
void latch_op_cancel(latch_ctx *ctx, latch_op *op);

/* Latch a socket that is already connected. -ENOENT/-EACCES when no acceptable SA carries it. */
LATCH_WUR int latch_socket_latch(latch_ctx *ctx, int fd, const latch_token *tok, unsigned flags,
				 latch_info **ret);

/*
 * For an application that will connect(2) itself: latchd holds the
 * socket's first packet until an SA acceptable to tok carries it, so it
 * never leaves in clear. An unbound socket is bound to the wildcard address
 * (port 0) first. The latch is LARVAL until then. flags: 0.
 */
LATCH_WUR int latch_socket_attach(latch_ctx *ctx, int fd, const latch_token *tok, unsigned flags,
				  latch_info **ret);

/*
 * The socket's latch: state, parameters, both identities, SA. -ENOENT if none.
 * A latch made through this ctx is usually answered by the library itself,
 * from what latchd last said, while latchd's shared counters show it
 * unchanged and the socket is the same one with the same ends (latch(3),
 * "Queries"); the answer is the same as asking.
 */
LATCH_WUR int latch_socket_query(latch_ctx *ctx, int fd, latch_info **ret);
/*
 * For datagrams: on an unconnected (listening) socket, who is behind the
 * datagrams from addr (as recvfrom(2) gave it): the latch info of the
 * socket's latch (a listener's, or the datagram latch made with
 * LATCH_CONNECT_NO_CONNECT) with the identity and SA of that peer.
 * -ENOENT when no SA of an acceptable peer carries them.
 */
LATCH_WUR int latch_socket_query_peer(latch_ctx *ctx, int fd, const struct sockaddr *addr,
				      socklen_t addrlen, latch_info **ret);
/*
 * Release the socket's latch (CLOSED). A latch lives as long as its
 * connection: releasing a connected socket's latch also resets the
 * connection (it never goes on in clear); a listener's release only ends the
 * listener latch.
 */
LATCH_WUR int latch_socket_release(latch_ctx *ctx, int fd);
/* The same by latch id. */
LATCH_WUR int latch_query(latch_ctx *ctx, uint64_t latch_id, latch_info **ret);
LATCH_WUR int latch_release(latch_ctx *ctx, uint64_t latch_id);

#ifdef __cplusplus
}
#endif

#endif
