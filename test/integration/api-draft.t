#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The draft API's examples (examples/draft-{client,server}.c: programs written
# only to draft-ietf-btns-c-api-04) on the lab.
#  1. draft-server on b (pToken on the listener, plain accept, peer from the
#     accepted socket's pToken) with native-client on a: the server reads a's
#     certificate subject, authentication method, pubKeyID and a channel
#     binding equal to the client's; ESP on the wire, nothing in clear.
#  2. draft-client on a (pToken, then its own plain connect) with draft-server:
#     latchd's ATTACH holds the first segment until the SA is up; both ends
#     read each other, the same channel binding, ESP on the wire.
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

start_server() {
	lab_bg b "$LAB_DIR/$1.log" env LATCH_SOCKET="$(lab_latchd_sock b)" "$ex/draft-server" "$2"
	lab_wait 100 grep -q '^listening' "$LAB_DIR/$1.log"
}

# ---- 1
start_server server1 8080
tap_ok "draft-server: ipsec_set_socket_pToken on its listener" grep -q '^listening' "$LAB_DIR/server1.log"
marker="DRAFT-$RANDOM$RANDOM"
pcap=$(lab_pcap draft1)
lab_capture_start a "$pcap"
out=$(lab_as_latch a "$ex/native-client" "$(lab_ip b)" 8080 b.example "$marker" 2>&1)
lab_wait 50 grep -q '^peer' "$LAB_DIR/server1.log"
lab_capture_stop "$pcap"
srv=$(grep '^peer' "$LAB_DIR/server1.log")
tap_diag "client: $out"
tap_diag "server: $srv"
tap_ok "the draft server reads a's certificate subject" \
	grep -q '^peer subject=C=CH, O=latch-lab, CN=a.example ' <<<"$srv"
tap_ok "and its authentication method, authMeth_PKIX_TRUSTED (0x207)" grep -q ' auth=0x207 ' <<<"$srv"
tap_is "$(grep -o 'pubkey=[0-9a-f]*' <<<"$srv" | cut -d= -f2)" \
	"$(lab_spki_sha256 "$LAB_DIR/pki/a.pem")" "its pubKeyID is a's SPKI hash"
cb_a=$(grep -o ' cb=[0-9a-f]*' <<<"$out" | cut -d= -f2)
cb_b=$(grep -o ' cb=[0-9a-f]*' <<<"$srv" | cut -d= -f2)
tap_ok "the server has a channel binding" test -n "$cb_b"
tap_is "$cb_b" "$cb_a" "the channel binding is equal on both ends"
tap_cmp "$(lab_pcap_esp "$pcap")" -ge 2 "the connection crossed as ESP"
tap_is "$(lab_pcap_clear "$pcap" "$marker")" 0 "the message never appears in clear"

# ---- 2
start_server server2 8081
marker="DRAFTC-$RANDOM$RANDOM"
pcap=$(lab_pcap draft2)
lab_capture_start a "$pcap"
out=$(lab_as_latch a timeout 20 "$ex/draft-client" "$(lab_ip b)" 8081 "$marker" 2>&1)
lab_capture_stop "$pcap"
tap_diag "draft client: $out"
tap_is "$(lab_pcap_clear "$pcap" "$marker")" 0 "draft client: the message never appears in clear"
tap_ok "draft client: a protected connection from a plain connect(2)" \
	grep -q '^peer subject=C=CH, O=latch-lab, CN=b.example auth=0x207 pubkey=' <<<"$out"
tap_ok "draft client: the server echoed the message" grep -q "^answer $marker" <<<"$out"
srv=$(grep '^peer' "$LAB_DIR/server2.log")
tap_ok "draft client: the server read a's certificate DN" \
	grep -q '^peer subject=C=CH, O=latch-lab, CN=a.example auth=0x207 ' <<<"$srv"
tap_ok "draft client: a channel binding" grep -qE ' cb=[0-9a-f]{64}' <<<"$out"
tap_is "$(grep -o ' cb=[0-9a-f]*' <<<"$srv" | cut -d= -f2)" \
	"$(grep -o ' cb=[0-9a-f]*' <<<"$out" | cut -d= -f2)" "draft client: equal channel bindings"
tap_cmp "$(lab_pcap_esp "$pcap")" -ge 2 "draft client: ESP on the wire"
tap_done
