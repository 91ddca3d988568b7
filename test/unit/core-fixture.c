/* SPDX-License-Identifier: MIT */
/* The core on fuzz-core's fakes, for unit tests (core-fixture.h). */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include "../fuzz/core/harness.h"
#include "core-fixture.h"
#include "latchd/base/log.h"

void core_fixture_config(struct core_fixture *fx)
{
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test-core-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	config_defaults(&fx->cfg);
	snprintf(fx->cfg.state_dir, sizeof(fx->cfg.state_dir), "%s", fx->dir);
	snprintf(fx->cfg.data_dir, sizeof(fx->cfg.data_dir), "%s", fx->dir); /* pins are kept */
	snprintf(fx->cfg.btns_anchor, sizeof(fx->cfg.btns_anchor), "%s/none", fx->dir);
	log_set_level(LOG_LVL_ERR);
}

void core_fixture_start(struct core_fixture *fx)
{
	fake_ev_reset();
	fake_control_reset();
	fake_vici_reset();
	fake_plane_reset(false, 0);
	assert_int_equal(core_new(NULL, &fx->cfg, &fx->c), 0);
}

void core_fixture_stop(struct core_fixture *fx)
{
	char cmd[96];

	core_free(fx->c, false);
	fx->c = NULL;
	fake_control_finish();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
	assert_int_equal(system(cmd), 0);
}
