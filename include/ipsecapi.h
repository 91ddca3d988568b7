/* SPDX-License-Identifier: MIT */
#ifndef LATCH_IPSECAPI_H
#define LATCH_IPSECAPI_H

/*
 * The C bindings of draft-ietf-btns-c-api-04 ("C-Bindings for IPsec
 * Application Programming Interfaces"), with every function and attribute
 * under the draft's names and signatures, implemented over liblatch
 * (<latch/latch.h>). A program written to the draft works unchanged:
 *
 *	ipsec_pToken_t pt = ipsec_create_pToken();
 *	uint16_t on = IPSEC_API_ATTR_ENABLE;
 *	ipsec_set_token_attr(pt, IPSEC_API_ATTR_privacyProtected, sizeof(on), &on);
 *	ipsec_set_socket_pToken(fd, pt);	// before connect(2) or listen(2)
 *	connect(fd, sa, salen);			// the first packet waits for its SA
 *	ipsec_get_socket_pToken(fd, pt);	// the latch now in force
 *	ipsec_iToken_t peer;
 *	uint32_t len = sizeof(peer);
 *	ipsec_get_token_attr(pt, IPSEC_API_ATTR_iToken, &len, &peer);
 *	char dn[IPSEC_API_STRING_MAX];
 *	len = sizeof(dn);
 *	ipsec_get_token_attr(peer, IPSEC_API_ATTR_certificateDN, &len, dn);
 *	ipsec_free_iToken(peer); ipsec_free_pToken(pt);
 *
 * A server calls ipsec_set_socket_pToken() on its listening socket, plain
 * accept(2), then ipsec_get_socket_pToken() on the accepted socket.
 *
 * Threads and the one global. The draft has no context object, so this
 * layer keeps hidden latch_ctxs: a pool of at most 8 connections to latchd
 * (at $LATCH_SOCKET or /run/latch/latchd.sock), made as calls need them. A
 * call takes one and gives it back, so threads do not wait for each other
 * while one waits for its IKE (a ninth concurrent call waits for a free
 * one). A child after fork() drops its parent's connections and makes its
 * own; it keeps the table of listeners latched here, so a pre-fork
 * server's children accept on them. The pool's latch events are
 * discarded (a broken latch resets its socket, which is how a draft
 * program learns of it): an application that needs events or its own
 * connection uses the native API, which has no global state.
 *
 * Resolutions of the draft's defects, each decided once:
 *
 * 1. Enum clash and overlapping values. The three enums get distinct,
 *    explicit ranges: iToken attributes 0x100–0x105, authentication
 *    methods 0x200–0x209, pToken attributes 0x300–0x309. auditString is
 *    declared once (0x100) and is valid on both kinds of token; the getter
 *    tells them apart. Numbers are ABI and append-only.
 * 2. `enum {…} name;` declared variables: here iToken_attribute,
 *    iToken_auth_meth and pToken_attribute are typedefs of the enums.
 * 3. Undefined values: IPSEC_API_ATTR_ANY 0 (system default), DISABLE 1,
 *    ENABLE 2, LEVEL_LOW 3, LEVEL_MEDIUM 4, LEVEL_HIGH 5. A level is an
 *    ENABLE with a floor on key length: privacy LOW any cipher, MEDIUM
 *    ≥ 128 bits, HIGH ≥ 256 bits; integrity LOW any, MEDIUM ≥ 128, HIGH
 *    ≥ 256.
 * 4. Sizes: every enumerated and boolean value is a uint16_t
 *    (attr_len 2); types and lengths stay uint32_t as in the draft.
 * 5. Errors. Every function returns 0 on success, -1 with errno on
 *    failure (create returns NULL with errno). errno values:
 *      EINVAL      NULL token or buffer, wrong attr_len on set, a value
 *                  outside the attribute's range
 *      ENOPROTOOPT attr_type unknown for this kind of token
 *      EPERM       set on a read-only attribute (the iToken_attribute
 *                  group, remote_iToken, auditString, informationString,
 *                  and every attribute of an iToken obtained from a latch)
 *      ERANGE      get into a buffer too small: *attr_len is set to the
 *                  size needed and nothing else is written
 *      ENODATA     the attribute has no value (yet): a template has no
 *                  auditString; a pre-shared-key peer has no certificateDN
 *      EOPNOTSUPP  a value latch cannot honour (compressionAvailable
 *                  ENABLE; disabling an authentication method other than
 *                  BTNS or LEAPOFFAITH; per-message tokens, see 7)
 *      EOPNOTSUPP  also: policyName (latchd has no administrator policies
 *                  to name; an empty name is EINVAL)
 *      ENOTSOCK    the descriptor is not a socket
 *      ENOENT      (get_socket_pToken) the socket has no latch
 *      ESRCH       latchd is not running (nothing answers on its socket)
 *    and latchd's own: EACCES/EPERM (peer or request not allowed),
 *    ECONNREFUSED (no SA could be made), ETIMEDOUT, ECONNRESET (latchd
 *    went away). ipsec_last_error() says what happened in words.
 *    Buffers: a successful get sets *attr_len to the bytes written. Strings
 *    are NUL-terminated and counted with their NUL, at most
 *    IPSEC_API_STRING_MAX bytes; on set, attr_len counts the string with or
 *    without its NUL.
 * 6. Object-valued attributes (IPSEC_API_ATTR_iToken, _remote_iToken):
 *    passed as an ipsec_iToken_t in a buffer of sizeof(ipsec_iToken_t).
 *    Set copies the iToken (the caller keeps and frees its own); get makes
 *    a new iToken that the caller owns and frees with ipsec_free_iToken().
 *    As the draft's text says, IPSEC_API_ATTR_iToken is the remote system's
 *    identity and IPSEC_API_ATTR_remote_iToken is ours, as shown to it.
 * 7. Datagrams: latch latches connected flows (RFC 5660), and Linux has no
 *    ancillary data that could carry a token per packet, so
 *    ipsec_set_msg_pToken() and ipsec_get_msg_pToken() fail with
 *    EOPNOTSUPP. Connected UDP sockets use the socket functions.
 * 8. Naming a peer: the iToken_attribute group is read-only, so an
 *    iToken can only come from a latch, or from its text form:
 *    ipsec_import_iToken() reads the serialized form of latch(3)
 *    ("latch-ident/1 id=b.example issuer=… spki=…"), which an application
 *    may also write by hand to name a peer never met; ipsec_export_iToken()
 *    writes it (abstract API §3.5: iTokens are serializable). Set it as
 *    the pToken's IPSEC_API_ATTR_iToken: the peer must then have that IKE
 *    identity (or certificate subject), issuer and key, as far as given.
 *    The authMeth_* group is writable on such a template: BTNS ENABLE
 *    accepts an unauthenticated peer, LEAPOFFAITH ENABLE pins its key on
 *    first contact.
 * 9. Encodings the drafts contradict: pubKeyID is binary, the 32-byte
 *    SHA-256 of the SubjectPublicKeyInfo. channelBinding is binary, RFC
 *    5056's form: "ipsec-end-point-sha256:" followed by the 32 bytes of
 *    SHA-256(SPKI initiator) XOR SHA-256(SPKI responder)
 *    (draft-ietf-btns-channel-binding-api), 55 bytes without a NUL, equal on
 *    both ends and comparable with memcmp(). authenticationMethod returns
 *    one of the authMeth_* enumerators (e.g. IPSEC_API_ATTR_authMeth_
 *    PKIX_TRUSTED); reading an authMeth_* key of an iToken from a latch
 *    gives ENABLE for the method used and DISABLE for the others.
 * 10. ipsec_create_iToken() is declared (void): the draft's () is no
 *    prototype in C. Callers are unaffected.
 * 11. The setter's const token: kept as the draft has it; the token is
 *    modified all the same.
 */

