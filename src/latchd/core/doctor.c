/* SPDX-License-Identifier: MIT */
#include "latchd/core/doctor.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "latchd/charon/swconf.h"
#include "latchd/cred/credcheck.h"

#define CAP_NET_ADMIN_BIT 12

void doctor_add(struct doctor *d, bool ok, const char *what, const char *fmt, ...)
{
	struct doctor_line *l;
	va_list ap;

	if (!ok)
		d->failed++;
	if (d->n == DOCTOR_LINES_MAX)
		return;
	l = &d->line[d->n++];
	l->ok = ok;
	snprintf(l->what, sizeof(l->what), "%s", what);
	va_start(ap, fmt);
	vsnprintf(l->text, sizeof(l->text), fmt, ap);
	va_end(ap);
}

void doctor_print(FILE *f, const struct doctor *d)
{
	for (unsigned i = 0; i < d->n; i++)
		fprintf(f, "%-4s %s: %s\n", d->line[i].ok ? "ok" : "FAIL", d->line[i].what,
			d->line[i].text);
}

static const char *plane_name(enum data_plane p)
{
	return p == DATA_PLANE_KERNEL ? "kernel" : "libipsec";
}

/* ---- latchd itself ---- */

bool doctor_cap_net_admin(void)
{
	char line[256];
	unsigned long long eff = 0;
	bool found = false;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && !found && fgets(line, sizeof(line), f))
		found = sscanf(line, "CapEff: %llx", &eff) == 1;
	if (f)
		fclose(f);
	return !found || (eff & (1ull << CAP_NET_ADMIN_BIT)); /* no /proc: let the kernel say */
}

void doctor_privileges(struct doctor *d)
{
	if (doctor_cap_net_admin())
		doctor_add(d, true, "privileges", "CAP_NET_ADMIN in effect");
	else
		doctor_add(d, false, "privileges", "%s", DOCTOR_NEEDS_NET_ADMIN);
}

void doctor_credentials(struct doctor *d, const struct config *cfg)
{
	const char *cas[CONFIG_MAX_CAS];
	char why[400];

	if (!cfg->cert[0]) {
		doctor_add(d, true, "credentials",
			   "no cert configured: the connections latchd loads use what charon "
			   "has loaded");
	} else if (!cfg->key[0]) {
		doctor_add(d, true, "credentials",
			   "cert %s, no key configured: charon must hold its private key",
			   cfg->cert);
	} else {
		int r = credcheck_pair(cfg->cert, cfg->key, why, sizeof(why));

		doctor_add(d, r == 0, "credentials", "%s%s", why,
			   r == -EKEYREJECTED ? ": set key to the certificate's private key"
			   : r < 0	      ? ": fix cert/key in latchd.conf"
					      : "");
	}
	for (unsigned i = 0; i < cfg->n_cas; i++)
		cas[i] = cfg->cas[i];
	if (!cfg->n_cas) {
		doctor_add(d, true, "trust anchors",
			   "no ca configured: a token must name the CA its peer's certificate "
			   "comes from");
	} else if (cfg->cert[0]) {
		int r = credcheck_chain(cfg->cert, cas, cfg->n_cas, why, sizeof(why));

		doctor_add(d, r == 0, "trust anchors", "%s%s", why,
			   r < 0 ? ": name the CA that issued cert with a ca line" : "");
	} else {
		int r = credcheck_chain(cfg->cas[0], cas, cfg->n_cas, why, sizeof(why));

		doctor_add(d, r == 0 || r == -EKEYREJECTED, "trust anchors", "%u CA file%s read",
			   cfg->n_cas, cfg->n_cas == 1 ? "" : "s");
	}
}

/* ---- the kernel and the data plane ---- */

enum data_plane doctor_plane(struct doctor *d, const struct config *cfg)
{
	const char *name;
	char why[200];
	enum data_plane p = probe_plane(cfg->data_plane, &name, why, sizeof(why));

	doctor_add(d, true, "data plane", "%s: %s", name, why);
	return p;
}

