/* SPDX-License-Identifier: MIT */
#ifndef LATCH_SHARED_PROTO_H
#define LATCH_SHARED_PROTO_H

/*
 * The latch IPC wire format: the one definition shared by liblatch, latchd
 * and latchctl. docs/ipc.md tells the same in prose; the schema (which
 * attribute each message takes) lives in the table of src/shared/wire.c.
 *
 * Transport: a UNIX SOCK_SEQPACKET socket, one message per packet, so no
 * framing. Integers are big-endian. A message is a 12-byte header followed
 * by attributes:
 *
 *   0      2      4             8             12
 *   | type | flags|     seq     |   status    | attributes...
 *
 *   attribute: | len (u16) | type (u16) | value | zero padding to 4 |
 *
 * len counts the 4-byte attribute header and the value, not the padding.
 * Every attribute, the last one included, is padded with zeros to a
 * multiple of 4, so each message has exactly one encoding. Nested
 * attributes carry attributes as their value; containers appear only at the
 * top level, so nesting is at most one level deep.
 *
 * All numbers below are append-only: never renumber, never reuse; a retired
 * slot stays as a comment.
 */

#define IPC_VERSION	 1     /* HELLO.VERSION; any other is refused with -EPROTO */
#define IPC_HDR_LEN	 12    /* bytes before the first attribute */
#define IPC_ATTR_HDR_LEN 4     /* len + type */
#define IPC_MSG_MAX	 16384 /* whole message, header included */
#define IPC_STATUS_MIN	 -4095 /* replies carry 0 or -errno, never below this */

/* Header flags; any other bit is malformed. */
#define IPC_F_REPLY 0x0001 /* an answer to the request with the same seq */
#define IPC_F_MORE  0x0002 /* dump reply: one entry, more follow; ends with a bare reply */
#define IPC_F_ALL   (IPC_F_REPLY | IPC_F_MORE)

/*
 * Message types. A request and its reply share the type; the reply sets
 * IPC_F_REPLY. "fd" marks requests that carry the socket in question with
 * SCM_RIGHTS (the daemon reads the addresses from it, never from the client).
 */
enum ipc_msg {
	/* 1xx session */
	IPC_MSG_HELLO = 100, /* first exchange: VERSION, FEATURES, NAME both ways */
	IPC_MSG_BYE = 101,   /* orderly goodbye: replied to, then both sides close */

	/* 2xx latch requests */
	IPC_MSG_CONNECT = 200, /* fd: latch a socket about to connect to TUPLE's remote end */
	IPC_MSG_LISTEN = 201,  /* fd: make a LISTENER latch for a listening socket */
	IPC_MSG_ACCEPT = 202,  /* fd: latch an accepted socket, answer the peer's identity */
	IPC_MSG_LATCH = 203,   /* fd: latch an already connected socket */
	IPC_MSG_QUERY = 204,   /* fd or LATCH_ID: state, latched parameters, identities, SA */
	IPC_MSG_RELEASE = 205, /* fd or LATCH_ID: the owner releases its latch (→ CLOSED) */
	IPC_MSG_CLOSE = 206,   /* admin: close any latch by LATCH_ID (R21, R44) */
	IPC_MSG_ATTACH = 207,  /* fd: hold the socket's first packet until an acceptable SA is up */

	/* 3xx identities and peers */
	IPC_MSG_PEER_LIST = 300,  /* dump: one reply per peer with an IKE_SA */
	IPC_MSG_PIN_LIST = 301,	  /* dump: leap-of-faith pins (identity → SPKI) */
	IPC_MSG_PIN_DELETE = 302, /* admin: forget a leap-of-faith pin */

	/* 4xx administration (latchctl) */
	IPC_MSG_STATUS = 400,  /* daemon version, counters and limits */
	IPC_MSG_LIST = 401,    /* dump: one reply per latch, filtered by STATE/OWNER */
	IPC_MSG_WATCH = 402,   /* subscribe this connection to ALERTs (one latch or all) */
	IPC_MSG_UNWATCH = 403, /* stop the subscription */
	IPC_MSG_METRICS = 404, /* counters and gauges for monitoring (latchctl metrics) */

	/* 9xx events: daemon to client, seq 0, never replied to */
	IPC_MSG_ALERT = 900, /* a latch changed state: LATCH_ID, STATE, REASON */
};

