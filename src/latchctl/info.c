/* SPDX-License-Identifier: MIT */
#include "latchctl/info.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "latchctl/client.h"
#include "shared/text.h"

/* The exported channel binding starts with its RFC 5056 label and a colon. */
#define CB_PREFIX_LEN (sizeof("ipsec-end-point-sha256:") - 1)

void ctl_ident_decode(const struct wire_attrs *a, uint16_t type, struct ctl_ident *ret)
{
	struct wire_attrs n;
	size_t len;

	*ret = (struct ctl_ident){ 0 };
	if (wire_get_nested(a, type, &n) < 0)
		return;
	ret->present = true;
	wire_get_str(&n, IPC_A_IDENT_ID, &ret->id);
	wire_get_str(&n, IPC_A_IDENT_CERT_SUBJECT, &ret->subject);
	wire_get_str(&n, IPC_A_IDENT_CERT_ISSUER, &ret->issuer);
	wire_get_str(&n, IPC_A_IDENT_AUDIT, &ret->audit);
	wire_get_u16(&n, IPC_A_IDENT_AUTH_METHOD, &ret->auth);
	if (wire_get_bytes(&n, IPC_A_IDENT_SPKI_SHA256, &ret->spki, &len) < 0)
		ret->spki = NULL;
}

static void addr_decode(const struct wire_attrs *t, uint16_t type, int af, char *out, size_t cap,
			bool *present)
{
	const uint8_t *p;
	size_t len;

	*present = wire_get_bytes(t, type, &p, &len) == 0;
	if (!*present || !inet_ntop(af, p, out, (socklen_t)cap))
		snprintf(out, cap, "*");
}

void ctl_latch_decode_tuple(const struct wire_attrs *tup, struct ctl_latch *l)
{
	const struct wire_attrs t = *tup;
	uint8_t fam = 0;
	bool dummy;
	int af;

	wire_get_u8(&t, IPC_A_TUPLE_FAMILY, &fam);
	af = fam == IPC_FAMILY_INET6 ? AF_INET6 : AF_INET;
	l->family = (uint8_t)af;
	wire_get_u8(&t, IPC_A_TUPLE_PROTO, &l->proto);
	wire_get_u16(&t, IPC_A_TUPLE_LOCAL_PORT, &l->lport);
	wire_get_u16(&t, IPC_A_TUPLE_REMOTE_PORT, &l->rport);
	addr_decode(&t, IPC_A_TUPLE_LOCAL_ADDR, af, l->laddr, sizeof(l->laddr), &dummy);
	addr_decode(&t, IPC_A_TUPLE_REMOTE_ADDR, af, l->raddr, sizeof(l->raddr), &l->has_remote);
}

static void sa_decode(const struct wire_attrs *a, struct ctl_latch *l)
{
	struct wire_attrs s;

	if (wire_get_nested(a, IPC_A_SA, &s) < 0)
		return;
	l->has_sa = true;
	wire_get_u32(&s, IPC_A_SA_CHILD_ID, &l->child_id);
	wire_get_u32(&s, IPC_A_SA_IKE_ID, &l->ike_id);
	wire_get_u32(&s, IPC_A_SA_SPI_IN, &l->spi_in);
	wire_get_u32(&s, IPC_A_SA_SPI_OUT, &l->spi_out);
	wire_get_str(&s, IPC_A_SA_ENCR_ALG, &l->encr);
	wire_get_str(&s, IPC_A_SA_INTEG_ALG, &l->integ);
	wire_get_u8(&s, IPC_A_SA_SHARED, &l->shared);
	wire_get_u8(&s, IPC_A_SA_MODE, &l->mode);
}

static void history_decode(const struct wire_attrs *a, struct ctl_latch *l)
{
	struct wire_attr at;
	size_t cur = 0;

	while (l->n_hist < sizeof(l->hist) / sizeof(l->hist[0]) &&
	       wire_next(a, IPC_A_HISTORY, &cur, &at) == 1) {
		struct wire_attrs h = { at.val, at.len };

		wire_get_u8(&h, IPC_A_STATE, &l->hist[l->n_hist].state);
		wire_get_u16(&h, IPC_A_REASON, &l->hist[l->n_hist].reason);
		wire_get_u64(&h, IPC_A_VALUE, &l->hist[l->n_hist].ms_ago);
		l->n_hist++;
	}
}

uint64_t ctl_latch_age_s(const struct ctl_latch *l)
{
	return l->n_hist ? l->hist[0].ms_ago / 1000 : 0;
}

