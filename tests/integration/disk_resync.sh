#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Disk resync at the initial sync: the standby starts on an image that
# already holds most of the primary's (a copy taken earlier; the primary's
# image has changed since in a few places). The two compare SHA-256 block
# hashes and only the blocks that differ travel: the disk bytes the primary
# counts and shows in status are under 10 % of the image, and at a paused
# committed epoch the replica image is byte-equal to the primary's. A second
# pair on a blank replica sends every block that is not zero, for contrast.
set -u
. "$(dirname "$0")/../lib/common.sh"
LAB_DISK=64M
. "$top_srcdir/tests/lib/lab.sh"
trap lab_down EXIT
lab_up || fail "cannot build the lab"

status_num() { lab_ctl hA status --json | grep -o "\"$1\":[0-9]*" | cut -d: -f2; }
standby_up() { [ -n "$(lab_field hB state)" ]; }

# run_pair: start the standby then the primary on the images in place, wait
# for epochs, pause, compare, print "sync_bytes skipped_bytes".
run_pair() {
	local sent skipped
	lab_start hB standby
	lab_wait 60 standby_up || fail "standby did not start"
	lab_start hA primary
	lab_wait 180 lab_acked_at_least 3 || fail "the pair never got protected"
	sent=$(status_num sync_bytes)
	skipped=$(status_num sync_skipped_bytes)
	lab_ctl hA pause >/dev/null || fail "pause failed"
	cmp "$(lab_disk hA)" "$(lab_disk hB)" || fail "replica image differs from the primary's"
	lab_ctl hA resume >/dev/null || fail "resume failed"
	lab_stop_host hA
	lab_stop_host hB
	echo "$sent $skipped"
}

size=$((64 << 20))
mkdir -p "$LAB_DIR/hA" "$LAB_DIR/hB"
dd if=/dev/urandom of="$(lab_disk hA)" bs=1M count=48 status=none
truncate -s 64M "$(lab_disk hA)"
cp "$(lab_disk hA)" "$(lab_disk hB)"
# the primary's guest "wrote since": 40 scattered 4 KiB writes and 2 MiB in one run
for i in $(seq 40); do
	dd if=/dev/urandom of="$(lab_disk hA)" bs=4K count=1 seek=$((RANDOM * 4 % 16384)) \
		conv=notrunc status=none
done
dd if=/dev/urandom of="$(lab_disk hA)" bs=1M count=2 seek=50 conv=notrunc status=none

read -r sent skipped <<< "$(run_pair)" || exit 1
[ -n "$sent" ] && [ -n "$skipped" ] || fail "status shows no disk sync counters"
[ "$sent" -lt $((size / 10)) ] || fail "resync sent $sent bytes, not under 10 % of $size"
[ "$skipped" -gt $((size / 2)) ] || fail "resync skipped only $skipped bytes"
note "resync: $((sent >> 10)) KiB sent of a $((size >> 20)) MiB image ($((sent * 100 / size)) %), $((skipped >> 20)) MiB already on the standby; replica exact"

rm -f "$(lab_disk hB)"
truncate -s 64M "$(lab_disk hB)"
read -r full _ <<< "$(run_pair)" || exit 1
[ "$full" -ge $((48 << 20)) ] || fail "a blank replica got only $full bytes"
note "blank replica: $((full >> 20)) MiB sent (every block that is not zero)"
echo "PASS: disk resync sends only the blocks that differ"
