/* SPDX-License-Identifier: MIT */
/*
 * latchd.conf's parser (src/latchd/base/config.c), key by key: the defaults
 * latchd.conf(5) lists, every key with a value it takes and values it
 * refuses (the -errno, and a message that names the key and quotes the value
 * as written), numbers, sizes and durations with their units, and the file
 * around them: comments, blanks, a key given twice, and errors naming
 * file:line. latchd.conf has no includes. A refused value changes nothing.
 */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "latchd/base/config.h"

/* The message must name this; prints both when it does not. */
static void assert_says(const char *err, const char *want)
{
	if (!strstr(err, want))
		fail_msg("message \"%s\" does not say \"%s\"", err, want);
}

/* value refused with r, the message saying want; the configuration unchanged. */
static void refused(const char *key, const char *value, int r, const char *want)
{
	struct config c, before;
	char err[512] = "";

	config_defaults(&c);
	before = c;
	assert_int_equal(config_set(&c, key, value, err, sizeof(err)), r);
	assert_says(err, want);
	if (memcmp(&c, &before, sizeof(c)) != 0)
		fail_msg("%s = %s: refused, but the configuration changed", key, value);
}

static struct config set(const char *key, const char *value)
{
	struct config c;
	char err[512] = "";

	config_defaults(&c);
	if (config_set(&c, key, value, err, sizeof(err)) != 0)
		fail_msg("%s = %s: refused: %s", key, value, err);
	return c;
}

/* What latchd.conf(5) gives as the defaults. */
static void defaults_are_the_documented_ones(void **state)
{
	struct config c;

	config_defaults(&c);
	assert_string_equal(c.socket, "/run/latch/latchd.sock");
	assert_string_equal(c.state_dir, "/run/latch");
	assert_string_equal(c.data_dir, "/var/lib/latch");
	/* under the configured sysconfdir, where meson installs them (install-paths.t) */
	assert_string_equal(c.btns_anchor, LATCH_SYSCONFDIR "/latch/btns/anchor.pem");
	assert_string_equal(c.btns_anchor_key, LATCH_SYSCONFDIR "/latch/btns/anchor.key");
	assert_string_equal(c.vici_socket, "/run/charon.vici");
	assert_string_equal(c.strongswan_conf, "/etc/strongswan.conf");
	assert_int_equal(c.data_plane, DATA_PLANE_AUTO);
	assert_string_equal(c.tun, "ipsec0");
	assert_int_equal(c.mark, 0x100);
	assert_string_equal(c.nft_table, "latch");
	assert_string_equal(c.local_id, "");
	assert_string_equal(c.cert, "");
	assert_string_equal(c.key, "");
	assert_int_equal(c.n_cas, 0);
	assert_string_equal(c.proposals, "aes256gcm16-prfsha256-x25519,default");
	assert_string_equal(c.esp_proposals, "aes256gcm16,default");
	assert_int_equal(c.dpd_delay, 30);
	assert_int_equal(c.initiate_timeout, 10);
	assert_int_equal(c.max_latches, 4096);
	assert_int_equal(c.max_pending, 64);
	assert_int_equal(c.max_clients, 64);
	assert_int_equal(c.max_queued_uid, 16u << 20);
	assert_int_equal(c.max_clients_total, 512);
	assert_int_equal(c.admin_clients, 16);
	assert_int_equal(c.max_queued_total, 64u << 20);
	assert_int_equal(c.admin_gid, (gid_t)-1);
}

/* Every string key: set, at its longest, and one byte too long (ENAMETOOLONG). */
static void string_keys(void **state)
{
#define FIELD(k, f)                                                            \
	{                                                                      \
		k, offsetof(struct config, f), sizeof(((struct config *)0)->f) \
	}
	static const struct {
		const char *key;
		size_t off, cap;
	} keys[] = {
		FIELD("socket", socket),
		FIELD("state_dir", state_dir),
		FIELD("data_dir", data_dir),
		FIELD("btns_anchor", btns_anchor),
		FIELD("btns_anchor_key", btns_anchor_key),
		FIELD("strongswan_conf", strongswan_conf),
		FIELD("tun", tun),
		FIELD("nft_table", nft_table),
		FIELD("local_id", local_id),
		FIELD("cert", cert),
		FIELD("key", key),
		FIELD("proposals", proposals),
		FIELD("esp_proposals", esp_proposals),
	};
#undef FIELD
	char v[300], want[64];

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		struct config c = set(keys[i].key, "Zü, a b");

		assert_string_equal((char *)&c + keys[i].off, "Zü, a b");
		memset(v, 'a', keys[i].cap - 1);
		v[keys[i].cap - 1] = '\0';
		c = set(keys[i].key, v);
		assert_string_equal((char *)&c + keys[i].off, v);
		v[keys[i].cap - 1] = 'a';
		v[keys[i].cap] = '\0';
		snprintf(want, sizeof(want), "%s: value longer than %zu bytes", keys[i].key,
			 keys[i].cap - 1);
		refused(keys[i].key, v, -ENAMETOOLONG, want);
		refused(keys[i].key, "a\x1b[2Jb", -EINVAL,
			"the value has a control byte or invalid UTF-8 at 1");
	}
}

