#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# latchd scenario 6 (issue 5): charon restarted on one side while a latched
# connection carries data, twice:
#   TERM: b's charon (the server's side) stops cleanly, deleting its SAs;
#   KILL: a's charon (the client's side) crashes, leaving b's SAs behind.
# Each time the latches on the restarted side go BROKEN and their sockets are
# reset (the client sees ECONNABORTED, or its stream fails), the peer's latch
# ends once its SA is gone, nothing of the flow crosses in clear meanwhile (a
# latch_connect tried during the outage fails, also without a cleartext
# packet), and once charon is back latchd has reconnected to VICI and
# reloaded its connections: a new latched connection carries data again.
#
#   a 192.0.2.1 a.example: latchd, the clients    b 192.0.2.2 b.example: latchd, the server
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

# Short retransmits, so that the survivor of a crash finds its peer dead by DPD
# (latchd's connections have dpd_delay 2s in the lab) in seconds.
LAB_CHARON_EXTRA='	retransmit_tries = 2
	retransmit_timeout = 1.0
	retransmit_base = 1.4'
lab_init
lab_latch_host a 1
lab_latch_host b 2
lab_ca ca
lab_cert a ca a.example
lab_cert b ca b.example
for h in a b; do
	lab_charon_start "$h"
	lab_latchd_start "$h"
done

recv=$LAB_DIR/recv
slog=$LAB_DIR/server.log
lab_probe_bg b "$slog" serve 8080 --peer-ca "C=CH, O=latch-lab, CN=ca CA" --out "$recv"
lab_wait_count 100 1 '^listening' "$slog"

# How a latch on the restarted side ends, and how the server sees it. On
# libipsec latchd disarms a broken flow before its reset, so the client's
# reset stays on a. On the kernel nothing disarms a socket policy: when b's
# charon deletes the IKE_SA, a's latchd resets the client while the kernel
# still holds the old SA for a moment, so the reset crosses as ESP (the
# captures show nothing in clear), resets the server's socket and closes b's
# latch before b's latchd learns that charon went away.
ended=BROKEN reset=ECONNABORTED
if [ "${LAB_DATAPLANE:-libipsec}" = kernel ]; then
	ended='BROKEN\|CLOSED (owner)' reset='ECONNABORTED\|ECONNRESET'
fi

# no_flow_latches HOST: HOST's latchd has no latch (listeners aside) on a flow
# to or from port 8080 (the client's remote port, the server's local one).
no_flow_latches() {
	[ -z "$(lab_latch_states "$1" 8080)" ]
}

# run VARIANT HOST SIGNAL: a transfer from a to b, charon on HOST stopped with
# SIGNAL, a connect tried during the outage, charon started again.
run() {
	local v=$1 host=$2 sig=$3 marker client wire_a wire_b out t0 ms accepted
	marker="RESTART-$v-$RANDOM$RANDOM"
	wire_a=$(lab_pcap "$v-a")
	wire_b=$(lab_pcap "$v-b")
	accepted=$(grep -c '^accepted' "$slog")
	lab_bg "$host" "$LAB_DIR/watch-$v.log" "$(lab_latchctl_bin)" --socket "$(lab_latchd_sock "$host")" watch
	lab_probe_bg a "$LAB_DIR/client-$v.log" connect "$(lab_ip b)" 8080 --peer-id b.example \
		--marker "$marker" --count 200 --interval 50
	client=$LAB_PID
	tap_ok "$v: the latched transfer runs" lab_wait_count 100 5 "$marker" "$recv"
	lab_capture_start a "$wire_a"
	lab_capture_start b "$wire_b"

	t0=$(date +%s%N)
	lab_charon_stop "$host" "$sig"
	tap_ok "$v: the client's stream ends" lab_wait_gone "$client" 100
	ms=$((($(date +%s%N) - t0) / 1000000))
	out=$(cat "$LAB_DIR/client-$v.log")
	tap_diag "$v: client ended $ms ms after charon on $host got SIG$sig: $(grep -v '^latched' <<<"$out" | tr '\n' ' ')"
	tap_ok "$v: the client was alerted: its latch went BROKEN" grep -q '^event id=[0-9]* state=3' <<<"$out"
	tap_ok "$v: its next write failed (ECONNABORTED)" grep -q '^error ECONNABORTED' <<<"$out"
	tap_ok "$v: latchctl watch on $host printed the latch's end" \
		grep -q "$ended" "$LAB_DIR/watch-$v.log"
	tap_ok "$v: $host's latchd forgot the flow's latch" lab_wait 50 no_flow_latches "$host"
	tap_is "$(lab_latchctl "$host" status | awk '$1 == "charon_up" { print $2 }')" 0 \
		"$v: $host's latchd knows charon is gone"

	# during the outage: a latch_connect must fail, with nothing in clear
	out=$(lab_probe a connect "$(lab_ip b)" 8080 --peer-id b.example --marker "$marker-OUT" --sport 41000)
	tap_diag "$v: connect during the outage: $out"
	tap_ok "$v: a latch_connect during the outage fails" grep -q '^error' <<<"$out"

	lab_charon_start "$host"
	tap_ok "$v: $host's latchd reaches charon again" lab_wait 100 lab_latchd_ready "$host"
	# the peer's latch ends once its SA is gone (deleted, DPD, or replaced by
	# the restarted side's INITIAL_CONTACT): the server is free to accept again
	tap_ok "$v: the server's connection ended" lab_wait 150 no_flow_latches b
	out=$(lab_probe a connect "$(lab_ip b)" 8080 --peer-id b.example --marker "$marker-NEW" --count 3 --interval 20)
	tap_diag "$v: connect after the restart: $(head -c 120 <<<"$out")"
	tap_ok "$v: a new latched connection succeeds once charon is back" grep -q '^latched id=[0-9]* state=2' <<<"$out"
	tap_ok "$v: and carries its data" lab_wait_count 100 3 "$marker-NEW" "$recv"
	tap_cmp "$(grep -c '^accepted' "$slog")" -gt "$accepted" "$v: b accepted it as a latched connection"
	lab_capture_stop "$wire_a"
	lab_capture_stop "$wire_b"
	for h in a b; do
		tap_is "$(lab_pcap_clear "$(lab_pcap "$v-$h")" "$marker")" 0 "$v: no marker in clear on $h's link"
		tap_is "$(lab_pcap_count "$(lab_pcap "$v-$h")" 'tcp port 8080')" 0 \
			"$v: no segment of a latched flow in clear on $h's link"
	done
	tap_cmp "$(lab_pcap_esp "$wire_a")" -gt 0 "$v: the new connection crossed as ESP"
}

run term b TERM
tap_ok "term: the server saw its connection reset" grep -q "^recv-error \($reset\)" "$slog"
run kill a KILL
tap_ok "b's server is still serving" lab_listening b 8080
tap_done
