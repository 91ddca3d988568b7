#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# latchd's enforcement layer (src/latchd/enforce*, sockdiag*) on real charons
# with routing Setup B (measured on the lab): charon's kernel-netlink fwmark
# 0x100 gives "fwmark 0x100 lookup 220", enforce_open adds "221: fwmark 0x100
# blackhole", and the nft route chain marks only latched flows. Every probe
# call ends with enforce_close(keep): what protects the flows below is the
# kernel state alone, with no process holding it.
#
#   a 192.0.2.1 ── link ── b 192.0.2.2
#   a: children flows-P: a/32[tcp/P] === b/32[tcp/8080] for P in 40000..40003,
#      uflows-5353: a/32[udp/5353] === b/32[udp/40010]
#   b: responders narrowed per flow; b latches the mirror of each flow (as its latchd would)
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"
flow=$LAB_LIB_DIR/flow.py
PROBE=${LATCH_BUILD_ROOT:-$(dirname "$0")/../../build}/test/integration/enforce-probe
if [ ! -x "$PROBE" ]; then
	echo "1..0 # SKIP enforce-probe not built ($PROBE)"
	exit 0
fi
probe() {
	local host=$1
	shift
	lab_exec "$host" "$PROBE" "$@"
}
listening() { # HOST SS-OPTS PORT (ss -H with a filter succeeds even when nothing matches)
	lab_exec "$1" ss -H "$2" | grep -q ":$3 "
}
counter() { # HOST NAME: packets of that drop counter
	probe "$1" counters | awk -v n="$2" '$1 == n { print $2 }'
}

export LAB_FWMARK=0x100
lab_init
lab_host a 1
lab_host b 2
A=$(lab_ip a)
B=$(lab_ip b)
lab_ca ca
lab_cert a ca a.example
lab_cert b ca b.example
lab_conn_narrow a b b.example flows tcp 40000:8080 40001:8080 40002:8080 40003:8080
lab_conn_narrow a b b.example uflows udp 5353:40010
# b's children must live in one connection: a's CREATE_CHILD_SAs reuse one
# IKE_SA, whose connection on b is the one IKE_AUTH matched.
responder() {
	lab_conn b flows <<EOF
connections {
	flows {
		local_addrs = $B
		remote_addrs = $A
$(lab_ike_common)
		local {
			auth = pubkey
			certs = b.pem
			id = $(cat "$(lab_dir b)/id")
		}
		remote {
			auth = pubkey
			id = a.example
			cacerts = $(cat "$(lab_dir b)/ca").pem
		}
		children {
			tcp {
				local_ts = $B/32[tcp]
				remote_ts = $A/32[tcp]
				mode = tunnel
				esp_proposals = aes256gcm16
			}
			udp {
				local_ts = $B/32[udp]
				remote_ts = $A/32[udp]
				mode = tunnel
				esp_proposals = aes256gcm16
			}
		}
	}
}
EOF
}
responder
lab_charon_start a
lab_charon_start b
lab_load a >/dev/null
lab_load b >/dev/null
for c in flows-40000 flows-40001 flows-40002 flows-40003 uflows-5353; do
	lab_initiate a $c || tap_diag "initiate $c failed"
done
tap_ok "five narrow children are INSTALLED" eval \
	'for c in flows-40000 flows-40001 flows-40002 flows-40003 uflows-5353; do lab_child_installed a $c || exit 1; done'

tap_ok "enforce_open on a (table + ip rule)" probe a init
tap_ok "enforce_open on b" probe b init
tap_ok "a: charon's rule 220 takes only marked packets (Setup B)" \
	eval "lab_exec a ip rule | grep -q 'fwmark 0x100 lookup 220'"
tap_ok "a: rule 221 blackholes marked packets without a route" \
	eval "lab_exec a ip rule | grep -q '^221:.*fwmark 0x100 blackhole'"
