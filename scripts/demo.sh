#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# make demo: two lab hosts, each with its own charon and latchd. A server on b
# and a client on a use latch's native API (test/integration/latch-probe.c):
# the client latches its connection to b naming b's identity; both ends show
# the identity the other proved, the protection in force and the same channel
# binding; the capture shows ESP on the wire. Then a third host takes over b's
# address under another identity: the latch breaks, the client is told and
# its connection is reset, and nothing reaches the impostor. Everything is
# torn down at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export LATCH_BUILD_ROOT=${1:-$here/build}
[[ $LATCH_BUILD_ROOT = /* ]] || LATCH_BUILD_ROOT=$here/$LATCH_BUILD_ROOT
source "$here/test/lab/lab.sh"

say() {
	printf '\n\033[1m== %s\033[0m\n' "$*"
}

# probe output "key=value key=\"v w\" …" → one "  key: value" line per field wanted
fields() {
	local line=$1 key
	shift
	for key in "$@"; do
		grep -o " $key=\(\"[^\"]*\"\|[^ ]*\)" <<<" $line" | sed "s/^ $key=/  $key: /; s/\"//g"
	done
}

lab_init
say "three hosts on one link; a and b run charon + latchd, c runs a plain charon"
lab_latch_host a 1
lab_latch_host b 2
lab_host c 3
lab_ca ca
lab_cert a ca a.example
lab_cert b ca b.example
lab_cert c ca c.example
for h in a b; do
	lab_charon_start "$h"
	lab_latchd_start "$h"
done
lab_charon_start c
echo "a = $(lab_ip a) (a.example)   b = $(lab_ip b) (b.example)   c = $(lab_ip c) (c.example)"
echo "one CA: $(openssl x509 -in "$LAB_DIR/pki/ca.pem" -noout -subject | sed 's/^subject=//')"

say "b: a server latches its listener (peers of the CA only)"
lab_latch_server b 8080 "$LAB_DIR/server.log" --out "$LAB_DIR/recv"
lab_latch_server a 9000 "$LAB_DIR/a-server.log"
lab_latchctl b list

say "a: a client latches a TCP connection to b, naming b.example, and writes a line every 200 ms"
marker="hello-from-a-$RANDOM"
wire=$(lab_pcap wire)
lab_capture_start a "$wire"
lab_probe_bg a "$LAB_DIR/client.log" connect "$(lab_ip b)" 8080 --peer-id b.example \
	--marker "$marker" --count 100 --interval 200
client=$LAB_PID
lab_wait_count 100 3 "$marker" "$LAB_DIR/recv"
latched=$(grep '^latched' "$LAB_DIR/client.log")
accepted=$(grep '^accepted' "$LAB_DIR/server.log")
echo "what the client on a learned about its peer:"
fields "$latched" peer_id peer_auth peer_subject peer_issuer peer_pubkey
echo "what the server on b learned about its peer:"
fields "$accepted" peer_id peer_auth peer_subject peer_issuer peer_pubkey
echo "protection in force (a):"
fields "$latched" encr spi_out shared
echo "channel binding (ipsec-end-point-sha256), on a and on b:"
fields "$latched" cb
fields "$accepted" cb

say "latchctl on a"
lab_latchctl a list
say "what the wire shows between a and b"
lab_capture_stop "$wire"
lab_pcap_show "$wire" "$LAB_F_ESP" | head -n 3
echo "ESP packets: $(lab_pcap_esp "$wire"); copies of '$marker' in clear: $(lab_pcap_clear "$wire" "$marker")"
echo "b received: $(head -n 3 "$LAB_DIR/recv" | tr '\n' ' ')…"

say "takeover: c takes b's address and brings up IPsec with a as c.example"
lab_bg a "$LAB_DIR/watch.log" "$(lab_latchctl_bin)" --socket "$(lab_latchd_sock a)" watch
inner=$(lab_pcap c-inner)
lab_capture_start c "$inner" ipsec0
lab_takeover c b a
lab_wait_gone "$client" 100
lab_capture_stop "$inner"
echo "latchctl watch on a:"
sed 's/^/  /' "$LAB_DIR/watch.log"
echo "the client on a:"
grep -v '^latched' "$LAB_DIR/client.log" | sed 's/^/  /'
echo "what c decrypted of the client's stream: $(lab_pcap_clear "$inner" "$marker") lines"

say "done: tearing the lab down"
