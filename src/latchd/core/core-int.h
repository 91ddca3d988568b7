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
#include "latchd/core/pending.h"
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
	uint32_t reqid_next;	  /* where the search for a free reqid starts */
	struct pending_set *pend; /* pending.h: requests waiting on charon */
	bool certs_listing;	  /* a list-certs is under way */
	bool certs_again;	  /* another IKE_SA came up meanwhile: list again */
	unsigned certs_gen;	  /* list-certs asked so far */
	uint64_t started_usec;
	uint64_t netns; /* SO_NETNS_COOKIE of latchd's network namespace */
	struct core_metrics metrics;
	struct core_health *health; /* core-admin.c: what charon says of itself, kernel probes */
};

/*
 * A feature of the core (attach, BTNS, linger, adoption): what it does at the
 * core's life-cycle events. The core calls every feature's hook, in the order
 * of core_features[] (dispatch.c), and names none: features call the core,
 * the core calls them only through this table. Every hook may be NULL.
 */
struct core_feature {
	const char *name;
	/* core_new, before enforcement opens: ec may be asked for more (attach's hold rule) */
	int (*open)(struct core *c, struct enforce_config *ec);
	/* core_new, once enforcement, charon's client and the journal are open */
	int (*start)(struct core *c);
	/* core_free, late (after enforcement and the database), in reverse order */
	void (*free)(struct core *c);
	/* charon is reachable (again), before latchd loads anything into it */
	void (*charon_reached)(struct core *c);
	/* charon is reachable (again): after latchd's credentials, before its connections */
	void (*charon_up)(struct core *c);
	/* charon went away (before the latches it carried are broken) */
	void (*charon_down)(struct core *c);
	/* charon's SAs and certificates are known (list-sas, list-certs answered) */
	void (*charon_known)(struct core *c);
	void (*child_up)(struct core *c, const struct sa_child *ch);
	void (*child_down)(struct core *c, uint32_t child_id);
	/* a latch changed state (after the database, before the journal and the ALERT) */
	void (*latch_changed)(struct core *c, struct latch *l, uint8_t old);
	/* a new latch takes flow f: before enforcement adds it */
	void (*flow_taken)(struct core *c, const struct flow *f);
	/*
	 * Flow latch l is closed (still in its last state, before CLOSED): true
	 * when the feature keeps the flow enforced and removes it later itself.
	 */
	bool (*flow_closed)(struct core *c, const struct latch *l);
	/* CONNECT, LATCH: the socket of req is given pol (0, or -errno with err: refused) */
	int (*protect)(struct core *c, struct request *req, const struct latch_policy *pol,
		       char *err, size_t el);
	void (*socket_gone)(struct core *c, uint64_t cookie);
	void (*client_gone)(struct core *c, struct client *cl);
	/* a connection to load into charon: the feature's credentials and constraints over vc */
	void (*conn_cfg)(struct core *c, const struct conn *conn, struct charon_conn_cfg *vc);
	/* core_bind filled both identities: the feature's say (BTNS: never authenticated) */
	void (*bind)(struct core *c, const struct latch *l, const struct sa_ike *ike,
		     const struct ike_ident *id, struct latch_ident *remote,
		     struct latch_ident *local);
};

/* Call every feature's hook (a void one) with the arguments given, c first. */
#define CORE_FEATURES_CALL(hook, ...)                                                   \
	do {                                                                            \
		for (const struct core_feature *const *f_ = core_features; *f_; f_++) { \
			if ((*f_)->hook)                                                \
				(*f_)->hook(__VA_ARGS__);                               \
		}                                                                       \
	} while (0)

/* Which passed socket a request takes (the codec's rule, docs/ipc.md), checked again here. */
enum core_fd {
	CORE_FD_NONE,
	CORE_FD_OPTIONAL,
	CORE_FD_REQUIRED,
};

/*
 * One row per message type of the protocol (shared/proto.h): the handler and
 * the checks every request of that type gets before it runs, in this order:
 * the socket (-EBADF: missing or not taken), a passed socket's kind and
 * namespace (check_socket), the caller's rights (-EPERM).
 */
struct core_handler {
	uint16_t type;
	/* NULL: not the core's (answered by the control module, or no request) */
	int (*handle)(struct core *c, struct request *req, char *err, size_t el);
	enum core_fd fd;
	const char *admin_only; /* non-NULL: root and the admin group only; what, for the refusal */
	bool makes_latch;	/* its refusals are counted (core_metrics_refused) */
};

/* dispatch.c: the core's tables */
extern const struct core_feature *const core_features[]; /* NULL-terminated */
extern const struct core_handler core_handlers[];
extern const size_t core_n_handlers;
int core_handle(void *core, struct request *req, char *err, size_t errlen);

/* core.c */
/* Call act on every latch want accepts (collected first: act may close latches). */
void core_each_matching(struct core *c, bool (*want)(void *u, struct latch *l), void *u,
			void (*act)(struct core *c, struct latch *l, void *u));
