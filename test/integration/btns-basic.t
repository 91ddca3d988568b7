#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# BTNS scenario 1 (issue 7): two latch hosts with no credentials at all (no
# certificate, no CA: only latchd's own BTNS key, made on first start, and
# the public BTNS anchor). A client and a server whose tokens admit BTNS
# peers get ESP; both report the method BTNS, each other's pubKeyID (the
# SHA-256 of the other's key, read here from its key file) and the same
# channel binding. A token that does not admit BTNS gets nothing.
#
#   a 192.0.2.1: charon + latchd, client     b 192.0.2.2: charon + latchd, server
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"
source "$(dirname "$0")/../lab/btns.sh"

lab_init
lab_latch_host a 1
lab_latch_host b 2
for h in a b; do
	lab_charon_start "$h"
	lab_latchd_start "$h"
done

key_b=$(lab_btns_key b)
tap_ok "latchd made b's BTNS key on first start" test -s "$key_b"
tap_is "$(stat -c %a "$key_b")" 600 "the key file is 0600"
tap_ok "and its certificate under the anchor" \
	openssl verify -CAfile "$LAB_BTNS_ANCHOR" "$(lab_dir b)/lib/btns.pem"
tap_is "$(openssl x509 -in "$(lab_dir b)/lib/btns.pem" -noout -subject -nameopt sep_comma_plus_space,sname)" \
	"subject=O=BTNS, CN=$(lab_btns_spki b | cut -c1-32)" \
	"its subject is O=BTNS, CN=<its own key's hash>"

recv=$LAB_DIR/recv
lab_probe_bg b "$LAB_DIR/server.log" serve 8080 --btns --out "$recv"
server=$LAB_PID
lab_wait_count 100 1 '^listening' "$LAB_DIR/server.log"
tap_ok "b's BTNS listener is latched (no CA needed)" grep -q '^listening port=8080' "$LAB_DIR/server.log"

marker="BTNS1-$RANDOM$RANDOM"
pcap=$(lab_pcap s1)
lab_capture_start a "$pcap"
out=$(lab_probe a connect "$(lab_ip b)" 8080 --btns --marker "$marker" --count 5 --interval 20)
lab_wait_count 100 5 "$marker" "$recv"
lab_capture_stop "$pcap"
acc=$(grep '^accepted' "$LAB_DIR/server.log" | tail -n 1)
tap_diag "client: $out"
tap_diag "server: $acc"
tap_ok "a's BTNS latch_connect succeeds" grep -q '^latched id=[0-9]* state=2' <<<"$out"
tap_is "$(lab_field "$out" peer_auth)" BTNS "a reports b's authentication method: BTNS"
tap_is "$(lab_field "$out" local_auth)" BTNS "and its own"
tap_is "$(lab_field "$out" peer_pubkey)" "$(lab_btns_spki b)" "a's pubKeyID of b is b's key"
tap_is "$(lab_field "$out" peer_id)" "$(lab_btns_id b)" "b's identity is its BTNS name"
tap_is "$(lab_field "$out" peer_issuer)" "O=BTNS, CN=BTNS anchor (its private key is public)" \
	"issued by the public anchor"
tap_is "$(lab_field "$acc" peer_auth)" BTNS "b reports a as BTNS"
tap_is "$(lab_field "$acc" peer_pubkey)" "$(lab_btns_spki a)" "b's pubKeyID of a is a's key"
tap_is "$(lab_field "$acc" local_pubkey)" "$(lab_btns_spki b)" "b's own pubKeyID is its key"
cb_a=$(lab_field "$out" cb)
tap_ok "a has a channel binding" test -n "$cb_a"
tap_is "$(lab_field "$acc" cb)" "$cb_a" "both ends have the same channel binding"
tap_is "$(grep -c "$marker" "$recv")" 5 "b received the 5 marker lines"
tap_cmp "$(lab_pcap_esp "$pcap")" -ge 5 "the connection crossed as ESP"
tap_is "$(lab_pcap_clear "$pcap" "$marker")" 0 "the marker never appears in clear"
tap_is "$(lab_pcap_count "$pcap" 'tcp port 8080')" 0 "no TCP segment of it in clear"

# A token that does not admit BTNS, on the same SA: refused, never downgraded.
out=$(lab_probe a connect "$(lab_ip b)" 8080 --marker NOBTNS --sport 41001)
tap_diag "client without --btns: $out"
tap_ok "a token without PEER_BTNS is refused over b's BTNS SA (EACCES)" \
	grep -q '^error EACCES.*unauthenticated (BTNS)' <<<"$out"
tap_is "$(grep -c NOBTNS "$recv")" 0 "b received nothing of it"

tap_ok "b's server is still serving" kill -0 "$server"
tap_done
