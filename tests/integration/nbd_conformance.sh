#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The disk's NBD server (disk/nbd.c, run by tests/tools/nbdserve) against
# real NBD clients: libnbd's nbdsh (the negotiated flags and block sizes,
# read, write with and without FUA, flush, trim, write-zeroes with and
# without NO_HOLE, and requests past the end with the errors the NBD spec
# names), QEMU's own NBD client through qemu-io and qemu-img (the client
# the VM's disk uses: writes with and without FUA, pattern-checked reads,
# flush, discard, write -z, both the URI and the -blockdev style options, a
# wrong export name refused with the server's reason). After each client
# the image file on disk must equal, byte for byte, what the client did to
# a copy of the original, and the server must have reported exactly those
# changes. The image lock holds both ways: QEMU cannot open an image being
# served, and the server refuses an image QEMU holds, naming it.
set -u
. "$(dirname "$0")/../lib/common.sh"

NBDSERVE=$top_builddir/tests/tools/nbdserve
[ -x "$NBDSERVE" ] || fail "$NBDSERVE not built: run make check (it builds the test tools)"
command -v qemu-io >/dev/null || fail "qemu-io missing: apt-get install qemu-utils"
command -v nbdsh >/dev/null || fail "nbdsh missing: apt-get install python3-libnbd (scripts/deps.sh)"

