#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A lab cleans up after itself, also when its test fails or is killed, and
# touches nothing of another lab running beside it: its namespaces, processes
# (charon, tcpdump, traffic) and temp dir are gone afterwards.
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

lab_init
lab_host x 9
lab_charon_start x
outer_charon=$(lab_charon_pid x)

# The inner lab: two hosts, a charon, a capture and a traffic sink, then it
# reports what it made and either fails (exit 7) or waits to be killed.
inner=$LAB_DIR/inner.sh
cat >"$inner" <<EOF
source "$LAB_LIB_DIR/lab.sh"
lab_init
lab_host a 1
lab_host b 2
lab_charon_start a
lab_capture_start b "\$(lab_pcap cap)"
lab_bg b /dev/null python3 "$LAB_LIB_DIR/flow.py" sink 8080 "\$LAB_DIR/recv"
{ echo "\$LAB_ID"; echo "\$LAB_DIR"; cat "\$LAB_DIR/pids"; } >"\$1"
[ "\$2" = fail ] && exit 7
# In the background, so that the TERM trap runs at once rather than after it;
# recorded, so that teardown ends it too.
sleep 60 &
echo \$! >>"\$LAB_DIR/pids"
wait \$!
EOF

# check REPORT WHAT: nothing of the inner lab described in REPORT is left.
check() {
	local id dir pids left=
	id=$(sed -n 1p "$1")
	dir=$(sed -n 2p "$1")
	pids=$(sed -n '3,$p' "$1")
	tap_cmp "$(echo "$pids" | wc -w)" -eq 3 "$2: the inner lab started charon, tcpdump and a sink"
	tap_is "$(ip netns list | grep -c "^$id-")" 0 "$2: no namespace of the inner lab is left"
	for pid in $pids; do
		kill -0 "$pid" 2>/dev/null && left+=" $pid"
	done
	tap_is "$left" "" "$2: no process of the inner lab is left"
	tap_not "$2: its temp dir is gone" test -e "$dir"
}

bash "$inner" "$LAB_DIR/report-fail" fail >/dev/null 2>&1
tap_is "$?" 7 "a failing lab script keeps its exit status"
check "$LAB_DIR/report-fail" "after a failure"

bash "$inner" "$LAB_DIR/report-kill" wait >/dev/null 2>&1 &
inner_pid=$!
lab_wait 100 test -s "$LAB_DIR/report-kill"
kill -TERM "$inner_pid"
wait "$inner_pid"
tap_is "$?" 143 "a lab script killed with SIGTERM exits 143"
check "$LAB_DIR/report-kill" "after SIGTERM"

# A second signal while teardown runs must not cut it short.
bash "$inner" "$LAB_DIR/report-kill2" wait >/dev/null 2>&1 &
inner_pid=$!
lab_wait 100 test -s "$LAB_DIR/report-kill2"
kill -TERM "$inner_pid"
sleep 0.05
kill -TERM "$inner_pid" 2>/dev/null
wait "$inner_pid"
check "$LAB_DIR/report-kill2" "after two SIGTERMs"

tap_ok "the outer lab's namespace is untouched" ip netns pids "$(lab_ns x)"
tap_ok "the outer lab's charon still runs" kill -0 "$outer_charon"
tap_ok "and still answers" lab_swanctl x --stats

tap_done
