#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# latchctl checks its arguments before it connects (issue 17 §3): each bad
# value is named, exit 2, and latchd is never asked (the socket does not
# exist: reaching for it would exit 3). TAP.
set -u
ctl=${1:?usage: latchctl-args.sh LATCHCTL}
sock=/nonexistent/latchctl-args.sock
n=0
fail=0

# expect_usage WANT ARGS...: exit 2 and WANT on stderr
expect_usage() {
	local want=$1 err rc
	shift
	n=$((n + 1))
	err=$("$ctl" --socket "$sock" "$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" = 2 ] && grep -qF -- "$want" <<<"$err"; then
		echo "ok $n - latchctl $* names $want"
	else
		echo "not ok $n - latchctl $*: exit $rc, said: $err"
		fail=1
	fi
}

expect_usage "'abc'" show abc
expect_usage "'0'" close 0
expect_usage "'x'" list --uid x
expect_usage "'-1'" list --uid -1
expect_usage "'99999'" list --port 99999
expect_usage "'x'" watch --count x
expect_usage "'5s'" watch --timeout 5s
expect_usage "'FOO'" list --state FOO
expect_usage "'-3'" list --limit -3
expect_usage "'extra'" status extra

n=$((n + 1))
out=$("$ctl" --version 2>&1)
if [ $? = 0 ] && grep -qE '^latchctl [0-9]+\.[0-9]+' <<<"$out"; then
	echo "ok $n - --version: $out"
else
	echo "not ok $n - --version: $out"
	fail=1
fi
echo "1..$n"
exit $fail
