#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# BTNS scenario 2 (issue 7): leap of faith. a's client connects to b with a
# BTNS token that pins on first contact: the key b showed is pinned under the
# address a used (or the token's peer id), kept in latchd's data directory;
# a later contact with that key is reported LEAPOFFAITH. b's key changes
# (its BTNS key deleted, latchd restarted: a new key at the same address):
# a's pinned client is refused with an error that names the pin; after
# `latchctl pins forget` it connects again and pins the new key. Pins
# survive latchd's restart.
#
#   a 192.0.2.1: charon + latchd, client     b 192.0.2.2: charon + latchd, BTNS server
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
recv=$LAB_DIR/recv
# serve_b N PORT (a new port after b's restart: the old listener is re-adopted)
serve_b() {
	lab_probe_bg b "$LAB_DIR/server-$1.log" serve "$2" --btns --out "$recv"
	server=$LAB_PID
	lab_wait_count 100 1 '^listening' "$LAB_DIR/server-$1.log"
}
serve_b 1 8080
b=$(lab_ip b)
old_key=$(lab_btns_spki b)

out=$(lab_probe a connect "$b" 8080 --btns --lof --marker LOF1)
tap_diag "first contact: $out"
tap_is "$(lab_field "$out" peer_auth)" BTNS "first contact: BTNS (the key is pinned now)"
tap_is "$(lab_field "$out" peer_pubkey)" "$old_key" "with b's key"
pins=$(lab_latchctl a pins)
tap_diag "pins: $(tr '\n' '|' <<<"$pins")"
tap_ok "latchctl pins lists b's address with b's key" grep -q "^$b  *$old_key " <<<"$pins"
tap_ok "the pin is kept in the data directory" grep -q "^$old_key [0-9]* $b\$" "$(lab_dir a)/lib/pins"
out=$(lab_probe a connect "$b" 8080 --btns --lof --marker LOF2)
tap_is "$(lab_field "$out" peer_auth)" LEAPOFFAITH "a later contact with the pinned key: LEAPOFFAITH"
out=$(lab_probe a connect "$b" 8080 --btns --lof --peer-id server-b --marker LOF3)
tap_is "$(lab_field "$out" peer_auth)" BTNS "a token naming the peer pins under that name (first contact)"
tap_ok "latchctl pins --json lists it" grep -q '"name":"server-b","pubkey":"'"$old_key"'"' \
	<<<"$(lab_latchctl a --json pins)"

# ---- b gets a new key at the same address
lab_stop "$server"
lab_latchd_stop b
lab_charon_stop b # TERM: charon deletes its SAs and tells a
rm "$(lab_btns_key b)"
lab_charon_start b
lab_latchd_start b
serve_b 2 8081
new_key=$(lab_btns_spki b)
tap_ok "b has a new BTNS key" test "$new_key" != "$old_key"
lab_wait 100 sh -c "! grep -q ESTABLISHED <<<\"\$(STRONGSWAN_CONF=$(lab_dir a)/strongswan.conf swanctl --list-sas --uri $(lab_vici_uri a))\""

pcap=$(lab_pcap changed)
lab_capture_start a "$pcap"
out=$(lab_probe a connect "$b" 8081 --btns --lof --marker CHANGED --sport 41010)
lab_capture_stop "$pcap"
tap_diag "after the change: $out"
tap_ok "the pinned client is refused (EACCES)" grep -q '^error EACCES' <<<"$out"
tap_ok "the error says leap of faith, names the pin and how to forget it" \
	grep -q "leap of faith: '$b' presented another key (pubKeyID ${new_key:0:16}…) than the one pinned on first contact (${old_key:0:16}…); if it really changed: latchctl pins forget $b" <<<"$out"
tap_is "$(grep -c CHANGED "$recv")" 0 "b received nothing of it"
tap_is "$(lab_pcap_count "$pcap" 'tcp port 41010')" 0 "no segment of it in clear"

tap_ok "latchctl pins forget $b" lab_latchctl a pins forget "$b"
tap_not "the pin is gone" grep -q "^$b " <<<"$(lab_latchctl a pins)"
tap_not "forgetting an unknown pin fails" lab_latchctl a pins forget 192.0.2.99
out=$(lab_probe a connect "$b" 8081 --btns --lof --marker AGAIN)
tap_diag "after forget: $out"
tap_ok "the client connects again" grep -q '^latched id=[0-9]* state=2' <<<"$out"
tap_is "$(lab_field "$out" peer_pubkey)" "$new_key" "to b's new key"
tap_is "$(grep -c AGAIN "$recv")" 1 "b received it"

# ---- pins survive latchd's restart (the data directory, not /run)
lab_latchd_stop a
lab_latchd_start a
pins=$(lab_latchctl a pins)
tap_ok "after a's latchd restarts, the new pin is still there" grep -q "^$b  *$new_key " <<<"$pins"
tap_ok "and the one under the token's name" grep -q "^server-b  *$old_key " <<<"$pins"
out=$(lab_probe a connect "$b" 8081 --btns --lof --marker LOF4)
tap_is "$(lab_field "$out" peer_auth)" LEAPOFFAITH "and the pin is honoured: LEAPOFFAITH"
tap_done
