#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Issue 13 item 5: memory exhaustion. Six connections of one unprivileged
# user send STATUS and LIST as fast as latchd takes them and never read a
# reply. latchd (max_queued_per_uid = 4M) must hold no more than that for
# them, as allocated: its RSS (/proc/PID/status VmRSS, sampled through the
# flood) stays under its size before plus the limit plus a margin for the
# allocator; the clients are dropped with a log line; root is served
# meanwhile, and its latched connection crosses as ESP only.
#
#   a 192.0.2.1 a.example (latchd)   b 192.0.2.2 b.example
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

LIMIT_MB=${LIMIT_MB:-4} # 16, latchd's default, leaves the key out of latchd.conf
MARGIN_MB=24 # the allocator's own: arenas, fragmentation, the sanitizer's bookkeeping
# A sanitized latchd keeps what it frees in quarantine (256 MB by default):
# the sanitizer's memory, not latchd's queues. Keep it small here.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4
lab_init
lab_latch_host a 1
lab_latch_host b 2
lab_ca ca
lab_cert a ca a.example
lab_cert b ca b.example
if [ "$LIMIT_MB" = 16 ]; then
	lab_latchd_conf a
else
	lab_latchd_conf a "max_queued_per_uid = ${LIMIT_MB}M"
fi
for h in a b; do
	lab_charon_start "$h"
	lab_latchd_start "$h"
done
lab_latch_server b 8080 "$LAB_DIR/server.log" --out "$LAB_DIR/recv"
pid=$(lab_latchd_pid a)
client=$LAB_DIR/rawclient.py
install -m 0644 "$(dirname "$0")/rawclient.py" "$client"
pcap=$(lab_pcap wire)
lab_capture_start a "$pcap"

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }
rss0=$(rss_kb)
tap_diag "latchd's RSS before: $rss0 kB"

lab_as_user_bg a "$LAB_DIR/flood.log" 65534 python3 "$client" "$(lab_latchd_sock a)" flood 6 ${FLOOD_S:-8}
flood=$LAB_PID
peak=$rss0
for _ in $(seq 1 $((2 * ${FLOOD_S:-8} + 4))); do
	r=$(rss_kb) || break
	[ "$r" -gt "$peak" ] && peak=$r
	sleep 0.5 & wait $!
done
out=$(timeout 10 "$(lab_latchctl_bin)" --socket "$(lab_latchd_sock a)" status 2>&1)
tap_ok "root's latchctl status answers during the flood" grep -q '^clients' <<<"$out"
lab_wait_gone "$flood" 300
tap_diag "flood: $(tr '\n' ' ' <"$LAB_DIR/flood.log")"
bound=$((rss0 + (LIMIT_MB + MARGIN_MB) * 1024))
tap_cmp "$peak" -le "$bound" "latchd's RSS stays bounded: peak $peak kB (before $rss0 kB, bound $bound kB)"
tap_ok "the flooding clients were dropped" grep -q '^dropped [1-9]' "$LAB_DIR/flood.log"
tap_ok "with a log line naming the limit" \
	grep -q "uid 65534: dropped, not reading its replies: .*limit $((LIMIT_MB << 20))" \
	"$(lab_dir a)/latchd.log.tmp"
out=$(lab_probe a connect "$(lab_ip b)" 8080 --peer-id b.example --marker MEMFLOOD)
tap_ok "root latches a connection after the flood" grep -q '^latched' <<<"$out"
lab_capture_stop "$pcap"
tap_ok "its marker reached the server" grep -q MEMFLOOD "$LAB_DIR/recv"
tap_is "$(lab_pcap_clear "$pcap" MEMFLOOD)" 0 "no marker crossed in clear"
tap_ok "latchd is alive" kill -0 "$pid"
tap_done
