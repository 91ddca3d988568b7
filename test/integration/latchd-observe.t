#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# What monitoring sees of latches (issue 17, observability), on real latches:
# a's latchd runs as under systemd with its stderr on the journal (JOURNAL_STREAM,
# and journald's native socket stood in for by test/lab/journal.py in a mount
# namespace of its own, test/lab/journal-wrap.sh); a latch is established,
# broken (its IKE_SA terminated: nothing of the flow in clear meanwhile),
# another closed by latchctl, a request refused. Each event is one journal
# entry with its MESSAGE_ID, LATCH_ID, PEER_ID, UID and REASON;
# `latchctl metrics` is valid OpenMetrics (test/lab/openmetrics.py, strict,
# and prometheus_client's parser when installed) whose counts move with the
# latches; its Prometheus form is valid too; --json metrics carries its schema.
# latchd ignores SIGHUP (latchd(8), SIGNALS).
#
#   a 192.0.2.1 a.example: latchd (journal), the clients   b 192.0.2.2 b.example: the server
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

lab=$(cd "$(dirname "$0")/../lab" && pwd)
man8=$(cd "$(dirname "$0")/../../docs/man" && pwd)/latchd.8
lab_init
lab_latch_host a 1
lab_latch_host b 2
lab_ca ca
lab_cert a ca a.example
lab_cert b ca b.example
journal=$LAB_DIR/journal.jsonl
lab_bg a "$LAB_DIR/journal-reader.log" python3 "$lab/journal.py" "$LAB_DIR/journal.sock" "$journal"
lab_wait 50 test -S "$LAB_DIR/journal.sock" || lab_die "the journal stand-in did not start"
for h in a b; do
	lab_charon_start "$h"
	if [ "$h" = a ]; then
		LAB_LATCHD_WRAP="$lab/journal-wrap.sh $LAB_DIR/journal.sock" lab_latchd_start a
	else
		lab_latchd_start b
	fi
done
lab_latch_server b 8080 "$LAB_DIR/server.log" --out "$LAB_DIR/recv"

# metrics: a's latchctl metrics, checked strictly; its samples one a line
metrics() {
	lab_latchctl a metrics | python3 "$lab/openmetrics.py" --cross-check
}
# sample NAME [LABELS]: one sample's value (0 when absent)
sample() {
	local v
	v=$(awk -v k="$1" '$1 == k { print $2 }' <<<"$m")
	echo "${v:-0}"
}
# event KIND LATCH_ID: the journal entry of that kind for that latch, as JSON
event() {
	python3 - "$journal" "$1" "$2" "$man8" <<'EOF'
import json, sys
import re
# the MESSAGE_IDs as latchd(8), LOGGING, lists them
page = open(sys.argv[4], encoding="utf-8").read()
ids = dict(re.findall(r"^\.B (established|broken|closed|refused)\n([0-9a-f]{32}):", page, re.M))
assert len(ids) == 4, ids
for line in open(sys.argv[1], encoding="utf-8"):
    e = json.loads(line)
    if e.get("MESSAGE_ID") == ids[sys.argv[2]] and e.get("LATCH_ID", "") == sys.argv[3]:
        print(json.dumps({k: e.get(k) for k in ("LATCH_ID", "PEER_ID", "UID", "REASON", "PRIORITY", "SYSLOG_IDENTIFIER")}, sort_keys=True))
        break
EOF
}

m=$(metrics)
tap_is "$?" 0 "metrics before any latch: valid OpenMetrics"
tap_diag "$(tr '\n' ' ' <<<"$m")"
tap_is "$(sample 'latchd_latches{state="ESTABLISHED"}')" 0 "no ESTABLISHED latch yet"
tap_is "$(sample latchd_charon_reachable)" 1 "charon reachable"
tap_cmp "$(sample latchd_resident_memory_bytes)" -gt 1000000 "latchd's resident memory, in bytes"
tap_cmp "$(sample latchd_clients)" -ge 0 "clients counted"
ike0=$(sample latchd_ike_sas)
tap_ok "the journal has latchd's plain lines, none of them an event" \
	python3 -c '
import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
assert es and all(e["SYSLOG_IDENTIFIER"] == "latchd" and "MESSAGE" in e for e in es), es[:3]
assert not any("MESSAGE_ID" in e for e in es)' "$journal"

# ---- established: a transfer on a latched connection
marker="OBSERVE-$RANDOM$RANDOM"
lab_probe_bg a "$LAB_DIR/client-1.log" connect "$(lab_ip b)" 8080 --peer-id b.example \
	--sport 42101 --marker "$marker" --count 400 --interval 50
