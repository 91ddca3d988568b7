#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The Debian packages on fresh lab hosts (issue 17 §1): build them (make deb's
# scripts/deb.sh, lintian included), install them on two lab hosts a
# (a.example) and b (b.example), start charon as Debian configures it (its own
# /etc/strongswan.conf and strongswan.d, plus the packaged drop-in) and latchd
# exactly as the packaged unit's ExecStart and CapabilityBoundingSet say, with
# the packaged latchd.conf given the host's certificate as an administrator
# would. b serves, a latches a connection to it, naming b.example; both ends
# are built against the installed liblatch-dev and run on the installed
# liblatch0; the message crosses as ESP and never in clear. Then a latches a
# second connection to b from Python with the installed python3-latch (its
# module under /usr/lib/python3/dist-packages, not the build tree's).
#
# "Installed" here: each host has a mount namespace of its own in which the
# packages' files, unpacked with dpkg -x, lie over the machine's /usr and /etc
# (overlayfs; /etc with a writable layer of the host's own), and /run and
# /var/lib are empty tmpfs, as on a freshly booted machine. Why not apt into
# a chroot: debootstrap needs a mirror and minutes, and this machine reaches
# Debian's archive only through apt; the packages' dependencies (libc6,
# libssl3, libmnl0, libnftnl11, strongSwan) are this machine's own Debian 12
# packages, so the overlay is a Debian 12 host with the packages installed,
# minus their maintainer scripts (which only enable the unit for systemd).
#
# This machine's kernel has no ESP: latchd picks kernel-libipsec, and each
# host's /etc/strongswan.d gets the packaged latchd-libipsec.conf, as
# docs/real-hosts.md tells an administrator of such a kernel to do. In the
# kernel lab (LAB_DATAPLANE=kernel: Debian's kernel, with ESP) the hosts are
# configured exactly as the packages leave them and latchd picks the kernel.
# A third host c (c.example) runs strongSwan without latch, with the swanctl
# connection docs/real-hosts.md gives such a peer: a latches a connection to a
# plain echo server there.
# LATCH_DEBS=DIR uses the packages in DIR instead of building them.
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"
src=$(cd "$(dirname "$0")/../.." && pwd)

lab_init
root=$LAB_DIR/root
plane=${LAB_DATAPLANE:-libipsec}

# ---- the packages
if [ -n "${LATCH_DEBS:-}" ]; then
	debs=$LATCH_DEBS
else
	debs=$LAB_DIR/deb
	t0=$(date +%s)
	# the unit suite runs in make check; the packages' build skips it
	if DEB_BUILD_OPTIONS=nocheck "$src/scripts/deb.sh" "$debs" >"$LAB_DIR/deb.log" 2>&1; then
		tap_pass "make deb's build: the packages build and lintian is clean ($(($(date +%s) - t0)) s)"
	else
		tap_fail "make deb's build: the packages build and lintian is clean" "$(tail -n 20 "$LAB_DIR/deb.log")"
	fi
fi
for p in liblatch0 liblatch-dev latchd latchctl python3-latch; do
	deb=$(ls "$debs/${p}_"*.deb 2>/dev/null)
	tap_ok "package $p was built" test -f "$deb"
	[ -f "$deb" ] && dpkg -x "$deb" "$root"
done
[ -x "$root/usr/sbin/latchd" ] || {
	tap_done
	exit 1
}

unit=$root/lib/systemd/system/latchd.service
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
tap_diag "unit: ExecStart=$exec_start"
tap_ok "the unit starts the packaged latchd" test -x "$root${exec_start%% *}"
# CapabilityBoundingSet=CAP_A CAP_B -> setpriv --bounding-set -all,+a,+b
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr ' ' '\n' | sed -n 's/^CAP_\(.*\)/+\L\1/p' | paste -sd, -)
tap_ok "the unit names latchd's capabilities ($caps)" test -n "$caps"

