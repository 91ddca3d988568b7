#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Issue 13, item 7: one process name must not hide every latch from the
# administrator. An unprivileged user's program whose name (comm) holds an
# escape, a newline, a byte that is no UTF-8 and a character cut by comm's 15
# bytes makes a latch; a peer's certificate names its subject with an escape,
# a C1 control (CSI) and a right-to-left override. latchd cleans both where
# they enter (src/shared/text.h); root's latchctl list, show, peers and their
# --json all work, show every latch, and print clean text; latchd's log line
# about the owner stays one line. (No kernel twin: nothing here touches the
# data plane, whose enforcement is the same for any name.)
#
#   a 192.0.2.1 a.example: root's client latch, the user's listener   b 192.0.2.2: odd certificate
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"
raw_client=$(cd "$(dirname "$0")" && pwd)/rawclient.py

# odd_cert HOST CA ID CN: like lab_cert, made by openssl with a subject CN of any bytes.
odd_cert() {
	local host=$1 ca=$2 id=$3 cn=$4 pki dir
	pki=$(lab_pki_dir)
	dir=$(lab_dir "$host")
	[ -d "$dir/swanctl" ] || lab_charon_conf "$host"
	openssl ecparam -name prime256v1 -genkey -noout -out "$pki/$host.key" 2>/dev/null
	openssl req -new -utf8 -key "$pki/$host.key" -subj "/C=CH/O=latch-lab/CN=$cn" \
		-out "$pki/$host.csr" || lab_die "openssl req"
	printf 'subjectAltName = DNS:%s\n' "$id" >"$pki/$host.ext"
	openssl x509 -req -in "$pki/$host.csr" -CA "$pki/$ca.pem" -CAkey "$pki/$ca.key" \
		-days 30 -extfile "$pki/$host.ext" -out "$pki/$host.pem" 2>/dev/null ||
		lab_die "openssl x509"
	cp "$pki/$host.key" "$dir/swanctl/private/$host.pem"
	cp "$pki/$host.pem" "$dir/swanctl/x509/$host.pem"
	echo "$id" >"$dir/id"
	echo "$ca" >"$dir/ca"
	lab_trust "$host" "$ca"
}

# Every line clean text (shared/text.h): python3 says which is not.
clean_lines() {
	python3 -c '
import sys
bad = 0
for n, line in enumerate(sys.stdin.buffer.read().split(b"\n"), 1):
    try:
        t = line.decode("utf-8")
    except UnicodeDecodeError:
        t = None
    if t is None or any(ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f or 0x2028 <= ord(c) <= 0x202e
                        or 0x2066 <= ord(c) <= 0x2069 for c in t):
        print(f"line {n} is no clean text: {line!r}", file=sys.stderr)
        bad += 1
sys.exit(bad > 0)'
}

lab_init
lab_latch_host a 1
lab_latch_host b 2
lab_ca ca
lab_cert a ca a.example
odd_cert b ca b.example $'b\e[31m\xc2\x9b\xe2\x80\xaeelpmaxe'
for h in a b; do
	lab_charon_start "$h"
	lab_latchd_start "$h"
done
lab_latch_server b 8080 "$LAB_DIR/server.log" --out "$LAB_DIR/recv"

# Root's client: a latch whose peer presented the odd certificate, its flow watched on the wire.
wire=$(lab_pcap wire)
lab_capture_start a "$wire"
lab_probe_bg a "$LAB_DIR/client.log" connect "$(lab_ip b)" 8080 --peer-id b.example \
	--sport 42001 --marker NAMESMARK --count 3 --hold 60000
lab_wait_count 100 1 '^latched' "$LAB_DIR/client.log" || lab_die "root's client did not latch"
lab_wait_count 100 3 NAMESMARK "$LAB_DIR/recv" || lab_die "the server did not receive the markers"
lab_capture_stop "$wire"
client_id=$(grep -o '^latched id=[0-9]*' "$LAB_DIR/client.log" | cut -d= -f2)

# The user's programs, run by a name they chose: comm keeps 15 bytes, cutting the 'é'.
# One ignores latchd's answers and keeps its latch (python3 speaking the protocol
# itself); the other is a liblatch application, which must understand its answers.
probe=$(lab_user_bin "$(lab_probe_bin)")
oddname=$'\e[31mx\ny\xffprobe\xc3\xa9-and-more'
mkdir -p "$LAB_DIR/ubin/py"
cp "$raw_client" "$LAB_DIR/ubin/py/rawclient.py"
ln -s "$(readlink -f /usr/bin/python3)" "$LAB_DIR/ubin/py/$oddname"
ln -s "$probe" "$(dirname "$probe")/$oddname"
chmod -R a+rX "$LAB_DIR/ubin"
lab_as_user_bg a "$LAB_DIR/holder.log" 65534 "$LAB_DIR/ubin/py/$oddname" \
	"$LAB_DIR/ubin/py/rawclient.py" "$(lab_latchd_sock a)" listen-keep 9090
user_pid=$LAB_PID
lab_wait_count 100 1 '^listen status=' "$LAB_DIR/holder.log" || lab_die "the user's holder got no answer"
tap_is "$(od -An -tx1 "/proc/$user_pid/comm" | tr -d ' \n')" \
	1b5b33316d780a79ff70726f6265c30a "the user's program is named ESC [31m x LF y 0xff probe 0xc3"
tap_ok "its LISTEN made a latch ($(cat "$LAB_DIR/holder.log"))" grep -q '^listen status=0$' "$LAB_DIR/holder.log"
lab_as_user_bg a "$LAB_DIR/user.log" 65534 "$(dirname "$probe")/$oddname" serve 9091 \
	--peer-ca "$LAB_CA_DN"
