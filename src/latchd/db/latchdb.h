/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_LATCHDB_H
#define LATCH_LATCHD_LATCHDB_H

/*
 * The latch database of RFC 5660 §2.3: every latch with its state, owner,
 * flow and latched parameters. Indexed by id and by flow (hash tables), so
 * queries cost the same at 10 latches and at 10,000. Every state change goes
 * through latchdb_set_state(), which records it in the latch's history and
 * tells the owner of the database (who sends the ALERTs).
 *
 * The state machine (R23): LISTENER → CLOSED only; LARVAL (RFC 5660 §2.3:
 * waiting for its SA) → ESTABLISHED | BROKEN | CLOSED; ESTABLISHED ⇄ BROKEN; both →
 * CLOSED. CLOSED is final: the latch is removed once its owner was told.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "latchd/base/flow.h"
#include "shared/proto.h"

#define LATCH_SPKI_MAX 4
#define LATCH_HIST_MAX 8

/* What the application asked for (a pToken), validated. */
struct latch_policy {
	uint8_t encrypt;   /* enum ipc_want */
	uint8_t integrity; /* enum ipc_want */
	uint8_t mode;	   /* enum ipc_mode */
	uint16_t encr_min_bits, integ_min_bits;
	bool exact;
	bool allow_unlatched;
	uint8_t on_break; /* enum ipc_on_break */
	char peer_id[IPC_DN_MAX + 1];
	char peer_pattern[IPC_DN_MAX + 1];
	char peer_ca[IPC_DN_MAX + 1];
	uint8_t spki[LATCH_SPKI_MAX][IPC_SHA256_LEN];
	unsigned n_spki;
	bool btns;
	bool leap_of_faith;
};

struct latch_ident {
	char id[IPC_DN_MAX + 1];
	uint16_t auth; /* enum ipc_auth */
	char subject[IPC_DN_MAX + 1];
	char issuer[IPC_DN_MAX + 1];
	uint8_t spki[IPC_SHA256_LEN];
	bool has_spki;
};

/* The SA a latch is bound to, and the protection latched (R3, R14). */
struct latch_sa {
	uint32_t ike_id, child_id;
	uint32_t spi_in, spi_out;
	char encr[48], integ[48];
	bool tunnel;
	bool shared; /* the child's selectors cover other flows (R20) */
};

struct latch {
	uint64_t id;
	uint8_t state;	 /* enum ipc_state */
	uint16_t reason; /* enum ipc_reason of the last change */
	bool listener;
	struct flow flow;    /* a connection's 5-tuple */
	struct flow3 listen; /* a listener's local 3-tuple */
	uint64_t cookie;     /* SO_COOKIE of the owner's socket */
	struct ucred owner;
	char comm[IPC_NAME_MAX + 1]; /* the program, cleaned: 15 bytes escaped fit */
	/*
	 * Interned: one copy of each distinct value, shared by every latch that
	 * holds it (10,000 latches to one peer share one remote identity). Set
	 * them only through latchdb_set_policy()/latchdb_set_ident(); never NULL.
	 */
	const struct latch_policy *pol;
	const struct latch_ident *local, *remote;
	uint8_t cb[IPC_SHA256_LEN];
	bool has_cb;
	struct latch_sa sa;
	uint64_t created_usec, changed_usec;
	struct {
		uint8_t state;
		uint16_t reason;
		uint64_t usec;
	} hist[LATCH_HIST_MAX];
	unsigned n_hist;
	bool counted; /* in its owner's per-uid count */
	void *client; /* the control connection that made it, while it lasts */
	void *core;   /* the daemon core's: the charon connection it keeps in use */

	struct latch *next_id, *next_flow; /* hash chains; listeners chain by next_flow */
	struct latch *next_cookie;
};

struct latchdb;

struct latchdb_ops {
	/* After every state change (not on creation in LARVAL). */
	void (*changed)(void *u, struct latch *l, uint8_t old_state);
};

int latchdb_new(const struct latchdb_ops *ops, void *userdata, struct latchdb **ret);
void latchdb_free(struct latchdb *db);

/* A new latch in state LARVAL with the next id; NULL on ENOMEM. */
struct latch *latchdb_add(struct latchdb *db, const struct flow *f, uint64_t now);
/* A new LISTENER latch. */
struct latch *latchdb_add_listener(struct latchdb *db, const struct flow3 *l, uint64_t now);
/* Give l (in the database, or a view) the value p / id, interned. 0 or -ENOMEM. */
int latchdb_set_policy(struct latchdb *db, struct latch *l, const struct latch_policy *p);
int latchdb_set_ident(struct latchdb *db, struct latch *l, bool remote,
		      const struct latch_ident *id);
/*
 * A view: a copy of l that holds its own references, for answers computed
 * from a latch without changing it. latchdb_view_done() drops them.
 */
void latchdb_view(struct latchdb *db, const struct latch *l, struct latch *view);
void latchdb_view_done(struct latchdb *db, struct latch *view);

/* Insert a copy of a latch remembered across a restart, with its own id. */
struct latch *latchdb_adopt(struct latchdb *db, const struct latch *rec, uint64_t now);
/* Unlink and free (after CLOSED was reported). */
void latchdb_remove(struct latchdb *db, struct latch *l);

/*
 * Move to state for reason, if the state machine allows it (-EINVAL
 * otherwise, nothing changed). Reports the change through ops.changed.
 */
int latchdb_set_state(struct latchdb *db, struct latch *l, uint8_t state, uint16_t reason,
		      uint64_t now);

struct latch *latchdb_by_id(const struct latchdb *db, uint64_t id);
/* The live (not CLOSED) latch of a connection. */
struct latch *latchdb_by_flow(const struct latchdb *db, const struct flow *f);
/*
 * The latch of the socket with this SO_COOKIE (set with latchdb_set_cookie).
 * The kernel's destroy event of an aborted socket carries little but its
 * cookie, so the cookie is what identifies a latch's socket.
 */
struct latch *latchdb_by_cookie(const struct latchdb *db, uint64_t cookie);
void latchdb_set_cookie(struct latchdb *db, struct latch *l, uint64_t cookie);
/* The live LISTENER latch of exactly this 3-tuple. */
struct latch *latchdb_listener(const struct latchdb *db, const struct flow3 *l);
/* The LISTENER latch whose 3-tuple covers f's local end (a wildcard bind too). */
struct latch *latchdb_listener_for(const struct latchdb *db, const struct flow *f);

unsigned latchdb_count(const struct latchdb *db, uint8_t state);
/* Set (or change) a latch's owner; the database counts live latches per uid. */
void latchdb_set_owner(struct latchdb *db, struct latch *l, const struct ucred *owner);
unsigned latchdb_count_uid(const struct latchdb *db, uid_t uid);

/* Visit every latch; fn may not add or remove latches. Stops when fn returns true. */
void latchdb_each(const struct latchdb *db, bool (*fn)(void *u, struct latch *l), void *u);

const char *latchdb_state_name(uint8_t state);
const char *latchdb_reason_name(uint16_t reason);

#endif
