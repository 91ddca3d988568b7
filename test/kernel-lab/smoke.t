#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The kernel lab's ground truth (run inside the VM by kernel-lab.sh): two
# hosts with certificates from one CA, charon with kernel-netlink only
# (LAB_DATAPLANE=kernel), an IKE_SA, and a TCP stream carrying a marker that
# crosses the link as ESP done by the kernel: IP protocol 50, not ESP in UDP,
# never in clear.
#
#   a 192.0.2.1 (a.example) ── link ── b 192.0.2.2 (b.example)
set -u
export LAB_DATAPLANE=kernel
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"
flow=$LAB_LIB_DIR/flow.py

tap_diag "kernel $(uname -r)"
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
tap_ok "charon runs without kernel-libipsec" \
	grep -q 'loaded plugins:.*kernel-netlink' "$(lab_dir a)/charon.log"
tap_not "no libipsec plugin is loaded" grep -q 'kernel-libipsec' "$(lab_dir a)/charon.log"
tap_ok "connections and credentials load into both charons" lab_load a
lab_load b >/dev/null

tap_ok "swanctl establishes IKE_SA and CHILD_SA a -> b" lab_initiate a b
sas_a=$(lab_swanctl a --list-sas --raw)
tap_ok "a authenticated b.example" grep -q 'remote-id=b.example' <<<"$sas_a"
tap_ok "the CHILD_SA is INSTALLED, tunnel mode, ESP without UDP encapsulation" \
	grep -q 'state=INSTALLED mode=TUNNEL protocol=ESP' <<<"$sas_a"
tap_not "no UDP encapsulation" grep -q 'encap=yes' <<<"$sas_a"
tap_cmp "$(lab_exec a ip xfrm state | grep -c 'aead rfc4106(gcm(aes))')" -eq 2 \
	"the kernel holds both SAs (AES-GCM), in and out"
tap_cmp "$(lab_exec a ip xfrm policy | grep -c 'tmpl src 192.0.2.1 dst 192.0.2.2')" -ge 1 \
	"and the outbound policy naming them"

marker="LATCH-KLAB-$RANDOM$RANDOM"
recv=$LAB_DIR/recv
lab_bg b "$LAB_DIR/sink.log" python3 "$flow" sink 8080 "$recv"
lab_wait 100 lab_listening b 8080 || tap_diag "sink did not listen"
pcap=$(lab_pcap stream)
lab_capture_start a "$pcap"
out=$(lab_exec a python3 "$flow" send "$(lab_ip b)" 8080 "$marker" --count 20 --interval 0.01)
tap_is "$out" "sent 20" "the TCP stream is sent"
lab_wait_count 100 20 "$marker" "$recv"
lab_capture_stop "$pcap"

tap_is "$(grep -c "$marker" "$recv")" 20 "b received all 20 marker lines"
tap_cmp "$(lab_pcap_count "$pcap" esp)" -ge 20 "the stream crossed as ESP (IP protocol 50)"
tap_is "$(lab_pcap_count "$pcap" 'udp port 4500')" 0 "nothing in UDP 4500"
tap_is "$(lab_pcap_clear "$pcap" "$marker")" 0 "the marker never appears in clear"
tap_is "$(lab_pcap_count "$pcap" 'tcp port 8080')" 0 "no TCP segment of the stream in clear"
bytes=$(lab_swanctl a --list-sas --raw | grep -o 'bytes-out=[0-9]*' | cut -d= -f2)
tap_cmp "${bytes:-0}" -gt 0 "the kernel's outbound SA counted the bytes (charon reads them from XFRM)"

tap_done
