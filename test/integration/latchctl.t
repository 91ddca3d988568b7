#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# latchctl (issue 6) against latchd's truth on the lab: every subcommand, its
# JSON, its filters and its exit codes. (watch printing the BROKEN of a
# takeover is asserted by latchd-takeover.t.)
#
#   a 192.0.2.1 a.example: two clients holding latched connections   b 192.0.2.2 b.example: server
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

lab_init
lab_latch_pair
lab_latch_server b 8080 "$LAB_DIR/server.log" --out "$LAB_DIR/recv"
for p in 42001 42002; do
	lab_probe_bg a "$LAB_DIR/client-$p.log" connect "$(lab_ip b)" 8080 --peer-id b.example \
		--sport "$p" --marker "C$p" --count 1 --hold 60000
	lab_wait_count 100 1 '^latched' "$LAB_DIR/client-$p.log"
done
id1=$(grep -o '^latched id=[0-9]*' "$LAB_DIR/client-42001.log" | cut -d= -f2)

# ---- status
st=$(lab_latchctl a --json status)
tap_ok "status: latchd names itself and reaches charon" grep -q '"daemon":"latchd .*"charon_up":1' <<<"$st"
tap_ok "status: two ESTABLISHED latches on a, as made" grep -q '"ESTABLISHED":2' <<<"$st"
tap_ok "status: the limits in force" grep -q '"limits":{"latches_per_uid":4096' <<<"$st"
tap_ok "status: text form too" eval "lab_latchctl a status | grep -q '^charon_up  *1'"

# ---- list and its filters
js=$(lab_latchctl a --json list)
tap_is "$(grep -o '{"id":[0-9]*,"state":"ESTABLISHED"' <<<"$js" | wc -l)" 2 "list: both latches"
tap_ok "list: the 5-tuple, peer and owner program of one" \
	grep -q "\"id\":$id1,.*\"program\":\"latch-probe\".*\"local\":\"192.0.2.1\",\"local_port\":42001,\"remote\":\"192.0.2.2\",\"remote_port\":8080.*\"remote_identity\":{\"id\":\"b.example\"" <<<"$js"
tap_is "$(lab_latchctl a --json list --port 42002 | grep -o '"local_port":42002' | wc -l)" 1 \
	"list --port selects one"
tap_is "$(lab_latchctl a --json list --peer b.example | grep -o '"id":[0-9]*,"state"' | wc -l)" 2 \
	"list --peer b.example selects both"
tap_is "$(lab_latchctl a --json list --peer nobody.example | grep -c '"id"')" 0 \
	"list --peer of another peer selects none"
tap_is "$(lab_latchctl b --json list --state LISTENER | grep -o '"id":[0-9]*,"state":"[A-Z]*"' | sort -u | tr '\n' ' ')" '"id":1,"state":"LISTENER" ' \
	"list --state LISTENER on b: its listener only"
tap_ok "list --limit 1: one row, and says how many more" \
	eval "lab_latchctl a list --limit 1 | grep -q '^... and 1 more'"

# ---- show
sh=$(lab_latchctl a --json show "$id1")
tap_ok "show: the latch's history, from LARVAL to ESTABLISHED" \
	grep -q '"history":\[{"state":"LARVAL","reason":"none","ms_ago":[0-9]*},{"state":"ESTABLISHED"' <<<"$sh"
tap_ok "show: the SA in force" grep -q '"sa":{"child_id":[0-9]*,.*"encryption":"AES_GCM_16-256"' <<<"$sh"
tap_ok "show (text): both identities and the channel binding" \
	eval "lab_latchctl a show $id1 | grep -q 'remote identity' && lab_latchctl a show $id1 | grep -q 'ipsec-end-point'"

# ---- peers
pe=$(lab_latchctl a --json peers)
tap_ok "peers: b.example, by certificate, carrying both latches" \
	grep -q '"address":"192.0.2.2","latches":2,"child_sas":1,"remote_identity":{"id":"b.example","method":"PKIX_TRUSTED","subject":"C=CH, O=latch-lab, CN=b.example"' <<<"$pe"
tap_ok "peers on b: a.example" eval "lab_latchctl b peers | grep -q 'a.example'"

# ---- watch and close
lab_bg a "$LAB_DIR/watch.log" "$(lab_latchctl_bin)" --socket "$(lab_latchd_sock a)" --json \
	watch --count 1
watch=$LAB_PID
lab_wait 50 eval "grep -q '\"clients\":[3-9]' <<<\"\$(lab_latchctl a --json status)\""
closing=$(lab_pcap closing)
lab_capture_start a "$closing"
out=$(lab_latchctl a close "$id1")
tap_is "$?" 0 "close: done (exit 0)"
tap_ok "close: the owner is told CLOSED by an administrator" \
	lab_wait_count 50 1 'state=4 reason=6' "$LAB_DIR/client-42001.log"
established_42001() {
	lab_exec a ss -Htn state established 'sport = :42001' | grep -q .
}
tap_ok "close: the owner's connection was reset (no longer ESTABLISHED)" lab_wait 50 eval '! established_42001'
tap_not "it stays gone" established_42001
sleep 1 & wait $! # the peer's answers to the reset, and ours to them, are on their way
lab_capture_stop "$closing"
tap_cmp "$(lab_pcap_esp "$closing")" -ge 1 "the reset left as ESP"
tap_is "$(lab_pcap_count "$closing" 'tcp port 42001')" 0 \
	"not one segment of the closed flow in clear, RSTs included (its flow lingers enforced)"
lab_wait_gone "$watch" 50
tap_ok "watch: printed the CLOSED (admin) as JSON" \
	grep -q "\"id\":$id1,\"state\":\"CLOSED\",\"reason\":\"admin\"" "$LAB_DIR/watch.log"
tap_is "$(lab_latchctl a --json list | grep -c "\"id\":$id1,")" 0 "the closed latch is gone"
left=$(lab_latchctl a --json list | grep -o '{"id":[0-9]*,"state":"[A-Z]*","reason":"[a-z-]*"')
tap_is "$(grep -c ESTABLISHED <<<"$left")" 1 "the other one stays ($(tr '\n' ' ' <<<"$left"))"

# ---- exit codes
lab_latchctl a show 999999 >/dev/null 2>&1
tap_is "$?" 1 "show of an unknown latch: exit 1"
lab_latchctl a frobnicate >/dev/null 2>&1
tap_is "$?" 2 "an unknown command: exit 2"
lab_exec a "$(lab_latchctl_bin)" --socket /nonexistent/latchd.sock status >/dev/null 2>&1
tap_is "$?" 3 "latchd unreachable: exit 3"
tap_ok "--help for one command" eval "lab_latchctl a list --help | grep -q -- '--port'"
tap_done
