#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# latchd's children have reqids of their own (issue 9), on the kernel data
# plane (run inside the kernel lab). a's client latches a connection to b
# and chooses to wait on a break, so it goes on writing. Then c takes over
# b's address and brings up, under another connection of a's (an
# administrator's, for c.example) and under its own identity, a child whose
# selectors are exactly those of latchd's child. charon 5.9.8 hands a child
# the reqid of any child with the same selectors, and the kernel carries a
# socket's flow under the newest state with the reqid its policy names: c's
# child must get another reqid, and the latched flow must never travel under
# it: while the owner goes on writing, c's SA on a carries none of it and c
# decrypts nothing of it, though c's SA itself works (c's datagrams reach a
# under it).
#
#   a 192.0.2.1 a.example: latchd; the client; the administrator's connection "other"
#   b 192.0.2.2 b.example: latchd; the server
#   c 192.0.2.3 c.example: plain charon; takes 192.0.2.2, initiates to a
set -u
export LAB_DATAPLANE=kernel
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

lab_init
lab_latch_trio
ip_a=$(lab_ip a)
ip_b=$(lab_ip b)
# loaded before latchd starts (swanctl --load-all unloads what its files do not name)
lab_child other "$ip_a/32" "$ip_b/32" | lab_conn_cert a other "$ip_a" "$ip_b" c.example
for h in a b c; do lab_charon_start "$h"; done
lab_load a >/dev/null
for h in a b; do lab_latchd_start "$h"; done

recv=$LAB_DIR/recv
lab_probe_bg b "$LAB_DIR/server.log" serve 8080 --out "$recv" --peer-id a.example --wait
lab_wait 100 grep -q '^listening' "$LAB_DIR/server.log"
m="REQID-$RANDOM$RANDOM"
# 400 lines, one every 250 ms: c comes up while they flow
lab_probe_bg a "$LAB_DIR/client.log" connect "$ip_b" 8080 --peer-id b.example \
	--marker "$m" --count 400 --interval 250 --wait --hold 30000
client=$LAB_PID
lab_wait_count 200 3 "$m" "$recv"
out=$(grep -m1 '^latched' "$LAB_DIR/client.log")
tap_ok "a's latch_connect succeeds with b.example" grep -q '^latched id=[0-9]* state=2 ' <<<"$out"
child=$(grep -o ' child=[0-9]*' <<<"$out" | cut -d= -f2)
# IKE_ID REMOTE_ID CHILD_ID NAME REQID STATE PACKETS_IN PACKETS_OUT LOCAL_TS REMOTE_TS
ours=$(lab_children a | awk -v id="${child:-x}" '$3 == id')
tap_diag "latchd's child: $ours"
read -r _ _ _ name reqid _ _ _ lts rts <<<"${ours:-- - - - - - - - - -}"
tap_ok "it is latchd's own child, with a reqid from latchd's range" \
	test "${reqid//[!0-9]/x}" = "$reqid" -a "$reqid" -ge 1275068416 -a "$reqid" -lt 1291845632
tap_cmp "$(lab_sock_policies a out | grep -c "proto esp reqid $reqid mode tunnel")" -eq 1 \
	"the socket's outbound policy names it"

pcap=$(lab_pcap c-any)
lab_capture_start c "$pcap" any
tap_ok "c takes b's address and brings up, as c.example, a child with the same selectors" \
	lab_takeover c b a "$ip_b/32[tcp],$ip_b/32[udp]" "$ip_a/32[tcp],$ip_a/32[udp]"
theirs=$(lab_children a | awk '$2 == "c.example" && $6 == "INSTALLED"')
tap_diag "c's child on a: $theirs"
read -r _ _ _ tname treqid _ _ _ tlts trts <<<"${theirs:-- - - - - - - - - -}"
tap_ok "on a it is a child of the other connection, with exactly latchd's child's selectors" \
	test "$tname" = other -a "$tlts" = "$lts" -a "$trts" = "$rts" -a "$name" != other
tap_ok "and a reqid of its own" test "$treqid" != "$reqid" -a "$treqid" != -
tap_ok "a's latch goes BROKEN (conflicting SA) and waits: the owner is told" \
	lab_wait_count 100 1 '^event id=[0-9]* state=3' "$LAB_DIR/client.log"
# from b's address, which c's child covers (c's own is the source by default)
lab_exec c python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
for _ in range(3):
    s.sendto(b"c", (sys.argv[2], 9999))' "$ip_b" "$ip_a"
sleep 4 & wait $!
tap_ok "the owner was not reset: it goes on writing" kill -0 "$client"
lab_capture_stop "$pcap"
theirs=$(lab_children a | awk '$2 == "c.example" && $6 == "INSTALLED"')
tap_diag "c's child on a after 4 s: $theirs"
read -r _ _ _ _ _ _ tin tout _ _ <<<"${theirs:-- - - - - - - - - -}"
tap_cmp "${tin//[!0-9]/0}" -ge 1 "c's SA works: its datagrams reached a under it"
tap_is "$tout" 0 "not one packet left a under c's SA"
# c's capture (all its interfaces) holds what its kernel decrypted as well as clear text
tap_is "$(lab_pcap_clear "$pcap" "$m")" 0 "the latched stream's marker never reached c, decrypted or in clear"
tap_is "$(lab_pcap_count "$pcap" 'tcp port 8080')" 0 "not one segment of the latched flow reached c"
tap_diag "client: $(tail -n 3 "$LAB_DIR/client.log" | tr '\n' '|')"
lab_latchd_log a | tail -n 6 | sed 's/^/# a: /'
[ "$TAP_FAILED" -eq 0 ] || grep -h -i -e 'child_sa\|ts_unacc\|failed\|reqid' \
	"$(lab_dir a)/charon.log" "$(lab_dir c)/charon.log" | tail -n 20 | sed 's/^/# charon: /'
lab_stop "$client"
tap_done
