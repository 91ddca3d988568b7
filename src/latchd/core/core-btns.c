/* SPDX-License-Identifier: MIT */
/*
 * The core's BTNS logic (docs/btns.md): which tokens admit
 * unauthenticated peers, the BTNS connections latchd loads for them, which
 * IKE_SAs are BTNS, what judge.c needs to judge a BTNS peer, and
 * leap-of-faith pins.
 *
 * The rule that never bends (RFC 5386): a BTNS peer is never taken for an
 * authenticated one. An IKE_SA is BTNS when it ran under one of latchd's
 * BTNS connections (our own BTNS identity), or its peer's certificate comes
 * from the BTNS anchor, or either identity lies in the BTNS namespace; a
 * peer can only ever downgrade itself. Only a token with PEER_BTNS, naming
 * no identity, pattern or CA outside the BTNS namespace, accepts one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "latchd/base/log.h"
#include "latchd/core/core-int.h"
#include "latchd/cred/btns.h"
#include "latchd/db/pins.h"
#include "shared/fail.h"

struct core_btns {
	struct btns *b;	   /* NULL: BTNS is off (no anchor) */
	struct pins *pins; /* NULL: no data directory, so no leap of faith */
	struct charon_blob cert, anchor;
	bool flush;		/* a BTNS name had more than one key: empty charon's cache */
	uint32_t flushed_below; /* IKE_SAs that may have authenticated before it was emptied */
	void (*flushed)(struct core *c); /* the cache is empty: listings may go on */
};

static const struct btns *cred(const struct core *c)
{
	return c->btns ? c->btns->b : NULL;
}

/* The BTNS anchor's subject; NULL: BTNS is off. */
static const char *anchor(const struct core *c)
{
	return cred(c) ? cred(c)->anchor.subject : NULL;
}

/* ---------------------------------------------------------------- life cycle */

static int feature_open(struct core *c, struct enforce_config *ec)
{
	struct core_btns *cb = calloc(1, sizeof(*cb));
	char err[512] = "", h[JUDGE_SPKI_SHORT];
	int r;

	if (!cb)
		return -ENOMEM;
	c->btns = cb;
	r = btns_open(c->cfg.data_dir, c->cfg.btns_anchor, c->cfg.btns_anchor_key, &cb->b, err,
		      sizeof(err));
	if (r < 0) {
		log_warn("BTNS off: %s", err);
	} else {
		cb->cert = (struct charon_blob){ cb->b->cert_pem, cb->b->cert_len };
		cb->anchor = (struct charon_blob){ cb->b->anchor_pem, cb->b->anchor_len };
		judge_spki_short(cb->b->cert.spki_sha256, h);
		log_info("BTNS: this host is '%s' (pubKeyID %s…)", cb->b->id, h);
	}
	r = pins_open(c->cfg.data_dir, &cb->pins);
	if (r < 0)
		log_warn("leap-of-faith pins in %s: %s: leap of faith is off", c->cfg.data_dir,
			 strerror(-r));
	return 0;
}

static void feature_free(struct core *c)
{
	if (!c->btns)
		return;
	btns_free(c->btns->b);
	pins_free(c->btns->pins);
	free(c->btns);
	c->btns = NULL;
}

static void cred_loaded(void *u, int err, const char *errmsg)
{
	if (err)
		log_err("charon refused latchd's BTNS %s: %s", (const char *)u, errmsg);
}

static void charon_up(struct core *c)
{
	const struct btns *b = cred(c);

	if (!b)
		return;
	/* once, like our other certificate (core-charon.c load_creds): found by the BTNS id */
	charon_load_cert(c->charon, c->btns->cert, cred_loaded, "certificate");
	charon_load_key(c->charon, (struct charon_blob){ b->key_pem, b->key_len }, cred_loaded,
			"key");
}

/* ---------------------------------------------------------------- connections */

bool core_btns_wanted(const struct core *c, const struct latch_policy *p)
{
	return judge_btns_wanted(anchor(c), p);
}

/*
 * A BTNS connection: our BTNS identity (charon has its certificate); the peer
 * must be in the BTNS namespace and chain to the anchor (pinned: cacerts);
 * unique = never, so that a BTNS peer's INITIAL_CONTACT tears down no other SA.
 */
static void conn_cfg(struct core *c, const struct conn *conn, struct charon_conn_cfg *vc)
{
	struct core_btns *cb = c->btns;

	if (!conn->btns || !cb || !cb->b)
		return;
	vc->local.id = cb->b->id;
	vc->remote.id = BTNS_ID_PATTERN;
	vc->remote.cacerts = &cb->anchor;
	vc->remote.n_cacerts = 1;
	vc->unique = "never";
}

/* ---------------------------------------------------------------- whose SA */

bool core_btns_issued(const struct core *c, const struct cert_info *info)
{
	return btns_issued(cred(c), info);
}

