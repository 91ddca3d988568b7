#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# latchd scenario 7 (issue 5): latchd restarted, cleanly (TERM) and with
# kill -9: surviving latches are re-adopted (same id, ESTABLISHED, bound to
# their SA again), the stream goes on without loss, nothing crosses in clear
# meanwhile (the kernel keeps enforcing while latchd is away), and a latch
# whose socket went away meanwhile is not adopted.
#
#   a 192.0.2.1 a.example (client)   b 192.0.2.2 b.example (server)
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

lab_init
lab_latch_pair
recv=$LAB_DIR/recv
lab_latch_server b 8080 "$LAB_DIR/server.log" --out "$recv"

marker="RESTART-$RANDOM$RANDOM"
wire=$(lab_pcap wire)
lab_capture_start a "$wire"
# a stream of 60 lines at least, on until both restarts are over (--until)
lab_probe_bg a "$LAB_DIR/client.log" connect "$(lab_ip b)" 8080 --peer-id b.example \
	--marker "$marker" --count 60 --interval 100 --until "$LAB_DIR/restarted" --sport 45999
client=$LAB_PID
lab_wait_count 100 3 "$marker" "$recv"
id=$(grep -o '^latched id=[0-9]*' "$LAB_DIR/client.log" | cut -d= -f2)
# a short one that ends while latchd is away
lab_probe_bg a "$LAB_DIR/short.log" connect "$(lab_ip b)" 8080 --peer-id b.example \
	--marker SHORT --count 1 --hold 1500 --sport 46000
short=$LAB_PID
lab_wait_count 100 1 '^latched' "$LAB_DIR/short.log"

# ---- a's latchd, cleanly
lab_latchd_stop a TERM
tap_ok "the kernel still holds the latched flow while latchd is away" lab_flow_held a 45999
lab_wait_gone "$short" 50
n_away=$(grep -c "$marker" "$recv")
lab_wait_count 100 $((n_away + 3)) "$marker" "$recv"
tap_cmp "$(grep -c "$marker" "$recv")" -gt "$n_away" "the stream goes on while latchd is away"
lab_latchd_start a
show=$(lab_latchctl a --json show "$id")
tap_ok "after the restart latch $id is ESTABLISHED again" grep -q "\"id\":$id,\"state\":\"ESTABLISHED\"" <<<"$show"
tap_ok "bound to its SA and its peer b.example" grep -q '"remote_identity":{"id":"b.example".*"sa":{"child_id":[1-9]' <<<"$show"
tap_is "$(lab_latchctl a --json list | grep -c '"local_port":46000')" 0 \
	"the latch whose socket ended meanwhile was not adopted"
tap_not "and its flow is no longer held by the kernel" lab_flow_held a 46000

# ---- b's latchd, with kill -9
lab_latchd_stop b KILL
lab_latchd_start b
tap_ok "b's listener is re-adopted" eval "lab_latchctl b list | grep -q LISTENER"
tap_ok "b's accepted latch too" eval "lab_latchctl b list | grep -q 'ESTABLISHED.*a.example'"
out=$(lab_probe a connect "$(lab_ip b)" 8080 --peer-id b.example --marker NEW --sport 46001)
tap_ok "a new latched connection to b's listener works" grep -q '^latched' <<<"$out"

touch "$LAB_DIR/restarted"
lab_wait_gone "$client" 150
lab_capture_stop "$wire"
sent=$(sed -n 's/^sent //p' "$LAB_DIR/client.log")
tap_cmp "${sent:-0}" -ge 60 "the client wrote all its lines (${sent:-none})"
tap_is "$(grep -c "$marker" "$recv")" "$sent" "b received all of them: no loss across both restarts"
tap_is "$(lab_pcap_clear "$wire" "$marker")" 0 "the marker never crossed in clear"
tap_is "$(lab_pcap_count "$wire" 'tcp port 8080')" 0 "no segment of the flows in clear"
tap_ok "no BROKEN event reached the client" eval "! grep -q 'state=3' '$LAB_DIR/client.log'"
tap_done
