/* SPDX-License-Identifier: MIT */
/*
 * The core's table of request handlers (src/latchd/core/dispatch.c): one row
 * for every message type the protocol defines (src/shared/proto.h), and the
 * checks of a row applied to every request of its type before its handler:
 * the socket it takes, a passed socket's kind, the caller's rights. Driven
 * through fuzz-core's fakes (test/fuzz/core/), as test-core-attach.c is.
 */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../fuzz/core/harness.h"
#include "core-fixture.h"
#include "latchd/core/core-int.h"
#include "shared/wire.h"

static struct core_fixture fx;

static int setup(void **state)
{
	core_fixture_config(&fx);
	core_fixture_start(&fx);
	return 0;
}

static int teardown(void **state)
{
	core_fixture_stop(&fx);
	return 0;
}

/* A well-formed request of type (what the codec needs of it), sent with fd or -1. */
static void send_msg(struct client *cl, uint16_t type, int fd)
{
	static const uint8_t addr[4] = { 192, 0, 2, 2 };
	struct buf b;
	size_t n;

	buf_init(&b, IPC_MSG_MAX);
	wire_begin(&b, type, 0, 7, 0);
	if (type == IPC_MSG_CONNECT) {
		n = wire_nest_begin(&b, IPC_A_TUPLE);
		wire_put_u8(&b, IPC_A_TUPLE_FAMILY, IPC_FAMILY_INET);
		wire_put_bytes(&b, IPC_A_TUPLE_REMOTE_ADDR, addr, sizeof(addr));
		wire_put_u16(&b, IPC_A_TUPLE_REMOTE_PORT, 80);
		wire_nest_end(&b, n);
	}
	if (type == IPC_MSG_CLOSE)
		wire_put_u64(&b, IPC_A_LATCH_ID, 1);
	if (type == IPC_MSG_PIN_DELETE) {
		n = wire_nest_begin(&b, IPC_A_REMOTE_IDENTITY);
		wire_put_str(&b, IPC_A_IDENT_ID, "nobody.example");
		wire_nest_end(&b, n);
	}
	assert_int_equal(wire_end(&b), 0);
	fake_client_send(cl, b.data, b.len, fd);
	buf_free(&b);
}

static unsigned rows_of(uint16_t type)
{
	unsigned n = 0;

	for (size_t i = 0; i < core_n_handlers; i++)
		n += core_handlers[i].type == type;
	return n;
}

/* Every IPC_MSG_* of enum ipc_msg in proto.h has exactly one row, and no row is another's. */
static void one_row_per_message_type_of_the_protocol(void **state)
{
	FILE *f = fopen(LATCH_SOURCE_ROOT "/src/shared/proto.h", "r");
	char line[256], name[64];
	unsigned value, types = 0;
	bool in_enum = false;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (!in_enum) {
			in_enum = !strncmp(line, "enum ipc_msg {", 14);
			continue;
		}
		if (!strncmp(line, "};", 2))
			break;
		if (sscanf(line, " IPC_MSG_%63[A-Z_] = %u", name, &value) != 2)
			continue;
		types++;
		/* the codec knows it by that name: the same protocol */
		assert_string_equal(wire_msg_name((uint16_t)value), name);
		if (rows_of((uint16_t)value) != 1)
			fail_msg("IPC_MSG_%s (%u) has %u rows in core_handlers[]", name, value,
				 rows_of((uint16_t)value));
	}
	fclose(f);
	assert_true(types >= 18);
	assert_int_equal(core_n_handlers, types);
}

/* Called straight, as if the codec had let it through: refused before any handler runs. */
static int handle_direct(uint16_t type, int fd, char *err, size_t el)
{
	struct request req = {
		.cred = { .pid = 1100, .uid = 1000, .gid = 1000 },
		.fd = fd,
		.type = type,
	};

	err[0] = '\0';
	return core_handle(fx.c, &req, err, el);
}

