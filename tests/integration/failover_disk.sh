#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The primary host dies while the guest writes to its replicated disk: real
# QEMU (TCG), the daemons' NBD servers as the guest's virtio disk (a sparse
# 64 MiB raw image per host, LAB_DISK), a real corosync on each host and the
# lab's fence agent, as failover_tcp.sh.
#  - Ledger rounds (ROUNDS, 5): every round is a fresh protected pair on
#    fresh blank images with the guest's `ledger` (one 4 KiB O_DIRECT record
#    + fdatasync per request, answered with its number only then) and a
#    client on hC sending requests on one TCP connection as fast as replies
#    come. All of hA is SIGKILLed at a random moment. Asserted: hB logged
#    FENCED node hA and then TAKEOVER; the replies are exactly 1, 2, 3, ...
#    across the kill on the same connection and go on after it; then, with
#    hB's daemon stopped cleanly (SIGTERM: its QEMU stops, the image stays),
#    ledgercheck finds on hB's image records 1..N intact, in order, nothing
#    torn or missing after them, N the client's last reply, and at most one
#    record more (the request the client had sent when it was stopped): every
#    reply the client saw is on the surviving disk, and no write the guest
#    did not make is.
#  - An ext4 round: a mkfs.ext4 image on both hosts, the guest's `fswriter`
#    (files written, fsync'd, renamed into place, directory fsync'd, then
#    announced on the console). hA is SIGKILLed at a random moment while it
#    writes; after the takeover the guest on hB must announce more files,
#    then hB's daemon is stopped and hB's image must pass e2fsck -fn once
#    its journal is replayed (on a copy, as a mount would) and hold, whole,
#    every file hB's console announced (written on hA before the kill or on
#    hB after it).
# Everything (images included) is in $LAB_DIR, removed by lab_down on exit.
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$top_srcdir/tests/lib/fswriter.sh"
LAB_NIC=1
LAB_APPEND="us.run=ledger us.disk=/dev/vda"
LAB_COROSYNC=1
LAB_PEER_TIMEOUT_MS=5000
LAB_DISK=64M
. "$top_srcdir/tests/lib/lab.sh"
LEDGERCHECK=$top_builddir/tests/tools/ledgercheck
ROUNDS=${ROUNDS:-5}
EXT4=${EXT4:-1} # 0: the ledger rounds only
PATH=$PATH:/usr/sbin:/sbin
trap lab_down EXIT
[ -x "$top_builddir/tests/tools/reqclient" ] || fail "reqclient not built"
[ -x "$LEDGERCHECK" ] || fail "$LEDGERCHECK not built"
for t in mkfs.ext4 e2fsck debugfs dumpe2fs; do
	command -v $t >/dev/null || fail "$t not found: install the Debian package e2fsprogs"
done

# fresh_images: no disk image on hA or hB: lab_start makes blank ones.
fresh_images() { rm -f "$(lab_disk hA)" "$(lab_disk hB)"; }

# took_over_after_fence ROUND: hB logged FENCED node hA, then TAKEOVER.
took_over_after_fence() {
	local log=$LAB_DIR/hB.log fenced take
	fenced=$(lab_line_no "$log" 'FENCED node hA')
	take=$(lab_line_no "$log" 'TAKEOVER: ')
	[ -n "$fenced" ] || fail "round $1: hB never logged FENCED node hA"
	[ -n "$take" ] || fail "round $1: no TAKEOVER in hB's log"
	[ "$take" -gt "$fenced" ] || fail "round $1: TAKEOVER (line $take) before FENCED (line $fenced)"
}

# stop_daemon H: SIGTERM host H's daemon (it stops its QEMU, the image
# stays) and wait for it to exit; corosync runs on. A daemon that ignores
# SIGTERM is killed with its host after STOP_GRACE_S seconds instead (when
# this test was written every daemon that had started a QEMU ignored it:
# the temporary libqb loop of replicator/qemu.c's wait_main_loop, once
# destroyed, closes libqb's process-wide signal pipe): SIGKILL ends the
# processes, not the host's page cache, so every write the daemon made to
# the image is still there, as after a crash of the daemon. The round's
# note says which way it went.
STOP_GRACE_S=${STOP_GRACE_S:-5}
stop_daemon() {
	local pid
	pid=$(lab_daemon_pid "$1")
	kill -TERM "$pid" 2>/dev/null
	if lab_wait "$STOP_GRACE_S" daemon_gone "$pid"; then
		STOPPED="stopped by SIGTERM"
	else
		lab_kill_host "$1"
		STOPPED="ignored SIGTERM for $STOP_GRACE_S s: SIGKILLed with its host"
	fi
}
daemon_gone() { ! kill -0 "$1" 2>/dev/null; }

ledger_round() {
	local r=$1 log=$LAB_DIR/client-$1.log before last out kill_at
	fresh_images
	lab_protected_pair "$log" || fail "round $r: no protected pair"
	kill_at=$(rand_ms 300 3000)
	sleep_ms "$kill_at"
	lab_kill_host hA
	before=$(lab_replies "$log")
	lab_wait 90 lab_replies_at_least "$log" $(( before + 10 )) ||
		fail "round $r: no replies after the takeover: $(cat "$log.err")"
	kill -TERM "$LAB_CLIENT_PID"
	wait "$LAB_CLIENT_PID" || fail "round $r: client exit $?: $(cat "$log.err")"
	lab_replies_in_order "$log" ||
		fail "round $r: replies are not 1, 2, 3, ...: $(awk '{print $2}' "$log" | tr '\n' ' ' | cut -c1-300)"
	took_over_after_fence "$r"
	sleep 1 # the request the client had sent is answered (on disk) by now
	stop_daemon hB
	last=$(tail -n 1 "$log" | awk '{ print $2 }')
	out=$("$LEDGERCHECK" "$(lab_disk hB)" --min "$last" --max $(( last + 1 )) 2>&1) ||
		fail "round $r: hB's image after the takeover, the client's last reply $last: $out"
	note "round $r: killed hA $kill_at ms in, $before replies before, $last in all, one connection;" \
	     "$(grep -a -o 'guest running [0-9]* ms' "$LAB_DIR/hB.log"); hB's daemon $STOPPED;" \
	     "its image: $out"
	lab_stop_host hB
}

