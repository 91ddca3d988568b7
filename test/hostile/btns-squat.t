#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# BTNS name squatting (issue 13, item 8). Anyone can issue a certificate
# under the public anchor, for any BTNS name and its own key, and charon
# keeps every certificate it checked, also from failed exchanges, without
# saying which one authenticated an IKE_SA. c, a stock charon holding the
# anchor's key, presents certificates under other hosts' BTNS names:
#  1. under b's name (a latch host: its name is its key's hash), to a's BTNS
#     listener: refused, nothing delivered;
#  2. b then connects with its real key: latched, reported with b's pubKeyID;
#  3. a connects to c asking for b's name while b's certificate is in a's
#     charon's cache: never latched as b, nothing of the flow reaches c,
#     in clear or under c's SA;
#  4. b connects afresh: the squatter left nothing behind;
#  5. under d's name (a stock host: its name says nothing about its key),
#     just before d: d's IKE_SA, whose key cannot be told then, is closed;
#     d's next one is judged on its own and latched with d's pubKeyID.
#
#   a 192.0.2.1 latch, BTNS listener 9000   b 192.0.2.2 latch
#   c 192.0.2.3 plain charon, the attacker   d 192.0.2.4 plain charon, stock BTNS peer
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"
source "$(dirname "$0")/../lab/btns.sh"

lab_init
lab_latch_host a 1
lab_latch_host b 2
lab_host c 3
lab_host d 4
for h in a b; do
	lab_charon_start "$h"
	lab_latchd_start "$h"
done
id_b=$(lab_btns_id b)
key_b=$(lab_btns_spki b)
lab_btns_cert c "$id_b"
lab_btns_conn c a squat "$id_b"
lab_charon_start c
lab_load c >/dev/null
key_c=$(lab_spki_sha256 "$LAB_DIR/pki/c-btns.key")
tap_ok "c's certificate carries b's BTNS name and another key" \
	test "$key_c" != "$key_b" -a "$(openssl x509 -in "$LAB_DIR/pki/c-btns.pem" -noout -subject \
	-nameopt sep_comma_plus_space,sname)" = "subject=$id_b"

recv=$LAB_DIR/recv-a
lab_probe_bg a "$LAB_DIR/server.log" serve 9000 --btns --out "$recv"
server=$LAB_PID
lab_wait_count 100 1 '^listening' "$LAB_DIR/server.log"
alog=$(lab_dir a)/latchd.log.tmp

# ---- 1. c under b's name, to a's BTNS listener
m1="SQUAT1-$RANDOM$RANDOM"
wire=$(lab_pcap s1)
lab_capture_start a "$wire"
tap_ok "c's IKE as b's BTNS name succeeds in charon (the anchor issued its certificate)" \
	lab_initiate c squat
tap_ok "a's latchd finds no key of b's behind b's name and closes c's IKE_SA" \
	lab_wait 100 grep -q "with '$id_b': no key can be told (another key than the one its name is the hash of presented that name): closed" "$alog"
lab_exec c python3 "$LAB_LIB_DIR/flow.py" send "$(lab_ip a)" 9000 "$m1" --count 3 \
	--interval 0.05 --connect-timeout 3 >/dev/null 2>&1
lab_capture_stop "$wire"
tap_is "$(grep -c "$m1" "$recv")" 0 "a's application received nothing from c"
tap_is "$(grep -c '^accepted' "$LAB_DIR/server.log")" 0 "a's listener accepted nothing"
tap_is "$(lab_pcap_clear "$wire" "$m1")" 0 "nothing of it in clear on a's link"

# ---- 2. b, with its real key
m2="SQUAT2-$RANDOM$RANDOM"
wire=$(lab_pcap s2)
lab_capture_start a "$wire"
out=$(lab_probe b connect "$(lab_ip a)" 9000 --btns --marker "$m2" --count 3 --interval 20)
lab_wait_count 100 3 "$m2" "$recv"
lab_capture_stop "$wire"
acc=$(grep '^accepted' "$LAB_DIR/server.log" | tail -n 1)
tap_diag "b: $out"
tap_diag "a: $acc"
tap_diag "a's latchd: $(grep -h -e warning -e error "$alog" | tail -n 4 | tr '\n' ' ')"
tap_diag "b's latchd: $(grep -h -e warning -e error "$(lab_dir b)/latchd.log.tmp" | tail -n 4 | tr '\n' ' ')"
tap_ok "b latches to a after c presented b's name" grep -q '^latched id=[0-9]* state=2' <<<"$out"
tap_is "$(lab_field "$acc" peer_id)" "$id_b" "a's server accepted b under b's name"
tap_is "$(lab_field "$acc" peer_pubkey)" "$key_b" "with b's real pubKeyID"
tap_is "$(grep -c "$m2" "$recv")" 3 "a received b's 3 lines"
tap_cmp "$(lab_pcap_esp "$wire")" -ge 3 "they crossed as ESP"
tap_is "$(lab_pcap_clear "$wire" "$m2")" 0 "never in clear"