# ---- two hosts with the packages installed
# pkg_host NAME: lab host NAME with the packages installed in a mount
# namespace of its own, held by a process of the host (its PID in
# $dir/holder); its certificate (lab_cert) placed in /etc/swanctl and named in
# /etc/latch/latchd.conf. The writable layer of /etc is a tmpfs of its own
# (an overlay's upper layer cannot lie on an overlay, as the kernel lab's / is).
pkg_host() {
	local h=$1 dir up
	dir=$(lab_dir "$h")
	up=$dir/etc-up
	mkdir -p "$up/latch" "$up/strongswan.d" "$up/swanctl/x509" "$up/swanctl/x509ca" \
		"$up/swanctl/private" "$dir/etc-rw"
	cp "$dir/swanctl/x509/$h.pem" "$up/swanctl/x509/"
	cp "$dir/swanctl/private/$h.pem" "$up/swanctl/private/"
	cp "$dir/swanctl/x509ca/ca.pem" "$up/swanctl/x509ca/"
	# what the administrator adds to the packaged configuration
	{
		cat "$root/etc/latch/latchd.conf"
		echo "cert = /etc/swanctl/x509/$h.pem"
		echo "key = /etc/swanctl/private/$h.pem"
		echo "ca = /etc/swanctl/x509ca/ca.pem"
	} >"$up/latch/latchd.conf"
	[ "$plane" = libipsec ] &&
		cp "$root/usr/share/latch/strongswan.d/latchd-libipsec.conf" "$up/strongswan.d/"
	# the lab's own: charon's log in the host's directory
	cat >"$up/strongswan.d/zz-lab-log.conf" <<EOT
charon {
	filelog {
		lab {
			path = $dir/charon.log
			default = 1
			flush_line = yes
			append = yes
			time_format = %T
		}
	}
}
EOT
	lab_bg "$h" "$dir/holder.log" unshare -m --propagation private sh -c "
		mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -m 0755 /run/latch &&
		mount -t tmpfs -o mode=0755 tmpfs /var/lib && mkdir -m 0700 /var/lib/latch &&
		mount -t overlay overlay -o lowerdir=$root/usr:/usr /usr &&
		mount -t tmpfs tmpfs $dir/etc-rw && cp -a $up $dir/etc-rw/up && mkdir $dir/etc-rw/work &&
		mount -t overlay overlay -o lowerdir=$root/etc:/etc,upperdir=$dir/etc-rw/up,workdir=$dir/etc-rw/work /etc &&
		touch $dir/ns-ready && exec sleep infinity"
	echo "$LAB_PID" >"$dir/holder"
	lab_wait 50 test -f "$dir/ns-ready" || lab_die "host $h: its mounts failed: $(cat "$dir/holder.log")"
}

# pkg_exec HOST CMD...: CMD on HOST with the packages installed.
pkg_exec() {
	local h=$1
	shift
	lab_exec "$h" nsenter -t "$(cat "$(lab_dir "$h")/holder")" -m -- "$@"
}

pkg_bg() {
	local h=$1 log=$2
	shift 2
	lab_bg "$h" "$log" nsenter -t "$(cat "$(lab_dir "$h")/holder")" -m -- "$@"
}

lab_host a 1
lab_host b 2
lab_host c 3
lab_ca ca
lab_cert a ca a.example
lab_cert b ca b.example
lab_cert c ca c.example
for h in a b; do
	dir=$(lab_dir "$h")
	pkg_host "$h"
	pkg_bg "$h" "$dir/charon.out" /usr/lib/ipsec/charon
	lab_wait 100 pkg_exec "$h" swanctl --stats >/dev/null ||
		lab_die "charon on $h did not answer on /run/charon.vici: $(tail -n 5 "$dir/charon.out")"
	# the unit's command line, with the unit's capabilities and no new privileges
	# shellcheck disable=SC2086 # ExecStart's words
	pkg_bg "$h" "$dir/latchd.log" setpriv --bounding-set "-all,$caps" --no-new-privs $exec_start
	echo "$LAB_PID" >"$dir/latchd.pid"
	lab_wait 100 sh -c "ip netns exec $(lab_ns "$h") nsenter -t $(cat "$dir/holder") -m -- latchctl status 2>/dev/null | grep -q '^charon_up *1'" ||
		lab_die "latchd on $h did not reach charon: $(tail -n 5 "$dir/latchd.log")"
