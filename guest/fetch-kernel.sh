#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fetches Debian's stock kernel (the package behind linux-image-amd64) into a
# cache directory without installing it on the host: apt-get download, then
# dpkg-deb -x, then depmod -b (the package ships no modules.dep). Prints the
# unpacked directory, which holds `vmlinuz`, `config`, `version` (the kernel
# release), lib/modules/<release>/ with modules.dep, and `vmlinux`: the
# kernel taken out of its compressed bzImage. QEMU boots that ELF directly
# through its PVH entry point, which under TCG saves the seconds the kernel
# spends decompressing itself. Reused by every guest image (the demo guest,
# the soft-RoCE guest), so it only downloads when the resolved package is not
# unpacked yet, and falls back to a kernel unpacked earlier when apt cannot
# answer. Usage: fetch-kernel.sh CACHEDIR
set -euo pipefail

die() { echo "fetch-kernel: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: fetch-kernel.sh CACHEDIR"
cache=$1
meta=${US_GUEST_KERNEL_PACKAGE:-linux-image-amd64}

PATH=$PATH:/usr/sbin:/sbin
need() {
	command -v "$1" >/dev/null || die "$1 not found: install the Debian package $2 (apt-get install $2)"
}
need apt-cache apt
need dpkg-deb dpkg
need depmod kmod
mkdir -p "$cache/kernel"

# resolve_package: the versioned package that $meta depends on, e.g.
# linux-image-6.1.0-25-amd64 (a signed variant is acceptable too).
resolve_package() {
	{ apt-cache depends "$meta" 2>/dev/null || true; } |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1
}

# newest_cached: an already unpacked kernel, for when apt cannot answer.
newest_cached() {
	ls -1d "$cache"/kernel/linux-image-*/ 2>/dev/null | sort -V | tail -n 1 | sed 's:/$::'
}

# unpack PKG: download PKG's .deb and unpack it into kernel/PKG; 1 when
# the download fails.
unpack() {
	local pkg=$1 tmp dir rel
	tmp=$(mktemp -d "$cache/kernel/.tmp.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	# apt's _apt user cannot write into a root-only cache: the warning is noise.
	if ! (cd "$tmp" && apt-get download -q "$pkg" 2>&1 | grep -v 'unsandboxed as root' >&2; exit "${PIPESTATUS[0]}"); then
		rm -rf "$tmp"
		trap - EXIT
		return 1
	fi
	dpkg-deb -x "$tmp"/"$pkg"_*.deb "$tmp/root"
	rel=$(ls -1 "$tmp/root/lib/modules" | head -n 1)
	[ -n "$rel" ] && [ -f "$tmp/root/boot/vmlinuz-$rel" ] || die "$pkg holds no boot/vmlinuz-*: not a kernel image package"
	dir=$cache/kernel/$pkg
	mkdir "$dir"
	mv "$tmp/root/lib" "$dir/lib"
	mv "$tmp/root/boot/vmlinuz-$rel" "$dir/vmlinuz"
	mv "$tmp/root/boot/config-$rel" "$dir/config" 2>/dev/null || true
	depmod -b "$dir" "$rel" || die "depmod -b $dir $rel failed"
	echo "$rel" > "$dir/version"
	rm -rf "$tmp"
	trap - EXIT
}

# extract_vmlinux DIR: DIR/vmlinux from DIR/vmlinuz (xz, zstd or gzip
# payload, whichever comes first); nothing when none decompresses to ELF.
extract_vmlinux() {
	local dir=$1 magic off
	for magic in '\xfd7zXZ\x00:xz -dc --single-stream' '\x28\xb5\x2f\xfd:zstd -qdc' '\x1f\x8b\x08:gzip -dc'; do
		off=$(LC_ALL=C grep -obUaP "${magic%%:*}" "$dir/vmlinuz" | head -n 1 | cut -d: -f1)
		[ -n "$off" ] || continue
		tail -c "+$((off + 1))" "$dir/vmlinuz" | ${magic#*:} > "$dir/vmlinux.tmp" 2>/dev/null || true
		if [ "$(head -c 4 "$dir/vmlinux.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
			mv "$dir/vmlinux.tmp" "$dir/vmlinux"
			return 0
		fi
	done
	rm -f "$dir/vmlinux.tmp"
	echo "fetch-kernel: could not take vmlinux out of $dir/vmlinuz; guests boot the slower bzImage" >&2
}

# drop_others KEEP: remove other unpacked kernels (each is ~400 MB).
drop_others() {
	local d
	for d in "$cache"/kernel/linux-image-*; do
		[ "$d" = "$1" ] || rm -rf "$d"
	done
}

# use_cached WHY: print a kernel unpacked earlier, or fail with WHY.
use_cached() {
	local dir
	dir=$(newest_cached)
	[ -n "$dir" ] || die "$1"
	echo "fetch-kernel: $1; reusing $dir" >&2
	echo "$dir"
}

# One fetch at a time per cache, whichever guest build asks.
exec 9> "$cache/kernel/.lock"
flock 9
pkg=$(resolve_package)
if [ -z "$pkg" ]; then
	dir=$(use_cached "apt-cache cannot resolve $meta: run apt-get update (the Debian package lists are missing)")
elif [ -f "$cache/kernel/$pkg/version" ]; then
	dir=$cache/kernel/$pkg
else
	rm -rf "${cache:?}/kernel/$pkg"
	echo "fetch-kernel: downloading $pkg" >&2
	if unpack "$pkg"; then
		dir=$cache/kernel/$pkg
		drop_others "$dir"
	else
		dir=$(use_cached "apt-get download $pkg failed: check the apt sources (apt-get update) and access to the Debian archive")
	fi
fi
[ -f "$dir/vmlinux" ] || extract_vmlinux "$dir"
echo "$dir"