/*
 * Attribute types: one namespace for the whole protocol, in ranges of 16.
 * Kind and limits in brackets; "s" strings are sent with their NUL, which
 * the limit does not count, and are clean text (shared/text.h): a client's
 * are refused otherwise, latchd's are cleaned where they enter latchd.
 */
enum ipc_attr {
	/* 1–15: general */
	IPC_A_VERSION = 1,  /* [u32] protocol version (HELLO) */
	IPC_A_FEATURES = 2, /* [u64] feature bits (IPC_FEATURE_*) */
	IPC_A_NAME = 3,	    /* [s ≤ 64] software name (HELLO, STATUS); counter/limit name */
	IPC_A_MESSAGE = 4,  /* [s ≤ 512] human-readable error or reason text */
	IPC_A_LATCH_ID = 5, /* [u64 ≥ 1] latch handle, unique for the daemon's lifetime */
	IPC_A_STATE = 6,    /* [u8 enum ipc_state] */
	IPC_A_REASON = 7,   /* [u16 enum ipc_reason] why the state changed */
	IPC_A_VALUE = 8,    /* [u64] value of a COUNTER or LIMIT */
	IPC_A_CHANNEL_BINDING = 9, /* [bytes ≤ 64] RFC 5056 prefix + ipsec-end-point-sha256 */
	IPC_A_GENERATION = 10,	   /* [u64] the latch's slot in the generation page, when sent */
	IPC_A_LABEL = 11,	   /* [s ≤ 64] a COUNTER's label value (METRICS: state, reason) */
	IPC_A_PEER_CERT_DER = 12, /* [bytes ≤ IPC_CERT_DER_MAX] the remote identity's certificate */

	/* 16–31: containers (nested, top level only) */
	IPC_A_PROTECTION = 16,	    /* [nest] protection asked for, or latched */
	IPC_A_PEER = 17,	    /* [nest] constraints on the peer */
	IPC_A_LOCAL_IDENTITY = 18,  /* [nest IDENT_*] who we are to the peer */
	IPC_A_REMOTE_IDENTITY = 19, /* [nest IDENT_*] who the peer proved to be */
	IPC_A_TUPLE = 20,	    /* [nest TUPLE_*] the flow */
	IPC_A_OWNER = 21,	    /* [nest OWNER_*] the process that owns a latch */
	IPC_A_SA = 22,		    /* [nest SA_*] the child SA carrying a flow */
	IPC_A_COUNTER = 23,	    /* [nest NAME, VALUE] a counter, repeated */
	IPC_A_LIMIT = 24,	    /* [nest NAME, VALUE] a limit, repeated */
	IPC_A_HISTORY =
		25, /* [nest STATE, REASON, VALUE] a state change, VALUE ms ago; oldest first */
	IPC_A_CHECK = 26, /* [nest NAME, VALUE, MESSAGE] a line of the doctor: VALUE 1 ok, 0 FAIL */

	/* 32–47: inside PROTECTION */
	IPC_A_PROT_ENCRYPT = 32,	 /* [u8 enum ipc_want] confidentiality */
	IPC_A_PROT_INTEGRITY = 33,	 /* [u8 enum ipc_want] integrity */
	IPC_A_PROT_MODE = 34,		 /* [u8 enum ipc_mode] transport or tunnel */
	IPC_A_PROT_ENCR_MIN_BITS = 35,	 /* [u16] floor on the cipher's key length */
	IPC_A_PROT_INTEG_MIN_BITS = 36,	 /* [u16] floor on the integrity key length */
	IPC_A_PROT_EXACT = 37,		 /* [u8 bool] a child SA of its own (5-tuple), not shared */
	IPC_A_PROT_ALLOW_UNLATCHED = 38, /* [u8 bool] accept flows without a latch, and say so */
	IPC_A_PROT_ON_BREAK = 39,	 /* [u8 enum ipc_on_break] disposition when BROKEN */
	IPC_A_PROT_POLICY_NAME = 40,	 /* [s ≤ 64] system policy name (pToken policyName) */

