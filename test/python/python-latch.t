#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Python's latch package (python/, issue 16) on the lab, against real charons
# and latchds, through python-probe.py:
#   1. a blocking client on a and server on b print each other's identity (by
#      certificate, the pubKeyIDs are the SPKI hashes) and the same channel
#      binding; the server's latch.query answers the same latch from liblatch's
#      cache while b's latchd is stopped (SIGSTOP);
#      latch.attach, then the program's own connect, gives the same;
#   2. naming the wrong peer raises latch.PeerRefused with latchd's words;
#   3. an asyncio client and server (connect_async, accept_async) do the same,
#      the server greeting its peer by the certificate's subject;
#   the examples: examples/python/client.py against echo_async.py;
#   4. a takeover (c takes b's address and brings up IPsec with a as c.example)
#      reaches an asyncio client as a BROKEN event, resets its stream, and its
#      next latch.query raises latch.Broken; a blocking events() iterator
#      watching every latch sees it too;
#   5. with a's latchd stopped, latch.connect raises latch.DaemonUnavailable.
# A capture on a's link shows ESP and never a marker or a segment in clear; c
# decrypts nothing of the client's stream.
#
#   a 192.0.2.1 a.example   b 192.0.2.2 b.example   c 192.0.2.3 c.example (plain charon)
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

probe=$(cd "$(dirname "$0")" && pwd)/python-probe.py
py=${LATCH_PYTHON:-python3}
# py_bg HOST LOG ARGS...: the probe in the background on HOST, as its latchd's client
py_bg() {
	local host=$1 log=$2
	shift 2
	lab_bg "$host" "$log" env LATCH_SOCKET="$(lab_latchd_sock "$host")" \
		PYTHONPATH="$LAB_BUILD/python" "$py" "$probe" "$@"
}
py_run() {
	local host=$1
	shift
	lab_as_latch "$host" env PYTHONPATH="$LAB_BUILD/python" timeout 90 "$py" "$probe" "$@" 2>&1
}
field() { grep -o " $1=[^ ]*" | head -1 | cut -d= -f2; }

lab_init
lab_latch_host a 1
lab_latch_host b 2
lab_host c 3
lab_ca ca
for h in a b c; do lab_cert "$h" ca "$h.example"; done
for h in a b; do
	lab_charon_start "$h"
	lab_latchd_start "$h"
done
lab_charon_start c

wire=$(lab_pcap wire-a)
lab_capture_start a "$wire"

# 1. blocking
py_bg b "$LAB_DIR/server.log" server 8080 --pause "$LAB_DIR/go" --count 2
lab_wait_count 100 1 '^listening' "$LAB_DIR/server.log"
tap_ok "latch.listen latches b's listener" grep -q '^listening' "$LAB_DIR/server.log"
m1="PYBLOCK-$RANDOM$RANDOM"
py_bg a "$LAB_DIR/client.log" client "$(lab_ip b)" 8080 b.example "$m1"
client=$LAB_PID
# latchd on b stopped while the server queries its connection's latch: only
# liblatch's cache can answer (asking latchd would time out after 3 s)
lab_wait_count 150 1 '^peer' "$LAB_DIR/server.log"
kill -STOP "$(lab_latchd_pid b)"
touch "$LAB_DIR/go"
lab_wait_count 50 1 '^query\|^error' "$LAB_DIR/server.log"
kill -CONT "$(lab_latchd_pid b)"
lab_wait_gone "$client" 150
out=$(cat "$LAB_DIR/client.log")
srv=$(cat "$LAB_DIR/server.log")
tap_diag "client: $out"
tap_diag "server: $srv"
tap_ok "latch.connect: the client learns b.example by certificate" \
	grep -q '^peer id=b.example subject=C=CH, O=latch-lab, CN=b.example issuer=C=CH, O=latch-lab, CN=ca CA auth=PKIX_TRUSTED' <<<"$out"
tap_is "$(field pubkey <<<"$out")" "$(lab_spki_sha256 "$LAB_DIR/pki/b.pem")" \
	"info.remote.pubkey_sha256 is b's SPKI hash"
