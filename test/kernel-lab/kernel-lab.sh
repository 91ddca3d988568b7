#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The kernel lab: Debian's kernel (which has ESP, unlike the host's) under
# qemu with software emulation, the host's / read-only over 9p with a tmpfs
# overlay, lab scripts run inside as root. README.md here; the measured
# recipe is in README.md here.
#
#   kernel-lab.sh prepare                  fetch and build once into the cache
#   kernel-lab.sh run [-t SECS] SCRIPT...  one VM, each SCRIPT in turn (a path,
#                                          run with bash); each one's stdout on
#                                          ours, stderr on ours; exit status: the
#                                          first failing script's, or 0
#
# Environment: KLAB_CACHE (default $XDG_CACHE_HOME/latch-kernel-lab or
# /var/cache/latch-kernel-lab), KLAB_KVER (a kernel ABI such as 6.1.0-56-amd64;
# default: the cache's, else the archive's linux-image-amd64), KLAB_TIMEOUT
# (seconds per script inside the guest, default 540), KLAB_MEM (MiB, 1024),
# KLAB_KEEP=1 (keep the share: console, logs), LATCH_BUILD_ROOT, LAB_* (passed in).
set -euo pipefail

KLAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -n "${KLAB_CACHE:-}" ]; then
	cache=$KLAB_CACHE
elif [ -n "${XDG_CACHE_HOME:-}" ]; then
	cache=$XDG_CACHE_HOME/latch-kernel-lab
else
	cache=/var/cache/latch-kernel-lab
fi

die() {
	echo "kernel-lab: $*" >&2
	exit 1
}

archive_kernel() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { sub("linux-image-", "", $2); print $2; exit }'
}

# The kernel ABI to use: asked for, else already in the cache, else the archive's.
kernel_version() {
	local v
	if [ -n "${KLAB_KVER:-}" ]; then
		echo "$KLAB_KVER"
		return
	fi
	v=$(find "$cache" -maxdepth 2 -name vmlinuz -printf '%h\n' 2>/dev/null | sort -V | tail -n 1)
	if [ -n "$v" ]; then
		basename "$v"
		return
	fi
	v=$(archive_kernel)
	if [ -z "$v" ] && [ "$(id -u)" -eq 0 ]; then
		apt-get update -qq >/dev/null 2>&1 || true
		v=$(archive_kernel)
	fi
	[ -n "$v" ] || die "no linux-image-amd64 in apt's lists (run apt-get update)"
	echo "$v"
}

# What the initramfs is made of: rebuilt when any of it changes.
inputs_hash() {
	cat "$KLAB_DIR/init" "$KLAB_DIR/stage2.sh" "$KLAB_DIR/modules.list" /bin/busybox |
		sha256sum | cut -c1-16
}

