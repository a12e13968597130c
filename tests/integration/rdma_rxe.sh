#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The RDMA transport on real verbs: boots a QEMU guest (TCG) with Debian's
# kernel, whose rdma_rxe gives a soft-RoCE device on the guest's NIC, mounts
# the host's root read-only over virtio-9p and runs this build's transport
# conformance suite (tests/unit/transport_suite rdma 10.0.2.15) in a chroot
# into it, primary and standby in the same guest talking to the guest's own
# address (rxe on that kernel is not network-namespace aware). The guest
# prints "us-rxe: result rc=N" and powers off; this script asserts N = 0 and
# that every suite test passed. Skips (77) only when the guest kernel cannot
# be obtained. QEMU and the temporary directory are removed on every exit.
set -euo pipefail

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=$(cd "${top_builddir:-.}" && pwd)
suite=$top_builddir/tests/unit/transport_suite
DEADLINE=${US_TEST_DEADLINE:-600} # seconds for the whole guest run under TCG
MODULES=(9p 9pnet_virtio virtio_net virtio_pci rdma_rxe rdma_ucm ib_uverbs crc32_generic)

qpid='' tmp=''
cleanup() {
	if [ -n "$qpid" ]; then
		kill "$qpid" 2>/dev/null || true
		wait "$qpid" 2>/dev/null || true
	fi
	[ -z "$tmp" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "FAIL: $*" >&2
	if [ -n "$tmp" ] && [ -f "$tmp/serial.log" ]; then
		echo "--- last lines of the serial log:" >&2
		tr -d '\r' < "$tmp/serial.log" | tail -n 40 >&2
	fi
	[ -z "$tmp" ] || [ ! -s "$tmp/qemu.err" ] || { echo "--- qemu:" >&2; cat "$tmp/qemu.err" >&2; }
	exit 1
}

command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 not found: install the Debian package qemu-system-x86"
[ -x "$suite" ] || fail "$suite not built: run make check"
PATH=$PATH:/usr/sbin:/sbin
command -v rdma >/dev/null || fail "the rdma tool is missing: install the Debian package iproute2"
[ -e /etc/libibverbs.d/rxe.driver ] ||
	fail "the soft-RoCE verbs provider (librxe) is missing: install the Debian package ibverbs-providers"
case $top_builddir in
/dev/* | /proc/* | /sys/* | /run/*) fail "build directory $top_builddir is hidden in the guest's chroot: build elsewhere" ;;
esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/us-rdma-rxe.XXXXXX")

# The guest kernel: the demo guest's cache (guest/build.sh) has it unpacked.
if ! "$top_srcdir/guest/build.sh" > "$tmp/guest.env" 2> "$tmp/guest.err"; then
	echo "SKIP: the guest kernel cannot be obtained (guest/build.sh failed):" >&2
	tail -n 5 "$tmp/guest.err" >&2
	exit 77
fi
# shellcheck disable=SC1091
. "$tmp/guest.env"
[ -d "${US_GUEST_KERNEL_DIR:-}" ] || fail "guest/build.sh gave no US_GUEST_KERNEL_DIR"
"$top_srcdir/guest/mkinitramfs.sh" -k "$US_GUEST_KERNEL_DIR" -o "$tmp/initrd.img" \
	-i "$top_srcdir/tests/integration/rdma_rxe_init.sh" "${MODULES[@]}" > "$tmp/mkinitramfs.log" 2>&1 ||
	fail "building the soft-RoCE initramfs failed: $(tail -n 3 "$tmp/mkinitramfs.log")"

kernel=$US_GUEST_KERNEL_DIR/vmlinux
[ -f "$kernel" ] || kernel=$US_GUEST_KERNEL_DIR/vmlinuz
start=$(date +%s)
qemu-system-x86_64 -machine q35 -m 768M -accel tcg -nodefaults -vga none -display none \
	-no-user-config -no-reboot \
	-kernel "$kernel" -initrd "$tmp/initrd.img" \
	-append "console=ttyS0 panic=-1 us.cmd=$suite us.args=rdma,10.0.2.15" \
	-serial "file:$tmp/serial.log" \
	-netdev user,id=n0 -device virtio-net-pci,netdev=n0,romfile= \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	2> "$tmp/qemu.err" &
qpid=$!

while kill -0 "$qpid" 2>/dev/null; do
	[ $(( $(date +%s) - start )) -lt "$DEADLINE" ] || fail "the guest did not finish within ${DEADLINE}s"
	sleep 1
done
wait "$qpid" || true
qpid=''
log=$(tr -d '\r' < "$tmp/serial.log")
result=$(echo "$log" | sed -n 's/^us-rxe: result rc=\([0-9]*\)$/\1/p' | tail -n 1)
[ -n "$result" ] || fail "the guest ended without a result line"
echo "$log" | grep -E '^\[ *(RUN|OK|FAILED|ERROR|PASSED|  LINE) *\]|^us-rxe:|transport conformance|rdma error' || true
[ "$result" = 0 ] || fail "the conformance suite over soft-RoCE failed (rc=$result)"
echo "$log" | grep -q '^\[  PASSED  \] 4 test(s)\.' || fail "the suite did not report 4 passed tests"
echo "PASS: transport conformance suite over soft-RoCE (rxe0 in a TCG guest) in $(( $(date +%s) - start ))s; correctness only, not speed"
