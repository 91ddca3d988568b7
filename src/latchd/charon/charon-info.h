/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_CHARON_INFO_H
#define LATCH_LATCHD_CHARON_INFO_H

/* charon as it describes itself (charon_info() in charon.h asks it, through vici-cmd.h). */

#include <stdbool.h>

/*
 * What charon says of itself: "version" (daemon, version, kernel) and
 * "stats" (the plugins it loaded, space-separated). Strings are clean text.
 */
struct vici_charon {
	char daemon[32], version[32], sysname[32], release[64];
	char plugins[2048];
	unsigned n_plugins;
};

/* Did charon load plugin name ("kernel-netlink")? */
bool vici_charon_has_plugin(const struct vici_charon *info, const char *name);

#endif