static void the_socket_column_is_checked_for_every_row(void **state)
{
	char err[IPC_MESSAGE_MAX + 1], want[128];
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	unsigned required = 0, none = 0;

	assert_true(fd >= 0);
	for (size_t i = 0; i < core_n_handlers; i++) {
		const struct core_handler *h = &core_handlers[i];
		const char *name = wire_msg_name(h->type);

		if (!h->handle)
			continue;
		if (h->fd == CORE_FD_REQUIRED) {
			assert_int_equal(handle_direct(h->type, -1, err, sizeof(err)), -EBADF);
			snprintf(want, sizeof(want), "%s needs the socket passed with SCM_RIGHTS",
				 name);
			assert_string_equal(err, want);
			required++;
		} else if (h->fd == CORE_FD_NONE) {
			assert_int_equal(handle_direct(h->type, fd, err, sizeof(err)), -EBADF);
			snprintf(want, sizeof(want), "%s takes no socket", name);
			assert_string_equal(err, want);
			none++;
		}
	}
	close(fd);
	assert_int_equal(required, 5); /* CONNECT, LISTEN, ACCEPT, LATCH, ATTACH */
	assert_true(none >= 9);
}

static void not_served_types_are_eopnotsupp(void **state)
{
	char err[IPC_MESSAGE_MAX + 1];

	assert_int_equal(handle_direct(IPC_MSG_ALERT, -1, err, sizeof(err)), -EOPNOTSUPP);
	assert_string_equal(err, "ALERT is not served by this latchd yet");
	assert_int_equal(handle_direct(999, -1, err, sizeof(err)), -EOPNOTSUPP);
}

/* A UNIX socket is no TCP or UDP one: every request that takes a socket refuses it first. */
static void a_passed_descriptor_is_checked_for_every_row_that_takes_one(void **state)
{
	struct client *cl = fake_client_hello(1000);
	int p[2];
	unsigned n = 0;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p), 0);
	for (size_t i = 0; i < core_n_handlers; i++) {
		const struct core_handler *h = &core_handlers[i];

		if (!h->handle || h->fd == CORE_FD_NONE)
			continue;
		send_msg(cl, h->type, p[0]);
		assert_int_equal(fake_client_last_status(cl), -EAFNOSUPPORT);
		assert_string_equal(fake_client_last_message(cl),
				    "the socket passed is no TCP or UDP socket");
		n++;
	}
	close(p[0]);
	close(p[1]);
	assert_int_equal(n, 7);
}

/* Admin-only rows: -EPERM with a message for others, the handler for root. */
static void admin_only_rows_refuse_other_users(void **state)
{
	struct client *user = fake_client_hello(1000), *root = fake_client_hello(0);
	char want[128];
	unsigned n = 0;

	for (size_t i = 0; i < core_n_handlers; i++) {
		const struct core_handler *h = &core_handlers[i];

		if (!h->admin_only)
			continue;
		send_msg(user, h->type, -1);
		assert_int_equal(fake_client_last_status(user), -EPERM);
		snprintf(want, sizeof(want), "%s are for root or the admin group", h->admin_only);
		assert_string_equal(fake_client_last_message(user), want);
		send_msg(root, h->type, -1);
		assert_int_not_equal(fake_client_last_status(root), -EPERM);
		n++;
	}
	assert_int_equal(n, 2); /* PIN_LIST, PIN_DELETE */
	send_msg(root, IPC_MSG_PIN_LIST, -1);
	assert_int_equal(fake_client_last_status(root), 0);
	send_msg(root, IPC_MSG_PIN_DELETE, -1); /* past the check: the handler's own answer */
	assert_int_equal(fake_client_last_status(root), -ENOENT);
	send_msg(user, IPC_MSG_STATUS, -1); /* rows for anyone */
	assert_int_equal(fake_client_last_status(user), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_row_per_message_type_of_the_protocol),
		cmocka_unit_test_setup_teardown(the_socket_column_is_checked_for_every_row, setup,
						teardown),
		cmocka_unit_test_setup_teardown(not_served_types_are_eopnotsupp, setup, teardown),
		cmocka_unit_test_setup_teardown(
			a_passed_descriptor_is_checked_for_every_row_that_takes_one, setup,
			teardown),
		cmocka_unit_test_setup_teardown(admin_only_rows_refuse_other_users, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
