#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# latchd scenario 5 (issue 5): IKE and child rekeys during a continuous
# transfer. latchd gives its connections charon's default lifetimes (it sends
# no rekey_time), so the rekeys are forced over VICI (swanctl --rekey) against
# the SAs latchd made, from each side in turn: child rekey by the initiator,
# child rekey by the responder, IKE rekey by each. The latched flow must not
# notice: no event, no break, no loss (the server receives every line, in
# order), latchctl shows it ESTABLISHED after each rekey on the new SA, the
# new SPIs carry it on the wire, and nothing of it is ever in clear. The
# flow's segments inside the tunnel: on libipsec what a sent into ipsec0, with
# kernel ESP what b decrypted (a encrypts before any capture on a sees them),
# and there the kernel's counters show whether a rekey dropped any.
#
#   a 192.0.2.1 a.example: latchd, the client    b 192.0.2.2 b.example: latchd, the server
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

recv=$LAB_DIR/recv
lab_probe_bg b "$LAB_DIR/server.log" serve 8080 --peer-ca "C=CH, O=latch-lab, CN=ca CA" --out "$recv"
lab_wait_count 100 1 '^listening' "$LAB_DIR/server.log"
for h in a b; do
	lab_bg "$h" "$LAB_DIR/watch-$h.log" "$(lab_latchctl_bin)" --socket "$(lab_latchd_sock "$h")" watch
done

# json_field HOST KEY: KEY's value in HOST's (only) flow latch, from latchctl
# --json list: state, or a key of its "sa" object (child_id, spi_out, …).
json_field() {
	lab_latchctl "$1" --json list | python3 -c '
import json, sys
for l in json.load(sys.stdin)["latches"]:
    if "flow" in l and l["state"] != "LISTENER":
        print(l.get(sys.argv[1], l.get("sa", {}).get(sys.argv[1], "")))
        break' "$2"
}
# rekeyed HOST OLD_SPI_OUT: HOST's latch is ESTABLISHED on an SA other than OLD_SPI_OUT's.
rekeyed() {
	local spi
	spi=$(json_field "$1" spi_out)
	[ -n "$spi" ] && [ "$spi" != "$2" ] && [ "$(json_field "$1" state)" = ESTABLISHED ]
}
# ike_rekeyed HOST OLD_IKE_UNIQUE_ID: HOST's charon has an ESTABLISHED IKE_SA
# other than OLD, and OLD is gone.
ike_ids() {
	lab_swanctl "$1" --list-sas 2>/dev/null | grep -o '#[0-9]*, ESTABLISHED, IKEv2' | cut -d, -f1 | tr -d '#'
}
ike_rekeyed() {
	local ids
	ids=$(ike_ids "$1")
	[ -n "$ids" ] && ! grep -qx "$2" <<<"$ids"
}

# sa_drops: what a's and b's kernels dropped for want of an SA: outbound
# (IpOutNoRoutes: a socket whose policy finds no state; XfrmOutNoStates),
# inbound (XfrmInNoStates: an SPI that no state has any more).
sa_drops() {
	local h n sum=0
	for h in a b; do
		for n in IpOutNoRoutes XfrmOutNoStates XfrmInNoStates; do
			sum=$((sum + $(lab_counter "$h" "$n")))
		done
	done
	echo "$sum"
}

# 50 ms apart, long enough to outlast four rekeys on a busy machine, and
# under emulation, where each takes seconds
count=300
kernel=
[ "${LAB_DATAPLANE:-libipsec}" = kernel ] && kernel=1 count=1500
marker="REKEY-$RANDOM$RANDOM"
wire=$(lab_pcap wire)
inner=$(lab_pcap inner)
lab_capture_start a "$wire"
if [ -n "$kernel" ]; then
	lab_capture_inner b "$inner" "tcp port 8080"
	retrans0=$(lab_counter a TcpRetransSegs)
	drops0=$(sa_drops)
else
	lab_capture_inner a "$inner" "tcp port 8080"
fi
lab_probe_bg a "$LAB_DIR/client.log" connect "$(lab_ip b)" 8080 --peer-id b.example \
	--marker "$marker" --count "$count" --interval 50 --hold "${LAB_HOLD_MS:-1500}"
client=$LAB_PID
tap_ok "the latched transfer runs" lab_wait_count 100 5 "$marker" "$recv"
spi0=$(json_field a spi_out)
tap_ok "a's latch is ESTABLISHED on a shared child (SPI out $spi0)" test -n "$spi0"

# 1. child rekey, initiated by a
t0=$(date +%s%N)
lab_swanctl a --rekey --child-id "$(json_field a child_id)" >/dev/null
tap_ok "child rekey by a: a's latch moves to the new child and stays ESTABLISHED" \
	lab_wait 100 rekeyed a "$spi0"
spi1=$(json_field a spi_out)
seen=$(grep -c "$marker" "$recv")
tap_ok "the transfer goes on after it" lab_wait_count 100 $((seen + 3)) "$marker" "$recv"

# 2. child rekey, initiated by b (on b's latch's child)
bspi=$(json_field b spi_out)
lab_swanctl b --rekey --child-id "$(json_field b child_id)" >/dev/null
tap_ok "child rekey by b: b's latch moves to the new child and stays ESTABLISHED" \
	lab_wait 100 rekeyed b "$bspi"
