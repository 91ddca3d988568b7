#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The journal (issue 13, item 6): an unprivileged user makes and releases a
# listener latch tens of thousands of times and has hundreds of listeners
# refused. latchd's journal stays within 2 × its live records + 64 lines,
# refused latches add nothing to it, and a restarted latchd re-adopts the
# user's live listeners, through which a latched connection then works with
# nothing in clear. The journal is never reached through a symbolic link, and
# latchd makes its state directory 0700 and refuses one that others may write
# (then it serves on, without a journal).
#
#   a 192.0.2.1 a.example (client)   b 192.0.2.2 b.example (the user's listeners)
set -u
source "$(dirname "$0")/../lab/lab.sh"
source "$(dirname "$0")/../lab/tap.sh"

user=65534
keep=20
cycles=${JOURNAL_CHURN_CYCLES:-20000}
churn=$LAB_BUILD/test/hostile/journal-churn
lab_init
lab_latch_pair
state=$(lab_dir b)/latch
journal=$state/latches
lines() { wc -l <"$journal"; }
listeners() { lab_latchctl b list | grep -c "LISTENER.*:90[0-9][0-9]"; }

lab_as_user_bg b "$LAB_DIR/churn.log" "$user" "$churn" 9000 "$keep" "$cycles" 0 x
holder=$LAB_PID
# until the driver is through its cycles, or gone
churned() { grep -q '^cycles' "$LAB_DIR/churn.log" || ! kill -0 "$holder"; }
lab_wait 6000 churned
tap_ok "the user made and released $cycles listener latches" grep -q "^cycles $cycles" "$LAB_DIR/churn.log"
tap_cmp "$(grep -c "latch [0-9]* listener: LISTENER -> CLOSED" "$(lab_dir b)/latchd.log.tmp")" -ge "$cycles" \
	"latchd's log shows them all closed"
n=$(lines)
tap_cmp "$n" -le $((2 * keep + 64 + 1)) "the journal holds $n lines for $keep live listeners (≤ 2 × live + 64)"

size=$(stat -c %s "$journal")
out=$(lab_as_user b "$user" "$churn" 9100 0 0 500 "C=CH, O=nobody, CN=no CA")
tap_ok "500 listener latches were refused" grep -q '^refused 500 ' <<<"$out"
tap_is "$(stat -c %s "$journal")" "$size" "refused latches, never journaled, wrote nothing to the journal"
tap_ok "latchd serves root meanwhile" lab_latchd_ready b

lab_latchd_stop b TERM
lab_latchd_start b
tap_is "$(listeners)" "$keep" "after a restart the user's $keep listeners are re-adopted"
tap_is "$(lines)" "$keep" "and the journal holds just them"

wire=$(lab_pcap wire)
lab_capture_start b "$wire"
marker="CHURN-$RANDOM$RANDOM"
out=$(lab_probe a connect "$(lab_ip b)" 9005 --peer-id b.example --marker "$marker" --count 3)
lab_capture_stop "$wire"
tap_ok "a latched connection to a re-adopted listener works" grep -q '^latched' <<<"$out"
tap_is "$(sed -n 's/^sent //p' <<<"$out")" 3 "it sent its 3 lines"
tap_cmp "$(lab_pcap_count "$wire" "$LAB_F_ESP")" -gt 0 "ESP carried them"
tap_is "$(lab_pcap_clear "$wire" "$marker")" 0 "its marker never crossed in clear"
tap_is "$(lab_pcap_count "$wire" 'tcp port 9005')" 0 "no segment of the connection in clear"
lab_stop "$holder" TERM

# A symbolic link in the journal's place is not followed (a dangling one would make root create its target).
lab_latchd_stop b TERM
rm -f "$journal"
ln -s "$LAB_DIR/planted" "$journal"
lab_latchd_start b
out=$(lab_as_user b "$user" "$churn" 9200 0 10 0 x)
tap_ok "with a link for a journal latchd serves the user" grep -q '^cycles 10' <<<"$out"
tap_not "and never created the link's target" test -e "$LAB_DIR/planted"
tap_ok "the link is left as it was" test -L "$journal"
tap_ok "latchd says why it keeps no journal" grep -q "state directory $state: .*latches will not survive" "$(lab_dir b)/latchd.log.tmp"

# The state directory: made 0700; one that others may write is refused, not used.
lab_latchd_stop b TERM
rm -rf "$state"
lab_latchd_start b
tap_is "$(stat -c %a "$state")" 700 "latchd makes its state directory mode 0700"
lab_latchd_stop b TERM
chmod 0777 "$state"
: >"$(lab_dir b)/latchd.log.tmp"
lab_latchd_start b
tap_ok "a state directory any user may write is refused" grep -q "state directory $state: .*not latchd's own" "$(lab_dir b)/latchd.log.tmp"
out=$(lab_as_user b "$user" "$churn" 9300 0 10 0 x)
tap_ok "latchd serves on without a journal" grep -q '^cycles 10' <<<"$out"
tap_is "$(stat -c %s "$journal")" 0 "and wrote nothing into that directory's journal"
tap_done
