#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# make demo: two lab hosts with their own charon establish IPsec, a message
# crosses, and the demo shows the SA, the identities each side authenticated
# and the capture proving ESP on the wire. Everything is torn down at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/test/lab/lab.sh"

say() {
	printf '\n\033[1m== %s\033[0m\n' "$*"
}

lab_init
say "two hosts on one link, each in its own network namespace with its own charon"
lab_host a 1
lab_host b 2
lab_ca ca
lab_cert a ca a.example
lab_cert b ca b.example
lab_conn_host2host a b b.example
lab_conn_host2host b a a.example
lab_charon_start a
lab_charon_start b
lab_load a >/dev/null
lab_load b >/dev/null
echo "a = $(lab_ip a) (a.example)    b = $(lab_ip b) (b.example)    CA: $(
	openssl x509 -in "$LAB_DIR/pki/ca.pem" -noout -subject | sed 's/^subject=//'
)"

say "a initiates IKEv2 with b (certificates, CA pinned on both sides)"
lab_initiate a b
lab_swanctl a --list-sas

say "identities each side authenticated"
for h in a b; do
	lab_swanctl "$h" --list-sas --raw | grep -o 'local-id=[^ ]* remote-host=[^ ]* remote-port=[^ ]* remote-id=[^ ]*' |
		sed "s/^/$h: /"
done

say "a message from a to b over TCP, with the link captured"
marker="hello-from-a-$RANDOM"
lab_bg b "$LAB_DIR/sink.log" python3 "$LAB_LIB_DIR/flow.py" sink 8080 "$LAB_DIR/recv"
lab_wait 50 lab_listening b 8080
pcap=$(lab_pcap demo)
lab_capture_start a "$pcap"
lab_exec a python3 "$LAB_LIB_DIR/flow.py" send "$(lab_ip b)" 8080 "$marker" >/dev/null
lab_wait 50 grep -q "$marker" "$LAB_DIR/recv"
lab_capture_stop "$pcap"
echo "b received: $(cat "$LAB_DIR/recv")"

say "what the wire showed"
lab_pcap_show "$pcap" "$LAB_F_ESP" | head -n 4
echo "ESP packets: $(lab_pcap_esp "$pcap"); cleartext copies of '$marker' on the wire: $(
	lab_pcap_clear "$pcap" "$marker"
)"

say "done: tearing the lab down"
