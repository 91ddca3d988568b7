#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The peer's certificate in DER through the native API
# (latch_ident_get_cert_der()): a (a.example) latches a connection to b's
# server (b.example); the client gets b's certificate, byte for byte the file
# b's charon sends (openssl x509 -outform DER), and the server a's. Nothing
# crosses in clear. (The chain is not carried: ENOENT past the first, test-client.)
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

lab_init
lab_latch_pair

der_hex() {
	openssl x509 -in "$1" -outform DER | od -An -v -tx1 | tr -d ' \n'
}

recv=$LAB_DIR/recv
lab_probe_bg b "$LAB_DIR/server.log" serve 8080 --out "$recv"
lab_wait 100 grep -q '^listening' "$LAB_DIR/server.log"
tap_ok "b's server latches its listener" grep -q '^listening port=8080' "$LAB_DIR/server.log"

marker="CERTDER-$RANDOM$RANDOM"
pcap=$(lab_pcap certder)
lab_capture_start a "$pcap"
out=$(lab_probe a connect "$(lab_ip b)" 8080 --peer-id b.example --marker "$marker" --count 2)
lab_wait_count 100 2 "$marker" "$recv"
lab_wait 50 grep -q '^accepted' "$LAB_DIR/server.log"
lab_capture_stop "$pcap"
srv=$(grep '^accepted' "$LAB_DIR/server.log" | head -n 1)
tap_diag "client: $(cut -c1-300 <<<"$out")"
tap_ok "a's connection is latched to b.example" grep -q '^latched id=[0-9]* state=2 .*peer_id="b.example"' <<<"$out"
got_b=$(grep -o 'peer_cert_der=[0-9a-f]*' <<<"$out" | head -n 1 | cut -d= -f2)
got_a=$(grep -o 'peer_cert_der=[0-9a-f]*' <<<"$srv" | cut -d= -f2)
want_b=$(der_hex "$LAB_DIR/pki/b.pem")
want_a=$(der_hex "$LAB_DIR/pki/a.pem")
tap_cmp "${#want_b}" -gt 200 "b's certificate file reads as DER"
tap_is "$got_b" "$want_b" "the client gets b's certificate, DER, equal to b's certificate file"
tap_is "$got_a" "$want_a" "the server gets a's certificate, DER, equal to a's certificate file"
tap_ok "the client's own end carries no certificate of the peer's" \
	bash -c '! grep -q local_cert_der= <<<"$1"' _ "$out"
tap_cmp "$(lab_pcap_esp "$pcap")" -ge 2 "the connection crossed as ESP"
tap_is "$(lab_pcap_clear "$pcap" "$marker")" 0 "the message never appears in clear"
tap_done