/* Bind a latch without an SA (lost, broken, adopted) to a congruent one, if there is. */
bool core_try_restore(struct core *c, struct latch *l);
void core_rejudge_all(struct core *c);
/* charon's SAs and certificates are known: the features' charon_known hooks. */
void core_charon_known(struct core *c);
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
/* A listener's responder connection; the BTNS one, and the authenticated one beside, for BTNS. */
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

/* The features (dispatch.c lists them in core_features[]) */
extern const struct core_feature core_btns_feature;   /* core-btns.c */
extern const struct core_feature core_attach_feature; /* core-attach.c */
extern const struct core_feature core_linger_feature; /* core-linger.c */
extern const struct core_feature core_adopt_feature;  /* core-adopt.c */
extern const struct core_feature core_health_feature; /* core-admin.c: STATUS's doctor lines */

/*
 * core-metrics.c: the events of a latch, counted and logged (journal fields,
 * latchd(8) LOGGING), and latchctl metrics. changed: after every state
 * change; refused: a latch request answered with -err (l: its latch, if made).
 */
void core_metrics_changed(struct core *c, const struct latch *l, uint8_t old);
void core_metrics_refused(struct core *c, const struct request *req, const struct latch *l, int err,
			  const char *why);
int core_req_metrics(struct core *c, struct request *req, char *err, size_t el);

/* Request handlers (dispatch.c lists them in core_handlers[]) */
/* core-req.c: latches */
int core_req_connect(struct core *c, struct request *req, char *err, size_t el);
int core_req_latch(struct core *c, struct request *req, char *err, size_t el);
int core_req_listen(struct core *c, struct request *req, char *err, size_t el);
int core_req_accept(struct core *c, struct request *req, char *err, size_t el);
int core_req_query(struct core *c, struct request *req, char *err, size_t el);
int core_req_release(struct core *c, struct request *req, char *err, size_t el);
int core_req_close(struct core *c, struct request *req, char *err, size_t el);
int core_req_watch(struct core *c, struct request *req, char *err, size_t el);
/* core-admin.c: latchctl's */
int core_req_status(struct core *c, struct request *req, char *err, size_t el);
int core_req_list(struct core *c, struct request *req, char *err, size_t el);
int core_req_peer_list(struct core *c, struct request *req, char *err, size_t el);
/* core-attach.c: the draft flow, ATTACH (an attached socket's first packet is held) */
int core_req_attach(struct core *c, struct request *req, char *err, size_t el);
/* core-btns.c: PIN_LIST, PIN_DELETE */
int core_req_pins(struct core *c, struct request *req, char *err, size_t el);

/* core-wait.c: the requests that wait on charon */
int core_pending_open(struct core *c);
/*
 * A latch waiting for its SA, answering req (NULL: none, an attached
 * socket's); sock: the latch's socket, kept (dup) for the kernel data
 * plane's policies, -1 when there is none. NULL when out of memory or fds.
 */
struct pending *core_pending_new(struct core *c, struct latch *l, struct request *req, int sock);
/* Answer a pending request (0: with the latch's info) and forget it; on error the latch ends. */
void core_reply_pending(struct core *c, struct pending *p, int err, const char *why);
/* Is what p waits for there (or refused)? Answers it, or asks charon for its SA. */
void core_pending_resolve(struct core *c, struct pending *p);
/* core_pending_resolve() for every one: SAs, certificates or connections came. */
void core_resolve_pending(struct core *c);

/* core-req.c */
/* A latch for flow f owned by req's caller, its flow enforced (CONNECT's; ATTACH's too). */
int core_new_flow_latch(struct core *c, struct request *req, const struct flow *f,
			const struct latch_policy *pol, struct latch **ret, char *err, size_t el);
/* The request's PROTECTION and PEER, and the caller's right to them (weaker needs an admin). */
int core_req_policy(struct core *c, const struct request *req, struct latch_policy *ret, char *err,
		    size_t el);

/* core-btns.c: BTNS peers and leap-of-faith pins (docs/btns.md) */
/* Does the token admit BTNS peers (and so get BTNS connections)? */
bool core_btns_wanted(const struct core *c, const struct latch_policy *p);
/*
 * The certificate of a BTNS IKE_SA's peer, when charon's cache can tell it;
 * false when the IKE_SA is not BTNS. One it cannot tell is closed.
 */
bool core_btns_certs(struct core *c, const struct sa_ike *ike, const struct charon_cert *certs,
		     size_t n, struct ike_ident *id);
/*
 * After a listing: true when a BTNS name was found shared, and charon's
 * certificate cache is being emptied (listings wait until flushed is called).
 */
bool core_btns_listed(struct core *c, void (*flushed)(struct core *c));
/* Issued by the BTNS anchor: never the certificate of an authenticated peer. */
bool core_btns_issued(const struct core *c, const struct cert_info *info);
bool core_btns_peer(const struct core *c, const struct sa_ike *ike, const struct ike_ident *id);
/* What judge_sa() needs of BTNS for latch l: the anchor, and l's leap-of-faith pin. */
void core_btns_facts(const struct core *c, const struct latch *l, struct judge_facts *f);

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
