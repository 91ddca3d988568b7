/* SPDX-License-Identifier: MIT */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fake-latchd.h"
#include "ipsecapi.h"

/* draft-ietf-btns-c-api-04 bindings: every attribute, then the socket flow against the fake. */

#define EXPECT_FAIL(call, err)                  \
	do {                                    \
		errno = 0;                      \
		assert_int_equal((call), -1);   \
		assert_int_equal(errno, (err)); \
	} while (0)

static void set16(void *tok, uint32_t type, uint16_t v)
{
	assert_int_equal(ipsec_set_token_attr(tok, type, sizeof(v), &v), 0);
}

static uint16_t get16(const void *tok, uint32_t type)
{
	uint16_t v = 0xffff;
	uint32_t len = sizeof(v);

	assert_int_equal(ipsec_get_token_attr(tok, type, &len, &v), 0);
	assert_int_equal(len, sizeof(v));
	return v;
}

static void enums_distinct(void **state)
{
	/* Defect 1: the three enums no longer overlap. */
	assert_true((int)IPSEC_API_ATTR_channelBinding < (int)IPSEC_API_ATTR_authMeth_NONE);
	assert_true((int)IPSEC_API_ATTR_authMeth_PKIX_OFFLINE <
		    (int)IPSEC_API_ATTR_privacyProtected);
	assert_int_equal(ipsec_free_iToken(NULL), 0);
	assert_int_equal(ipsec_free_pToken(NULL), 0);
}

static void itoken_attributes(void **state)
{
	ipsec_iToken_t it = ipsec_create_iToken();
	uint8_t buf[128];
	uint32_t len = sizeof(buf);
	uint16_t v = IPSEC_API_ATTR_ENABLE;

	assert_non_null(it);
	/* The read-only group: nothing in an empty template, never writable. */
	for (uint32_t a = IPSEC_API_ATTR_auditString; a <= IPSEC_API_ATTR_channelBinding; a++) {
		len = sizeof(buf);
		EXPECT_FAIL(ipsec_get_token_attr(it, a, &len, buf), ENODATA);
		EXPECT_FAIL(ipsec_set_token_attr(it, a, sizeof(buf), buf), EPERM);
	}
	/* The authMeth group: ANY by default, writable on a template. */
	for (uint32_t a = IPSEC_API_ATTR_authMeth_NONE; a <= IPSEC_API_ATTR_authMeth_PKIX_OFFLINE;
	     a++)
		assert_int_equal(get16(it, a), IPSEC_API_ATTR_ANY);
	set16(it, IPSEC_API_ATTR_authMeth_BTNS, IPSEC_API_ATTR_ENABLE);
	assert_int_equal(get16(it, IPSEC_API_ATTR_authMeth_BTNS), IPSEC_API_ATTR_ENABLE);
	set16(it, IPSEC_API_ATTR_authMeth_LEAPOFFAITH, IPSEC_API_ATTR_DISABLE);
	set16(it, IPSEC_API_ATTR_authMeth_PKIX_TRUSTED, IPSEC_API_ATTR_ENABLE);
	set16(it, IPSEC_API_ATTR_authMeth_NONE, IPSEC_API_ATTR_DISABLE);
	v = IPSEC_API_ATTR_DISABLE; /* latchd cannot exclude an authenticated method */
	EXPECT_FAIL(ipsec_set_token_attr(it, IPSEC_API_ATTR_authMeth_EAP, 2, &v), EOPNOTSUPP);
	v = IPSEC_API_ATTR_ENABLE;
	EXPECT_FAIL(ipsec_set_token_attr(it, IPSEC_API_ATTR_authMeth_NONE, 2, &v), EOPNOTSUPP);
	EXPECT_FAIL(ipsec_set_token_attr(it, IPSEC_API_ATTR_authMeth_BTNS, 4, &v), EINVAL);
	v = IPSEC_API_ATTR_LEVEL_LOW;
	EXPECT_FAIL(ipsec_set_token_attr(it, IPSEC_API_ATTR_authMeth_BTNS, 2, &v), EINVAL);
	len = 1;
	EXPECT_FAIL(ipsec_get_token_attr(it, IPSEC_API_ATTR_authMeth_BTNS, &len, buf), ERANGE);
	assert_int_equal(len, 2);
	/* Unknown to an iToken: a pToken attribute and nonsense. */
	len = sizeof(buf);
	EXPECT_FAIL(ipsec_get_token_attr(it, IPSEC_API_ATTR_privacyProtected, &len, buf),
		    ENOPROTOOPT);
	EXPECT_FAIL(ipsec_set_token_attr(it, 0x999, 2, &v), ENOPROTOOPT);
	EXPECT_FAIL(ipsec_get_token_attr(it, 0, &len, buf), ENOPROTOOPT);
	EXPECT_FAIL(ipsec_get_token_attr(NULL, IPSEC_API_ATTR_pubKeyID, &len, buf), EINVAL);
	EXPECT_FAIL(ipsec_get_token_attr(it, IPSEC_API_ATTR_pubKeyID, NULL, buf), EINVAL);
	assert_int_equal(ipsec_free_iToken(it), 0);
}

