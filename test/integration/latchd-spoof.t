#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# latchd scenario 9 (issue 5): cleartext TCP segments spoofed into a latched
# 5-tuple from another host are never delivered to the application.
#
# a (the client's host) writes IPv4+TCP frames straight onto its link with an
# AF_PACKET socket (test/lab/spoof.py): past its own routing, IPsec and
# firewall, as an attacker on the path would. The sequence numbers are the
# flow's own, read from a capture (for the latched flow, of what b decrypted:
# lab_capture_inner), so that without enforcement b would accept them: the
# data in order, the RST exactly at rcv_nxt.
#   control: the same injections into two unlatched connections to a plain
#     sink on b: the data IS delivered, the RST DOES kill b's socket.
#   latched: both are dropped on b (libipsec: latchd's in_flow counter rises
#     by 2; kernel ESP: the socket's inbound policy asks for ESP, and the
#     kernel's XfrmInTmplMismatch rises by 2), the server records none of it,
#     the connection lives on and carries every line.
#
#   a 192.0.2.1 a.example: latchd, clients, spoofer    b 192.0.2.2 b.example: latchd, servers
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

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
flow=$LAB_LIB_DIR/flow.py
spoof=$LAB_LIB_DIR/spoof.py
ip_a=$(lab_ip a)
ip_b=$(lab_ip b)
mac_b=$(lab_exec b cat /sys/class/net/eth0/address)

recv=$LAB_DIR/recv
plain=$LAB_DIR/plain
lab_probe_bg b "$LAB_DIR/server.log" serve 8080 --peer-ca "C=CH, O=latch-lab, CN=ca CA" --out "$recv"
lab_bg b "$LAB_DIR/sink.log" python3 "$flow" sink 9090 "$plain"
lab_wait_count 100 1 '^listening' "$LAB_DIR/server.log"
lab_wait 100 lab_listening b 9090

# next_seq PCAP SPORT: "SEQ ACK" of the next segment a would send from SPORT
# (the end of its last data segment, and what it acknowledged).
next_seq() {
	lab_pcap_show "$1" "-S src $ip_a and src port $2 and tcp[tcpflags] & tcp-push != 0" |
		sed -n 's/.* seq [0-9]*:\([0-9]*\), ack \([0-9]*\),.*/\1 \2/p' | tail -n 1
}
has_data() {
	[ -n "$(next_seq "$1" "$2")" ]
}
# inject SPORT DPORT SEQ ACK FLAGS [PAYLOAD]: a spoofed segment from a to b.
inject() {
	lab_exec a python3 "$spoof" eth0 "$mac_b" "$ip_a" "$1" "$ip_b" "$2" "$3" "$4" "$5" "${6:-}" >/dev/null
}
# clear_drops: b's drops of clear text into latched flows; dropper: what counts them.
clear_drops() {
	lab_latch_drops b in_flow XfrmInTmplMismatch
}
dropper="latchd's in_flow counter"
[ "${LAB_DATAPLANE:-libipsec}" = kernel ] && dropper="the kernel's XfrmInTmplMismatch"
# b_conn PORT SPORT: b has an established TCP connection on PORT from a's SPORT.
b_conn() {
	lab_exec b ss -Htn state established "( sport = :$1 and dport = :$2 )" | grep -q .
}
b_conn_gone() {
	! b_conn "$@"
}
# b_saw N: b's link shows at least N segments from a:42003 to b:8080 (spoofed ones are in clear).
b_saw() {
	[ "$(lab_pcap_count "$bwire" "src port 42003 and dst port 8080")" -ge "$1" ]
}

bwire=$(lab_pcap b-wire)
lab_capture_start b "$bwire" eth0 "tcp"

