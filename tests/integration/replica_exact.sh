#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The replica is exact: real QEMU (TCG) running the memory dirtier on hA,
# standby on hB. After some epochs the primary is paused at an acknowledged
# epoch (`understudy pause` holds the guest stopped after a final checkpoint);
# once the standby reports that epoch committed, the primary's RAM file and
# the standby's replica must be identical byte for byte. Twice, with the
# guest resumed and dirtying in between. The epochs adapt (epoch_ms = auto),
# so this also shows the replica exact at intervals the engine chose, and the
# status reporting the interval in force and the paused share. Half the
# dirtier's writes leave their page as it was (us.dirty_same=50), so the
# unchanged-page skip (skip_unchanged, on by default) leaves pages out of
# epochs, and the replica must be exact all the same.
set -u
. "$(dirname "$0")/../lib/common.sh"
LAB_APPEND="us.run=dirtier,counter us.dirty=2000 us.dirty_mb=32 us.dirty_same=50"
LAB_EPOCH_MS=auto
. "$top_srcdir/tests/lib/lab.sh"
trap lab_down EXIT

standby_committed_is() { [ "$(lab_field hB committed)" = "$1" ]; }

lab_up || fail "cannot build the lab"
lab_start hB standby
lab_wait 30 lab_answers hB || fail "standby did not start"
lab_start hA primary
lab_wait 180 grep -s -a -q 'us-dirtier' "$LAB_DIR/hA/$LAB_VM.serial" ||
	fail "$(lab_guest_failed hA 180 "come up" "the dirtier never ran")"
for round in 1 2; do
	start=$(lab_field hA acked)
	lab_wait 60 lab_acked_at_least $(( start + 20 )) || fail "epochs stalled"
	epoch=$(lab_ctl hA pause --json | grep -o '"epoch":[0-9]*' | cut -d: -f2)
	[ -n "$epoch" ] || fail "pause failed"
	lab_wait 10 standby_committed_is "$epoch" || fail "standby never committed epoch $epoch"
	cmp "$(lab_shm hA)/understudy-$LAB_VM.ram" "$(lab_shm hB)/understudy-$LAB_VM.replica" ||
		fail "round $round: replica differs from the primary's RAM at epoch $epoch"
	note "round $round: replica identical to primary RAM at epoch $epoch"
	lab_ctl hA resume >/dev/null || fail "resume failed"
done
[ "$(lab_field hA epoch_auto)" = true ] || fail "status does not say epoch_ms = auto"
ms=$(lab_field hA epoch_ms) pm=$(lab_field hA paused_permille)
[ "${ms:-0}" -ge 10 ] && [ "$ms" -le 500 ] || fail "epoch_ms in force ($ms) outside 10..500"
[ "${pm:-0}" -gt 0 ] || fail "no paused share in the status ($pm)"
note "epoch_ms = auto: $ms ms in force, the guest paused $((pm / 10)).$((pm % 10)) % of the time"
skipped=$(lab_field hA unchanged_pages) sent=$(lab_field hA ram_sent_bytes)
[ "${skipped:-0}" -gt 0 ] || fail "no dirty page was skipped as unchanged ($skipped)"
note "unchanged pages not sent: $skipped ($((skipped * 4)) KiB; $((sent >> 20)) MiB of pages sent)"
[ "$(lab_field hA state)" = protected ] || fail "primary not protected after resume"
echo "PASS: replica byte-for-byte equal to primary RAM at two committed epochs"
