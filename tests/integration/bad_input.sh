#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Bad input and faults at start-up, with the real daemon: a missing QEMU, a
# wrong config, a full /dev/shm (a small tmpfs), a standby of another
# protocol version (tests/tools/fakepeer), no standby at all, and a second
# daemon for a VM that is already protected on this host. Disks: a missing
# image, a qcow2 image, an image in use by another process, a standby image
# of another size (refused in the HELLO), and a full disk under the replica. Each must exit non-zero with a
# message naming the cause and leave nothing behind: no QEMU, no RAM file, no
# socket. (A kernel without async userfaultfd write-protect cannot be had
# here: tests/unit/test_dirty.c covers that message with a fake.)
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$top_srcdir/tests/lib/lab.sh"
SMALL=$LAB_DIR/smallshm
cleanup() { umount "$SMALL" 2>/dev/null; lab_down; }
trap cleanup EXIT
lab_up || fail "cannot build the lab"

# expect_fail NAME PATTERN CMD...: CMD exits non-zero, says PATTERN, leaves nothing.
expect_fail() {
	local name=$1 pattern=$2 out=$LAB_DIR/out.txt; shift 2
	if "$@" > "$out" 2>&1; then fail "$name: succeeded"; fi
	grep -q -- "$pattern" "$out" || fail "$name: no '$pattern' in: $(tail -5 "$out")"
	[ -z "$(ls "$(lab_shm hA)/understudy-$LAB_VM.ram" "$SMALL"/understudy-* 2>/dev/null)" ] ||
		fail "$name: left a RAM file behind"
	pgrep -f "qemu-system.*understudy-$LAB_VM.ram" >/dev/null && fail "$name: left QEMU running"
	[ -z "$(ls "$LAB_DIR"/hA/*.qmp "$LAB_DIR"/hA/*.sock 2>/dev/null)" ] || fail "$name: left sockets"
	note "$name: refused with '$(grep -m1 -- "$pattern" "$out" | cut -c1-150)'"
}

conf=$LAB_DIR/bad.conf
lab_config hA "$conf" "[replication]" "connect_timeout_ms = 3000"
sed -i 's/^\[vm\]$/[vm]\nqemu = \/nonexistent\/qemu-system-x86_64/' "$conf"
expect_fail "missing QEMU" "qemu-system-x86" lab_exec hA "$US_BIN" primary -c "$conf"

lab_config hA "$conf" "[vm]" "colour = red"
expect_fail "unknown key" "unknown key 'colour'" lab_exec hA "$US_BIN" primary -c "$conf"
lab_config hA "$conf" "[replication]" "epoch_ms = often"
expect_fail "bad value" "epoch_ms = 'often' is not valid" lab_exec hA "$US_BIN" primary -c "$conf"
expect_fail "missing config" "cannot open config file" lab_exec hA "$US_BIN" primary -c /nonexistent.conf

mkdir -p "$SMALL" && mount -t tmpfs -o size=16M tmpfs "$SMALL" || fail "cannot mount a small tmpfs"
lab_config hA "$conf" "[daemon]" "shm_dir = $SMALL"
expect_fail "full /dev/shm" "the guest's RAM file needs" lab_exec hA "$US_BIN" primary -c "$conf"
umount "$SMALL"

lab_config hA "$conf" "[heartbeat]" "fence_command = /usr/local/sbin/$(printf 'f%.0s' $(seq 230))"
expect_fail "a line too long for the INI parser" "line longer than 199 characters" lab_exec hA "$US_BIN" primary -c "$conf"

lab_config hA "$conf" "[replication]" "connect_timeout_ms = 2000"
expect_fail "no standby" "no standby answered" lab_exec hA "$US_BIN" primary -c "$conf"

lab_exec hB "$top_builddir/tests/tools/fakepeer" "$(lab_ip hB):7300" version > "$LAB_DIR/fake.log" 2>&1 &
sleep 0.5
expect_fail "standby of another version" "protocol version" lab_exec hA "$US_BIN" primary -c "$conf"
wait

# ---- disks ----
img=$LAB_DIR/hA/disk.img
truncate -s 64M "$img"
lab_config hA "$conf" "[replication]" "connect_timeout_ms = 2000" "[vm]" "disk = $LAB_DIR/none.img"
expect_fail "missing disk image" "disk image $LAB_DIR/none.img does not exist" \
	lab_exec hA "$US_BIN" primary -c "$conf"
