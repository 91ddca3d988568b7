/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_DOCTOR_H
#define LATCH_LATCHD_DOCTOR_H

/*
 * The doctor: what latchd needs, checked one line at a time (latchd --check,
 * and latchctl status from the running daemon). Each line is ok or FAIL, the
 * thing checked and, for a failure, what to do. The probes stay in the
 * layers that own them (dataplane/probe.c: the kernel; charon/: VICI and
 * charon's files; cred/credcheck.c: certificate and key); this file only
 * asks them and words the answers.
 */

#include <stdbool.h>
#include <stdio.h>

#include "latchd/base/config.h"
#include "latchd/charon/charon-info.h"
#include "latchd/dataplane/probe.h"

#define DOCTOR_LINES_MAX 32

struct doctor_line {
	bool ok;
	char what[32]; /* "charon", "kernel", "data plane", ... */
	char text[480];
};

struct doctor {
	struct doctor_line line[DOCTOR_LINES_MAX];
	unsigned n, failed;
};

void doctor_add(struct doctor *d, bool ok, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define DOCTOR_NEEDS_NET_ADMIN                                                                   \
	"latchd needs CAP_NET_ADMIN (nftables, ip rules, XFRM policies, sock_diag) and has not " \
	"got it: run it as root, as latchd.service does, or give it the capability"

/* Does latchd hold CAP_NET_ADMIN (its effective set)? */
bool doctor_cap_net_admin(void);

/* The parts, each adding its lines. */
void doctor_privileges(struct doctor *d);
void doctor_credentials(struct doctor *d, const struct config *cfg);
/* The data plane data_plane asks for on this kernel, and why (enforce_open decides alike). */
enum data_plane doctor_plane(struct doctor *d, const struct config *cfg);
void doctor_kernel(struct doctor *d, const struct probe_result probes[PROBE_N],
		   enum data_plane plane);
/* error NULL: charon answers; info NULL: what it said of itself is not known (yet). */
void doctor_charon(struct doctor *d, const struct config *cfg, const char *error,
		   const struct vici_charon *info, enum data_plane plane);
/* charon's files (strongswan_conf, and what it includes). */
void doctor_settings(struct doctor *d, const struct config *cfg, const char *daemon,
		     enum data_plane plane);

/* Print "ok   what: text" / "FAIL what: text" lines. */
void doctor_print(FILE *f, const struct doctor *d);

#endif
