#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Item 1 of the hardening issue: cleartext after a failed latch. A socket that
# was given a token keeps it for its whole life: an application that calls
# connect(2) again on the same descriptor after its latch failed, or sends a
# datagram elsewhere, is latched again (held and judged like the first) or
# refused; never in clear. Each as an unprivileged user (65534), with
# retry-probe.c, against plain (unlatched) services on b: TCP 9090, UDP 9091.
#  1. draft flow (pToken, plain connect(2)) naming the wrong peer, connect again;
#  2. native latch_connect naming the wrong peer, plain connect(2) again;
#  3. UDP latch_connect naming the wrong peer, sendto(2) to the plain service;
#  4. UDP latched to b.example, sendto(2) to the plain service (another port);
#  5-7. 1, 2, 3 after the owner's connection to latchd is gone (the process
#     exec'd itself and its parent exited; the native ctx freed);
#  8. a latch made and released by its owner (RELEASE), then connect(2) again:
#     the socket stays protected.
# Each: the marker never crosses in clear and the plain service receives none
# of it (4: never in clear). latchd serves everyone afterwards.
#
#   a 192.0.2.1 a.example   b 192.0.2.2 b.example (CA ca); charon + latchd each
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

probe=$LAB_BUILD/test/hostile/retry-probe
lab_init
lab_latch_pair
tcp_recv=$LAB_DIR/tcp-recv
udp_recv=$LAB_DIR/udp-recv
touch "$tcp_recv" "$udp_recv"
lab_bg b "$LAB_DIR/sink-tcp.log" python3 "$LAB_LIB_DIR/flow.py" sink 9090 "$tcp_recv"
lab_bg b "$LAB_DIR/sink-udp.log" python3 "$LAB_LIB_DIR/flow.py" sink 9091 "$udp_recv" --udp
lab_wait 100 lab_listening b 9090
# latched services for 4 and 8 (a child to b needs b's responder for it)
lab_probe_bg b "$LAB_DIR/server.log" serve 5353 --udp --out "$LAB_DIR/latched-recv" \
	--peer-ca "$LAB_CA_DN"
lab_wait_count 100 1 '^listening' "$LAB_DIR/server.log"
lab_probe_bg b "$LAB_DIR/server-tcp.log" serve 8080 --out "$LAB_DIR/latched-recv" \
	--peer-ca "$LAB_CA_DN"
lab_wait_count 100 1 '^listening' "$LAB_DIR/server-tcp.log"

# run NAME MODE PEER PLAIN_PORT SPORT [--then ctx|exec]: the probe as user 65534
# on a, first to b's port $first (9092, closed, unless set), then the retry to
# PLAIN_PORT; output in $out, a's link in $wire, the marker in $m.
first=9092
run() {
	local name=$1 mode=$2 peer=$3 plain=$4 sport=$5
	shift 5
	m="RETRY-$name-$RANDOM$RANDOM"
	wire=$(lab_pcap "$name")
	lab_capture_start a "$wire"
	out=$(lab_as_user a 65534 "$probe" "$mode" "$(lab_ip b)" "$first" "$peer" "$plain" "$m" \
		"$sport" "$@" 2>&1)
	sleep 1.5 & wait $! # an exec'd child finishes; a held datagram is judged
	lab_capture_stop "$wire"
	tap_diag "$name: $(tr '\n' ' ' <<<"$out")"
}

# judged NAME SPORT DPORT: what became of the retry from SPORT. libipsec: its first
# packet was held and a latch made for it (a's latchd says so); kernel: the
# socket's own policy refused it (connect(2) or sendto(2) failed with EPERM).
judged() {
	if [ "${LAB_DATAPLANE:-libipsec}" = kernel ]; then
		tap_ok "$1: refused by the socket's own policy (EPERM)" grep -q '^retry error EPERM' <<<"$out"
	else
		tap_ok "$1: held and judged again (a latch made for its first packet)" \
			grep -q ":$2 -> [0-9.]*:$3: made for an attached socket" <<<"$(lab_latchd_log a)"
	fi
}

# never_clear NAME RECV: the marker not in clear on the wire, not at the plain service.
never_clear() {
	tap_is "$(lab_pcap_clear "$wire" "$m")" 0 "$1: the marker never crosses in clear"
	tap_is "$(grep -c "$m" "$2")" 0 "$1: the plain service received none of it"
}

# ---- 1: draft flow, connect(2) again after the latch failed
run draft draft c.example 9090 43000
tap_ok "draft: the first connect(2) fails (wrong peer)" grep -q '^first error' <<<"$out"
never_clear "draft retry" "$tcp_recv"
tap_ok "draft: the retry is refused or judged again, never connected in clear" \
	grep -q '^retry error' <<<"$out"
judged "draft retry" 43000 9090

# ---- 2: native latch_connect, then a plain connect(2)
run native native c.example 9090 43001
tap_ok "native: latch_connect fails (wrong peer)" grep -q '^first error' <<<"$out"
never_clear "native retry" "$tcp_recv"
tap_ok "native: the plain connect(2) is refused or judged again" grep -q '^retry error' <<<"$out"
judged "native retry" 43001 9090

# ---- 3: UDP, the latch failed, sendto(2) to the plain service
run udp udp c.example 9091 43002
tap_ok "udp: latch_connect fails (wrong peer)" grep -q '^first error' <<<"$out"
never_clear "udp sendto" "$udp_recv"
judged "udp sendto" 43002 9091

# ---- 4: UDP latched to b.example, sendto(2) to another port
first=5353 run udp-ok udp b.example 9091 43003
tap_ok "udp latched: latch_connect succeeds" grep -q '^first ok' <<<"$out"
tap_is "$(lab_pcap_clear "$wire" "$m")" 0 "udp latched, sendto elsewhere: the marker never in clear"
tap_is "$(lab_pcap_count "$wire" 'udp port 9091')" 0 \
	"udp latched, sendto elsewhere: no datagram to the plain service in clear"

# ---- 5-7: the owner's connection to latchd is gone
run draft-exec draft c.example 9090 43004 --then exec
tap_ok "draft, exec'd: the retry ran" grep -q '^retry' <<<"$out"
never_clear "draft retry after exec" "$tcp_recv"
judged "draft retry after exec" 43004 9090
run native-ctx native c.example 9090 43005 --then ctx
tap_ok "native, ctx freed: the retry ran" grep -q '^retry' <<<"$out"
never_clear "native retry after its ctx is freed" "$tcp_recv"
judged "native retry after its ctx is freed" 43005 9090
run udp-exec udp c.example 9091 43006 --then exec
tap_ok "udp, exec'd: the datagram was sent or refused" grep -q '^retry' <<<"$out"
never_clear "udp sendto after exec" "$udp_recv"
judged "udp sendto after exec" 43006 9091

# ---- 8: released by its owner, then connect(2) again
first=8080 run released native b.example 9090 43007 --then release
tap_ok "released: the latch was made and released" \
	grep -q '^first ok release ok' <<<"$(tr '\n' ' ' <<<"$out")"
never_clear "released, connect(2) again" "$tcp_recv"
if [ "${LAB_DATAPLANE:-libipsec}" = kernel ]; then
	tap_ok "released: the socket was blocked again after the reset (EPERM)" \
		grep -q '^retry error EPERM' <<<"$out"
else
	judged "released, connect(2) again" 43007 9090
fi

tap_ok "a's latchd still serves (status)" lab_latchctl a status
tap_done
