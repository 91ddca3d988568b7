#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Issue 13, admin_group: latchd decides once, when a client connects, from
# the credentials the kernel recorded (SO_PEERCRED, SO_PEERGROUPS), whether
# it acts as an administrator. A user whose supplementary group is the admin
# group sees root's latch; one whose supplementary group is another does
# not. And the decision is not made again from /proc/PID: an unprivileged
# client whose pid is then taken by a process of the admin group (the test
# hands it over with ns_last_pid) stays unprivileged.
#
#   a 192.0.2.1 a.example (latchd, admin_group = adm)
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

lab_init
lab_latch_host a 1
lab_ca ca
lab_cert a ca a.example
lab_latchd_conf a "admin_group = adm"
lab_charon_start a
lab_latchd_start a
lab_probe_bg a "$LAB_DIR/server.log" serve 8080 --peer-ca "$LAB_CA_DN"
lab_wait_count 100 1 '^listening' "$LAB_DIR/server.log"
client=$LAB_DIR/rawclient.py
install -m 0644 "$(dirname "$0")/rawclient.py" "$client"
ctl=$(lab_user_bin "$(lab_latchctl_bin)")
adm=$(getent group adm | cut -d: -f3)

# as_nobody GROUPS CMD...: nobody (primary group nogroup) with supplementary GROUPS
as_nobody() {
	local groups=$1
	shift
	lab_exec a setpriv --reuid=65534 --regid=65534 --groups="$groups" "$@"
}
root_latches() {
	as_nobody "$1" "$ctl" --socket "$(lab_latchd_sock a)" --json list | grep -o '"uid":0' | wc -l
}

tap_is "$(root_latches "$adm")" 1 "nobody with the admin group as a supplementary group sees root's listener"
tap_is "$(root_latches 100)" 0 "nobody with another supplementary group does not"

# The impostor: nobody without the group connects, its pid goes to a process of adm.
lab_as_user_bg a "$LAB_DIR/impostor.log" 65534 python3 "$client" "$(lab_latchd_sock a)" \
	impostor "$LAB_DIR/go"
lab_wait_count 100 1 '^pid' "$LAB_DIR/impostor.log"
p=$(awk '/^pid/ { print $2 }' "$LAB_DIR/impostor.log")
lab_wait 50 eval "! kill -0 $p 2>/dev/null"
taken=0
for _ in 1 2 3 4 5 6 7 8 9 10; do
	# lab_bg's first fork (its lab_ns) takes p - 1, its & then p, unless
	# another process is quicker: then again
	echo $((p - 2)) >/proc/sys/kernel/ns_last_pid
	lab_bg a "$LAB_DIR/holder.log" setpriv --reuid=65534 --regid=65534 --groups="$adm" sleep 600
	[ "$LAB_PID" = "$p" ] && taken=1 && break
	lab_stop "$LAB_PID" KILL
done
tap_is "$taken" 1 "a process of the admin group now has the impostor's pid $p"
tap_ok "and has the admin group (/proc/$p/status)" \
	lab_wait 50 eval "grep -q '^Groups:[[:space:]]*${adm}[[:space:]]*\$' /proc/$p/status"
touch "$LAB_DIR/go"
lab_wait_count 100 1 '^root-latches' "$LAB_DIR/impostor.log"
tap_diag "$(cat "$LAB_DIR/impostor.log")"
tap_ok "the impostor's connection still sees none of root's latches" \
	grep -q '^root-latches 0 status 0' "$LAB_DIR/impostor.log"
tap_is "$(lab_latchctl a --json list | grep -o '"uid":0' | wc -l)" 1 "root's listener is still there"
tap_done
