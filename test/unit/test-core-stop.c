/* SPDX-License-Identifier: MIT */
/*
 * The core stopping (core_free) while requests wait on charon, driven
 * through fuzz-core's fakes (test/fuzz/core/). Found by fuzz-core: the
 * pending requests' set was freed before charon's client, whose outstanding
 * commands fail when it is freed, and their callbacks (a connection's load)
 * walked the freed set. Under AddressSanitizer (build-san) that is a
 * heap-use-after-free; here the request must get its one answer.
 */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../fuzz/core/harness.h"
#include "core-fixture.h"
#include "shared/wire.h"

/* CONNECT of fd to 192.0.2.2:80. */
static void send_connect(struct client *cl, int fd)
{
	static const uint8_t addr[4] = { 192, 0, 2, 2 };
	struct buf b;
	size_t n;

	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, IPC_MSG_CONNECT, 0, 2, 0);
	n = wire_nest_begin(&b, IPC_A_TUPLE);
	wire_put_u8(&b, IPC_A_TUPLE_FAMILY, IPC_FAMILY_INET);
	wire_put_bytes(&b, IPC_A_TUPLE_REMOTE_ADDR, addr, sizeof(addr));
	wire_put_u16(&b, IPC_A_TUPLE_REMOTE_PORT, 80);
	wire_nest_end(&b, n);
	assert_int_equal(wire_end(&b), 0);
	fake_client_send(cl, b.data, b.len, fd);
	buf_free(&b);
}

static bool call_queued(const char *name)
{
	for (size_t i = 0; i < fake_vici_calls(); i++) {
		if (!strcmp(fake_vici_call_name(i), name))
			return true;
	}
	return false;
}

static void stopping_while_a_connection_loads(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct core_fixture fx;
	struct client *cl;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	core_fixture_config(&fx);
	/* a CA to pin: any certificate does, the connection is never used */
	snprintf(fx.cfg.cas[0], sizeof(fx.cfg.cas[0]), "%s",
		 LATCH_SOURCE_ROOT "/etc/btns/anchor.pem");
	fx.cfg.n_cas = 1;
	core_fixture_start(&fx);
	fake_vici_up(false);
	cl = fake_client_hello(1000);
	send_connect(cl, fd);
	assert_int_equal(fake_client_last_status(cl), 0); /* HELLO's: CONNECT waits */
	assert_true(call_queued("load-conn"));		  /* its connection, never answered */
	core_fixture_stop(&fx); /* core_free: charon's client fails the load */
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stopping_while_a_connection_loads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
