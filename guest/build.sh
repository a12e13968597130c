#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the demo guest once and caches it outside the source tree: Debian's
# kernel (fetch-kernel.sh) plus an initramfs (mkinitramfs.sh) of static
# busybox, guest/init, the modules below with their dependencies (virtio_net
# for the NIC; virtio_blk, ext4 and crc32c_generic, which ext4's and jbd2's
# metadata checksums ask the crypto API for, for the disk workloads), and the
# workloads counter, dirtier, service, ledger, fswriter and cpu compiled here
# with gcc -static. The cache holds the kernel (vmlinux), initrd.img and
# guest.env (US_GUEST_KERNEL=..., US_GUEST_INITRD=...,
# US_GUEST_KERNEL_VERSION=...), which is also printed on stdout, so
# `eval "$(guest/build.sh)"` sets the variables. Rebuilds only when the guest
# sources change (guest.stamp holds their hash: a new or edited workload,
# module list or init rebuilds the initramfs by itself).
# Usage: build.sh [--cache DIR] [--force]
set -euo pipefail

die() { echo "guest/build.sh: $*" >&2; exit 1; }

srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${UNDERSTUDY_CACHE:-/var/cache/understudy}/guest
force=0
while [ $# -gt 0 ]; do
	case $1 in
	--cache) [ $# -ge 2 ] || die "--cache needs a directory"; cache=$2; shift 2 ;;
	--force) force=1; shift ;;
	*) die "usage: build.sh [--cache DIR] [--force]" ;;
	esac
done
WORKLOADS="counter dirtier service ledger fswriter cpu"
MODULES="virtio_net virtio_pci virtio_blk ext4 crc32c_generic"

# sources_hash: what the image is made from, hashed.
sources_hash() {
	(cd "$srcdir" && LC_ALL=C sha256sum build.sh fetch-kernel.sh mkinitramfs.sh init ./*.c ./*.h |
		sha256sum | cut -d' ' -f1)
}

# check_tools: every host tool the build needs, with the package to install.
check_tools() {
	command -v gcc >/dev/null || die "gcc not found: install the Debian package gcc"
	[ -f "$(gcc -print-file-name=libc.a)" ] ||
		die "static libc (libc.a) missing: install the Debian package libc6-dev"
	command -v cpio >/dev/null || die "cpio not found: install the Debian package cpio"
	dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' ||
		die "static busybox missing: install the Debian package busybox-static"
}

# workload_sources NAME: the files NAME is linked from, beside workload.c.
workload_sources() {
	case $1 in
	ledger) echo "ledger.c ledger_format.c lineserver.c" ;;
	service) echo "service.c lineserver.c" ;;
	*) echo "$1.c" ;;
	esac
}

# compile_workloads DIR: the static workload binaries into DIR.
compile_workloads() {
	local out=$1 w f srcs
	echo "/* guest workloads need no configure results */" > "$out/config.h"
	for w in $WORKLOADS; do
		srcs=()
		for f in $(workload_sources "$w") workload.c; do
			srcs+=("$srcdir/$f")
		done
		gcc -static -O2 -s -std=gnu11 -Wall -Wextra -D_GNU_SOURCE \
			-I"$out" -I"$srcdir/.." -o "$out/$w" "${srcs[@]}" ||
			die "compiling the $w workload failed"
	done
}

# print_env: the cached result, as shell assignments.
print_env() {
	cat "$cache/guest.env"
}

# up_to_date HASH: true when the cache already holds the image of HASH.
up_to_date() {
	[ "$force" = 0 ] && [ -f "$cache/guest.stamp" ] &&
		[ "$(cat "$cache/guest.stamp")" = "$1" ] &&
		[ -f "$cache/guest.env" ] && [ -f "$cache/initrd.img" ] &&
		{ [ -f "$cache/vmlinux" ] || [ -f "$cache/vmlinuz" ]; }
}

# install_kernel KDIR: a link to the kernel beside the initrd, so a later
# fetch of a newer kernel cannot take it away; sets $kernel to its name.
# vmlinux (ELF, PVH entry) boots seconds faster under TCG than vmlinuz.
install_kernel() {
	kernel=vmlinuz
	[ -f "$1/vmlinux" ] && kernel=vmlinux
	rm -f "$cache/vmlinux" "$cache/vmlinuz"
	ln "$1/$kernel" "$cache/$kernel" 2>/dev/null || cp "$1/$kernel" "$cache/$kernel"
}

# build: kernel, workloads, initramfs, guest.env, stamp last.
build() {
	local hash=$1 kdir tmp extras=() w kernel
	check_tools
	kdir=$("$srcdir/fetch-kernel.sh" "$cache")
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/us-guest-build.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	compile_workloads "$tmp"
	for w in $WORKLOADS; do
		extras+=(-a "$tmp/$w:/bin/$w")
	done
	# shellcheck disable=SC2086 # the module list is split on purpose
	"$srcdir/mkinitramfs.sh" -k "$kdir" -o "$cache/initrd.img" -i "$srcdir/init" \
		"${extras[@]}" $MODULES
	install_kernel "$kdir"
	cat > "$cache/guest.env.tmp" <<-EOF
	US_GUEST_KERNEL=$cache/$kernel
	US_GUEST_INITRD=$cache/initrd.img
	US_GUEST_KERNEL_VERSION=$(cat "$kdir/version")
	US_GUEST_KERNEL_DIR=$kdir
	EOF
	mv "$cache/guest.env.tmp" "$cache/guest.env"
	echo "$hash" > "$cache/guest.stamp"
	rm -rf "$tmp"
	trap - EXIT
}

mkdir -p "$cache" 2>/dev/null && [ -w "$cache" ] ||
	die "cannot write the cache $cache: pass --cache DIR or set UNDERSTUDY_CACHE"
cache=$(cd "$cache" && pwd)
# One build at a time per cache: teammates' tests may start together.
exec 9> "$cache/.lock"
flock 9
hash=$(sources_hash)
if ! up_to_date "$hash"; then
	echo "guest/build.sh: building the guest in $cache" >&2
	build "$hash"
fi
print_env
