#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# BTNS scenario 3 (issue 7): a token that requires an authenticated peer is
# never satisfied by a BTNS peer, even one claiming the authenticated peer's
# identity (RFC 5386: never downgraded, never impersonating).
#  a. a latch host with BTNS only (c) connects with a BTNS token to b's
#     listener that admits the CA's peers: its SA with b comes up (b also
#     serves BTNS elsewhere), but b's accept refuses it, nothing is delivered.
#  b. a stock strongSwan host (d) with an anchor-issued certificate claiming
#     a.example (outside the anchor's name constraints) is refused by IKE.
#  c. d again, with "O=BTNS, CN=a.example" (inside them: a valid BTNS name):
#     IKE succeeds as BTNS, but b's authenticated listener refuses it, and a
#     client token naming a.example is never satisfied by it.
#
#   a 192.0.2.1 a.example   b 192.0.2.2 b.example: listeners 8080 (CA) and 9090 (BTNS)
#   c 192.0.2.3 latch, BTNS only   d 192.0.2.4 plain charon, anchor-issued certificates
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"
source "$(dirname "$0")/../lab/btns.sh"

lab_init
lab_latch_host a 1
lab_latch_host b 2
lab_latch_host c 3
lab_host d 4
lab_ca ca
lab_cert a ca a.example
lab_cert b ca b.example
for h in a b c; do
	lab_charon_start "$h"
	lab_latchd_start "$h"
done
ca_dn="C=CH, O=latch-lab, CN=ca CA"
recv=$LAB_DIR/recv
lab_probe_bg b "$LAB_DIR/auth.log" serve 8080 --peer-ca "$ca_dn" --out "$recv"
lab_probe_bg b "$LAB_DIR/btns.log" serve 9090 --btns --out "$LAB_DIR/recv-btns"
lab_wait_count 100 1 '^listening' "$LAB_DIR/auth.log"
lab_wait_count 100 1 '^listening' "$LAB_DIR/btns.log"

# ---- a: a BTNS latch host at an authenticated listener
m1="BTNS3A-$RANDOM$RANDOM"
out=$(lab_probe c connect "$(lab_ip b)" 8080 --btns --marker "$m1" --count 3 --interval 50)
tap_diag "c: $(tr '\n' ' ' <<<"$out")"
lab_wait_count 100 1 '^accept-error' "$LAB_DIR/auth.log"
err=$(grep '^accept-error' "$LAB_DIR/auth.log" | head -n 1)
tap_diag "b: $err"
tap_ok "c's BTNS SA with b is up (c admits BTNS peers)" grep -q 'peer_auth=BTNS' <<<"$out"
tap_ok "b's authenticated listener refuses c's connection" \
	grep -q "accept-error EACCES.*unauthenticated (BTNS)" <<<"$err"
tap_is "$(grep -c "$m1" "$recv")" 0 "b's application received nothing from c"
tap_is "$(grep -c '^accepted' "$LAB_DIR/auth.log")" 0 "nothing was accepted as authenticated"

# ---- b: an anchor-issued certificate claiming a.example: refused by IKE (name constraints)
lab_btns_cert d "C=CH, O=latch-lab, CN=a.example" a.example
lab_btns_conn d b spoof a.example
lab_charon_start d
lab_load d >/dev/null
tap_not "d's IKE as a.example under the public anchor fails" lab_initiate d spoof
tap_ok "b's charon refused it for the anchor's name constraints" \
	grep -q 'does not match permitted name constraint' "$(lab_dir b)/charon.log"
tap_is "$(lab_latchctl b --json list | grep -c 'a.example')" 0 "b has no latch with 'a.example'"

# ---- c: a valid BTNS name that spells a.example
lab_charon_stop d
lab_btns_cert d "O=BTNS, CN=a.example"
lab_btns_conn d b spoof "O=BTNS, CN=a.example"
lab_charon_start d
lab_load d >/dev/null
tap_ok "d's IKE as 'O=BTNS, CN=a.example' succeeds: a BTNS peer, nothing more" lab_initiate d spoof
m3="BTNS3C-$RANDOM$RANDOM"
pcap=$(lab_pcap s3c)
lab_capture_start b "$pcap"
lab_exec d python3 "$LAB_LIB_DIR/flow.py" send "$(lab_ip b)" 8080 "$m3" --count 3 \
	--interval 0.1 --connect-timeout 3 >/dev/null 2>&1
lab_wait_count 100 2 '^accept-error' "$LAB_DIR/auth.log"
lab_capture_stop "$pcap"
err=$(grep '^accept-error' "$LAB_DIR/auth.log" | tail -n 1)
tap_diag "b: $err"
tap_ok "b's authenticated listener refuses d (BTNS, whatever its name)" \
	grep -q "accept-error EACCES.*'O=BTNS, CN=a.example' is unauthenticated (BTNS)" <<<"$err"
tap_is "$(grep -c "$m3" "$recv")" 0 "b's application received nothing from d"
tap_cmp "$(lab_pcap_esp "$pcap")" -ge 1 "d's flow came as ESP (the SA was up)"
# A client token naming a.example, over d's BTNS SA with b (b is the client
# here). d listens on 7000, and b reaches it when BTNS is all it asks: a refusal
# below is the token's, never a closed port's or a missing SA's.
lab_bg d "$LAB_DIR/d-sink.log" python3 "$LAB_LIB_DIR/flow.py" sink 7000 "$LAB_DIR/d-recv"
lab_wait 100 lab_listening d 7000
out=$(lab_probe b connect "$(lab_ip d)" 7000 --btns --marker "BTNS3OK-$RANDOM" --sport 41002)
tap_diag "b to d admitting BTNS: $out"
tap_ok "b reaches d's port 7000 over d's BTNS SA when it admits BTNS peers" \
	grep -q 'peer_auth=BTNS' <<<"$out"
m4="BTNS3D-$RANDOM$RANDOM"
pcap=$(lab_pcap s3d)
lab_capture_start b "$pcap"
out=$(lab_probe b connect "$(lab_ip d)" 7000 --peer-id a.example --marker "$m4" --sport 41003)
lab_capture_stop "$pcap"
tap_diag "b to d naming a.example: $out"
tap_ok "a token naming a.example is refused over d's BTNS SA, as unauthenticated" \
	grep -q '^error EACCES.*unauthenticated (BTNS)' <<<"$out"
m5="BTNS3E-$RANDOM$RANDOM"
out=$(lab_probe b connect "$(lab_ip d)" 7000 --peer-ca "$ca_dn" --btns --marker "$m5" --sport 41004)
tap_diag "b to d naming the CA (and allowing BTNS): $out"
tap_ok "nor one naming the real CA, even with PEER_BTNS" grep -q '^error EACCES' <<<"$out"
tap_is "$(cat "$LAB_DIR/d-recv" 2>/dev/null | grep -c -e "$m4" -e "$m5")" 0 \
	"d received nothing of the refused flows"
tap_is "$(lab_pcap_clear "$pcap" "$m4")" 0 "nothing of the refused flow crossed in clear"
tap_done
