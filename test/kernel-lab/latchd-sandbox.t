#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Wait on break under the systemd unit's sandbox (issue 17), kernel data plane.
# latchd takes a broken latch's socket from its owner (pidfd_getfd) to hold it;
# latchd.service used to fail pidfd_getfd with EPERM (SystemCallFilter=
# @system-service) and to drop CAP_SYS_PTRACE, so a waiting latch of another
# user's process was silently reset. test/lab/sandbox-wrap.py applies those two
# restrictions as systemd did (a seccomp filter, the bounding set):
#   old: pidfd_getfd denied, CAP_SYS_PTRACE dropped: latchd says so at start,
#        and the waiting latch of uid 65534 is reset when a's charon dies;
#   new (the shipped unit): latchd says nothing of it, and the latch waits, BROKEN.
# Nothing of either flow crosses in clear.
#
#   a 192.0.2.1 a.example: latchd (sandboxed), the clients (uid 65534)   b 192.0.2.2: servers
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

if [ "${LAB_DATAPLANE:-libipsec}" != kernel ]; then
	echo "1..0 # SKIP the kernel data plane only (test/kernel-lab)"
	exit 0
fi
lab=$(cd "$(dirname "$0")/../lab" && pwd)
LAB_CHARON_EXTRA='	retransmit_tries = 2
	retransmit_timeout = 1.0
	retransmit_base = 1.4'
lab_init
lab_latch_host a 1
lab_latch_host b 2
lab_ca ca
lab_cert a ca a.example
lab_cert b ca b.example
lab_charon_start a
lab_charon_start b
lab_latchd_start b
lab_latch_server b 8080 "$LAB_DIR/server-old.log" --out "$LAB_DIR/recv-old"
lab_latch_server b 8081 "$LAB_DIR/server-new.log" --out "$LAB_DIR/recv-new"
warning='pidfd_getfd: Operation not permitted: a latch whose token waits on break will be reset instead'

# phase NAME PORT WRAP...: a's latchd under WRAP; a client of uid 65534 whose
# token waits on break, latched to b's PORT; a's charon killed (its SAs stay in
# the kernel, the VICI link drops: the latch breaks, key-manager).
phase() {
	local name=$1 port=$2 from wire
	shift 2
	from=$(($(lab_latchd_log a 2>/dev/null | wc -l) + 1))
	LAB_LATCHD_WRAP="python3 $lab/sandbox-wrap.py $* --" lab_latchd_start a
	log() { lab_latchd_log a | tail -n "+$from"; }
	lab_as_user_bg a "$LAB_DIR/client-$name.log" 65534 "$(lab_probe_bin)" connect "$(lab_ip b)" \
		"$port" --peer-id b.example --wait --marker "SANDBOX-$name" --count 1 --hold 120000
	tap_ok "$name: uid 65534's latch is made" lab_wait_count 300 1 '^latched' "$LAB_DIR/client-$name.log"
	wire=$(lab_pcap "$name")
	lab_capture_start a "$wire"
	lab_charon_stop a KILL
	lab_wait 100 eval "[ -n \"\$(lab_latch_states a $port | grep -v ESTABLISHED)\" ] || [ -z \"\$(lab_latch_states a $port)\" ]"
	sleep 2 & wait $!
	STATES=$(lab_latch_states a "$port" | tr '\n' ' ')
	LOG=$(log)
	lab_capture_stop "$wire"
	tap_is "$(lab_pcap_count "$wire" "tcp port $port")" 0 "$name: not one segment of the flow in clear"
	lab_latchd_stop a
	lab_charon_start a
}

phase old 8080 --deny pidfd_getfd --drop sys_ptrace
tap_ok "old: latchd says at start that wait on break will reset" grep -qF "$warning" <<<"$LOG"
tap_ok "old: the waiting latch could not be held: reset ($(grep 'cannot block' <<<"$LOG" | head -1))" \
	grep -q 'cannot block its socket (Operation not permitted): reset, not waiting' <<<"$LOG"
tap_is "$STATES" "" "old: a's latch is gone, not waiting"

phase new 8081
tap_not "new: latchd has nothing to say about taking sockets" grep -qF "$warning" <<<"$LOG"
tap_not "new: no 'cannot block' either" grep -q 'cannot block its socket' <<<"$LOG"
tap_is "$STATES" "BROKEN " "new: a's latch waits, BROKEN"
tap_done
