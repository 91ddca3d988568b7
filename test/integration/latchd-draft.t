#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# latchd scenario 12 (issue 5): the draft flow. A client written only to
# <ipsecapi.h> (draft-probe.c) sets a pToken naming its peer on an
# unconnected TCP socket and then calls a plain connect(2). latchd (ATTACH)
# holds the SYN in NFQUEUE, latches the flow, brings the SA up and releases
# the SYN into the data plane (libipsec's ipsec0; on the kernel, under the
# socket policy it has just set):
#  1. no SA yet (a fresh IKE_SA): the first SYN already crosses as ESP, no
#     SYN in clear, exactly one SYN decrypted by b (none retransmitted), the
#     marker never in clear, the server learns the client's identity and
#     the client the server's;
#  2. the peer's SA is up: the same, at once;
#  3. the wrong peer named: connect(2) fails at once with ECONNABORTED,
#     nothing of the flow on the wire.
#
#   a 192.0.2.1 a.example   b 192.0.2.2 b.example (CA ca); charon + latchd each
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

probe=$LAB_BUILD/test/integration/draft-probe
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
lab_probe_bg b "$LAB_DIR/server.log" serve 8080 --out "$recv" --peer-ca "C=CH, O=latch-lab, CN=ca CA"
server=$LAB_PID
lab_wait 100 grep -q '^listening' "$LAB_DIR/server.log"
tap_ok "b's server latches its listener" grep -q '^listening port=8080' "$LAB_DIR/server.log"

SYN='tcp[tcpflags] & tcp-syn != 0'

# draft_run NAME SPORT PEER MARKER: run the draft client from a with captures on
# a's link (wire) and of what b's data plane decrypted; output in $out,
# captures $wire and $tun.
draft_run() {
	wire=$(lab_pcap "$1-wire")
	tun=$(lab_pcap "$1-tun")
	lab_capture_start a "$wire"
	lab_capture_inner b "$tun"
	out=$(lab_as_latch a timeout 20 "$probe" "$(lab_ip b)" 8080 "$3" "$4" "$2" 2>&1)
	sleep 0.3 & wait $!
	lab_capture_stop "$wire"
	lab_capture_stop "$tun"
	tap_diag "$1: $out"
}

# first_esp_from_a PCAP: 1 if the first ESP packet on the wire is a's (the SYN);
# in UDP 4500 on libipsec, protocol 50 on the kernel.
first_esp_from_a() {
	lab_pcap_show "$1" "$LAB_F_ESP" | head -n 1 | grep -cE " $(lab_ip a)(\.4500)? > "
}

check_latched() { # NAME SPORT MARKER
	local syn_tun
	tap_ok "$1: a plain connect(2) after ipsec_set_socket_pToken succeeds" \
		grep -q '^connected ms=' <<<"$out"
	tap_diag "$1: connect took $(grep -o 'connected ms=[0-9.]*' <<<"$out" | cut -d= -f2) ms"
	tap_is "$(lab_pcap_count "$wire" "tcp port $2 and $SYN")" 0 "$1: no SYN of the flow in clear"
	tap_is "$(lab_pcap_count "$wire" "tcp port $2")" 0 "$1: no segment of the flow in clear"
	syn_tun=$(lab_pcap_count "$tun" "tcp src port $2 and $SYN")
	tap_is "$syn_tun" 1 "$1: b decrypted exactly one SYN: none retransmitted"
	tap_is "$(first_esp_from_a "$wire")" 1 "$1: the first ESP packet on the wire is a's (its SYN)"
	tap_cmp "$(lab_pcap_esp "$wire")" -ge 3 "$1: the connection crossed as ESP"
	tap_is "$(lab_pcap_clear "$wire" "$3")" 0 "$1: the marker never appears in clear"
	lab_wait 50 grep -q "$3" "$recv"
	tap_is "$(grep -c "$3" "$recv")" 1 "$1: b received the marker"
	tap_ok "$1: the client learns b's certificate subject, authenticated by certificate" \
		grep -q '^peer subject=C=CH, O=latch-lab, CN=b.example auth=0x207 pubkey=' <<<"$out"
}

# ---- 1: no SA yet
m1="DRAFT1-$RANDOM$RANDOM"
draft_run s1 42000 b.example "$m1"
check_latched "fresh IKE_SA" 42000 "$m1"
acc=$(grep '^accepted' "$LAB_DIR/server.log" | tail -n 1)
tap_diag "server: $acc"
tap_ok "the server reports the client's identity a.example" \
	grep -q 'peer_id="a.example" peer_auth=PKIX_TRUSTED' <<<"$acc"
tap_ok "a's latchd made the latch from the held SYN" \
	grep -q 'made for an attached socket' "$(lab_dir a)/latchd.log.tmp"

# ---- 2: the peer's SA is up
m2="DRAFT2-$RANDOM$RANDOM"
draft_run s2 42001 b.example "$m2"
check_latched "SA up" 42001 "$m2"
# DPD's INFORMATIONAL exchanges (dpd_delay 2 s in the lab) may cross meanwhile: not counted.
tap_is "$(lab_pcap_show "$wire" "$LAB_F_IKE" | grep -cv 'inf2')" 0 \
	"SA up: no IKE_SA or CHILD_SA was negotiated for it"

# ---- 3: the wrong peer
m3="DRAFT3-$RANDOM$RANDOM"
draft_run s3 42002 c.example "$m3"
tap_ok "wrong peer: connect(2) fails with ECONNABORTED" grep -q '^error ECONNABORTED' <<<"$out"
ms=$(grep -o 'ms=[0-9]*' <<<"$out" | cut -d= -f2)
tap_cmp "${ms:-9999}" -lt 1000 "wrong peer: at once (${ms:-?} ms), not after a timeout"
tap_is "$(lab_pcap_count "$wire" "tcp port 42002")" 0 "wrong peer: nothing of the flow in clear"
tap_is "$(lab_pcap_count "$tun" "tcp port 42002")" 0 "wrong peer: b decrypted none of it"
tap_is "$(lab_pcap_clear "$wire" "$m3")" 0 "wrong peer: the marker never in clear"
tap_is "$(grep -c "$m3" "$recv")" 0 "wrong peer: b received nothing of it"

tap_ok "b's server is still serving" kill -0 "$server"
tap_done