/*
 * Numbers are decimal, or hexadecimal with 0x (latchd.conf(5)): "010" is
 * ten, not eight, and "08" is eight, not an error.
 */
static void number_keys(void **state)
{
#define FIELD(k, f)                           \
	{                                     \
		k, offsetof(struct config, f) \
	}
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		FIELD("max_latches_per_uid", max_latches),
		FIELD("max_pending_per_uid", max_pending),
		FIELD("max_clients_per_uid", max_clients),
		FIELD("max_clients", max_clients_total),
		FIELD("admin_clients", admin_clients),
	};
#undef FIELD

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *k = keys[i].key;
		struct config c = set(k, "12");

		assert_int_equal(*(unsigned *)((char *)&c + keys[i].off), 12);
		c = set(k, "0x10");
		assert_int_equal(*(unsigned *)((char *)&c + keys[i].off), 16);
		c = set(k, "010");
		assert_int_equal(*(unsigned *)((char *)&c + keys[i].off), 10);
		c = set(k, "08");
		assert_int_equal(*(unsigned *)((char *)&c + keys[i].off), 8);
		c = set(k, "4294967295");
		assert_int_equal(*(unsigned *)((char *)&c + keys[i].off), 4294967295u);
		refused(k, "4294967296", -EINVAL,
			"'4294967296' is not a number from 0 to 4294967295");
		refused(k, "-1", -EINVAL, "'-1' is not a number");
		refused(k, "12 clients", -EINVAL, "'12 clients' is not a number");
		refused(k, "", -EINVAL, "'' is not a number");
		refused(k, "0x", -EINVAL, "'0x' is not a number");
	}
	assert_int_equal(set("mark", "0x200").mark, 0x200);
	assert_int_equal(set("mark", "4294967295").mark, 4294967295u);
	refused("mark", "0", -EINVAL, "mark: must not be 0");
	refused("mark", "0x100000000", -EINVAL, "mark: '0x100000000' is not a number");
}

/* Sizes: bytes, or K, M, G (powers of 1024); the message quotes the value as written. */
static void size_keys(void **state)
{
	assert_int_equal(set("max_queued_per_uid", "65536").max_queued_uid, 65536);
	assert_int_equal(set("max_queued_per_uid", "64K").max_queued_uid, 64 << 10);
	assert_int_equal(set("max_queued_per_uid", "16M").max_queued_uid, 16 << 20);
	assert_int_equal(set("max_queued", "1G").max_queued_total, (size_t)1 << 30);
	assert_int_equal(set("max_queued", "0x10K").max_queued_total, 16 << 10);
	refused("max_queued", "", -EINVAL, "max_queued: '' is not a size");
	refused("max_queued", "16Q", -EINVAL, "max_queued: '16Q' is not a size");
	refused("max_queued", "16k", -EINVAL, "max_queued: '16k' is not a size");
	refused("max_queued", "xM", -EINVAL, "max_queued: 'xM' is not a size");
	refused("max_queued_per_uid", "-1K", -EINVAL, "max_queued_per_uid: '-1K' is not a size");
	refused("max_queued_per_uid", "M", -EINVAL, "max_queued_per_uid: 'M' is not a size");
	refused("max_queued_per_uid", "99999999999999999999", -EINVAL, "'99999999999999999999'");
	refused("max_queued_per_uid", "17179869184G", -EINVAL, "'17179869184G'");
}

