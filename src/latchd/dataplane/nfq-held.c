/* SPDX-License-Identifier: MIT */
/*
 * The packets latchd holds in NFQUEUE, by latch and uid (nfq.h): pure, apart
 * from nfq.c so that harnesses that fake the queue keep the real limits.
 */
#include <errno.h>

#include "latchd/dataplane/nfq.h"

int nfq_held_add(struct nfq_held_queue *q, uint32_t pkt, uint64_t tag, uint32_t uid, bool exempt)
{
	unsigned mine = 0;

	if (q->n == NFQ_HELD_MAX)
		return -ENOSPC;
	for (unsigned i = 0; i < q->n && !exempt; i++)
		mine += q->v[i].uid == uid;
	if (!exempt && mine >= NFQ_HELD_PER_UID)
		return -EDQUOT;
	q->v[q->n++] = (struct nfq_held){ pkt, tag, uid };
	return 0;
}

unsigned nfq_held_take(struct nfq_held_queue *q, uint64_t tag, uint32_t *out)
{
	unsigned kept = 0, n = 0;

	for (unsigned i = 0; i < q->n; i++) {
		if (q->v[i].tag == tag)
			out[n++] = q->v[i].pkt;
		else
			q->v[kept++] = q->v[i];
	}
	q->n = kept;
	return n;
}
