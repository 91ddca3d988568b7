/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_CONFIG_H
#define LATCH_LATCHD_CONFIG_H

/*
 * latchd's configuration: <sysconfdir>/latch/latchd.conf (/etc/latch for a
 * distribution's prefix /usr), "key = value" lines, '#'
 * comments. Every key has a default that works with a stock strongSwan
 * (docs/man/latchd.conf.5 and the shipped example list them). Unknown keys and
 * bad values are errors naming the line: a typo must not silently weaken a
 * security setting.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "latchd/base/data-plane.h"

#ifndef LATCH_SYSCONFDIR
#define LATCH_SYSCONFDIR "/etc"
#endif
/* Meson's configured sysconfdir: the files `meson install` put there are found. */
#define CONFIG_DIR		       LATCH_SYSCONFDIR "/latch"
#define CONFIG_PATH_DEFAULT	       CONFIG_DIR "/latchd.conf"
#define CONFIG_BTNS_ANCHOR_DEFAULT     CONFIG_DIR "/btns/anchor.pem"
#define CONFIG_BTNS_ANCHOR_KEY_DEFAULT CONFIG_DIR "/btns/anchor.key"
#define CONFIG_MAX_CAS		       16

struct config {
	char socket[108];      /* the control socket (UNIX path) */
	char state_dir[256];   /* latch database for re-adoption; /run, so a reboot clears it */
	char data_dir[256];    /* what must survive a reboot: the BTNS key, leap-of-faith pins */
	char btns_anchor[256]; /* the BTNS trust anchor (PEM) and its public private key; */
	char btns_anchor_key[256]; /* either missing: no BTNS (docs/btns.md) */
	char vici_socket[256];	   /* charon's VICI socket */
	char strongswan_conf[256]; /* charon's settings file: what VICI does not report */
	enum data_plane data_plane;
	char tun[16];  /* libipsec's TUN device */
	uint32_t mark; /* routes latched flows into the data plane */
	char nft_table[32];

	/* IKE defaults of the connections latchd loads */
	char local_id[256]; /* empty: the certificate's first subjectAltName, else subject */
	char cert[256];	    /* our certificate (PEM); empty: rely on what charon has */
	char key[256];	    /* its private key (PEM), loaded into charon when set */
	char cas[CONFIG_MAX_CAS][256]; /* trust anchors when a token names none */
	unsigned n_cas;
	char proposals[256];
	char esp_proposals[256];
	unsigned dpd_delay;	   /* seconds; 0 off */
	unsigned initiate_timeout; /* seconds a latch may wait for its SA */

	/* limits per uid (root and the admin group have none) */
	unsigned max_latches;
	unsigned max_pending;
	unsigned max_clients;
	size_t max_queued_uid; /* bytes allocated for replies a uid's clients have not read */
	/* limits for all clients together */
	unsigned max_clients_total; /* the administrators' reserve included */
	unsigned admin_clients;	    /* of max_clients_total, for root and the admin group alone */
	size_t max_queued_total;    /* max_queued_uid for all users but administrators */
	gid_t admin_gid; /* members may act on every latch and ask for bypass; (gid_t)-1: none */
};

void config_defaults(struct config *c);

/*
 * Read a configuration file over the defaults. A missing file is fine when
 * must_exist is false. Returns 0, or -errno with a message naming the line
 * in err.
 */
int config_load(struct config *c, const char *path, bool must_exist, char *err, size_t errlen);

/* Apply one "key = value" line (also used for command-line overrides). */
int config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen);

#endif