client1=$LAB_PID
lab_wait_count 100 1 '^latched' "$LAB_DIR/client-1.log"
id1=$(grep -o '^latched id=[0-9]*' "$LAB_DIR/client-1.log" | cut -d= -f2)
tap_ok "the latched transfer runs" lab_wait_count 100 5 "$marker" "$LAB_DIR/recv"
# a second one, latched on the same IKE_SA (the server serves one at a time: it waits)
lab_probe_bg a "$LAB_DIR/client-2.log" connect "$(lab_ip b)" 8080 --peer-id b.example \
	--sport 42102 --marker "OTHER" --count 1 --hold 60000
lab_wait_count 100 1 '^latched' "$LAB_DIR/client-2.log"
lab_wait 50 eval '[ -n "$(event established "$id1")" ]'
tap_is "$(event established "$id1")" \
	"{\"LATCH_ID\": \"$id1\", \"PEER_ID\": \"b.example\", \"PRIORITY\": \"6\", \"REASON\": \"none\", \"SYSLOG_IDENTIFIER\": \"latchd\", \"UID\": \"0\"}" \
	"established: its entry, with LATCH_ID, PEER_ID, UID, REASON"
m=$(metrics)
tap_is "$?" 0 "metrics with two latches: valid OpenMetrics"
tap_is "$(sample 'latchd_latches{state="ESTABLISHED"}')" 2 "two ESTABLISHED latches"
tap_is "$(sample latchd_established_total)" 2 "established_total 2"
tap_cmp "$(sample latchd_ike_sas)" -gt "$ike0" "an IKE_SA more"
tap_is "$(sample 'latchd_breaks_total{reason="sa-gone"}')" 0 "no break yet (sa-gone sent as 0)"

# ---- broken: b's charon terminates the IKE_SA that carries both
wire=$(lab_pcap break)
lab_capture_start a "$wire"
for id in $(lab_swanctl b --list-sas --raw 2>/dev/null | grep -o 'uniqueid=[0-9]*' | cut -d= -f2 | sort -u); do
	lab_swanctl b --terminate --ike-id "$id" --force >/dev/null 2>&1
done
tap_ok "the client's stream ends (its latch broke, its socket was reset)" lab_wait_gone "$client1" 100
lab_wait 50 eval '[ -n "$(event broken "$id1")" ]'
sleep 1 & wait $!
lab_capture_stop "$wire"
tap_is "$(lab_pcap_count "$wire" 'tcp port 8080')" 0 "not one segment of the latched flows in clear"
tap_is "$(lab_pcap_clear "$wire" "$marker")" 0 "the transfer's marker never in clear"
m=$(metrics)
tap_is "$?" 0 "metrics after the break: valid OpenMetrics"
breaks=$(grep '^latchd_breaks_total{' <<<"$m" | awk '{ s += $2 } END { print s + 0 }')
tap_is "$breaks" 2 "breaks_total moved by two (both latches) ($(grep '^latchd_breaks_total' <<<"$m" | grep -v ' 0$' | tr '\n' ' '))"
reason=$(grep '^latchd_breaks_total{' <<<"$m" | grep -v ' 0$' | head -1 | sed 's/.*reason="\([a-z-]*\)".*/\1/')
tap_is "$(event broken "$id1")" \
	"{\"LATCH_ID\": \"$id1\", \"PEER_ID\": \"b.example\", \"PRIORITY\": \"6\", \"REASON\": \"$reason\", \"SYSLOG_IDENTIFIER\": \"latchd\", \"UID\": \"0\"}" \
	"broken: its entry, with the reason metrics counts"
tap_is "$(sample 'latchd_latches{state="ESTABLISHED"}')" 0 "no ESTABLISHED latch left"

# ---- established again, then closed by an administrator
lab_probe_bg a "$LAB_DIR/client-3.log" connect "$(lab_ip b)" 8080 --peer-id b.example \
	--sport 42103 --marker "THIRD" --count 1 --hold 60000
lab_wait_count 100 1 '^latched' "$LAB_DIR/client-3.log"
id3=$(grep -o '^latched id=[0-9]*' "$LAB_DIR/client-3.log" | cut -d= -f2)
tap_is "$(event established "$id3")" \
	"{\"LATCH_ID\": \"$id3\", \"PEER_ID\": \"b.example\", \"PRIORITY\": \"6\", \"REASON\": \"none\", \"SYSLOG_IDENTIFIER\": \"latchd\", \"UID\": \"0\"}" \
	"established: its entry, with LATCH_ID, PEER_ID, UID, REASON"
