#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The replication link is cut (corosync and replication traffic between hA
# and hB; the LAN to the client stays up), with real QEMU, tap, bridge and a
# real corosync per host. Both sides see the other leave and stay quorate
# (two_node). The standby fences at once and the primary only after
# fence_delay_ms, so the standby wins: afterwards exactly one copy of the VM
# runs (on hB), hA has no process left (fenced), hA never released output
# without an ACK, and the client on hC, on one TCP connection, got replies
# 1, 2, 3, ... with no value repeated or diverging.
set -u
. "$(dirname "$0")/../lib/common.sh"
LAB_NIC=1
LAB_APPEND="us.run=service"
LAB_COROSYNC=1
. "$top_srcdir/tests/lib/lab.sh"
trap lab_down EXIT
log=$LAB_DIR/client.log

lab_up || fail "cannot build the lab"
lab_protected_pair "$log" || fail "no protected pair"
sleep_ms "$(rand_ms 200 2000)"
before=$(lab_replies "$log")
t0=$(date +%s%N)
lab_exec hA ip link set "${LAB_PFX}a" down
lab_wait 60 lab_host_empty hA || fail "hA was not fenced: $(grep -E 'fenc|promotion' "$LAB_DIR/hB.log" | tail -3)"
lab_wait 60 sh -c "[ \"\$(ip netns exec $(lab_ns hB) $US_BIN status --json --vm $LAB_VM 2>/dev/null | grep -o '\"role\":\"active\"')\" ]" ||
	fail "hB did not take over: $(grep -E 'fenc|promotion' "$LAB_DIR/hB.log" | tail -3)"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
lab_wait 60 lab_replies_at_least "$log" $(( before + 10 )) || fail "no replies after the partition"
[ "$(lab_qemus hA)" = 0 ] && [ "$(lab_qemus hB)" = 1 ] || fail "QEMUs: hA $(lab_qemus hA), hB $(lab_qemus hB)"
grep -q 'FENCED node hA' "$LAB_DIR/hB.log" || fail "hB promoted without fencing hA"
! grep -q 'DEGRADED' "$LAB_DIR/hA.log" || fail "hA released output unprotected during the partition"
! grep -q 'FENCED node hB' "$LAB_DIR/hA.log" || fail "hA fenced hB too"
kill -TERM "$LAB_CLIENT_PID"
wait "$LAB_CLIENT_PID" || fail "client: $(cat "$log.err")"
lab_replies_in_order "$log" >&2 || fail "the client got repeated or diverging replies"
note "cut -> hA fenced and hB active in $ms ms; $before replies before the cut, $(lab_replies "$log") in all"
echo "PASS: after the partition exactly one copy runs (hB), hA was fenced, replies 1, 2, 3, ... on one connection"
