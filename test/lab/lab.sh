# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# The lab: IPsec hosts as network namespaces on one link, each with its own
# charon (kernel-libipsec data plane) and, later, its own latchd. Integration
# tests, the demo and the benchmarks all source this file. See README.md here.
#
#   lab_init                      one run: temp dir, unique names, teardown on exit
#   lab_host a 1                  host "a" = 192.0.2.1/24 and 2001:db8::1/64
#   lab_ca ca; lab_cert a ca a.example; lab_conn_host2host a b b.example
#   lab_charon_start a; lab_load a; lab_swanctl a --initiate --child b
#   pcap=$(lab_pcap wire); lab_capture_start a "$pcap"; …; lab_capture_stop "$pcap"
#   lab_pcap_esp "$pcap"; lab_pcap_clear "$pcap" MARKER
#
# Everything a run creates lives in $LAB_DIR (a fresh mktemp directory) and in
# namespaces named "$LAB_ID-*"; every process it starts is recorded by PID in
# $LAB_DIR/pids. lab_teardown (run on EXIT, also when a test fails) kills those
# PIDs, deletes those namespaces and nothing else, then removes $LAB_DIR unless
# LAB_KEEP=1 is set.

LAB_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_CHARON=${LAB_CHARON:-/usr/lib/ipsec/charon}
LAB_NET4=192.0.2
LAB_NET6=2001:db8:
# Addresses on the link that no host uses: route holders point at it.
LAB_UNUSED4=$LAB_NET4.250

lab_die() {
	echo "lab: $*" >&2
	exit 1
}

lab_log() {
	[ -n "${LAB_VERBOSE:-}" ] && echo "lab: $*" >&2
	return 0
}

# ---------------------------------------------------------------- run and hosts

