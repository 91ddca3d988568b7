/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the pins file's line parser (src/latchd/db/pins.c). The
 * input is one line. Properties, each by abort(): an accepted line has a
 * name pins_parse_line promises (non-empty, no control byte, at most
 * PINS_NAME_MAX), and formatting it and parsing that back gives the same pin.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "latchd/db/pins.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[2 * PINS_NAME_MAX + 128], again[sizeof(line)];
	struct pin p, q;

	if (size >= sizeof(line))
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (pins_parse_line(line, &p) < 0)
		return 0;
	if (!p.name[0] || strlen(p.name) > PINS_NAME_MAX)
		abort();
	for (const char *s = p.name; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
	}
	if (pins_format_line(&p, again, sizeof(again)) < 0 || pins_parse_line(again, &q) < 0 ||
	    memcmp(&p, &q, sizeof(p)) != 0)
		abort();
	return 0;
}
