/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_VICI_CMD_H
#define LATCH_LATCHD_VICI_CMD_H

/*
 * What latchd asks of charon, typed: the rest of the daemon never sees VICI's
 * bytes or key names. Each call queues one command on the client (vici.h)
 * and returns 0 or -errno at once; its callback runs exactly once, later.
 *
 * Errors in callbacks: those of struct vici_result (-ETIMEDOUT, -ECONNRESET,
 * …), or -EREMOTEIO when charon ran the command and answered success=no;
 * errmsg then carries charon's words. Everything passed to a callback is
 * borrowed for the duration of the call.
 *
 * Pitfalls handled here (measured against charon 5.9.8; docs/architecture.md):
 * - traffic selectors come back with service names ("[tcp/http-alt]"):
 *   vici_ts_parse() turns them back into numbers;
 * - rekeyed children linger in REKEYED/DELETED for 5 s: VICI_SAS_INSTALLED
 *   keeps only INSTALLED ones;
 * - a list-sa event over 512 KiB is dropped silently by charon (about 1,400
 *   children on one IKE_SA): list by IKE or child unique id.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "latchd/charon/charon.h"
#include "latchd/charon/vici.h"

typedef void (*vici_done_fn)(void *userdata, int err, const char *errmsg,
			     const struct vici_node *reply);

/* ---- traffic selectors ---- */

/* "192.0.2.1/32[tcp/40000]" into buf; -ENOSPC, or -EINVAL (a port needs a protocol). */
int vici_ts_format(const struct charon_ts *ts, char *buf, size_t len);

struct vici_ts_parsed {
	char net[64];
	uint8_t proto;
	uint16_t port, port_last; /* 0..0: any; from == to: one port */
};

/* Parse what charon prints, service names included. -EINVAL when not understood. */
int vici_ts_parse(const char *s, struct vici_ts_parsed *out);

/* ---- connections ---- */

/* The load-conn message for cfg, in swanctl's key order. */
int vici_conn_msg(const struct charon_conn_cfg *cfg, struct vici_node **out);

int vici_load_conn(struct vici_client *c, const struct charon_conn_cfg *cfg, vici_done_fn cb,
		   void *userdata);
int vici_unload_conn(struct vici_client *c, const char *name, vici_done_fn cb, void *userdata);

/*
 * The connection names of a get-conns reply (its "conns" list; the reply has
 * no "success" key). *names points into reply; free() it. 0, -EBADMSG when
 * there is no such list, -ENOMEM.
 */
int vici_conns_parse(const struct vici_node *reply, const char ***names, size_t *n);
int vici_get_conns(struct vici_client *c, charon_names_fn cb, void *userdata);

/* ---- SAs ---- */

/*
 * timeout_ms as charon reads it: -1 returns at once (follow child-updown),
 * 0 waits until established or failed, >0 gives up after that long.
 * ike or child may be NULL (not both).
 */
int vici_initiate(struct vici_client *c, const char *ike, const char *child, int timeout_ms,
		  vici_done_fn cb, void *userdata);

/* Exactly one of child_id / ike_id non-zero. force: delete without waiting for the peer. */
int vici_terminate(struct vici_client *c, uint64_t ike_id, uint64_t child_id, bool force,
		   int timeout_ms, vici_done_fn cb, void *userdata);

/* Shunt (pass/drop) or trap children of a loaded connection. */
int vici_install(struct vici_client *c, const char *ike, const char *child, vici_done_fn cb,
		 void *userdata);
int vici_uninstall(struct vici_client *c, const char *ike, const char *child, vici_done_fn cb,
		   void *userdata);

struct vici_child_sa {
	const char *name; /* config name ("f8080"); the section is "<name>-<uniqueid>" */
	uint64_t uniqueid, reqid;
	const char *state; /* INSTALLED, REKEYED, DELETED, … */
	const char *mode, *protocol, *spi_in, *spi_out;
	bool encap;
	const struct vici_node *local_ts, *remote_ts; /* lists of strings: vici_ts_parse() */
	const struct vici_node *node;		      /* everything else */
};

struct vici_ike_sa {
	const char *name; /* the peer config it was created with ("(unnamed)" possible) */
	uint64_t uniqueid;
	const char *state, *local_host, *local_id, *remote_host, *remote_id;
	uint16_t local_port, remote_port;
	bool initiator;
	struct vici_child_sa *children;
	size_t n_children;
	const struct vici_node *node;
};

#define VICI_SAS_INSTALLED 1u /* leave out children not INSTALLED (REKEYED, DELETED, …) */

/*
 * Parse every IKE_SA section directly below sec (a list-sa event or an
 * ike-updown/child-updown message). *out points into sec; free it with
 * vici_ike_sas_free(). Skips non-sections ("up = yes").
 */
int vici_ike_sas_parse(const struct vici_node *sec, unsigned flags, struct vici_ike_sa **out,
		       size_t *n);
void vici_ike_sas_free(struct vici_ike_sa *sas, size_t n);

typedef void (*vici_sas_fn)(void *userdata, int err, const char *errmsg,
			    const struct vici_ike_sa *sas, size_t n);

struct vici_sa_filter {
	uint64_t ike_id, child_id; /* 0: any */
	const char *ike, *child;   /* NULL: any */
	bool noblock;		   /* don't wait for IKE_SAs busy in other threads */
};

int vici_list_sas(struct vici_client *c, const struct vici_sa_filter *filter, unsigned flags,
		  vici_sas_fn cb, void *userdata);

/* ---- events ---- */

/*
 * The authentication failures an ike-updown message tells (one without
 * "up = yes"): each IKE_SA section in state CONNECTING, an IKE_SA that went
 * down before it was ever up. fn gets each, remote_id cleaned (shared/text.h).
 * Returns how many.
 */
unsigned vici_auth_failures(const struct vici_node *msg,
			    void (*fn)(void *u, const struct charon_auth_failure *f), void *u);

/* ---- credentials ---- */

/* type/flag/subject NULL: any (charon's defaults). */
int vici_list_certs(struct vici_client *c, const char *type, const char *flag, const char *subject,
		    charon_certs_fn cb, void *userdata);
/* Empty charon's certificate cache; type "X509", …; NULL: of every type. */
int vici_flush_certs(struct vici_client *c, const char *type, vici_done_fn cb, void *userdata);

/* type "rsa", "ecdsa", "ed25519", "any"…; reply key "id" names the key. */
int vici_load_key(struct vici_client *c, const char *type, struct charon_blob data, vici_done_fn cb,
		  void *userdata);
/* type "X509", flag "NONE"/"CA"/… */
int vici_load_cert(struct vici_client *c, const char *type, const char *flag,
		   struct charon_blob data, vici_done_fn cb, void *userdata);
/* type "IKE", "EAP", …; id may be NULL; owners NULL-terminated identities. */
int vici_load_shared(struct vici_client *c, const char *id, const char *type,
		     struct charon_blob secret, const char *const *owners, vici_done_fn cb,
		     void *userdata);

/* ---- charon itself ---- */

/* Asks "version", then "stats". */
int vici_charon_info(struct vici_client *c, charon_info_fn cb, void *userdata);

#endif
