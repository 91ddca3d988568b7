/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_CORE_INT_H
#define LATCH_LATCHD_CORE_INT_H

/* What the core's files share (core.h says which file does what). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "latchd/base/config.h"
#include "latchd/base/event.h"
#include "latchd/charon/charon.h"
#include "latchd/charon/sacache.h"
#include "latchd/control/control.h"
#include "latchd/core/core.h"
#include "latchd/core/judge.h"
#include "latchd/cred/ident.h"
#include "latchd/dataplane/enforce.h"
#include "latchd/db/latchdb.h"
#include "latchd/db/persist.h"

#define CORE_CAS_MAX	     CONFIG_MAX_CAS
#define CORE_CONN_CHECK_USEC 2000000  /* how often charon's connections are compared with ours */
#define CORE_LINGER_USEC     60000000 /* a closed latch's flow stays enforced (TIME_WAIT) */

/*
 * The reqids of latchd's initiator children: static, one per connection, from
 * a range of latchd's own (core-charon.c says why these cannot be shared).
 */
#define CORE_REQID_BASE 0x4c000000u
#define CORE_REQID_SPAN 0x01000000u

struct pem {
	char *text; /* PEM as charon takes it inline */
	size_t len;
	struct cert_info info;
};

/* What latchd knows of the peer of one IKE_SA beyond list-sas: its certificate. */
struct ike_ident {
	uint32_t ike_id;
	bool ready;   /* the certificate cache was read after the IKE_SA came up */
	unsigned gen; /* listings asked before it came up: only a later one may judge it */
	bool has_cert;
	const char *no_key; /* BTNS: why no key is told (static text), NULL when has_cert */
	struct cert_info cert;
	uint8_t der[IPC_CERT_DER_MAX]; /* the certificate itself, when has_cert and it fits */
	uint16_t der_len;
	struct ike_ident *next;
};

/* A connection latchd loaded into charon: initiator (per peer and constraint) or responder. */
struct conn {
	char name[64];
	bool responder;
	bool exact; /* initiator: one child whose selectors are exactly conn->flow (R19) */
	struct latch_policy pol; /* what it admits (peer id, CA) */
	struct flow flow;	 /* initiator: the addresses it connects */
	uint32_t reqid;		 /* initiator: its children's, CORE_REQID_*; responder: 0 */
	bool loaded;
	bool loading;
	bool btns;	/* a BTNS connection: our BTNS key, peers under the anchor (core-btns.c) */
	unsigned users; /* latches and listeners that rely on it */
	struct conn *next;
};

/*
 * A request waiting on charon: a latch waiting for its SA (CONNECT, LATCH),
 * for its peer's certificate (also ACCEPT), or a listener waiting for its
 * responder connection to load (LISTEN).
 */
struct pending {
	struct core *core;
	struct latch *latch;
	struct request *req; /* the request to answer; NULL once its client is gone */
	int sock;	     /* kernel data plane: the latch's socket (our dup), else -1 */
	struct conn *conn;
	bool responder; /* never initiates: the peer brought the SA (ACCEPT) */
	bool initiated; /* an initiate was sent */
	bool connected; /* the socket has a connection: reset it if the latch fails */
	struct ev_source *timer;
	struct pending *next;
};

/* core-metrics.c: what latchctl metrics counts since latchd started */
#define CORE_ERRNO_MAX 134 /* refusals are counted by errno, below this */
struct core_metrics {
	uint64_t established, closed;
	uint64_t breaks[IPC_REASON_UNLATCHED + 1]; /* by enum ipc_reason */
	uint64_t refusals[CORE_ERRNO_MAX];	   /* by errno */
};

struct core {
	struct config cfg;
	struct ev_loop *loop;
	struct control *ctl;
	struct charon *charon; /* charon/charon.h: commands, events, the SA cache fed */
	struct sacache *sa;
	struct latchdb *db;
	struct enforce *enf;
	struct attachments *att; /* core-attach.c: attached sockets and their held packets */
	struct persist *persist; /* NULL: latches are not kept across a restart */
	bool adopting;		 /* latches of a previous latchd wait for charon's state */
	int diag_fd;
	struct ev_source *diag_src;
	struct ev_source *conn_timer;
	struct closed_flow *lingering; /* flows of closed latches, still enforced a while */
	struct ev_source *linger_timer;

	struct pem cert; /* ours; text NULL when not configured */
	char local_id[IPC_DN_MAX + 1];
	struct pem cas[CORE_CAS_MAX];
	unsigned n_cas;