tap_ok "a: the v6 blackhole rule too" eval "lab_exec a ip -6 rule | grep -q '^221:.*fwmark 0x100 blackhole'"

# Latch the TCP flows on both ends; arm all but 40002 on a.
for p in 40000 40001 40002 40003; do
	probe a add tcp "$A" $p "$B" 8080 || tap_diag "add $p failed"
	[ $p = 40002 ] || probe a arm tcp "$A" $p "$B" 8080 || tap_diag "arm $p failed"
	probe b add tcp "$B" 8080 "$A" $p && probe b arm tcp "$B" 8080 "$A" $p || tap_diag "b: latch $p failed"
done
tap_ok "nft reads the element as the flow it is (key layout)" \
	eval "lab_exec a nft list set inet latch flows4 | grep -q '$B . tcp . 8080 . $A . 40000'"

recv=$LAB_DIR/recv
lab_bg b "$LAB_DIR/sink.log" python3 "$flow" sink 8080 "$recv"
lab_wait 50 listening b -ltn 8080
send() { # SPORT MARKER [HOST]
	lab_exec "${3:-a}" python3 "$flow" send "$B" 8080 "$2" --sport "$1" --count 5 \
		--interval 0.02 --connect-timeout 2
}

# 1. A latched, armed flow leaves as ESP; an unrelated flow to the same peer stays clear and works.
m0="ESP-$RANDOM$RANDOM"
m9="CLEAR-$RANDOM$RANDOM"
steered0=$(counter a steered)
pcap=$(lab_pcap esp)
pin=$(lab_pcap esp-inner)
lab_capture_start a "$pcap"
lab_capture_start a "$pin" ipsec0
tap_is "$(send 40000 "$m0")" "sent 5" "latched flow 40000 carries a connection"
tap_is "$(send 40009 "$m9")" "sent 5" "unrelated flow 40009 to the same peer works"
lab_capture_stop "$pin"
lab_capture_stop "$pcap"
tap_cmp "$(lab_pcap_esp "$pcap")" -gt 0 "ESP on the wire ($(lab_pcap_esp "$pcap") packets)"
tap_is "$(lab_pcap_clear "$pcap" "$m0")" 0 "the latched marker never in clear"
tap_is "$(lab_pcap_count "$pcap" 'tcp port 40000')" 0 "no cleartext segment of 40000"
tap_cmp "$(lab_pcap_clear "$pcap" "$m9")" -gt 0 "the unrelated flow stays cleartext"
tap_is "$(grep -c "$m0" "$recv")" 5 "b received the latched flow's 5 lines"
tap_is "$(grep -c "$m9" "$recv")" 5 "b received the unrelated flow's 5 lines"
tap_cmp "$(counter a steered)" -gt "$steered0" "steered counter rose ($steered0 -> $(counter a steered))"
mss=$(lab_pcap_show "$pin" 'tcp[tcpflags] & tcp-syn != 0 and src port 40000' | grep -o 'mss [0-9]*' | head -1)
tap_diag "SYN of 40000 inside ipsec0: ${mss:-none} (ipsec0 mtu $(lab_exec a cat /sys/class/net/ipsec0/mtu))"
tap_cmp "${mss#mss }" -lt 1460 "the SYN's MSS is clamped to ipsec0's route ($mss)"

# 2. A latched flow whose SA is not armed sends nothing at all.
m2="UNARMED-$RANDOM$RANDOM"
unarmed0=$(counter a unarmed)
pcap=$(lab_pcap unarmed)
lab_capture_start a "$pcap"
tap_is "$(send 40002 "$m2")" "error ETIMEDOUT after 0" "latched but unarmed 40002 cannot connect"
lab_capture_stop "$pcap"
tap_is "$(lab_pcap_count "$pcap" 'tcp port 40002')" 0 "no cleartext packet of 40002"
tap_is "$(lab_pcap_esp "$pcap")" 0 "and no ESP either: nothing left"
tap_is "$(lab_pcap_clear "$pcap" "$m2")" 0 "its marker never in clear"
tap_cmp "$(counter a unarmed)" -gt "$unarmed0" "unarmed counter rose ($unarmed0 -> $(counter a unarmed))"
probe a arm tcp "$A" 40002 "$B" 8080
m2b="ARMED-$RANDOM$RANDOM"
tap_is "$(send 40002 "$m2b")" "sent 5" "once armed, 40002 connects"
probe a disarm tcp "$A" 40002 "$B" 8080

