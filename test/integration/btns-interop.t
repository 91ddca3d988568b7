#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# BTNS scenario 6 (issue 7): a stock strongSwan host without latch (d),
# configured as docs/btns.md shows (a key, a certificate for it issued under
# the public anchor with pki, a swanctl connection admitting only the BTNS
# namespace under the anchor), and a latch host (a) speak BTNS both ways:
#  1. a's BTNS client connects to a plain server on d: latchd initiates;
#  2. d initiates to a, and a plain client on d connects to a's BTNS server.
# a reports BTNS, d's identity and d's pubKeyID (its key's SHA-256); ESP on
# the wire, nothing in clear.
#
#   a 192.0.2.1: charon + latchd (no credentials)   d 192.0.2.4: stock charon + swanctl
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"
source "$(dirname "$0")/../lab/btns.sh"

lab_init
lab_latch_host a 1
lab_host d 4
lab_btns_cert d "O=BTNS, CN=stock-d"
lab_btns_conn d a btns "O=BTNS, CN=stock-d"
lab_charon_start a
lab_latchd_start a
lab_charon_start d
lab_load d >/dev/null
d_key=$(lab_spki_sha256 "$LAB_DIR/pki/d-btns.key")

# ---- 1. latch client -> stock server
recv=$LAB_DIR/recv-d
lab_bg d "$LAB_DIR/sink.log" python3 "$LAB_LIB_DIR/flow.py" sink 8080 "$recv"
lab_wait 100 lab_listening d 8080
m1="INTEROP1-$RANDOM$RANDOM"
pcap=$(lab_pcap i1)
lab_capture_start a "$pcap"
out=$(lab_probe a connect "$(lab_ip d)" 8080 --btns --marker "$m1" --count 3 --interval 20)
lab_wait_count 50 3 "$m1" "$recv"
lab_capture_stop "$pcap"
tap_diag "a to d: $out"
tap_ok "a's BTNS client latches to the stock host" grep -q '^latched id=[0-9]* state=2' <<<"$out"
tap_is "$(lab_field "$out" peer_auth)" BTNS "a reports d as BTNS"
tap_is "$(lab_field "$out" peer_id)" "O=BTNS, CN=stock-d" "with the BTNS name d chose"
tap_is "$(lab_field "$out" peer_pubkey)" "$d_key" "and d's pubKeyID"
tap_ok "d's charon took a under its BTNS connection" \
	grep -q "IKE_SA btns\[[0-9]*\] established.*$(lab_btns_id a)" "$(lab_dir d)/charon.log"
tap_is "$(grep -c "$m1" "$recv")" 3 "d's plain server received the 3 lines"
tap_cmp "$(lab_pcap_esp "$pcap")" -ge 3 "they crossed as ESP"
tap_is "$(lab_pcap_clear "$pcap" "$m1")" 0 "never in clear"

# ---- 2. stock client -> latch server, d initiating IKE
lab_probe_bg a "$LAB_DIR/server.log" serve 9000 --btns --out "$LAB_DIR/recv-a"
lab_wait_count 100 1 '^listening' "$LAB_DIR/server.log"
lab_swanctl d --terminate --ike btns >/dev/null 2>&1
lab_wait 100 sh -c "! STRONGSWAN_CONF=$(lab_dir d)/strongswan.conf swanctl --list-sas --uri $(lab_vici_uri d) | grep -q ESTABLISHED"
tap_ok "d initiates BTNS to a (swanctl --initiate)" lab_initiate d btns
m2="INTEROP2-$RANDOM$RANDOM"
pcap=$(lab_pcap i2)
lab_capture_start a "$pcap"
lab_exec d python3 "$LAB_LIB_DIR/flow.py" send "$(lab_ip a)" 9000 "$m2" --count 3 --interval 0.05 \
	>/dev/null
lab_wait_count 50 3 "$m2" "$LAB_DIR/recv-a"
lab_capture_stop "$pcap"
acc=$(grep '^accepted' "$LAB_DIR/server.log" | tail -n 1)
tap_diag "a's server: $acc"
tap_ok "a's BTNS server accepts d's connection, latched" grep -q 'state=2' <<<"$acc"
tap_is "$(lab_field "$acc" peer_auth)" BTNS "a reports d as BTNS"
tap_is "$(lab_field "$acc" peer_pubkey)" "$d_key" "with d's pubKeyID"
tap_is "$(grep -c "$m2" "$LAB_DIR/recv-a")" 3 "a's server received d's 3 lines"
tap_cmp "$(lab_pcap_esp "$pcap")" -ge 3 "they crossed as ESP"
tap_is "$(lab_pcap_clear "$pcap" "$m2")" 0 "never in clear"
tap_done
