#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The native API's examples (examples/native-{client,server}.c) on the lab:
# a on 192.0.2.1 (a.example) latches a TCP connection to b's server (b.example),
# naming b; both print the peer's certificate subject, authentication method,
# pubKeyID and channel binding. The binding is equal on both ends, the pubKeyIDs
# are the peers' SPKI hashes, ESP is on the wire and the message never in clear.
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

ex=$LAB_BUILD/examples
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

lab_bg b "$LAB_DIR/server.log" env LATCH_SOCKET="$(lab_latchd_sock b)" "$ex/native-server" 8080
lab_wait 100 grep -q '^listening' "$LAB_DIR/server.log"
tap_ok "native-server latches its listener" grep -q '^listening' "$LAB_DIR/server.log"

marker="NATIVE-$RANDOM$RANDOM"
pcap=$(lab_pcap native)
lab_capture_start a "$pcap"
out=$(lab_as_latch a "$ex/native-client" "$(lab_ip b)" 8080 b.example "$marker" 2>&1)
lab_wait 50 grep -q '^peer' "$LAB_DIR/server.log"
lab_capture_stop "$pcap"
srv=$(grep '^peer' "$LAB_DIR/server.log")
tap_diag "client: $out"
tap_diag "server: $srv"
tap_ok "latch_connect succeeds and the client learns b.example by certificate" \
	grep -q '^peer id=b.example subject=C=CH, O=latch-lab, CN=b.example auth=PKIX_TRUSTED' <<<"$out"
tap_is "$(grep -o 'pubkey=[0-9a-f]*' <<<"$out" | cut -d= -f2)" \
	"$(lab_spki_sha256 "$LAB_DIR/pki/b.pem")" "the client's pubKeyID of b is b's SPKI hash"
tap_ok "latch_accept gives the server a.example by certificate" \
	grep -q '^peer id=a.example subject=C=CH, O=latch-lab, CN=a.example auth=PKIX_TRUSTED' <<<"$srv"
tap_is "$(grep -o 'pubkey=[0-9a-f]*' <<<"$srv" | cut -d= -f2)" \
	"$(lab_spki_sha256 "$LAB_DIR/pki/a.pem")" "the server's pubKeyID of a is a's SPKI hash"
cb_a=$(grep -o ' cb=[0-9a-f]*' <<<"$out" | cut -d= -f2)
cb_b=$(grep -o ' cb=[0-9a-f]*' <<<"$srv" | cut -d= -f2)
tap_ok "the client has a channel binding" test -n "$cb_a"
tap_is "$cb_b" "$cb_a" "the channel binding is equal on both ends"
tap_ok "the server echoed the message" grep -q "^answer $marker" <<<"$out"
tap_cmp "$(lab_pcap_esp "$pcap")" -ge 2 "the connection crossed as ESP"
tap_is "$(lab_pcap_clear "$pcap" "$marker")" 0 "the message never appears in clear"
tap_is "$(lab_pcap_count "$pcap" 'tcp port 8080')" 0 "no TCP segment of it in clear"

# b named wrongly: refused for being b — latchd judges the SA before the first
# segment leaves, so no closed port or lost packet can produce this answer.
wrong="WRONG-$RANDOM$RANDOM"
pcap=$(lab_pcap native-wrong)
lab_capture_start a "$pcap"
out=$(lab_as_latch a "$ex/native-client" "$(lab_ip b)" 8080 c.example "$wrong" 2>&1)
lab_capture_stop "$pcap"
tap_diag "wrong peer: $out"
tap_ok "naming the wrong peer fails latch_connect with EACCES, saying who the peer was" \
	grep -q "^latch_connect: Permission denied: the peer authenticated as 'b.example', not as 'c.example'" <<<"$out"
tap_is "$(lab_pcap_clear "$pcap" "$wrong")" 0 "nothing of it crossed in clear"
tap_is "$(lab_pcap_count "$pcap" 'tcp port 8080')" 0 "not one TCP segment of it in clear"
tap_done