qemu-img create -q -f qcow2 "$LAB_DIR/q.qcow2" 64M
lab_config hA "$conf" "[replication]" "connect_timeout_ms = 2000" "[vm]" "disk = $LAB_DIR/q.qcow2"
expect_fail "qcow2 image" "qcow2 is not supported: convert it" lab_exec hA "$US_BIN" primary -c "$conf"
"$top_builddir/tests/tools/nbdserve" "$LAB_DIR/other.sock" "$img" > /dev/null 2>&1 &
holder=$!
lab_wait 10 test -S "$LAB_DIR/other.sock" || fail "nbdserve did not start"
lab_config hA "$conf" "[replication]" "connect_timeout_ms = 2000" "[vm]" "disk = $img"
expect_fail "image in use" "disk image $img is in use by" lab_exec hA "$US_BIN" primary -c "$conf"
kill "$holder"; wait "$holder" 2>/dev/null

truncate -s 32M "$LAB_DIR/hB/disk.img"
lab_config hB "$LAB_DIR/hB.conf" "[vm]" "disk = $LAB_DIR/hB/disk.img"
ip netns exec "$(lab_ns hB)" "$US_BIN" standby -c "$LAB_DIR/hB.conf" > "$LAB_DIR/hB.log" 2>&1 &
sb=$!
standby_up() { [ -n "$(lab_field hB state)" ]; }
lab_wait 60 standby_up || fail "standby with a disk did not start"
expect_fail "standby image of another size" \
	"disk sizes differ: primary 67108864 bytes, standby 33554432" \
	lab_exec hA "$US_BIN" primary -c "$conf"
kill "$sb"; wait "$sb" 2>/dev/null

# A full disk under the replica: the standby refuses the initial sync, commits
# nothing (never a replica it could not write), says why and exits non-zero
# leaving nothing behind; the primary loses its standby.
mkdir -p "$SMALL" && mount -t tmpfs -o size=8M tmpfs "$SMALL" || fail "cannot mount a small tmpfs"
truncate -s 64M "$SMALL/replica.img"
dd if=/dev/urandom of="$img" bs=1M count=32 conv=notrunc status=none
lab_config hB "$LAB_DIR/hB.conf" "[vm]" "disk = $SMALL/replica.img"
ip netns exec "$(lab_ns hB)" "$US_BIN" standby -c "$LAB_DIR/hB.conf" > "$LAB_DIR/hB.log" 2>&1 &
sb=$!
lab_wait 60 standby_up || fail "standby on a small tmpfs did not start"
ip netns exec "$(lab_ns hA)" "$US_BIN" primary -c "$conf" > "$LAB_DIR/hA.log" 2>&1 &
pr=$!
sb_gone() { ! kill -0 "$sb" 2>/dev/null; }
lab_wait 120 sb_gone || fail "full replica disk: the standby went on: $(tail -3 "$LAB_DIR/hB.log")"
wait "$sb" && fail "full replica disk: the standby exited 0"
grep -q "cannot write the replica image: No space left on device" "$LAB_DIR/hB.log" ||
	fail "full replica disk: the standby did not say why: $(tail -3 "$LAB_DIR/hB.log")"
grep -q "initial sync complete" "$LAB_DIR/hB.log" &&
	fail "full replica disk: the standby committed an epoch"
[ ! -e "$(lab_shm hB)/understudy-$LAB_VM.replica" ] || fail "full replica disk: the standby left its RAM file"
lost() { grep -q "LOST THE STANDBY" "$LAB_DIR/hA.log"; }
lab_wait 30 lost || fail "full replica disk: the primary did not notice"
note "full disk under the replica: the standby stopped with '$(grep -m1 -o 'cannot write the replica image: [^;]*' "$LAB_DIR/hB.log")'"
kill "$pr"; wait "$pr" 2>/dev/null
umount "$SMALL"
rm -f "$LAB_DIR/hB/disk.img"

lab_start hB standby
lab_wait 30 lab_answers hB || fail "standby did not start"
lab_start hA primary
lab_wait 120 lab_acked_at_least 0 || fail "first primary never protected"
lab_config hA "$conf"
if lab_exec hA "$US_BIN" primary -c "$conf" > "$LAB_DIR/out.txt" 2>&1; then fail "second primary started"; fi
grep -q "in use by another understudy daemon" "$LAB_DIR/out.txt" ||
	fail "second primary: $(tail -3 "$LAB_DIR/out.txt")"
[ -e "$(lab_shm hA)/understudy-$LAB_VM.ram" ] || fail "second primary removed the first one's RAM file"
[ "$(lab_field hA state)" = protected ] || fail "the first primary was disturbed"
[ "$(lab_field hB rejected)" = 0 ] || fail "standby counted rejected messages"
echo "PASS: every bad input refused with its cause, nothing left behind"
