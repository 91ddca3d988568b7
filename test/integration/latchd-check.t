#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The doctor and the errors an administrator acts on (issue 17 §2-§4), on the
# lab: latchd --check passes on a working latch host and names each fault
# (a key of another certificate, a CA that did not issue ours, charon's
# fwmark that misses latchd's mark, charon stopped) with a non-zero exit;
# latchctl status shows the same lines from the running daemon; with charon
# stopped latchd logs the failed connect with the path and errno, once, not
# at every retry; systemd hears READY=1, STATUS= (charon reachable or not,
# the latches) and WATCHDOG=1 on a NOTIFY_SOCKET this test reads; and a
# latch asked for while charon is down fails saying so, with nothing of it
# in clear on the wire.
#
#   a 192.0.2.1 a.example: latchd (under a NOTIFY_SOCKET)   b 192.0.2.2 b.example: latchd, server
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

kernel=false
[ "${LAB_DATAPLANE:-libipsec}" = kernel ] && kernel=true
lab_init
lab_latch_pair
da=$(lab_dir a)
db=$(lab_dir b)
check() { # check HOST [latchd args...]: latchd --check's output and exit status
	local h=$1
	shift
	lab_exec "$h" "$(lab_latchd_bin)" --check -c "$(lab_dir "$h")/latchd.conf" "$@" 2>&1
}

# ---- a working host
out=$(check a)
rc=$?
tap_diag "$(grep -v '^ok' <<<"$out")"
tap_is "$rc" 0 "--check on a working latch host: exit 0"
tap_ok "it says all checks passed" grep -q '^all [0-9]* checks passed$' <<<"$out"
tap_ok "charon answers, as charon names itself" \
	grep -q "^ok   charon: charon [0-9.]* answers on $da/charon.vici" <<<"$out"
if $kernel; then
	tap_ok "charon's plugins as charon reports them: kernel-netlink" \
		grep -q "^ok   charon plugins: [0-9]* loaded, as charon reports them (stats): .*kernel-netlink" <<<"$out"
	tap_not "and no kernel-libipsec" grep -q "charon plugins: .*kernel-libipsec" <<<"$out"
	tap_ok "the kernel data plane needs none of charon's libipsec settings" \
		grep -q '^ok   charon settings: the kernel data plane needs neither the fwmark pair nor allow_peer_ts' <<<"$out"
	tap_ok "data_plane = auto takes the kernel's ESP" \
		grep -q '^ok   data plane: kernel (XFRM, per-socket policies): auto: the kernel does ESP' <<<"$out"
	tap_ok "kernel: ESP" grep -q '^ok   kernel: ESP (' <<<"$out"
else
	tap_ok "charon's plugins as charon reports them" \
		grep -q '^ok   charon plugins: [0-9]* loaded, as charon reports them (stats): .*kernel-libipsec.*kernel-netlink' <<<"$out"
	tap_ok "the fwmark pair, read from charon's files, and said so" \
		grep -q "^ok   charon settings: kernel-netlink.fwmark = 0x100 selects latchd's mark 0x100 .*(read from $da/strongswan.conf and its includes: charon does not report it)" <<<"$out"
	tap_ok "allow_peer_ts" grep -q '^ok   charon settings: kernel-libipsec.allow_peer_ts = yes' <<<"$out"
fi
tap_ok "the certificate and key are one pair" \
	grep -q "^ok   credentials: cert $da/swanctl/x509/a.pem and key $da/swanctl/private/a.pem are one pair" <<<"$out"
tap_ok "the certificate chains to the CA" grep -q "^ok   trust anchors: cert .* chains to the CAs" <<<"$out"
tap_ok "which data plane auto takes, and why (as latchd's log says it)" \
	grep -q '^ok   data plane: \(kernel (XFRM, per-socket policies): auto: the kernel does ESP\|libipsec (nftables sets, routing mark): auto: the kernel has no ESP\) (found by ' <<<"$out"
for f in nf_tables NFQUEUE 'sock_diag destroy' pidfd_getfd; do
	tap_ok "kernel: $f" grep -q "^ok   kernel: $f (" <<<"$out"
done

# ---- a latch whose IKE fails, one whose CA latchd has not: the log says why, not
# "released by owner", and the error names the CAs
out=$(lab_probe a connect "$(lab_ip b)" 8080 --peer-id b.example \
	--peer-ca "C=CH, O=elsewhere, CN=other CA" --sport 41001)
tap_diag "a CA latchd has not: $out"
tap_ok "a token naming a CA latchd has not: the error names both CAs" \
	grep -q "^error EACCES: no trust anchor to pin for that peer: the token names CA 'C=CH, O=elsewhere, CN=other CA', and latchd has only the CAs '$LAB_CA_DN'" <<<"$out"
out=$(lab_probe a connect "$(lab_ip b)" 8080 --peer-id nobody.example --sport 41002)
tap_diag "IKE with a peer that is not nobody.example: $out"
out=$(lab_probe a connect "$LAB_UNUSED4" 8080 --peer-id nobody.example --sport 41003)
tap_ok "no IKE peer at all: the timeout says charon was reachable and no SA came up" \
	grep -q '^error ETIMEDOUT: charon is reachable, but no SA with an acceptable peer came up in time' <<<"$out"
