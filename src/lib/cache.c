/* SPDX-License-Identifier: MIT */
/*
 * Latch info this ctx answers without asking latchd (IPC_FEATURE_GEN_PAGE).
 *
 * latchd shares with each connection that asks a read-only page of
 * generation counters, one slot per latch id modulo IPC_GEN_SLOTS, and
 * counts in it every change of anything latch info shows (state, reason,
 * SA, identities) of the latches this connection made; its replies about
 * them carry the slot's value. A reply kept here is given again while its
 * slot still holds that value and the socket is still the one it described:
 * the same socket (SO_COOKIE, never reused, unlike the descriptor's number)
 * with the same local and remote ends, which is how latchd finds a socket's
 * latch. Anything else asks latchd. Slots shared by several latches only
 * cost a question more.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/internal.h"

void cache_page(latch_ctx *ctx, int fd)
{
	struct stat st;
	int seals;
	void *p;

	/*
	 * A page latchd could shrink later would kill us with SIGBUS on a read;
	 * F_GET_SEALS fails (-1, all bits set) on a file that cannot be sealed.
	 */
	seals = fcntl(fd, F_GET_SEALS);
	if (fstat(fd, &st) == 0 && st.st_size >= IPC_GEN_PAGE_SIZE && seals >= 0 &&
	    (seals & F_SEAL_SHRINK)) {
		p = mmap(NULL, IPC_GEN_PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
		if (p != MAP_FAILED)
			ctx->gen = p;
	}
	close(fd);
}

static uint64_t slot(const latch_ctx *ctx, uint64_t id)
{
	return __atomic_load_n(&ctx->gen[id % IPC_GEN_SLOTS], __ATOMIC_ACQUIRE);
}

static int cookie_of(int fd, uint64_t *ret)
{
	socklen_t len = sizeof(*ret);

	return getsockopt(fd, SOL_SOCKET, SO_COOKIE, ret, &len) < 0 ? -errno : 0;
}

static struct cached **chain(latch_ctx *ctx, uint64_t cookie)
{
	return &ctx->cache[cookie % CACHE_BUCKETS];
}

static void drop(latch_ctx *ctx, struct cached **pp)
{
	struct cached *e = *pp;

	*pp = e->next;
	latch_info_free(e->info);
	free(e);
	ctx->n_cached--;
}

static struct cached **find(latch_ctx *ctx, uint64_t cookie)
{
	struct cached **pp = chain(ctx, cookie);

	while (*pp && (*pp)->cookie != cookie)
		pp = &(*pp)->next;
	return pp;
}

/*
 * Forget every entry that is no longer current (closed latches among them),
 * whenever the entries have doubled since the last sweep: amortised, and
 * never more than twice the live ones.
 */
static void sweep(latch_ctx *ctx)
{
	for (unsigned i = 0; i < CACHE_BUCKETS; i++) {
		for (struct cached **pp = &ctx->cache[i]; *pp;) {
			if (slot(ctx, (*pp)->info->id) != (*pp)->gen)
				drop(ctx, pp);
			else
				pp = &(*pp)->next;
		}
	}
	ctx->sweep_at = 2 * ctx->n_cached > CACHE_SWEEP ? 2 * ctx->n_cached : CACHE_SWEEP;
}

void cache_keep(latch_ctx *ctx, int fd, const latch_info *info)
{
	struct cached **pp, *e;
	uint64_t gen, cookie;

	if (!ctx->gen || wire_get_u64(&ctx->reply.attrs, IPC_A_GENERATION, &gen) < 0 || !info->id ||
	    cookie_of(fd, &cookie) < 0)
		return;
	if (!ctx->cache) {
		ctx->cache = calloc(CACHE_BUCKETS, sizeof(*ctx->cache));
		ctx->sweep_at = CACHE_SWEEP;
	}
	if (!ctx->cache)
		return;
	pp = find(ctx, cookie);
	if (*pp)
		drop(ctx, pp);
	if (ctx->n_cached >= ctx->sweep_at)
		sweep(ctx);
	if (ctx->n_cached >= CACHE_MAX || !(e = calloc(1, sizeof(*e))))
		return;
	if (info_dup(info, &e->info) < 0) {
		free(e);
		return;
	}
	e->cookie = cookie;
	e->gen = gen;
	pp = chain(ctx, cookie);
	e->next = *pp;
	*pp = e;
	ctx->n_cached++;
}

static bool same_end(const struct sockaddr_storage *ss, socklen_t len, uint8_t family,
		     const uint8_t *addr, uint16_t port)
{
	const void *a;
	uint16_t p;
	uint8_t fam;
	size_t alen;

	return addr_parts((const struct sockaddr *)ss, len, &fam, &a, &alen, &p) == 0 &&
	       fam == family && p == port && !memcmp(a, addr, alen);
}

/* Does latchd's lookup (by the socket's ends, src/latchd/core/core-req.c) still find this latch? */
static bool same_flow(int fd, const struct latch_info *info)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (!info->has_tuple || !info->has_local ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    !same_end(&ss, len, info->family, info->laddr, info->lport))
		return false;
	len = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return errno == ENOTCONN && !info->has_remote;
	return info->has_remote && same_end(&ss, len, info->family, info->raddr, info->rport);
}

int cache_answer(latch_ctx *ctx, int fd, latch_info **ret)
{
	struct cached **pp;
	uint64_t cookie;

	/*
	 * The page cannot tell that latchd went away: its connection can. Reading
	 * what waits on it also keeps the events in order for latch_ctx_process().
	 */
	if (!ctx->cache || ctx_drain(ctx) < 0 || cookie_of(fd, &cookie) < 0)
		return 0;
	pp = find(ctx, cookie);
	if (!*pp)
		return 0;
	if (slot(ctx, (*pp)->info->id) != (*pp)->gen || !same_flow(fd, (*pp)->info)) {
		drop(ctx, pp);
		return 0;
	}
	return info_dup((*pp)->info, ret) < 0 ? -ENOMEM : 1;
}

void cache_free(latch_ctx *ctx)
{
	for (unsigned i = 0; ctx->cache && i < CACHE_BUCKETS; i++) {
		while (ctx->cache[i])
			drop(ctx, &ctx->cache[i]);
	}
	free(ctx->cache);
	if (ctx->gen)
		munmap((void *)ctx->gen, IPC_GEN_PAGE_SIZE);
}