tap_is "$(field cert <<<"$out")" \
	"$(openssl x509 -in "$LAB_DIR/pki/b.pem" -outform DER | sha256sum | cut -d' ' -f1)" \
	"info.remote.cert_der is b's certificate (DER)"
tap_ok "latch.accept: the server learns a.example by certificate" \
	grep -q '^peer id=a.example subject=C=CH, O=latch-lab, CN=a.example .*auth=PKIX_TRUSTED' <<<"$srv"
tap_is "$(field pubkey <<<"$srv")" "$(lab_spki_sha256 "$LAB_DIR/pki/a.pem")" \
	"the server's pubkey_sha256 of a is a's SPKI hash"
cb_a=$(field cb <<<"$out")
tap_ok "the client has a 32-byte channel binding" test "${#cb_a}" -eq 64
tap_is "$(field cb <<<"$srv")" "$cb_a" "info.channel_binding is equal on both ends"
tap_ok "both latches are ESTABLISHED" test "$(grep -c 'state=ESTABLISHED' <<<"$out$srv")" -eq 2
tap_ok "latch.query(conn) on the server answers the same latch, from the cache (latchd stopped)" \
	grep -q '^query same' <<<"$srv"
tap_ok "the server greeted a by its subject and echoed the marker" \
	grep -q "^answer $m1" <<<"$out"

# latch.attach: the program connects by itself (a second connection to the server)
m5="PYATTACH-$RANDOM$RANDOM"
out=$(py_run a attach "$(lab_ip b)" 8080 b.example "$m5")
tap_diag "attach: $(tr '\n' ' ' <<<"$out")"
tap_ok "latch.attach leaves the latch LARVAL until the program connects" \
	grep -q '^attached state=LARVAL' <<<"$out"
tap_ok "after its own sock.connect, latch.query gives b.example by certificate" \
	grep -q '^peer id=b.example .*auth=PKIX_TRUSTED .*state=ESTABLISHED' <<<"$out"
tap_ok "and the connection carries the message" grep -q "^answer $m5" <<<"$out"

# 2. the wrong peer
out=$(py_run a client "$(lab_ip b)" 8080 c.example "never-$RANDOM")
tap_diag "wrong peer: $out"
tap_ok "naming c.example for b raises PeerRefused" grep -q '^error PeerRefused errno=1[3]\? ' <<<"$out"
tap_ok "it carries latchd's words" grep -q '^error PeerRefused .*words=.\+' <<<"$out"

# 3. asyncio
py_bg b "$LAB_DIR/aserver.log" server 8081 --async
lab_wait_count 100 1 '^listening' "$LAB_DIR/aserver.log"
m2="PYASYNC-$RANDOM$RANDOM"
out=$(py_run a client "$(lab_ip b)" 8081 b.example "$m2" --async)
lab_wait_count 50 1 '^peer' "$LAB_DIR/aserver.log"
srv=$(cat "$LAB_DIR/aserver.log")
tap_diag "async client: $out"
tap_diag "async server: $srv"
tap_ok "connect_async learns b.example by certificate" \
	grep -q '^peer id=b.example .*auth=PKIX_TRUSTED' <<<"$out"
tap_ok "accept_async learns a.example by certificate" \
	grep -q '^peer id=a.example .*auth=PKIX_TRUSTED' <<<"$srv"
tap_is "$(field cb <<<"$srv")" "$(field cb <<<"$out")" "the same channel binding on both ends"
tap_ok "the asyncio server greets its peer by subject" \
	grep -q '^greeting hello C=CH, O=latch-lab, CN=a.example' <<<"$out"
tap_ok "and echoes the marker" grep -q "^answer $m2" <<<"$out"

# the examples (examples/python/): the asyncio echo server and the client
ex=$(cd "$(dirname "$0")/../../examples/python" && pwd)
lab_bg b "$LAB_DIR/echo.log" env LATCH_SOCKET="$(lab_latchd_sock b)" \
	PYTHONPATH="$LAB_BUILD/python" "$py" "$ex/echo_async.py" 8083