LAB_DIR=$(mktemp -d /tmp/us-nbd.XXXXXX) # fail() shows the end of $LAB_DIR/*.log
SOCK=$LAB_DIR/nbd.sock
IMG=$LAB_DIR/disk.raw
EXP=$LAB_DIR/expected.raw
URI="nbd+unix:///disk0?socket=$SOCK"
MIB=1048576
srv=
holder=
cleanup() {
	exec 9>&-
	[ -n "$holder" ] && kill "$holder" 2>/dev/null && wait "$holder" 2>/dev/null
	[ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
	rm -rf "$LAB_DIR"
}
trap cleanup EXIT

# nbdsh runs python3 from PATH: the system's, which has the nbd module.
nbdsh_run() { PATH=/usr/bin:/bin:$PATH timeout 60 nbdsh -u "$URI" -c "$1"; }

start_server() {
	local i
	"$NBDSERVE" "$SOCK" "$IMG" disk0 > "$LAB_DIR/changes" 2> "$LAB_DIR/server.log" &
	srv=$!
	for i in $(seq 50); do
		[ -S "$SOCK" ] && return 0
		kill -0 "$srv" 2>/dev/null || fail "nbdserve exited at start"
		sleep 0.1
	done
	fail "nbdserve never listened on $SOCK"
}

# expect_fill OFF LEN BYTE: in the expected image, LEN bytes at OFF become BYTE.
expect_fill() {
	head -c "$2" /dev/zero | tr '\0' "\\$(printf %03o "$3")" |
		dd of="$EXP" bs=64k seek="$1" oflag=seek_bytes conv=notrunc status=none
}

# check_image WHAT: the served image equals the expected one, byte for byte.
check_image() {
	cmp "$IMG" "$EXP" > "$LAB_DIR/cmp.out" 2>&1 ||
		fail "$1: image differs from what the client did: $(head -3 "$LAB_DIR/cmp.out")"
}

# check_changes WHAT LINES...: the server reported exactly these changes since the last check.
checked=0
check_changes() {
	local what=$1 got want
	shift
	want=$(printf '%s\n' "$@")
	got=$(tail -n +$((checked + 1)) "$LAB_DIR/changes")
	[ "$got" = "$want" ] || fail "$what: server reported [$got], expected [$want]"
	checked=$(wc -l < "$LAB_DIR/changes")
}

head -c $((4 * MIB)) /dev/urandom > "$IMG"
cp "$IMG" "$EXP"
start_server

# --- libnbd ---
nbdsh_run '
assert h.get_size() == 4 * 1048576
assert h.can_flush() and h.can_fua() and h.can_trim() and h.can_zero()
assert not h.can_multi_conn() and not h.is_read_only()
assert not h.get_structured_replies_negotiated()
assert h.get_block_size(nbd.SIZE_MINIMUM) == 1
assert h.get_block_size(nbd.SIZE_PREFERRED) == 4096
assert h.get_block_size(nbd.SIZE_MAXIMUM) == 32 * 1048576
h.pwrite(b"\x5a" * 65536, 1048576)
h.pwrite(b"\xa5" * 4096, 2 * 1048576 + 512, nbd.CMD_FLAG_FUA)
assert h.pread(65536, 1048576) == b"\x5a" * 65536
assert h.pread(4096, 2 * 1048576 + 512) == b"\xa5" * 4096
h.flush()
h.trim(65536, 3 * 1048576, nbd.CMD_FLAG_FUA)
h.zero(8192, 3 * 1048576 + 131072, nbd.CMD_FLAG_NO_HOLE)
h.zero(4096, 0)
assert h.pread(4096, 0) == bytes(4096)
h.set_strict_mode(0)
end = h.get_size()
for what, call, err in (
        ("read", lambda: h.pread(4096, end - 2048), "EINVAL"),
        ("write", lambda: h.pwrite(b"x" * 4096, end - 2048), "ENOSPC"),
        ("write-zeroes", lambda: h.zero(4096, end), "ENOSPC"),
        ("trim", lambda: h.trim(1, end), "EINVAL")):
    try:
        call()
        raise SystemExit("past-the-end " + what + " succeeded")
    except nbd.Error as e:
        assert e.errno == err, what + ": " + str(e)
assert len(h.pread(16, end - 16)) == 16
h.shutdown()
' > "$LAB_DIR/nbdsh.out" 2>&1 || fail "nbdsh: $(tail -5 "$LAB_DIR/nbdsh.out")"
expect_fill $MIB 65536 0x5a
expect_fill $((2 * MIB + 512)) 4096 0xa5
expect_fill $((3 * MIB)) 65536 0
expect_fill $((3 * MIB + 131072)) 8192 0
expect_fill 0 4096 0
check_image "nbdsh"
check_changes "nbdsh" "WRITE $MIB 65536" "WRITE $((2 * MIB + 512)) 4096" \
	"ZEROES $((3 * MIB)) 65536" "ZEROES $((3 * MIB + 131072)) 8192" "ZEROES 0 4096"
grep -q "NBD READ refused (past the end of the export)" "$LAB_DIR/server.log" ||
	fail "nbdsh: the refused read was not logged"
note "nbdsh: flags, block sizes, read, write, FUA, flush, trim, zeroes, past-the-end errors"

# --- QEMU's NBD client ---
timeout 60 qemu-io -f raw "$URI" -c 'write -P 0xab 0 64k' -c 'read -P 0xab 0 64k' -c flush \
	-c 'write -f -P 0xcd 64k 4k' -c 'read -P 0xcd 64k 4k' -c 'discard 0 4k' \
	-c 'write -z 128k 64k' -c 'read -P 0 128k 64k' > "$LAB_DIR/qemu-io.out" 2>&1 ||
	fail "qemu-io: $(tail -5 "$LAB_DIR/qemu-io.out")"
grep -qi "fail" "$LAB_DIR/qemu-io.out" && fail "qemu-io: $(grep -i fail "$LAB_DIR/qemu-io.out")"
expect_fill 0 65536 0xab
expect_fill 65536 4096 0xcd
expect_fill 0 4096 0
expect_fill 131072 65536 0
check_image "qemu-io"
check_changes "qemu-io" "WRITE 0 65536" "WRITE 65536 4096" "ZEROES 0 4096" "ZEROES 131072 65536"
note "qemu-io: write, write -f (FUA), pattern reads, flush, discard, write -z"

# The options the daemon gives QEMU's -blockdev, and qemu-img reading the export.
timeout 60 qemu-io --image-opts "driver=nbd,server.type=unix,server.path=$SOCK,export=disk0" \
	-c 'read -P 0xcd 64k 4k' > "$LAB_DIR/qemu-io.out" 2>&1 ||
	fail "qemu-io --image-opts: $(tail -3 "$LAB_DIR/qemu-io.out")"
timeout 60 qemu-img info "$URI" > "$LAB_DIR/info.out" 2>&1 ||
	fail "qemu-img info: $(tail -3 "$LAB_DIR/info.out")"
grep -q "virtual size: 4 MiB" "$LAB_DIR/info.out" || fail "qemu-img info: $(cat "$LAB_DIR/info.out")"
if timeout 60 qemu-io -f raw "nbd+unix:///nope?socket=$SOCK" -c 'read 0 1' \
	> "$LAB_DIR/qemu-io.out" 2>&1; then
	fail "qemu-io opened an export that does not exist"
fi
grep -q "no export named 'nope'" "$LAB_DIR/qemu-io.out" ||
	fail "wrong export: QEMU did not pass on the server's reason: $(cat "$LAB_DIR/qemu-io.out")"
note "qemu-io --image-opts and qemu-img info open the export; a wrong name is refused with a reason"

# The image lock, both ways.
if timeout 60 qemu-io -f raw "$IMG" -c 'read 0 1' > "$LAB_DIR/qemu-io.out" 2>&1; then
	fail "QEMU opened an image that is being served"
fi
grep -q "lock" "$LAB_DIR/qemu-io.out" || fail "QEMU refused for another reason: $(cat "$LAB_DIR/qemu-io.out")"
check_changes "read-only clients"
check_image "read-only clients"
kill -TERM "$srv"
wait "$srv" || fail "nbdserve did not exit cleanly on SIGTERM"
srv=
[ -S "$SOCK" ] && fail "nbdserve left its socket behind"
grep -q "errors" "$LAB_DIR/server.log" || fail "nbdserve printed no statistics"

# qemu-io holds the image open (and locked) while its command FIFO is open.
mkfifo "$LAB_DIR/cmds"
qemu-io -f raw "$IMG" < "$LAB_DIR/cmds" > /dev/null 2>&1 &
holder=$!
exec 9> "$LAB_DIR/cmds"
for i in $(seq 50); do
	ls -l "/proc/$holder/fd" 2>/dev/null | grep -q "$IMG" && break
	sleep 0.1
done
if timeout 10 "$NBDSERVE" "$SOCK" "$IMG" disk0 > /dev/null 2> "$LAB_DIR/refused.log"; then
	fail "served an image QEMU holds"
fi
grep -q "in use by qemu-io (pid [0-9]*): stop it" "$LAB_DIR/refused.log" ||
	fail "image held by QEMU: $(cat "$LAB_DIR/refused.log")"
note "the image lock: QEMU cannot open a served image, the server names the QEMU holding one"
echo "PASS: nbd conformance"
