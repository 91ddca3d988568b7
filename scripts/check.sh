#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# make check: build twice (plain, and with AddressSanitizer + UndefinedBehaviorSanitizer)
# and run: the unit tests in both; the style check; the lab's integration scenarios and
# the hostile suite against the sanitized latchd, liblatch and latchctl (each build's
# tests take their programs from that build: LATCH_BUILD_ROOT); the Debian packages,
# built and installed on lab hosts (suite package); the kernel lab in the plain build. A
# sanitizer's report fails the test whose run caused it (test/lab/lab.sh, lab_san_init).
# End with one line 'N passed, N failed, N skipped'. Every suite runs even when an earlier
# one failed, so the summary is complete; the exit status is non-zero on any failure.
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

# A report ends the program (latchd too: the test sees it gone) and, in the lab, is
# written to the run's directory, whichever user ran the program. Leaks count: a program
# that exits (latchd on SIGTERM) has freed what it allocated; one stopped with SIGKILL
# is not checked.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1

# suite DIR NAME ARGS...: one meson test run, its log kept for the summary
logs=()
suite() {
	local dir=$1 name=$2
	shift 2
	meson test -C "$dir" --no-rebuild --print-errorlogs --logbase "check-$name" "$@"
	logs+=("$dir/meson-logs/check-$name.json")
}

if configure "$build"; then
	rm -f "$build"/meson-logs/check-*.json
	suite "$build" unit --suite unit --suite style
	plain=1
else
	logs+=("$build/meson-logs/does-not-exist-build-failed.json")
	plain=0
fi
if configure "$san" -Db_sanitize=address,undefined -Db_lundef=false; then
	rm -f "$san"/meson-logs/check-*.json
	suite "$san" unit --suite unit
	suite "$san" integration --suite integration --suite hostile --num-processes 1
else
	logs+=("$san/meson-logs/does-not-exist-build-failed.json")
fi
# Python's latch package on the lab (test/python/): plain build only, as a sanitized
# extension cannot be loaded into an uninstrumented python3
if [ "$plain" = 1 ]; then
	suite "$build" python --suite python --num-processes 1
fi
# the Debian packages: built, installed on two lab hosts, a latch between them
if [ "$plain" = 1 ]; then
	suite "$build" package --suite package --num-processes 1
fi
# the kernel lab: scenarios on kernel ESP under qemu (test/kernel-lab/), plain build;
# make check-native leaves it out
if [ "$plain" = 1 ] && [ "${LATCH_CHECK_KERNEL:-1}" = 1 ]; then
	suite "$build" kernel --suite kernel --num-processes 1
fi
echo
python3 scripts/summary.py "${logs[@]}"