int ctl_latch_decode(const struct wire_attrs *a, struct ctl_latch *ret)
{
	struct ctl_latch l = { 0 };
	struct wire_attrs n;

	if (wire_get_u64(a, IPC_A_LATCH_ID, &l.id) < 0 || wire_get_u8(a, IPC_A_STATE, &l.state) < 0)
		return -EINVAL;
	wire_get_u16(a, IPC_A_REASON, &l.reason);
	if (wire_get_nested(a, IPC_A_TUPLE, &n) == 0)
		ctl_latch_decode_tuple(&n, &l);
	if (wire_get_nested(a, IPC_A_OWNER, &n) == 0) {
		wire_get_u32(&n, IPC_A_OWNER_PID, &l.pid);
		wire_get_u32(&n, IPC_A_OWNER_UID, &l.uid);
		wire_get_str(&n, IPC_A_NAME, &l.program);
	}
	history_decode(a, &l);
	if (wire_get_nested(a, IPC_A_PROTECTION, &n) == 0) {
		wire_get_u8(&n, IPC_A_PROT_ENCRYPT, &l.encrypt);
		wire_get_u8(&n, IPC_A_PROT_ON_BREAK, &l.on_break);
		wire_get_u8(&n, IPC_A_PROT_EXACT, &l.exact);
	}
	ctl_ident_decode(a, IPC_A_LOCAL_IDENTITY, &l.local);
	ctl_ident_decode(a, IPC_A_REMOTE_IDENTITY, &l.remote);
	sa_decode(a, &l);
	if (wire_get_bytes(a, IPC_A_CHANNEL_BINDING, &l.cb, &l.cb_len) < 0)
		l.cb = NULL;
	*ret = l;
	return 0;
}

const char *ctl_state_name(uint8_t state)
{
	const char *name = wire_state_name(state);

	return name ? name : "?";
}

const char *ctl_reason_name(uint16_t reason)
{
	return wire_reason_name(reason);
}

const char *ctl_auth_name(uint16_t auth)
{
	static const char *const names[] = { "NONE",	     "BTNS",	     "LEAPOFFAITH",
					     "PRESHAREDKEY", "GROUPKEY",     "XAUTH",
					     "EAP",	     "PKIX_TRUSTED", "PKIX_INLINE",
					     "PKIX_OFFLINE" };

	return auth < sizeof(names) / sizeof(names[0]) ? names[auth] : "?";
}

static const char *proto_name(uint8_t p)
{
	return p == 6 ? "tcp" : p == 17 ? "udp" : "?";
}

static void endpoint(char *out, size_t cap, const char *addr, uint16_t port, int af)
{
	snprintf(out, cap, af == AF_INET6 ? "[%s]:%u" : "%s:%u", addr, port);
}

void ctl_latch_row_header(FILE *f)
{
	fprintf(f, "%-6s %-11s %-14s %-5s %-26s %-26s %-24s %-14s %s\n", "ID", "STATE", "OWNER",
		"PROTO", "LOCAL", "REMOTE", "PEER", "SA", "AGE");
}

void ctl_latch_row(FILE *f, const struct ctl_latch *l, bool color)
{
	char loc[64], rem[64], sa[32] = "-", owner[24], prog[9], peer[25];
	const char *on = "", *off = "";

	endpoint(loc, sizeof(loc), l->laddr, l->lport, l->family);
	if (l->has_remote)
		endpoint(rem, sizeof(rem), l->raddr, l->rport, l->family);
	else
		snprintf(rem, sizeof(rem), "*");
	if (l->has_sa)
		snprintf(sa, sizeof(sa), "#%u%s", l->child_id, l->shared ? " shared" : " exact");
	if (color) {
		on = l->state == IPC_STATE_BROKEN	 ? "\033[1;31m"
		     : l->state == IPC_STATE_ESTABLISHED ? "\033[32m"
							 : "\033[36m";
		off = "\033[0m";
	}
	/* Columns cut by cleaning: never inside a character or an escape. */
	snprintf(owner, sizeof(owner), "%u/%s", l->uid,
		 ctl_text(prog, sizeof(prog), l->program, "?"));
	fprintf(f, "%-6llu %s%-11s%s %-14s %-5s %-26s %-26s %-24s %-14s %llus\n",
		(unsigned long long)l->id, on, ctl_state_name(l->state), off, owner,
		proto_name(l->proto), loc, rem, ctl_text(peer, sizeof(peer), l->remote.id, "-"), sa,
		(unsigned long long)ctl_latch_age_s(l));
}

