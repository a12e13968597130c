#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Dirty tracking against a real, stock QEMU (TCG, SeaBIOS only, no guest
# kernel): start it paused with its RAM in a shared /dev/shm file, let
# tests/tools/dirty_qemu_probe attach, scan and talk QMP, then check QEMU is
# still alive. QEMU and every file are removed on any exit.
set -u

: "${top_builddir:=.}"
QEMU=${QEMU:-qemu-system-x86_64}
probe=$top_builddir/tests/tools/dirty_qemu_probe

if ! command -v "$QEMU" >/dev/null 2>&1; then
	echo "SKIP: $QEMU not found (apt-get install qemu-system-x86)"
	exit 77
fi

ram=/dev/shm/us-dirty-test-$$
dir=$(mktemp -d "${TMPDIR:-/tmp}/us-dirty-qemu.XXXXXX") || exit 1
sock=$dir/qmp.sock
qpid=

cleanup() {
	if [ -n "$qpid" ]; then
		kill -9 "$qpid" 2>/dev/null
		wait "$qpid" 2>/dev/null
	fi
	rm -f "$ram"
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

"$QEMU" -S -accel tcg -machine q35,memory-backend=ram0 \
	-object memory-backend-file,id=ram0,size=128M,mem-path="$ram",share=on \
	-m 128M -nodefaults -vga none -display none \
	-qmp unix:"$sock",server=on,wait=off 2>"$dir/qemu.err" &
qpid=$!

tries=0
while [ ! -S "$sock" ]; do
	tries=$((tries + 1))
	if [ "$tries" -gt 200 ] || ! kill -0 "$qpid" 2>/dev/null; then
		echo "FAIL: QEMU did not open $sock"
		cat "$dir/qemu.err"
		exit 1
	fi
	sleep 0.1
done

"$probe" "$qpid" "$ram" "$sock"
rc=$?
if [ "$rc" -eq 0 ] && ! kill -0 "$qpid" 2>/dev/null; then
	echo "FAIL: QEMU exited after tracking"
	rc=1
fi
[ "$rc" -eq 0 ] || cat "$dir/qemu.err"
exit "$rc"