static void ptoken_values(void **state)
{
	ipsec_pToken_t pt = ipsec_create_pToken();
	uint16_t v;

	for (uint32_t a = IPSEC_API_ATTR_privacyProtected; a <= IPSEC_API_ATTR_ipoptionsProtected;
	     a++) {
		if (a == IPSEC_API_ATTR_policyName || a == IPSEC_API_ATTR_iToken ||
		    a == IPSEC_API_ATTR_remote_iToken)
			continue;
		assert_int_equal(get16(pt, a), IPSEC_API_ATTR_ANY);
		v = IPSEC_API_ATTR_ANY;
		EXPECT_FAIL(ipsec_set_token_attr(pt, a, 1, &v), EINVAL); /* wrong size */
	}
	set16(pt, IPSEC_API_ATTR_privacyProtected, IPSEC_API_ATTR_LEVEL_HIGH);
	assert_int_equal(get16(pt, IPSEC_API_ATTR_privacyProtected), IPSEC_API_ATTR_LEVEL_HIGH);
	v = 6;
	EXPECT_FAIL(ipsec_set_token_attr(pt, IPSEC_API_ATTR_privacyProtected, 2, &v), EINVAL);
	set16(pt, IPSEC_API_ATTR_integrityProtected, IPSEC_API_ATTR_ENABLE);
	set16(pt, IPSEC_API_ATTR_compressionAvailable, IPSEC_API_ATTR_DISABLE);
	v = IPSEC_API_ATTR_ENABLE;
	EXPECT_FAIL(ipsec_set_token_attr(pt, IPSEC_API_ATTR_compressionAvailable, 2, &v),
		    EOPNOTSUPP);
	assert_int_equal(get16(pt, IPSEC_API_ATTR_compressionAvailable), IPSEC_API_ATTR_DISABLE);
	set16(pt, IPSEC_API_ATTR_tunnelMode, IPSEC_API_ATTR_DISABLE);
	/* IP options are protected only in a tunnel: contradicting transport mode. */
	EXPECT_FAIL(ipsec_set_token_attr(pt, IPSEC_API_ATTR_ipoptionsProtected, 2, &v), EINVAL);
	set16(pt, IPSEC_API_ATTR_tunnelMode, IPSEC_API_ATTR_ANY);
	set16(pt, IPSEC_API_ATTR_ipoptionsProtected, IPSEC_API_ATTR_ENABLE);
	assert_int_equal(get16(pt, IPSEC_API_ATTR_ipoptionsProtected), IPSEC_API_ATTR_ENABLE);
	assert_int_equal(ipsec_free_pToken(pt), 0);
}

