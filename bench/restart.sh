#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# latchd's restart with a large journal (issue 13, item 6): one latch host a
# (192.0.2.1, a.example) with charon; latch-restart (bench/restart.c) starts
# and stops a's latchd over generated journals inside a's namespace and prints
# the rows. See docs/performance.md.
#
#	bench/restart.sh BUILD_DIR [--quick]
set -u
build=$(cd "${1:?usage: restart.sh BUILD_DIR [--quick]}" && pwd)
quick=${2:-}
export LATCH_BUILD_ROOT=$build
# The lab, and so latchd's state_dir, on tmpfs: where /run is in production.
export TMPDIR=/dev/shm
top=$(cd "$(dirname "$0")/.." && pwd)
source "$top/test/lab/lab.sh"
t_start=$SECONDS

lab_init
lab_latch_host a 1
lab_ca ca
lab_cert a ca a.example
lab_charon_start a
lab_latchd_conf a
dir=$(lab_dir a)
mkdir -p -m 0700 "$dir/latch"

echo "latchd restart: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
echo
echo "| figure | latch: median / p99 | baseline: median / p99 | ratio | target | met |"
echo "| --- | --- | --- | --- | --- | --- |"
lab_exec a "$build/bench/latch-restart" "$(lab_latchd_bin)" "$dir/latchd.conf" "$dir/latch" \
	"$dir/latchd.log" $quick || tail -n 20 "$dir/latchd.log" >&2
echo "total: $((SECONDS - t_start)) s"
