#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The draft API against real charons (draft-lab.c, a program written only to
# <ipsecapi.h>): what a latched socket's pToken and iToken say, and the
# channel-binding functions of draft-ietf-btns-channel-binding-api.
#  1. IPv4, a server whose pToken is set on its listener, a client naming b:
#     both ends read each other's certificate DN, authMeth_PKIX_TRUSTED,
#     privacy ENABLE over the lab's AES-GCM SA, the same tunnelMode as
#     latchctl reports, an informationString, and the same channel binding
#     from ipsec_get_cbinding_data(); ESP on the wire, nothing in clear.
#  2. IPv6: the same.
#  3. BTNS through the draft: a host with BTNS only (c), authMeth_BTNS ENABLE
#     on both ends: each reads authMeth_BTNS (0x201) and an O=BTNS name.
#
#   a 192.0.2.1 a.example   b 192.0.2.2 b.example (CA ca)   c 192.0.2.3 BTNS only
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

lab=$LAB_BUILD/test/integration/draft-lab
lab_init
lab_latch_host a 1
lab_latch_host b 2
lab_latch_host c 3
lab_ca ca
lab_cert a ca a.example
lab_cert b ca b.example
for h in a b c; do
	lab_charon_start "$h"
	lab_latchd_start "$h"
done

field() { # field NAME LINE
	grep -o " $1=[^ ]*" <<<" $2" | head -n 1 | cut -d= -f2
}

# serve NAME PORT ARGS...: a draft-lab server on b, up and listening.
serve() {
	local name=$1 port=$2
	shift 2
	lab_bg b "$LAB_DIR/$name.log" env LATCH_SOCKET="$(lab_latchd_sock b)" "$lab" server "$port" "$@"
	lab_wait 100 grep -q '^listening' "$LAB_DIR/$name.log"
}

# both NAME FAMILY CLIENT_OUT: the checks both ends of a certificate latch pass.
both() {
	local name=$1 fam=$2 out=$3 srv
	lab_wait 50 grep -q '^peer' "$LAB_DIR/$name.log"
	srv=$(grep '^peer' "$LAB_DIR/$name.log")
	tap_diag "$name client: $out"
	tap_diag "$name server: $srv"
	tap_ok "$name: the client reads b's certificate DN, by certificate" \
		grep -q '^peer subject=C=CH, O=latch-lab, CN=b.example auth=0x207 ' <<<"$out"
	tap_ok "$name: the server reads a's certificate DN, by certificate" \
		grep -q '^peer subject=C=CH, O=latch-lab, CN=a.example auth=0x207 ' <<<"$srv"
	tap_is "$(field privacy "$out")/$(field privacy "$srv")" "2/2" \
		"$name: privacyProtected is ENABLE on both ends (the AES-GCM SA in force)"
	tap_is "$(field tunnel "$out")" "$(field tunnel "$srv")" "$name: both ends read the same tunnelMode"
	# The mode of a's child SAs as charon lists them: 2 (ENABLE) for tunnel, 1 for transport.
	mode=$(lab_swanctl a --list-sas --raw 2>/dev/null | grep -o 'mode=[A-Z]*' | sort -u)
	tap_is "$(field tunnel "$out")" "$([ "$mode" = mode=TUNNEL ] && echo 2 || echo 1)" \
		"$name: the tunnelMode of the child SA charon lists ($mode)"
	tap_ok "$name: an informationString names ESP" grep -q ' info=IPsec ESP, ' <<<"$out"
	tap_ok "$name: ipsec_get_cbinding_data gives a 32-byte binding" \
		grep -qE ' cb=[0-9a-f]{64} ' <<<"$out"
	tap_is "$(field cb "$srv")" "$(field cb "$out")" "$name: the same channel binding on both ends"
	tap_ok "$name: the server echoed the marker" grep -q "^answer $marker" <<<"$out"
	tap_cmp "$(lab_pcap_esp "$pcap" "$fam")" -ge 2 "$name: ESP on the wire"
	tap_is "$(lab_pcap_clear "$pcap" "$marker")" 0 "$name: the marker never in clear"
}

# ---- 1: IPv4
serve v4 8080
marker="DRAFTLAB4-$RANDOM$RANDOM"
pcap=$(lab_pcap draft-lab4)
lab_capture_start a "$pcap"
out=$(lab_as_latch a timeout 30 "$lab" client "$(lab_ip b)" 8080 "$marker" --peer b.example 2>&1)
lab_capture_stop "$pcap"
both v4 ip "$out"

# ---- 2: IPv6
serve v6 8086 -6
marker="DRAFTLAB6-$RANDOM$RANDOM"
pcap=$(lab_pcap draft-lab6)
lab_capture_start a "$pcap"
out=$(lab_as_latch a timeout 30 "$lab" client "$(lab_ip b 6)" 8086 "$marker" --peer b.example 2>&1)
lab_capture_stop "$pcap"
both v6 ip6 "$out"

# ---- 3: BTNS through the draft
serve btns 9090 --btns
marker="DRAFTBTNS-$RANDOM$RANDOM"
pcap=$(lab_pcap draft-btns)
lab_capture_start c "$pcap"
out=$(lab_as_latch c timeout 30 "$lab" client "$(lab_ip b)" 9090 "$marker" --btns 2>&1)
lab_capture_stop "$pcap"
lab_wait 50 grep -q '^peer' "$LAB_DIR/btns.log"
srv=$(grep '^peer' "$LAB_DIR/btns.log")
tap_diag "btns client: $out"
tap_diag "btns server: $srv"
tap_ok "btns: the server reads c as authMeth_BTNS with an O=BTNS name" \
	grep -q '^peer subject=O=BTNS, CN=[0-9a-f]* auth=0x201 ' <<<"$srv"
tap_ok "btns: the client reads b as authMeth_BTNS" grep -q ' auth=0x201 ' <<<"$out"
tap_is "$(field cb "$srv")" "$(field cb "$out")" "btns: the same channel binding on both ends"
tap_ok "btns: the server echoed the marker" grep -q "^answer $marker" <<<"$out"
tap_is "$(lab_pcap_clear "$pcap" "$marker")" 0 "btns: the marker never in clear"
tap_done