/* Durations: seconds, 30, 30s or 2m; a number from 0 to 86400, then an optional unit. */
static void duration_keys(void **state)
{
	static const char *const keys[] = { "dpd_delay", "initiate_timeout" };

	for (size_t i = 0; i < 2; i++) {
		struct config c = set(keys[i], "2m");
		unsigned *f = i == 0 ? &c.dpd_delay : &c.initiate_timeout;
		char want[64];

		assert_int_equal(*f, 120);
		c = set(keys[i], "45s");
		assert_int_equal(*f, 45);
		c = set(keys[i], "0");
		assert_int_equal(*f, 0);
		c = set(keys[i], "86400");
		assert_int_equal(*f, 86400);
		snprintf(want, sizeof(want), "%s: '5xm' is not a duration", keys[i]);
		refused(keys[i], "5xm", -EINVAL, want);
		refused(keys[i], "86401", -EINVAL, "'86401' is not a duration");
		refused(keys[i], "-3", -EINVAL, "'-3' is not a duration");
		refused(keys[i], "3h", -EINVAL, "'3h' is not a duration");
		refused(keys[i], "m", -EINVAL, "'m' is not a duration");
		refused(keys[i], "", -EINVAL, "'' is not a duration");
	}
}

/*
 * vici_socket: an absolute path, or strongSwan's own URI for one
 * (unix:///PATH); another scheme is refused by name (issue 17).
 */
static void vici_socket_path_or_uri(void **state)
{
	char v[300];
	struct config c = set("vici_socket", "unix:///run/x/charon.vici");

	assert_string_equal(c.vici_socket, "/run/x/charon.vici");
	c = set("vici_socket", "/run/y.vici");
	assert_string_equal(c.vici_socket, "/run/y.vici");
	refused("vici_socket", "tcp://127.0.0.1:4502", -EPROTONOSUPPORT,
		"vici_socket: 'tcp://127.0.0.1:4502': latchd reaches charon over a UNIX socket "
		"only");
	refused("vici_socket", "unix://relative.vici", -EINVAL,
		"'unix://relative.vici' is not an absolute path");
	refused("vici_socket", "charon.vici", -EINVAL, "'charon.vici' is not an absolute path");
	v[0] = '/';
	memset(v + 1, 'a', sizeof(c.vici_socket) - 2);
	v[sizeof(c.vici_socket) - 1] = '\0';
	c = set("vici_socket", v);
	assert_string_equal(c.vici_socket, v);
	v[sizeof(c.vici_socket) - 1] = 'a';
	v[sizeof(c.vici_socket)] = '\0';
	refused("vici_socket", v, -ENAMETOOLONG, "vici_socket: value longer than 255 bytes");
	refused("vici_socket", "/a\x1b[2Jb", -EINVAL,
		"the value has a control byte or invalid UTF-8 at 2");
	/* and a duration with a unit spelled out is quoted whole */
	refused("dpd_delay", "5 minutes", -EINVAL, "dpd_delay: '5 minutes' is not a duration");
}

static void other_keys(void **state)
{
	struct config c;
	char err[512] = "", name[40];

	assert_int_equal(set("data_plane", "auto").data_plane, DATA_PLANE_AUTO);
	assert_int_equal(set("data_plane", "libipsec").data_plane, DATA_PLANE_LIBIPSEC);
	assert_int_equal(set("data_plane", "kernel").data_plane, DATA_PLANE_KERNEL);
	refused("data_plane", "fast", -EINVAL,
		"data_plane: 'fast' is not auto, libipsec or kernel");
	refused("data_plane", "Kernel", -EINVAL, "'Kernel'");

	assert_int_equal(set("admin_group", "root").admin_gid, 0);
	assert_int_equal(set("admin_group", "").admin_gid, (gid_t)-1);
	refused("admin_group", "no-such-group-of-latch", -ENOENT,
		"admin_group: no group 'no-such-group-of-latch'");

	/* ca adds one each time, 16 at most; one that does not fit adds nothing */
	config_defaults(&c);
	for (unsigned i = 0; i < CONFIG_MAX_CAS; i++) {
		snprintf(name, sizeof(name), "/etc/swanctl/x509ca/ca%u.pem", i);
		assert_int_equal(config_set(&c, "ca", name, err, sizeof(err)), 0);
		assert_int_equal(c.n_cas, i + 1);
		assert_string_equal(c.cas[i], name);
	}
	assert_int_equal(config_set(&c, "ca", "/one/more.pem", err, sizeof(err)), -E2BIG);
	assert_says(err, "ca: more than 16");
	assert_int_equal(c.n_cas, CONFIG_MAX_CAS);
	{
		char v[300];

		memset(v, 'c', 256);
		v[256] = '\0';
		refused("ca", v, -ENAMETOOLONG, "ca: value longer than 255 bytes");
	}

	refused("max_clients_per_user", "3", -ENOENT, "unknown key 'max_clients_per_user'");
	refused("", "3", -ENOENT, "unknown key ''");
	refused("m\xffrk", "1", -EINVAL, "a key has a control byte or invalid UTF-8 at 1");
}

