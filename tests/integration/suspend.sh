#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Suspended protection, in the corosync lab with real QEMU (TCG), the
# guest's `ledger` on a replicated 64 MiB disk and a client on hC holding one
# TCP connection:
#  1. `understudy suspend-protection` on hA for a few seconds while the
#     client writes: hA says suspended, no epoch is acknowledged, replies go
#     on (output released), hB says it cannot be promoted, and the pair
#     keeps its stream (keepalives: neither side takes the quiet for a loss).
#  2. `understudy resume-protection`: protected again; the one epoch that
#     carried the suspension's changes (hA's resume_ram_bytes and
#     resume_disk_bytes) is smaller than the initial sync's RAM alone.
#  3. hA is killed: hB fences it and takes over; the replies are exactly
#     1, 2, 3, ... on the one connection.
#  4. hA returns as a standby (reprotection), protection is suspended on hB,
#     and hB is killed: hA refuses promotion, its log naming the suspension.
# At the end hB's image holds ledger records 1..N, N the last reply.
set -u
. "$(dirname "$0")/../lib/common.sh"
LAB_NIC=1
LAB_APPEND="us.run=ledger us.disk=/dev/vda"
LAB_COROSYNC=1
LAB_PEER_TIMEOUT_MS=3000
LAB_DISK=64M
. "$top_srcdir/tests/lib/lab.sh"
LEDGERCHECK=$top_builddir/tests/tools/ledgercheck
trap lab_down EXIT
[ -x "$top_builddir/tests/tools/reqclient" ] || fail "reqclient not built"
[ -x "$LEDGERCHECK" ] || fail "$LEDGERCHECK not built"

state_is() { [ "$(lab_field "$1" state)" = "$2" ]; }
replies_grow() { lab_replies_at_least "$LOG" $(( $1 + 5 )); }

lab_up || fail "cannot build the lab"
LOG=$LAB_DIR/client.log
lab_protected_pair "$LOG" || fail "no protected pair"
lab_wait 60 lab_acked_at_least 1 || fail "the pair never committed an epoch"
sync_ram=$(lab_field hA sync_ram_bytes)

out=$(lab_ctl hA suspend-protection 2>&1) || fail "suspend-protection refused: $out"
state_is hA suspended || fail "hA's state while suspended: $(lab_field hA state)"
hb_suspended() { [ "$(lab_field hB suspended)" = true ] && [ "$(lab_field hB promotable)" = false ]; }
lab_wait 10 hb_suspended ||
	fail "hB does not know it cannot be promoted: suspended $(lab_field hB suspended)," \
	     "promotable $(lab_field hB promotable)"
a0=$(lab_field hA acked)
before=$(lab_replies "$LOG")
sleep 4	# longer than peer_timeout_ms: keepalives must hold the pair together
lab_replies_at_least "$LOG" $(( before + 10 )) || fail "no replies while suspended (output held?)"
[ "$(lab_field hA acked)" = "$a0" ] || fail "epochs were acknowledged while suspended"
state_is hA suspended || fail "hA left the suspension by itself: $(lab_field hA state)"
! grep -a -q "LOST THE STANDBY\|replication stream lost" "$LAB_DIR/hA.log" "$LAB_DIR/hB.log" ||
	fail "a side took the suspension for a loss"
during=$(( $(lab_replies "$LOG") - before ))

out=$(lab_ctl hA resume-protection 2>&1) || fail "resume-protection refused: $out"
lab_wait 30 state_is hA protected || fail "not protected after resume: $(lab_field hA state)"
lab_wait 30 lab_acked_at_least $(( a0 + 2 )) || fail "no epoch acknowledged after resume"
hb_promotable() { [ "$(lab_field hB promotable)" = true ]; }
lab_wait 10 hb_promotable || fail "hB not promotable after the resume committed"
ram=$(lab_field hA resume_ram_bytes)
disk=$(lab_field hA resume_disk_bytes)
[ -n "$ram" ] && [ "$ram" -gt 0 ] && [ "$ram" -lt "$sync_ram" ] ||
	fail "the resume sent $ram bytes of pages, the initial sync $sync_ram"
[ -n "$disk" ] && [ "$disk" -gt 0 ] || fail "the resume sent no disk writes ($disk), though the ledger wrote"
note "suspended 4 s: $during replies meanwhile, acked stayed $a0; the resume epoch carried" \
     "$(( ram >> 10 )) KiB of pages (initial sync: $(( sync_ram >> 10 )) KiB) and $(( disk >> 10 )) KiB of disk writes"

before=$(lab_replies "$LOG")
lab_kill_host hA
lab_wait 60 grep -a -q "TAKEOVER" "$LAB_DIR/hB.log" || fail "no takeover on hB: $(tail -3 "$LAB_DIR/hB.log")"
lab_wait 60 replies_grow "$before" || fail "no replies after the takeover: $(cat "$LOG.err")"

# a takeover while suspended must be refused, in words
lab_start hA standby
lab_wait 120 state_is hB protected || fail "hB never protected by hA: $(lab_field hB state)"
lab_wait 30 lab_member hA || fail "hA's standby never saw hB in corosync"
out=$(lab_ctl hB suspend-protection 2>&1) || fail "suspend-protection on hB refused: $out"
lab_wait 10 grep -a -q "SUSPENDED protection" "$LAB_DIR/hA.log" || fail "hA never heard of the suspension"
kill -TERM "$LAB_CLIENT_PID"
wait "$LAB_CLIENT_PID" || fail "client exit $?: $(cat "$LOG.err")"
lab_replies_in_order "$LOG" ||
	fail "replies are not 1, 2, 3, ...: $(awk '{print $2}' "$LOG" | tr '\n' ' ' | cut -c1-300)"
last=$(tail -n 1 "$LOG" | awk '{ print $2 }')
sleep 1
lab_kill_host hB
lab_wait 60 grep -a -q "promotion refused: protection is suspended" "$LAB_DIR/hA.log" ||
	fail "hA did not refuse promotion naming the suspension: $(tail -3 "$LAB_DIR/hA.log")"
! grep -a -q "TAKEOVER" "$LAB_DIR/hA.log" || fail "hA took over from a suspended pair"
out=$("$LEDGERCHECK" "$(lab_disk hB)" --min "$last" --max $(( last + 1 )) 2>&1) ||
	fail "hB's image, the client's last reply $last: $out"
note "killed hB while suspended: hA refused: $(grep -a -o 'promotion refused: protection is suspended[^;]*' "$LAB_DIR/hA.log" | head -n 1)"
echo "PASS: suspended and resumed under load with only the delta sent, a takeover after it" \
     "with $last replies in order, and no promotion from a suspended pair; hB's image: $out"
