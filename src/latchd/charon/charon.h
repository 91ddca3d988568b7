/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_CHARON_H
#define LATCH_LATCHD_CHARON_H

/*
 * charon as the core sees it: typed values in, typed events out. Behind this
 * facade sit the VICI client (vici.h: two connections, reconnects), the typed
 * commands (vici-cmd.h: typed values to VICI messages and back) and the
 * event subscriptions, whose SA events feed the SA cache the owner passed
 * in (sacache.h: the owner reads SAs there, typed). No VICI message, key
 * name or command name crosses this header.
 *
 *	struct charon_ops ops = { .up = on_up, .down = on_down, .auth_failed = on_fail };
 *	charon_new(loop, "/run/charon.vici", sa, &ops, ctx, &ch);
 *	// ops.up(ctx, resync): (re)load what charon must know, charon_read_sas()
 *	charon_initiate(ch, "conn", "conn", on_initiated, ctx);
 *	// the outcome comes as SA cache callbacks, or ops.auth_failed
 *
 * Commands return 0 or -errno at once (-ENOTCONN while charon is away); their
 * callback runs exactly once, later, with 0 or: -ETIMEDOUT, -ECONNRESET
 * (charon went away), -EOPNOTSUPP, -ECANCELED (the facade was freed), -ENOMEM,
 * or -EREMOTEIO when charon ran the command and refused it, errmsg then
 * carrying charon's words, cleaned (shared/text.h). Everything passed to a
 * callback is borrowed for the duration of the call. Commands are answered in
 * the order they were issued (charon runs one at a time).
 *
 * Not thread-safe. Callbacks may issue commands but must not free the facade.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "latchd/base/event.h"
#include "latchd/charon/charon-info.h"
#include "latchd/charon/sacache.h"

/* ---- typed values ---- */

struct charon_blob {
	const void *data;
	size_t len;
};

/* A traffic selector to propose. */
struct charon_ts {
	const char *net;    /* "192.0.2.1/32", "2001:db8::/64", "dynamic" */
	uint8_t proto;	    /* IP protocol number; 0: any */
	uint16_t port;	    /* 0: any */
	uint16_t port_last; /* 0: just port; else a range port..port_last */
};

struct charon_auth_cfg {
	const char *auth; /* "pubkey", "psk", …; NULL: charon's default */
	const char *id;
	const struct charon_blob *certs, *cacerts, *pubkeys; /* PEM or DER contents */
	size_t n_certs, n_cacerts, n_pubkeys;
};

struct charon_child_cfg {
	const char *name;
	const struct charon_ts *local_ts, *remote_ts;
	size_t n_local_ts, n_remote_ts;
	const char *mode;	  /* "tunnel", "transport", "pass", "drop"; NULL: tunnel */
	uint32_t reqid;		  /* static reqid; 0: charon allocates one (not sent) */
	const char *start_action; /* "none", "trap", "start"; NULL: not sent (none) */
	const char *close_action, *dpd_action;
	const char *const *esp_proposals; /* NULL-terminated; NULL: charon's default */
};

/* A connection (an IKE config with its children) to load. */
struct charon_conn_cfg {
	const char *name;
	const char *const *local_addrs, *const *remote_addrs; /* NULL-terminated */
	unsigned version;				      /* 0: not sent (IKEv2 default) */
	bool encap;
	const char *unique;	      /* "no", "never", "keep", "replace"; NULL: not sent */
	const char *dpd_delay;	      /* e.g. "3s"; NULL: not sent */
	const char *const *proposals; /* IKE proposals; NULL-terminated */
	struct charon_auth_cfg local, remote;
	const struct charon_child_cfg *children;
	size_t n_children;
};

/* A certificate in charon's cache. */
struct charon_cert {
	const char *type; /* X509, X509_AC, X509_CRL, OCSP_RESPONSE, PUBKEY */
	const char *flag; /* NONE, CA, AA, OCSP (X509 only) */
	bool has_privkey;
	struct charon_blob data; /* DER; SubjectPublicKeyInfo for PUBKEY */
	const char *subject;	 /* PUBKEY only, when not a key id */
};