	/* 48–63: inside PEER */
	IPC_A_PEER_ID = 48,	       /* [s ≤ 1024] exact IKE identity */
	IPC_A_PEER_ID_PATTERN = 49,    /* [s ≤ 1024] IKE identity with wildcards */
	IPC_A_PEER_CA_DN = 50,	       /* [s ≤ 1024] DN of the CA that must have issued */
	IPC_A_PEER_SPKI_SHA256 = 51,   /* [bytes = 32] pinned SPKI hash; repeatable */
	IPC_A_PEER_BTNS = 52,	       /* [u8 bool] an unauthenticated (BTNS) peer is acceptable */
	IPC_A_PEER_LEAP_OF_FAITH = 53, /* [u8 bool] pin the key on first contact */

	/* 64–79: inside LOCAL_IDENTITY and REMOTE_IDENTITY */
	IPC_A_IDENT_ID = 64,	       /* [s ≤ 1024] IKE identity */
	IPC_A_IDENT_AUTH_METHOD = 65,  /* [u16 enum ipc_auth] how it was authenticated */
	IPC_A_IDENT_CERT_SUBJECT = 66, /* [s ≤ 1024] certificate subject DN */
	IPC_A_IDENT_CERT_ISSUER = 67,  /* [s ≤ 1024] issuing CA DN */
	IPC_A_IDENT_SPKI_SHA256 = 68,  /* [bytes = 32] SHA-256 of the SPKI: the pubKeyID */
	IPC_A_IDENT_AUDIT = 69,	       /* [s ≤ 512] audit string for logs */

	/* 80–95: inside TUPLE */
	IPC_A_TUPLE_FAMILY = 80,      /* [u8 enum ipc_family] required in every TUPLE */
	IPC_A_TUPLE_PROTO = 81,	      /* [u8] IP protocol number (6 TCP, 17 UDP, ...) */
	IPC_A_TUPLE_LOCAL_ADDR = 82,  /* [bytes 4–16] 4 for INET, 16 for INET6 */
	IPC_A_TUPLE_LOCAL_PORT = 83,  /* [u16] */
	IPC_A_TUPLE_REMOTE_ADDR = 84, /* [bytes 4–16] */
	IPC_A_TUPLE_REMOTE_PORT = 85, /* [u16] */

	/* 96–111: inside OWNER */
	IPC_A_OWNER_PID = 96, /* [u32] */
	IPC_A_OWNER_UID = 97, /* [u32] */
	IPC_A_OWNER_GID = 98, /* [u32] */
	/* (the owner's program name travels as NAME inside OWNER) */

	/* 112–127: inside SA */
	IPC_A_SA_CHILD_ID = 112,  /* [u32] charon's child SA unique id, required in every SA */
	IPC_A_SA_IKE_ID = 113,	  /* [u32] charon's IKE_SA unique id */
	IPC_A_SA_SPI_IN = 114,	  /* [u32] inbound ESP SPI */
	IPC_A_SA_SPI_OUT = 115,	  /* [u32] outbound ESP SPI */
	IPC_A_SA_ENCR_ALG = 116,  /* [s ≤ 64] e.g. "AES_GCM_16-256" */
	IPC_A_SA_INTEG_ALG = 117, /* [s ≤ 64] e.g. "HMAC_SHA2_256_128" */
	IPC_A_SA_SHARED = 118,	  /* [u8 bool] selectors cover other flows: QoP shared (R20) */
	IPC_A_SA_MODE = 119,	  /* [u8 enum ipc_mode] */
};

#define IPC_A_MAX 127 /* highest attribute type the schema knows */

/*
 * FEATURES bits, announced by the client in HELLO; latchd's HELLO reply
 * repeats those it serves.
 *
 * GEN_PAGE: latchd attaches to its HELLO reply (SCM_RIGHTS) a memfd of
 * IPC_GEN_PAGE_SIZE bytes, sealed against shrinking, growing and new
 * writable mappings: IPC_GEN_SLOTS counters (uint64_t, host byte order),
 * one per latch id modulo IPC_GEN_SLOTS, each increased (atomically, with
 * release order) whenever anything latch info shows of a latch this
 * connection made changes. Latch info replies to this connection about
 * its own latches then carry GENERATION, the slot's value when the reply
 * was made: while the slot still holds it, the reply is still true.
 */