tap_ok "and a's latch follows it" lab_wait 100 rekeyed a "$spi1"
spi2=$(json_field a spi_out)
seen=$(grep -c "$marker" "$recv")
tap_ok "the transfer goes on after it" lab_wait_count 100 $((seen + 3)) "$marker" "$recv"

# 3. IKE rekey, initiated by a; 4. IKE rekey, initiated by b
for h in a b; do
	old=$(ike_ids "$h")
	lab_swanctl "$h" --rekey --ike-id "$old" >/dev/null
	tap_ok "IKE rekey by $h: a new IKE_SA replaces #$old" lab_wait 100 ike_rekeyed "$h" "$old"
	tap_is "$(json_field a state)/$(json_field b state)" ESTABLISHED/ESTABLISHED \
		"both latches stay ESTABLISHED across it"
	seen=$(grep -c "$marker" "$recv")
	tap_ok "the transfer goes on after it" lab_wait_count 100 $((seen + 3)) "$marker" "$recv"
done
ms=$((($(date +%s%N) - t0) / 1000000))

# the client holds its connection 1.5 s (LAB_HOLD_MS) after its last line: latchctl sees it then
lab_wait_count $((count / 2 + 100)) "$count" "$marker" "$recv"
tap_is "$(json_field a state)/$(json_field b state)" ESTABLISHED/ESTABLISHED \
	"latchctl: both latches still ESTABLISHED after the last line"
lab_wait_gone "$client" 100
if [ -n "$kernel" ]; then
	retrans1=$(lab_counter a TcpRetransSegs)
	drops1=$(sa_drops)
fi
lab_capture_stop "$wire"
lab_capture_stop "$inner"
out=$(cat "$LAB_DIR/client.log")
tap_diag "rekeys done in $ms ms; SPIs out of a: $spi0 -> $spi1 -> $spi2; client: $(tail -n 1 <<<"$out")"
tap_ok "the client wrote every line without an error" grep -qx "sent $count" <<<"$out"
tap_is "$(grep -c '^event' <<<"$out")" 0 "the client got no latch event (no break, no restore)"
# liblatch answers its owner's query itself unless latchd counted a change: a rekey is one
tap_ok "the owner's query after the rekeys shows the latch on the new SA (SPI out $spi2)" \
	grep -q "^held id=[0-9]* state=2 .* spi_out=$spi2 " <<<"$out"
tap_is "$(grep -c "$marker" "$recv")" "$count" "the server received all $count lines"
tap_is "$(grep "$marker" "$recv" | sed "s/^$marker-//" | tr '\n' ' ')" "$(seq -s ' ' 0 $((count - 1))) " \
	"in order, each once"
tap_is "$(cat "$LAB_DIR/watch-a.log" "$LAB_DIR/watch-b.log" | grep -c 'BROKEN')" 0 \
	"latchctl watch saw no BROKEN on either side"
spis=$(lab_pcap_spis "$wire")
tap_diag "SPIs on the wire: $(tr '\n' ' ' <<<"$spis")"
tap_cmp "$(wc -l <<<"$spis")" -ge 6 "at least 6 ESP SPIs on the wire (2 per child SA, 3 child SAs)"
for s in "$spi0" "$spi1" "$spi2"; do
	tap_cmp "$(lab_pcap_show "$wire" "src $(lab_ip a) and ($LAB_F_ESP)" | grep -c "spi=0x$s,")" -gt 0 \
		"a's SPI out $s carried traffic on the wire"
done
segs=$(lab_pcap_show "$inner" "-S src $(lab_ip a) and tcp[tcpflags] & tcp-push != 0" | grep -o 'seq [0-9]*:[0-9]*')
want=$(($(for ((i = 0; i < count; i++)); do echo "$marker-$i"; done | wc -c) + 2))
if [ -n "$kernel" ]; then
	# What b decrypted: the bytes the segments' ranges cover. Under emulation
	# TCP also resends what was not lost (the VM stalls past its timers), so
	# the kernel's own counters say whether a rekey dropped anything.
	bytes=$(sed 's/seq \([0-9]*\):\([0-9]*\)/\1 \2/' <<<"$segs" | sort -n |
		awk '$1 >= end { n += $2 - $1; end = $2 } $1 < end && $2 > end { n += $2 - end; end = $2 } END { print n }')
	tap_is "$bytes" "$want" "b decrypted every byte written ($count lines and the one after the hold)"
	tap_diag "a's TCP retransmitted $((retrans1 - retrans0)) segments"
	tap_is "$((drops1 - drops0))" 0 \
		"no segment was dropped at a rekey for want of its SA (IpOutNoRoutes, XfrmOutNoStates, XfrmInNoStates on a and b)"
else
	# a data segment sent twice is a retransmission: a packet was lost meanwhile
	bytes=$(($(sed 's/seq \([0-9]*\):\([0-9]*\)/\2 - \1/' <<<"$segs" | paste -sd+)))
	tap_is "$bytes" "$want" "a's ipsec0 shows every byte written ($count lines and the one after the hold) once"
	tap_is "$(sort <<<"$segs" | uniq -d | wc -l)" 0 "none of them retransmitted: nothing was dropped at a rekey"
fi
tap_is "$(lab_pcap_clear "$wire" "$marker")" 0 "the marker never appears in clear"
tap_is "$(lab_pcap_count "$wire" 'tcp port 8080')" 0 "no TCP segment of the flow in clear"
tap_done