lab_init() {
	[ "$(id -u)" -eq 0 ] || lab_die "the lab needs root (network namespaces)"
	LAB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/latch-lab.XXXXXX") || lab_die "mktemp failed"
	chmod 0755 "$LAB_DIR"
	# Namespace names must be unique on the machine; the temp dir's suffix is.
	LAB_ID=lt${LAB_DIR##*.}
	LAB_SW=$LAB_ID-sw
	: >"$LAB_DIR/pids"
	: >"$LAB_DIR/netns"
	lab_san_init
	trap lab_teardown EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	ip netns add "$LAB_SW" || lab_die "cannot create namespace $LAB_SW"
	echo "$LAB_SW" >>"$LAB_DIR/netns"
	ip -n "$LAB_SW" link add br0 type bridge
	ip -n "$LAB_SW" link set br0 up
	lab_log "run $LAB_ID in $LAB_DIR"
}

lab_teardown() {
	local rc=$? pid ns
	# Teardown runs to its end: not stopped by a second signal, nor by set -e in
	# the script that sourced the lab.
	trap - EXIT
	trap '' INT TERM
	set +e
	[ -n "${LAB_DIR:-}" ] && [ -d "$LAB_DIR" ] || return "$rc"
	# Every recorded PID is killed hard; all are this shell's children (lab_bg),
	# so bash reaps them.
	while read -r pid; do
		[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	done <"$LAB_DIR/pids"
	while read -r pid; do
		[ -n "$pid" ] && lab_wait_gone "$pid" 50
	done <"$LAB_DIR/pids"
	while read -r ns; do
		[ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
	done <"$LAB_DIR/netns"
	lab_san_reports >&2 && [ "$rc" -eq 0 ] && rc=1
	if [ -n "${LAB_KEEP:-}" ] || { [ "$rc" -ne 0 ] && [ -n "${LAB_KEEP_ON_FAILURE:-}" ]; }; then
		echo "lab: kept $LAB_DIR" >&2
	else
		rm -rf "$LAB_DIR"
	fi
	return "$rc"
}

# A sanitized build (LATCH_BUILD_ROOT=build-san: latchd, liblatch and its
# callers, latchctl) writes each report to a file of its own in $LAB_DIR/san,
# whichever user runs the program and wherever its output goes: tap_done turns
# each into a failed assertion, and the teardown fails the run on one that came
# after. Without a sanitizer nothing is written there.
lab_san_init() {
	mkdir -m 1777 "$LAB_DIR/san" || lab_die "mkdir $LAB_DIR/san"
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$LAB_DIR/san/asan"
	export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$LAB_DIR/san/ubsan"
}

# lab_san_reports: print the run's sanitizer reports; fails when there are none.
lab_san_reports() {
	local f found=1
	for f in "$LAB_DIR"/san/*; do
		[ -f "$f" ] || continue
		echo "lab: sanitizer report $f:"
		cat "$f"
		found=0
	done
	return "$found"
}

# lab_san_check: a failed assertion for each sanitizer report of the run (tap_done).
lab_san_check() {
	local f lines
	[ -n "${LAB_DIR:-}" ] || return 0
	for f in "$LAB_DIR"/san/*; do
		[ -f "$f" ] || continue
		mapfile -t lines <"$f"
		tap_fail "no sanitizer report (${f##*/})" "${lines[@]:0:80}"
	done
}

# lab_wait_gone PID TENTHS: wait until PID has exited (up to TENTHS/10 s).
lab_wait_gone() {
	local i
	for ((i = 0; i < $2; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

lab_ns() {
	echo "$LAB_ID-$1"
}

lab_dir() {
	echo "$LAB_DIR/hosts/$1"
}

# lab_ip HOST [4|6]
lab_ip() {
	local idx
	idx=$(cat "$(lab_dir "$1")/index") || lab_die "no host $1"
	if [ "${2:-4}" = 6 ]; then
		echo "${LAB_NET6}:$idx"
	else
		echo "$LAB_NET4.$idx"
	fi
}

# lab_host NAME INDEX: a namespace with loopback up and eth0 on the shared link.
lab_host() {
	local name=$1 idx=$2 ns dir
	ns=$(lab_ns "$name")
	dir=$(lab_dir "$name")
	mkdir -p "$dir"
	echo "$idx" >"$dir/index"
	ip netns add "$ns" || lab_die "cannot create namespace $ns"
	echo "$ns" >>"$LAB_DIR/netns"
	ip -n "$ns" link set lo up
	ip -n "$ns" link add eth0 type veth peer name "p$idx" netns "$LAB_SW"
	ip -n "$LAB_SW" link set "p$idx" master br0 up
	# each link of the host and its port on the switch (lab_capture_start)
	echo "eth0 p$idx" >"$dir/ports"
	# No duplicate address detection: the link is ours, and DAD delays IPv6 by seconds.
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	ip -n "$ns" addr add "$LAB_NET4.$idx/24" dev eth0
	ip -n "$ns" addr add "${LAB_NET6}:$idx/64" dev eth0 nodad
	ip -n "$ns" link set eth0 up
	lab_log "host $name: $ns $LAB_NET4.$idx ${LAB_NET6}:$idx"
}

lab_exec() {
	local ns
	ns=$(lab_ns "$1")
	shift
	ip netns exec "$ns" "$@"
}

# lab_bg HOST LOG CMD...: run CMD in HOST's namespace in the background, output
# to LOG. Its PID (CMD's own: ip netns exec execs it) is recorded for teardown
# and left in LAB_PID. Call it from the test's shell itself, never inside $(…):
# a process whose parent exits becomes a zombie nobody reaps in this sandbox.
# It is disowned so that bash reaps it quietly when it ends.
lab_bg() {
	local ns log=$2
	ns=$(lab_ns "$1")
	shift 2
	# appended: a restarted daemon keeps its earlier runs' log
	ip netns exec "$ns" "$@" >>"$log" 2>&1 </dev/null &
	LAB_PID=$!
	disown "$LAB_PID"
	echo "$LAB_PID" >>"$LAB_DIR/pids"
}

# lab_stop PID [SIGNAL]: signal one recorded process and reap it.
lab_stop() {
	kill "-${2:-TERM}" "$1" 2>/dev/null
	lab_wait_gone "$1" 100 || kill -9 "$1" 2>/dev/null
	lab_wait_gone "$1" 50
	return 0
}

# lab_wait TENTHS CMD...: poll CMD every 0.1 s until it succeeds.
lab_wait() {
	local i n=$1
	shift
	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# lab_wait_count TENTHS N PATTERN FILE: wait until PATTERN stands on N lines of FILE.
# (lab_wait with "$(grep -c …)" would count once, before waiting.)
lab_count() {
	[ "$(grep -c -e "$2" "$3" 2>/dev/null)" -ge "$1" ]
}

lab_wait_count() {
	lab_wait "$1" lab_count "$2" "$3" "$4"
}

# lab_listening HOST PORT [udp]: something listens on PORT in HOST (ss succeeds
# even when it lists nothing, so its output is what counts).
lab_listening() {
	local opt=-Hltn
	[ "${3:-}" = udp ] && opt=-Hlun
	lab_exec "$1" ss "$opt" "sport = :$2" | grep -q .
}

# lab_counter HOST NAME: the kernel's counter NAME in HOST's namespace: an
# SNMP one as nstat names it (TcpRetransSegs, TcpExtTCPLossProbes) or one of
# /proc/net/xfrm_stat (XfrmInTmplMismatch); nothing if there is none.
lab_counter() {
	lab_exec "$1" cat /proc/net/snmp /proc/net/netstat /proc/net/xfrm_stat | awk -v want="$2" '
		NF == 2 && $1 == want { print $2; exit }
		$1 ~ /:$/ {
			p = substr($1, 1, length($1) - 1)
			if (!(p in head)) { head[p] = $0; next }
			split(head[p], n)
			for (i = 2; i <= NF; i++) if (p n[i] == want) { print $i; exit }
			delete head[p]
		}'
}

source "$LAB_LIB_DIR/charon.sh"
source "$LAB_LIB_DIR/pki.sh"
source "$LAB_LIB_DIR/capture.sh"
source "$LAB_LIB_DIR/latchd.sh"