	struct core_btns *btns; /* core-btns.c: BTNS credentials and leap-of-faith pins */
	struct ike_ident *idents;
	struct conn *conns;
	uint32_t reqid_next; /* where the search for a free reqid starts */
	struct pending *pending;
	bool certs_listing; /* a list-certs is under way */
	bool certs_again;   /* another IKE_SA came up meanwhile: list again */
	unsigned certs_gen; /* list-certs asked so far */
	uint64_t started_usec;
	uint64_t netns; /* SO_NETNS_COOKIE of latchd's network namespace */
	struct core_metrics metrics;
	struct core_health *health; /* core-admin.c: what charon says of itself, kernel probes */
};

/* core-admin.c: the doctor's lines for STATUS (doctor.h) */
void core_health_charon_up(struct core *c); /* asks charon for its version and plugins */
void core_health_charon_down(struct core *c);
void core_health_free(struct core *c);

/* core.c */
/* Call act on every latch want accepts (collected first: act may close latches). */
void core_each_matching(struct core *c, bool (*want)(void *u, struct latch *l), void *u,
			void (*act)(struct core *c, struct latch *l, void *u));
/* Bind a latch without an SA (lost, broken, adopted) to a congruent one, if there is. */
bool core_try_restore(struct core *c, struct latch *l);
void core_resolve_pending(struct core *c);
void core_rejudge_all(struct core *c);
/* charon's state and certificates are known: re-adopted latches are bound or broken. */
void core_adopt_finish(struct core *c);
void core_break(struct core *c, struct latch *l, uint16_t reason);
/*
 * Kernel data plane: hold latch l's socket to child ch (its reqid), or block
 * it (ch NULL). fd is the socket, or -1 once the request that passed it is
 * over: then a copy of its owner's descriptor (sockdiag_fetch). libipsec: 0.
 */
int core_sock_hold(struct core *c, struct latch *l, int fd, const struct sa_ike *ike,
		   const struct sa_child *ch);
void core_close(struct core *c, struct latch *l, uint16_t reason, bool reset);
const struct ike_ident *core_ident(const struct core *c, uint32_t ike_id);
/*
 * A latch waiting for its SA, answering req (NULL: none, an attached
 * socket's); sock: the latch's socket, kept (dup) for the kernel data
 * plane's policies, -1 when there is none. NULL when out of memory or fds.
 */
struct pending *core_pending_new(struct core *c, struct latch *l, struct request *req, int sock);
void core_pending_free(struct core *c, struct pending *p);

/*
 * Judge a child SA for a latch's policy and, for an established latch, its
 * latched peer (judge_sa() with what the core knows): 0 acceptable; -EACCES
 * another peer or one the policy refuses; -EPROTO weaker or other
 * protection; -EAGAIN the peer's certificate is not known yet. why gets the
 * reason in words.
 */
int core_judge(const struct core *c, const struct latch *l, const struct sa_ike *ike,
	       const struct sa_child *ch, char *why, size_t whylen);
/* Bind a latch to its carrying child: identities, SA, channel binding. */
void core_bind(struct core *c, struct latch *l, const struct sa_ike *ike,
	       const struct sa_child *ch);

/* core-charon.c */
int core_conn_initiator(struct core *c, const struct latch *l, struct conn **ret);
int core_conn_responder(struct core *c, const struct latch *l, struct conn **ret);
void core_conn_put(struct core *c, struct conn *conn);
void core_terminate_child(struct core *c, uint32_t child_id);
int core_initiate(struct core *c, struct pending *p);
/* IKE for connection conn_name failed (ike-updown in CONNECTING): fail its latches. */
void core_conn_failed(struct core *c, const char *conn_name, const char *remote_id);
void core_charon_up(struct core *c, bool resync);
/* Start comparing charon's connections with latchd's (an administrator may unload them). */
int core_watch_conns(struct core *c);
void core_list_certs(struct core *c);

/* core-linger.c: closed latches' flows stay enforced a while */
void core_linger(struct core *c, const struct latch *l);
void core_linger_forget(struct core *c, const struct flow *f);
void core_linger_child_down(struct core *c, uint32_t child_id);
void core_linger_child_up(struct core *c, const struct sa_child *ch);
int core_linger_start(struct core *c);
void core_linger_free(struct core *c);

/* core-adopt.c: latchd's own restart */
void core_readopt(struct core *c);

/*
 * core-metrics.c: the events of a latch, counted and logged (journal fields,
 * latchd(8) LOGGING), and latchctl metrics. changed: after every state
 * change; refused: a latch request answered with -err (l: its latch, if made).
 */
void core_metrics_changed(struct core *c, const struct latch *l, uint8_t old);
void core_metrics_refused(struct core *c, const struct request *req, const struct latch *l, int err,
			  const char *why);
int core_req_metrics(struct core *c, struct request *req, char *err, size_t el);

