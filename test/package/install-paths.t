#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Every installed path follows the prefix (issue 17 §1). For prefix /usr/local
# (make install) and /usr (the Debian packages): set up a build of this source
# tree, build what is installed, `meson install --destdir` into a temp dir, and
# check in that tree that
#   - the unit's ExecStart names the installed latchd;
#   - the configuration latchd reads (latchd --print-paths) is installed there;
#   - the BTNS anchor and its key are where latchd looks for them;
#   - latchctl is in bin (users run it), not in sbin;
#   - the installed man pages and example configuration name latchd's paths.
# Usage: install-paths.t SOURCE_ROOT
set -u
src=${1:?usage: install-paths.t SOURCE_ROOT}
source "$src/test/lab/tap.sh"

tmp=$(mktemp -d /tmp/latch-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# installed PREFIX: a build with PREFIX, installed into $tmp/PREFIX-as-name/root
check_prefix() {
	local prefix=$1 b d sysconf unit exe paths conf anchor key man bad targets
	b=$tmp/build${prefix//\//-}
	d=$tmp/root${prefix//\//-}
	if ! meson setup "$b" "$src" --prefix "$prefix" --buildtype plain >"$tmp/setup.log" 2>&1; then
		tap_fail "$prefix: meson setup" "$(tail -n 5 "$tmp/setup.log")"
		return
	fi
	# only what is installed (the tests' programs are not)
	mapfile -t targets < <(meson introspect "$b" --targets | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if t["installed"]:
        print(t["name"])')
	if ! meson compile -C "$b" "${targets[@]}" >"$tmp/compile.log" 2>&1 ||
		! meson install -C "$b" --no-rebuild --destdir "$d" >"$tmp/install.log" 2>&1; then
		tap_fail "$prefix: build and install" "$(tail -n 5 "$tmp/compile.log" "$tmp/install.log")"
		return
	fi
	sysconf=$(meson introspect "$b" --buildoptions | python3 -c '
import json, os, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
print(os.path.join(o["prefix"], o["sysconfdir"]))')

	unit=$(find "$d" -name latchd.service -path '*/systemd/system/*')
	tap_ok "$prefix: the unit is installed under the prefix" test -f "$unit" -a "${unit#"$d$prefix"/}" != "$unit"
	exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit" 2>/dev/null)
	tap_ok "$prefix: the unit's ExecStart ($exe) is the installed latchd" test -n "$exe" -a -x "$d$exe"

	paths=$("$d$prefix/sbin/latchd" --print-paths 2>&1)
	tap_diag "$paths"
	conf=$(awk '$1 == "config" { print $2 }' <<<"$paths")
	anchor=$(awk '$1 == "btns_anchor" { print $2 }' <<<"$paths")
	key=$(awk '$1 == "btns_anchor_key" { print $2 }' <<<"$paths")
	tap_ok "$prefix: the configuration latchd reads ($conf) is installed" test -n "$conf" -a -f "$d$conf"
	tap_ok "$prefix: the BTNS anchor is where latchd looks ($anchor)" test -n "$anchor" -a -f "$d$anchor"
	tap_ok "$prefix: and its key ($key)" test -n "$key" -a -f "$d$key"
	tap_is "$(dirname "$conf")" "$sysconf/latch" "$prefix: latchd's directory is sysconfdir's"

	tap_ok "$prefix: latchctl is in bin" test -x "$d$prefix/bin/latchctl"
	tap_not "$prefix: and not in sbin" test -e "$d$prefix/sbin/latchctl"

	# every configuration path the man pages and the example name is latchd's
	man=$d$prefix/share/man
	tap_ok "$prefix: latchd(8) names latchd's configuration" grep -qF "$conf" "$man/man8/latchd.8"
	tap_ok "$prefix: latchd.conf(5) names latchd's BTNS anchor" grep -qF "$anchor" "$man/man5/latchd.conf.5"
	tap_ok "$prefix: the installed example names latchd's BTNS anchor" grep -qF "$anchor" "$d$conf"
	bad=$(cat "$man/man8/latchd.8" "$man/man5/latchd.conf.5" "$man/man8/latchctl.8" "$d$conf" |
		grep -oE '[^ "(]*/etc/latch' | grep -vxF "$sysconf/latch" | sort -u)
	tap_is "$bad" "" "$prefix: no other configuration directory is named"
}

check_prefix /usr/local
check_prefix /usr
tap_done
