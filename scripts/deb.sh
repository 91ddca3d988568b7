#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# make deb: build the Debian packages (debian/) from this tree into OUT
# (default build-deb/): liblatch0, liblatch-dev, latchd, latchctl, python3-latch, each .deb
# beside the .changes and lintian's report (OUT/lintian.txt). The tree is
# copied first (tracked and untracked files, not the build directories), so
# dpkg-buildpackage writes nothing into the checkout. Binary packages only:
# the version 0.1.0-1 has a Debian revision, and the orig tarball a source
# package needs comes from a release, not from a checkout.
# DEB_BUILD_OPTIONS is passed on (nocheck skips the unit suite).
# Exit status: non-zero when the build fails or lintian reports an error or a
# warning.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-build-deb}")
version=$(sed -n '1s/^latch (\([^)]*\)).*/\1/p' debian/changelog)
upstream=${version%-*}
src=$out/latch-$upstream

rm -rf "$out"
mkdir -p "$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# tracked files deleted in the work tree are skipped (--ignore-failed-read)
	git ls-files -z --cached --others --exclude-standard |
		tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$src"
else
	tar -c --exclude='./build*' --exclude=./.git . | tar -x -C "$src"
fi

cd "$src"
dpkg-buildpackage -b -us -uc -j"$(nproc)" >"$out/build.log" 2>&1 || {
	tail -n 40 "$out/build.log" >&2
	echo "deb: dpkg-buildpackage failed (log: $out/build.log)" >&2
	exit 1
}
cd "$out"
changes=$(ls latch_"$version"_*.changes)
echo "deb: built in $out:"
printf '  %s\n' ./*.deb
# --fail-on warning: an error or a warning fails make deb; each override in
# debian/*.lintian-overrides says why it is one.
lintian_rc=0
lintian --fail-on error,warning --info --display-info "$changes" >lintian.txt 2>&1 || lintian_rc=$?
if [ -s lintian.txt ]; then
	cat lintian.txt
else
	echo "deb: lintian: no tags"
fi
exit "$lintian_rc"
