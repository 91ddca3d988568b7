# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Minimal TAP producer for the integration scripts. Source it, call the
# assertions, end with tap_done, which prints the plan last. A script that dies
# before tap_done prints no plan, and the runner counts it failed.

TAP_N=0
TAP_FAILED=0

tap_pass() {
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N - $1"
}

tap_fail() {
	TAP_N=$((TAP_N + 1))
	TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_N - $1"
	shift
	local line
	for line in "$@"; do
		echo "#   $line"
	done
}

# tap_diag TEXT...: a comment line for each line of TEXT (an unprefixed line is not TAP).
tap_diag() {
	local line
	while IFS= read -r line; do
		echo "# $line"
	done <<<"$*"
}

tap_skip() {
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N - $1 # SKIP $2"
}

# tap_ok DESC CMD...: passes when CMD succeeds.
tap_ok() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		tap_pass "$desc"
	else
		tap_fail "$desc" "command failed: $*" "${out:0:600}"
	fi
}

# tap_not DESC CMD...: passes when CMD fails.
tap_not() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		tap_fail "$desc" "command unexpectedly succeeded: $*" "${out:0:600}"
	else
		tap_pass "$desc"
	fi
}

# tap_is GOT WANT DESC
tap_is() {
	if [ "$1" = "$2" ]; then
		tap_pass "$3"
	else
		tap_fail "$3" "got:  '$1'" "want: '$2'"
	fi
}

# tap_cmp GOT OP WANT DESC, with OP one of test(1)'s integer comparisons (-gt, -eq, …)
tap_cmp() {
	if [ "$1" "$2" "$3" ] 2>/dev/null; then
		tap_pass "$4"
	else
		tap_fail "$4" "got '$1', want $2 '$3'"
	fi
}

tap_done() {
	# in the lab: a sanitizer's report fails the test whose run caused it
	if declare -F lab_san_check >/dev/null; then lab_san_check; fi
	echo "1..$TAP_N"
	[ "$TAP_FAILED" -eq 0 ]
}