# ---- 3. a asks for b's name at c, b's certificate in a's charon's cache
lab_btns_no_sas c
m3="SQUAT3-$RANDOM$RANDOM"
wire=$(lab_pcap s3)
inner=$(lab_pcap s3-c-inner)
lab_capture_start a "$wire"
lab_capture_inner c "$inner"
out=$(lab_probe a connect "$(lab_ip c)" 7000 --btns --peer-id "$id_b" --marker "$m3" \
	--count 3 --interval 20)
lab_capture_stop "$wire"
lab_capture_stop "$inner"
tap_diag "a to c as b: $out"
tap_ok "a's token naming b is never satisfied by c's key" \
	grep -q "^error EACCES.*'$id_b' has no key latchd can tell" <<<"$out"
tap_is "$(grep -c "with '$id_b': no key can be told (another key than the one its name is the hash of presented that name): closed" "$alog")" 2 \
	"latchd says why, and closes c's IKE_SA again"
tap_is "$(lab_pcap_count "$inner" 'tcp port 7000')" 0 \
	"not one segment of the flow reached c under its SA"
tap_is "$(lab_pcap_clear "$inner" "$m3")" 0 "c decrypted nothing of it"
tap_is "$(lab_pcap_clear "$wire" "$m3")" 0 "nothing of it in clear on a's link"
tap_is "$(lab_pcap_count "$wire" 'tcp port 7000')" 0 "no segment of it in clear on a's link"

# ---- 4. b again, on a fresh IKE_SA
lab_btns_no_sas b
m4="SQUAT4-$RANDOM$RANDOM"
out=$(lab_probe b connect "$(lab_ip a)" 9000 --btns --marker "$m4" --count 3 --interval 20 \
	--sport 41004)
lab_wait_count 100 3 "$m4" "$recv"
acc=$(grep '^accepted' "$LAB_DIR/server.log" | tail -n 1)
tap_diag "b: $out"
tap_ok "b latches to a again on a fresh IKE_SA" grep -q '^latched id=[0-9]* state=2' <<<"$out"
tap_is "$(lab_field "$acc" peer_pubkey)" "$key_b" "still with b's real pubKeyID"

# ---- 5. a stock host's name: c presents it just before d
lab_charon_stop c
lab_btns_cert c "O=BTNS, CN=stock-d"
lab_btns_conn c a squat "O=BTNS, CN=stock-d"
lab_charon_start c
lab_load c >/dev/null
lab_btns_cert d "O=BTNS, CN=stock-d"
lab_btns_conn d a btns "O=BTNS, CN=stock-d"
lab_charon_start d
lab_load d >/dev/null
key_d=$(lab_spki_sha256 "$LAB_DIR/pki/d-btns.key")
tap_ok "c presents d's name under its own key" lab_initiate c squat
lab_btns_no_sas c
lab_initiate d btns >/dev/null 2>&1
tap_ok "a cannot tell the key of d's IKE_SA then, and closes it" \
	lab_wait 100 grep -q "with 'O=BTNS, CN=stock-d': no key can be told (two keys presented that name): closed" "$alog"
tap_diag "a's latchd: $(grep -h "stock-d" "$alog" | tail -n 2 | tr '\n' ' ')"
lab_btns_no_sas d
tap_ok "d initiates BTNS to a again" lab_initiate d btns
m5="SQUAT5-$RANDOM$RANDOM"
wire=$(lab_pcap s5)
lab_capture_start a "$wire"
lab_exec d python3 "$LAB_LIB_DIR/flow.py" send "$(lab_ip a)" 9000 "$m5" --count 3 \
	--interval 0.05 --connect-timeout 3 >/dev/null 2>&1
lab_wait_count 100 3 "$m5" "$recv"
lab_capture_stop "$wire"
acc=$(grep '^accepted' "$LAB_DIR/server.log" | tail -n 1)
tap_diag "a: $acc"
tap_is "$(lab_field "$acc" peer_id)" "O=BTNS, CN=stock-d" "a accepts d's next IKE_SA"
tap_is "$(lab_field "$acc" peer_pubkey)" "$key_d" "with d's pubKeyID, not c's"
tap_is "$(grep -c "$m5" "$recv")" 3 "a received d's 3 lines"
tap_is "$(lab_pcap_clear "$wire" "$m5")" 0 "never in clear"

tap_ok "a's server is still serving" kill -0 "$server"
tap_ok "a's latchd still answers" lab_latchctl a status
tap_done