# ---- control: unlatched connections, in clear (libipsec routes only latched
# flows into ipsec0; on kernel ESP no SA covers them yet)
cwire=$(lab_pcap a-clear)
lab_capture_start a "$cwire" eth0 "tcp port 9090"
# Seconds between two lines of each connection: its injections must land
# between them (a few python processes: seconds on a busy machine, many
# under emulation).
gap=6
[ "${LAB_DATAPLANE:-libipsec}" = kernel ] && gap=20
lab_bg a "$LAB_DIR/ctl-data.log" python3 "$flow" send "$ip_b" 9090 CTLDATA --sport 42001 --count 3 --interval $gap
lab_bg a "$LAB_DIR/ctl-rst.log" python3 "$flow" send "$ip_b" 9090 CTLRST --sport 42002 --count 3 --interval $gap
lab_wait_count 100 1 CTLDATA-0 "$plain"
lab_wait_count 100 1 CTLRST-0 "$plain"
lab_wait 50 has_data "$cwire" 42001
lab_wait 50 has_data "$cwire" 42002
read -r seq ack <<<"$(next_seq "$cwire" 42001)"
inject 42001 9090 "$seq" "$ack" PA "SPOOFED-CLEAR-DATA"$'\n'
read -r seq ack <<<"$(next_seq "$cwire" 42002)"
tap_ok "control: b's unlatched connection from a:42002 is established" b_conn 9090 42002
inject 42002 9090 "$seq" "$ack" R
lines=$(grep -c 'CTLDATA-\|CTLRST-' "$plain")
tap_ok "control: spoofed data in an unlatched connection IS delivered to the application" \
	lab_wait_count 30 1 SPOOFED-CLEAR-DATA "$plain"
tap_ok "control: a spoofed RST DOES kill b's unlatched connection" lab_wait 30 b_conn_gone 9090 42002
tap_is "$lines" 2 "control: the injections carried current sequence numbers (no later line had arrived)"

# ---- latched
lwire=$(lab_pcap b-inner)
lab_capture_inner b "$lwire" "tcp port 8080"
awire=$(lab_pcap a-wire)
lab_capture_start a "$awire"
marker="LATCHED-$RANDOM$RANDOM"
lab_probe_bg a "$LAB_DIR/client.log" connect "$ip_b" 8080 --peer-id b.example --sport 42003 \
	--marker "$marker" --count 3 --interval $((gap * 1000))
client=$LAB_PID
lab_wait_count 100 1 "$marker" "$recv"
tap_ok "latched: b's latch on the connection is ESTABLISHED" \
	grep -q '"state":"ESTABLISHED".*"remote_port":42003' <<<"$(lab_latchctl b --json list)"
before=$(clear_drops)
lab_wait 50 has_data "$lwire" 42003
read -r seq ack <<<"$(next_seq "$lwire" 42003)"
inject 42003 8080 "$seq" "$ack" PA "SPOOFED-LATCHED-DATA"$'\n'
inject 42003 8080 "$seq" "$ack" R
lines=$(grep -c "$marker" "$recv")
tap_diag "latched flow a:42003 -> b:8080: next seq $seq, ack $ack"
tap_ok "latched: both spoofed segments reached b's link in clear" \
	lab_wait 30 b_saw 2
tap_is "$lines" 1 "latched: the injections carried current sequence numbers (no later line had arrived)"
tap_ok "latched: b's connection survives the spoofed RST" b_conn 8080 42003
lab_wait_gone "$client" $((gap * 40))
after=$(clear_drops)
lab_capture_stop "$lwire"
lab_capture_stop "$awire"
lab_capture_stop "$cwire"
lab_capture_stop "$bwire"
out=$(cat "$LAB_DIR/client.log")
tap_diag "client: $(grep -v '^latched' <<<"$out" | tr '\n' ' '); $dropper $before -> $after"
tap_is "$((after - before))" 2 "latched: b dropped exactly the 2 spoofed segments ($dropper)"
tap_is "$(grep -c SPOOFED "$recv")" 0 "latched: the server never received the spoofed data"
tap_is "$(grep -c '^recv-error' "$LAB_DIR/server.log")" 0 "latched: the server's connection was not reset"
tap_ok "latched: the client wrote its 3 lines without an error" grep -qx 'sent 3' <<<"$out"
tap_is "$(grep -c '^event' <<<"$out")" 0 "latched: the client's latch had no event"
tap_is "$(grep -c "$marker" "$recv")" 3 "latched: the server received all 3 lines after the injections"
tap_is "$(lab_pcap_clear "$awire" "$marker")" 0 "latched: the flow's own data never in clear"
tap_is "$(lab_pcap_count "$awire" 'tcp port 8080')" 2 \
	"latched: the only segments of the flow in clear on a's link are the 2 spoofed ones"
tap_done