#define IPC_FEATURE_GEN_PAGE	  (1ull << 0)
#define IPC_FEATURE_STATUS_CHECKS (1ull << 1) /* STATUS replies carry CHECK lines */
#define IPC_FEATURES_ALL	  (IPC_FEATURE_GEN_PAGE | IPC_FEATURE_STATUS_CHECKS)
#define IPC_GEN_SLOTS		  8192 /* 64 KiB: a client's latches seldom share a slot */
#define IPC_GEN_PAGE_SIZE	  (IPC_GEN_SLOTS * 8)

/* String and byte limits quoted above, for encoders that want to truncate first. */
#define IPC_NAME_MAX	 64
#define IPC_MESSAGE_MAX	 512
#define IPC_DN_MAX	 1024 /* identities, patterns and DNs */
#define IPC_SHA256_LEN	 32
#define IPC_CB_MAX	 64
#define IPC_CERT_DER_MAX 8192 /* a certificate larger is not sent (IPC_MSG_MAX) */
#define IPC_ADDR_MAX	 16

/*
 * RFC 5660 §2.2 states, by the RFC's names everywhere (API, latchctl, logs):
 * LARVAL is §2.3's state of a latch waiting for its SA.
 */
enum ipc_state {
	IPC_STATE_LISTENER = 1,
	IPC_STATE_ESTABLISHED = 2,
	IPC_STATE_BROKEN = 3,
	IPC_STATE_CLOSED = 4,
	IPC_STATE_LARVAL = 5,
};

enum ipc_reason {
	IPC_REASON_NONE = 0,
	IPC_REASON_SA_CONFLICT = 1,  /* an SA covering the flow differs in peer or protection */
	IPC_REASON_SA_GONE = 2,	     /* the carrying SA went away without a congruent successor */
	IPC_REASON_PEER_DEAD = 3,    /* DPD declared the peer dead */
	IPC_REASON_PEER_CHANGED = 4, /* the peer came back under another identity */
	IPC_REASON_POLICY = 5,	     /* a policy change affected the flow (R31) */
	IPC_REASON_ADMIN = 6,	     /* closed by an administrator */
	IPC_REASON_OWNER = 7,	     /* released by its owner, or the socket went away */
	IPC_REASON_KEY_MANAGER = 8,  /* charon restarted or the VICI link was lost */
	IPC_REASON_DAEMON = 9,	     /* latchd restarted and could not re-adopt the latch */
	IPC_REASON_RESTORED = 10,    /* every conflict cleared: ESTABLISHED again */
	IPC_REASON_NEW_CONNECTION = 11, /* a LISTENER spawned an ESTABLISHED latch (R26) */
	IPC_REASON_UNLATCHED = 12,	/* a connection was accepted without a latch (R33) */
	/* 13: liblatch's LATCH_REASON_OVERFLOW (its events were dropped), never on the wire */
};

/* Tri-state wish, the draft's IPSEC_API_ATTR_ANY / DISABLE / ENABLE. */
enum ipc_want {
	IPC_WANT_ANY = 0,
	IPC_WANT_NO = 1,
	IPC_WANT_YES = 2,
};

enum ipc_mode {
	IPC_MODE_ANY = 0,
	IPC_MODE_TRANSPORT = 1,
	IPC_MODE_TUNNEL = 2,
};

/* What happens to the owner's socket when its latch breaks (RFC 5660 §5.5). */
enum ipc_on_break {
	IPC_ON_BREAK_RESET = 1, /* the default: reset the connection */
	IPC_ON_BREAK_WAIT = 2,	/* hold packets until re-established with the same peer */
};

enum ipc_family {
	IPC_FAMILY_INET = 1,
	IPC_FAMILY_INET6 = 2,
};

/* draft-ietf-btns-c-api-04 iToken_auth_meth, in the draft's order. */
enum ipc_auth {
	IPC_AUTH_NONE = 0,
	IPC_AUTH_BTNS = 1,
	IPC_AUTH_LEAP_OF_FAITH = 2,
	IPC_AUTH_PSK = 3,
	IPC_AUTH_GROUP_KEY = 4,
	IPC_AUTH_XAUTH = 5,
	IPC_AUTH_EAP = 6,
	IPC_AUTH_PKIX_TRUSTED = 7,
	IPC_AUTH_PKIX_INLINE = 8,
	IPC_AUTH_PKIX_OFFLINE = 9,
};

#endif