static void ptoken_strings_and_objects(void **state)
{
	ipsec_pToken_t pt = ipsec_create_pToken();
	ipsec_iToken_t it = NULL, got = NULL;
	char s[80];
	uint32_t len = sizeof(s);

	EXPECT_FAIL(ipsec_get_token_attr(pt, IPSEC_API_ATTR_policyName, &len, s), ENODATA);
	EXPECT_FAIL(ipsec_set_token_attr(pt, IPSEC_API_ATTR_policyName, 3, "a\0b"), EINVAL);
	len = sizeof(s);
	EXPECT_FAIL(ipsec_get_token_attr(pt, IPSEC_API_ATTR_auditString, &len, s), ENODATA);
	EXPECT_FAIL(ipsec_get_token_attr(pt, IPSEC_API_ATTR_informationString, &len, s), ENODATA);
	EXPECT_FAIL(ipsec_set_token_attr(pt, IPSEC_API_ATTR_auditString, 2, "x"), EPERM);
	EXPECT_FAIL(ipsec_set_token_attr(pt, IPSEC_API_ATTR_informationString, 2, "x"), EPERM);
	EXPECT_FAIL(ipsec_set_token_attr(pt, IPSEC_API_ATTR_remote_iToken, sizeof(it), &it), EPERM);
	EXPECT_FAIL(ipsec_set_token_attr(pt, IPSEC_API_ATTR_authMeth_BTNS, 2, s), ENOPROTOOPT);
	len = sizeof(got);
	EXPECT_FAIL(ipsec_get_token_attr(pt, IPSEC_API_ATTR_iToken, &len, &got), ENODATA);
	/* Object values: set copies, get gives a new one the caller frees. */
	assert_int_equal(ipsec_import_iToken("latch-ident/1 id=b.example", &it), 0);
	EXPECT_FAIL(ipsec_set_token_attr(pt, IPSEC_API_ATTR_iToken, 4, &it), EINVAL);
	assert_int_equal(ipsec_set_token_attr(pt, IPSEC_API_ATTR_iToken, sizeof(it), &it), 0);
	assert_int_equal(ipsec_free_iToken(it), 0);
	len = sizeof(got);
	assert_int_equal(ipsec_get_token_attr(pt, IPSEC_API_ATTR_iToken, &len, &got), 0);
	len = sizeof(s);
	assert_int_equal(ipsec_export_iToken(got, s, &len), 0);
	assert_string_equal(s, "latch-ident/1 id=b.example");
	len = 5;
	EXPECT_FAIL(ipsec_export_iToken(got, s, &len), ERANGE);
	assert_int_equal(len, strlen("latch-ident/1 id=b.example") + 1);
	EXPECT_FAIL(ipsec_import_iToken("latch-ident/9", &it), EINVAL);
	assert_int_equal(ipsec_free_iToken(got), 0);
	assert_int_equal(ipsec_free_pToken(pt), 0);
}

static void dup_cmp_msg(void **state)
{
	ipsec_pToken_t a = ipsec_create_pToken(), b = NULL;
	ipsec_iToken_t it = NULL;
	struct msghdr mh = { 0 };

	assert_int_equal(ipsec_import_iToken("latch-ident/1 id=b.example", &it), 0);
	assert_int_equal(ipsec_set_token_attr(a, IPSEC_API_ATTR_iToken, sizeof(it), &it), 0);
	set16(a, IPSEC_API_ATTR_privacyProtected, IPSEC_API_ATTR_ENABLE);
	assert_int_equal(ipsec_dup_pToken(a, &b), 0);
	assert_int_equal(ipsec_cmp_pToken(a, b), 0);
	set16(b, IPSEC_API_ATTR_tunnelMode, IPSEC_API_ATTR_ENABLE);
	assert_int_equal(ipsec_cmp_pToken(a, b), 1);
	set16(b, IPSEC_API_ATTR_tunnelMode, IPSEC_API_ATTR_ANY);
	assert_int_equal(ipsec_cmp_pToken(a, b), 0);
	ipsec_free_iToken(it);
	assert_int_equal(ipsec_import_iToken("latch-ident/1 id=c.example", &it), 0);
	assert_int_equal(ipsec_set_token_attr(b, IPSEC_API_ATTR_iToken, sizeof(it), &it), 0);
	assert_int_equal(ipsec_cmp_pToken(a, b), 1); /* another peer */
	EXPECT_FAIL(ipsec_cmp_pToken(a, NULL), EINVAL);
	EXPECT_FAIL(ipsec_set_msg_pToken(&mh, a), EOPNOTSUPP);
	EXPECT_FAIL(ipsec_get_msg_pToken(&mh, a), EOPNOTSUPP);
	ipsec_free_iToken(it);
	ipsec_free_pToken(a);
	ipsec_free_pToken(b);
}

