#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Listener latches (RFC 5660 R35):
#  - a listener latch ends with its socket: after the server exits it is gone
#    and a new server latches the same port (R35).
#
#   a 192.0.2.1 a.example   b 192.0.2.2 b.example (servers)
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

lab_init
lab_latch_pair

# ---- R35
lab_latch_server b 9200 "$LAB_DIR/first.log"
first=$LAB_PID
tap_ok "latchctl lists the listener" eval "lab_latchctl b list | grep -q 'LISTENER .*9200'"
lab_stop "$first"
tap_ok "once its socket is gone the listener latch is gone (R35)" \
	lab_wait 50 eval "! lab_latchctl b list | grep -q ':9200 '"
lab_latch_server b 9200 "$LAB_DIR/third.log"
tap_ok "a new server latches the port again" grep -q '^listening port=9200' "$LAB_DIR/third.log"
tap_done