/*
 * An IKE_SA that went down before it was ever up (ike-updown in state
 * CONNECTING): charon or the peer refused authentication.
 */
struct charon_auth_failure {
	const char *conn;      /* the connection it ran under */
	const char *remote_id; /* what the peer claimed, cleaned (shared/text.h); "" if nothing */
};

/* ---- the facade ---- */

struct charon;

struct charon_ops {
	/* charon is reachable and every event subscribed; resync: it was lost since the first. */
	void (*up)(void *u, bool resync);
	/* charon went away, and every SA with it: the owner clears the SA cache. */
	void (*down)(void *u, int err, const char *why);
	/* Reported before the SA cache hears of the same event. */
	void (*auth_failed)(void *u, const struct charon_auth_failure *f);
};

/* sa is fed by every SA event and charon_read_sas(); it stays the caller's. */
int charon_new(struct ev_loop *loop, const char *path, struct sacache *sa,
	       const struct charon_ops *ops, void *userdata, struct charon **ret);
/* Fails every command under way with -ECANCELED; NULL-safe. */
void charon_free(struct charon *ch);
bool charon_is_up(const struct charon *ch);
/*
 * Why charon is unreachable, in words: the last failed connect ("cannot
 * connect to charon's VICI socket /run/charon.vici: No such file or
 * directory") or why charon went away; NULL while both connections are
 * open, even before every event is registered.
 */
const char *charon_error(const struct charon *ch);

typedef void (*charon_done_fn)(void *u, int err, const char *errmsg);

int charon_load_conn(struct charon *ch, const struct charon_conn_cfg *cfg, charon_done_fn cb,
		     void *u);
int charon_unload_conn(struct charon *ch, const char *name, charon_done_fn cb, void *u);
/*
 * Start child of connection conn without waiting (charon's timeout -1): the
 * outcome comes as events, an up child in the SA cache or ops.auth_failed.
 * cb tells only whether charon could start it.
 */
int charon_initiate(struct charon *ch, const char *conn, const char *child, charon_done_fn cb,
		    void *u);
/* Delete a child SA, or a whole IKE_SA, without waiting for the peer's answer. */
int charon_terminate_child(struct charon *ch, uint32_t child_id, charon_done_fn cb, void *u);
int charon_terminate_ike(struct charon *ch, uint32_t ike_id, charon_done_fn cb, void *u);

/* Our X.509 end-entity certificate, and a private key of any type (PEM). */
int charon_load_cert(struct charon *ch, struct charon_blob pem, charon_done_fn cb, void *u);
int charon_load_key(struct charon *ch, struct charon_blob pem, charon_done_fn cb, void *u);

/*
 * Read every IKE_SA charon has into the SA cache (not waiting for IKE_SAs
 * busy elsewhere in charon), then cb. On failure the cache is not touched.
 */
int charon_read_sas(struct charon *ch, charon_done_fn cb, void *u);

/* The unique ids of every IKE_SA charon has, in any state; the SA cache is not touched. */
typedef void (*charon_ids_fn)(void *u, int err, const char *errmsg, const uint64_t *ike_ids,
			      size_t n);
int charon_list_ike_ids(struct charon *ch, charon_ids_fn cb, void *u);

/* The names of the connections charon has loaded. */
typedef void (*charon_names_fn)(void *u, int err, const char *errmsg, const char *const *names,
				size_t n);
int charon_list_conns(struct charon *ch, charon_names_fn cb, void *u);

/* The X.509 end-entity certificates in charon's cache (received ones among them). */
typedef void (*charon_certs_fn)(void *u, int err, const char *errmsg,
				const struct charon_cert *certs, size_t n);
int charon_list_certs(struct charon *ch, charon_certs_fn cb, void *u);
/* Empty charon's certificate cache of X.509 certificates. */
int charon_flush_certs(struct charon *ch, charon_done_fn cb, void *u);

/* What charon says of itself (charon-info.h): its version, then the plugins it loaded. */
typedef void (*charon_info_fn)(void *u, int err, const char *errmsg,
			       const struct vici_charon *info);
int charon_info(struct charon *ch, charon_info_fn cb, void *u);

#endif
