#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A cut between the two nodes of the Pacemaker lab (tests/lib/pcmk.sh):
# both the replication link and hB's LAN port go down, so each node's
# corosync loses the other and both partitions are quorate (two_node). Both
# fencers race; priority-fencing-delay holds back the fencing of hA, which
# runs the promoted instance, so hA fences hB first. Exactly one node keeps
# the VM: hA is promoted, hB's namespace is empty. hA's output, held while
# the standby was unreachable, flows again once Pacemaker's notify says hB
# is stopped; the client on hC sees replies 1, 2, 3, ... with no repeat and
# no gap, and the longest stall is printed.
set -u
. "$(dirname "$0")/../lib/common.sh"
LAB_NIC=1
LAB_DISK=64M
LAB_APPEND="us.run=ledger us.disk=/dev/vda"
LAB_PEER_TIMEOUT_MS=3000
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
lab_wait 90 lab_host_empty hB || fail "hB was not fenced: $(ip netns pids "$(lab_ns hB)" | wc -l) processes live"
lab_wait 30 grep -q "Peer hB was terminated (reboot) by hA" "$(pcmk_log hA)" || fail "hA's log does not show hB fenced"
flowing() { [ "$(lab_field hA output)" = released-unprotected ] && lab_replies_at_least "$LOG" $(( before + 20 )); }
lab_wait 90 flowing || fail "hA's output does not flow after hB was fenced: $(lab_field hA output)"
[ "$(lab_field hA role)" = primary ] || fail "hA does not run the VM: $(lab_field hA role)"
[ "$(pcmk_promoted_on)" = hA ] || fail "Pacemaker has the VM promoted on '$(pcmk_promoted_on)'"
lab_replies_in_order "$LOG" >/dev/null || fail "replies repeat or skip: $(lab_replies_in_order "$LOG")"
stall=$(awk '{ if (NR > 1 && $1 - t > m) m = $1 - t; t = $1 } END { print m + 0 }' "$LOG")
note "one node kept the VM (hA), hB fenced; $(lab_replies "$LOG") replies in order; longest gap $stall ms"
exit 0
