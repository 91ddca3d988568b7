/* SPDX-License-Identifier: MIT */
#include "unit.h"

#include <errno.h>
#include <string.h>

#include "latchd/dataplane/enforce-plane.h"
#include "latchd/dataplane/enforce-rules.h"
#include "latchd/dataplane/enforce.h"

/*
 * The data plane's one choice (enforce_plane_choose) and the capabilities
 * the core asks instead of the plane's name (enforce_caps). The probe is a
 * fake: its answer is the test's input, and it must be asked only for auto.
 */

static int probe_calls, probe_answer;

static int fake_probe(const char **how)
{
	probe_calls++;
	*how = "the fake probe";
	return probe_answer;
}

static const struct enforce_plane *choose(enum data_plane want, int answer, char *why, size_t n)
{
	probe_calls = 0;
	probe_answer = answer;
	return enforce_plane_choose(want, fake_probe, why, n);
}

static void test_choose_configured(void **state)
{
	char why[128];

	/* A configured plane is taken as it is, whatever the kernel could do. */
	assert_int_equal(choose(DATA_PLANE_KERNEL, 0, why, sizeof(why))->kind, DATA_PLANE_KERNEL);
	assert_int_equal(probe_calls, 0);
	assert_string_equal(why, "configured");
	assert_int_equal(choose(DATA_PLANE_LIBIPSEC, 1, why, sizeof(why))->kind,
			 DATA_PLANE_LIBIPSEC);
	assert_int_equal(probe_calls, 0);
	assert_string_equal(why, "configured");
}

static void test_choose_auto(void **state)
{
	char why[128];

	/* auto: the kernel's plane exactly when the probe says the kernel does ESP */
	assert_int_equal(choose(DATA_PLANE_AUTO, 1, why, sizeof(why))->kind, DATA_PLANE_KERNEL);
	assert_int_equal(probe_calls, 1);
	assert_string_equal(why, "auto: the kernel does ESP (found by the fake probe)");
	assert_int_equal(choose(DATA_PLANE_AUTO, 0, why, sizeof(why))->kind, DATA_PLANE_LIBIPSEC);
	assert_int_equal(probe_calls, 1);
	assert_string_equal(why, "auto: the kernel has no ESP (found by the fake probe)");
	/* a probe that failed is no ESP: libipsec, which needs nothing of the kernel's IPsec */
	assert_int_equal(choose(DATA_PLANE_AUTO, -EPERM, why, sizeof(why))->kind,
			 DATA_PLANE_LIBIPSEC);
	/* a short buffer is cut, never overrun */
	assert_int_equal(choose(DATA_PLANE_AUTO, 1, why, 5)->kind, DATA_PLANE_KERNEL);
	assert_string_equal(why, "auto");
}

static void test_choose_bad(void **state)
{
	char why[128];

	assert_null(choose((enum data_plane)7, 1, why, sizeof(why)));
	assert_int_equal(probe_calls, 0);
	/* the planes by kind: AUTO is a wish, no plane */
	assert_null(enforce_plane_of(DATA_PLANE_AUTO));
	assert_null(enforce_plane_of((enum data_plane)7));
	assert_int_equal(enforce_plane_of(DATA_PLANE_KERNEL)->kind, DATA_PLANE_KERNEL);
	assert_int_equal(enforce_plane_of(DATA_PLANE_LIBIPSEC)->kind, DATA_PLANE_LIBIPSEC);
}

/* What the core asks, answered by each plane (docs/dataplanes.md, "What the core asks"). */
static void test_caps(void **state)
{
	const struct enforce_caps *k = &enforce_plane_of(DATA_PLANE_KERNEL)->caps;
	const struct enforce_caps *l = &enforce_plane_of(DATA_PLANE_LIBIPSEC)->caps;

	/* the kernel: flows held by their sockets' XFRM policies, plain ESP */
	assert_true(k->needs_socket);
	assert_false(k->marks_sockets);
	assert_false(k->attach_udp);
	assert_false(k->udp_encap);
	/* the log line the kernel lab greps: "data plane: kernel" */
	assert_int_equal(strncmp(k->name, "kernel ", 7), 0);
	/* libipsec: nftables sets by 5-tuple, sockets known by their marks, ESP in UDP */
	assert_false(l->needs_socket);
	assert_true(l->marks_sockets);
	assert_true(l->attach_udp);
	assert_true(l->udp_encap);
	assert_int_equal(strncmp(l->name, "libipsec ", 9), 0);
}

/* The operations each plane has: a socket's policies on the kernel, its mark on libipsec. */
static void test_ops(void **state)
{
	const struct enforce_plane *k = enforce_plane_of(DATA_PLANE_KERNEL);
	const struct enforce_plane *l = enforce_plane_of(DATA_PLANE_LIBIPSEC);

	assert_non_null(k->flow_sock);
	assert_non_null(k->listen_sock);
	assert_null(k->sock_mark);
	assert_false(k->steers);
	assert_false(k->flows_in_table);
	assert_null(l->flow_sock);
	assert_null(l->listen_sock);
	assert_non_null(l->sock_mark);
	assert_true(l->steers);
	assert_true(l->flows_in_table);
	/* a socket policy on no socket is the kernel's error, not a silent success */
	assert_int_equal(k->listen_sock(-1, &(struct flow3){ .family = AF_INET, .proto = 6 }),
			 -EBADF);
	assert_int_equal(l->sock_mark(-1, ENFORCE_SOCK_MARK | 1), -EBADF);
}

/* The ruleset is built for a chosen plane only: AUTO is refused, not guessed. */
static void test_ruleset_needs_plane(void **state)
{
	struct enforce_config cfg = ENFORCE_CONFIG_DEFAULT;
	struct nft_batch b;

	assert_int_equal(cfg.data_plane, DATA_PLANE_LIBIPSEC);
	cfg.data_plane = DATA_PLANE_AUTO;
	assert_int_equal(nft_batch_init(&b, 1), 0);
	assert_int_equal(enforce_rules_build(&b, &cfg, true), -EINVAL);
	nft_batch_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_choose_configured),
		cmocka_unit_test(test_choose_auto),
		cmocka_unit_test(test_choose_bad),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_ops),
		cmocka_unit_test(test_ruleset_needs_plane),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
