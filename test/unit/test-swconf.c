/* SPDX-License-Identifier: MIT */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "latchd/charon/swconf.h"

/* charon's files, read by charon's rules (swconf.h), for latchd --check. */

static char dir[64];

static void put(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test-swconf.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static struct swconf *load(const char *name)
{
	char path[128], err[256];
	struct swconf *s = NULL;
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	r = swconf_load(path, &s, err, sizeof(err));
	if (r < 0)
		fail_msg("%s: %s", name, err);
	return s;
}

static void sections_includes_and_later_wins(void **state)
{
	struct swconf *s;

	mkdir(strcat(strcpy((char[128]){ 0 }, dir), "/strongswan.d"), 0700);
	put("strongswan.conf",
	    "# the main file\n"
	    "charon {\n"
	    "\tload_modular = yes\n"
	    "\tplugins {\n"
	    "\t\tinclude strongswan.d/*.conf\n"
	    "\t\tkernel-netlink { fwmark = 0x42 }\n"
	    "\t}\n"
	    "}\n"
	    "charon { plugins { kernel-netlink {\n fwmark = !0x42   # inverted\n} } }\n");
	put("strongswan.d/libipsec.conf", "kernel-libipsec {\n"
					  "    allow_peer_ts = yes\n"
					  "    note = \"two\\nlines\"\n"
					  "}\n");
	s = load("strongswan.conf");
	assert_string_equal(swconf_get(s, "charon.load_modular"), "yes");
	assert_string_equal(swconf_get(s, "charon.plugins.kernel-netlink.fwmark"), "!0x42");
	assert_string_equal(swconf_get(s, "charon.plugins.kernel-libipsec.allow_peer_ts"), "yes");
	assert_string_equal(swconf_get(s, "charon.plugins.kernel-libipsec.note"), "two\nlines");
	assert_null(swconf_get(s, "charon.plugins.socket-default.fwmark"));
	assert_int_equal(
		swconf_bool(swconf_get(s, "charon.plugins.kernel-libipsec.allow_peer_ts"), 0), 1);
	assert_int_equal(swconf_bool("Disabled", 1), 0);
	assert_int_equal(swconf_bool(NULL, -1), -1);
	swconf_free(s);
}

static void charon_systemd_falls_back(void **state)
{
	struct swconf *s;

	put("sd.conf", "charon { plugins { socket-default { fwmark = 0x42 } } }\n"
		       "charon-systemd { plugins { kernel-netlink { fwmark = 0x100 } } }\n");
	s = load("sd.conf");
	assert_string_equal(swconf_daemon_get(s, "charon-systemd", "plugins.kernel-netlink.fwmark"),
			    "0x100");
	assert_string_equal(swconf_daemon_get(s, "charon-systemd", "plugins.socket-default.fwmark"),
			    "0x42");
	assert_null(swconf_daemon_get(s, "charon", "plugins.kernel-netlink.fwmark"));
	swconf_free(s);
}

static void errors_name_file_and_line(void **state)
{
	char path[128], err[256];
	struct swconf *s = NULL;

	put("bad.conf", "charon {\n  plugins {\n    x = 1\n  }\n");
	snprintf(path, sizeof(path), "%s/bad.conf", dir);
	assert_int_equal(swconf_load(path, &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bad.conf:5: a section does not end"));
	snprintf(path, sizeof(path), "%s/missing.conf", dir);
	assert_int_equal(swconf_load(path, &s, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "missing.conf: No such file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sections_includes_and_later_wins),
		cmocka_unit_test(charon_systemd_falls_back),
		cmocka_unit_test(errors_name_file_and_line),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
