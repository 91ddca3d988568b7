/* SPDX-License-Identifier: MIT */
#include "unit.h"

#include <errno.h>
#include <string.h>

#include "latchd/base/config.h"

/* latchd.conf's values (issue 17 §3): errors quote the value as written. */

static void expect_refused(const char *key, const char *value, int err, const char *want)
{
	struct config c, before;
	char msg[512];

	config_defaults(&c);
	before = c;
	assert_int_equal(config_set(&c, key, value, msg, sizeof(msg)), err);
	if (!strstr(msg, want))
		fail_msg("%s = %s: got \"%s\", wanted \"%s\" in it", key, value, msg, want);
	assert_memory_equal(&c, &before, sizeof(c)); /* and changes nothing */
}

static void durations_quote_the_value(void **state)
{
	expect_refused("dpd_delay", "5 minutes", -EINVAL, "'5 minutes'");
	expect_refused("initiate_timeout", "10ms", -EINVAL, "'10ms'");
	expect_refused("initiate_timeout", "s", -EINVAL, "'s'");
}

static void sizes_quote_the_value(void **state)
{
	expect_refused("max_queued", "16 MiB", -EINVAL, "'16 MiB'");
	expect_refused("max_queued_per_uid", "xM", -EINVAL, "'xM'");
}

static void durations_and_sizes_still_parse(void **state)
{
	struct config c;
	char msg[256];

	config_defaults(&c);
	assert_int_equal(config_set(&c, "dpd_delay", "2m", msg, sizeof(msg)), 0);
	assert_int_equal(c.dpd_delay, 120);
	assert_int_equal(config_set(&c, "max_queued", "16M", msg, sizeof(msg)), 0);
	assert_int_equal(c.max_queued_total, 16u << 20);
}

/* strongSwan's own way of naming the socket: understood, or refused by name. */
static void vici_socket_uri(void **state)
{
	struct config c;
	char msg[256];

	config_defaults(&c);
	assert_int_equal(
		config_set(&c, "vici_socket", "unix:///run/x/charon.vici", msg, sizeof(msg)), 0);
	assert_string_equal(c.vici_socket, "/run/x/charon.vici");
	assert_int_equal(config_set(&c, "vici_socket", "/run/y.vici", msg, sizeof(msg)), 0);
	assert_string_equal(c.vici_socket, "/run/y.vici");
	expect_refused("vici_socket", "tcp://127.0.0.1:4502", -EPROTONOSUPPORT,
		       "'tcp://127.0.0.1:4502'");
	expect_refused("vici_socket", "unix://relative.vici", -EINVAL, "'unix://relative.vici'");
	expect_refused("vici_socket", "charon.vici", -EINVAL, "'charon.vici'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(durations_quote_the_value),
		cmocka_unit_test(sizes_quote_the_value),
		cmocka_unit_test(durations_and_sizes_still_parse),
		cmocka_unit_test(vici_socket_uri),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
