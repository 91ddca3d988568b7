#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# latchd's VICI client against real charons: load a connection through the
# typed layer, initiate, list, see the up events in order; several narrow
# children on one IKE_SA; terminate; kill -9 charon and restart it — the
# client notices at once, reconnects, re-registers and receives events again.
# The client runs in test/integration/vici-driver, which prints a line per
# fact; the script waits for lines, never for time.
#
#   a 192.0.2.1 (a.example, the client) ── link ── b 192.0.2.2 (b.example, responder)
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"
driver=${LATCH_BUILD_ROOT:-$(dirname "$0")/../../build}/test/integration/vici-driver
[ -x "$driver" ] || lab_die "no $driver: build first"

lab_init
lab_host a 1
lab_host b 2
lab_ca ca
lab_cert a ca a.example
lab_cert b ca b.example
lab_conn_narrow_responder b a a.example flows tcp
lab_charon_start a
lab_charon_start b
lab_load a >/dev/null # credentials only: the connection comes from the client
lab_load b >/dev/null

drv=$LAB_DIR/driver.out
fifo=$LAB_DIR/driver.cmd
mkfifo "$fifo"
lab_bg a "$drv" "$driver" "$(lab_dir a)/charon.vici" "$fifo"

say() { echo "$*" >"$fifo"; }
# wait_line TENTHS REGEX: until the driver printed a matching line
wait_line() { lab_wait "$1" grep -qE -- "$2" "$drv"; }
line_no() { grep -nE -m1 -- "$1" "$drv" | cut -d: -f1; }
count() { grep -cE -- "$1" "$drv"; }
# at_least N REGEX: the driver printed N matching lines (re-evaluated by lab_wait)
at_least() { [ "$(count "$2")" -ge "$1" ]; }
load() {
	say load flows 192.0.2.1 192.0.2.2 a.example b.example "$(lab_dir a)/swanctl/x509/a.pem" \
		"$(lab_pki_dir)/ca.pem" 6 40000:8080 40001:8081 40002:8082
}

tap_ok "the client comes up on a's charon" wait_line 50 '^up$'
load
tap_ok "load-conn with three narrow children succeeds" wait_line 100 '^load ok$'
say initiate flows-40000
tap_ok "initiate succeeds" wait_line 150 '^initiate ok$'
tap_ok "ike-updown up arrives" wait_line 50 '^event ike-updown up flows#1$'
tap_ok "child-updown up arrives for flows-40000" \
	wait_line 50 '^event child-updown up flows#1 flows-40000#1$'
tap_cmp "$(line_no '^event ike-updown up')" -lt "$(line_no '^event child-updown up')" \
	"ike-updown comes before child-updown"

say list
wait_line 100 '^list done' || tap_diag "list-sas did not finish"
tap_ok "list-sas shows the child, ports as numbers (charon prints http-alt)" \
	grep -qx 'sa flows#1 flows-40000#1 INSTALLED 192.0.2.1/32/6/40000 === 192.0.2.2/32/6/8080' "$drv"

say initiate flows-40001
say initiate flows-40002
tap_ok "two more narrow children come up" wait_line 150 '^event child-updown up flows#1 flows-40002#'
say list
lab_wait 100 at_least 2 '^list done' 
tap_is "$(grep -E '^sa flows#1 ' "$drv" | sort -u | wc -l)" 3 \
	"all three children are INSTALLED on the one IKE_SA #1"
id=$(sed -nE 's/^event child-updown up flows#1 flows-40002#([0-9]+)$/\1/p' "$drv" | head -n1)
say list "$id"
lab_wait 100 at_least 3 '^list done' 
tap_is "$(tail -n 2 "$drv" | head -n1 | cut -d' ' -f3)" "flows-40002#$id" \
	"list-sas filtered by child id returns just that child"

say terminate 1
tap_ok "terminate succeeds" wait_line 150 '^terminate ok$'
tap_ok "child-updown down arrives for flows-40000" \
	wait_line 50 '^event child-updown down flows#1 flows-40000#1$'

lab_charon_stop a KILL
tap_ok "kill -9 of charon: the client says so at once" wait_line 20 '^down '
lab_charon_start a
tap_ok "the client reconnects and asks for a resync" wait_line 150 '^up resync$'
tap_cmp "$(line_no '^down ')" -lt "$(line_no '^up resync$')" "down comes before up resync"
lab_load a >/dev/null
load
lab_wait 100 at_least 2 '^load ok$' 
say initiate flows-40000
tap_ok "after the restart, events arrive again (ike-updown up)" \
	lab_wait 150 at_least 2 '^event ike-updown up flows#'
tap_ok "and the new child's up event" \
	lab_wait 50 at_least 2 '^event child-updown up flows#[0-9]+ flows-40000#'

[ "$TAP_FAILED" -eq 0 ] || { tap_diag "driver output:"; sed 's/^/#   /' "$drv"; }
tap_done