bool core_btns_peer(const struct core *c, const struct sa_ike *ike, const struct ike_ident *id)
{
	return judge_btns_peer(anchor(c), ike, id && id->has_cert ? &id->cert : NULL);
}

static void closed(void *u, int err, const char *errmsg)
{
	if (err)
		log_warn("closing a BTNS IKE_SA whose key cannot be told: %s", errmsg);
}

/* Why a key is not told; BTNS_KEY_ONE: one key, but listed right after the cache was emptied. */
static const char *const no_key[] = {
	[BTNS_KEY_ONE] = "it may have authenticated before charon's certificate cache was emptied",
	[BTNS_KEY_NONE] = "no certificate under its name is in charon's cache",
	[BTNS_KEY_SQUATTED] =
		"another key than the one its name is the hash of presented that name",
	[BTNS_KEY_TWO] = "two keys presented that name",
	[BTNS_KEY_CHURN] =
		"charon's certificate cache is full: its certificate may be gone from it",
	[BTNS_KEY_WILDCARD] = "a wildcard name stands for every BTNS peer",
};

/*
 * The key of a BTNS IKE_SA's peer, as far as charon's cache can tell it
 * (btns.h). One it cannot tell is closed, so that no third party can make a
 * peer unreachable: whoever is behind it authenticates again, and the cache
 * is emptied (core_btns_listed), so the next judgement sees only what
 * authenticated since. An IKE_SA that may have authenticated before the
 * cache was emptied cannot be told either.
 */
bool core_btns_certs(struct core *c, const struct sa_ike *ike, const struct charon_cert *certs,
		     size_t n, struct ike_ident *id)
{
	struct btns_claims cl;
	struct cert_info info;
	enum btns_key k;

	if (!cred(c) || !judge_btns_peer(NULL, ike, NULL)) /* its names are not BTNS */
		return false;
	btns_claims_init(&cl, ike->remote_id);
	for (size_t i = 0; i < n; i++) {
		if (!certs[i].has_privkey &&
		    ident_cert_parse_der(certs[i].data.data, certs[i].data.len, &info) == 0)
			btns_claims_add(&cl, cred(c), &info);
	}
	k = btns_claims_key(&cl);
	id->has_cert = k == BTNS_KEY_ONE && id->ike_id >= c->btns->flushed_below;
	if (id->has_cert) {
		id->cert = cl.key;
		return true;
	}
	id->no_key = no_key[k];
	if (k == BTNS_KEY_NONE)
		return true;
	log_warn("IKE_SA %u with '%s': no key can be told (%s): closed", ike->id, ike->remote_id,
		 id->no_key);
	charon_terminate_ike(c->charon, ike->id, closed, NULL);
	c->btns->flush |= k == BTNS_KEY_SQUATTED || k == BTNS_KEY_TWO || k == BTNS_KEY_CHURN;
	return true;
}

static void barrier_known(void *u, int err, const char *errmsg, const uint64_t *ike_ids, size_t n)
{
	struct core *c = u;

	if (err)
		log_warn("list-sas after emptying charon's certificate cache: %s", errmsg);
	for (size_t i = 0; i < n; i++) {
		if (ike_ids[i] >= c->btns->flushed_below && ike_ids[i] < UINT32_MAX)
			c->btns->flushed_below = (uint32_t)ike_ids[i] + 1;
	}
	c->btns->flushed(c);
}

/* Every IKE_SA there is now may have authenticated before the cache was emptied. */
static void cache_flushed(void *u, int err, const char *errmsg)
{
	struct core *c = u;

	if (err)
		log_warn("flush-certs: %s", errmsg);
	if (charon_list_ike_ids(c->charon, barrier_known, c) < 0)
		barrier_known(c, -EIO, "not queued", NULL, 0);
}

bool core_btns_listed(struct core *c, void (*flushed)(struct core *c))
{
	if (!c->btns || !c->btns->flush)
		return false;
	c->btns->flush = false;
	c->btns->flushed = flushed;
	if (charon_flush_certs(c->charon, cache_flushed, c) < 0) {
		log_warn("charon's certificate cache could not be emptied");
		return false;
	}
	log_info("a BTNS name was presented by more than one key: charon's certificate cache "
		 "emptied");
	return true;
}

/* ---------------------------------------------------------------- judging */

void core_btns_facts(const struct core *c, const struct latch *l, struct judge_facts *f)
{
	struct pins *pins = c->btns ? c->btns->pins : NULL;
	char name[PINS_NAME_MAX + 1];
	const struct pin *pin;

	f->btns_anchor = anchor(c);
	f->pin_store = pins != NULL;
	if (!pins || !l->pol->leap_of_faith)
		return;
	judge_pin_name(l, name, sizeof(name));
	pin = pins_find(pins, name);
	f->pinned = pin ? pin->spki : NULL;
	f->pins_full = pins_count(pins) >= PINS_MAX;
}

/* ---------------------------------------------------------------- binding */

