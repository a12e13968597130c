#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Cold start and a stale standby in the Pacemaker lab (tests/lib/pcmk.sh),
# with a replicated disk whose state record (IMAGE.understudy-state) the
# agent compares, preferred_node = hB:
#  1. first start: neither image has a record (a tie), so the preferred
#     node hB cold-boots the VM and hA becomes its standby;
#  2. hB is killed: Pacemaker fences it and hA takes over, running on;
#  3. the whole cluster stops (hA's pacemakerd shuts down cleanly, then both
#     nodes power off) and starts again: the VM boots on hA, whose image is
#     fresher, not on the preferred hB, and hB's agent says why;
#  4. a stale standby: hB's instance is restarted and, while it syncs over a
#     slowed replication link (tbf), hA is killed. Pacemaker fences hA but
#     promotes nothing: hB's agent has no score for an image left mid-sync
#     and its daemon refuses, naming the unfinished sync; the test waits 30 s
#     and asserts both reasons from the logs.
set -u
. "$(dirname "$0")/../lib/common.sh"
PCMK_PREFERRED=hB
. "$top_srcdir/tests/lib/lab.sh"
. "$top_srcdir/tests/lib/pcmk.sh"
trap pcmk_down EXIT

cold_boots() { grep -c "COLD START" "$(pcmk_vm_log "$1")" 2>/dev/null; }

lab_up || fail "cannot build the lab"
pcmk_up || fail "the Pacemaker cluster did not form"
pcmk_configure || fail "cannot configure the cluster"
lab_wait 240 pcmk_pair_on hB hA ||
	fail "no pair on the preferred node: promoted '$(pcmk_promoted_on)', hA $(lab_field hA state), hB $(lab_field hB state)"
[ "$(cold_boots hB)" = 1 ] || fail "hB did not cold-boot the VM"
note "step 1: a tie at first start: the preferred node hB boots the VM"

pcmk_kill_node hB
running_on_a() { [ "$(lab_field hA role)" = primary ]; }
lab_wait 120 running_on_a || fail "hA did not take over: $(lab_field hA state)"
sleep 3	# hA runs on: its image's record moves past hB's
note "step 2: hB killed, hA took over"

pcmk_stop hA || fail "hA's pacemakerd did not stop"
grep -q "daemon for VM '$LAB_VM' stopped" "$(pcmk_vm_log hA)" || fail "hA's daemon was not stopped cleanly"
pcmk_kill_node hA
note "records: hA $(cat "$(lab_disk hA).understudy-state"), hB $(cat "$(lab_disk hB).understudy-state")"
pcmk_up || fail "the cluster did not form again"
lab_wait 240 pcmk_pair_on hA hB ||
	fail "after the cold start: promoted '$(pcmk_promoted_on)', hA $(lab_field hA state), hB $(lab_field hB state)"
[ "$(cold_boots hA)" = 1 ] || fail "hA did not cold-boot the VM"
grep -q "cold start: the image on hA is fresher: not promoting here" "$(pcmk_log hB)" ||
	fail "hB's agent does not say why it did not boot the VM"
note "step 3: cold start after a full stop: hA (fresher) boots the VM, not the preferred hB"

lab_exec hA tc qdisc add dev "${LAB_PFX}a" root tbf rate 16mbit burst 64kbit latency 2s ||
	fail "cannot slow the replication link"
pcmk_exec hA crm_resource --ban -r vm-clone -N hB >/dev/null 2>&1 || fail "cannot ban hB"
no_standby() { [ -z "$(pcmk_unpromoted_on)" ] && ! lab_field hB state | grep -q .; }
lab_wait 60 no_standby || fail "hB's instance did not stop"
pcmk_exec hA crm_resource --clear -r vm-clone >/dev/null 2>&1
syncing() { [ "$(lab_field hB state)" = receiving ] && [ "$(lab_field hB promotable)" = false ]; }
lab_wait 120 syncing || fail "hB's new standby did not start syncing: $(lab_field hB state)"
pcmk_kill_node hA
lab_wait 60 grep -q "Peer hA was terminated (reboot) by hB" "$(pcmk_log hB)" || fail "hA was not fenced"
for i in $(seq 30); do
	[ -z "$(pcmk_promoted_on)" ] || fail "the stale standby was promoted on $(pcmk_promoted_on)"
	[ "$(lab_field hB role)" = standby ] || fail "hB runs the VM: $(lab_field hB role)"
	sleep 1
done
grep -q "never completed" "$(pcmk_vm_log hB)" || fail "hB's daemon does not name the unfinished sync"
grep -q "image was left mid-sync: not promotable" "$(pcmk_log hB)" ||
	fail "hB's agent does not say why it has no promotion score"
note "step 4: hA killed while hB synced: fenced, nothing promoted for 30 s (hB's image is torn)"
exit 0
