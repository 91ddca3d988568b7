#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# What latchd refuses already, so that it stays refused. An unprivileged user
# (65534) speaks the wire format by hand (latch-raw): malformed messages,
# unknown types and attributes, an oversized request, descriptors of the wrong
# kind with each request that carries one, root's latch by id, a request after
# BYE. Each gets its specific -errno and message, nothing changes, and latchd
# goes on serving root, that user and another one; no latched payload crosses
# the wire in clear.
#
#   a 192.0.2.1 a.example (latchd, the attacker)   b 192.0.2.2 b.example (server)
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

lab_init
lab_latch_pair
# 8080 for root's held connection, 8081 for those after the attack (a server
# takes one connection at a time)
recv=$LAB_DIR/recv
lab_latch_server b 8080 "$LAB_DIR/server.log" --out "$recv"
lab_latch_server b 8081 "$LAB_DIR/after.log" --out "$recv"
wire=$(lab_pcap wire)
lab_capture_start a "$wire"

# root's latch, held open until the teardown ends it
lab_probe_bg a "$LAB_DIR/root.log" connect "$(lab_ip b)" 8080 --peer-id b.example \
	--marker ROOTMARK --count 1 --hold 600000
lab_wait_count 100 1 '^latched' "$LAB_DIR/root.log" || lab_die "root's latch failed"
root_id=$(grep -o '^latched id=[0-9]*' "$LAB_DIR/root.log" | cut -d= -f2)
latchd_pid=$(lab_latchd_pid a)

# the latches as root sees them: id, state and owner, one a line
latches() {
	lab_latchctl a --json list | python3 -c '
import json, sys
for l in json.load(sys.stdin)["latches"]:
    print(l["id"], l["state"], l["owner"]["uid"])'
}

cases=(status short-header bad-length bad-tlv bad-flags client-reply unknown-type unknown-attr
	oversized after-bye "show:$root_id" "close:$root_id" "release:$root_id")
for m in connect latch listen accept attach query; do
	for k in pipe file eventfd unix netlink; do cases+=("$m-$k"); done
done
before=$(latches)
out=$(lab_as_user a 65534 "$LAB_BUILD/test/hostile/latch-raw" "$(lab_latchd_sock a)" "${cases[@]}")
tap_diag "$out"

# refused CASE ERRNAME TEXT: 65534's CASE got -ERRNAME with a message saying TEXT
refused() {
	local line
	line=$(grep "^$1 " <<<"$out")
	tap_ok "$1: $2, \"$3\"" grep -q "^$1 -[0-9]* $2: .*$3" <<<"$line"
}

tap_ok "latch-raw reaches latchd as 65534" grep -q '^status 0 OK' <<<"$out"
refused short-header EBADMSG "shorter than the 12-byte header"
refused bad-length EBADMSG "attribute overruns"
refused bad-tlv EBADMSG "attribute length below 4"
refused bad-flags EBADMSG "unknown flags 0x8000"
refused client-reply EOPNOTSUPP "clients send no replies"
refused unknown-type EOPNOTSUPP "unknown message type 777"
refused unknown-attr EINVAL "unknown attribute type 126"
refused oversized EMSGSIZE "exceed the limit of 16384"
tap_ok "a request after BYE: latchd has closed the connection" grep -q '^after-bye closed$' <<<"$out"
for v in show close release; do
	refused "$v:$root_id" EPERM "latch $root_id belongs to uid 0"
done
for m in connect latch listen accept attach query; do
	for k in pipe file eventfd; do refused "$m-$k" ENOTSOCK "is no socket"; done
	for k in unix netlink; do refused "$m-$k" EAFNOSUPPORT "no .*TCP or UDP socket"; done
done

tap_is "$(latches)" "$before" "nothing changed: the same latches in the same states"
tap_ok "root's latch is still ESTABLISHED" eval "lab_latchctl a show $root_id | grep -q ESTABLISHED"
tap_is "$(lab_latchd_pid a)" "$latchd_pid" "latchd is the same process"
tap_ok "and it runs" kill -0 "$latchd_pid"

# latchd serves root, the attacker and another user afterwards
out=$(lab_probe a connect "$(lab_ip b)" 8081 --peer-id b.example --marker AFTERROOT)
tap_ok "root latches a new connection" grep -q '^latched' <<<"$out"
for uid in 65534 4242; do
	out=$(lab_as_user a "$uid" "$(lab_probe_bin)" connect "$(lab_ip b)" 8081 \
		--peer-id b.example --marker "AFTER$uid")
	tap_ok "uid $uid latches a connection" grep -q '^latched' <<<"$out"
done
tap_ok "root's latchctl status answers" eval "lab_latchctl a status | grep -q '^charon_up *1'"

lab_wait 50 grep -q AFTER4242 "$recv"
lab_capture_stop "$wire"
for m in ROOTMARK AFTERROOT AFTER65534 AFTER4242; do
	tap_ok "the server received $m" grep -q "$m" "$recv"
	tap_is "$(lab_pcap_clear "$wire" "$m")" 0 "$m never crossed the wire in clear"
done
tap_done
