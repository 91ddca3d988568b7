#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# latchd scenario 4 (issue 5): takeover. a's client has a latched connection
# to b (b.example). A third host c, with a valid certificate from the same CA
# (c.example), takes over b's address and brings up IPsec with a. The latch
# goes BROKEN (conflicting SA), the client is alerted and sees ECONNABORTED,
# and not one byte the client writes afterwards reaches c, in clear or under
# c's SA (c's ipsec0 shows what c decrypted).
#
#   a 192.0.2.1 a.example: latchd, a client to b, and a listener admitting the CA's peers
#   b 192.0.2.2 b.example: latchd, the server
#   c 192.0.2.3 c.example: plain charon; takes 192.0.2.2 and initiates to a
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

lab_init
lab_latch_host a 1
lab_latch_host b 2
lab_host c 3
lab_ca ca
lab_cert a ca a.example
lab_cert b ca b.example
lab_cert c ca c.example
for h in a b; do
	lab_charon_start "$h"
	lab_latchd_start "$h"
done
lab_charon_start c

# a also serves, admitting any peer of the CA: so c can bring up an SA with a at all.
lab_latch_server a 9000 "$LAB_DIR/a-server.log"
lab_latch_server b 8080 "$LAB_DIR/b-server.log" --out "$LAB_DIR/recv-b"
lab_bg a "$LAB_DIR/watch.log" "$(lab_latchctl_bin)" --socket "$(lab_latchd_sock a)" watch
watch=$LAB_PID

marker="TAKEOVER-$RANDOM$RANDOM"
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
tap_ok "c takes b's address and establishes IPsec with a as c.example" lab_takeover c b a
lab_wait_gone "$client" 150
lab_capture_stop "$wire"
lab_capture_stop "$(lab_pcap c-inner)"
kill "$watch"

out=$(cat "$LAB_DIR/client.log")
tap_diag "client: $(grep -v '^latched' <<<"$out" | tr '\n' ' ')"
tap_ok "the client was alerted: its latch went BROKEN (conflicting SA)" \
	grep -q "state=3 reason=1" <<<"$out"
tap_ok "its next write failed with ECONNABORTED" grep -q '^error ECONNABORTED' <<<"$out"
tap_ok "latchctl watch on a printed the BROKEN" grep -q 'BROKEN (sa-conflict)' "$LAB_DIR/watch.log"
tap_is "$(lab_pcap_clear "$(lab_pcap c-inner)" "$marker")" 0 \
	"c decrypted nothing of the client's stream"
tap_is "$(lab_pcap_count "$(lab_pcap c-inner)" 'tcp port 8080')" 0 \
	"not one TCP segment of the latched flow reached c under its SA"
tap_is "$(lab_pcap_clear "$wire" "$marker")" 0 "no marker in clear on a's link"
tap_is "$(lab_pcap_count "$wire" 'tcp port 8080')" 0 "no segment of the flow in clear on a's link"
tap_is "$(lab_latchctl a --json list | grep -c '"remote_port":8080')" 0 \
	"the broken latch is gone from a's database"
tap_done
