#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The native API in an event loop (examples/evloop.c) on the lab: a on 192.0.2.1
# (a.example) starts three latched TCP connections to b's server (b.example) at
# once with latch_connect_start(), one poll(2) loop finishing them with
# latch_op_finish(); b's server accepts them the same way (latch_accept_start()).
# Every connection on both ends names the peer by certificate with the same
# channel binding, each echo comes back, ESP is on the wire and no message ever
# in clear. Naming the wrong peer fails every connection of the loop.
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

ex=$LAB_BUILD/examples
n=3
lab_init
lab_latch_pair

lab_bg b "$LAB_DIR/server.log" env LATCH_SOCKET="$(lab_latchd_sock b)" "$ex/evloop" serve 8080 $n
lab_wait 100 grep -q '^listening' "$LAB_DIR/server.log"
tap_ok "the event-loop server latches its listener" grep -q '^listening' "$LAB_DIR/server.log"

marker="EVLOOP-$RANDOM$RANDOM"
pcap=$(lab_pcap evloop)
lab_capture_start a "$pcap"
out=$(lab_as_latch a timeout 60 "$ex/evloop" connect "$(lab_ip b)" 8080 b.example $n "$marker" 2>&1)
rc=$?
lab_wait 50 test "$(grep -c '^peer\[' "$LAB_DIR/server.log")" -ge $n
lab_capture_stop "$pcap"
srv=$(cat "$LAB_DIR/server.log")
tap_diag "client: $out"
tap_diag "server: $srv"
tap_is "$rc" 0 "the event-loop client finished every connection"
tap_is "$(grep -c '^peer\[[0-9]\] id=b.example subject=C=CH, O=latch-lab, CN=b.example cb=' <<<"$out")" \
	$n "each of the $n connections learns b.example by certificate"
tap_is "$(grep -c '^peer\[[0-9]\] id=a.example subject=C=CH, O=latch-lab, CN=a.example cb=' <<<"$srv")" \
	$n "the server's $n accepted connections name a.example by certificate"
for ((i = 0; i < n; i++)); do
	tap_ok "connection $i's echo came back" grep -qx "answer\[$i\] $marker-$i" <<<"$out"
done
cbs=$( (grep -o ' cb=[0-9a-f]*' <<<"$out"; grep -o ' cb=[0-9a-f]*' <<<"$srv") | sort -u)
tap_is "$(wc -l <<<"$cbs")" 1 "one channel binding on all $((2 * n)) ends (one IKE_SA)"
tap_cmp "${#cbs}" -eq 68 "and it is 32 bytes"
tap_cmp "$(lab_pcap_esp "$pcap")" -ge $((2 * n)) "the connections crossed as ESP"
tap_is "$(lab_pcap_clear "$pcap" "$marker")" 0 "no message appears in clear"
tap_is "$(lab_pcap_count "$pcap" 'tcp port 8080')" 0 "no TCP segment of them in clear"

out=$(lab_as_latch a timeout 60 "$ex/evloop" connect "$(lab_ip b)" 8080 c.example 2 x 2>&1)
rc=$?
tap_diag "wrong peer: $out"
tap_cmp "$rc" -ne 0 "naming the wrong peer fails the loop"
tap_is "$(grep -c '^\[[01]\] latch_connect: Permission denied: ' <<<"$out")" 2 \
	"both of its connections are refused by latchd (EACCES), in its words"
tap_is "$(grep -c '^peer\[' <<<"$out")" 0 "and none is handed a peer"
tap_done