/* A file of the given text; path gets its name. */
static void write_conf(char *path, size_t len, const char *text)
{
	FILE *f;

	snprintf(path, len, "/tmp/test-config.XXXXXX");
	assert_true(mkstemp(path) >= 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Comments, blanks, spaces around key and value, a key twice (the last wins), ca twice (two). */
static void a_file_with_everything(void **state)
{
	char path[64], err[512] = "";
	struct config c;

	write_conf(path, sizeof(path),
		   "# latchd.conf\n"
		   "\n"
		   "   \t\n"
		   "dpd_delay = 10s   # a comment after the value\n"
		   "\tmax_queued_per_uid=4M\n"
		   "local_id =   CN=host, O=latch  \n"
		   "ca = /a.pem\n"
		   "ca = /b.pem\n"
		   "mark = 0x200\n"
		   "mark = 0x300\n"
		   "data_plane = kernel"); /* the last line without its newline */
	config_defaults(&c);
	assert_int_equal(config_load(&c, path, true, err, sizeof(err)), 0);
	assert_int_equal(c.dpd_delay, 10);
	assert_int_equal(c.max_queued_uid, 4 << 20);
	assert_string_equal(c.local_id, "CN=host, O=latch");
	assert_int_equal(c.n_cas, 2);
	assert_string_equal(c.cas[1], "/b.pem");
	assert_int_equal(c.mark, 0x300);
	assert_int_equal(c.data_plane, DATA_PLANE_KERNEL);
	assert_int_equal(c.initiate_timeout, 10); /* left out: its default */
	unlink(path);
}

/* Each error names file:line and what is wrong on it. */
static void file_errors_name_the_line(void **state)
{
	static const struct {
		const char *text;
		int r;
		const char *want;
	} cases[] = {
		{ "# fine\nmark = 1\ndpd_delay = 5h\n", -EINVAL,
		  ":3: dpd_delay: '5h' is not a duration" },
		{ "\n\njust words\n", -EINVAL, ":3: expected 'key = value'" },
		{ "tun = ipsec0\nno_such = 1\n", -ENOENT, ":2: unknown key 'no_such'" },
		{ "data_plane = = kernel\n", -EINVAL, ":1: data_plane: '= kernel' is not auto" },
		{ "max_queued = 1T\n", -EINVAL, ":1: max_queued: '1T' is not a size" },
	};
	char path[64], err[512], want[128], big[1200];
	struct config c;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_conf(path, sizeof(path), cases[i].text);
		config_defaults(&c);
		err[0] = '\0';
		assert_int_equal(config_load(&c, path, true, err, sizeof(err)), cases[i].r);
		snprintf(want, sizeof(want), "%s%s", path, cases[i].want);
		assert_says(err, want);
		unlink(path);
	}
	/* a line of 1022 characters and its newline fits; a longer one is refused, nothing set */
	memset(big, ' ', sizeof(big));
	memcpy(big, "tun = x", 7);
	big[1022] = '\n';
	big[1023] = '\0';
	write_conf(path, sizeof(path), big);
	config_defaults(&c);
	assert_int_equal(config_load(&c, path, true, err, sizeof(err)), 0);
	assert_string_equal(c.tun, "x");
	unlink(path);
	big[1022] = ' ';
	strcpy(big + 1090, "\nmark = 5\n");
	write_conf(path, sizeof(path), big);
	config_defaults(&c);
	assert_int_equal(config_load(&c, path, true, err, sizeof(err)), -E2BIG);
	snprintf(want, sizeof(want), "%s:1: line too long", path);
	assert_says(err, want);
	assert_string_equal(c.tun, "ipsec0");
	unlink(path);
	/* a file that is not there: fine unless it must be */
	config_defaults(&c);
	assert_int_equal(config_load(&c, "/nonexistent/latchd.conf", false, err, sizeof(err)), 0);
	assert_int_equal(config_load(&c, "/nonexistent/latchd.conf", true, err, sizeof(err)),
			 -ENOENT);
	assert_says(err, "/nonexistent/latchd.conf: No such file or directory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_are_the_documented_ones),
		cmocka_unit_test(string_keys),
		cmocka_unit_test(number_keys),
		cmocka_unit_test(size_keys),
		cmocka_unit_test(duration_keys),
		cmocka_unit_test(vici_socket_path_or_uri),
		cmocka_unit_test(other_keys),
		cmocka_unit_test(a_file_with_everything),
		cmocka_unit_test(file_errors_name_the_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
