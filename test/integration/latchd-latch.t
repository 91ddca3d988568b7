#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# latchd scenarios 1-3 (issue 5), each asserting on the wire.
#  1. a client latches a TCP connection to a server, naming the server's
#     certificate identity: both ends report each other's identity (ID,
#     certificate subject and issuer, pubKeyID) and the same channel binding;
#     ESP on the wire; the marker never in clear.
#  2. naming the wrong peer fails the connect with a clear error; nothing
#     crosses in clear.
#  3. a listener that admits only identities under one CA refuses a client
#     whose certificate comes from another CA.
#
#   a 192.0.2.1 a.example (CA ca)   b 192.0.2.2 b.example (CA ca)   c 192.0.2.3 c.example (CA other)
#   each: charon (libipsec, routing by mark) + latchd; no swanctl connections at all
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

lab_init
lab_latch_host a 1
lab_latch_host b 2
lab_latch_host c 3
lab_ca ca
lab_ca other
lab_cert a ca a.example
lab_cert b ca b.example
lab_cert c other c.example
lab_trust c ca # c trusts b's CA: only b decides
for h in a b c; do
	lab_charon_start "$h"
	lab_latchd_start "$h"
done

recv=$LAB_DIR/recv
lab_probe_bg b "$LAB_DIR/server.log" serve 8080 --out "$recv" --peer-ca "$LAB_CA_DN"
server=$LAB_PID
lab_wait 100 grep -q '^listening' "$LAB_DIR/server.log"
tap_ok "b's server latches its listener (LISTENER)" grep -q '^listening port=8080' "$LAB_DIR/server.log"

# ---- scenario 1
m1="LATCH1-$RANDOM$RANDOM"
pcap=$(lab_pcap s1)
lab_capture_start a "$pcap"
# The client holds its connection open after its 5 lines, so latchctl can see it
# (longer in the kernel lab: each latchctl takes a second or two under emulation).
lab_probe_bg a "$LAB_DIR/client1.log" connect "$(lab_ip b)" 8080 --peer-id b.example \
	--marker "$m1" --count 5 --interval 20 --hold "${LAB_HOLD_MS:-3000}"
client=$LAB_PID
lab_wait_count 100 5 "$m1" "$recv"
list_b=$(lab_latchctl b --json list)
list_a=$(lab_latchctl a list)
lab_wait_gone "$client" 100
lab_capture_stop "$pcap"
out=$(cat "$LAB_DIR/client1.log")
tap_diag "client: $(head -n 1 <<<"$out")"
tap_ok "a's latch_connect succeeds" grep -q '^latched id=[0-9]* state=2' <<<"$out"
tap_ok "a learns b's identity b.example, authenticated by certificate" \
	grep -q 'peer_id="b.example" peer_auth=PKIX_TRUSTED' <<<"$out"
tap_ok "a learns b's certificate subject and issuer" \
	grep -q 'peer_subject="C=CH, O=latch-lab, CN=b.example" peer_issuer="C=CH, O=latch-lab, CN=ca CA"' <<<"$out"
want_b=$(lab_spki_sha256 "$LAB_DIR/pki/b.pem")
tap_is "$(grep -m1 -o 'peer_pubkey=[0-9a-f]*' <<<"$out" | cut -d= -f2)" "$want_b" \
	"a's pubKeyID of b is the SHA-256 of b's SubjectPublicKeyInfo"
tap_is "$(grep -c "$m1" "$recv")" 5 "b received the 5 marker lines"
acc=$(grep '^accepted' "$LAB_DIR/server.log" | tail -n 1)
tap_diag "server: $acc"
tap_ok "b's accept latches the connection and learns a.example" \
	grep -q 'peer_id="a.example" peer_auth=PKIX_TRUSTED' <<<"$acc"
want_a=$(lab_spki_sha256 "$LAB_DIR/pki/a.pem")
tap_is "$(grep -m1 -o 'peer_pubkey=[0-9a-f]*' <<<"$acc" | cut -d= -f2)" "$want_a" \
	"b's pubKeyID of a is a's SPKI hash"
cb_a=$(grep -m1 -o ' cb=[0-9a-f]*' <<<"$out" | cut -d= -f2)
cb_b=$(grep -m1 -o ' cb=[0-9a-f]*' <<<"$acc" | cut -d= -f2)
tap_ok "a has a channel binding" test -n "$cb_a"
tap_is "$cb_b" "$cb_a" "both ends have the same channel binding"
tap_cmp "$(lab_pcap_esp "$pcap")" -ge 5 "the connection crossed as ESP"
tap_is "$(lab_pcap_clear "$pcap" "$m1")" 0 "the marker never appears in clear"
tap_is "$(lab_pcap_count "$pcap" 'tcp port 8080')" 0 "no TCP segment of it in clear"
tap_ok "latchctl on b lists the accepted latch, ESTABLISHED, with a.example" \
	grep -q '"state":"ESTABLISHED".*"remote_identity":{"id":"a.example"' <<<"$list_b"
tap_ok "and the listener" grep -q '"state":"LISTENER"' <<<"$list_b"
tap_ok "latchctl on a lists the latch to b.example" grep -q 'ESTABLISHED.*b.example' <<<"$list_a"
tap_ok "the connection ended cleanly after its hold" grep -q '^sent 5' <<<"$out"

# ---- scenario 2 (R29: a non-listener latch is refused while a conflicting SA
# exists — the SA with b.example that carried scenario 1 still covers the flow)
sas=$(lab_children a)
tap_diag "a's child SAs: $sas"
tap_ok "the conflicting SA exists: a has an installed child SA with b.example" \
	grep -q 'b\.example.* INSTALLED ' <<<"$sas"
m2="WRONG-$RANDOM$RANDOM"
pcap=$(lab_pcap s2)
lab_capture_start a "$pcap"
out=$(lab_probe a connect "$(lab_ip b)" 8080 --peer-id c.example --marker "$m2" --sport 41000)
lab_capture_stop "$pcap"
tap_diag "client: $out"
tap_ok "naming c.example for b fails the connect with EACCES" grep -q '^error EACCES' <<<"$out"
tap_ok "the error says who the peer was" grep -q 'b.example' <<<"$out"
tap_is "$(lab_pcap_clear "$pcap" "$m2")" 0 "the marker never crossed in clear"
tap_is "$(lab_pcap_count "$pcap" 'tcp port 41000')" 0 "no segment of the refused flow on the wire"
tap_is "$(grep -c "$m2" "$recv")" 0 "b received nothing of it"
tap_is "$(lab_children a | grep -c 'c\.example')" 0 "no SA with c.example was made for it"

# ---- scenario 3
m3="OTHERCA-$RANDOM$RANDOM"
pcap=$(lab_pcap s3)
lab_capture_start c "$pcap"
out=$(lab_probe c connect "$(lab_ip b)" 8080 --peer-id b.example --marker "$m3")
lab_capture_stop "$pcap"
tap_diag "client c: $out"
tap_ok "c (certificate from another CA) cannot latch to b's listener" grep -q '^error' <<<"$out"
tap_is "$(lab_pcap_clear "$pcap" "$m3")" 0 "nothing of c's flow in clear"
tap_is "$(grep -c "$m3" "$recv")" 0 "b's server received nothing from c"

tap_ok "b's server is still serving" kill -0 "$server"
tap_done
