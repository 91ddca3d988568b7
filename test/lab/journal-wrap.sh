#!/bin/sh
# SPDX-License-Identifier: MIT
# journal-wrap.sh SOCK CMD...: run CMD as systemd would with its stderr on the
# journal: JOURNAL_STREAM names stderr's device and inode, and in a mount
# namespace of its own /run/systemd/journal/socket is SOCK (test/lab/journal.py).
sock=$1
shift
exec unshare -m --propagation private sh -c '
sock=$1; shift
mount -t tmpfs -o mode=0755 latch-journal /run/systemd || exit 1
mkdir /run/systemd/journal && : >/run/systemd/journal/socket || exit 1
mount --bind "$sock" /run/systemd/journal/socket || exit 1
JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec "$@"' journal-wrap "$sock" "$@"
