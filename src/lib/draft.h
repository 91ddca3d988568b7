/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LIB_DRAFT_H
#define LATCH_LIB_DRAFT_H

/*
 * The objects behind draft-ietf-btns-c-api's tokens, shared by the
 * attribute code (ipsecapi.c) and the socket code (ipsecapi-sock.c).
 */

#include "ipsecapi.h"
#include "lib/internal.h"

#define ITOKEN_MAGIC 0x69546f6bu /* "iTok": tells the kinds apart in get/set_token_attr */
#define PTOKEN_MAGIC 0x70546f6bu
#define METH_COUNT   10

struct ipsec_iToken {
	uint32_t magic;
	bool obtained;		   /* from a latch: everything read-only */
	struct latch_ident *ident; /* NULL: an empty template */
	uint16_t meth[METH_COUNT]; /* authMeth_* wishes (template) or ENABLE/DISABLE (obtained) */
};

struct ipsec_pToken {
	uint32_t magic;
	bool obtained;
	struct latch_token tok; /* asked for (template) or latched (obtained) */
	/* As the application set them, or as in force when obtained. */
	uint16_t privacy, integrity, compress, tunnel, ipopts;
	struct ipsec_iToken *peer;  /* IPSEC_API_ATTR_iToken */
	struct ipsec_iToken *local; /* IPSEC_API_ATTR_remote_iToken (obtained only) */
	char *audit, *info;	    /* obtained only */
};

/* ipsecapi.c */
int itoken_new(struct latch_ident *ident, bool obtained, struct ipsec_iToken **ret);
void ptoken_reset(struct ipsec_pToken *p);
/* The native token a pToken asks for; caller frees. */
int ptoken_to_native(const struct ipsec_pToken *p, latch_token **ret);
/* Fill p (reset first) from a latch; takes nothing from info. */
int ptoken_fill(struct ipsec_pToken *p, const latch_info *info);
/* 0, or -1 with errno = -r (and the explanation, if none was given, strerror's). */
int draft_ret(int r);
/* Explain the failure the next draft_ret() reports (ipsec_last_error()). */
void draft_explain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
