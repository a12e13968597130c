#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Guest RAM on 2 MiB huge pages ([vm] hugepages = on): both hosts keep their
# RAM files on a hugetlbfs mounted for the test, with pages reserved through
# /proc/sys/vm/nr_hugepages (given back after, also on failure). The dirtier
# runs on hA; at an acknowledged epoch held by `understudy pause` the
# standby's replica must equal the primary's RAM byte for byte, as in
# replica_exact.sh. Then a daemon with hugepages = on and shm_dir on tmpfs
# must refuse to start, naming the fix.
set -u
. "$(dirname "$0")/../lib/common.sh"
LAB_APPEND="us.run=dirtier,counter us.dirty=2000 us.dirty_mb=32"
. "$top_srcdir/tests/lib/lab.sh"
HUGE=$(mktemp -d /tmp/us-test-huge.XXXXXX)
ADDED=0
huge_down() {
	lab_down
	mountpoint -q "$HUGE" && umount "$HUGE"
	rmdir "$HUGE" 2>/dev/null
	[ "$ADDED" -gt 0 ] && echo $(( $(cat /proc/sys/vm/nr_hugepages) - ADDED )) > /proc/sys/vm/nr_hugepages
}
trap huge_down EXIT

# both hosts' RAM files: LAB_MEM each, in 2 MiB pages
LAB_MEM=128M
need=$(( 2 * ${LAB_MEM%M} / 2 ))
have=$(cat /proc/sys/vm/nr_hugepages)
echo $(( have + need )) > /proc/sys/vm/nr_hugepages
ADDED=$(( $(cat /proc/sys/vm/nr_hugepages) - have ))
[ "$ADDED" -ge "$need" ] || fail "the kernel reserved $ADDED of $need huge pages (memory too fragmented?)"
mount -t hugetlbfs -o pagesize=2M none "$HUGE" || fail "cannot mount hugetlbfs"
free0=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
lab_shm() { echo "$HUGE/$1"; }
eval "lab_config_plain() $(declare -f lab_config | tail -n +2)"
lab_config() { lab_config_plain "$@" "[vm]" "hugepages = on"; }

standby_committed_is() { [ "$(lab_field hB committed)" = "$1" ]; }

lab_up || fail "cannot build the lab"
lab_start hB standby
lab_wait 30 lab_answers hB || fail "standby did not start"
lab_start hA primary
lab_wait 180 grep -s -a -q 'us-dirtier' "$LAB_DIR/hA/$LAB_VM.serial" ||
	fail "$(lab_guest_failed hA 180 "come up" "the dirtier never ran")"
free1=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
[ "$free1" -le $(( free0 - need )) ] || fail "RAM files not on huge pages: $free0 -> $free1 free"
start=$(lab_field hA acked)
lab_wait 60 lab_acked_at_least $(( start + 20 )) || fail "epochs stalled"
epoch=$(lab_ctl hA pause --json | grep -o '"epoch":[0-9]*' | cut -d: -f2)
[ -n "$epoch" ] || fail "pause failed"
lab_wait 10 standby_committed_is "$epoch" || fail "standby never committed epoch $epoch"
cmp "$(lab_shm hA)/understudy-$LAB_VM.ram" "$(lab_shm hB)/understudy-$LAB_VM.replica" ||
	fail "replica differs from the primary's RAM at epoch $epoch"
note "replica on huge pages identical to primary RAM at epoch $epoch"
lab_ctl hA resume >/dev/null || fail "resume failed"
lab_stop_host hA; lab_stop_host hB

# hugepages = on with shm_dir on tmpfs: refused at start, with the fix
lab_shm() { echo "/dev/shm/$LAB_PFX-$1"; }
lab_start hB standby
lab_wait 30 grep -s -q 'is not a hugetlbfs mount: mount one' "$LAB_DIR/hB.log" ||
	fail "hugepages = on on tmpfs was not refused in words"
note "hugepages = on with shm_dir on tmpfs refused, naming the fix"
echo "PASS: replica exact with guest RAM on huge pages; tmpfs refused with hugepages = on"
