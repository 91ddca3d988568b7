/* SPDX-License-Identifier: MIT */
#include "latchd/base/flow.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static bool is_v4mapped(const struct in6_addr *a)
{
	return memcmp(a->s6_addr, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0;
}

/* One side of a socket: address and port, v4-mapped addresses folded to v4. */
struct endpoint {
	uint8_t family;
	uint16_t port;
	union flow_addr addr;
};

static int endpoint_from(const struct sockaddr_storage *ss, struct endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		ep->family = AF_INET;
		ep->port = ntohs(sin->sin_port);
		ep->addr.v4 = sin->sin_addr;
		return 0;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		ep->port = ntohs(sin6->sin6_port);
		if (is_v4mapped(&sin6->sin6_addr)) {
			ep->family = AF_INET;
			memcpy(ep->addr.b, sin6->sin6_addr.s6_addr + 12, 4);
		} else {
			ep->family = AF_INET6;
			ep->addr.v6 = sin6->sin6_addr;
		}
		return 0;
	}
	return -EAFNOSUPPORT;
}

static int sockopt_int(int fd, int level, int name, int *ret)
{
	socklen_t len = sizeof(*ret);

	if (getsockopt(fd, level, name, ret, &len) < 0)
		return -errno;
	return 0;
}

/* Family and protocol of an inet TCP/UDP socket, or the error the header promises. */
static int socket_kind(int fd, int *domain, int *proto)
{
	int r;

	r = sockopt_int(fd, SOL_SOCKET, SO_DOMAIN, domain);
	if (r < 0)
		return r;
	if (*domain != AF_INET && *domain != AF_INET6)
		return -EAFNOSUPPORT;
	r = sockopt_int(fd, SOL_SOCKET, SO_PROTOCOL, proto);
	if (r < 0)
		return r;
	if (*proto != IPPROTO_TCP && *proto != IPPROTO_UDP)
		return -EPROTONOSUPPORT;
	return 0;
}

static int local_endpoint(int fd, struct endpoint *ep)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	return endpoint_from(&ss, ep);
}

int flow_from_fd(int fd, struct flow *ret)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);
	struct endpoint l, r;
	int domain, proto, err;

	err = socket_kind(fd, &domain, &proto);
	if (err < 0)
		return err;
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	err = endpoint_from(&ss, &r);
	if (err == 0)
		err = local_endpoint(fd, &l);
	if (err < 0)
		return err;
	/* A v6 socket talks v4 only with v4-mapped addresses at both ends. */
	if (l.family != r.family)
		return -EAFNOSUPPORT;
	*ret = (struct flow){ .family = r.family,
			      .proto = (uint8_t)proto,
			      .lport = l.port,
			      .rport = r.port,
			      .laddr = l.addr,
			      .raddr = r.addr };
	return 0;
}

int flow3_from_fd(int fd, struct flow3 *ret)
{
	static const union flow_addr any;
	struct endpoint l;
	int domain, proto, v6only = 1, err;

	err = socket_kind(fd, &domain, &proto);
	if (err == 0)
		err = local_endpoint(fd, &l);
	if (err == 0 && domain == AF_INET6)
		err = sockopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only);
	if (err < 0)
		return err;
	/* :: without V6ONLY also receives IPv4: one latch for both families. */
	if (l.family == AF_INET6 && !v6only && memcmp(&l.addr, &any, sizeof(any)) == 0)
		l.family = AF_UNSPEC;
	*ret = (struct flow3){
		.family = l.family, .proto = (uint8_t)proto, .port = l.port, .addr = l.addr
	};
	return 0;
}

static const char *proto_name(uint8_t proto)
{
	return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : "proto?";
}

