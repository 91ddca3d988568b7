/* SPDX-License-Identifier: MIT */
/*
 * The core's ATTACH (src/latchd/core/core-attach.c) driven through fuzz-core's
 * harness: the real core, fakes of the control socket, charon and the data
 * plane (test/fuzz/core/, test/fuzz/README.md).
 */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../fuzz/core/harness.h"
#include "latchd/base/config.h"
#include "latchd/base/log.h"
#include "latchd/core/core.h"
#include "shared/wire.h"

static int bound_tcp(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/*
 * Found by fuzz-core: a second ATTACH of the same socket (its SO_COOKIE) by
 * another uid replaced the first one's policy and owner, so the pending
 * latch the first user made was handed to the second. It is refused now,
 * and the owner can still replace its own token.
 */
static void attach_of_anothers_socket_is_refused(void **state)
{
	char dir[] = "/tmp/test-core-attach-XXXXXX", cmd[64];
	struct client *owner, *other;
	struct config cfg;
	struct core *c;
	int fd = bound_tcp();

	assert_non_null(mkdtemp(dir));
	config_defaults(&cfg);
	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s", dir);
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", dir);
	snprintf(cfg.btns_anchor, sizeof(cfg.btns_anchor), "%s/none", dir);
	log_set_level(LOG_LVL_ERR);
	fake_ev_reset();
	fake_control_reset();
	fake_vici_reset();
	fake_plane_reset(false, 0);
	assert_int_equal(core_new(NULL, &cfg, &c), 0);
	owner = fake_client_hello(1000);
	other = fake_client_hello(1001);
	fake_client_send_bare(owner, IPC_MSG_ATTACH, fd);
	assert_int_equal(fake_client_last_status(owner), 0);
	fake_client_send_bare(other, IPC_MSG_ATTACH, fd);
	assert_int_equal(fake_client_last_status(other), -EPERM);
	fake_client_send_bare(owner, IPC_MSG_ATTACH, fd);
	assert_int_equal(fake_client_last_status(owner), 0);
	core_free(c, false);
	fake_control_finish();
	close(fd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(attach_of_anothers_socket_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
