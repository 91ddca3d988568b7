/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for sock_diag destroy events (src/latchd/dataplane/sockdiag.c):
 * the input is one datagram from the monitor socket, parsed as
 * sockdiag_monitor_read parses it. Properties, each by abort(): every
 * event's flow is IPv4 or IPv6, and what it carries is handed over intact
 * (the callback is called once per event counted).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "latchd/dataplane/sockdiag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_gone(const struct flow *f, uint64_t cookie, void *arg)
{
	int *calls = arg;

	(void)cookie;
	if (f->family != AF_INET && f->family != AF_INET6)
		abort();
	(*calls)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int calls = 0, n;
	uint8_t *buf;

	/* A datagram is received into an aligned buffer: so is the input. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	n = sockdiag_parse_events(buf, size, on_gone, &calls);
	free(buf);
	if (n != calls)
		abort();
	return 0;
}