tap_ok "the user's liblatch program of that name is answered and listens" \
	lab_wait_count 100 1 '^listening' "$LAB_DIR/user.log"
want_prog='\x1b[31mx\x0ay\xffprobe\xc3'
# OpenSSL writes the escape as \1B (RFC 2253); latchd cleans the rest.
want_subject='C=CH, O=latch-lab, CN=b\1B[31m\xc2\x9b\xe2\x80\xaeelpmaxe'

# ---- what latchd sends, before any client cleans it
raw=$(lab_exec a python3 "$raw_client" "$(lab_latchd_sock a)" strings)
tap_is "$?" 0 "latchd sends only clean text (every string of LIST and PEER_LIST)"
tap_is "$(grep -cxF "NAME $want_prog" <<<"$raw")" 2 "latchd sends the program name cleaned"
tap_ok "latchd sends the certificate's subject cleaned" \
	grep -qxF "IDENT_CERT_SUBJECT $want_subject" <<<"$raw"

# ---- root's latchctl: every latch, clean text
list=$(lab_latchctl a list 2>"$LAB_DIR/list.err")
tap_is "$?" 0 "latchctl list succeeds ($(tr '\n' ' ' <"$LAB_DIR/list.err"))"
tap_is "$(grep -c '^[0-9]' <<<"$list")" 3 "latchctl list shows every latch: root's and the user's two"
tap_is "$(grep -cF " 65534/\\x1b[31m " <<<"$list")" 2 "list: the user's listeners, their program escaped"
tap_ok "list: root's client latch" grep -q "^$client_id .*ESTABLISHED" <<<"$list"
tap_ok "list: clean text, one line per latch" clean_lines <<<"$list"

js=$(lab_latchctl a --json list)
tap_is "$?" 0 "latchctl --json list succeeds"
user_id=$(python3 -c '
import json, sys
ls = json.loads(sys.stdin.buffer.read().decode("utf-8"))["latches"]  # strict: valid UTF-8 or it fails
assert len(ls) == 3, ls
print([l["id"] for l in ls if l["owner"]["pid"] == int(sys.argv[1])][0])' "$user_pid" <<<"$js")
tap_is "$?" 0 "--json list is valid UTF-8 and JSON, with every latch (the holder's: $user_id)"
tap_is "$(python3 -c '
import json, sys
for l in json.load(sys.stdin)["latches"]:
    if l["owner"]["uid"] == 65534:
        print(l["owner"]["program"])' <<<"$js" | sort -u)" "$want_prog" "--json: the program, cleaned"
tap_is "$(python3 -c '
import json, sys
for l in json.load(sys.stdin)["latches"]:
    if l["remote_identity"]:
        print(l["remote_identity"]["subject"])' <<<"$js")" \
	"$want_subject" "--json: the peer's subject, cleaned"
tap_ok "--json list: clean text" clean_lines <<<"$js"

show=$(lab_latchctl a show "$user_id")
tap_is "$?" 0 "latchctl show of the user's latch succeeds"
tap_ok "show: the program escaped, on the owner's line" \
	grep -qF "pid $user_pid uid 65534 ($want_prog)" <<<"$show"
tap_ok "show: clean text" clean_lines <<<"$show"
show=$(lab_latchctl a show "$client_id")
tap_ok "show of root's latch: the peer's subject escaped" \
	grep -qxF "  subject            $want_subject" <<<"$show"
tap_ok "show of root's latch: clean text" clean_lines <<<"$show"
for id in "$user_id" "$client_id"; do
	tap_ok "--json show $id: valid UTF-8 and JSON" eval \
		"lab_latchctl a --json show $id | python3 -c 'import json,sys; json.loads(sys.stdin.buffer.read().decode())'"
done
peers=$(lab_latchctl a peers)
tap_ok "peers: b's certificate escaped, clean text" \
	eval 'grep -qF "$want_subject" <<<"$peers" && clean_lines <<<"$peers"'
tap_ok "--json peers: valid UTF-8 and JSON" eval \
	"lab_latchctl a --json peers | python3 -c 'import json,sys; json.loads(sys.stdin.buffer.read().decode())'"

# ---- latchd's log: one line about the owner
log=$(lab_latchd_log a)
tap_is "$(grep -c "latch $user_id: owner pid $user_pid uid 65534" <<<"$log")" 1 \
	"latchd logs the user's latch's owner once"
tap_ok "... on one line, its program escaped" \
	grep -qF "latch $user_id: owner pid $user_pid uid 65534, program '$want_prog'" <<<"$log"
tap_ok "latchd's log: clean text" clean_lines <<<"$log"

# ---- a client's own strings are refused, and latchd serves on
hello=$(lab_exec a python3 "$raw_client" "$(lab_latchd_sock a)" hello-name 61ff62)
tap_ok "a HELLO whose NAME is no UTF-8: -EINVAL, saying where ($hello)" \
	grep -q "^status=-22 message=.*NAME has a control byte or invalid UTF-8 at 1 (0xff)" <<<"$hello"
tap_ok "latchd serves on" eval "lab_latchctl a status | grep -q '^charon_up  *1'"
tap_is "$(lab_latchctl a --json list | grep -o '"id":[0-9]*,"state"' | wc -l)" 3 "every latch stays"

# ---- the wire: the latched flow was ESP throughout
tap_cmp "$(lab_pcap_esp "$wire")" -ge 3 "root's latched flow crossed as ESP"
tap_is "$(lab_pcap_clear "$wire" NAMESMARK)" 0 "not one marker in clear"
tap_done
