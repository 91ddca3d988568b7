#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# deb-lab.t in the kernel lab (test/kernel-lab/: Debian's kernel, with ESP, under
# qemu): the packages exactly as they install, latchd on the kernel data plane.
# The packages are built here on the host (scripts/deb.sh, lintian included;
# building under emulation would take minutes), and the guest, which sees the
# host's files, installs them from there (LATCH_DEBS). TAP on stdout.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
debs=$(mktemp -d /tmp/latch-debs.XXXXXX)
trap 'rm -rf "$debs"' EXIT
if ! DEB_BUILD_OPTIONS=nocheck "$src/scripts/deb.sh" "$debs" >"$debs.log" 2>&1; then
	echo "not ok 1 - make deb's build: the packages build and lintian is clean"
	sed 's/^/# /' "$debs.log" | tail -n 20
	rm -f "$debs.log"
	echo "1..1"
	exit 1
fi
rm -f "$debs.log"
LATCH_DEBS=$debs LAB_DATAPLANE=kernel "$src/test/kernel-lab/kernel-lab.sh" run "$src/test/package/deb-lab.t"
