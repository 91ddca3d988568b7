#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Install, from Debian's archive only, what building and testing latch needs.
# Idempotent: installs nothing when every package is already present, so `make`
# costs one dpkg-query on a prepared machine. Needs root only when something is missing.
set -euo pipefail

packages=(
	# build
	build-essential meson ninja-build pkg-config clang-format
	libmnl-dev libnftnl-dev libssl-dev
	# unit tests and fuzzing (libFuzzer and the sanitizer runtimes come with clang)
	libcmocka-dev clang libclang-rt-14-dev
	# the lab: strongSwan's charon with kernel-libipsec, swanctl, pki
	strongswan-charon strongswan-swanctl strongswan-pki
	libcharon-extra-plugins libstrongswan-extra-plugins libstrongswan-standard-plugins
	# the lab: namespaces, firewall, captures, credentials
	iproute2 nftables iptables tcpdump openssl socat procps psmisc python3
	# Python's latch package (python/): its extension, tests, and pip install ./python
	python3-dev python3-pytest python3-venv python3-mesonpy
	# the kernel lab (test/kernel-lab/): Debian's kernel with ESP under qemu, its initramfs
	qemu-system-x86 busybox-static kmod cpio
	# the Debian packages (make deb, and make check's suite package)
	dpkg-dev debhelper dh-python lintian
	# the style suite's man-lint and unit-file, latchd-observe's second OpenMetrics parser
	groff-base man-db mandoc systemd python3-prometheus-client
)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "setup: missing packages: ${missing[*]}" >&2
	echo "setup: run 'make setup' as root (it installs them with apt-get)" >&2
	exit 1
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Installing strongswan-charon must not start a system charon: the lab runs its own.
policy=/usr/sbin/policy-rc.d
created_policy=
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 0755 "$policy"
	created_policy=1
fi
trap '[ -n "$created_policy" ] && rm -f "$policy"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
