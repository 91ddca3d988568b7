/* SPDX-License-Identifier: MIT */
#ifndef LATCH_FUZZ_CORE_HARNESS_H
#define LATCH_FUZZ_CORE_HARNESS_H
/*
 * fuzz-core's harness: deterministic fakes of the modules below latchd's
 * core (the event loop, the control socket, the VICI client, the data
 * plane), linked in place of the real ones, and the operations the driver
 * (fuzz-core.c) applies to them. README.md in test/fuzz says how it is put
 * together.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "latchd/base/event.h"
#include "latchd/base/flow.h"
#include "latchd/charon/vici-msg.h"

/* fake-event.c: time only moves when the driver says so. */
void fake_ev_reset(void);
void fake_ev_advance(uint64_t usec); /* fires what falls due, earliest first */
/* Call the io source on fd as if it were readable; false when there is none. */
bool fake_ev_readable(int fd);
size_t fake_ev_count(void);

/* fake-control.c: clients and their requests, answers counted. */
struct client;
void fake_control_reset(void);
struct client *fake_client_connect(uid_t uid, gid_t gid, pid_t pid);
struct client *fake_client_at(unsigned i); /* NULL past the last live one */
unsigned fake_client_live(void);
/* A validated message from cl, with fd (borrowed: the request gets a dup) or -1. */
void fake_client_send(struct client *cl, const uint8_t *msg, size_t len, int fd);
void fake_client_drop(struct client *cl);
/* The status of the last answer cl got (0 or -errno), for unit tests. */
int32_t fake_client_last_status(const struct client *cl);
const char *fake_client_last_message(const struct client *cl); /* its MESSAGE, or "" */
/* A request of type without attributes (HELLO: with VERSION), with fd or -1. */
void fake_client_send_bare(struct client *cl, uint16_t type, int fd);
/* A client of uid (gid uid, pid 100 + uid) that said HELLO. */
struct client *fake_client_hello(uid_t uid);
/* A client whose next event send fails (its peer stopped reading). */
void fake_client_break(struct client *cl);
/* The drops that failed sends asked for: the event loop does them, never a send. */
void fake_control_run_deferred(void);
/* Every live client's requests are answered (after time has run past every timeout). */
void fake_control_all_answered(void);
/* After the core is freed: every request must have had its one answer. */
void fake_control_finish(void);
uid_t fake_latch_maker(uint64_t latch_id, bool *known);

/* fake-vici.c: charon, answering whenever and however the driver says. */
void fake_vici_reset(void);
void fake_vici_up(bool resync);
void fake_vici_down(int err);
size_t fake_vici_calls(void);
/* Answer call i: err < 0 fails it; otherwise reply (and stream) are the answer. */
void fake_vici_answer(size_t i, int err, const struct vici_node *reply,
		      const struct vici_node *stream);
const char *fake_vici_call_name(size_t i);
/* The message call i carries (NULL: empty), until it is answered. */
const struct vici_node *fake_vici_call_msg(size_t i);
void fake_vici_event(const char *name, const struct vici_node *msg);

/* fake-plane.c: enforcement always obeys; sock_diag tells what the driver queues. */
void fake_plane_reset(bool kernel, int fail_every);
void fake_plane_socket_gone(const struct flow *f, uint64_t cookie);
int fake_plane_diag_fd(void);
/* A packet of flow f queued by the hold rule (fake_ev_readable(fake_plane_nfq_fd()) reads it). */
void fake_plane_packet(const struct flow *f, bool syn);
int fake_plane_nfq_fd(void);

#endif
