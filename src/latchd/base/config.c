/* SPDX-License-Identifier: MIT */
#include "latchd/base/config.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/text.h"

void config_defaults(struct config *c)
{
	*c = (struct config){
		.data_plane = DATA_PLANE_AUTO,
		.mark = 0x100,
		.dpd_delay = 30,
		.initiate_timeout = 10,
		.max_latches = 4096,
		.max_pending = 64,
		.max_clients = 64,
		.max_queued_uid = 16u << 20,
		.max_clients_total = 512,
		.admin_clients = 16,
		.max_queued_total = 64u << 20,
		.admin_gid = (gid_t)-1,
	};
	snprintf(c->socket, sizeof(c->socket), "/run/latch/latchd.sock");
	snprintf(c->state_dir, sizeof(c->state_dir), "/run/latch");
	snprintf(c->data_dir, sizeof(c->data_dir), "/var/lib/latch");
	snprintf(c->btns_anchor, sizeof(c->btns_anchor), "%s", CONFIG_BTNS_ANCHOR_DEFAULT);
	snprintf(c->btns_anchor_key, sizeof(c->btns_anchor_key), "%s",
		 CONFIG_BTNS_ANCHOR_KEY_DEFAULT);
	snprintf(c->vici_socket, sizeof(c->vici_socket), "/run/charon.vici");
	snprintf(c->strongswan_conf, sizeof(c->strongswan_conf), "/etc/strongswan.conf");
	snprintf(c->tun, sizeof(c->tun), "ipsec0");
	snprintf(c->nft_table, sizeof(c->nft_table), "latch");
	snprintf(c->proposals, sizeof(c->proposals), "aes256gcm16-prfsha256-x25519,default");
	snprintf(c->esp_proposals, sizeof(c->esp_proposals), "aes256gcm16,default");
}