# --- ext4 ---------------------------------------------------------------------

# fs_last H: the highest N host H's guest console announced as written.
fs_last() {
	tr -d '\r' < "$LAB_DIR/$1/$LAB_VM.serial" 2>/dev/null |
		sed -n 's/^us-fswriter \([0-9]*\)$/\1/p' | tail -n 1
}
fs_at_least() { local n; n=$(fs_last "$1"); [ -n "$n" ] && [ "$n" -ge "$2" ]; }


ext4_round() {
	local img=$LAB_DIR/ext4.img fsck=$LAB_DIR/fsck.out at_kill first last kill_at replay
	LAB_APPEND="us.run=fswriter us.disk=/dev/vda"
	fresh_images
	truncate -s "$LAB_DISK" "$img" && mkfs.ext4 -q -F "$img" || fail "ext4: mkfs.ext4 failed"
	# hB's copy is overwritten by the initial sync anyway: same size is enough
	cp --sparse=always "$img" "$(lab_disk hA)" && cp --sparse=always "$img" "$(lab_disk hB)" ||
		fail "ext4: cannot copy the image to the hosts"
	lab_start hB standby
	lab_wait 30 lab_answers hB || fail "ext4: standby did not start"
	lab_start hA primary
	lab_wait 180 fs_at_least hA 5 || fail "ext4: $(lab_guest_failed hA 180 "write 5 files")"
	lab_wait 30 lab_member hA && lab_wait 30 lab_member hB ||
		fail "ext4: the daemons never saw each other in corosync"
	[ "$(lab_field hA state)" = protected ] || fail "ext4: primary not protected: $(lab_field hA state)"
	kill_at=$(rand_ms 300 3000)
	sleep_ms "$kill_at"
	lab_kill_host hA
	at_kill=$(fs_last hA)
	lab_wait 90 grep -a -q 'TAKEOVER: ' "$LAB_DIR/hB.log" || fail "ext4: no takeover on hB"
	took_over_after_fence ext4
	# the guest goes on on hB: files announced there, past what hA announced
	lab_wait 60 fs_at_least hB $(( at_kill + 10 )) ||
		fail "ext4: the guest on hB did not go on writing: $(lab_console_tail hB)"
	stop_daemon hB
	last=$(fs_last hB)
	first=$(tr -d '\r' < "$LAB_DIR/hB/$LAB_VM.serial" | sed -n 's/^us-fswriter \([0-9]*\)$/\1/p' | head -n 1)
	# The image is what a crash leaves (QEMU stopped under a mounted ext4):
	# ext4 writes metadata to its journal first and to its home blocks only
	# later (checkpoint), so until the journal is replayed the blocks in
	# place may be stale (bitmaps, group descriptors, an inode the root
	# directory already names) and e2fsck -n, which never writes and so
	# skips the replay, reports exactly that. Every mount replays the journal
	# first: do that on a copy (hB's image stays as the takeover left it),
	# then the file system must be clean. With no journal left to replay
	# (needs_recovery unset) the image itself must be clean.
	if dumpe2fs -h "$(lab_disk hB)" 2>/dev/null | grep -q '^Filesystem features:.*needs_recovery'; then
		replay="replayed the journal on a copy, then"
	else
		e2fsck -fn "$(lab_disk hB)" > "$fsck" 2>&1 ||
			fail "ext4: e2fsck -fn on hB's image (no journal to replay): $(cat "$fsck")"
		replay="no journal to replay;"
	fi
	cp --sparse=always "$(lab_disk hB)" "$LAB_DIR/replayed.img"
	e2fsck -E journal_only -p "$LAB_DIR/replayed.img" > "$fsck" 2>&1 ||
		fail "ext4: replaying the journal of hB's image failed: $(cat "$fsck")"
	e2fsck -fn "$LAB_DIR/replayed.img" > "$fsck" 2>&1 ||
		fail "ext4: e2fsck -fn on hB's image, journal replayed: $(cat "$fsck")"
	# the files as the guest would read them after a mount
	fswriter_check_files "$LAB_DIR/replayed.img" "$last" "$LAB_DIR" "ext4: "
	note "ext4: killed hA $kill_at ms in, file $at_kill announced on hA then; hB's guest went on" \
	     "with file $first (so 1..$(( first - 1 )) came through the replication), up to $last;" \
	     "hB's daemon $STOPPED;" \
	     "hB's image: $replay e2fsck -fn clean; files" \
	     "$(( last > 127 ? last - 126 : 1 ))..$last whole"
	lab_stop_host hB
}

lab_up || fail "cannot build the lab"
for r in $(seq "$ROUNDS"); do ledger_round "$r"; done
[ "$EXT4" = 0 ] || ext4_round
echo "PASS: $ROUNDS takeovers with the ledger: every reply the client saw was on hB's disk," \
     "in order, none torn$([ "$EXT4" = 0 ] || echo "; ext4 clean after a takeover mid-write")"
