/* SPDX-License-Identifier: MIT */
#ifndef LATCH_TEST_CORE_FIXTURE_H
#define LATCH_TEST_CORE_FIXTURE_H

/*
 * The real core on fuzz-core's fakes (test/fuzz/core/), for the core's unit
 * tests: its state and data in a scratch directory, no BTNS anchor, the
 * fakes reset. Change cfg between core_fixture_config() and
 * core_fixture_start().
 */

#include "latchd/base/config.h"
#include "latchd/core/core.h"

struct core_fixture {
	char dir[64];
	struct config cfg;
	struct core *c;
};

void core_fixture_config(struct core_fixture *fx);
void core_fixture_start(struct core_fixture *fx);
/* core_free, every request answered (fake_control_finish), the directory gone. */
void core_fixture_stop(struct core_fixture *fx);

#endif