closed0=$(m=$(metrics) && sample latchd_closed_total)
lab_latchctl a close "$id3" >/dev/null
lab_wait 50 eval '[ -n "$(event closed "$id3")" ]'
tap_is "$(event closed "$id3")" \
	"{\"LATCH_ID\": \"$id3\", \"PEER_ID\": \"b.example\", \"PRIORITY\": \"6\", \"REASON\": \"admin\", \"SYSLOG_IDENTIFIER\": \"latchd\", \"UID\": \"0\"}" \
	"closed: its entry, reason admin"
m=$(metrics)
tap_is "$(sample latchd_closed_total)" $((closed0 + 1)) "closed_total moved by one"
tap_is "$(sample latchd_established_total)" 3 "established_total 3"

# ---- refused: a peer that is not b.example at b's address
out=$(lab_probe a connect "$(lab_ip b)" 8080 --peer-id nobody.example --sport 42104)
tap_ok "a latch to the wrong peer is refused ($(head -c 100 <<<"$out"))" grep -q '^error' <<<"$out"
refused_id=$(grep -A1 '^\.B refused$' "$man8" | grep -o '^[0-9a-f]\{32\}')
tap_is "${#refused_id}" 32 "latchd(8) lists refused's MESSAGE_ID"
lab_wait 50 eval 'grep -q "$refused_id" "$journal"'
ref=$(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("MESSAGE_ID") == sys.argv[2]:
        print(e.get("PEER_ID"), e.get("UID"), e.get("REASON"), "latch" if e.get("LATCH_ID") else "-")' "$journal" "$refused_id")
tap_ok "refused: its entry names the peer asked for, the uid and an errno ($ref)" \
	grep -q '^nobody.example 0 E[A-Z]* latch$' <<<"$ref"
m=$(metrics)
tap_is "$(sample "latchd_refusals_total{reason=\"$(awk '{ print $3 }' <<<"$ref")\"}")" 1 \
	"refusals_total counts it under that errno"
tap_is "$(grep -c '"MESSAGE_ID"' "$journal")" \
	"$(python3 -c '
import json, sys
print(sum(1 for l in open(sys.argv[1]) if json.loads(l).get("MESSAGE_ID")))' "$journal")" \
	"every event entry parsed (strict UTF-8, native protocol)"
tap_is "$(grep -c INVALID "$journal")" 0 "no datagram the stand-in could not parse"

# ---- the other forms
prom=$(lab_latchctl a metrics prometheus)
out=$(python3 "$lab/openmetrics.py" --prometheus --cross-check 2>&1 <<<"$prom" >/dev/null)
tap_is "$?" 0 "metrics prometheus: valid Prometheus text ${out:+($out)}"
tap_ok "metrics prometheus: a counter typed by its _total name" \
	grep -q '^# TYPE latchd_breaks_total counter$' <<<"$prom"
js=$(lab_latchctl a --json metrics)
tap_ok "--json metrics: its schema and the samples" python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["schema"] == 1, d
assert any(x["name"] == "latchd_established_total" and x["value"] == 3 for x in d["metrics"]), d' "$js"
lab_latchctl a metrics frobnicate >/dev/null 2>&1
tap_is "$?" 2 "metrics with a bad format: usage error"

# ---- the shipped latchctl-metrics.service, its command as systemd runs it
unit=$(cd "$(dirname "$0")/../../etc" && pwd)/latchctl-metrics.service
# (systemd passes $$ on as $)
cmd=$(sed -n "s/^ExecStart=\/bin\/sh -ec '\(.*\)'\$/\1/p" "$unit" | sed 's/\$\$/$/g')
mkdir -p "$LAB_DIR/textfile" "$LAB_DIR/bin"
ln -sf "$(lab_latchctl_bin)" "$LAB_DIR/bin/latchctl"
lab_exec a env PATH="$LAB_DIR/bin:$PATH" LATCH_SOCKET="$(lab_latchd_sock a)" \
	LATCH_TEXTFILE_DIR="$LAB_DIR/textfile" sh -ec "$cmd"
tap_is "$?" 0 "latchctl-metrics.service's command runs ($cmd)"
tap_is "$(ls -A "$LAB_DIR/textfile")" latchd.prom "it leaves latchd.prom alone in the directory"
out=$(python3 "$lab/openmetrics.py" --prometheus --cross-check 2>&1 <"$LAB_DIR/textfile/latchd.prom" >/dev/null)
tap_is "$?" 0 "latchd.prom: Prometheus text, as node_exporter's textfile collector reads ${out:+($out)}"

# ---- SIGHUP is ignored (latchd(8), SIGNALS)
kill -HUP "$(lab_latchd_pid a)"
sleep 0.5 & wait $!
tap_ok "after SIGHUP latchd still runs and answers" lab_latchd_ready a
tap_done
