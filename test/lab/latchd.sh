# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# latchd per lab host (sourced by lab.sh). A latch host's charon routes only
# marked flows into ipsec0 (kernel-netlink fwmark = latchd's mark, Setup B
# of docs/architecture.md, "Fail-closed layers on libipsec"), and its latchd gets its own socket, state directory,
# configuration and log under the host's directory.

LAB_BUILD=${LATCH_BUILD_ROOT:-$(cd "$LAB_LIB_DIR/../.." && pwd)/build}

lab_latchd_bin() {
	echo "$LAB_BUILD/src/latchd/latchd"
}

lab_latchctl_bin() {
	echo "$LAB_BUILD/src/latchctl/latchctl"
}

lab_latchd_sock() {
	echo "$(lab_dir "$1")/latchd.sock"
}

# lab_latch_host NAME N: a host whose charon is set up for latchd (call before
# lab_cert and lab_charon_start).
lab_latch_host() {
	lab_host "$1" "$2"
	LAB_FWMARK=0x100 lab_charon_conf "$1"
}

# lab_latchd_conf HOST [LINES...]: latchd.conf for HOST: its certificate, key and
# CAs from its swanctl directory; extra "key = value" lines appended.
lab_latchd_conf() {
	local host=$1 dir ca
	shift
	dir=$(lab_dir "$host")
	{
		echo "socket = $dir/latchd.sock"
		echo "state_dir = $dir/latch"
		echo "data_dir = $dir/lib"
		echo "btns_anchor = $LAB_LIB_DIR/../../etc/btns/anchor.pem"
		echo "btns_anchor_key = $LAB_LIB_DIR/../../etc/btns/anchor.key"
		echo "vici_socket = $dir/charon.vici"
		echo "strongswan_conf = $dir/strongswan.conf"
		echo "dpd_delay = ${LAB_LATCHD_DPD:-2s}"
		echo "initiate_timeout = ${LAB_LATCHD_TIMEOUT:-5s}"
		if [ -f "$dir/swanctl/x509/$host.pem" ]; then
			echo "cert = $dir/swanctl/x509/$host.pem"
			echo "key = $dir/swanctl/private/$host.pem"
		fi
		for ca in "$dir"/swanctl/x509ca/*.pem; do
			[ -f "$ca" ] && echo "ca = $ca"
		done
		printf '%s\n' "$@"
	} >"$dir/latchd.conf"
}

# lab_latchd_start HOST: start latchd (configured by lab_latchd_conf, or with
# the defaults of it) and wait until it serves and reaches charon.
lab_latchd_start() {
	local host=$1 dir
	dir=$(lab_dir "$host")
	[ -f "$dir/latchd.conf" ] || lab_latchd_conf "$host"
	rm -f "$dir/latchd.sock"
	# LAB_LATCHD_WRAP: a command latchd runs under (test/lab/journal-wrap.sh)
	# shellcheck disable=SC2086
	lab_bg "$host" "$dir/latchd.log.tmp" ${LAB_LATCHD_WRAP:-} "$(lab_latchd_bin)" \
		-c "$dir/latchd.conf" -d
	# keep every run's log: a restart appends
	echo "$LAB_PID" >"$dir/latchd.pid"
	if ! lab_wait 100 lab_latchd_ready "$host"; then
		cat "$dir/latchd.log.tmp" >&2
		lab_die "latchd on $host did not become ready"
	fi
}

lab_latchd_ready() {
	lab_latchctl "$1" status 2>/dev/null | grep -q '^charon_up *1'
}

lab_latchd_pid() {
	cat "$(lab_dir "$1")/latchd.pid" 2>/dev/null
}

lab_latchd_log() {
	cat "$(lab_dir "$1")/latchd.log.tmp"
}

lab_latchd_stop() {
	local pid
	pid=$(lab_latchd_pid "$1") || return 0
	lab_stop "$pid" "${2:-TERM}"
	rm -f "$(lab_dir "$1")/latchd.pid"
}

# lab_latch_drops HOST NFT KERNEL: the packets of latched flows HOST dropped,
# as its data plane counts them: latchd's nft counter NFT (libipsec), or the
# kernel's counter KERNEL (kernel ESP; lab_counter).
lab_latch_drops() {
	if [ "${LAB_DATAPLANE:-libipsec}" = kernel ]; then
		lab_counter "$1" "$3"
	else
		lab_exec "$1" nft list counter inet latch "$2" | grep -o 'packets [0-9]*' | cut -d' ' -f2
	fi
}

# lab_latchctl HOST ARGS...: latchctl against HOST's latchd.
lab_latchctl() {
	local host=$1
	shift
	lab_exec "$host" "$(lab_latchctl_bin)" --socket "$(lab_latchd_sock "$host")" "$@"
}

# lab_as_latch HOST CMD...: run CMD in HOST with LATCH_SOCKET pointing at its latchd.
lab_as_latch() {
	local host=$1
	shift
	lab_exec "$host" env LATCH_SOCKET="$(lab_latchd_sock "$host")" "$@"
}

lab_probe_bin() {
	echo "$LAB_BUILD/test/integration/latch-probe"
}

# lab_user_bin PROGRAM: a copy of the build's PROGRAM (a path under the build
# tree) that any user can run, wherever the tree lives (a checkout in root's
# home is mode 0700). The copy keeps its place relative to liblatch, copied
# beside it, so its runpath finds the library. Prints the copy's path.
lab_user_bin() {
	local src=$1 dir=$LAB_DIR/ubin rel
	rel=${src#"$LAB_BUILD"/}
	[ "$rel" != "$src" ] || lab_die "lab_user_bin: $src is not in $LAB_BUILD"
	if [ ! -d "$dir/src/lib" ]; then
		mkdir -p "$dir/src/lib" || lab_die "lab_user_bin: mkdir $dir"
		cp -a "$LAB_BUILD"/src/lib/liblatch.so* "$dir/src/lib/"
	fi
	if [ ! -x "$dir/$rel" ]; then
		mkdir -p "$(dirname "$dir/$rel")"
		cp "$src" "$dir/$rel" || lab_die "lab_user_bin: cannot copy $src"
	fi
	chmod -R a+rX "$dir"
	echo "$dir/$rel"
}

# lab_as_user HOST UID CMD...: CMD on HOST as user and group UID, without
# supplementary groups or capabilities, talking to HOST's latchd. CMD's program
# is run from a copy (lab_user_bin) when it lies in the build tree.
lab_as_user() {
	local host=$1 uid=$2 prog=$3
	shift 3
	case $prog in
	"$LAB_BUILD"/*) prog=$(lab_user_bin "$prog") ;;
	esac
	lab_exec "$host" setpriv --reuid="$uid" --regid="$uid" --clear-groups \
		env LATCH_SOCKET="$(lab_latchd_sock "$host")" "$prog" "$@"
}

# lab_as_user_bg HOST LOG UID CMD...: the same in the background (PID in LAB_PID).
lab_as_user_bg() {
	local host=$1 log=$2 uid=$3 prog=$4
	shift 4
	case $prog in
	"$LAB_BUILD"/*) prog=$(lab_user_bin "$prog") ;;
	esac
	lab_bg "$host" "$log" setpriv --reuid="$uid" --regid="$uid" --clear-groups \
		env LATCH_SOCKET="$(lab_latchd_sock "$host")" "$prog" "$@"
}

# lab_probe HOST ARGS...: the test application on HOST, talking to HOST's latchd.
lab_probe() {
	local host=$1
	shift
	lab_as_latch "$host" "$(lab_probe_bin)" "$@"
}

# lab_probe_bg HOST LOG ARGS...: the same in the background (PID in LAB_PID).
lab_probe_bg() {
	local host=$1 log=$2
	shift 2
	lab_bg "$host" "$log" env LATCH_SOCKET="$(lab_latchd_sock "$host")" "$(lab_probe_bin)" "$@"
}

# lab_flow_held HOST PORT: the kernel on HOST holds a latched IPv4 flow whose
# local port is PORT, whether latchd runs or not: an element of latchd's nft
# set flows4 on libipsec; on the kernel, a process's socket of that port (not
# one in TIME_WAIT or orphaned) exists and carries its own outbound XFRM policy. A socket's policies select on family
# and protocol (they cover every flow of the socket), so `ip xfrm policy`
# does not say which socket holds one: lab_sock_policies counts them.
lab_flow_held() {
	if [ "${LAB_DATAPLANE:-libipsec}" = kernel ]; then
		lab_exec "$1" ss -tuanpH "sport = :$2" | grep -q 'users:' &&
			lab_sock_policies "$1" out | grep -q .
	else
		lab_exec "$1" nft list set inet latch flows4 | grep -q " \. $2\([ ,]\|$\)"
	fi
}

# lab_sock_policies HOST DIR: HOST's per-socket XFRM policies of direction DIR
# (in, out) for TCP or UDP, one a line: selector and template joined (charon's
# own bypass policies on its IKE sockets name no protocol and are left out).
lab_sock_policies() {
	lab_exec "$1" ip xfrm policy |
		awk '/^src/ { if (b) print b; b = $0; next } { b = b " " $0 } END { if (b) print b }' |
		grep "socket $2 " | grep -E " proto (tcp|udp) "
}

# lab_latch_states HOST PORT: the state of each of HOST's latches (listeners
# aside) whose flow has PORT at either end, one a line.
lab_latch_states() {
	lab_latchctl "$1" --json list | python3 -c '
import json, sys
p = int(sys.argv[1])
for l in json.load(sys.stdin)["latches"]:
    f = l.get("flow", {})
    if p in (f.get("local_port"), f.get("remote_port")) and l["state"] != "LISTENER":
        print(l["state"])' "$2"
}

# The lab CA's DN, as latchd and the probes name it.
LAB_CA_DN="C=CH, O=latch-lab, CN=ca CA"

# lab_latch_pair: the usual two latch hosts: a (192.0.2.1, a.example) and
# b (192.0.2.2, b.example), certificates from one CA "ca", charon and latchd
# running on both.
lab_latch_pair() {
	local h
	lab_latch_host a 1
	lab_latch_host b 2
	lab_ca ca
	lab_cert a ca a.example
	lab_cert b ca b.example
	for h in a b; do
		lab_charon_start "$h"
		lab_latchd_start "$h"
	done
}

# lab_latch_trio: a takeover's cast, nothing started: the latch hosts a and b
# of lab_latch_pair and a plain host c (192.0.2.3), each with a certificate
# (HOST.example) from one CA "ca".
lab_latch_trio() {
	local h
	lab_latch_host a 1
	lab_latch_host b 2
	lab_host c 3
	lab_ca ca
	for h in a b c; do lab_cert "$h" ca "$h.example"; done
}

# lab_latch_server HOST PORT LOG [ARGS...]: latch-probe serving PORT on HOST,
# admitting the lab CA's peers; returns once it listens (PID in LAB_PID).
lab_latch_server() {
	local host=$1 port=$2 log=$3 pid
	shift 3
	lab_probe_bg "$host" "$log" serve "$port" --peer-ca "$LAB_CA_DN" "$@"
	pid=$LAB_PID
	lab_wait_count 100 1 '^listening' "$log" || lab_die "the server on $host did not listen"
	LAB_PID=$pid
}