#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ipsec_iToken *ipsec_iToken_t;
typedef struct ipsec_pToken *ipsec_pToken_t;

/* Longest string attribute, NUL included. */
#define IPSEC_API_STRING_MAX 1025

/* Values of enumerated and boolean attributes (uint16_t). */
#define IPSEC_API_ATTR_ANY	    0
#define IPSEC_API_ATTR_DISABLE	    1
#define IPSEC_API_ATTR_ENABLE	    2
#define IPSEC_API_ATTR_LEVEL_LOW    3
#define IPSEC_API_ATTR_LEVEL_MEDIUM 4
#define IPSEC_API_ATTR_LEVEL_HIGH   5

/* Section 2.1.2, Figure 4: read-only, on iTokens (auditString: on pTokens too). */
typedef enum {
	IPSEC_API_ATTR_auditString = 0x100,	       /* string */
	IPSEC_API_ATTR_authenticationMethod = 0x101,   /* uint16_t: an authMeth_* value */
	IPSEC_API_ATTR_certificateAuthorityDN = 0x102, /* string: issuer DN */
	IPSEC_API_ATTR_certificateDN = 0x103,	       /* string: subject DN */
	IPSEC_API_ATTR_pubKeyID = 0x104,	       /* 32 bytes: SHA-256 of the SPKI */
	IPSEC_API_ATTR_channelBinding = 0x105, /* 55 bytes: "ipsec-end-point-sha256:" + 32 */
} iToken_attribute;