static const char *kernel_fix(enum probe_feature f, int err)
{
	if (err == -EPERM)
		return f == PROBE_PIDFD_GETFD
			       ? "allow pidfd_getfd in the service's SystemCallFilter"
			       : "latchd needs CAP_NET_ADMIN";
	switch (f) {
	case PROBE_ESP:
		return "load esp4/esp6, or set data_plane = libipsec";
	case PROBE_NFTABLES:
		return "load nf_tables (modprobe nf_tables)";
	case PROBE_NFQUEUE:
		return "load nfnetlink_queue, nft_compat and xt_NFQUEUE";
	case PROBE_SOCK_DESTROY:
		return "a kernel with CONFIG_INET_DIAG_DESTROY=y";
	default:
		return "a kernel of 5.6 or later";
	}
}

void doctor_kernel(struct doctor *d, const struct probe_result probes[PROBE_N],
		   enum data_plane plane)
{
	for (int f = 0; f < PROBE_N; f++) {
		const struct probe_result *r = &probes[f];
		bool needed = probe_needed(plane, (enum probe_feature)f);

		if (r->err == 0)
			doctor_add(d, true, "kernel", "%s (%s)", probe_name((enum probe_feature)f),
				   r->how);
		else if (!needed)
			doctor_add(d, true, "kernel",
				   "%s missing, and the %s data plane does not "
				   "need it (%s)",
				   probe_name((enum probe_feature)f), plane_name(plane), r->how);
		else
			doctor_add(d, false, "kernel", "%s: %s; the %s data plane needs it: %s",
				   probe_name((enum probe_feature)f), r->how, plane_name(plane),
				   kernel_fix((enum probe_feature)f, r->err));
	}
}

/* ---- charon ---- */

static int plugin_index(const struct vici_charon *info, const char *name)
{
	char list[sizeof(info->plugins)];
	char *save = NULL;
	int i = 0;

	snprintf(list, sizeof(list), "%s", info->plugins);
	for (char *t = strtok_r(list, " ", &save); t; t = strtok_r(NULL, " ", &save), i++) {
		if (!strcmp(t, name))
			return i;
	}
	return -1;
}

static void doctor_plugins(struct doctor *d, const struct vici_charon *info, enum data_plane plane)
{
	int libipsec = plugin_index(info, "kernel-libipsec"),
	    netlink = plugin_index(info, "kernel-netlink");

	if (netlink < 0)
		doctor_add(d, false, "charon plugins",
			   "kernel-netlink is not loaded (charon reports: %s): add it to "
			   "charon.load",
			   info->plugins);
	else if (plane == DATA_PLANE_LIBIPSEC && libipsec < 0)
		doctor_add(d, false, "charon plugins",
			   "kernel-libipsec is not loaded, and the libipsec data plane needs it: "
			   "load it before kernel-netlink (charon reports: %s)",
			   info->plugins);
	else if (plane == DATA_PLANE_LIBIPSEC && libipsec > netlink)
		doctor_add(d, false, "charon plugins",
			   "kernel-libipsec is loaded after kernel-netlink: ESP would not go "
			   "through ipsec0; list it first in charon.load");
	else if (plane == DATA_PLANE_KERNEL && libipsec >= 0)
		doctor_add(d, false, "charon plugins",
			   "kernel-libipsec is loaded, and the kernel data plane needs the "
			   "kernel's ESP: remove it from charon.load, or set data_plane = "
			   "libipsec");
	else if (!vici_charon_has_plugin(info, "x509"))
		doctor_add(d, false, "charon plugins",
			   "x509 is not loaded: charon cannot read the certificates latchd loads");
	else
		doctor_add(d, true, "charon plugins",
			   "%u loaded, as charon reports them (stats): %s", info->n_plugins,
			   info->plugins);
}

void doctor_charon(struct doctor *d, const struct config *cfg, const char *error,
		   const struct vici_charon *info, enum data_plane plane)
{
	if (error) {
		doctor_add(
			d, false, "charon", "%s: %s", error,
			strstr(error, strerror(EACCES))
				? "latchd may not open it: run latchd as root"
				: "start charon (systemctl start strongswan), or set vici_socket "
				  "to the socket of charon's vici plugin "
				  "(charon.plugins.vici.socket)");
		doctor_add(d, false, "charon plugins", "not known: charon does not answer");
		return;
	}
	if (!info) {
		doctor_add(d, true, "charon", "reachable at %s", cfg->vici_socket);
		return;
	}
	doctor_add(d, true, "charon", "%s %s answers on %s (%s %s)", info->daemon, info->version,
		   cfg->vici_socket, info->sysname, info->release);
	doctor_plugins(d, info, plane);
}

