/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for NFQUEUE packets (src/latchd/dataplane/nfq.c): the input is one
 * datagram from the nfnetlink_queue socket, parsed as nfq_read parses it,
 * and each packet's copied bytes go through nfq_packet_flow as the draft
 * flow's hold does. Properties, each by abort(): a packet's payload lies
 * inside the datagram; a flow read from a packet is TCP or UDP of the
 * family its IP version says.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "latchd/dataplane/nfq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct span {
	const uint8_t *start;
	size_t len;
};

static void on_packet(const struct nfq_packet *pkt, void *arg)
{
	const struct span *in = arg;
	struct flow f;
	bool syn;

	if (!pkt->payload)
		return;
	if (pkt->payload < in->start || pkt->len > in->len ||
	    pkt->payload + pkt->len > in->start + in->len)
		abort();
	if (nfq_packet_flow(pkt->payload, pkt->len, &f, &syn) < 0)
		return;
	if ((f.proto != IPPROTO_TCP && f.proto != IPPROTO_UDP) || (syn && f.proto != IPPROTO_TCP) ||
	    f.family != ((pkt->payload[0] >> 4) == 4 ? AF_INET : AF_INET6))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf;
	struct span in;

	if (size > 65536)
		return 0;
	/* A datagram is received into an aligned buffer: so is the input. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	in = (struct span){ buf, size };
	(void)nfq_parse_packets(buf, size, on_packet, &in);
	free(buf);
	return 0;
}