static void hex_line(FILE *f, const char *label, const uint8_t *p, size_t n)
{
	fprintf(f, "  %-18s ", label);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
	fputc('\n', f);
}

static void ident_show(FILE *f, const char *title, const struct ctl_ident *id)
{
	char t[CTL_TEXT_MAX];

	if (!id->present)
		return;
	fprintf(f, "%s\n  %-18s %s\n", title, "id", ctl_text(t, sizeof(t), id->id, "-"));
	fprintf(f, "  %-18s %s\n", "method", ctl_auth_name(id->auth));
	if (id->subject)
		fprintf(f, "  %-18s %s\n", "subject", ctl_text(t, sizeof(t), id->subject, NULL));
	if (id->issuer)
		fprintf(f, "  %-18s %s\n", "issuer", ctl_text(t, sizeof(t), id->issuer, NULL));
	if (id->spki)
		hex_line(f, "pubkey sha256", id->spki, 32);
}

void ctl_latch_show(FILE *f, const struct ctl_latch *l)
{
	char loc[64], rem[64] = "*", prog[CTL_TEXT_MAX], encr[CTL_TEXT_MAX], integ[CTL_TEXT_MAX];

	endpoint(loc, sizeof(loc), l->laddr, l->lport, l->family);
	if (l->has_remote)
		endpoint(rem, sizeof(rem), l->raddr, l->rport, l->family);
	fprintf(f, "latch %llu: %s (%s)\n  %-18s %s %s -> %s\n  %-18s pid %u uid %u (%s)\n",
		(unsigned long long)l->id, ctl_state_name(l->state), ctl_reason_name(l->reason),
		"flow", proto_name(l->proto), loc, rem, "owner", l->pid, l->uid,
		ctl_text(prog, sizeof(prog), l->program, "?"));
	fprintf(f, "  %-18s %s, on break: %s\n", "protection",
		l->exact ? "own SA (exact)" : "peer's SA (shared)",
		l->on_break == IPC_ON_BREAK_WAIT ? "wait" : "reset");
	if (l->has_sa)
		fprintf(f,
			"  %-18s child #%u on IKE_SA #%u, SPI in %08x out %08x, %s%s%s, %s, %s\n",
			"SA", l->child_id, l->ike_id, l->spi_in, l->spi_out,
			ctl_text(encr, sizeof(encr), l->encr, "?"), l->integ ? "/" : "",
			ctl_text(integ, sizeof(integ), l->integ, ""),
			l->mode == IPC_MODE_TRANSPORT ? "transport" : "tunnel",
			l->shared ? "shared" : "exact");
	ident_show(f, "remote identity", &l->remote);
	ident_show(f, "local identity", &l->local);
	if (l->cb)
		fprintf(f, "channel binding\n  %-18s %.*s\n", "ipsec-end-point",
			(int)(l->cb_len > CB_PREFIX_LEN ? CB_PREFIX_LEN - 1 : l->cb_len),
			(const char *)l->cb);
	if (l->cb && l->cb_len > CB_PREFIX_LEN)
		hex_line(f, "value", l->cb + CB_PREFIX_LEN, l->cb_len - CB_PREFIX_LEN);
	fprintf(f, "history\n");
	for (unsigned i = 0; i < l->n_hist; i++)
		fprintf(f, "  %8.3fs ago       %-11s (%s)\n", (double)l->hist[i].ms_ago / 1000,
			ctl_state_name(l->hist[i].state), ctl_reason_name(l->hist[i].reason));
}

/*
 * RFC 8259 of the cleaned text (shared/text.h): what a terminal shows of the
 * string, as JSON, so valid UTF-8 whatever latchd sent. Cleaned text has no
 * control characters left: only its quotes and backslashes need escaping.
 */
void json_str(FILE *f, const char *s)
{
	char *t = text_dup(s ? s : "");

	fputc('"', f);
	for (const char *p = t; p && *p; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', f);
		fputc(*p, f);
	}
	fputc('"', f);
	free(t);
}

void json_doc_begin(FILE *f, const char *key)
{
	fprintf(f, "{\"schema\":%d,", CTL_JSON_SCHEMA);
	json_str(f, key);
	fputc(':', f);
}

void json_doc_end(FILE *f)
{
	fputs("}\n", f);
	fflush(f);
}

