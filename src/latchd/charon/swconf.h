/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_SWCONF_H
#define LATCH_LATCHD_SWCONF_H

/*
 * charon's settings as its files give them: strongswan.conf(5) and what it
 * includes. For the settings charon does not report over VICI (the fwmark
 * pair, kernel-libipsec's allow_peer_ts): latchd --check reads them here,
 * with charon's own rules:
 *
 *	section { ... }            nested; a section given twice is merged
 *	key = value                to the end of the line, trimmed; later wins
 *	key = "quoted\nvalue"      may span lines; \n \t \" \\ escapes
 *	include GLOB               relative to the including file; inside a
 *	                           section, its settings land in that section
 *	section : ref, ... { }     references are read, not followed
 *	# comment
 *
 * Keys are looked up whole ("charon.plugins.kernel-netlink.fwmark"); a
 * daemon other than charon (charon-systemd) falls back to "charon.", as
 * charon-systemd itself does.
 */

#include <stddef.h>

struct swconf;

/* Read path (and its includes). -errno with a message naming file and line. */
int swconf_load(const char *path, struct swconf **ret, char *err, size_t errlen);
void swconf_free(struct swconf *s);
/* The value of key (the last one given), or NULL. */
const char *swconf_get(const struct swconf *s, const char *key);
/*
 * daemon's setting "DAEMON.rest" (rest: "plugins.kernel-netlink.fwmark"),
 * else "charon.rest" as charon-systemd falls back; NULL if neither.
 */
const char *swconf_daemon_get(const struct swconf *s, const char *daemon, const char *rest);
/* strongSwan's booleans: yes, true, enabled, 1 (any case). */
int swconf_bool(const char *v, int dflt);

#endif