done
plugins=$(grep -m1 'loaded plugins:' "$(lab_dir a)/charon.log")
tap_ok "charon loaded vici" grep -qw vici <<<"$plugins"
if [ "$plane" = libipsec ]; then
	tap_ok "and kernel-libipsec, as the packaged latchd-libipsec.conf says" grep -qw kernel-libipsec <<<"$plugins"
else
	tap_not "and not kernel-libipsec (Debian's default)" grep -qw kernel-libipsec <<<"$plugins"
fi
tap_is "$(pkg_exec a sh -c 'command -v latchctl')" /usr/bin/latchctl "latchctl is the packaged /usr/bin/latchctl"
paths=$(pkg_exec a /usr/sbin/latchd --print-paths)
tap_ok "latchd's configuration is /etc/latch/latchd.conf" grep -q '^config  *\/etc\/latch\/latchd.conf$' <<<"$paths"
anchor=$(awk '$1 == "btns_anchor" { print $2 }' <<<"$paths")
tap_ok "the packaged BTNS anchor is where latchd looks ($anchor)" pkg_exec a test -f "$anchor"
tap_ok "latchd started with BTNS on (its key certified under the packaged anchor)" \
	pkg_exec a test -f /var/lib/latch/btns.pem
tap_ok "latchd picked the $plane data plane" grep -q "data plane: $plane" "$(lab_dir a)/latchd.log"
tap_is "$(grep '^CapEff' "/proc/$(cat "$(lab_dir a)/latchd.pid")/status" | cut -f2)" \
	"$(setpriv --bounding-set "-all,$caps" grep '^CapBnd' /proc/self/status | cut -f2)" \
	"latchd runs with the unit's capabilities only"

# ---- the application, built against the installed liblatch-dev
for p in native-server native-client; do
	pkg_exec a sh -c "cc -o $LAB_DIR/$p $src/examples/$p.c \$(pkg-config --cflags --libs latch)" \
		>>"$LAB_DIR/cc.log" 2>&1
done
tap_ok "the examples build with pkg-config latch (liblatch-dev)" test -x "$LAB_DIR/native-client" -a -x "$LAB_DIR/native-server"
tap_ok "and link the packaged liblatch.so.0" \
	sh -c "ip netns exec $(lab_ns a) nsenter -t $(cat "$(lab_dir a)/holder") -m -- ldd $LAB_DIR/native-client | grep -q 'liblatch.so.0 => /[^ ]*lib/[^ ]*/liblatch.so.0 '"

pkg_bg b "$LAB_DIR/server.log" "$LAB_DIR/native-server" 8080
lab_wait 100 grep -q '^listening' "$LAB_DIR/server.log"
tap_ok "b's server latches its listener" grep -q '^listening' "$LAB_DIR/server.log"

marker="PKG-$RANDOM$RANDOM"
pcap=$(lab_pcap pkg)
lab_capture_start a "$pcap"
out=$(pkg_exec a "$LAB_DIR/native-client" "$(lab_ip b)" 8080 b.example "$marker" 2>&1)
lab_wait 50 grep -q '^peer' "$LAB_DIR/server.log"
lab_capture_stop "$pcap"
tap_diag "client: $out"
tap_diag "server: $(grep '^peer' "$LAB_DIR/server.log")"
tap_ok "a latches the connection and learns b.example by certificate" \
	grep -q '^peer id=b.example subject=C=CH, O=latch-lab, CN=b.example auth=PKIX_TRUSTED' <<<"$out"
tap_ok "b's server learns a.example by certificate" \
	grep -q '^peer id=a.example .*auth=PKIX_TRUSTED' "$LAB_DIR/server.log"
tap_ok "the server echoed the message" grep -q "^answer $marker" <<<"$out"
tap_cmp "$(lab_pcap_esp "$pcap")" -ge 2 "the connection crossed as ESP"
tap_is "$(lab_pcap_clear "$pcap" "$marker")" 0 "the message never appears in clear"
tap_is "$(lab_pcap_count "$pcap" 'tcp port 8080')" 0 "no TCP segment of it in clear"

