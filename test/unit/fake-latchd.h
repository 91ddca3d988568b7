/* SPDX-License-Identifier: MIT */
#ifndef LATCH_TEST_FAKE_LATCHD_H
#define LATCH_TEST_FAKE_LATCHD_H

/*
 * A stand-in for latchd in the library's unit tests: a thread serving the
 * IPC protocol on a UNIX socket in a temporary directory (LATCH_SOCKET is
 * pointed at it), answering with canned latches built from the socket it
 * was passed, and recording what it was asked. Knobs select the failures.
 */

#include <stdbool.h>
#include <stdint.h>

#include "shared/proto.h"

#define FAKE_TYPES 8 /* request types counted: 200..207 */

struct fake {
	/* knobs, set before the request they concern */
	uint16_t fail_type; /* answer this request type with fail_status */
	int fail_status;
	const char *fail_msg;
	uint16_t silent_type;	 /* never answer this type (timeouts) */
	uint16_t close_on_type;	 /* close the connection instead of answering */
	bool alert_before_reply; /* an ALERT (latch 99, BROKEN, PEER_DEAD) before each reply */
	bool query_enoent;	 /* QUERY by fd finds nothing */
	bool accept_unlatched;	 /* ACCEPT answers REASON UNLATCHED */
	int hello_status;	 /* HELLO answered with this status */
	bool no_gen_page;	 /* HELLO gives no generation page, replies no GENERATION */
	uint8_t query_state;	 /* the STATE QUERY answers (0: ESTABLISHED) */
	uint8_t query_encrypt;	 /* the ENCRYPT its PROTECTION says was asked (0: YES) */
	uint16_t hold_type; /* keep requests of this type unanswered until fake_answer_held() */
	/* what it saw */
	unsigned count[FAKE_TYPES];
	uint16_t last_type;
	uint16_t last_local_port; /* of the socket passed with the last request */
	bool last_had_peer;
	uint8_t last_encrypt;
	uint8_t last_peer_btns;
	char last_peer_id[256];
	/* internals */
	char dir[64], path[128];
	int lfd, cmd[2]; /* commands to the thread: alerts, stop */
	void *thread;
	int gen_fd;		/* the generation page every client shares */
	uint64_t *gen;		/* its slots, as latchd's: IPC_GEN_SLOTS */
	struct fake_held *held; /* requests kept by hold_type, newest first */
};

/* The fake of a test program, for cmocka's group and test fixtures below. */
extern struct fake *fake;
int fake_group_setup(void **state);
int fake_group_teardown(void **state);
int fake_reset_test(void **state);

/* Start it and set LATCH_SOCKET; fails the test on error. */
struct fake *fake_start(void);
void fake_stop(struct fake *f);
/* Reset the knobs and records between tests. */
void fake_reset(struct fake *f);
/* Count a change of latch id in the generation page, as latchd does. */
void fake_bump(struct fake *f, uint64_t id);
/* Close every client's connection now (their waiting calls get ECONNRESET). */
void fake_drop_clients(struct fake *f);
/* Wait until the fake has been asked n requests of type (counted since fake_reset()). */
void fake_wait_count(struct fake *f, uint16_t type, unsigned n);
/* Answer the requests kept by hold_type now, the newest first (out of order). */
void fake_answer_held(struct fake *f);
/* Push an ALERT to every connected client now. */
void fake_alert(struct fake *f, uint64_t id, uint8_t state, uint16_t reason);

/* The peer's certificate every canned latch carries: FAKE_DER_LEN bytes of a pattern. */
#define FAKE_DER_LEN 700
void fake_cert_der(uint8_t der[FAKE_DER_LEN]);

/* The channel binding and key every canned latch carries. */
#define FAKE_CB_BYTE   0x3c
#define FAKE_SPKI_BYTE 0xa5

#endif
