#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# make fuzz: build the libFuzzer targets with clang, ASan and UBSan, and run
# each for a fixed number of runs over a scratch copy of its seed corpus
# (test/fuzz/corpus/<target>/), so the tree is never modified. Fails on any
# crash, sanitizer report or leak.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}
runs=${2:-20000}

if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
		>/dev/null
fi
meson compile -C "$build" >/dev/null

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for seeds in test/fuzz/corpus/*/; do
	target=$(basename "$seeds")
	exe="$build/test/fuzz/$target"
	if [ ! -x "$exe" ]; then
		echo "fuzz: $target: no such target in $build" >&2
		status=1
		continue
	fi
	mkdir -p "$work/$target"
	cp -r "$seeds". "$work/$target/"
	echo "fuzz: $target: $runs runs over $(ls "$seeds" | wc -l) seeds"
	if ! "$exe" -runs="$runs" -max_len=65536 -artifact_prefix="$work/" \
		"$work/$target" >"$work/$target.log" 2>&1; then
		tail -n 40 "$work/$target.log" >&2
		echo "fuzz: $target: FAILED (log above)" >&2
		status=1
		continue
	fi
	grep -E '^(#[0-9]+[[:space:]]+DONE|Done [0-9]+ runs)' "$work/$target.log" | tail -n 1
done
exit $status
