#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# latchd on the kernel data plane (run inside the kernel lab): what only the
# kernel's XFRM does. latchd picks the kernel data plane by itself (auto: an
# ESP state can be added); a latched connection leaves no per-flow entry in
# the global policy database (its socket carries its own policy); when its
# carrying child SA is deleted under it, the owner (who chose to wait) goes
# on writing and nothing of the flow crosses in clear: the socket's policy
# names the child's reqid, and without that SA the kernel drops and asks for
# one rather than fall back to clear text or to another SA.
#
#   a 192.0.2.1 a.example ── link ── b 192.0.2.2 b.example; charon + latchd each
set -u
export LAB_DATAPLANE=kernel
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

child_gone() {
	! lab_swanctl a --list-sas --raw 2>/dev/null | grep -q "uniqueid=$1 reqid=[0-9]* state=INSTALLED"
}

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
tap_ok "latchd chose the kernel data plane by itself (data_plane = auto)" \
	grep -q 'data plane: kernel' "$(lab_dir a)/latchd.log.tmp"
# its table holds only the listeners' drop and the hold: nothing routes, marks or sets flows
chains=$(lab_exec a nft list table inet latch 2>/dev/null | grep -o '^	chain [a-z]*' | awk '{print $2}' | sort | tr '\n' ' ')
tap_is "$chains" "hold pre " "its nftables table has only the pre and hold chains (no routing mark)"
tap_not "and no blackhole rule for a routing mark" eval "lab_exec a ip rule | grep -q blackhole"

recv=$LAB_DIR/recv
lab_probe_bg b "$LAB_DIR/server.log" serve 8080 --out "$recv" --peer-id a.example --wait
lab_wait 100 grep -q '^listening' "$LAB_DIR/server.log"

m="XFRM-$RANDOM$RANDOM"
pcap=$(lab_pcap wire)
lab_capture_start a "$pcap"
# 80 lines, one every 250 ms: the child is deleted while they flow
lab_probe_bg a "$LAB_DIR/client.log" connect "$(lab_ip b)" 8080 --peer-id b.example \
	--marker "$m" --count 80 --interval 250 --wait --hold 30000
client=$LAB_PID
lab_wait_count 200 3 "$m" "$recv"
out=$(grep -m1 '^latched' "$LAB_DIR/client.log")
tap_diag "client: $(head -n 2 "$LAB_DIR/client.log" | tr '\n' '|')"
tap_ok "a's latch_connect succeeds with b.example" grep -q '^latched id=[0-9]* state=2 .*peer_id="b.example"' <<<"$out"
child=$(grep -o ' child=[0-9]*' <<<"$out" | cut -d= -f2)
sport=$(lab_latchctl a --json list | python3 -c '
import json, sys
print([l["flow"]["local_port"] for l in json.load(sys.stdin)["latches"] if l.get("flow")][0])' 2>/dev/null)
tap_diag "child #$child, client port ${sport:-?}"
# each policy as "KIND SELECTOR": KIND dir (global SPD) or socket (a socket's own)
polraw=$(lab_exec a ip xfrm policy)
pol=$(awk '/^src/ { sel = $0 } /^\t(dir|socket) / { print $1, sel }' <<<"$polraw")
tap_is "$(grep -c "^dir .*port ${sport:-x} " <<<"$pol")" 0 "no per-flow entry in a's global policy database"
# the socket's policies select on family and protocol: they hold every flow of the socket
sock_out=$(lab_sock_policies a out)
tap_is "$(($(lab_sock_policies a in | grep -c .) + $(grep -c . <<<"$sock_out")))" 2 \
	"the flow's socket carries its own policies, in and out, for every TCP flow of it"
tap_cmp "$(grep -c "proto esp reqid [1-9][0-9]* mode tunnel" <<<"$sock_out")" -eq 1 \
	"the outbound one names the carrying child's reqid"
tap_cmp "$(grep -c 'dir out priority' <<<"$polraw")" -ge 1 \
	"the carrying child's own policies are there"

reqid=$(grep -o "reqid [0-9]*" <<<"$sock_out" | head -n 1 | cut -d" " -f2)
before=$(grep -c "$m" "$recv")
lab_swanctl a --terminate --child-id "$child" --force >/dev/null 2>&1
tap_ok "the carrying child #$child is deleted" lab_wait 100 child_gone "$child"
tap_ok "the latch goes BROKEN (waiting), the owner is told" \
	lab_wait_count 100 1 '^event id=[0-9]* state=3' "$LAB_DIR/client.log"
sleep 3 & wait $!
tap_ok "the owner was not reset: it goes on writing" kill -0 "$client"
tap_ok "the kernel asked charon for the SA the socket's policy names (ACQUIRE)" \
	grep -q "acquire.*reqid {$reqid}" "$(lab_dir a)/charon.log"
lab_capture_stop "$pcap"
after=$(grep -c "$m" "$recv")
tap_diag "b received $before lines before the deletion, $after in all"
tap_cmp "$(lab_pcap_count "$pcap" esp)" -ge 3 "the flow crossed as ESP while its SA lived"
tap_is "$(lab_pcap_clear "$pcap" "$m")" 0 "the marker never crossed in clear"
tap_is "$(lab_pcap_count "$pcap" 'tcp port 8080')" 0 "no segment of the flow in clear, before or after"
tap_diag "client: $(tail -n 3 "$LAB_DIR/client.log" | tr '\n' '|')"
grep -i acquire "$(lab_dir a)/charon.log" | tail -n 3 | sed 's/^/# charon a: /'
lab_latchd_log a | tail -n 8 | sed 's/^/# a: /'
lab_stop "$client"
tap_done