# resolve KDIR KVER SECTION: the section's modules with their dependencies
# first, each once, as paths relative to the modules directory.
resolve_modules() {
	local mdir=$1/lib/modules/$2 section=$3
	awk -v want="$section" '
		/^\[/ { cur = substr($0, 2, length($0) - 2); next }
		/^#/ || NF == 0 { next }
		cur == want { print $1 }' "$KLAB_DIR/modules.list" |
		awk -v dep="$mdir/modules.dep" -v seen="${4:-/dev/null}" '
		function norm(s) { gsub("-", "_", s); return s }
		function visit(p,   i, n, d) {
			if (p in done) return
			done[p] = 1
			n = split(deps[p], d, " ")
			for (i = n; i >= 1; i--) visit(d[i])
			print p
		}
		BEGIN {
			while ((getline line < dep) > 0) {
				split(line, kv, ":")
				p = kv[1]; deps[p] = substr(line, length(p) + 2)
				b = p; sub(".*/", "", b); sub("\\.ko.*$", "", b)
				byname[norm(b)] = p
			}
			while ((getline p < seen) > 0) done[p] = 1
		}
		{
			n = norm($1)
			if (!(n in byname)) { print "missing module " $1 > "/dev/stderr"; bad = 1; next }
			visit(byname[n])
		}
		END { exit bad }'
}

build_initramfs() {
	local kdir=$1 kver=$2 out=$3 root sec list
	root=$(mktemp -d "$cache/initramfs.XXXXXX")
	mkdir -p "$root"/{bin,dev,proc,sys,mnt,lib/modules}
	cp /bin/busybox "$root/bin/busybox"
	cp "$KLAB_DIR/init" "$root/init"
	cp "$KLAB_DIR/stage2.sh" "$root/stage2.sh"
	chmod 0755 "$root/init"
	: >"$root/seen"
	for sec in boot net; do
		list=$(resolve_modules "$kdir" "$kver" "$sec" "$root/seen") || {
			rm -rf "$root"
			die "module list does not resolve against $kver"
		}
		: >"$root/lib/modules/$sec.order"
		while read -r m; do
			[ -n "$m" ] || continue
			echo "$m" >>"$root/seen"
			mkdir -p "$root/lib/modules/$(dirname "$m")"
			case $m in
			*.ko.xz) xz -dc "$kdir/lib/modules/$kver/$m" >"$root/lib/modules/${m%.xz}"; m=${m%.xz} ;;
			*) cp "$kdir/lib/modules/$kver/$m" "$root/lib/modules/$m" ;;
			esac
			echo "$m" >>"$root/lib/modules/$sec.order"
		done <<<"$list"
	done
	rm -f "$root/seen"
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.tmp"
	mv "$out.tmp" "$out"
	rm -rf "$root"
}

# prepare: the kernel and an initramfs for it in $cache/KVER/, once. The
# package is fetched and unpacked, never installed (installing it builds two
# unused initramfs images: 3 minutes); its modules are deleted once the
# initramfs has what it needs.
prepare() {
	local kver dir hash deb kdir
	kver=$(kernel_version)
	dir=$cache/$kver
	hash=$(inputs_hash)
	if [ -f "$dir/vmlinuz" ] && [ "$(cat "$dir/stamp" 2>/dev/null)" = "$hash" ]; then
		return 0
	fi
	mkdir -p "$dir"
	for t in qemu-system-x86_64 cpio depmod; do
		command -v "$t" >/dev/null || die "$t is missing (make setup installs it)"
	done
	[ -x /bin/busybox ] || die "/bin/busybox is missing (busybox-static; make setup installs it)"
	echo "kernel-lab: preparing linux-image-$kver in $dir" >&2
	deb=$(find "$dir" -maxdepth 1 -name "linux-image-${kver}_*.deb" | head -n 1)
	if [ -z "$deb" ]; then
		(cd "$dir" && apt-get download -q "linux-image-$kver" >/dev/null 2>&1) ||
			die "apt-get download linux-image-$kver failed"
		deb=$(find "$dir" -maxdepth 1 -name "linux-image-${kver}_*.deb" | head -n 1)
	fi
	kdir=$dir/unpacked
	rm -rf "$kdir"
	dpkg-deb -x "$deb" "$kdir"
	# modules.dep is made by the package's postinst, not shipped
	depmod -b "$kdir" "$kver"
	build_initramfs "$kdir" "$kver" "$dir/initramfs.cpio.gz"
	cp "$kdir/boot/vmlinuz-$kver" "$dir/vmlinuz"
	rm -rf "$kdir"
	echo "$hash" >"$dir/stamp"
}

# ------------------------------------------------------------------------ run

qemu_pid=
share=

