/* SPDX-License-Identifier: MIT */
/* latchctl pins: leap-of-faith pins, listed and forgotten (pins.h). */
#include "latchctl/pins.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "latchctl/info.h"

struct pin_list {
	bool json;
	unsigned n;
};

static int pin_entry(void *u, const struct wire_msg *m)
{
	struct pin_list *pl = u;
	struct wire_attrs id;
	const uint8_t *spki = NULL;
	const char *name = "?", *audit = NULL;
	size_t len = 0;
	unsigned long long when = 0;
	char at[32] = "-", shown[CTL_TEXT_MAX];

	if (wire_get_nested(&m->attrs, IPC_A_REMOTE_IDENTITY, &id) < 0)
		return 0;
	wire_get_str(&id, IPC_A_IDENT_ID, &name);
	wire_get_bytes(&id, IPC_A_IDENT_SPKI_SHA256, &spki, &len);
	if (wire_get_str(&id, IPC_A_IDENT_AUDIT, &audit) == 0)
		sscanf(audit, "pinned=%llu", &when);
	if (pl->json) {
		if (!pl->n) {
			json_doc_begin(stdout, "pins");
			putchar('[');
		}
		printf("%s{\"name\":", pl->n ? ",\n " : "");
		json_str(stdout, name);
		printf(",\"pubkey\":");
		json_hex(stdout, spki, spki ? len : 0);
		printf(",\"pinned\":%llu}", when);
	} else {
		time_t t = (time_t)when;

		if (when)
			strftime(at, sizeof(at), "%Y-%m-%d %H:%M:%S", localtime(&t));
		if (!pl->n)
			printf("%-24s %-64s %s\n", "NAME", "PUBKEY (SHA-256 OF THE SPKI)",
			       "PINNED");
		printf("%-24s ", ctl_text(shown, sizeof(shown), name, NULL));
		for (size_t i = 0; spki && i < len; i++)
			printf("%02x", spki[i]);
		printf(" %s\n", at);
	}
	pl->n++;
	return 0;
}

static int list(struct ctl_client *c, bool json)
{
	struct pin_list pl = { json, 0 };
	struct buf b;
	int r;

	ctl_begin(c, &b, IPC_MSG_PIN_LIST);
	r = ctl_call(c, &b, pin_entry, &pl);
	buf_free(&b);
	if (json && (r == 0 || pl.n)) {
		if (!pl.n) {
			json_doc_begin(stdout, "pins");
			putchar('[');
		}
		putchar(']');
		json_doc_end(stdout);
	} else if (r == 0 && !pl.n) {
		printf("no pins\n");
	}
	return r < 0 ? ctl_refused(c, json, r) : 0;
}

static int forget(struct ctl_client *c, bool json, const char *name)
{
	struct buf b;
	size_t n;
	int r;

	ctl_begin(c, &b, IPC_MSG_PIN_DELETE);
	n = wire_nest_begin(&b, IPC_A_REMOTE_IDENTITY);
	wire_put_str(&b, IPC_A_IDENT_ID, name);
	wire_nest_end(&b, n);
	r = ctl_call(c, &b, NULL, NULL);
	buf_free(&b);
	if (r < 0)
		return ctl_refused(c, json, r);
	if (json) {
		json_doc_begin(stdout, "forgotten");
		json_str(stdout, name);
		json_doc_end(stdout);
	} else {
		printf("pin of %s forgotten: its next contact is a first contact again\n", name);
	}
	return 0;
}

int ctl_pins(struct ctl_client *c, bool json, int argc, char **argv)
{
	if (argc == 0)
		return list(c, json);
	if (argc == 2 && !strcmp(argv[0], "forget"))
		return forget(c, json, argv[1]);
	return ctl_usage_error(json, "pins [forget NAME]");
}
