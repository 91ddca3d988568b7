/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_CHECK_H
#define LATCH_LATCHD_CHECK_H

#include <stdio.h>

#include "latchd/base/config.h"

/*
 * latchd --check: every line of the doctor (core/doctor.h), charon asked over
 * a VICI connection of its own (waiting at most timeout_ms for it). Prints
 * the lines and a summary to out; returns the number of failures.
 */
unsigned check_run(const struct config *cfg, const char *config_path, FILE *out,
		   unsigned timeout_ms);

#endif
