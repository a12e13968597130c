# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# The soft-RoCE guest (sourced by tests/integration/rdma_rxe.sh and
# bench/transport.sh): rxe_setup checks what the guest needs and builds its
# initramfs (Debian's kernel, the RDMA modules, tests/integration/
# rdma_rxe_init.sh as /init); rxe_run boots it under TCG with the host's
# root read-only over virtio-9p, where /init creates rxe0 on eth0
# (10.0.2.15) and runs one command in a chroot into the host's root. The
# guest prints "us-rxe: result rc=N" and powers off; rxe_run leaves its
# console in RXE_LOG and N in RXE_RESULT. The caller sets top_srcdir and
# top_builddir. The EXIT trap set here kills QEMU and removes the
# temporary directory $tmp; fail prints the guest's last console lines.
# shellcheck disable=SC2154 # top_srcdir and top_builddir come from the caller
RXE_MODULES=(9p 9pnet_virtio virtio_net virtio_pci rdma_rxe rdma_ucm ib_uverbs crc32_generic)
RXE_LOG='' RXE_RESULT=''
qpid='' tmp=''

rxe_cleanup() {
	if [ -n "$qpid" ]; then
		kill "$qpid" 2>/dev/null || true
		wait "$qpid" 2>/dev/null || true
	fi
	[ -z "$tmp" ] || rm -rf "$tmp"
}
trap rxe_cleanup EXIT
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

# rxe_setup: check the host, build the initramfs; exits 77 when the guest
# kernel cannot be obtained.
rxe_setup() {
	command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 not found: install the Debian package qemu-system-x86"
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
		-i "$top_srcdir/tests/integration/rdma_rxe_init.sh" "${RXE_MODULES[@]}" > "$tmp/mkinitramfs.log" 2>&1 ||
		fail "building the soft-RoCE initramfs failed: $(tail -n 3 "$tmp/mkinitramfs.log")"
}

# rxe_run CMD ARGS MEM DEADLINE: run CMD (a host path) with ARGS (commas for
# spaces) in a guest of MEM memory, failing after DEADLINE seconds.
rxe_run() {
	local kernel=$US_GUEST_KERNEL_DIR/vmlinux start
	[ -f "$kernel" ] || kernel=$US_GUEST_KERNEL_DIR/vmlinuz
	start=$(date +%s)
	qemu-system-x86_64 -machine q35 -m "$3" -smp "${RXE_SMP:-1}" -accel tcg -nodefaults -vga none -display none \
		-no-user-config -no-reboot \
		-kernel "$kernel" -initrd "$tmp/initrd.img" \
		-append "console=ttyS0 panic=-1 us.cmd=$1 us.args=$2" \
		-serial "file:$tmp/serial.log" \
		-netdev user,id=n0 -device virtio-net-pci,netdev=n0,romfile= \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		2> "$tmp/qemu.err" &
	qpid=$!
	while kill -0 "$qpid" 2>/dev/null; do
		[ $(( $(date +%s) - start )) -lt "$4" ] || fail "the guest did not finish within ${4}s"
		sleep 1
	done
	wait "$qpid" || true
	qpid=''
	RXE_LOG=$(tr -d '\r' < "$tmp/serial.log")
	RXE_RESULT=$(echo "$RXE_LOG" | sed -n 's/^us-rxe: result rc=\([0-9]*\)$/\1/p' | tail -n 1)
	[ -n "$RXE_RESULT" ] || fail "the guest ended without a result line"
}
