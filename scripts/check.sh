#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# make check: build twice (plain, and with AddressSanitizer + UndefinedBehaviorSanitizer),
# run the unit tests in both, the style check and the lab integration tests in the plain
# build, and end with one line 'N passed, N failed, N skipped'. Every suite runs even when
# an earlier one failed, so the summary is complete; the exit status is non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
san=${2:-build-san}

configure() {
	local dir=$1
	shift
	[ -f "$dir/build.ninja" ] || meson setup "$dir" "$@" >/dev/null || return 1
	meson compile -C "$dir"
}

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1

logs=()
if configure "$build"; then
	rm -f "$build"/meson-logs/check-*.json
	meson test -C "$build" --no-rebuild --print-errorlogs --logbase check-unit \
		--suite unit --suite style
	logs+=("$build/meson-logs/check-unit.json")
	meson test -C "$build" --no-rebuild --print-errorlogs --logbase check-integration \
		--suite integration --suite hostile --num-processes 1
	logs+=("$build/meson-logs/check-integration.json")
	# the kernel lab: scenarios on kernel ESP under qemu (test/kernel-lab/); make
	# check-native leaves it out
	if [ "${LATCH_CHECK_KERNEL:-1}" = 1 ]; then
		meson test -C "$build" --no-rebuild --print-errorlogs --logbase check-kernel \
			--suite kernel --num-processes 1
		logs+=("$build/meson-logs/check-kernel.json")
	fi
else
	logs+=("$build/meson-logs/does-not-exist-build-failed.json")
fi
if configure "$san" -Db_sanitize=address,undefined -Db_lundef=false; then
	rm -f "$san"/meson-logs/check-*.json
	meson test -C "$san" --no-rebuild --print-errorlogs --logbase check-unit --suite unit
	logs+=("$san/meson-logs/check-unit.json")
else
	logs+=("$san/meson-logs/does-not-exist-build-failed.json")
fi
echo
python3 scripts/summary.py "${logs[@]}"
