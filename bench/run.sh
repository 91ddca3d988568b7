#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The benchmarks on the lab: two latch hosts a (192.0.2.1, a.example) and b
# (192.0.2.2, b.example), each with charon and latchd, and a plain charon
# host c (c.example) for the takeover. latch-bench runs once on a and holds
# sockets in both hosts; it prints the table's rows. See docs/performance.md.
#
#	bench/run.sh BUILD_DIR [--quick] [PHASE...]
#
# PHASEs: only these of latch-bench's (setup-exact, …; takeover only last); all by default.
set -u
build=$(cd "${1:?usage: run.sh BUILD_DIR [--quick] [PHASE...]}" && pwd)
shift
quick=
[ "${1:-}" = --quick ] && quick=--quick && shift
phases=("$@")
export LATCH_BUILD_ROOT=$build
top=$(cd "$(dirname "$0")/.." && pwd)
bin=$build/bench/latch-bench
source "$top/test/lab/lab.sh"

reps=41 # source ports of the exact baseline's narrow children (bench_setup)
[ -n "$quick" ] && reps=9
t_start=$SECONDS

# bench_latchd_start HOST: lab_latchd_start without debug logging, which
# would cost every request a few log lines.
bench_latchd_start() {
	local dir
	dir=$(lab_dir "$1")
	lab_latchd_conf "$1"
	rm -f "$dir/latchd.sock"
	lab_bg "$1" "$dir/latchd.log.tmp" "$(lab_latchd_bin)" -c "$dir/latchd.conf"
	echo "$LAB_PID" >"$dir/latchd.pid"
	lab_wait 100 lab_latchd_ready "$1" || lab_die "latchd on $1 did not become ready"
}

lab_init
lab_latch_host a 1
lab_latch_host b 2
lab_host c 3
lab_ca ca
lab_cert a ca a.example
lab_cert b ca b.example
lab_cert c ca c.example
# Thousands of connections between two hosts: ports, backlog; the exact
# baseline's narrow children use source ports 20000.. below the ephemeral range.
lab_exec a sysctl -qw net.ipv4.ip_local_port_range="30000 65000"
lab_exec b sysctl -qw net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535
pairs=()
for ((i = 0; i <= reps; i++)); do pairs+=("$((20000 + i)):8080"); done
lab_conn_narrow a b b.example bx tcp "${pairs[@]}"
for h in a b; do lab_charon_start "$h"; done
lab_charon_start c
# before latchd: swanctl --load-all unloads connections it did not load
lab_load a >/dev/null || lab_die "cannot load the baseline's children"
for h in a b; do bench_latchd_start "$h"; done

args=(--ns-a "/run/netns/$(lab_ns a)" --ns-b "/run/netns/$(lab_ns b)"
	--latchd-a "$(lab_latchd_sock a)" --latchd-b "$(lab_latchd_sock b)"
	--vici-a "$(lab_dir a)/charon.vici" --vici-b "$(lab_dir b)/charon.vici"
	--pid-latchd-a "$(lab_latchd_pid a)" --pid-latchd-b "$(lab_latchd_pid b)"
	--pid-charon-a "$(lab_charon_pid a)" --pid-charon-b "$(lab_charon_pid b)"
	--latchctl "$(lab_latchctl_bin)" --peer-id b.example
	--ca-file "$(lab_dir a)/swanctl/x509ca/ca.pem" --cert-file "$(lab_dir a)/swanctl/x509/a.pem"
	--peer-ca "C=CH, O=latch-lab, CN=ca CA" $quick)

echo "latch benchmarks${quick:+ (quick)}: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
echo
echo "| figure | latch: median / p99 | baseline: median / p99 | ratio | target | met |"
echo "| --- | --- | --- | --- | --- | --- |"
out=$LAB_DIR/bench.out
: >"$out"
tail -n +1 -f "$out" --pid=$$ 2>/dev/null | grep --line-buffered '^|' &
tailer=$!
[ ${#phases[@]} -gt 0 ] || phases=(setup setup-exact load-conn query break load scale exact-scale takeover)
[ "${phases[-1]}" = takeover ] && unset 'phases[-1]' && takeover=1
lab_bg a "$out" "$bin" "${args[@]}" "${phases[@]}"
lab_wait_gone "$LAB_PID" 9000 || echo "latch-bench did not finish" >&2

# The takeover last, on a quiet daemon (latch-bench waits for a to be idle),
# several times: after each, b gets its address back and c's SA goes.
if [ -n "${takeover:-}" ]; then
	steps=$LAB_DIR/takeover
	mkdir -p "$steps"
	takeovers=5
	[ -n "$quick" ] && takeovers=2
	lab_bg a "$out" "$bin" "${args[@]}" takeover "$steps"
	bench=$LAB_PID
	for ((i = 1; i <= takeovers; i++)); do
		lab_wait 900 test -e "$steps/ready.$i" || break
		lab_takeover c b a >/dev/null || echo "takeover $i: IKE between c and a failed" >&2
		lab_wait 400 test -e "$steps/seen.$i" || break
		lab_swanctl c --terminate --ike takeover --timeout 10 >/dev/null
		lab_exec c ip addr del "$(lab_ip b)/24" dev eth0
		lab_exec b ip addr add "$(lab_ip b)/24" dev eth0
		lab_exec a ip neigh flush dev eth0
		touch "$steps/restored.$i"
	done
	lab_wait_gone "$bench" 400 || echo "takeover: latch-bench did not end" >&2
fi
sleep 0.5
kill "$tailer" 2>/dev/null
wait "$tailer" 2>/dev/null
echo
grep -v '^|' "$out"
echo "total: $((SECONDS - t_start)) s"