/* Authentication methods: the values of authenticationMethod, and writable uint16_t keys. */
typedef enum {
	IPSEC_API_ATTR_authMeth_NONE = 0x200,
	IPSEC_API_ATTR_authMeth_BTNS = 0x201,
	IPSEC_API_ATTR_authMeth_LEAPOFFAITH = 0x202,
	IPSEC_API_ATTR_authMeth_PRESHAREDKEY = 0x203,
	IPSEC_API_ATTR_authMeth_GROUPKEY = 0x204,
	IPSEC_API_ATTR_authMeth_XAUTH = 0x205,
	IPSEC_API_ATTR_authMeth_EAP = 0x206,
	IPSEC_API_ATTR_authMeth_PKIX_TRUSTED = 0x207,
	IPSEC_API_ATTR_authMeth_PKIX_INLINE = 0x208,
	IPSEC_API_ATTR_authMeth_PKIX_OFFLINE = 0x209,
} iToken_auth_meth;

/* Section 2.3.2, Figure 8. */
typedef enum {
	IPSEC_API_ATTR_privacyProtected = 0x300,     /* uint16_t, levels allowed */
	IPSEC_API_ATTR_integrityProtected = 0x301,   /* uint16_t, levels allowed */
	IPSEC_API_ATTR_compressionAvailable = 0x302, /* uint16_t; always DISABLE */
	IPSEC_API_ATTR_policyName = 0x303,	     /* string ≤ 64 */
	IPSEC_API_ATTR_iToken = 0x304,		     /* ipsec_iToken_t: the remote identity */
	IPSEC_API_ATTR_remote_iToken = 0x305,	     /* ipsec_iToken_t: ours; read-only */
	IPSEC_API_ATTR_tunnelMode = 0x306,	     /* uint16_t */
	IPSEC_API_ATTR_ipoptionsProtected = 0x307,   /* uint16_t; ENABLE asks for tunnel mode */
	/* 0x308: auditString, declared above (0x100); read-only here */
	IPSEC_API_ATTR_informationString = 0x309, /* string; read-only */
} pToken_attribute;

/* Constructors and destructors (Figures 3 and 7). create: NULL and errno on failure. */
ipsec_iToken_t ipsec_create_iToken(void);
int ipsec_free_iToken(ipsec_iToken_t p);
ipsec_pToken_t ipsec_create_pToken(void);
int ipsec_free_pToken(ipsec_pToken_t p);

/* Attributes of either kind of token (Figure 5). */
int ipsec_get_token_attr(const void *token, uint32_t attr_type, uint32_t *attr_len, void *attr_val);
int ipsec_set_token_attr(const void *token, uint32_t attr_type, uint32_t attr_len,
			 const void *attr_val);

