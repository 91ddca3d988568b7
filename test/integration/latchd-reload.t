#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# latchd scenario 14 (issue 5): an administrator reloads charon's
# configuration (swanctl --load-all from the host's own swanctl.conf, which
# holds an unrelated connection and none of latchd's) in the middle of a
# latched transfer, first on the client's host a, then on the server's host b.
# swanctl unloads every connection it does not know: latchd's initiator
# connection on a, its responder connection on b.
#
# What is asserted:
# - nothing of a latched flow leaves in clear (both links captured);
# - the existing connection KEEPS WORKING: unloading a connection without a
#   start action leaves its SAs installed (charon's unload-conn), the latch stays
#   ESTABLISHED, no event reaches its owner and the server receives every line;
# - latchd restores what it owns: charon sends no event for an unload, so
#   latchd compares charon's connections with its own every 2 s and loads
#   its missing ones again; once every SA is gone, a new latched connection
#   (a fresh IKE_SA: a's initiator and b's responder connection) succeeds.
#
#   a 192.0.2.1 a.example: latchd, the clients    b 192.0.2.2 b.example: latchd, the server
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

lab_init
lab_latch_host a 1
lab_latch_host b 2
lab_ca ca
lab_cert a ca a.example
lab_cert b ca b.example
# the administrators' own configuration: one unrelated connection on each host
for h in a b; do
	lab_conn "$h" admin <<EOF
connections {
	admin {
		remote_addrs = $LAB_UNUSED4
		local {
			auth = psk
		}
		remote {
			auth = psk
		}
		children {
			admin {
				local_ts = $(lab_ip "$h")/32
				remote_ts = $LAB_UNUSED4/32
			}
		}
	}
}
EOF
	lab_charon_start "$h"
	lab_latchd_start "$h"
	lab_bg "$h" "$LAB_DIR/watch-$h.log" "$(lab_latchctl_bin)" --socket "$(lab_latchd_sock "$h")" watch
done

recv=$LAB_DIR/recv
slog=$LAB_DIR/server.log
lab_probe_bg b "$slog" serve 8080 --peer-ca "C=CH, O=latch-lab, CN=ca CA" --out "$recv"
lab_wait_count 100 1 '^listening' "$slog"

latch_conns() {
	lab_swanctl "$1" --list-conns 2>/dev/null | grep -c '^latch-'
}

count=120
marker="RELOAD-$RANDOM$RANDOM"
for h in a b; do
	lab_capture_start "$h" "$(lab_pcap "wire-$h")"
done
# $count lines at least, on until both reloads are over (--until)
lab_probe_bg a "$LAB_DIR/client.log" connect "$(lab_ip b)" 8080 --peer-id b.example --sport 43000 \
	--marker "$marker" --count "$count" --interval 50 --until "$LAB_DIR/reloaded" --hold 1000
client=$LAB_PID
tap_ok "the latched transfer runs" lab_wait_count 100 5 "$marker" "$recv"
tap_is "$(latch_conns a)/$(latch_conns b)" 1/1 "latchd's connections are loaded: a's initiator, b's responder"

for h in a b; do
	out=$(lab_load "$h" 2>&1)
	tap_diag "$h: swanctl --load-all: $(grep 'connections' <<<"$out")"
	tap_ok "$h: the reload unloaded latchd's connection" grep -q 'connections, [1-9][0-9]* unloaded' <<<"$out"
	seen=$(grep -c "$marker" "$recv")
	tap_ok "$h: the existing transfer goes on after the reload" \
		lab_wait_count 100 $((seen + 5)) "$marker" "$recv"
	tap_is "$(lab_latch_states a 43000)/$(lab_latch_states b 43000)" ESTABLISHED/ESTABLISHED \
		"$h: both ends of the existing latch are still ESTABLISHED"
done

touch "$LAB_DIR/reloaded"
lab_wait_gone "$client" 150
for h in a b; do
	lab_capture_stop "$(lab_pcap "wire-$h")"
done
out=$(cat "$LAB_DIR/client.log")
sent=$(sed -n 's/^sent //p' <<<"$out")
tap_cmp "${sent:-0}" -ge "$count" "the existing connection ended cleanly with all its lines written (${sent:-none})"
tap_is "$(grep -c '^event' <<<"$out")" 0 "its owner got no latch event"
tap_is "$(grep -c "^$marker-[0-9]*\$" "$recv")" "$sent" "the server received all of them"
tap_is "$(cat "$LAB_DIR/watch-a.log" "$LAB_DIR/watch-b.log" | grep -c BROKEN)" 0 "no latch went BROKEN on either side"

# latchd restores what it owns: with every SA gone, a new latched connection
# needs a full IKE exchange, so a's initiator and b's responder connection.
conns_back() {
	[ "$(latch_conns a)" -ge 1 ] && [ "$(latch_conns b)" -ge 1 ]
}
tap_ok "latchd's connections are back in both charons (it compares every 2 s)" lab_wait 50 conns_back
for id in $(lab_swanctl a --list-sas 2>/dev/null | grep -o '^[^ ]*: #[0-9]*' | cut -d'#' -f2); do
	lab_swanctl a --terminate --ike-id "$id" >/dev/null
done
tap_is "$(lab_swanctl a --list-sas 2>/dev/null | grep -c ESTABLISHED)" 0 "every SA between a and b is gone"
lab_capture_start a "$(lab_pcap new)"
out=$(lab_probe a connect "$(lab_ip b)" 8080 --peer-id b.example --marker "$marker-NEW" --count 3 --interval 10)
tap_diag "new connection: $(head -c 100 <<<"$out")"
tap_ok "a new latched connection succeeds (fresh IKE_SA from latchd's connections)" \
	grep -q '^latched id=[0-9]* state=2' <<<"$out"
tap_ok "and carries its data" lab_wait_count 20 3 "$marker-NEW" "$recv"
lab_capture_stop "$(lab_pcap new)"
tap_is "$(lab_pcap_clear "$(lab_pcap new)" "$marker")" 0 "its marker never in clear"
tap_is "$(lab_pcap_count "$(lab_pcap new)" 'tcp port 8080')" 0 "no segment of it in clear"
for h in a b; do
	tap_is "$(lab_pcap_clear "$(lab_pcap "wire-$h")" "$marker")" 0 "no marker in clear on $h's link"
	tap_is "$(lab_pcap_count "$(lab_pcap "wire-$h")" 'tcp port 8080')" 0 "no segment of a latched flow in clear on $h's link"
done
tap_done