static int errf(char *err, size_t len, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int errf(char *err, size_t len, int r, const char *fmt, ...)
{
	va_list ap;

	if (len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return r;
}

static int set_str(char *dst, size_t cap, const char *key, const char *v, char *err, size_t el)
{
	if (strlen(v) >= cap)
		return errf(err, el, -ENAMETOOLONG, "%s: value longer than %zu bytes", key,
			    cap - 1);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int set_uint(unsigned long long *dst, unsigned long long max, const char *key, const char *v,
		    char *err, size_t el)
{
	unsigned long long n;
	char *end;

	/* decimal, or hexadecimal after 0x: a leading 0 is no octal (latchd.conf(5)) */
	errno = 0;
	n = strtoull(v, &end, v[0] == '0' && (v[1] == 'x' || v[1] == 'X') ? 16 : 10);
	if (errno || end == v || *end || *v == '-' || n > max)
		return errf(err, el, -EINVAL, "%s: '%s' is not a number from 0 to %llu", key, v,
			    max);
	*dst = n;
	return 0;
}

/* "65536", "64K", "16M", "1G": bytes. */
static int set_bytes(size_t *dst, const char *key, const char *v, char *err, size_t el)
{
	static const char units[] = "KMG";
	char num[32];
	size_t n = strlen(v);
	unsigned long long x;
	const char *u;
	int shift = 0;

	if (n == 0 || n >= sizeof(num))
		return errf(err, el, -EINVAL, "%s: '%s' is not a size", key, v);
	memcpy(num, v, n + 1);
	u = strchr(units, num[n - 1]);
	if (u && *u) {
		shift = 10 * (int)(u - units + 1);
		num[n - 1] = '\0';
	}
	if (set_uint(&x, SIZE_MAX >> shift, key, num, NULL, 0) < 0)
		return errf(err, el, -EINVAL,
			    "%s: '%s' is not a size (bytes, or a number and K, M or G)", key, v);
	*dst = (size_t)x << shift;
	return 0;
}

/* "30", "30s", "2m": seconds. */
static int set_secs(unsigned *dst, const char *key, const char *v, char *err, size_t el)
{
	char num[32];
	size_t n = strlen(v);
	unsigned long long mult = 1, x;

	if (n == 0 || n >= sizeof(num))
		return errf(err, el, -EINVAL, "%s: '%s' is not a duration", key, v);
	memcpy(num, v, n + 1);
	if (num[n - 1] == 's' || num[n - 1] == 'm') {
		mult = num[n - 1] == 'm' ? 60 : 1;
		num[n - 1] = '\0';
	}
	if (set_uint(&x, 86400, key, num, NULL, 0) < 0)
		return errf(err, el, -EINVAL,
			    "%s: '%s' is not a duration (a number from 0 to 86400, then s or m)",
			    key, v);
	*dst = (unsigned)(x * mult);
	return 0;
}

static int set_data_plane(struct config *c, const char *v, char *err, size_t el)
{
	if (!strcmp(v, "auto"))
		c->data_plane = DATA_PLANE_AUTO;
	else if (!strcmp(v, "libipsec"))
		c->data_plane = DATA_PLANE_LIBIPSEC;
	else if (!strcmp(v, "kernel"))
		c->data_plane = DATA_PLANE_KERNEL;
	else
		return errf(err, el, -EINVAL, "data_plane: '%s' is not auto, libipsec or kernel",
			    v);
	return 0;
}

/*
 * charon's VICI socket: a path, or strongSwan's own URI for one
 * ("unix:///run/charon.vici", as in strongswan.conf and swanctl --uri).
 * latchd speaks VICI over UNIX sockets only: another scheme is refused.
 */
static int set_vici_socket(struct config *c, const char *v, char *err, size_t el)
{
	const char *path = v, *colon = strstr(v, "://");

	if (colon) {
		if (strncmp(v, "unix://", 7))
			return errf(err, el, -EPROTONOSUPPORT,
				    "vici_socket: '%s': latchd reaches charon over a UNIX socket "
				    "only (a path, or unix:///PATH)",
				    v);
		path = v + 7;
	}
	if (path[0] != '/')
		return errf(err, el, -EINVAL, "vici_socket: '%s' is not an absolute path", v);
	return set_str(c->vici_socket, sizeof(c->vici_socket), "vici_socket", path, err, el);
}

static int set_admin_group(struct config *c, const char *v, char *err, size_t el)
{
	struct group *g;

	if (!*v) {
		c->admin_gid = (gid_t)-1;
		return 0;
	}
	g = getgrnam(v);
	if (!g)
		return errf(err, el, -ENOENT, "admin_group: no group '%s'", v);
	c->admin_gid = g->gr_gid;
	return 0;
}

static int add_ca(struct config *c, const char *v, char *err, size_t el)
{
	int r;

	if (c->n_cas == CONFIG_MAX_CAS)
		return errf(err, el, -E2BIG, "ca: more than %d", CONFIG_MAX_CAS);
	r = set_str(c->cas[c->n_cas], sizeof(c->cas[0]), "ca", v, err, el);
	c->n_cas += r == 0; /* one that does not fit adds nothing */
	return r;
}

#define STR(k, f)                                                              \
	{                                                                      \
		k, offsetof(struct config, f), sizeof(((struct config *)0)->f) \
	}
static const struct {
	const char *key;
	size_t off, cap;
} str_keys[] = {
	STR("socket", socket),
	STR("state_dir", state_dir),
	STR("data_dir", data_dir),
	STR("btns_anchor", btns_anchor),
	STR("btns_anchor_key", btns_anchor_key),
	STR("strongswan_conf", strongswan_conf),
	STR("tun", tun),
	STR("nft_table", nft_table),
	STR("local_id", local_id),
	STR("cert", cert),
	STR("key", key),
	STR("proposals", proposals),
	STR("esp_proposals", esp_proposals),
};

#define UINT(k, f)                            \
	{                                     \
		k, offsetof(struct config, f) \
	}
static const struct {
	const char *key;
	size_t off;
} uint_keys[] = {
	UINT("max_latches_per_uid", max_latches), UINT("max_pending_per_uid", max_pending),
	UINT("max_clients_per_uid", max_clients), UINT("max_clients", max_clients_total),
	UINT("admin_clients", admin_clients),
};

static int set_typed(struct config *c, const char *key, const char *value, char *err, size_t el)
{
	unsigned long long n;
	int r;

	if (!strcmp(key, "data_plane"))
		return set_data_plane(c, value, err, el);
	if (!strcmp(key, "vici_socket"))
		return set_vici_socket(c, value, err, el);
	if (!strcmp(key, "admin_group"))
		return set_admin_group(c, value, err, el);
	if (!strcmp(key, "ca"))
		return add_ca(c, value, err, el);
	if (!strcmp(key, "max_queued_per_uid"))
		return set_bytes(&c->max_queued_uid, key, value, err, el);
	if (!strcmp(key, "max_queued"))
		return set_bytes(&c->max_queued_total, key, value, err, el);
	if (!strcmp(key, "dpd_delay"))
		return set_secs(&c->dpd_delay, key, value, err, el);
	if (!strcmp(key, "initiate_timeout"))
		return set_secs(&c->initiate_timeout, key, value, err, el);
	if (!strcmp(key, "mark")) {
		r = set_uint(&n, UINT32_MAX, key, value, err, el);
		if (r == 0 && n == 0)
			r = errf(err, el, -EINVAL, "mark: must not be 0");
		if (r == 0)
			c->mark = (uint32_t)n;
		return r;
	}
	return errf(err, el, -ENOENT, "unknown key '%s'", key);
}

/*
 * Keys and values are clean text (shared/text.h): values name files,
 * identities and proposals, and error messages quote them. Anything else is
 * a mistake, refused without quoting it.
 */
static int check_text(const char *key, const char *value, char *err, size_t el)
{
	size_t kn = strlen(key), vn = strlen(value), k = text_clean_prefix(key, kn), v;

	if (k < kn)
		return errf(err, el, -EINVAL, "a key has a control byte or invalid UTF-8 at %zu",
			    k);
	v = text_clean_prefix(value, vn);
	if (v < vn)
		return errf(err, el, -EINVAL,
			    "%s: the value has a control byte or invalid UTF-8 at %zu", key, v);
	return 0;
}

int config_set(struct config *c, const char *key, const char *value, char *err, size_t el)
{
	unsigned long long n;
	int r = check_text(key, value, err, el);

	if (r < 0)
		return r;

	for (size_t i = 0; i < sizeof(str_keys) / sizeof(str_keys[0]); i++) {
		if (!strcmp(key, str_keys[i].key))
			return set_str((char *)c + str_keys[i].off, str_keys[i].cap, key, value,
				       err, el);
	}
	for (size_t i = 0; i < sizeof(uint_keys) / sizeof(uint_keys[0]); i++) {
		if (strcmp(key, uint_keys[i].key))
			continue;
		r = set_uint(&n, UINT_MAX, key, value, err, el);
		if (r == 0)
			*(unsigned *)((char *)c + uint_keys[i].off) = (unsigned)n;
		return r;
	}
	return set_typed(c, key, value, err, el);
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int config_line(struct config *c, char *line, char *err, size_t el)
{
	char *eq, *key, *value, *hash = strchr(line, '#');

	if (hash)
		*hash = '\0';
	key = trim(line);
	if (!*key)
		return 0;
	eq = strchr(key, '=');
	if (!eq)
		return errf(err, el, -EINVAL, "expected 'key = value'");
	*eq = '\0';
	key = trim(key);
	value = trim(eq + 1);
	return config_set(c, key, value, err, el);
}

int config_load(struct config *c, const char *path, bool must_exist, char *err, size_t el)
{
	char line[1024], why[256];
	unsigned lineno = 0;
	FILE *f;
	int r = 0;

	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && !must_exist)
			return 0;
		return errf(err, el, -errno, "%s: %s", path, strerror(errno));
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			r = errf(err, el, -E2BIG, "%s:%u: line too long", path, lineno);
			break;
		}
		r = config_line(c, line, why, sizeof(why));
		if (r < 0) {
			errf(err, el, r, "%s:%u: %s", path, lineno, why);
			break;
		}
	}
	fclose(f);
	return r;
}
