# SPDX-License-Identifier: MIT
# shellcheck shell=sh
#
# Stage 2 of the kernel lab's guest: PID 1 is the host's /bin/sh on the
# overlay root. Runs every job of $share/jobs (one "NAME COMMAND" line each)
# under a guest-side timeout, from the directory and with the environment the
# host's runner wrote; NAME.out, NAME.err and NAME.rc go back through the
# share. Then powers off.
share=$1
bb=/run/klab/busybox
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TMPDIR=/tmp KLAB=1
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
ip link set lo up
uname -r >"$share/uname"
. "$share/env"
cd "$KLAB_CWD" || echo "stage2: cannot cd $KLAB_CWD" >"$share/stage2.err"
while read -r name cmd; do
	[ -n "$name" ] || continue
	start=$(cut -d' ' -f1 /proc/uptime)
	timeout -k 5 "$KLAB_TIMEOUT" sh -c "$cmd" >"$share/$name.out" 2>"$share/$name.err" </dev/null
	echo $? >"$share/$name.rc"
	echo "$start $(cut -d' ' -f1 /proc/uptime)" >"$share/$name.time"
done <"$share/jobs"
sync
$bb poweroff -f
