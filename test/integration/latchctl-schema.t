#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# latchctl --json against the schema latchctl(8) gives (issue 17): the schema
# is read from the page itself (test/lab/json-schema.py parses its Schema
# block); every command's output on real latches, and every kind of error
# (refused, usage, unreachable), must be strict UTF-8, JSON, and a DOC of
# that schema, with its schema version; errors go to standard output as
# documents, standard error stays empty, and the exit status is the page's.
#
#   a 192.0.2.1 a.example: latchd, a latched client   b 192.0.2.2 b.example: latchd, the server
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

lab=$(cd "$(dirname "$0")/../lab" && pwd)
page=$(cd "$(dirname "$0")/../../docs/man" && pwd)/latchctl.8
lab_init
lab_latch_pair
lab_latch_server b 8080 "$LAB_DIR/server.log" --out "$LAB_DIR/recv"
lab_probe_bg a "$LAB_DIR/client.log" connect "$(lab_ip b)" 8080 --peer-id b.example \
	--sport 42201 --marker SCHEMA --count 1 --hold 60000
lab_wait_count 100 1 '^latched' "$LAB_DIR/client.log"
id=$(grep -o '^latched id=[0-9]*' "$LAB_DIR/client.log" | cut -d= -f2)

tap_ok "the page's schema reads" python3 "$lab/json-schema.py" "$page" --print

# run NAME WANT_EXIT HOST ARGS...: latchctl --json ARGS on HOST; its exit status,
# an empty standard error, and its standard output a DOC of the page's schema
# whose second member is the one named in the test's name after ':'.
run() {
	local name=$1 want=$2 host=$3 out err rc member
	shift 3
	out=$LAB_DIR/out-${name// /_}
	err=$LAB_DIR/err-${name// /_}
	lab_exec "$host" "$(lab_latchctl_bin)" --socket "$(lab_latchd_sock "$host")" --json "$@" \
		>"$out" 2>"$err"
	rc=$?
	tap_is "$rc" "$want" "$name: exit $want"
	tap_is "$(cat "$err")" "" "$name: nothing on standard error"
	member=$(python3 "$lab/json-schema.py" "$page" "$out" | sort -u | tr '\n' ' ')
	tap_is "$member" "ok ${name##*:} " "$name: as the schema says ($(head -c 300 "$out"))"
}

run "status:status" 0 a status
run "list:latches" 0 a list
run "list of a listener:latches" 0 b list --state LISTENER
run "list of none:latches" 0 a list --state BROKEN
run "show:latch" 0 a show "$id"
run "peers:peers" 0 a peers
run "metrics:metrics" 0 a metrics
run "pins:pins" 0 a pins
run "pins forget of an unknown name:error" 1 a pins forget nobody.example
run "show of an unknown latch:error" 1 a show 999999
run "show without an id:error" 2 a show
run "an unknown command:error" 2 a frobnicate
run "an unknown option:error" 2 a list --frobnicate
run "metrics in an unknown format:error" 2 a metrics frobnicate
lab_exec a "$(lab_latchctl_bin)" --socket /nonexistent/latchd.sock --json status \
	>"$LAB_DIR/out-unreachable" 2>"$LAB_DIR/err-unreachable"
tap_is "$?" 3 "latchd unreachable: exit 3"
tap_is "$(python3 "$lab/json-schema.py" "$page" "$LAB_DIR/out-unreachable")" "ok error" \
	"latchd unreachable: an error document ($(cat "$LAB_DIR/out-unreachable"))"
tap_ok "latchd unreachable: the errno's name" grep -q '"code":"ENOENT","errno":2,"exit":3' \
	"$LAB_DIR/out-unreachable"

# watch: one document a line, for each event (the close below)
lab_bg a "$LAB_DIR/out-watch" "$(lab_latchctl_bin)" --socket "$(lab_latchd_sock a)" --json \
	watch --count 1
watch=$LAB_PID
lab_wait 50 eval "grep -q '\"clients\":[3-9]' <<<\"\$(lab_latchctl a --json status)\""
run "close:closed" 0 a close "$id"
lab_wait_gone "$watch" 50
tap_is "$(python3 "$lab/json-schema.py" "$page" "$LAB_DIR/out-watch")" "ok event" \
	"watch: its event as the schema says ($(cat "$LAB_DIR/out-watch"))"
tap_is "$(wc -l <"$LAB_DIR/out-watch")" 1 "watch: one line per event"
tap_done
