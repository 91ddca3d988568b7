/* SPDX-License-Identifier: MIT */
#ifndef LATCH_LATCHD_NFT_H
#define LATCH_LATCHD_NFT_H

/*
 * The nf_tables plumbing under enforce.c: set element keys (pure), a
 * growable batch of netlink messages (pure), and one netlink socket that
 * commits a batch as one transaction and checks every ACK, surfacing the
 * kernel's extended-ACK text (I/O). Raw netlink because it costs 5.7 µs per
 * element against 20 ms for the nft command (measured on the lab).
 *
 * Key layout, as nft lays out a concatenation (one 4-byte register per
 * field, fields shorter than 4 bytes zero-padded, ports big-endian):
 *   flow, v4:   raddr(4) | proto(1)+pad(3) | rport(2)+pad(2) | laddr(4)  | lport(2)+pad(2) = 20
 *   flow, v6:   raddr(16)| proto(1)+pad(3) | rport(2)+pad(2) | laddr(16) | lport(2)+pad(2) = 44
 *   listener:   addr(4|16) | proto(1)+pad(3) | port(2)+pad(2)                                =
 * 12|24 wildcard:   proto(1)+pad(3) | port(2)+pad(2)                                             =
 * 8 The flow key is in the inbound orientation (remote first), so the same element matches
 * saddr.proto.sport.daddr.dport inbound and daddr.proto.dport.saddr.sport outbound.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "latchd/base/flow.h"

struct nlmsghdr;

#define NFT_KEY_MAX 44

/* Receive buffers: netlink dumps fill at most this much per read when we offer it. */
#define NFT_NLBUF 16384

/* Key bytes of f into key (zeroed first); returns the length (20 or 44), 0 on a bad family. */
size_t nft_key_flow(const struct flow *f, uint8_t key[NFT_KEY_MAX]);
/* Listener key: addr.proto.port (12 or 24) for a bound address, 0 for a bad family. */
size_t nft_key_listen(const struct flow3 *f, uint8_t key[NFT_KEY_MAX]);
/* Wildcard listener key: proto.port (8). */
size_t nft_key_listen_any(const struct flow3 *f, uint8_t key[NFT_KEY_MAX]);
/*
 * The inverse: 0, or -EINVAL when len does not fit family. ret untouched on
 * failure. An 8-byte listener key parses as a wildcard (zero addr) of family.
 */
int nft_key_flow_parse(int family, const uint8_t *key, size_t len, struct flow *ret);
int nft_key_listen_parse(int family, const uint8_t *key, size_t len, struct flow3 *ret);

/*
 * A batch: BATCH_BEGIN, messages, BATCH_END, in one growing buffer. Every
 * message between begin and end gets NLM_F_ACK and its own sequence number.
 */
struct nft_batch {
	char *buf;
	size_t len, cap;
	uint32_t seq_begin; /* seq of BATCH_BEGIN; messages follow it */
	uint32_t seq_next;
	unsigned msgs; /* messages between begin and end */
	int err;       /* sticky: the first allocation failure */
};

/* Starts the batch (BATCH_BEGIN) at sequence seq. 0 or -ENOMEM. */
int nft_batch_init(struct nft_batch *b, uint32_t seq);
void nft_batch_release(struct nft_batch *b);
/*
 * Room for a message of at most size bytes; NULL (and b->err) on ENOMEM.
 * The caller builds the message there (nftnl_*_nlmsg_build_hdr), then calls
 * nft_batch_push, which adds NLM_F_ACK and keeps it.
 */
char *nft_batch_room(struct nft_batch *b, size_t size);
uint32_t nft_batch_seq(struct nft_batch *b);
void nft_batch_push(struct nft_batch *b, struct nlmsghdr *nlh);
/* Appends BATCH_END; returns b->err. */
int nft_batch_finish(struct nft_batch *b);

/*
 * An NLMSG_ERROR message's error (0 for an ACK, -errno) and its extended-ACK
 * text, if any, into msg ("" otherwise). Pure: unit-tested on built bytes.
 */
int nft_parse_error(const struct nlmsghdr *nlh, char *msg, size_t msglen);

/* ----------------------------------------------------------------- I/O */

struct nft_sock;

/* A NETLINK_NETFILTER socket with extended ACKs, in the caller's netns. */
int nft_sock_open(struct nft_sock **ret);
void nft_sock_close(struct nft_sock *s);
/* The next sequence number to build a batch with. */
uint32_t nft_sock_seq(struct nft_sock *s);

/*
 * Send the finished batch and wait for the ACK of each message. 0, or the
 * first -errno the kernel reported (the whole transaction is then void);
 * the kernel's text, or ours, into err.
 */
int nft_sock_commit(struct nft_sock *s, struct nft_batch *b, char *err, size_t errlen);

/*
 * One request (built in req, already carrying NLM_F_DUMP or not) whose
 * replies go to cb until NLMSG_DONE or the answer: cb returns 0 to go on or
 * -errno to stop. 0 or -errno (with the kernel's text in err).
 */
typedef int (*nft_reply_fn)(const struct nlmsghdr *nlh, void *arg);
int nft_sock_request(struct nft_sock *s, struct nlmsghdr *req, nft_reply_fn cb, void *arg,
		     char *err, size_t errlen);

#endif
