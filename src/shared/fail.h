/* SPDX-License-Identifier: MIT */
#ifndef LATCH_SHARED_FAIL_H
#define LATCH_SHARED_FAIL_H

#include <stdio.h>

/*
 * A function that explains its failures writes the explanation into a
 * caller's buffer named err of el bytes and returns an error code:
 *
 *	return FAIL(-EPERM, "uid %u may not pin that key", uid);
 *
 * writes the message and evaluates to its first argument.
 */
#define FAIL(r, ...) (snprintf(err, el, __VA_ARGS__), (r))

#endif
