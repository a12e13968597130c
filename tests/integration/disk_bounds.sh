#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The disk write log is bounded: with long epochs (5 s) and a small
# disk_log_max (4M), a guest writing 48 MiB sequentially (the ddbench
# workload: busybox dd, O_DIRECT, then fsync) passes half the cap long
# before the epoch timer, and the primary checkpoints early instead of
# holding more (once the guest has run four times its last pause, else at
# three quarters of the cap). The bytes the log holds stay bounded (sampled from status:
# under twice the cap, the high-water mark plus what one checkpoint drains),
# the guest's dd completes, and at a paused committed epoch the replica
# image equals the primary's. The early checkpoints are counted in status
# and logged once per 10 s, not each. The flushes QMP stop makes at the
# checkpoints are paid outside the pause (status: flushes_deferred).
set -u
. "$(dirname "$0")/../lib/common.sh"
LAB_NIC=1
LAB_APPEND="us.run=ledger,ddbench us.ddbench_mb=48 us.ddbench_seek=8 us.disk=/dev/vda"
LAB_DISK=64M
LAB_EPOCH_MS=5000
LAB_DISK_LOG_MAX=4M	# 5 s epochs against the lab's 2 s peer_timeout_ms: keepalives
. "$top_srcdir/tests/lib/lab.sh"
trap lab_down EXIT
lab_up || fail "cannot build the lab"
log=$LAB_DIR/client.log
serial=$LAB_DIR/hA/$LAB_VM.serial

lab_start hB standby
standby_up() { [ -n "$(lab_field hB state)" ]; }
lab_wait 60 standby_up || fail "standby did not start"
lab_start hA primary
listening() { grep -a -q '^us-ddbench: listening' "$serial" 2>/dev/null; }
lab_wait 180 listening || fail "$(lab_guest_failed hA 180 "start ddbench")"
lab_wait 120 lab_acked_at_least 1 || fail "the pair never got protected"

held_now() {
	local j
	j=$(lab_ctl hA status --json)
	echo $(( $(echo "$j" | grep -o '"log_held_bytes":[0-9]*' | cut -d: -f2) + \
		$(echo "$j" | grep -o '"log_open_bytes":[0-9]*' | cut -d: -f2) ))
}
dd_done() { grep -a -q '^us-ddbench mib=' "$serial"; }
lab_wait 60 ip netns exec "$(lab_ns hC)" bash -c "exec 3<>/dev/tcp/$LAB_GUEST_IP/7778" 2>/dev/null ||
	fail "cannot reach the guest's ddbench"
cap=$((4 << 20)) max=0
for i in $(seq 600); do
	h=$(held_now)
	[ "$h" -gt "$max" ] && max=$h
	dd_done && break
	sleep 0.1
done
dd_done || fail "the guest's dd did not finish in 60 s: $(tail -3 "$serial")"
early=$(lab_ctl hA status --json | grep -o '"early_checkpoints":[0-9]*' | cut -d: -f2)
[ "${early:-0}" -ge 3 ] || fail "only ${early:-no} early checkpoints for 48 MiB with 5 s epochs and a 4M log"
# logged, but not once per checkpoint (at most every 10 s)
logged=$(grep -c "of disk_log_max): checkpoint now" "$LAB_DIR/hA.log")
[ "$logged" -ge 1 ] && [ "$logged" -lt "$early" ] ||
	fail "$logged log lines for $early early checkpoints: one line per 10 s expected"
deferred=$(lab_ctl hA status --json | grep -o '"flushes_deferred":[0-9]*' | cut -d: -f2)
[ "${deferred:-0}" -ge 1 ] || fail "no checkpoint's disk flush was deferred out of its pause"
[ "$max" -lt $((2 * cap)) ] || fail "the disk log held $max bytes, not bounded by its 4M cap"
lab_wait 30 lab_acked_at_least $(( $(lab_field hA epoch) - 1 )) || fail "epochs stalled"
lab_ctl hA pause >/dev/null || fail "pause failed"
cmp "$(lab_disk hA)" "$(lab_disk hB)" || fail "replica image differs at the paused epoch"
lab_ctl hA resume >/dev/null || fail "resume failed"
note "$early early checkpoints, $deferred flushes paid outside the pause; the log held at most $((max >> 10)) KiB (cap 4096 KiB); $(grep -a -o 'us-ddbench mib=.*' "$serial" | tail -1); replica exact"
grep -q "stream lost\|TAKEOVER" "$LAB_DIR/hB.log" &&
	fail "the standby took 5 s epochs for a lost stream: $(grep -m1 'stream lost\|TAKEOVER' "$LAB_DIR/hB.log")"
echo "PASS: the disk write log stays bounded by checkpointing early"