int ctl_error(bool json, int exit_code, int err, const char *fmt, ...)
{
	char msg[2 * IPC_MESSAGE_MAX];
	const char *code = err ? strerrorname_np(err < 0 ? -err : err) : NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!json) {
		char t[4 * sizeof(msg) + 1];

		fprintf(stderr, "latchctl: %s\n", ctl_text(t, sizeof(t), msg, ""));
		return exit_code;
	}
	json_doc_begin(stdout, "error");
	fputs("{\"code\":", stdout);
	code ? json_str(stdout, code) : (void)fputs("null", stdout);
	printf(",\"errno\":%d,\"exit\":%d,\"message\":", err < 0 ? -err : err, exit_code);
	json_str(stdout, msg);
	fputc('}', stdout);
	json_doc_end(stdout);
	return exit_code;
}

int ctl_refused(struct ctl_client *c, bool json, int r)
{
	return ctl_error(json, CTL_EXIT_REFUSED, r, "%s", c->error[0] ? c->error : strerror(-r));
}

const char *ctl_text(char *buf, size_t cap, const char *s, const char *none)
{
	if (!s)
		return none;
	text_clean(buf, cap, s, strlen(s));
	return buf;
}

void json_hex(FILE *f, const uint8_t *p, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
	fputc('"', f);
}

void ctl_ident_json(FILE *f, const char *key, const struct ctl_ident *id)
{
	fprintf(f, ",\"%s\":", key);
	if (!id->present) {
		fputs("null", f);
		return;
	}
	fputs("{\"id\":", f);
	json_str(f, id->id);
	fputs(",\"method\":", f);
	json_str(f, ctl_auth_name(id->auth));
	fputs(",\"subject\":", f);
	id->subject ? json_str(f, id->subject) : (void)fputs("null", f);
	fputs(",\"issuer\":", f);
	id->issuer ? json_str(f, id->issuer) : (void)fputs("null", f);
	fputs(",\"pubkey_sha256\":", f);
	id->spki ? json_hex(f, id->spki, 32) : (void)fputs("null", f);
	fputc('}', f);
}

void ctl_latch_json(FILE *f, const struct ctl_latch *l)
{
	fprintf(f, "{\"id\":%llu,\"state\":", (unsigned long long)l->id);
	json_str(f, ctl_state_name(l->state));
	fputs(",\"reason\":", f);
	json_str(f, ctl_reason_name(l->reason));
	fprintf(f, ",\"owner\":{\"pid\":%u,\"uid\":%u,\"program\":", l->pid, l->uid);
	json_str(f, l->program ? l->program : "");
	fprintf(f, "},\"age_s\":%llu,\"flow\":{\"proto\":\"%s\",\"local\":",
		(unsigned long long)ctl_latch_age_s(l), proto_name(l->proto));
	json_str(f, l->laddr);
	fprintf(f, ",\"local_port\":%u,\"remote\":", l->lport);
	l->has_remote ? json_str(f, l->raddr) : (void)fputs("null", f);
	fprintf(f, ",\"remote_port\":%u}", l->rport);
	fprintf(f, ",\"exact\":%s,\"on_break\":\"%s\"", l->exact ? "true" : "false",
		l->on_break == IPC_ON_BREAK_WAIT ? "wait" : "reset");
	ctl_ident_json(f, "remote_identity", &l->remote);
	ctl_ident_json(f, "local_identity", &l->local);
	fputs(",\"sa\":", f);
	if (l->has_sa) {
		fprintf(f,
			"{\"child_id\":%u,\"ike_id\":%u,\"spi_in\":\"%08x\",\"spi_out\":\"%08x\","
			"\"encryption\":",
			l->child_id, l->ike_id, l->spi_in, l->spi_out);
		json_str(f, l->encr ? l->encr : "");
		fprintf(f, ",\"shared\":%s,\"mode\":\"%s\"}", l->shared ? "true" : "false",
			l->mode == IPC_MODE_TRANSPORT ? "transport" : "tunnel");
	} else {
		fputs("null", f);
	}
	fputs(",\"history\":[", f);
	for (unsigned i = 0; i < l->n_hist; i++)
		fprintf(f, "%s{\"state\":\"%s\",\"reason\":\"%s\",\"ms_ago\":%llu}", i ? "," : "",
			ctl_state_name(l->hist[i].state), ctl_reason_name(l->hist[i].reason),
			(unsigned long long)l->hist[i].ms_ago);
	fputs("],\"channel_binding\":", f);
	l->cb && l->cb_len > CB_PREFIX_LEN
		? json_hex(f, l->cb + CB_PREFIX_LEN, l->cb_len - CB_PREFIX_LEN)
		: (void)fputs("null", f);
	fputc('}', f);
}
