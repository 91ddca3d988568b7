#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# latchd scenario 11 (issue 5): scenario 1 over IPv6, and scenario 1 again in
# exact mode: the latched flow gets a child SA of its own, selectors exactly
# its 5-tuple (RFC 5660 R19), seen on the wire as its own SPI, and reported
# as not shared (R20); closing the latch ends that SA.
#
#   a 192.0.2.1 / 2001:db8::1 a.example   b 192.0.2.2 / 2001:db8::2 b.example
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

lab_init
lab_latch_pair
recv=$LAB_DIR/recv
lab_latch_server b 8080 "$LAB_DIR/server.log" --out "$recv"

field() {
	grep -o " $1=[^ ]*" <<<" $2" | head -n 1 | cut -d= -f2
}

# ---- IPv6
m6="V6-$RANDOM$RANDOM"
pcap=$(lab_pcap v6)
lab_capture_start a "$pcap"
out=$(lab_probe a connect "$(lab_ip b 6)" 8080 --peer-id b.example --marker "$m6" --count 5 --interval 20)
lab_wait_count 100 5 "$m6" "$recv"
lab_capture_stop "$pcap"
tap_diag "v6 client: $out"
tap_ok "latch_connect over IPv6 succeeds with b.example" grep -q '^latched .*peer_id="b.example"' <<<"$out"
tap_is "$(field peer_pubkey "$out")" "$(lab_spki_sha256 "$LAB_DIR/pki/b.pem")" "and b's pubKeyID"
acc=$(grep '^accepted' "$LAB_DIR/server.log" | tail -n 1)
tap_ok "b accepted it as a.example" grep -q 'peer_id="a.example"' <<<"$acc"
tap_is "$(field cb "$acc")" "$(field cb "$out")" "both ends have the same channel binding"
tap_is "$(grep -c "$m6" "$recv")" 5 "b received the 5 lines"
tap_cmp "$(lab_pcap_esp "$pcap" ip6)" -ge 5 "ESP over IPv6 on the wire"
tap_is "$(lab_pcap_clear "$pcap" "$m6")" 0 "the marker never in clear"
tap_is "$(lab_pcap_count "$pcap" 'tcp port 8080')" 0 "no TCP segment in clear"

# ---- exact mode, beside a shared latch to the same peer
ms="SHARED-$RANDOM$RANDOM"
mx="EXACT-$RANDOM$RANDOM"
pcap=$(lab_pcap exact)
lab_capture_start a "$pcap"
lab_probe_bg a "$LAB_DIR/shared.log" connect "$(lab_ip b)" 8080 --peer-id b.example \
	--marker "$ms" --count 20 --interval 100
lab_wait_count 100 2 "$ms" "$recv"
out=$(lab_probe a connect "$(lab_ip b)" 8080 --peer-id b.example --exact --marker "$mx" \
	--count 5 --interval 20 --hold 500)
lab_wait_count 100 5 "$mx" "$recv"
lab_wait_count 150 20 "$ms" "$recv"
lab_capture_stop "$pcap"
shared=$(grep '^latched' "$LAB_DIR/shared.log")
tap_diag "exact client: $(head -n 1 <<<"$out")"
tap_ok "the exact latch is up with b.example" grep -q '^latched .*peer_id="b.example"' <<<"$out"
tap_is "$(field shared "$out")" 0 "it reports its SA as its own (not shared)"
tap_is "$(field shared "$shared")" 1 "the shared latch reports a shared SA"
spi_x=$(field spi_out "$out")
spi_s=$(field spi_out "$shared")
tap_ok "the exact latch has an SA of its own (SPI $spi_x, shared $spi_s)" test "$spi_x" != "$spi_s"
tap_cmp "$(lab_pcap_spi "$pcap" "$spi_x")" -ge 5 \
	"its packets cross under its own SPI"
tap_cmp "$(lab_pcap_spi "$pcap" "$spi_s")" -ge 20 \
	"the shared flow's under the shared SPI"
tap_is "$(lab_pcap_clear "$pcap" "$mx")$(lab_pcap_clear "$pcap" "$ms")" 00 "no marker in clear"
child_x=$(field child "$out")
tap_ok "closing the exact latch ended its child SA #$child_x" \
	lab_wait 50 eval "! lab_swanctl a --list-sas --raw | grep -q 'uniqueid=$child_x reqid'"
tap_done