/* "192.0.2.1:40000" or "[2001:db8::1]:40000" */
static void format_endpoint(char *buf, size_t len, int family, const union flow_addr *a,
			    uint16_t port)
{
	char text[INET6_ADDRSTRLEN];

	if (!inet_ntop(family, a->b, text, sizeof(text)))
		snprintf(text, sizeof(text), "?");
	if (family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", text, port);
	else
		snprintf(buf, len, "%s:%u", text, port);
}

const char *flow_format(char *buf, size_t len, const struct flow *f)
{
	char l[INET6_ADDRSTRLEN + 8], r[INET6_ADDRSTRLEN + 8];

	format_endpoint(l, sizeof(l), f->family, &f->laddr, f->lport);
	format_endpoint(r, sizeof(r), f->family, &f->raddr, f->rport);
	snprintf(buf, len, "%s %s -> %s", proto_name(f->proto), l, r);
	return buf;
}

const char *flow3_format(char *buf, size_t len, const struct flow3 *f)
{
	static const union flow_addr any;
	char ep[INET6_ADDRSTRLEN + 8];

	if (f->family == AF_UNSPEC)
		snprintf(ep, sizeof(ep), "any:%u", f->port);
	else if (f->family == AF_INET && memcmp(&f->addr, &any, sizeof(any)) == 0)
		snprintf(ep, sizeof(ep), "*:%u", f->port);
	else
		format_endpoint(ep, sizeof(ep), f->family, &f->addr, f->port);
	snprintf(buf, len, "%s %s", proto_name(f->proto), ep);
	return buf;
}

bool flow_equal(const struct flow *a, const struct flow *b)
{
	return a->family == b->family && a->proto == b->proto && a->lport == b->lport &&
	       a->rport == b->rport && memcmp(&a->laddr, &b->laddr, sizeof(a->laddr)) == 0 &&
	       memcmp(&a->raddr, &b->raddr, sizeof(a->raddr)) == 0;
}

bool flow3_equal(const struct flow3 *a, const struct flow3 *b)
{
	return a->family == b->family && a->proto == b->proto && a->port == b->port &&
	       memcmp(&a->addr, &b->addr, sizeof(a->addr)) == 0;
}

void flow_reverse(const struct flow *f, struct flow *ret)
{
	*ret = (struct flow){ .family = f->family,
			      .proto = f->proto,
			      .lport = f->rport,
			      .rport = f->lport,
			      .laddr = f->raddr,
			      .raddr = f->laddr };
}

int flow_parse(const char *proto, const char *laddr, unsigned lport, const char *raddr,
	       unsigned rport, struct flow *ret)
{
	struct flow f = { 0 };

	if (strcmp(proto, "tcp") == 0)
		f.proto = IPPROTO_TCP;
	else if (strcmp(proto, "udp") == 0)
		f.proto = IPPROTO_UDP;
	else
		return -EINVAL;
	f.family = strchr(laddr, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(f.family, laddr, f.laddr.b) != 1 ||
	    inet_pton(f.family, raddr, f.raddr.b) != 1)
		return -EINVAL;
	if (lport > 65535 || rport > 65535)
		return -EINVAL;
	f.lport = (uint16_t)lport;
	f.rport = (uint16_t)rport;
	*ret = f;
	return 0;
}

/* ---------------------------------------------------------------- SipHash-2-4 */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static uint64_t load64le(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = ROTL(v[1], 13) ^ v[0];
	v[0] = ROTL(v[0], 32);
	v[2] += v[3];
	v[3] = ROTL(v[3], 16) ^ v[2];
	v[0] += v[3];
	v[3] = ROTL(v[3], 21) ^ v[0];
	v[2] += v[1];
	v[1] = ROTL(v[1], 17) ^ v[2];
	v[2] = ROTL(v[2], 32);
}

static uint64_t siphash24(const uint8_t *in, size_t len, const uint8_t key[16])
{
	uint64_t k0 = load64le(key), k1 = load64le(key + 8), m, b = (uint64_t)len << 56;
	uint64_t v[4] = { k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
			  k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL };
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		m = load64le(in + i);
		v[3] ^= m;
		sipround(v);
		sipround(v);
		v[0] ^= m;
	}
	for (size_t j = 0; i + j < len; j++)
		b |= (uint64_t)in[i + j] << (8 * j);
	v[3] ^= b;
	sipround(v);
	sipround(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	for (int r = 0; r < 4; r++)
		sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

uint64_t flow_hash(const struct flow *f, const uint8_t key[16])
{
	/* Canonical bytes: no struct padding reaches the hash. */
	uint8_t in[38];

	in[0] = f->family;
	in[1] = f->proto;
	in[2] = (uint8_t)(f->lport >> 8);
	in[3] = (uint8_t)f->lport;
	in[4] = (uint8_t)(f->rport >> 8);
	in[5] = (uint8_t)f->rport;
	memcpy(in + 6, f->laddr.b, 16);
	memcpy(in + 22, f->raddr.b, 16);
	return siphash24(in, sizeof(in), key);
}
