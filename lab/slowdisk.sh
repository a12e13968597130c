# SPDX-License-Identifier: LGPL-2.1-or-later
# The disk volume of understudy-lab's hosts (sourced by lab.sh; used with
# LAB_DISK_VOL): host H's disk image lives on a tmpfs of its own,
# $LAB_DIR/H/vol, seen through slowfs (tests/tools/slowfs, a FUSE
# passthrough) at $LAB_DIR/H/disk, which the slow-disk fault makes late on
# every write and fsync, and the disk-full fault fail them with ENOSPC. slowfs runs in the
# machine's namespaces, not the host's: powering a host off leaves its disk.
# Its control file is $LAB_DIR/H/slowfs.ctl, its counters
# $LAB_DIR/H/slowfs.stats.

# LAB_SLOW_MS: how late a write or fsync is under the slow-disk fault
LAB_SLOW_MS=${LAB_SLOW_MS:-50}

# lab_vol_mount H: mount host H's tmpfs (the image's size plus 16 MiB) and
# its slowfs over it, unless they are there.
lab_vol_mount() {
	local d=$LAB_DIR/$1 size
	size=$(( $(numfmt --from=iec "$LAB_DISK") + (16 << 20) ))
	mkdir -p "$d/vol" "$d/disk" || return 1
	mountpoint -q "$d/vol" || mount -t tmpfs -o size="$size" "lab-$LAB_PFX-$1" "$d/vol" ||
		{ lab_log "cannot mount a tmpfs on $d/vol for $1's disk"; return 1; }
	mountpoint -q "$d/disk" && return 0
	[ -x "$LAB_TOOLS/slowfs" ] || { lab_log "no $LAB_TOOLS/slowfs: the disk volume needs it"; return 1; }
	lab_slowfs_set "$1" 0 0
	"$LAB_TOOLS/slowfs" "$d/vol" "$d/disk" --ctl "$d/slowfs.ctl" --stats "$d/slowfs.stats" \
		> "$d/slowfs.log" 2>&1 &
	echo $! > "$d/slowfs.pid"
	disown $!
	lab_wait 10 mountpoint -q "$d/disk" ||
		{ lab_log "slowfs did not mount on $d/disk: $(tail -n 3 "$d/slowfs.log")"; return 1; }
}

# lab_vol_umount H: unmount host H's slowfs and tmpfs (lab_down).
lab_vol_umount() {
	local d=$LAB_DIR/$1 pid
	! mountpoint -q "$d/disk" 2>/dev/null || umount -l "$d/disk"
	pid=$(cat "$d/slowfs.pid" 2>/dev/null)
	[ -z "$pid" ] || kill "$pid" 2>/dev/null
	! mountpoint -q "$d/vol" 2>/dev/null || umount -l "$d/vol"
	return 0
}

# lab_slowfs_set H DELAY_MS ENOSPC: what host H's slowfs does from now on.
lab_slowfs_set() {
	local c=$LAB_DIR/$1/slowfs.ctl
	[ -d "$LAB_DIR/$1" ] || return 0
	echo "delay_ms $2 enospc $3" > "$c.tmp" && mv "$c.tmp" "$c"
}

# lab_slow_disk H: the slow-disk fault on host H: waits until slowfs has
# read its control file.
lab_slow_disk() {
	local d=$LAB_DIR/$1
	mountpoint -q "$d/disk" || { lab_log "$1 has no slowfs disk volume (up --disk)"; return 1; }
	lab_slowfs_set "$1" "$LAB_SLOW_MS" 0
	lab_log "slow-disk: $1's image through slowfs (FUSE), every write and fsync $LAB_SLOW_MS ms late"
}

# lab_disk_full H: the disk-full fault on host H: slowfs refuses every
# write and fsync with ENOSPC (no RAM spent filling a tmpfs).
lab_disk_full() {
	local d=$LAB_DIR/$1
	mountpoint -q "$d/disk" || { lab_log "$1 has no slowfs disk volume (up --disk)"; return 1; }
	lab_slowfs_set "$1" 0 1
	lab_log "disk-full: $1's image through slowfs (FUSE): every write and fsync fails with ENOSPC"
}

# lab_slow_heal: every host's slowfs at full speed; its counters in the
# lab's fault.stats (lab_fault_stats).
lab_slow_heal() {
	local h
	for h in hA hB; do
		[ -f "$LAB_DIR/$h/slowfs.ctl" ] || continue
		grep -q '^delay_ms 0 enospc 0' "$LAB_DIR/$h/slowfs.ctl" && continue
		echo "$h slowfs $(cat "$LAB_DIR/$h/slowfs.stats" 2>/dev/null)" >> "$LAB_DIR/fault.stats"
		lab_slowfs_set "$h" 0 0
	done
}
