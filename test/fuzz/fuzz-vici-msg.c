/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the VICI decoder. The input is a byte stream as it
 * would arrive from charon: length-prefixed frames. Every frame the decoder
 * accepts must re-encode to exactly the bytes it came from; a difference is
 * a bug in one direction or the other, so it aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "latchd/charon/vici-msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_frame(const uint8_t *frame, size_t len)
{
	struct vici_packet pkt;
	struct vici_node *msg = NULL;
	struct vici_err err;
	struct buf b;

	if (vici_packet_decode(frame + 4, len - 4, &pkt, &err) < 0)
		return;
	if (vici_msg_decode(pkt.msg, pkt.msg_len, &msg, &err) < 0)
		return;
	buf_init(&b, 0);
	if (vici_frame_encode(&b, pkt.type, pkt.name, msg, &err) < 0 || b.len != len ||
	    memcmp(b.data, frame, len) != 0)
		abort();
	buf_free(&b);
	vici_node_free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vici_err err;
	uint32_t len;

	while (size >= 4) {
		if (vici_frame_len(data, &len, &err) < 0 || len > size - 4)
			break;
		check_frame(data, len + 4);
		data += len + 4;
		size -= len + 4;
	}
	/* The bare message walker must cope with anything, too. */
	vici_parse(data, size, NULL, NULL, &err);
	return 0;
}
