#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A cut between the two nodes of the Pacemaker lab (tests/lib/pcmk.sh):
# both the replication link and hB's LAN port go down, so each node's
# corosync loses the other and both partitions are quorate (two_node). Both
# fencers race; priority-fencing-delay holds back the fencing of hA, which
# runs the promoted instance, so hA fences hB first (the lab's fence agent
# does one power-off at a time, so both never die; should hB still win the
# race on a loaded machine, it takes over). Exactly one node keeps the VM:
# it is promoted, the other's namespace is empty. hA's output, held while
# the standby was unreachable, flows again once Pacemaker's notify says hB
# is stopped; the client on hC sees replies 1, 2, 3, ... with no repeat and
# no gap, and the longest stall is printed.
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$top_srcdir/tests/lib/lab.sh"
. "$top_srcdir/tests/lib/pcmk.sh"
trap pcmk_down EXIT
[ -x "$top_builddir/tests/tools/reqclient" ] || fail "reqclient not built"

lab_up || fail "cannot build the lab"
pcmk_up || fail "the Pacemaker cluster did not form"
pcmk_configure || fail "cannot configure the cluster"
lab_wait 240 pcmk_pair_on hA hB ||
	fail "no protected pair: promoted '$(pcmk_promoted_on)', hA $(lab_field hA state), hB $(lab_field hB state)"
LOG=$LAB_DIR/client.log
pcmk_client "$LOG"
lab_wait 120 lab_replies_at_least "$LOG" 20 || fail "no replies from the guest: $(cat "$LOG.err")"

before=$(lab_replies "$LOG")
lab_exec hA ip link set "${LAB_PFX}a" down
lab_exec hB ip link set lan0 down
note "links cut after $before replies"
one_fenced() { lab_host_empty hA || lab_host_empty hB; }
lab_wait 90 one_fenced || fail "neither node was fenced"
if lab_host_empty hB; then S=hA L=hB; else S=hB L=hA; fi
lab_host_empty "$S" && fail "both nodes were fenced"
lab_wait 30 grep -q "Peer $L was terminated (reboot) by $S" "$(pcmk_log "$S")" ||
	fail "$S's log does not show $L fenced"
[ "$S" = hA ] || note "the fence race went to hB (priority-fencing-delay did not hold it back)"
if [ "$S" = hB ]; then	# the LAN to the client goes through hB's lan0
	lab_exec hB ip link set lan0 up
fi
flowing() { [ "$(lab_field "$S" output)" = released-unprotected ] && lab_replies_at_least "$LOG" $(( before + 20 )); }
lab_wait 120 flowing || fail "$S's output does not flow after $L was fenced: '$(lab_field "$S" output)'"
[ "$(lab_field "$S" role)" = primary ] || fail "$S does not run the VM: $(lab_field "$S" role)"
[ "$(pcmk_promoted_on)" = "$S" ] || fail "Pacemaker has the VM promoted on '$(pcmk_promoted_on)'"
lab_host_empty "$L" || fail "$L came back to life"
lab_replies_in_order "$LOG" >/dev/null || fail "replies repeat or skip: $(lab_replies_in_order "$LOG")"
stall=$(awk '{ if (NR > 1 && $1 - t > m) m = $1 - t; t = $1 } END { print m + 0 }' "$LOG")
note "one node kept the VM ($S), $L fenced; $(lab_replies "$LOG") replies in order; longest gap $stall ms"
exit 0
