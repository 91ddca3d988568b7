#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# BTNS scenario 4 (issue 7): takeover of an authenticated latched flow by a
# BTNS impostor. a's client has a latched connection to b (b.example). c, a
# stock strongSwan host with an anchor-issued certificate whose BTNS name
# spells b.example ("O=BTNS, CN=b.example"), takes b's address and brings up
# BTNS IPsec with a (a accepts BTNS peers: it serves a BTNS listener). The
# latch goes BROKEN (conflicting SA), the client is alerted and reset, and
# not one byte it writes afterwards reaches c, in clear or under c's SA.
#
#   a 192.0.2.1 a.example: latchd, a client to b, a BTNS listener on 9000
#   b 192.0.2.2 b.example: latchd, the server
#   c 192.0.2.3 plain charon: takes 192.0.2.2 and initiates BTNS to a
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"
source "$(dirname "$0")/../lab/btns.sh"

lab_init
lab_latch_host a 1
lab_latch_host b 2
lab_host c 3
lab_ca ca
lab_cert a ca a.example
lab_cert b ca b.example
lab_btns_cert c "O=BTNS, CN=b.example"
for h in a b; do
	lab_charon_start "$h"
	lab_latchd_start "$h"
done
lab_charon_start c

ca_dn="C=CH, O=latch-lab, CN=ca CA"
lab_probe_bg a "$LAB_DIR/a-server.log" serve 9000 --btns
lab_probe_bg b "$LAB_DIR/b-server.log" serve 8080 --peer-ca "$ca_dn" --out "$LAB_DIR/recv-b"
lab_wait_count 100 1 '^listening' "$LAB_DIR/a-server.log"
lab_wait_count 100 1 '^listening' "$LAB_DIR/b-server.log"

marker="BTNSTAKE-$RANDOM$RANDOM"
# a minute of writing at most: the takeover must come while it writes, however
# slowly the machine (or the emulated kernel) brings it up; the reset ends it
lab_probe_bg a "$LAB_DIR/client.log" connect "$(lab_ip b)" 8080 --peer-id b.example \
	--marker "$marker" --count 600 --interval 100
client=$LAB_PID
tap_ok "the client's latch to b.example is up and carries data" \
	lab_wait_count 100 5 "$marker" "$LAB_DIR/recv-b"

wire=$(lab_pcap wire-a)
lab_capture_start a "$wire"
lab_capture_inner c "$(lab_pcap c-inner)"
tap_ok "c takes b's address and establishes BTNS IPsec with a" \
	lab_btns_takeover c b a "O=BTNS, CN=b.example"
lab_wait_gone "$client" 150
lab_capture_stop "$wire"
lab_capture_stop "$(lab_pcap c-inner)"

out=$(cat "$LAB_DIR/client.log")
tap_diag "client: $(grep -v '^latched' <<<"$out" | tr '\n' ' ')"
tap_ok "a's charon took c as BTNS (the BTNS responder)" \
	grep -q "IKE_SA latch-rb\[[0-9]*\] established.*O=BTNS, CN=b.example" "$(lab_dir a)/charon.log"
tap_ok "the client was alerted: its latch went BROKEN (conflicting SA)" \
	grep -q "state=3 reason=1" <<<"$out"
tap_ok "its next write failed with ECONNABORTED" grep -q '^error ECONNABORTED' <<<"$out"
tap_ok "latchd says why: the BTNS identity covers the flow latched to b.example" \
	grep -q "an SA with 'O=BTNS, CN=b.example' covers the flow latched to 'b.example'" \
	"$(lab_dir a)/latchd.log.tmp"
tap_is "$(lab_pcap_clear "$(lab_pcap c-inner)" "$marker")" 0 \
	"c decrypted nothing of the client's stream"
tap_is "$(lab_pcap_count "$(lab_pcap c-inner)" 'tcp port 8080')" 0 \
	"not one TCP segment of the latched flow reached c under its SA"
tap_is "$(lab_pcap_clear "$wire" "$marker")" 0 "no marker in clear on a's link"
tap_is "$(lab_pcap_count "$wire" 'tcp port 8080')" 0 "no segment of the flow in clear on a's link"
tap_done