# 3. Route loss (measured on the lab): terminating the child that owns the route
#    into ipsec0 leaves the other latched flows without it: dropped, never clear.
route_to_b() { lab_exec a ip route show table 220 | grep -q "^$B dev ipsec0"; }
tap_ok "the route to b in table 220 leads into ipsec0" route_to_b
lab_swanctl a --terminate --child flows-40000 >/dev/null
tap_not "terminating flows-40000 took the route with it" route_to_b
tap_ok "flows-40001 is still INSTALLED" lab_child_installed a flows-40001
m1="ROUTELOSS-$RANDOM$RANDOM"
m9b="CLEAR2-$RANDOM$RANDOM"
pcap=$(lab_pcap routeloss)
lab_capture_start a "$pcap"
tap_is "$(send 40001 "$m1")" "error ETIMEDOUT after 0" "latched 40001 cannot leave (blackhole rule)"
tap_is "$(send 40009 "$m9b")" "sent 5" "the unrelated flow still works"
lab_capture_stop "$pcap"
tap_is "$(lab_pcap_count "$pcap" 'tcp port 40001')" 0 "no cleartext packet of 40001"
tap_is "$(lab_pcap_clear "$pcap" "$m1")" 0 "its marker never in clear"
# Without the blackhole rule the marked packet falls through to the main table:
# the egress rule is the second layer.
lab_exec a ip rule del pref 221
out0=$(counter a out_flow)
m1b="NORULE-$RANDOM$RANDOM"
pcap=$(lab_pcap norule)
lab_capture_start a "$pcap"
tap_is "$(send 40001 "$m1b")" "error ETIMEDOUT after 0" "without rule 221, 40001 still cannot leave"
lab_capture_stop "$pcap"
tap_is "$(lab_pcap_count "$pcap" 'tcp port 40001')" 0 "no cleartext packet of 40001 (egress rule)"
tap_cmp "$(counter a out_flow)" -gt "$out0" "out_flow counter rose ($out0 -> $(counter a out_flow))"
tap_ok "enforce_open with ADOPT puts rule 221 back" probe a adopt
tap_ok "rule 221 is back" eval "lab_exec a ip rule | grep -q '^221:.*fwmark 0x100 blackhole'"
lab_initiate a flows-40000
tap_ok "re-initiating flows-40000 restores the route" route_to_b

# 4. Spoofed cleartext into a latched 5-tuple. b sends from its own stack
#    without latching the flow, so the datagram leaves b's eth0 in clear with
#    exactly the latched 5-tuple: the same bytes a spoofer on the path would send.
urecv=$LAB_DIR/urecv
lab_bg a "$LAB_DIR/usink.log" python3 "$flow" sink 5353 "$urecv" --udp
lab_wait 50 listening a -lun 5353
usend() { lab_exec b python3 "$flow" send "$A" 5353 "$1" --sport 40010 --udp --count 3 --interval 0.02; }
s0="SPOOF0-$RANDOM$RANDOM"
s1="SPOOF1-$RANDOM$RANDOM"
s2="LATCHED-$RANDOM$RANDOM"
usend "$s0" >/dev/null
lab_wait 20 grep -q "$s0" "$urecv"
tap_is "$(grep -c "$s0" "$urecv")" 3 "before the latch, cleartext into 5353 is delivered (baseline)"
probe a add udp "$A" 5353 "$B" 40010
probe a arm udp "$A" 5353 "$B" 40010
in0=$(counter a in_flow)
usend "$s1" >/dev/null
sleep 0.5 & wait $!
tap_is "$(grep -c "$s1" "$urecv")" 0 "latched: the same cleartext is never delivered"
tap_cmp "$(counter a in_flow)" -ge $((in0 + 3)) "in_flow counter rose by 3 ($in0 -> $(counter a in_flow))"
probe b add udp "$B" 40010 "$A" 5353
probe b arm udp "$B" 40010 "$A" 5353
pcap=$(lab_pcap udp)
lab_capture_start a "$pcap"
usend "$s2" >/dev/null
lab_wait 20 grep -q "$s2" "$urecv"
lab_capture_stop "$pcap"
tap_is "$(grep -c "$s2" "$urecv")" 3 "latched on both ends, the flow is delivered"
tap_is "$(lab_pcap_clear "$pcap" "$s2")" 0 "as ESP only"