/*
 * Figure 9. set: on a listening socket (or a bound, unconnected UDP one),
 * who may connect and how; on an unconnected socket, the protection its
 * own connect(2) will get (latchd holds the first packet until the SA is
 * up; an unbound socket is bound to the wildcard address first); on a
 * connected one, latch it now. get: fills pToken (from
 * ipsec_create_pToken()) with the socket's latch: protection in force, the
 * peer (IPSEC_API_ATTR_iToken), our identity, auditString and
 * informationString; on a socket accepted from a listener set up here, it
 * also latches the connection. A connection accepted without a latch
 * (the listener's token allowed it) gives privacyProtected DISABLE and no
 * iToken.
 */
int ipsec_set_socket_pToken(int fd, const ipsec_pToken_t pToken);
int ipsec_get_socket_pToken(int fd, ipsec_pToken_t pToken);

/* Figure 10: EOPNOTSUPP, see defect 7. */
int ipsec_set_msg_pToken(struct msghdr *msg, const ipsec_pToken_t pToken);
int ipsec_get_msg_pToken(const struct msghdr *msg, ipsec_pToken_t pToken);

/*
 * Figure 11: 0 when both ask for (or give) equivalent protection from the
 * same peer: privacy, integrity, tunnel mode, exact SA, policy name, and
 * the peer's identity, method, DNs and key. 1 when they differ; -1 with
 * EINVAL for a NULL token.
 */
int ipsec_cmp_pToken(ipsec_pToken_t p1, ipsec_pToken_t p2);

/* Figure 12: *p_dup is new, owned by the caller, freed with ipsec_free_pToken(). */
int ipsec_dup_pToken(const ipsec_pToken_t p, ipsec_pToken_t *p_dup);

/*
 * Extensions (defect 8): the text form of an iToken, latch(3)'s
 * "latch-ident/1 …" line. import: *ret is new, caller frees it; EINVAL for
 * text that is not exactly that form. export: like get_token_attr, writes
 * the NUL-terminated line and sets *len; ERANGE with the needed *len.
 */
int ipsec_import_iToken(const char *text, ipsec_iToken_t *ret);
int ipsec_export_iToken(const ipsec_iToken_t token, char *buf, uint32_t *len);

/*
 * draft-ietf-btns-channel-binding-api-00, section 5, as functions: Linux
 * has no IP_SEC_CBINDING socket options, so each option is a function of
 * the same meaning and getsockopt(2)'s conventions (0, or -1 and errno).
 * ipsec_set_cbinding: declares the intent (IP_SEC_CBINDING); latch always
 *   provides the end-point binding, so this only checks fd is a socket.
 * ipsec_get_cbinding_types: "ipsec-end-point-sha256", NUL-terminated, types
 *   separated by ':' in the system's order of preference (one today).
 * ipsec_get_cbinding_data: buf holds "<type>:" on entry; on return the
 *   RFC 5056 form "<type>:" followed by the binding, *len its length.
 *   ENOENT for an unknown type or a socket without a latch, ENODATA when
 *   its SA has no binding (pre-shared key), EOVERFLOW (as the draft
 *   suggests) when *len is too small, with *len set to the size needed.
 */
#define IP_SEC_CBINDING_ENDPOINT_SHA256_NAME "ipsec-end-point-sha256"
#define IP_SEC_CBINDING_TYPES_BUFSIZE	     64
#define IP_SEC_CBINDING_DATA_BUFSIZE	     64
int ipsec_set_cbinding(int fd);
int ipsec_get_cbinding_types(int fd, char *buf, socklen_t *len);
int ipsec_get_cbinding_data(int fd, void *buf, socklen_t *len);

/*
 * latch's one extension of the draft: the explanation of this thread's
 * last failure, as errno is this thread's last error — latchd's own words
 * when latchd refused ("the peer's certificate chains to no trusted CA"),
 * else this layer's ("descriptor 5 is not a socket", "latchd is not
 * running"), else strerror(errno). Valid until this thread's next failing
 * call; "" before any failure.
 */
const char *ipsec_last_error(void);

#ifdef __cplusplus
}
#endif

#endif
