#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# BTNS scenario 5 (issue 7): a man in the middle. BTNS proves keys, not
# names, so a host in the path can run BTNS with each side and relay. Both
# ends still see ESP and a BTNS peer, but their channel bindings differ, and
# the channel-bound check of examples/btns-cb (both ends know a secret and
# compare an HMAC over the channel binding) detects it. Without the middle
# host, the same check passes.
#
#   phase 1:  a 192.0.2.1 ───────────── b 192.0.2.2
#   phase 2:  a 192.0.2.1 ── m 192.0.2.2 (takes b's address) ── b 198.51.100.2 (link mb0)
#             m: latchd and btns-relay (BTNS with a, BTNS with b)
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"
source "$(dirname "$0")/../lab/btns.sh"

lab_init
lab_latch_host a 1
lab_latch_host b 2
lab_latch_host m 3
lab_btns_link m b
for h in a b m; do
	lab_charon_start "$h"
	lab_latchd_start "$h"
done
secret="shared-$RANDOM$RANDOM"
lab_bg b "$LAB_DIR/b.log" env LATCH_SOCKET="$(lab_latchd_sock b)" "$(lab_btns_cb_bin)" \
	server 8080 "$secret"
lab_wait_count 100 1 '^listening' "$LAB_DIR/b.log"

# ---- phase 1: no middle host
pcap=$(lab_pcap direct)
lab_capture_start a "$pcap"
out=$(lab_as_latch a "$(lab_btns_cb_bin)" client 192.0.2.2 8080 "$secret")
rc=$?
lab_capture_stop "$pcap"
lab_wait_count 50 1 '^cb-check' "$LAB_DIR/b.log"
srv=$(grep '^cb-check' "$LAB_DIR/b.log" | tail -n 1)
tap_diag "a: $out"
tap_diag "b: $srv"
tap_is "$rc" 0 "direct: a's channel-bound check passes"
tap_ok "direct: and b's" grep -q '^cb-check ok auth=BTNS' <<<"$srv"
tap_is "$(lab_field "$out" peer_pubkey)" "$(lab_btns_spki b)" "a talks to b's key"
tap_is "$(lab_field "$srv" cb)" "$(lab_field "$out" cb)" "one channel: equal channel bindings"
tap_cmp "$(lab_pcap_esp "$pcap")" -ge 4 "ESP on the wire"
tap_is "$(lab_pcap_count "$pcap" 'tcp port 8080')" 0 "nothing in clear"

# ---- phase 2: m takes b's address on a's link and relays to b over mb0
lab_btns_no_sas a
lab_btns_no_sas b
lab_exec b ip addr del 192.0.2.2/24 dev eth0
lab_exec m ip addr add 192.0.2.2/24 dev eth0
lab_exec a ip neigh flush dev eth0
lab_bg m "$LAB_DIR/relay.log" env LATCH_SOCKET="$(lab_latchd_sock m)" \
	"$(lab_btns_relay_bin)" 8080 198.51.100.2 8080
lab_wait_count 100 1 '^listening' "$LAB_DIR/relay.log"
pa=$(lab_pcap mitm-a)
pb=$(lab_pcap mitm-b)
lab_capture_start a "$pa"
lab_capture_start b "$pb" mb0
out=$(lab_as_latch a "$(lab_btns_cb_bin)" client 192.0.2.2 8080 "$secret")
rc=$?
lab_wait_count 50 2 '^cb-check' "$LAB_DIR/b.log"
lab_capture_stop "$pa"
lab_capture_stop "$pb"
srv=$(grep '^cb-check' "$LAB_DIR/b.log" | tail -n 1)
tap_diag "a: $out"
tap_diag "b: $srv"
tap_ok "m relayed the connection" grep -q '^relaying' "$LAB_DIR/relay.log"
tap_ok "a still sees a BTNS peer" grep -q 'auth=BTNS' <<<"$out"
tap_ok "b still sees a BTNS peer" grep -q 'auth=BTNS' <<<"$srv"
tap_is "$(lab_field "$out" peer_pubkey)" "$(lab_btns_spki m)" "a's peer is m's key (not b's)"
tap_is "$(lab_field "$srv" peer_pubkey)" "$(lab_btns_spki m)" "b's peer is m's key (not a's)"
tap_ok "the channel bindings differ" test "$(lab_field "$srv" cb)" != "$(lab_field "$out" cb)"
tap_is "$rc" 3 "a's channel-bound check detects the man in the middle"
tap_ok "and so does b's" grep -q '^cb-check MISMATCH' <<<"$srv"
tap_cmp "$(lab_pcap_esp "$pa")" -ge 2 "ESP on a's link"
tap_cmp "$(lab_pcap_esp "$pb")" -ge 2 "ESP on b's link"
tap_is "$(lab_pcap_count "$pa" 'tcp port 8080')" 0 "nothing in clear on a's link"
tap_is "$(lab_pcap_count "$pb" 'tcp port 8080')" 0 "nothing in clear on b's link"
tap_done