static void bind_local(const struct btns *b, struct latch_ident *me)
{
	snprintf(me->id, sizeof(me->id), "%s", b->id);
	me->auth = IPC_AUTH_BTNS;
	snprintf(me->subject, sizeof(me->subject), "%s", b->cert.subject);
	snprintf(me->issuer, sizeof(me->issuer), "%s", b->cert.issuer);
	memcpy(me->spki, b->cert.spki_sha256, IPC_SHA256_LEN);
	me->has_spki = true;
}

/* First contact pins the key; a later one that matches is reported LEAPOFFAITH. */
static void bind_pin(struct core *c, const struct latch *l, struct latch_ident *remote)
{
	char name[PINS_NAME_MAX + 1], h[JUDGE_SPKI_SHORT];
	const struct pin *pin;
	int r;

	if (!l->pol->leap_of_faith || !remote->has_spki || !c->btns->pins)
		return;
	judge_pin_name(l, name, sizeof(name));
	pin = pins_find(c->btns->pins, name);
	if (pin && !memcmp(pin->spki, remote->spki, IPC_SHA256_LEN)) {
		remote->auth = IPC_AUTH_LEAP_OF_FAITH;
		return;
	}
	if (pin)
		return; /* judged a conflict already; never re-pinned silently */
	r = pins_add(c->btns->pins, name, remote->spki, (uint64_t)time(NULL));
	judge_spki_short(remote->spki, h);
	if (r < 0)
		log_warn("leap of faith: pinning '%s': %s", name, strerror(-r));
	else
		log_info("leap of faith: '%s' pinned to pubKeyID %s… (first contact)", name, h);
}

/* core_bind filled both identities as for an authenticated peer: BTNS ones are told so. */
static void bind_ident(struct core *c, const struct latch *l, const struct sa_ike *ike,
		       const struct ike_ident *id, struct latch_ident *remote,
		       struct latch_ident *local)
{
	const struct btns *b = cred(c);

	if (!core_btns_peer(c, ike, id))
		return;
	remote->auth = IPC_AUTH_BTNS;
	if (b && ident_dn_equal(ike->local_id, b->id))
		bind_local(b, local);
	bind_pin(c, l, remote);
}

/* ---------------------------------------------------------------- PIN_LIST, PIN_DELETE */

static int list_pins(struct core *c, struct request *req)
{
	const struct pin *p;
	char audit[64];
	struct buf *b;
	size_t n;

	for (size_t i = 0; (p = pins_at(c->btns->pins, i)) && req->client; i++) {
		b = control_reply_begin(req, IPC_F_MORE);
		n = wire_nest_begin(b, IPC_A_REMOTE_IDENTITY);
		wire_put_str(b, IPC_A_IDENT_ID, p->name);
		wire_put_u16(b, IPC_A_IDENT_AUTH_METHOD, IPC_AUTH_LEAP_OF_FAITH);
		wire_put_bytes(b, IPC_A_IDENT_SPKI_SHA256, p->spki, IPC_SHA256_LEN);
		snprintf(audit, sizeof(audit), "pinned=%llu", (unsigned long long)p->when);
		wire_put_str(b, IPC_A_IDENT_AUDIT, audit);
		wire_nest_end(b, n);
		if (control_reply_send(req) < 0)
			return 0;
	}
	if (!req->client)
		return 0;
	control_reply_begin(req, 0);
	return control_reply_send(req);
}

static int delete_pin(struct core *c, struct request *req, char *err, size_t el)
{
	struct wire_attrs id;
	const char *name;
	int r;

	if (wire_get_nested(&req->msg.attrs, IPC_A_REMOTE_IDENTITY, &id) < 0 ||
	    wire_get_str(&id, IPC_A_IDENT_ID, &name) < 0)
		return FAIL(-EINVAL, "PIN_DELETE names the pin: REMOTE_IDENTITY with IDENT_ID");
	r = pins_del(c->btns->pins, name);
	if (r == -ENOENT)
		return FAIL(r, "no pin named '%.200s'", name);
	if (r < 0)
		return FAIL(r, "the pin store could not be written: %s", strerror(-r));
	log_info("leap of faith: pin of '%s' forgotten by uid %u", name, (unsigned)req->cred.uid);
	control_reply_begin(req, 0);
	return control_reply_send(req);
}

int core_req_pins(struct core *c, struct request *req, char *err, size_t el)
{
	if (!c->btns || !c->btns->pins)
		return FAIL(-EOPNOTSUPP, "latchd keeps no pins (no data_dir)");
	if (req->type == IPC_MSG_PIN_LIST)
		return list_pins(c, req);
	return delete_pin(c, req, err, el);
}

const struct core_feature core_btns_feature = {
	.name = "btns",
	.open = feature_open,
	.free = feature_free,
	.charon_up = charon_up,
	.conn_cfg = conn_cfg,
	.bind = bind_ident,
};
