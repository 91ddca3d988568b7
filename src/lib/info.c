/* SPDX-License-Identifier: MIT */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "lib/internal.h"
#include "shared/text.h"

_Static_assert((int)LATCH_STATE_LARVAL == (int)IPC_STATE_LARVAL, "state");
_Static_assert((int)LATCH_REASON_UNLATCHED == (int)IPC_REASON_UNLATCHED, "reason");

static int info_new(struct latch_info **ret)
{
	struct latch_info *info = calloc(1, sizeof(*info));

	if (!info)
		return -ENOMEM;
	info->shared = -1;
	*ret = info;
	return 0;
}

int info_unlatched(latch_info **ret)
{
	int r = info_new(ret);

	if (r == 0)
		(*ret)->reason = LATCH_REASON_UNLATCHED;
	return r;
}

LATCH_EXPORT void latch_info_free(latch_info *info)
{
	if (!info)
		return;
	free(info->message);
	latch_ident_free(info->local);
	latch_ident_free(info->remote);
	latch_token_free(info->prot);
	free(info->encr_alg);
	free(info->integ_alg);
	free(info);
}

int info_dup(const latch_info *info, latch_info **ret)
{
	struct latch_info *c = malloc(sizeof(*c));

	if (!c)
		return -ENOMEM;
	*c = *info;
	c->message = c->encr_alg = c->integ_alg = NULL;
	c->local = c->remote = NULL;
	c->prot = NULL;
	if (dup_str(&c->message, info->message) < 0 || dup_str(&c->encr_alg, info->encr_alg) < 0 ||
	    dup_str(&c->integ_alg, info->integ_alg) < 0 ||
	    (info->local && latch_ident_dup(info->local, &c->local) < 0) ||
	    (info->remote && latch_ident_dup(info->remote, &c->remote) < 0) ||
	    (info->prot && latch_token_dup(info->prot, &c->prot) < 0)) {
		latch_info_free(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

static void decode_tuple(const struct wire_attrs *t, struct latch_info *info)
{
	const uint8_t *p;
	size_t n, alen;

	(void)wire_get_u8(t, IPC_A_TUPLE_FAMILY, &info->family);
	(void)wire_get_u8(t, IPC_A_TUPLE_PROTO, &info->proto);
	alen = info->family == IPC_FAMILY_INET6 ? 16 : 4;
	/* A length that does not fit the family is latchd's bug; show no address then. */
	if (wire_get_bytes(t, IPC_A_TUPLE_LOCAL_ADDR, &p, &n) == 0 && n == alen) {
		memcpy(info->laddr, p, n);
		info->has_local = true;
	}
	if (wire_get_bytes(t, IPC_A_TUPLE_REMOTE_ADDR, &p, &n) == 0 && n == alen) {
		memcpy(info->raddr, p, n);
		info->has_remote = true;
	}
	(void)wire_get_u16(t, IPC_A_TUPLE_LOCAL_PORT, &info->lport);
	(void)wire_get_u16(t, IPC_A_TUPLE_REMOTE_PORT, &info->rport);
	info->has_tuple = true;
}

static int decode_sa(const struct wire_attrs *sa, struct latch_info *info)
{
	const char *s;
	uint8_t v;

	(void)wire_get_u32(sa, IPC_A_SA_CHILD_ID, &info->child_id);
	(void)wire_get_u32(sa, IPC_A_SA_SPI_IN, &info->spi_in);
	(void)wire_get_u32(sa, IPC_A_SA_SPI_OUT, &info->spi_out);
	if (wire_get_u8(sa, IPC_A_SA_SHARED, &v) == 0)
		info->shared = v;
	if (wire_get_u8(sa, IPC_A_SA_MODE, &v) == 0)
		info->sa_mode = v;
	info->has_sa = true;
	if (wire_get_str(sa, IPC_A_SA_ENCR_ALG, &s) == 0 && !(info->encr_alg = text_dup(s)))
		return -ENOMEM;
	if (wire_get_str(sa, IPC_A_SA_INTEG_ALG, &s) == 0 && !(info->integ_alg = text_dup(s)))
		return -ENOMEM;
	return 0;
}

/* Identities carry the channel's binding too: the draft's iToken has it. */
static int decode_ident(const struct wire_attrs *m, uint16_t type, const uint8_t *cb,
			struct latch_ident **ret)
{
	struct wire_attrs a;
	int r;

	if (wire_get_nested(m, type, &a) < 0)
		return 0;
	r = ident_decode(&a, ret);
	if (r == 0 && cb) {
		memcpy((*ret)->cb, cb, LATCH_CB_LEN);
		(*ret)->has_cb = true;
	}
	return r;
}

static int decode_parts(const struct wire_attrs *m, struct latch_info *info)
{
	uint8_t cb[LATCH_CB_LEN], *cbp = NULL;
	struct wire_attrs a;
	const uint8_t *p;
	const char *s;
	size_t n;
	int r;

	if (wire_get_bytes(m, IPC_A_CHANNEL_BINDING, &p, &n) == 0 && cb_from_wire(p, n, cb) == 0)
		cbp = cb;
	if (wire_get_str(m, IPC_A_MESSAGE, &s) == 0 && !(info->message = text_dup(s)))
		return -ENOMEM;
	if (wire_get_nested(m, IPC_A_TUPLE, &a) == 0)
		decode_tuple(&a, info);
	if (wire_get_nested(m, IPC_A_SA, &a) == 0 && (r = decode_sa(&a, info)) < 0)
		return r;
	if (wire_get_nested(m, IPC_A_PROTECTION, &a) == 0 &&
	    (r = token_decode(&a, &info->prot)) < 0)
		return r;
	r = decode_ident(m, IPC_A_LOCAL_IDENTITY, cbp, &info->local);
	if (r < 0)
		return r;
	r = decode_ident(m, IPC_A_REMOTE_IDENTITY, cbp, &info->remote);
	if (r == 0 && info->remote && wire_get_bytes(m, IPC_A_PEER_CERT_DER, &p, &n) == 0) {
		if (!(info->remote->der = malloc(n)))
			return -ENOMEM;
		memcpy(info->remote->der, p, n);
		info->remote->der_len = n;
	}
	return r;
}

/* A validated reply carrying latch info (LATCH_ID and STATE may be absent: R33). */
int info_decode(const struct wire_msg *m, latch_info **ret)
{
	struct latch_info *info;
	int r;

	r = info_new(&info);
	if (r < 0)
		return r;
	(void)wire_get_u64(&m->attrs, IPC_A_LATCH_ID, &info->id);
	(void)wire_get_u8(&m->attrs, IPC_A_STATE, &info->state);
	(void)wire_get_u16(&m->attrs, IPC_A_REASON, &info->reason);
	r = decode_parts(&m->attrs, info);
	if (r < 0) {
		latch_info_free(info);
		return r;
	}
	*ret = info;
	return 0;
}

LATCH_EXPORT uint64_t latch_info_get_id(const latch_info *info)
{
	return info ? info->id : 0;
}

LATCH_EXPORT const char *latch_state_name(int state)
{
	return state > 0 && state <= UINT8_MAX ? wire_state_name((uint8_t)state) : NULL;
}

LATCH_EXPORT int latch_info_get_state(const latch_info *info)
{
	return info ? info->state : ret_errno(-EINVAL);
}

LATCH_EXPORT int latch_info_get_reason(const latch_info *info)
{
	return info ? info->reason : ret_errno(-EINVAL);
}

LATCH_EXPORT const char *latch_info_get_message(const latch_info *info)
{
	return info ? info->message : NULL;
}

LATCH_EXPORT const latch_ident *latch_info_get_remote(const latch_info *info)
{
	return info ? info->remote : NULL;
}

LATCH_EXPORT const latch_ident *latch_info_get_local(const latch_info *info)
{
	return info ? info->local : NULL;
}

LATCH_EXPORT const latch_token *latch_info_get_protection(const latch_info *info)
{
	return info ? info->prot : NULL;
}

static void to_sockaddr(uint8_t family, const uint8_t *addr, uint16_t port,
			struct sockaddr_storage *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (family == IPC_FAMILY_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ret;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, addr, 16);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ret;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, addr, 4);
	}
}

LATCH_EXPORT int latch_info_get_tuple(const latch_info *info, int *ret_proto,
				      struct sockaddr_storage *ret_local,
				      struct sockaddr_storage *ret_remote)
{
	if (!info)
		return ret_errno(-EINVAL);
	if (!info->has_tuple)
		return ret_errno(-ENODATA);
	if (ret_proto)
		*ret_proto = info->proto;
	if (ret_local) {
		to_sockaddr(info->family, info->laddr, info->lport, ret_local);
		if (!info->has_local)
			ret_local->ss_family = AF_UNSPEC;
	}
	if (ret_remote) {
		to_sockaddr(info->family, info->raddr, info->rport, ret_remote);
		if (!info->has_remote)
			ret_remote->ss_family = AF_UNSPEC;
	}
	return 0;
}

LATCH_EXPORT int latch_info_get_sa_shared(const latch_info *info)
{
	if (!info)
		return ret_errno(-EINVAL);
	if (!info->has_sa || info->shared < 0)
		return ret_errno(-ENODATA);
	return info->shared;
}

LATCH_EXPORT int latch_info_get_sa_mode(const latch_info *info)
{
	if (!info)
		return ret_errno(-EINVAL);
	return info->has_sa ? info->sa_mode : ret_errno(-ENODATA);
}

LATCH_EXPORT const char *latch_info_get_sa_encr_alg(const latch_info *info)
{
	return info ? info->encr_alg : NULL;
}

LATCH_EXPORT const char *latch_info_get_sa_integ_alg(const latch_info *info)
{
	return info ? info->integ_alg : NULL;
}

LATCH_EXPORT int latch_info_get_sa_ids(const latch_info *info, uint32_t *ret_child_id,
				       uint32_t *ret_spi_in, uint32_t *ret_spi_out)
{
	if (!info)
		return ret_errno(-EINVAL);
	if (!info->has_sa)
		return ret_errno(-ENODATA);
	if (ret_child_id)
		*ret_child_id = info->child_id;
	if (ret_spi_in)
		*ret_spi_in = info->spi_in;
	if (ret_spi_out)
		*ret_spi_out = info->spi_out;
	return 0;
}
