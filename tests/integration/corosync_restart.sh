#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Restarting corosync is not a failure: with real QEMU and a real corosync
# per host, corosync on the standby host is stopped and started again, then
# the same on the primary host. Each daemon loses corosync and rejoins; each
# sees the other leave the group while the replication stream keeps flowing,
# which decides nothing. Asserted: no promotion, no fencing, no degraded
# mode, both daemons and both QEMUs alive, epochs still acknowledged after
# each restart, and both daemons back in the group. Also: both daemons read
# two_node from votequorum (the two-node rule keys on it).
set -u
. "$(dirname "$0")/../lib/common.sh"
LAB_COROSYNC=1
. "$top_srcdir/tests/lib/lab.sh"
trap lab_down EXIT

acked_beyond() { local a; a=$(lab_field hA acked); [ -n "$a" ] && [ "$a" -gt "$1" ]; }
members() { lab_member hA && lab_member hB; }

restart() {
	local h=$1 a
	cs_stop "$h"
	sleep 2
	cs_start "$h"
	cs_wait_members "$h" 2 30 || fail "$h: corosync did not rejoin"
	lab_wait 30 members || fail "$h: the daemons are not back in the group"
	a=$(lab_field hA acked)
	lab_wait 30 acked_beyond $(( a + 10 )) || fail "$h: epochs no longer acknowledged"
	[ "$(lab_field hB role)" = standby ] || fail "$h: hB is $(lab_field hB role)"
	[ "$(lab_field hA degraded)" = false ] || fail "$h: the primary degraded"
	[ "$(lab_qemus hA)" = 1 ] && [ "$(lab_qemus hB)" = 1 ] || fail "$h: QEMUs hA $(lab_qemus hA) hB $(lab_qemus hB)"
	grep -q 'lost corosync' "$LAB_DIR/$h.log" || fail "$h: its daemon never noticed corosync going"
	note "corosync restart on $h: acked $a -> $(lab_field hA acked), still protected"
}

lab_up || fail "cannot build the lab"
lab_start hB standby
lab_wait 30 lab_answers hB || fail "standby did not start"
lab_start hA primary
lab_wait 180 lab_acked_at_least 20 || fail "no protection: $(tail -3 "$LAB_DIR/hA.log")"
lab_wait 30 members || fail "the daemons never saw each other in corosync"
for h in hA hB; do
	[ "$(lab_field $h two_node)" = yes ] || fail "$h: votequorum's two_node not seen: $(lab_field $h two_node)"
done
restart hB
restart hA
for h in hA hB; do
	! grep -E 'TAKEOVER|FENCED|fencing node|DEGRADED|LOST THE STANDBY' "$LAB_DIR/$h.log" ||
		fail "$h acted on a corosync restart"
done
echo "PASS: corosync restarts on the standby and the primary: no promotion, no fence, protection continued"
