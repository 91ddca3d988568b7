#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# latchd scenario 8 (issue 5): an unprivileged user (nobody) latches its own
# sockets, gets EPERM on another user's latch and on a request for bypass,
# and hits its limit with a clear error; the daemon keeps serving others.
# Also: malformed and unknown requests get a specific error and change nothing.
#
#   a 192.0.2.1 a.example (latchd: max_latches_per_uid = 2)   b 192.0.2.2 b.example
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

lab_init
lab_latch_host a 1
lab_latch_host b 2
lab_ca ca
lab_cert a ca a.example
lab_cert b ca b.example
lab_latchd_conf a "max_latches_per_uid = 2"
for h in a b; do
	lab_charon_start "$h"
	lab_latchd_start "$h"
done
recv=$LAB_DIR/recv
lab_probe_bg b "$LAB_DIR/server.log" serve 8080 --out "$recv" --peer-ca "$LAB_CA_DN"
lab_wait_count 100 1 '^listening' "$LAB_DIR/server.log"

# nobody runs the build's programs from copies it can execute (lab_as_user),
# wherever the tree lives
nobody_probe() {
	lab_as_user a 65534 "$(lab_probe_bin)" "$@"
}
nobody_ctl() {
	lab_as_user a 65534 "$(lab_latchctl_bin)" --socket "$(lab_latchd_sock a)" "$@"
}

# root's latch, held open until the teardown ends it (whatever the pace of the run)
lab_probe_bg a "$LAB_DIR/root.log" connect "$(lab_ip b)" 8080 --peer-id b.example \
	--marker ROOT --count 1 --hold 600000
lab_wait_count 100 1 '^latched' "$LAB_DIR/root.log"
root_id=$(grep -o '^latched id=[0-9]*' "$LAB_DIR/root.log" | cut -d= -f2)

# two of nobody's, held open likewise
for i in 1 2; do
	lab_as_user_bg a "$LAB_DIR/nobody$i.log" 65534 "$(lab_probe_bin)" connect "$(lab_ip b)" 8080 \
		--peer-id b.example --marker "NOBODY$i" --count 1 --hold 600000
	lab_wait_count 100 1 '^latched\|^error' "$LAB_DIR/nobody$i.log"
done
tap_ok "nobody latches its own socket" grep -q '^latched .*peer_id="b.example"' "$LAB_DIR/nobody1.log"
tap_ok "and a second one" grep -q '^latched' "$LAB_DIR/nobody2.log"
out=$(nobody_probe connect "$(lab_ip b)" 8080 --peer-id b.example --marker NOBODY3)
tap_diag "third: $out"
tap_ok "the third is refused: ENOSPC, naming the limit" grep -q '^error ENOSPC: .*limit' <<<"$out"
out=$(nobody_probe connect "$(lab_ip b)" 8080 --peer-id b.example --allow-unlatched)
tap_ok "asking for bypass (unlatched fallback) is EPERM for nobody" grep -q '^error EPERM' <<<"$out"

out=$(nobody_ctl show "$root_id" 2>&1)
tap_is "$?" 1 "nobody may not look at root's latch (exit 1)"
tap_ok "latchctl says why" grep -q "belongs to uid 0" <<<"$out"
out=$(nobody_ctl close "$root_id" 2>&1)
tap_ok "nobody may not close root's latch" grep -q "belongs to uid 0" <<<"$out"
tap_ok "root's latch is still ESTABLISHED" eval "lab_latchctl a show $root_id | grep -q ESTABLISHED"
list=$(nobody_ctl --json list)
tap_is "$(grep -o '"uid":65534' <<<"$list" | wc -l)" 2 "nobody's list shows its own two latches"
tap_is "$(grep -c '"uid":0' <<<"$list")" 0 "and none of root's"
tap_cmp "$(lab_latchctl a --json list | grep -o '"uid":' | wc -l)" -ge 3 "root sees every latch"

# malformed and unknown requests: a specific error, nothing changed, the daemon serves on
before=$(lab_latchctl a --json status)
bad=$(lab_exec a python3 - "$(lab_latchd_sock a)" <<'EOF'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
def req(b):
    s.send(b)
    r = s.recv(65536)
    return struct.unpack('>HHIi', r[:12])[3]
hello = struct.pack('>HHIi', 100, 0, 1, 0) + struct.pack('>HHI', 8, 1, 1)
print('hello', req(hello))
print('short', req(b'\x00\x01'))
print('unknown-type', req(struct.pack('>HHIi', 777, 0, 2, 0)))
print('unknown-attr', req(struct.pack('>HHIi', 400, 0, 3, 0) + struct.pack('>HHI', 8, 126, 0)))
print('oversized', req(struct.pack('>HHIi', 400, 0, 4, 0) + b'\0' * 20000))
print('connect-without-fd', req(struct.pack('>HHIi', 200, 0, 5, 0)))
EOF
)
tap_diag "$(tr '\n' ' ' <<<"$bad")"
tap_ok "HELLO is accepted" grep -q '^hello 0$' <<<"$bad"
tap_ok "a 2-byte packet: EBADMSG" grep -q "^short -74$" <<<"$bad"
tap_ok "an unknown message type: EOPNOTSUPP" grep -q "^unknown-type -95$" <<<"$bad"
tap_ok "an unknown attribute: EINVAL" grep -q "^unknown-attr -22$" <<<"$bad"
tap_ok "an oversized request: EMSGSIZE" grep -q "^oversized -90$" <<<"$bad"
tap_ok "CONNECT without its socket: EBADF" grep -q "^connect-without-fd -9$" <<<"$bad"
after=$(lab_latchctl a --json status)
tap_is "$(grep -o '"ESTABLISHED":[0-9]*' <<<"$after")" "$(grep -o '"ESTABLISHED":[0-9]*' <<<"$before")" \
	"nothing changed in the latch database"
out=$(lab_probe a connect "$(lab_ip b)" 8080 --peer-id b.example --marker AFTER --sport 45000)
tap_ok "the daemon keeps serving: root latches another connection" grep -q '^latched' <<<"$out"
tap_done
