/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_CREDCHECK_H
#define LATCH_LATCHD_CREDCHECK_H

/*
 * latchd's own credentials checked before charon sees them (latchd --check):
 * the certificate and key files readable and one pair, the certificate
 * issued by one of the CAs and valid now. Each call returns 0 or -errno and
 * says what it found, or what is wrong, in why.
 */

#include <stddef.h>

/* cert (PEM) readable; key (PEM, unencrypted) readable and the certificate's own. */
int credcheck_pair(const char *cert, const char *key, char *why, size_t len);
/* cert chains to one of cas (PEM files, each may hold several), at the current time. */
int credcheck_chain(const char *cert, const char *const *cas, unsigned n_cas, char *why,
		    size_t len);

#endif
