#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The lab's ground truth: two hosts with certificates from one CA establish an
# IKEv2 SA with swanctl, and a TCP stream carrying a marker crosses the link as
# ESP in UDP, never in clear.
#
#   a 192.0.2.1 (a.example) ── link ── b 192.0.2.2 (b.example)
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
lab_conn_host2host a b b.example
lab_conn_host2host b a a.example
lab_charon_start a
lab_charon_start b
tap_ok "connections and credentials load into both charons" lab_load a
lab_load b >/dev/null

tap_ok "swanctl establishes IKE_SA and CHILD_SA a -> b" lab_initiate a b
sas_a=$(lab_swanctl a --list-sas --raw)
sas_b=$(lab_swanctl b --list-sas --raw)
tap_ok "a sees the IKE_SA ESTABLISHED" grep -q 'state=ESTABLISHED' <<<"$sas_a"
tap_ok "a authenticated b.example" grep -q 'remote-id=b.example' <<<"$sas_a"
tap_ok "b authenticated a.example" grep -q 'remote-id=a.example' <<<"$sas_b"
tap_ok "the CHILD_SA is INSTALLED, tunnel mode in UDP" \
	grep -q 'state=INSTALLED mode=TUNNEL protocol=ESP encap=yes' <<<"$sas_a"

marker="LATCH-LAB-$RANDOM$RANDOM"
recv=$LAB_DIR/recv
lab_bg b "$LAB_DIR/sink.log" python3 "$flow" sink 8080 "$recv"
lab_wait 50 lab_listening b 8080 || tap_diag "sink did not listen"
pcap=$(lab_pcap stream)
lab_capture_start a "$pcap"
out=$(lab_exec a python3 "$flow" send "$(lab_ip b)" 8080 "$marker" --count 20 --interval 0.01)
tap_is "$out" "sent 20" "the TCP stream is sent"
lab_wait_count 50 20 "$marker" "$recv"
lab_capture_stop "$pcap"

tap_is "$(grep -c "$marker" "$recv")" 20 "b received all 20 marker lines"
tap_cmp "$(lab_pcap_esp "$pcap")" -ge 20 "the stream crossed as ESP in UDP"
tap_is "$(lab_pcap_clear "$pcap" "$marker")" 0 "the marker never appears in clear"
tap_is "$(lab_pcap_count "$pcap" 'tcp port 8080')" 0 "no TCP segment of the stream in clear"
bytes=$(lab_swanctl a --list-sas --raw | grep -o 'bytes-out=[0-9]*' | cut -d= -f2)
tap_cmp "${bytes:-0}" -gt 0 "the CHILD_SA's counters carried the bytes"

tap_done