# ---- the same from Python, with the installed python3-latch and Debian's
# python3 (/usr/bin/python3: the PATH's python3 may be another, e.g. pyenv's),
# run from / with no PYTHONPATH, so nothing of the source or build tree can be
# imported
pkg_py() {
	pkg_exec a env -u PYTHONPATH -u PYTHONHOME -C / /usr/bin/python3 "$@"
}
mods=$(pkg_py -c 'import latch, latch._latch as m; print(latch.__file__); print(m.__file__)' 2>&1)
tap_diag "python3 imports: $(paste -sd' ' - <<<"$mods")"
tap_ok "python3 imports the packaged latch (/usr/lib/python3/dist-packages)" \
	grep -qx '/usr/lib/python3/dist-packages/latch/__init__.py' <<<"$mods"
tap_ok "and its packaged extension" \
	grep -qx '/usr/lib/python3/dist-packages/latch/_latch\.cpython-[^/]*\.so' <<<"$mods"
pkg_bg b "$LAB_DIR/pyserver.log" "$LAB_DIR/native-server" 8081
lab_wait 100 grep -q '^listening' "$LAB_DIR/pyserver.log"
marker="PY-$RANDOM$RANDOM"
pcap=$(lab_pcap py)
lab_capture_start a "$pcap"
out=$(pkg_py -c '
import socket, sys, latch
s = socket.socket()
s.settimeout(30)
info = latch.connect(s, (sys.argv[1], 8081), peer="b.example")
r = info.remote
print("peer id=%s subject=%s auth=%s" % (r.id, r.subject, r.auth.name))
s.sendall(sys.argv[2].encode())
print("answer " + s.recv(100).decode())
' "$(lab_ip b)" "$marker" 2>&1)
lab_wait 50 grep -q '^peer' "$LAB_DIR/pyserver.log"
lab_capture_stop "$pcap"
tap_diag "python client: $out"
tap_ok "Python on a latches the connection and learns b.example by certificate" \
	grep -q '^peer id=b.example subject=C=CH, O=latch-lab, CN=b.example auth=PKIX_TRUSTED$' <<<"$out"
tap_ok "b's server learns a.example by certificate" \
	grep -q '^peer id=a.example .*auth=PKIX_TRUSTED' "$LAB_DIR/pyserver.log"
tap_ok "the server echoed the message" grep -q "^answer $marker\$" <<<"$out"
tap_cmp "$(lab_pcap_esp "$pcap")" -ge 2 "the connection crossed as ESP"
tap_is "$(lab_pcap_clear "$pcap" "$marker")" 0 "the message never appears in clear"
tap_is "$(lab_pcap_count "$pcap" 'tcp port 8081')" 0 "no TCP segment of it in clear"

# ---- a peer with strongSwan and no latch: the lab's charon (kernel-libipsec,
# for this kernel's sake) with docs/real-hosts.md's connection for it
lab_charon_start c
lab_conn c latch-peers <<EOT
connections {
	latch-peers {
		local {
			auth = pubkey
			certs = c.pem
			id = c.example
		}
		remote {
			auth = pubkey
			cacerts = ca.pem
		}
		children {
			latch-peers {
				local_ts = dynamic
				remote_ts = dynamic
			}
		}
	}
}
EOT
tap_ok "c loads the guide's connection for a peer without latch" lab_load c
lab_bg c "$LAB_DIR/echo.log" socat TCP-LISTEN:8080,reuseaddr EXEC:cat
lab_wait 100 lab_listening c 8080
marker="STOCK-$RANDOM$RANDOM"
pcap=$(lab_pcap stock)
lab_capture_start a "$pcap"
out=$(pkg_exec a "$LAB_DIR/native-client" "$(lab_ip c)" 8080 c.example "$marker" 2>&1)
lab_capture_stop "$pcap"
tap_diag "client: $out"
tap_ok "a latches a connection to c and learns c.example by certificate" \
	grep -q '^peer id=c.example subject=C=CH, O=latch-lab, CN=c.example auth=PKIX_TRUSTED' <<<"$out"
tap_ok "c's echo server answered" grep -q "^answer $marker" <<<"$out"
tap_cmp "$(lab_pcap_esp "$pcap")" -ge 2 "the connection crossed as ESP"
tap_is "$(lab_pcap_clear "$pcap" "$marker")" 0 "the message never appears in clear"
tap_is "$(lab_pcap_count "$pcap" 'tcp port 8080')" 0 "no TCP segment of it in clear"
tap_done