cleanup() {
	local rc=$?
	trap - EXIT
	trap '' INT TERM
	if [ -n "$qemu_pid" ]; then
		kill -TERM "$qemu_pid" 2>/dev/null && sleep 0.5
		kill -KILL "$qemu_pid" 2>/dev/null
		wait "$qemu_pid" 2>/dev/null
	fi
	if [ -n "$share" ] && [ -d "$share" ]; then
		if [ -n "${KLAB_KEEP:-}" ]; then
			echo "kernel-lab: kept $share" >&2
		else
			rm -rf "$share"
		fi
	fi
	exit "$rc"
}

# The environment the guest's scripts get: the lab's settings and where things are.
write_env() {
	local v
	{
		printf 'export KLAB_CWD=%q KLAB_TIMEOUT=%q\n' "$PWD" "$1"
		for v in $(compgen -e); do
			case $v in
			LAB_* | LATCH_* | KLAB_KEEP | KLAB_VERBOSE) printf 'export %s=%q\n' "$v" "${!v}" ;;
			esac
		done
	} >"$share/env"
}

run() {
	local per=${KLAB_TIMEOUT:-540} kver dir s i=0 rc=0 total deadline name
	while [ $# -gt 0 ]; do
		case $1 in
		-t) per=$2; shift 2 ;;
		--) shift; break ;;
		*) break ;;
		esac
	done
	[ $# -gt 0 ] || die "usage: kernel-lab.sh run [-t SECS] SCRIPT..."
	prepare
	kver=$(kernel_version)
	dir=$cache/$kver
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	share=$(mktemp -d "${TMPDIR:-/tmp}/latch-klab.XXXXXX")
	chmod 0755 "$share"
	case $share in *[[:space:]]*) die "the share's path cannot contain spaces" ;; esac
	write_env "$per"
	: >"$share/jobs"
	for s in "$@"; do
		s=$(realpath "$s") || die "no script $s"
		printf 'job%d bash %q\n' "$i" "$s" >>"$share/jobs"
		i=$((i + 1))
	done
	# Host-side timeout, the backstop: boot, every script's own timeout, power-off.
	total=$((30 + i * (per + 10)))
	qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m "${KLAB_MEM:-1024}" -machine pc \
		-nodefaults -no-user-config -display none -no-reboot -monitor none -nic none \
		-serial "file:$share/console.log" \
		-kernel "$dir/vmlinuz" -initrd "$dir/initramfs.cpio.gz" \
		-append "console=ttyS0 quiet loglevel=4 panic=-1 klab.share=$share" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$share,mount_tag=share,security_model=none,multidevs=remap" \
		</dev/null >"$share/qemu.log" 2>&1 &
	qemu_pid=$!
	deadline=$((SECONDS + total))
	while kill -0 "$qemu_pid" 2>/dev/null; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "kernel-lab: the VM ran past ${total}s; killed" >&2
			break
		fi
		sleep 0.2
	done
	kill -KILL "$qemu_pid" 2>/dev/null || true
	wait "$qemu_pid" 2>/dev/null || true
	qemu_pid=
	for ((i = 0; i < $#; i++)); do
		name=job$i
		[ -f "$share/$name.out" ] && cat "$share/$name.out"
		[ -f "$share/$name.err" ] && cat "$share/$name.err" >&2
		if [ -f "$share/$name.rc" ]; then
			s=$(cat "$share/$name.rc")
			[ -f "$share/$name.time" ] &&
				echo "kernel-lab: $name ${*:i+1:1}: exit $s, guest seconds $(cat "$share/$name.time")" >&2
		else
			s=125
			echo "kernel-lab: $name ${*:i+1:1} did not finish; console:" >&2
			tail -n 40 "$share/console.log" >&2 || true
			[ -s "$share/qemu.log" ] && cat "$share/qemu.log" >&2
		fi
		[ "$rc" -eq 0 ] && [ "$s" -ne 0 ] && rc=$s
	done
	return "$rc"
}

case ${1:-} in
prepare) prepare ;;
run)
	shift
	run "$@"
	;;
*) die "usage: kernel-lab.sh prepare | run [-t SECS] SCRIPT..." ;;
esac
