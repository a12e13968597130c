#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds a busybox initramfs (gzip'd newc cpio) for a kernel unpacked by
# fetch-kernel.sh. The named modules and everything modules.dep says they
# need are copied in (decompressed: busybox insmod may not read .ko.xz), and
# /etc/us-modules lists them in load order; `us-modload` (in /bin) insmods
# them, so any init can load its modules with one command. Modules built
# into the kernel (modules.builtin) are skipped. Extra files go in with
# -a SRC:DST (mode kept). Used by build.sh for the demo guest and meant for
# other guests (the soft-RoCE one) with their own init and module list.
# Usage: mkinitramfs.sh -k KERNELDIR -o OUT.cpio.gz -i INIT [-a SRC:DST]... MODULE...
set -euo pipefail

die() { echo "mkinitramfs: $*" >&2; exit 1; }

kdir='' out='' init='' extras=()
while getopts "k:o:i:a:" opt; do
	case $opt in
	k) kdir=$OPTARG ;;
	o) out=$OPTARG ;;
	i) init=$OPTARG ;;
	a) extras+=("$OPTARG") ;;
	*) die "usage: mkinitramfs.sh -k KERNELDIR -o OUT -i INIT [-a SRC:DST]... MODULE..." ;;
	esac
done
shift $((OPTIND - 1))
[ -n "$kdir" ] && [ -n "$out" ] && [ -n "$init" ] || die "-k, -o and -i are required"
[ -f "$kdir/version" ] || die "$kdir is not a kernel unpacked by fetch-kernel.sh (no version file)"
rel=$(cat "$kdir/version")
mdir=$kdir/lib/modules/$rel
[ -f "$mdir/modules.dep" ] || die "$mdir/modules.dep missing: run depmod -b $kdir $rel (Debian package kmod)"
command -v cpio >/dev/null || die "cpio not found: install the Debian package cpio"
[ -x /bin/busybox ] && dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' ||
	die "static busybox missing: install the Debian package busybox-static"

# dep_line NAME: NAME's modules.dep line ("path: dep-path..."), '-' and '_'
# being the same in module names.
dep_line() {
	local re=${1//[-_]/[-_]}
	grep -m 1 -E "(^|/)${re}\\.ko(\\.xz|\\.zst|\\.gz)?:" "$mdir/modules.dep" || true
}

# is_builtin NAME: true when NAME is compiled into the kernel.
is_builtin() {
	local re=${1//[-_]/[-_]}
	grep -q -E "(^|/)${re}\\.ko\$" "$mdir/modules.builtin"
}

# module_order NAME...: module paths, dependencies first, each once.
# modules.dep lists every transitive dependency with the deepest last.
module_order() {
	local name line path deps i
	for name in "$@"; do
		line=$(dep_line "$name")
		if [ -z "$line" ]; then
			is_builtin "$name" && continue
			die "module $name is neither in $mdir/modules.dep nor built in"
		fi
		path=${line%%:*}
		read -r -a deps <<< "${line#*:}"
		for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
			echo "${deps[i]}"
		done
		echo "$path"
	done | awk '!seen[$0]++'
}

# copy_module PATH: into /lib/modules/ of the image, decompressed.
copy_module() {
	local src=$mdir/$1 base
	base=$(basename "$1")
	case $base in
	*.ko) cp "$src" "$root/lib/modules/$base" ;;
	*.ko.xz) xz -dc "$src" > "$root/lib/modules/${base%.xz}" ;;
	*.ko.zst) zstd -qdc "$src" > "$root/lib/modules/${base%.zst}" ;;
	*.ko.gz) gzip -dc "$src" > "$root/lib/modules/${base%.gz}" ;;
	*) die "unexpected module file $1" ;;
	esac
	echo "${base%.ko*}.ko" >> "$root/etc/us-modules"
}

# add_busybox: the binary plus one symlink per applet.
add_busybox() {
	local applet
	cp /bin/busybox "$root/bin/busybox"
	for applet in $(/bin/busybox --list); do
		[ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
	done
}

# add_modload: the script that insmods /etc/us-modules in order.
add_modload() {
	cat > "$root/bin/us-modload" <<'EOF'
#!/bin/sh
# Loads the modules listed in /etc/us-modules, in order.
while read -r m; do
	insmod "/lib/modules/$m" || echo "us-guest: insmod $m failed"
done < /etc/us-modules
EOF
	chmod 755 "$root/bin/us-modload"
}

# add_extras: the -a SRC:DST files.
add_extras() {
	local e
	for e in ${extras[@]+"${extras[@]}"}; do
		[ -f "${e%%:*}" ] || die "extra file ${e%%:*} not found"
		mkdir -p "$root/$(dirname "${e#*:}")"
		cp -p "${e%%:*}" "$root/${e#*:}"
	done
}

order=$(module_order "$@")
root=$(mktemp -d "${TMPDIR:-/tmp}/us-initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,dev,etc,lib/modules,proc,sys,tmp,run}
: > "$root/etc/us-modules"
# The kernel opens /dev/console before init; without root, init reopens it.
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
add_busybox
add_modload
install -m 755 "$init" "$root/init"
for path in $order; do
	copy_module "$path"
done
add_extras
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 | gzip -9n) > "$out.tmp"
mv "$out.tmp" "$out"
