/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHCTL_PINS_H
#define LATCH_LATCHCTL_PINS_H

/*
 * `latchctl pins` (PIN_LIST) and `latchctl pins forget NAME` (PIN_DELETE):
 * the keys latchd pinned by leap of faith, by the name or address the
 * application used. Returns latchctl's exit code.
 */

#include <stdbool.h>

#include "latchctl/client.h"

int ctl_pins(struct ctl_client *c, bool json, int argc, char **argv);

#endif