# 5. SOCK_DESTROY on a connected TCP socket: ECONNABORTED for the owner, an RST through the SA.
mon=$LAB_DIR/monitor.log
lab_bg a "$mon" "$PROBE" monitor 6
lab_wait 30 grep -q monitoring "$mon"
pcap=$(lab_pcap destroy)
pin=$(lab_pcap destroy-inner)
lab_capture_start a "$pcap"
lab_capture_start a "$pin" ipsec0
out=$(probe a destroy "$B" 8080 40003)
rc=$?
lab_capture_stop "$pin"
lab_capture_stop "$pcap"
tap_diag "$(echo "$out" | tr '\n' ';')"
tap_is "$rc" 0 "destroy-probe succeeded"
tap_ok "the owner's blocked recv failed with ECONNABORTED" eval "echo '$out' | grep -q 'owner recv: ECONNABORTED'"
tap_ok "sockdiag_exists saw the socket before" eval "echo '$out' | grep -q 'exists before: 1'"
tap_ok "and not with a wrong cookie" eval "echo '$out' | grep -q 'exists with a wrong cookie: 0'"
tap_ok "a wrong cookie destroys nothing" eval "echo '$out' | grep -q 'destroy with a wrong cookie: No such file'"
tap_ok "gone after the owner closed it" eval "echo '$out' | grep -q 'exists after close: 0'"
tap_cmp "$(lab_pcap_count "$pin" 'tcp[tcpflags] & tcp-rst != 0 and src port 40003')" -ge 1 \
	"an RST of 40003 went into ipsec0"
tap_is "$(lab_pcap_count "$pcap" 'tcp port 40003')" 0 "nothing of 40003 in clear on the wire"
tap_cmp "$(lab_pcap_esp "$pcap")" -gt 0 "the RST left as ESP"
cookie=$(echo "$out" | sed -n 's/^flow .* cookie \([0-9]*\)$/\1/p')
lab_wait 60 grep -q "cookie $cookie\$" "$mon"
tap_diag "monitor: $(tr '\n' ';' <"$mon")"
tap_ok "the destroy monitor reported that socket (cookie $cookie)" grep -q "cookie $cookie\$" "$mon"

# 6. Restart: everything above ran with no process holding the table.
tap_ok "the table outlives every enforce_close(keep)" lab_exec a nft list table inet latch
dump=$(probe a dump)
tap_is "$(echo "$dump" | grep -c '^flows ')" 5 "ADOPT finds the 5 latched flows"
tap_ok "and the armed ones" eval "echo '$dump' | grep -q '^armed tcp $A:40000 -> $B:8080'"
tap_not "40002 is latched but not armed" eval "echo '$dump' | grep -q '^armed tcp $A:40002'"
tap_ok "a replacing enforce_open empties the sets" eval "probe a init && [ -z \"\$(probe a dump)\" ]"
tap_ok "enforce_close(keep=false) removes the table" probe a remove
tap_not "no table left" lab_exec a nft list table inet latch
tap_not "no rule 221 left" eval "lab_exec a ip rule | grep -q '^221:'"

tap_done
