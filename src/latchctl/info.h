/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHCTL_INFO_H
#define LATCH_LATCHCTL_INFO_H

/* A latch as latchd describes it (LATCH_INFO), decoded, and printed as text or JSON. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "shared/wire.h"

struct ctl_ident {
	bool present;
	const char *id, *subject, *issuer, *audit;
	uint16_t auth;
	const uint8_t *spki; /* 32 bytes or NULL */
};

struct ctl_latch {
	uint64_t id;
	uint8_t state;
	uint16_t reason;
	uint8_t family, proto;
	char laddr[48], raddr[48];
	uint16_t lport, rport;
	bool has_remote;
	uint32_t pid, uid;
	struct ctl_ident local, remote;
	bool has_sa;
	uint32_t child_id, ike_id, spi_in, spi_out;
	const char *encr, *integ;
	uint8_t shared, mode;
	uint8_t encrypt, on_break, exact;
	const uint8_t *cb;
	size_t cb_len;
	const char *program;
	struct {
		uint8_t state;
		uint16_t reason;
		uint64_t ms_ago;
	} hist[16];
	unsigned n_hist;
};

/* The flow of a TUPLE (also a peer's addresses). */
void ctl_latch_decode_tuple(const struct wire_attrs *tup, struct ctl_latch *l);
/* Decode; strings borrow the message. 0 or -EINVAL. */
int ctl_latch_decode(const struct wire_attrs *a, struct ctl_latch *ret);

/* Seconds since the latch was made (its first history entry), 0 when unknown. */
uint64_t ctl_latch_age_s(const struct ctl_latch *l);

const char *ctl_state_name(uint8_t state);
const char *ctl_reason_name(uint16_t reason);
const char *ctl_auth_name(uint16_t auth);

/* One line for `latchctl list` (and its header). */
void ctl_latch_row_header(FILE *f);
void ctl_latch_row(FILE *f, const struct ctl_latch *l, bool color);
/* Everything, for `latchctl show`. */
void ctl_latch_show(FILE *f, const struct ctl_latch *l);
void ctl_latch_json(FILE *f, const struct ctl_latch *l);

/*
 * What latchd sends is data: everything latchctl prints of it is cleaned
 * (shared/text.h). ctl_text cleans s into buf (cut at cap, never inside a
 * character or an escape) and returns it, or none when s is NULL.
 */
#define CTL_TEXT_MAX (4 * IPC_DN_MAX + 1) /* the longest string, every byte escaped */
const char *ctl_text(char *buf, size_t cap, const char *s, const char *none);

/* JSON helpers: json_str writes the cleaned s, escaped by RFC 8259 (NULL: ""). */
void json_str(FILE *f, const char *s);
void json_hex(FILE *f, const uint8_t *p, size_t n);
void ctl_ident_decode(const struct wire_attrs *a, uint16_t type, struct ctl_ident *ret);
void ctl_ident_json(FILE *f, const char *key, const struct ctl_ident *id);

/*
 * --json: every command prints one document per result (watch: one per
 * event, a line each), an object whose first member is "schema", the
 * version of latchctl(8)'s JSON SCHEMA, then one member named for what it
 * holds. json_doc_begin writes {"schema":N,"key": and json_doc_end the } and
 * a newline. Raise CTL_JSON_SCHEMA with any change a reader could notice.
 */
#define CTL_JSON_SCHEMA 1
void json_doc_begin(FILE *f, const char *key);
void json_doc_end(FILE *f);

/* latchctl's exit codes (latchctl(8)). */
#define CTL_EXIT_REFUSED     1 /* latchd refused or found nothing */
#define CTL_EXIT_USAGE	     2
#define CTL_EXIT_UNREACHABLE 3

/*
 * An error, said once and returned as the exit code: with --json a document
 * on stdout, {"schema":N,"error":{"code":"EACCES","errno":13,"message":"..."}}
 * ("code" null and errno 0 for a usage error), so that a reader of stdout
 * always gets one document; otherwise "latchctl: message" on stderr.
 */
int ctl_error(bool json, int exit_code, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* latchd refused: its words (c->error), else strerror(-r). CTL_EXIT_REFUSED. */
struct ctl_client;
int ctl_refused(struct ctl_client *c, bool json, int r);
#define ctl_usage_error(json, ...) ctl_error(json, CTL_EXIT_USAGE, 0, __VA_ARGS__)

#endif