lab_wait_count 100 1 '^listening' "$LAB_DIR/echo.log"
m4="PYEXAMPLE-$RANDOM$RANDOM"
out=$(lab_as_latch a env PYTHONPATH="$LAB_BUILD/python" timeout 90 "$py" "$ex/client.py" \
	"$(lab_ip b)" 8083 b.example "$m4" 2>&1)
lab_wait_count 50 1 '^peer' "$LAB_DIR/echo.log"
tap_diag "example client: $(tr '\n' ' ' <<<"$out")"
tap_ok "examples: client.py is greeted by echo_async.py with its subject" \
	grep -q '^answer hello C=CH, O=latch-lab, CN=a.example' <<<"$out"
tap_ok "examples: and its message comes back" grep -q "^answer $m4" <<<"$out"
tap_ok "examples: echo_async.py printed its peer's subject" \
	grep -q '^peer C=CH, O=latch-lab, CN=a.example' "$LAB_DIR/echo.log"

# 4. a takeover while an asyncio client streams to b
lab_latch_server a 9000 "$LAB_DIR/a-server.log" # so that c can bring up an SA with a at all
py_bg b "$LAB_DIR/sserver.log" server 8082
lab_wait_count 100 1 '^listening' "$LAB_DIR/sserver.log"
m3="PYSTREAM-$RANDOM$RANDOM"
py_bg a "$LAB_DIR/watch.log" watch 20 # latch.Context().events(), blocking, for every latch
lab_wait_count 50 1 '^watching' "$LAB_DIR/watch.log"
py_bg a "$LAB_DIR/stream.log" stream "$(lab_ip b)" 8082 b.example "$m3"
client=$LAB_PID
lab_wait_count 150 1 '^peer' "$LAB_DIR/stream.log"
tap_ok "the asyncio client's stream to b is up" grep -q '^peer id=b.example' "$LAB_DIR/stream.log"
sleep 1
lab_capture_inner c "$(lab_pcap c-inner)"
tap_ok "c takes b's address and establishes IPsec with a as c.example" lab_takeover c b a
lab_wait_gone "$client" 300
lab_capture_stop "$(lab_pcap c-inner)"
out=$(cat "$LAB_DIR/stream.log")
tap_diag "stream: $(tr '\n' ' ' <<<"$out")"
tap_ok "the BROKEN event reaches the asyncio application (conflicting SA)" \
	grep -q '^event id=[1-9][0-9]* state=BROKEN reason=SA_CONFLICT' <<<"$out"
tap_ok "a blocking Context().events() watching every latch saw the BROKEN too" \
	grep -q '^event id=[1-9][0-9]* state=BROKEN reason=SA_CONFLICT' "$LAB_DIR/watch.log"
tap_ok "its stream is reset" grep -q '^stream Connection\(Reset\|Aborted\)Error\|^stream BrokenPipeError' <<<"$out"
tap_ok "its next query (by latch id: the transport closed the socket) raises Broken" grep -q '^query error Broken errno=103 words=latch [0-9]* broke (SA_CONFLICT)' <<<"$out"
tap_is "$(lab_pcap_clear "$(lab_pcap c-inner)" "$m3")" 0 "c decrypted nothing of the stream"
tap_is "$(lab_pcap_count "$(lab_pcap c-inner)" 'tcp port 8082')" 0 \
	"not one segment of the latched flow reached c under its SA"

# 5. latchd gone
lab_latchd_stop a
out=$(py_run a client "$(lab_ip b)" 8080 b.example "never-$RANDOM")
tap_diag "no latchd: $out"
tap_ok "with latchd stopped, latch.connect raises DaemonUnavailable (ESRCH)" \
	grep -q '^error DaemonUnavailable errno=3 ' <<<"$out"

lab_capture_stop "$wire"
tap_cmp "$(lab_pcap_esp "$wire")" -ge 4 "the connections crossed a's link as ESP"
for m in "$m1" "$m2" "$m3" "$m4" "$m5"; do
	tap_is "$(lab_pcap_clear "$wire" "$m")" 0 "marker ${m%%-*} never in clear on a's link"
done
tap_is "$(lab_pcap_count "$wire" 'tcp and (port 8080 or port 8081 or port 8082 or port 8083)')" 0 \
	"no TCP segment of a latched flow in clear on a's link"
tap_done
