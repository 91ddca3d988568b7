#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Issue 13 item 2: an application goes away at every step of every request
# kind (listen, connect, latch, attach, accept, query, watch) — after its
# HELLO, right after its request, after the answer — with charon up, slow
# (SIGSTOP'd) and down (stopped). latchd must survive each drop (the crash
# was a client dropped twice from inside its own ALERT), keep serving root,
# and under the sanitized build report nothing. A watcher that went away
# meets every ALERT those drops cause. Nothing of a latched flow crosses in
# clear.
#
#   a 192.0.2.1 a.example (latchd)   b 192.0.2.2 b.example (latchd, a latched server on 8080)
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

lab_init
lab_latch_pair
lab_latch_server b 8080 "$LAB_DIR/server.log" --out "$LAB_DIR/recv"
pid=$(lab_latchd_pid a)
client=$LAB_DIR/rawclient.py
install -m 0644 "$(dirname "$0")/rawclient.py" "$client"
pcap=$(lab_pcap wire)
lab_capture_start a "$pcap"

# drop KIND STEP: one application of nobody's that goes away at STEP of KIND.
drop() {
	lab_as_user a 65534 python3 "$client" "$(lab_latchd_sock a)" drop "$1" "$2" \
		"$(lab_ip b)" 8080 b.example 2>&1
}

# a watcher that reads nothing and goes away while those drops make ALERTs
watcher() {
	lab_as_user_bg a "$LAB_DIR/watch-$1.log" 65534 python3 "$client" "$(lab_latchd_sock a)" \
		hold 1 600
}

# every kind, every step; DIED names the drop latchd did not survive
drop_all() {
	local kind step out
	for kind in listen connect latch attach accept query watch; do
		for step in hello sent answered; do
			out=$(drop "$kind" "$step")
			tap_diag "charon $1: $kind $step: $(tr '\n' ' ' <<<"$out")"
			if ! kill -0 "$pid" 2>/dev/null; then
				DIED="$kind $step"
				return
			fi
		done
	done
}

# the state charon is in for a round, and a round of drops in it
round() {
	local state=$1 wpid
	watcher "$state"
	wpid=$LAB_PID
	DIED=none
	drop_all "$state"
	tap_is "$DIED" none "charon $state: latchd survives every drop (the one it died at)"
	lab_stop "$wpid" KILL
	sleep 1 & wait $!
	tap_ok "charon $state: latchd is alive after the watcher went too" kill -0 "$pid"
	tap_ok "charon $state: root's status is answered" eval "lab_latchctl a status >/dev/null"
}

round up
tap_ok "a latched connection made by a client that went away carried its marker as ESP" \
	grep -q CLIENTDROP "$LAB_DIR/recv"
kill -STOP "$(lab_charon_pid a)"
round slow
kill -CONT "$(lab_charon_pid a)"
lab_charon_stop a
round down
lab_charon_start a
tap_ok "charon back: latchd reaches it again" lab_wait 100 lab_latchd_ready a
out=$(lab_probe a connect "$(lab_ip b)" 8080 --peer-id b.example --marker AFTER)
tap_ok "latchd keeps serving: root latches a connection" grep -q '^latched' <<<"$out"
tap_is "$(lab_latch_states a 8080 | grep -c LARVAL)" 0 "no LARVAL latch of a client that went away is left"
lab_capture_stop "$pcap"
tap_is "$(lab_pcap_clear "$pcap" CLIENTDROP)" 0 "no marker crossed in clear"
tap_cmp "$(lab_pcap_esp "$pcap")" -gt 0 "the wire carried ESP"
tap_not "no sanitizer report in latchd's log" \
	grep -q 'AddressSanitizer\|runtime error\|LeakSanitizer' "$(lab_dir a)/latchd.log.tmp"
tap_done