/* "[!]mark[/mask]": does a packet with mark m match the rule? */
static int fwmark_matches(const char *rule, uint32_t m, bool *matches)
{
	bool invert = rule[0] == '!';
	unsigned long mark, mask = 0xffffffff;
	char *end;

	errno = 0;
	mark = strtoul(rule + invert, &end, 0);
	if (*end == '/')
		mask = strtoul(end + 1, &end, 0);
	if (errno || *end || end == rule + invert)
		return -EINVAL;
	*matches = ((m & mask) == (mark & mask)) != invert;
	return 0;
}

static void settings_libipsec(struct doctor *d, const struct config *cfg, const struct swconf *s,
			      const char *daemon, const char *where)
{
	const char *nl = swconf_daemon_get(s, daemon, "plugins.kernel-netlink.fwmark"),
		   *sd = swconf_daemon_get(s, daemon, "plugins.socket-default.fwmark"),
		   *ts = swconf_daemon_get(s, daemon, "plugins.kernel-libipsec.allow_peer_ts");
	unsigned long ike = sd ? strtoul(sd, NULL, 0) : 0;
	bool ours = false, theirs = false;

	if (!nl)
		doctor_add(d, false, "charon settings",
			   "charon.plugins.kernel-netlink.fwmark is not set: charon routes no "
			   "latched flow into ipsec0; set it to 0x%x, latchd's mark %s",
			   cfg->mark, where);
	else if (fwmark_matches(nl, cfg->mark, &ours) < 0)
		doctor_add(d, false, "charon settings",
			   "charon.plugins.kernel-netlink.fwmark = '%s' is not [!]mark[/mask] %s",
			   nl, where);
	else if (!ours)
		doctor_add(
			d, false, "charon settings",
			"charon.plugins.kernel-netlink.fwmark = %s does not select latchd's mark "
			"0x%x: set it to 0x%x %s",
			nl, cfg->mark, cfg->mark, where);
	else if (fwmark_matches(nl, (uint32_t)ike, &theirs) == 0 && theirs)
		doctor_add(
			d, false, "charon settings",
			"charon.plugins.kernel-netlink.fwmark = %s also selects charon's own IKE "
			"packets (socket-default.fwmark = %s): IKE would be routed into ipsec0; "
			"give socket-default a mark the rule excludes %s",
			nl, sd ? sd : "unset, 0", where);
	else
		doctor_add(d, true, "charon settings",
			   "kernel-netlink.fwmark = %s selects latchd's mark 0x%x and not IKE's "
			   "(socket-default.fwmark = %s) %s",
			   nl, cfg->mark, sd ? sd : "unset", where);
	if (swconf_bool(ts, 0) != 1)
		doctor_add(d, false, "charon settings",
			   "charon.plugins.kernel-libipsec.allow_peer_ts is %s: set it to yes, or "
			   "libipsec refuses the traffic selectors latchd's connections narrow "
			   "to %s",
			   ts ? ts : "not set (no)", where);
	else
		doctor_add(d, true, "charon settings", "kernel-libipsec.allow_peer_ts = %s %s", ts,
			   where);
}

void doctor_settings(struct doctor *d, const struct config *cfg, const char *daemon,
		     enum data_plane plane)
{
	const char *path = cfg->strongswan_conf;
	char err[400], where[360];
	struct swconf *s;
	int r;

	if (plane == DATA_PLANE_KERNEL) {
		doctor_add(d, true, "charon settings",
			   "the kernel data plane needs neither the fwmark pair nor "
			   "allow_peer_ts");
		return;
	}
	r = swconf_load(path, &s, err, sizeof(err));
	if (r < 0) {
		doctor_add(d, false, "charon settings",
			   "%s: charon does not report the fwmark pair or allow_peer_ts over VICI, "
			   "and its files cannot be read (strongswan_conf in latchd.conf names "
			   "another file)",
			   err);
		return;
	}
	snprintf(where, sizeof(where), "(read from %s and its includes: charon does not report it)",
		 path);
	settings_libipsec(d, cfg, s, daemon, where);
	swconf_free(s);
}