static int loopback_listener(struct sockaddr_in *sa)
{
	socklen_t len = sizeof(*sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	*sa = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	assert_int_equal(bind(fd, (struct sockaddr *)sa, len), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)sa, &len), 0);
	return fd;
}

/* What a program written to the draft does as a client, start to end. */
static void draft_client_flow(void **state)
{
	ipsec_pToken_t pt = ipsec_create_pToken();
	ipsec_iToken_t peer = NULL, btns = ipsec_create_iToken();
	uint8_t cb[64], key[32];
	char dn[IPSEC_API_STRING_MAX], info[200];
	uint32_t len;
	struct sockaddr_in sa;
	int lfd = loopback_listener(&sa), fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	set16(pt, IPSEC_API_ATTR_privacyProtected, IPSEC_API_ATTR_ENABLE);
	set16(btns, IPSEC_API_ATTR_authMeth_BTNS, IPSEC_API_ATTR_ENABLE);
	assert_int_equal(ipsec_set_token_attr(pt, IPSEC_API_ATTR_iToken, sizeof(btns), &btns), 0);
	assert_int_equal(ipsec_set_socket_pToken(fd, pt), 0);
	assert_int_equal(fake->last_type, IPC_MSG_ATTACH);
	assert_true(fake->last_local_port != 0); /* bound before its first packet */
	assert_int_equal(fake->last_encrypt, IPC_WANT_YES);
	assert_int_equal(fake->last_peer_btns, 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(ipsec_get_socket_pToken(fd, pt), 0);
	assert_int_equal(fake->last_type, IPC_MSG_QUERY);
	assert_int_equal(get16(pt, IPSEC_API_ATTR_privacyProtected), IPSEC_API_ATTR_ENABLE);
	assert_int_equal(get16(pt, IPSEC_API_ATTR_tunnelMode), IPSEC_API_ATTR_ENABLE);
	len = sizeof(info);
	assert_int_equal(ipsec_get_token_attr(pt, IPSEC_API_ATTR_informationString, &len, info), 0);
	assert_string_equal(info, "IPsec ESP, tunnel mode, AES_GCM_16-256, shared SA");
	len = sizeof(peer);
	assert_int_equal(ipsec_get_token_attr(pt, IPSEC_API_ATTR_iToken, &len, &peer), 0);
	len = sizeof(dn);
	assert_int_equal(ipsec_get_token_attr(peer, IPSEC_API_ATTR_certificateDN, &len, dn), 0);
	assert_string_equal(dn, "C=CH, O=latch-lab, CN=b.example");
	assert_int_equal(get16(peer, IPSEC_API_ATTR_authenticationMethod),
			 IPSEC_API_ATTR_authMeth_PKIX_TRUSTED);
	assert_int_equal(get16(peer, IPSEC_API_ATTR_authMeth_PKIX_TRUSTED), IPSEC_API_ATTR_ENABLE);
	assert_int_equal(get16(peer, IPSEC_API_ATTR_authMeth_BTNS), IPSEC_API_ATTR_DISABLE);
	set16(btns, IPSEC_API_ATTR_authMeth_BTNS, IPSEC_API_ATTR_ANY); /* templates stay writable */
	EXPECT_FAIL(ipsec_set_token_attr(peer, IPSEC_API_ATTR_authMeth_BTNS, 2, cb), EPERM);
	len = sizeof(key);
	assert_int_equal(ipsec_get_token_attr(peer, IPSEC_API_ATTR_pubKeyID, &len, key), 0);
	assert_int_equal(len, 32);
	assert_int_equal(key[0], FAKE_SPKI_BYTE);
	len = sizeof(cb);
	assert_int_equal(ipsec_get_token_attr(peer, IPSEC_API_ATTR_channelBinding, &len, cb), 0);
	assert_int_equal(len, 55);
	assert_memory_equal(cb, "ipsec-end-point-sha256:", 23);
	assert_int_equal(cb[23], FAKE_CB_BYTE);
	ipsec_free_iToken(peer);
	ipsec_free_iToken(btns);
	ipsec_free_pToken(pt);
	close(fd);
	close(lfd);
}

/* The server: pToken on the listener, plain accept(2), then the peer. */
static void draft_server_flow(void **state)
{
	ipsec_pToken_t pt = ipsec_create_pToken();
	char cb[IP_SEC_CBINDING_DATA_BUFSIZE];
	socklen_t cblen = sizeof(cb);
	struct sockaddr_in sa;
	int lfd = loopback_listener(&sa), c, fd;

	assert_int_equal(ipsec_set_socket_pToken(lfd, pt), 0);
	assert_int_equal(fake->last_type, IPC_MSG_LISTEN);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	fake->query_enoent = true; /* latchd has not seen the accepted socket yet */
	assert_int_equal(ipsec_get_socket_pToken(fd, pt), 0);
	assert_int_equal(fake->last_type, IPC_MSG_ACCEPT);
	assert_int_equal(get16(pt, IPSEC_API_ATTR_privacyProtected), IPSEC_API_ATTR_ENABLE);
	/* A client socket of no listener of ours is never ACCEPTed (that would reset it). */
	EXPECT_FAIL(ipsec_get_socket_pToken(c, pt), ENOENT);
	assert_int_equal(fake->last_type, IPC_MSG_QUERY);
	/* Channel bindings through the functions of draft-ietf-btns-channel-binding-api. */
	fake->query_enoent = false;
	assert_int_equal(ipsec_set_cbinding(fd), 0);
	assert_int_equal(ipsec_get_cbinding_types(fd, cb, &cblen), 0);
	assert_string_equal(cb, IP_SEC_CBINDING_ENDPOINT_SHA256_NAME);
	strcpy(cb, IP_SEC_CBINDING_ENDPOINT_SHA256_NAME ":");
	cblen = sizeof(cb);
	assert_int_equal(ipsec_get_cbinding_data(fd, cb, &cblen), 0);
	assert_int_equal(cblen, 55);
	assert_int_equal((uint8_t)cb[54], FAKE_CB_BYTE);
	strcpy(cb, "tls-unique:");
	EXPECT_FAIL(ipsec_get_cbinding_data(fd, cb, &cblen), ENOENT);
	strcpy(cb, IP_SEC_CBINDING_ENDPOINT_SHA256_NAME ":");
	cblen = 30;
	EXPECT_FAIL(ipsec_get_cbinding_data(fd, cb, &cblen), EOVERFLOW);
	assert_int_equal(cblen, 55);
	ipsec_free_pToken(pt);
	close(fd);
	close(c);
	close(lfd);
}

/* Every setting of a template is either honoured or refused, whatever the order. */
static void settings_never_dropped(void **state)
{
	ipsec_pToken_t pt = ipsec_create_pToken();
	uint16_t v = IPSEC_API_ATTR_DISABLE;

	/* IP options then transport mode contradicts as much as the other order. */
	set16(pt, IPSEC_API_ATTR_ipoptionsProtected, IPSEC_API_ATTR_ENABLE);
	EXPECT_FAIL(ipsec_set_token_attr(pt, IPSEC_API_ATTR_tunnelMode, 2, &v), EINVAL);
	assert_int_equal(get16(pt, IPSEC_API_ATTR_tunnelMode), IPSEC_API_ATTR_ANY);
	assert_int_equal(get16(pt, IPSEC_API_ATTR_ipoptionsProtected), IPSEC_API_ATTR_ENABLE);
	set16(pt, IPSEC_API_ATTR_tunnelMode, IPSEC_API_ATTR_ENABLE);
	/* A policy name names nothing latchd has: refused, not carried and ignored. */
	EXPECT_FAIL(ipsec_set_token_attr(pt, IPSEC_API_ATTR_policyName, 0, ""), EINVAL);
	EXPECT_FAIL(ipsec_set_token_attr(pt, IPSEC_API_ATTR_policyName, 1, ""), EINVAL);
	EXPECT_FAIL(ipsec_set_token_attr(pt, IPSEC_API_ATTR_policyName, 6, "secure"), EOPNOTSUPP);
	assert_string_equal(ipsec_last_error(),
			    "policyName: latchd has no administrator policies to name");
	EXPECT_FAIL(ipsec_set_token_attr(pt, IPSEC_API_ATTR_policyName, 0, ""), EINVAL);
	assert_string_equal(ipsec_last_error(), strerror(EINVAL)); /* not the one before */
	assert_int_equal(ipsec_free_pToken(pt), 0);
}

/* Two templates are equal only if they ask for the same: peer kinds, leap of faith, options. */
static void cmp_sees_every_wish(void **state)
{
	ipsec_pToken_t a = ipsec_create_pToken(), b = NULL;
	ipsec_iToken_t btns = ipsec_create_iToken(), plain = ipsec_create_iToken();

	assert_int_equal(ipsec_dup_pToken(a, &b), 0);
	assert_int_equal(ipsec_cmp_pToken(a, b), 0);
	set16(btns, IPSEC_API_ATTR_authMeth_BTNS, IPSEC_API_ATTR_ENABLE);
	assert_int_equal(ipsec_set_token_attr(a, IPSEC_API_ATTR_iToken, sizeof(btns), &btns), 0);
	assert_int_equal(ipsec_set_token_attr(b, IPSEC_API_ATTR_iToken, sizeof(plain), &plain), 0);
	assert_int_equal(ipsec_cmp_pToken(a, b), 1); /* only a admits BTNS peers */
	assert_int_equal(ipsec_set_token_attr(b, IPSEC_API_ATTR_iToken, sizeof(btns), &btns), 0);
	assert_int_equal(ipsec_cmp_pToken(a, b), 0);
	set16(btns, IPSEC_API_ATTR_authMeth_LEAPOFFAITH, IPSEC_API_ATTR_ENABLE);
	assert_int_equal(ipsec_set_token_attr(b, IPSEC_API_ATTR_iToken, sizeof(btns), &btns), 0);
	assert_int_equal(ipsec_cmp_pToken(a, b), 1); /* only b takes a leap of faith */
	assert_int_equal(ipsec_set_token_attr(a, IPSEC_API_ATTR_iToken, sizeof(btns), &btns), 0);
	assert_int_equal(ipsec_cmp_pToken(a, b), 0);
	set16(a, IPSEC_API_ATTR_ipoptionsProtected, IPSEC_API_ATTR_DISABLE);
	assert_int_equal(ipsec_cmp_pToken(a, b), 1); /* only a says no to protected options */
	ipsec_free_iToken(btns);
	ipsec_free_iToken(plain);
	ipsec_free_pToken(a);
	ipsec_free_pToken(b);
}

/* An exported template keeps its wishes: importing it gives the same template. */
static void export_keeps_wishes(void **state)
{
	ipsec_iToken_t t = NULL, back = NULL;
	char s[256];
	uint32_t len = sizeof(s);

	assert_int_equal(ipsec_import_iToken("latch-ident/1 id=b.example", &t), 0);
	set16(t, IPSEC_API_ATTR_authMeth_BTNS, IPSEC_API_ATTR_ENABLE);
	set16(t, IPSEC_API_ATTR_authMeth_LEAPOFFAITH, IPSEC_API_ATTR_ENABLE);
	set16(t, IPSEC_API_ATTR_authMeth_NONE, IPSEC_API_ATTR_DISABLE);
	assert_int_equal(ipsec_export_iToken(t, s, &len), 0);
	assert_int_equal(ipsec_import_iToken(s, &back), 0);
	assert_int_equal(get16(back, IPSEC_API_ATTR_authMeth_BTNS), IPSEC_API_ATTR_ENABLE);
	assert_int_equal(get16(back, IPSEC_API_ATTR_authMeth_LEAPOFFAITH), IPSEC_API_ATTR_ENABLE);
	assert_int_equal(get16(back, IPSEC_API_ATTR_authMeth_NONE), IPSEC_API_ATTR_DISABLE);
	assert_int_equal(get16(back, IPSEC_API_ATTR_authMeth_EAP), IPSEC_API_ATTR_ANY);
	len = sizeof(s);
	assert_int_equal(ipsec_get_token_attr(back, IPSEC_API_ATTR_certificateDN, &len, s), -1);
	ipsec_free_iToken(back);
	/* A wish that is not one: refused as a whole. */
	EXPECT_FAIL(ipsec_import_iToken("latch-ident/1 id=b.example authMeth_BTNS=maybe", &back),
		    EINVAL);
	EXPECT_FAIL(ipsec_import_iToken("latch-ident/1 authMeth_EAP=disable", &back), EOPNOTSUPP);
	ipsec_free_iToken(t);
}

/* Read from a latch, privacyProtected is the protection in force, not the wish. */
static void protection_in_force(void **state)
{
	ipsec_pToken_t pt = ipsec_create_pToken();
	struct sockaddr_in sa;
	int lfd = loopback_listener(&sa), fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	fake->query_encrypt = IPC_WANT_NO; /* asked for no encryption, got AES-GCM */
	assert_int_equal(ipsec_get_socket_pToken(fd, pt), 0);
	assert_int_equal(get16(pt, IPSEC_API_ATTR_privacyProtected), IPSEC_API_ATTR_ENABLE);
	ipsec_free_pToken(pt);
	close(fd);
	close(lfd);
}

/* Not a socket is ENOTSOCK before anything reaches latchd. */
static void not_a_socket(void **state)
{
	ipsec_pToken_t pt = ipsec_create_pToken();
	int p[2];

	assert_int_equal(pipe(p), 0);
	EXPECT_FAIL(ipsec_get_socket_pToken(p[0], pt), ENOTSOCK);
	assert_non_null(strstr(ipsec_last_error(), "is not a socket"));
	EXPECT_FAIL(ipsec_set_socket_pToken(p[1], pt), ENOTSOCK);
	assert_int_equal(fake->count[IPC_MSG_QUERY - 200], 0);
	ipsec_free_pToken(pt);
	close(p[0]);
	close(p[1]);
}

/* Every listener is remembered, however many: the 65th's sockets are ACCEPTed too. */
static void many_listeners(void **state)
{
	enum {
		N = 80
	};
	ipsec_pToken_t pt = ipsec_create_pToken();
	struct sockaddr_in sa;
	int l[N], c, fd;

	for (int i = 0; i < N; i++) {
		l[i] = loopback_listener(&sa);
		assert_int_equal(ipsec_set_socket_pToken(l[i], pt), 0);
	}
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	fd = accept4(l[N - 1], NULL, NULL, SOCK_CLOEXEC);
	fake->query_enoent = true;
	assert_int_equal(ipsec_get_socket_pToken(fd, pt), 0);
	assert_int_equal(fake->last_type, IPC_MSG_ACCEPT);
	for (int i = 0; i < N; i++)
		close(l[i]);
	close(fd);
	close(c);
	ipsec_free_pToken(pt);
}

/* A pre-fork server: its children accept on the listener latched before the fork. */
static void prefork_child_accepts(void **state)
{
	ipsec_pToken_t pt = ipsec_create_pToken();
	struct sockaddr_in sa;
	int lfd = loopback_listener(&sa), c, st = -1;
	pid_t pid;

	assert_int_equal(ipsec_set_socket_pToken(lfd, pt), 0);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	fake->query_enoent = true; /* latchd has not seen the accepted socket yet */
	pid = fork();
	if (pid == 0) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		_exit(fd >= 0 && ipsec_get_socket_pToken(fd, pt) == 0 ? 0 : 10 + errno);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(fake->last_type, IPC_MSG_ACCEPT);
	/* And a child that finds no latchd is told so, in words. */
	pid = fork();
	if (pid == 0) {
		setenv("LATCH_SOCKET", "/nonexistent/latchd.sock", 1);
		if (ipsec_set_socket_pToken(c, pt) == 0 || errno != ESRCH)
			_exit(1);
		_exit(strstr(ipsec_last_error(), "latchd is not running") ? 0 : 2);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(WEXITSTATUS(st), 0);
	ipsec_free_pToken(pt);
	close(c);
	close(lfd);
}

struct slow {
	int fd, ret, err;
	bool done;
};

static void *slow_attach(void *arg)
{
	struct slow *s = arg;
	ipsec_pToken_t pt = ipsec_create_pToken();

	s->ret = ipsec_set_socket_pToken(s->fd, pt);
	s->err = errno;
	ipsec_free_pToken(pt);
	__atomic_store_n(&s->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/* One thread waiting on latchd (an IKE that takes seconds) holds up no other. */
static void threads_do_not_wait_for_each_other(void **state)
{
	ipsec_pToken_t pt = ipsec_create_pToken();
	struct slow slow = { .fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) };
	struct sockaddr_in sa;
	int lfd = loopback_listener(&sa), c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pthread_t t;

	fake->silent_type = IPC_MSG_ATTACH; /* never answered: that thread waits */
	assert_int_equal(pthread_create(&t, NULL, slow_attach, &slow), 0);
	for (int i = 0;
	     i < 1000 && !__atomic_load_n(&fake->count[IPC_MSG_ATTACH - 200], __ATOMIC_ACQUIRE);
	     i++)
		usleep(10000);
	assert_int_equal(fake->count[IPC_MSG_ATTACH - 200], 1);
	assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(ipsec_get_socket_pToken(c, pt), 0); /* answered meanwhile */
	assert_false(__atomic_load_n(&slow.done, __ATOMIC_ACQUIRE));
	fake_drop_clients(fake); /* the waiting call ends: latchd went away */
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(slow.ret, -1);
	assert_int_equal(slow.err, ECONNRESET);
	ipsec_free_pToken(pt);
	close(slow.fd);
	close(c);
	close(lfd);
}

static void draft_errors_from_latchd(void **state)
{
	ipsec_pToken_t pt = ipsec_create_pToken();
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	fake->fail_type = IPC_MSG_ATTACH;
	fake->fail_status = -EPERM;
	fake->fail_msg = "the peer's certificate chains to no trusted CA";
	EXPECT_FAIL(ipsec_set_socket_pToken(fd, pt), EPERM);
	assert_string_equal(ipsec_last_error(), "the peer's certificate chains to no trusted CA");
	EXPECT_FAIL(ipsec_set_socket_pToken(-1, pt), EINVAL);
	ipsec_free_pToken(pt);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(enums_distinct),
		cmocka_unit_test(itoken_attributes),
		cmocka_unit_test(ptoken_values),
		cmocka_unit_test(ptoken_strings_and_objects),
		cmocka_unit_test(dup_cmp_msg),
		cmocka_unit_test_setup(draft_client_flow, fake_reset_test),
		cmocka_unit_test_setup(draft_server_flow, fake_reset_test),
		cmocka_unit_test_setup(draft_errors_from_latchd, fake_reset_test),
		cmocka_unit_test(settings_never_dropped),
		cmocka_unit_test(cmp_sees_every_wish),
		cmocka_unit_test(export_keeps_wishes),
		cmocka_unit_test_setup(protection_in_force, fake_reset_test),
		cmocka_unit_test_setup(not_a_socket, fake_reset_test),
		cmocka_unit_test_setup(many_listeners, fake_reset_test),
		cmocka_unit_test_setup(prefork_child_accepts, fake_reset_test),
		cmocka_unit_test_setup(threads_do_not_wait_for_each_other, fake_reset_test),
	};

	return cmocka_run_group_tests(tests, fake_group_setup, fake_group_teardown);
}
