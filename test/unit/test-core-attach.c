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
#include "core-fixture.h"
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
	struct core_fixture fx;
	struct client *owner, *other;
	int fd = bound_tcp();

	core_fixture_config(&fx);
	core_fixture_start(&fx);
	owner = fake_client_hello(1000);
	other = fake_client_hello(1001);
	fake_client_send_bare(owner, IPC_MSG_ATTACH, fd);
	assert_int_equal(fake_client_last_status(owner), 0);
	fake_client_send_bare(other, IPC_MSG_ATTACH, fd);
	assert_int_equal(fake_client_last_status(other), -EPERM);
	fake_client_send_bare(owner, IPC_MSG_ATTACH, fd);
	assert_int_equal(fake_client_last_status(owner), 0);
	core_fixture_stop(&fx);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(attach_of_anothers_socket_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
