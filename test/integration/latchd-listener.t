#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Listener latches (RFC 5660 R35):
#  - a listener latch ends with its socket: after the server exits it is gone
#    and a new server latches the same port (R35);
#  - a latched dual-stack wildcard listener ([::], IPV6_V6ONLY off) takes
#    nothing in clear, over IPv4 or IPv6: a plain connect from a crosses the
#    wire in clear and never reaches the server (on the kernel data plane the
#    socket's inbound policy covers one family; the table's listener rules
#    cover both);
#  - a connection that reuses a closed one's 5-tuple at once (the client
#    reset the first: no TIME_WAIT) connects, also after the SA that carried
#    the first went away: behind a latched listener a closed latch's lingering
#    flow is removed, not disarmed, when its SA goes (a disarmed one dropped the
#    new connection's SYN-ACKs until the linger ended: 68 s connects).
#
#   a 192.0.2.1 a.example   b 192.0.2.2 b.example (servers)
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"
source "$(dirname "$0")/../lab/btns.sh" # lab_btns_no_sas

lab_init
lab_latch_pair

# ---- R35
lab_latch_server b 9200 "$LAB_DIR/first.log"
first=$LAB_PID
tap_ok "latchctl lists the listener" eval "lab_latchctl b list | grep -q 'LISTENER .*9200'"
lab_stop "$first"
tap_ok "once its socket is gone the listener latch is gone (R35)" \
	lab_wait 50 eval "! lab_latchctl b list | grep -q ':9200 '"
lab_latch_server b 9200 "$LAB_DIR/third.log"
tap_ok "a new server latches the port again" grep -q '^listening port=9200' "$LAB_DIR/third.log"

# ---- clear text to a latched dual-stack listener
recv=$LAB_DIR/clear.recv
lab_latch_server b 9300 "$LAB_DIR/clear.log" --out "$recv"
wire=$(lab_pcap clear)
lab_capture_start b "$wire"
for v in 4 6; do
	out=$(lab_exec a python3 "$LAB_LIB_DIR/flow.py" send "$(lab_ip b $v)" 9300 "CLEAR$v-$RANDOM" \
		--connect-timeout 3 2>&1)
	tap_ok "IPv$v: a plain connect to b's latched dual-stack listener fails (${out//$'\n'/; })" \
		grep -q '^error' <<<"$out"
done
lab_capture_stop "$wire"
tap_cmp "$(lab_pcap_count "$wire" "ip and tcp dst port 9300")" -ge 1 \
	"IPv4: a's SYNs crossed the wire in clear (no SA protected them)"
tap_cmp "$(lab_pcap_count "$wire" "ip6 and tcp dst port 9300")" -ge 1 \
	"IPv6: a's SYNs crossed the wire in clear (no SA protected them)"
tap_is "$(lab_pcap_count "$wire" "tcp src port 9300")" 0 "b answered none of them"
tap_is "$(grep -c CLEAR "$recv" 2>/dev/null)" 0 "the server received nothing"

# ---- a reused 5-tuple after the SA of the closed connection went
# Each client writes its marker until the server has it, then resets: a reset
# that overtook the server's latch_accept would end the connection before
# latchd could judge it (ENOTCONN), its marker unread.
recv=$LAB_DIR/reuse.recv
lab_latch_server b 9400 "$LAB_DIR/reuse.log" --out "$recv"
# reuse_connect N [TIMEOUT]: connection N from port 45000 (log reuseN.client),
# reset once b has its marker (lab_bg: not inside $(…))
reuse_connect() {
	local log=$LAB_DIR/reuse$1.client pid
	lab_bg a "$log" timeout "${2:-60}" env LATCH_SOCKET="$(lab_latchd_sock a)" "$(lab_probe_bin)" \
		connect "$(lab_ip b)" 9400 --peer-id b.example --sport 45000 --marker "REUSE$1" \
		--interval 100 --until "$LAB_DIR/reuse$1.got" --reset
	pid=$LAB_PID
	lab_wait 300 grep -q "REUSE$1" "$recv"
	touch "$LAB_DIR/reuse$1.got"
	lab_wait_gone "$pid" 100
}
reuse_connect 1
tap_ok "the first connection from port 45000 latches" grep -q '^latched' "$LAB_DIR/reuse1.client"
tap_ok "the server received its marker" grep -q REUSE1 "$recv"
lab_btns_no_sas a
tap_ok "its SA is gone" eval "! lab_swanctl a --list-sas | grep -q ESTABLISHED"
# a new IKE_SA and child, then the SYN from the same port: bounded well below a 60 s linger
reuse_connect 2 25
tap_ok "a second connection from port 45000 latches and connects" \
	grep -q '^latched' "$LAB_DIR/reuse2.client"
tap_ok "the server received its marker" grep -q REUSE2 "$recv"
tap_diag "server: $(cat "$LAB_DIR/reuse.log")"
tap_done