log=$(lab_latchd_log a)
tap_ok "the log gives the CA failure's reason" \
	grep -q "latch [0-9]* tcp 192.0.2.1:41001 -> 192.0.2.2:8080: refused for uid 0: no trust anchor to pin for that peer: the token names CA 'C=CH, O=elsewhere, CN=other CA'" <<<"$log"
tap_ok "the log gives the IKE failure's reason" \
	grep -q "latch [0-9]* tcp 192.0.2.1:41002 -> 192.0.2.2:8080: refused for uid 0: IKE with the peer failed" <<<"$log"
tap_not "and never 'released by owner' for either" grep -q "41001 -> .*released by owner\|41002 -> .*released by owner" <<<"$log"

# ---- faults in latchd's own files
out=$(check a -o "key=$db/swanctl/private/b.pem")
tap_is "$?" 1 "b's key with a's certificate: exit 1"
tap_ok "names the mismatch" grep -q "^FAIL credentials: key $db/swanctl/private/b.pem is not the key of cert $da/swanctl/x509/a.pem" <<<"$out"
sed "s|^ca = .*|ca = $db/swanctl/x509/b.pem|" "$da/latchd.conf" >"$da/latchd-wrongca.conf"
out=$(lab_exec a "$(lab_latchd_bin)" --check -c "$da/latchd-wrongca.conf" 2>&1)
tap_is "$?" 1 "a CA that did not issue the certificate: exit 1"
tap_ok "names it" grep -q "^FAIL trust anchors: cert $da/swanctl/x509/a.pem does not chain to the CAs: unable to get local issuer certificate" <<<"$out"
out=$(check a -o dpd_delay='5 minutes')
tap_is "$?" 1 "a configuration that does not parse: exit 1"
tap_ok "quoted as written" grep -q "^FAIL config: -o dpd_delay: dpd_delay: '5 minutes' is not a duration" <<<"$out"

# ---- without CAP_NET_ADMIN: said so, not "ip rule add ...: Operation not permitted"
nobody() {
	lab_exec a setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"$(lab_latchd_bin)" -c "$da/latchd.conf" -o "socket=$LAB_DIR/nobody.sock" "$@" 2>&1
}
out=$(nobody)
tap_is "$?" 1 "latchd as nobody: exit 1"
tap_ok "it says CAP_NET_ADMIN is needed" grep -q 'error: latchd needs CAP_NET_ADMIN (nftables, ip rules, XFRM policies, sock_diag) and has not got it: run it as root' <<<"$out"
tap_not "and not what the kernel said to an attempt" grep -q 'Operation not permitted' <<<"$out"
out=$(nobody --check)
tap_is "$?" 1 "--check as nobody: exit 1"
tap_ok "--check names it" grep -q '^FAIL privileges: latchd needs CAP_NET_ADMIN' <<<"$out"

# ---- charon's fwmark misses latchd's mark (its files say so; VICI does not)
if $kernel; then
	tap_skip "charon's fwmark misses latchd's mark" "the kernel data plane needs no fwmark"
	tap_skip "names the setting, the value and the fix" "the kernel data plane needs no fwmark"
else
	sed 's/fwmark = 0x100/fwmark = 0x200/' "$da/strongswan.conf" >"$da/strongswan-wrong.conf"
	out=$(check a -o "strongswan_conf=$da/strongswan-wrong.conf")
	tap_is "$?" 1 "charon's fwmark misses latchd's mark: exit 1"
	tap_ok "names the setting, the value and the fix" \
		grep -q "^FAIL charon settings: charon.plugins.kernel-netlink.fwmark = 0x200 does not select latchd's mark 0x100: set it to 0x100" <<<"$out"
fi

# ---- latchd on a under systemd's notification protocol (a socket this test reads)
wire=$(lab_pcap wire)
lab_capture_start a "$wire"
lab_latchd_stop a
notes=$LAB_DIR/notify.log
python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    print(s.recv(4096).decode().replace("\n", "|"), flush=True)' "$LAB_DIR/notify.sock" >"$notes" &
reader=$!
echo "$reader" >>"$LAB_DIR/pids"
lab_wait_count 50 1 '^bound' "$notes"
start_notified() {
	lab_bg a "$da/latchd.log.tmp" env NOTIFY_SOCKET="$LAB_DIR/notify.sock" WATCHDOG_USEC=1000000 \
		"$(lab_latchd_bin)" -c "$da/latchd.conf" -d
	echo "$LAB_PID" >"$da/latchd.pid"
	lab_wait 100 lab_latchd_ready a
}
start_notified
tap_ok "READY=1 with STATUS=: charon reachable, the latches" \
	lab_wait_count 50 1 '^READY=1|STATUS=charon reachable; 0 latches' "$notes"
