#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Hostile item 3: sockets that only look like the victim's. An unprivileged
# user (65534) in a network namespace of its own (unshare -rn) gives its
# loopback the victim's addresses and passes latchd a listener on the
# victim's port and a connection with the victim's 5-tuple: every request
# with them is refused (EXDEV), the victim's latches stay, and cleartext from
# another host still does not reach the victim's latched listener. ATTACH of
# a root service's port, from there or by the attacker's own socket sharing
# the port in latchd's namespace, does not hold the service's packets. A UDP
# socket of the attacker's beside the victim's (same ends) names no latch.
#
#   a 192.0.2.1 a.example (victim's client)   b 192.0.2.2 b.example (victim's
#   server, root's services, the attacker)    c 192.0.2.3 (a plain host)
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

lab_init
lab_latch_pair
lab_host c 3
EXDEV=-18 ENOENT=-2

tap_ok "an unprivileged user makes a network namespace of its own here (unshare -rn)" \
	lab_as_user b 65534 unshare -rn true
# The attacker's program, readable by any user.
att=$LAB_DIR/ubin/netns-socket.py
mkdir -p "$LAB_DIR/ubin"
cp "$(dirname "$0")/netns-socket.py" "$att"
chmod -R a+rX "$LAB_DIR/ubin"

# latch_id HOST STATE PORT: the id of HOST's latch in STATE whose local port is PORT.
latch_id() {
	lab_latchctl "$1" --json list | python3 -c '
import json, sys
for l in json.load(sys.stdin)["latches"]:
    if l["state"] == sys.argv[1] and l.get("flow", {}).get("local_port") == int(sys.argv[2]):
        print(l["id"])' "$2" "$3"
}
# status NAME OUTPUT: the status the attacker printed for request NAME.
status() {
	sed -n "s/^$1 //p" <<<"$2"
}

# The victim: a latched server on b, a latched connection to it from a.
recv=$LAB_DIR/recv
lab_probe_bg b "$LAB_DIR/server.log" serve 8080 --out "$recv" --peer-ca "$LAB_CA_DN"
lab_wait_count 100 1 '^listening' "$LAB_DIR/server.log"
lab_probe_bg a "$LAB_DIR/client.log" connect "$(lab_ip b)" 8080 --peer-id b.example \
	--marker VICTIM --count 1 --hold 600000 --sport 45000
lab_wait_count 100 1 '^latched' "$LAB_DIR/client.log"
# b's latch of the accepted connection comes with the server's latch_accept.
lab_wait_count 300 1 '^accepted' "$LAB_DIR/server.log"
listener=$(latch_id b LISTENER 8080)
conn=$(latch_id b ESTABLISHED 8080)
tap_ok "the victim has a listener latch and a latched connection on b" \
	test -n "$listener" -a -n "$conn"
# A root service on b, plain TCP.
lab_bg b "$LAB_DIR/sink.log" python3 "$LAB_LIB_DIR/flow.py" sink 9090 "$LAB_DIR/sink9090"
lab_wait 100 lab_listening b 9090

# The attacker's sockets from its own namespace, each passed with a request.
pcap=$(lab_pcap wire)
lab_capture_start b "$pcap"
out=$(lab_as_user b 65534 unshare -rn python3 "$att" foreign 8080 "$(lab_ip a)" 45000 \
	"$(lab_ip b)" 9090 7000 "$listener" 2>&1)
tap_diag "$(tr '\n' ' ' <<<"$out")"
# CLOSE names a latch by id alone: control refuses any descriptor with it (EBADF).
tap_is "$(status close "$out")" -9 "CLOSE with a socket: EBADF (it takes none)"
for req in query-listener query-connection attach latch listen release-connection \
	release-listener; do
	tap_is "$(status "$req" "$out")" "$EXDEV" "$req with a socket of another namespace: EXDEV"
done
tap_is "$(status after "$out")" -1 "the victim's listener latch is still there (EPERM by id)"
tap_ok "with a message that says why" grep -q "^msg QUERY: .*another network namespace" <<<"$out"
tap_is "$(latch_id b LISTENER 8080)" "${listener:-none}" "the victim's listener latch is still listed"
tap_is "$(latch_id b ESTABLISHED 8080)" "${conn:-none}" "the victim's connection is still ESTABLISHED"

# Cleartext from another host to the victim's listener: still dropped.
lab_exec c python3 "$LAB_LIB_DIR/flow.py" send "$(lab_ip b)" 8080 CLEARTEXT --connect-timeout 3 \
	>/dev/null 2>&1
# The root service answers another host: its port is in no hold set.
lab_exec c python3 "$LAB_LIB_DIR/flow.py" send "$(lab_ip b)" 9090 ROOTSVC --connect-timeout 5 \
	>/dev/null 2>&1
lab_capture_stop "$pcap"
tap_is "$(lab_pcap_clear "$pcap" CLEARTEXT)" 0 "no cleartext to the victim's listener on the wire"
tap_not "no cleartext connection reached the victim's server (no accept there)" \
	grep -q '^accept-error' "$LAB_DIR/server.log"
tap_ok "the root service still works (its SYN-ACKs are not held)" \
	lab_wait 50 grep -q ROOTSVC "$LAB_DIR/sink9090"

# In latchd's namespace: a UDP socket with the victim's ends names no latch.
lab_probe_bg b "$LAB_DIR/udp.log" serve 5000 --udp --out "$LAB_DIR/recv-udp" --peer-ca "$LAB_CA_DN"
lab_wait_count 100 1 '^listening' "$LAB_DIR/udp.log"
udp=$(latch_id b LISTENER 5000)
out=$(lab_as_user b 65534 python3 "$att" udp 5000 2>&1)
tap_diag "$(tr '\n' ' ' <<<"$out")"
tap_is "$(status query-udp "$out")" "$ENOENT" "QUERY with another user's socket on the same ends: ENOENT"
tap_is "$(status release-udp "$out")" "$ENOENT" "RELEASE with it: ENOENT"
tap_is "$(latch_id b LISTENER 5000)" "${udp:-none}" "the victim's UDP listener latch is still listed"

# In latchd's namespace: the attacker's own socket shares a root service's port
# (SO_REUSEADDR, bound first); its attachment holds none of the service's packets.
go=$LAB_DIR/go
lab_as_user_bg b "$LAB_DIR/attach.log" 65534 python3 "$att" attach 9191 "$go"
lab_wait_count 100 1 '^bound' "$LAB_DIR/attach.log"
lab_bg b "$LAB_DIR/sink2.log" python3 "$LAB_LIB_DIR/flow.py" sink 9191 "$LAB_DIR/sink9191"
lab_wait 100 lab_listening b 9191
touch "$go"
lab_wait_count 100 1 '^attach' "$LAB_DIR/attach.log"
tap_ok "the attacker attaches its own socket" grep -q '^attach 0$' "$LAB_DIR/attach.log"
lab_exec c python3 "$LAB_LIB_DIR/flow.py" send "$(lab_ip b)" 9191 ROOTSVC2 --connect-timeout 5 \
	>/dev/null 2>&1
tap_ok "the root service on the shared port still works" \
	lab_wait 50 grep -q ROOTSVC2 "$LAB_DIR/sink9191"
tap_not "no latch was made for the root service's connection" \
	eval "lab_latchd_log b | grep -q '9191.*made for an attached socket'"

# latchd serves everyone else.
out=$(lab_probe a connect "$(lab_ip b)" 8080 --peer-id b.example --marker AFTER)
tap_ok "the daemon keeps serving: the victim latches another connection" grep -q '^latched' <<<"$out"
tap_done
