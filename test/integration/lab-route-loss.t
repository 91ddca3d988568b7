#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The fail-closed primitive everything else stands on (docs/architecture.md, "Fail-closed layers on libipsec").
# kernel-libipsec routes every flow to a peer into ipsec0 through one route,
# owned by whichever child installed it first. When that child goes, the route
# goes, and the flows of the other children, still INSTALLED, leave in clear.
# Part 1 reproduces that leak. Part 2 shows that an nftables egress rule for
# latched flows (a latched 5-tuple leaving by any interface but ipsec0 is
# dropped) turns the same event into a clean drop: nothing in clear.
#
#   a 192.0.2.1 ── link ── b 192.0.2.2
#   a: children flows-40000, -40001, -40002: 192.0.2.1/32[tcp/P] === 192.0.2.2/32[tcp/8080]
#   b: one responder child 192.0.2.2/32[tcp] === 192.0.2.1/32[tcp], narrowed per flow
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"
flow=$LAB_LIB_DIR/flow.py

lab_init
lab_host a 1
lab_host b 2
lab_ca ca
lab_cert a ca a.example
lab_cert b ca b.example
lab_conn_narrow a b b.example flows tcp 40000:8080 40001:8080 40002:8080
lab_conn_narrow_responder b a a.example flows tcp
lab_charon_start a
lab_charon_start b
lab_load a >/dev/null
lab_load b >/dev/null
for p in 40000 40001 40002; do
	lab_initiate a flows-$p || tap_diag "initiate flows-$p failed"
done
tap_ok "three narrow children are INSTALLED" \
	eval 'for p in 40000 40001 40002; do lab_child_installed a flows-$p || exit 1; done'
tap_is "$(lab_swanctl a --list-sas --raw | grep -o 'uniqueid=[0-9]* version' | sort -u | wc -l)" 1 \
	"they share one IKE_SA"

route_to_b() {
	lab_exec a ip route show table 220 | grep -q "^$(lab_ip b) dev ipsec0"
}
recv=$LAB_DIR/recv
lab_bg b "$LAB_DIR/sink.log" python3 "$flow" sink 8080 "$recv"
lab_wait 50 lab_listening b 8080

# send SPORT MARKER: a new connection from SPORT that writes 5 marker lines.
send() {
	lab_exec a python3 "$flow" send "$(lab_ip b)" 8080 "$2" --sport "$1" --count 5 \
		--interval 0.02 --connect-timeout 2
}

# Part 1: the leak, as libipsec has it. (A connection that is already running
# keeps its cached route into ipsec0; new connections look the route up again.)
tap_ok "the route to b in table 220 leads into ipsec0" route_to_b
m0="ESP-$RANDOM$RANDOM"
m1="LEAK-$RANDOM$RANDOM"
pcap1=$(lab_pcap leak)
lab_capture_start a "$pcap1"
tap_is "$(send 40000 "$m0")" "sent 5" "flows-40000 carries a connection"
lab_swanctl a --terminate --child flows-40000 >/dev/null
tap_not "terminating flows-40000 took the route with it" route_to_b
tap_ok "flows-40001 is still INSTALLED" lab_child_installed a flows-40001
tap_is "$(send 40001 "$m1")" "sent 5" "a new connection of flows-40001 still gets through"
lab_capture_stop "$pcap1"
tap_cmp "$(lab_pcap_esp "$pcap1")" -gt 0 "flows-40000's connection crossed as ESP"
tap_is "$(lab_pcap_clear "$pcap1" "$m0")" 0 "and its marker never in clear"
tap_cmp "$(lab_pcap_clear "$pcap1" "$m1")" -gt 0 "flows-40001's marker left in clear: leak reproduced"
tap_cmp "$(lab_pcap_count "$pcap1" 'tcp src port 40001')" -gt 0 "cleartext TCP segments of 40001 on the wire"

# Part 2: the same event with the egress rule for latched flows.
lab_initiate a flows-40000
tap_ok "re-initiating flows-40000 restores the route" route_to_b
lab_exec a nft -f - <<NFT
table inet latch-lab {
	set latched4 {
		type ipv4_addr . inet_proto . inet_service . ipv4_addr . inet_service
	}
	chain post {
		type filter hook postrouting priority filter; policy accept;
		meta l4proto { tcp, udp } ip daddr . meta l4proto . th dport . ip saddr . th sport @latched4 oifname != "ipsec0" counter drop
	}
}
add element inet latch-lab latched4 { $(lab_ip b) . tcp . 8080 . $(lab_ip a) . 40002 }
NFT
m2="GUARD-$RANDOM$RANDOM"
pcap2=$(lab_pcap guarded)
lab_capture_start a "$pcap2"
lab_swanctl a --terminate --child flows-40000 >/dev/null
tap_not "the route is gone again" route_to_b
tap_is "$(send 40002 "$m2")" "error ETIMEDOUT after 0" "the latched connection of 40002 cannot leave"
lab_capture_stop "$pcap2"
tap_is "$(lab_pcap_clear "$pcap2" "$m2")" 0 "its marker never appears in clear"
tap_is "$(lab_pcap_count "$pcap2" 'tcp port 40002')" 0 "no cleartext segment of 40002 on the wire"
drops=$(lab_exec a nft list chain inet latch-lab post | grep -o 'packets [0-9]*' | cut -d' ' -f2)
tap_cmp "${drops:-0}" -gt 0 "the egress rule dropped the flow's SYNs ($drops)"
tap_is "$(grep -c "$m2" "$recv")" 0 "b got nothing of it"

tap_done