tap_ok "WATCHDOG=1 pings (WATCHDOG_USEC 1 s: every half second)" lab_wait_count 50 3 '^WATCHDOG=1$' "$notes"
lab_latch_server b 8080 "$LAB_DIR/server.log"
lab_probe_bg a "$LAB_DIR/held.log" connect "$(lab_ip b)" 8080 --peer-id b.example --count 1 --hold 60000
lab_wait_count 100 1 '^latched' "$LAB_DIR/held.log"
tap_ok "STATUS= follows the latches" lab_wait_count 50 1 '^STATUS=charon reachable; 1 latch (1 ESTABLISHED)$' "$notes"

# ---- latchd restarted: the held latch is re-adopted with its owner and age;
# one whose program died meanwhile is dropped, and both are logged
lab_probe_bg a "$LAB_DIR/gone.log" connect "$(lab_ip b)" 8080 --peer-id b.example --count 1 \
	--hold 60000 --sport 42002
gone=$LAB_PID
lab_wait_count 100 1 '^latched' "$LAB_DIR/gone.log"
held=$(grep -o '^latched id=[0-9]*' "$LAB_DIR/held.log" | cut -d= -f2)
dead=$(grep -o '^latched id=[0-9]*' "$LAB_DIR/gone.log" | cut -d= -f2)
sleep 3 & wait $!
lab_latchd_stop a
lab_stop "$gone" KILL
start_notified
log=$(lab_latchd_log a)
tap_ok "the re-adoption is logged with the owner and the age" \
	grep -q "latch $held tcp 192.0.2.1:[0-9]* -> 192.0.2.2:8080: re-adopted (ESTABLISHED, owner uid 0 pid [0-9]* (latch-probe), [3-9] s old)" <<<"$log"
tap_ok "the latch whose socket went is logged, not dropped silently" \
	grep -q "latch $dead tcp 192.0.2.1:42002 -> 192.0.2.2:8080: not re-adopted: its socket is gone (ESTABLISHED, owner uid 0 pid [0-9]* (latch-probe)" <<<"$log"
js=$(lab_latchctl a --json list)
tap_ok "latchctl: the re-adopted latch keeps its program" \
	grep -q "\"id\":$held,.*\"owner\":{\"pid\":[1-9][0-9]*,\"uid\":0,\"program\":\"latch-probe\"}" <<<"$js"
tap_ok "latchctl: and its age (at least the 3 s before the restart)" \
	grep -q "\"id\":$held,.*\"age_s\":\([3-9]\|[1-9][0-9]\)," <<<"$js"

# ---- charon stopped
lab_charon_stop a TERM
t0=$SECONDS
tap_ok "STATUS= says charon is unreachable, and why" \
	lab_wait_count 100 1 "^STATUS=charon unreachable: cannot connect to charon's VICI socket $da/charon.vici: \(No such file or directory\|Connection refused\); 0 latches" "$notes"
out=$(check a)
tap_is "$?" 1 "--check with charon stopped: exit 1"
tap_ok "--check names the fault: the socket, the errno, what to do" \
	grep -q "^FAIL charon: cannot connect to charon's VICI socket $da/charon.vici: .*: start charon" <<<"$out"
st=$(lab_latchctl a status)
tap_ok "latchctl status: charon_up 0" grep -q '^charon_up  *0$' <<<"$st"
tap_ok "latchctl status: the same line as --check" \
	grep -q "^FAIL charon: cannot connect to charon's VICI socket $da/charon.vici" <<<"$st"
ust=$(lab_as_user a 65534 "$(lab_latchctl_bin)" status)
tap_ok "a user's latchctl status: the counters" grep -q '^charon_up  *0$' <<<"$ust"
tap_not "but not the lines (they name files and charon's plugins)" grep -q '^\(ok  \|FAIL\) ' <<<"$ust"
tap_ok "latchctl --json status: the line as a check that failed" \
	grep -qF '{"name":"charon","ok":false,"message":"cannot connect to charon'"'"'s VICI socket' \
	<<<"$(lab_latchctl a --json status)"
out=$(lab_probe a connect "$(lab_ip b)" 8080 --peer-id b.example --marker OUTAGE --sport 41000)
tap_diag "connect during the outage: $out"
tap_ok "a latch asked for meanwhile fails, saying charon is unreachable" \
	grep -q "^error ETIMEDOUT: charon is unreachable (cannot connect to charon's VICI socket $da/charon.vici: " <<<"$out"
[ $((SECONDS - t0)) -ge 8 ] || { sleep $((t0 + 8 - SECONDS)) & wait $!; }
n=$(grep -c "warning: cannot connect to charon's VICI socket $da/charon.vici" "$da/latchd.log.tmp")
tap_is "$n" 1 "the failed connect is logged once in 8 s of retries (rate-limited)"
lab_capture_stop "$wire"
tap_is "$(lab_pcap_clear "$wire" OUTAGE)" 0 "nothing of the refused latch in clear"
tap_is "$(lab_pcap_count "$wire" 'tcp port 8080')" 0 \
	"not one segment of a latched flow in clear (the refused one, the one charon's exit broke)"
lab_charon_start a
tap_ok "charon back: STATUS= says so" lab_wait_count 100 1 '^STATUS=charon reachable' "$notes"
tap_ok "and --check passes again" eval "check a | grep -q '^all [0-9]* checks passed'"
lab_stop "$reader"
tap_done