/* core-admin.c: latchctl's requests */
int core_req_status(struct core *c, struct request *req, char *err, size_t el);
int core_req_list(struct core *c, struct request *req, char *err, size_t el);
int core_req_peer_list(struct core *c, struct request *req, char *err, size_t el);

/* core-req.c */
int core_handle(void *core, struct request *req, char *err, size_t errlen);
void core_client_gone(void *core, struct client *cl);
/* Answer a pending request (0: with the latch's info) and forget it; on error the latch ends. */
void core_reply_pending(struct core *c, struct pending *p, int err, const char *why);
/* A latch for flow f owned by req's caller, its flow enforced (CONNECT's; ATTACH's too). */
int core_new_flow_latch(struct core *c, struct request *req, const struct flow *f,
			const struct latch_policy *pol, struct latch **ret, char *err, size_t el);
/* A policy weaker than the system's (allow unlatched) needs an administrator. */
int core_check_policy_rights(struct core *c, const struct request *req,
			     const struct latch_policy *pol, char *err, size_t el);

/* core-attach.c: the draft flow, ATTACH (an attached socket's first packet is held) */
struct attachments;
/* The NFQUEUE listener; sets ec's hold rule when it is bound (else ATTACH is EOPNOTSUPP). */
int core_attach_open(struct core *c, struct enforce_config *ec);
void core_attach_close(struct core *c);
int core_req_attach(struct core *c, struct request *req, char *err, size_t el);
/* A latch changed state: one made for an attached socket releases or drops its packets. */
void core_attach_changed(struct core *c, struct latch *l, uint8_t old);
void core_attach_gone(struct core *c, uint64_t cookie);
void core_attach_client_gone(struct core *c, struct client *cl);
/*
 * CONNECT, LATCH: the socket of req keeps pol's protection for its whole life
 * (libipsec: its mark; kernel: nothing, its policies do it). 0, or -errno
 * with err: the request must fail.
 */
int core_attach_protect(struct core *c, struct request *req, const struct latch_policy *pol,
			char *err, size_t el);

/* core-btns.c: BTNS peers and leap-of-faith pins (docs/btns.md) */
int core_btns_open(struct core *c);
void core_btns_free(struct core *c);
void core_btns_charon_up(struct core *c);
/* Does the token admit BTNS peers (and so get BTNS connections)? */
bool core_btns_wanted(const struct core *c, const struct latch_policy *p);
/* A BTNS connection's credentials and peer constraint, over what load_*() filled in. */
void core_btns_conn_cfg(struct core *c, const struct conn *conn, struct charon_conn_cfg *vc);
/* core_conn_responder(), plus the BTNS responder for tokens that admit BTNS peers. */
int core_btns_responder(struct core *c, const struct latch *l, struct conn **ret);
/*
 * The certificate of a BTNS IKE_SA's peer, when charon's cache can tell it;
 * false when the IKE_SA is not BTNS. One it cannot tell is closed.
 */
bool core_btns_certs(struct core *c, const struct sa_ike *ike, const struct charon_cert *certs,
		     size_t n, struct ike_ident *id);
/*
 * After a listing: true when a BTNS name was found shared, and charon's
 * certificate cache is being emptied (listings wait until it is done).
 */
bool core_btns_listed(struct core *c);
/* Issued by the BTNS anchor: never the certificate of an authenticated peer. */
bool core_btns_issued(const struct core *c, const struct cert_info *info);
bool core_btns_peer(const struct core *c, const struct sa_ike *ike, const struct ike_ident *id);
/* What judge_sa() needs of BTNS for latch l: the anchor, and l's leap-of-faith pin. */
void core_btns_facts(const struct core *c, const struct latch *l, struct judge_facts *f);
/* core_bind() for a BTNS peer: auth method, our BTNS identity, leap-of-faith pin. */
void core_btns_bind(struct core *c, const struct latch *l, const struct sa_ike *ike,
		    struct latch_ident *remote, struct latch_ident *local);
int core_req_pins(struct core *c, struct request *req, char *err, size_t el);

/* core-info.c */
void core_put_latch(const struct core *c, struct buf *b, const struct latch *l);
int core_reply_latch(const struct core *c, struct request *req, const struct latch *l);
void core_put_alert(struct buf *b, const struct latch *l, const char *why);
void core_put_ident(struct buf *b, uint16_t type, const struct latch_ident *id);
void core_put_child(struct buf *b, uint32_t ike_id, const struct sa_child *ch);
/* The identity of an IKE_SA's peer as latches report it. */
void core_ike_remote(const struct core *c, const struct sa_ike *ike, struct latch_ident *ret);
int core_get_policy(const struct wire_attrs *a, struct latch_policy *ret, char *err, size_t el);

#endif
