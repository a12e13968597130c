#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The replication link is cut (the LAN to the client stays up), with real
# QEMU, tap, bridge and a real corosync per host, in two set-ups:
#  - corosync on the replication link only: both sides see the other leave
#    and stay quorate (two_node). The standby fences at once and the primary
#    only after fence_delay_ms, so the standby wins: hB runs the VM, hA was
#    fenced and never released output without an ACK.
#  - corosync also on a second link over the LAN: membership survives the
#    cut, so nobody "left"; the standby waits (the primary is a member), the
#    primary finds its standby useless (no stream for peer_timeout_ms while a
#    member), fences it and degrades: hA runs the VM, hB was fenced and never
#    promoted.
# Each time: exactly one copy of the VM runs afterwards, the other host has
# no process left, and the client on hC got replies 1, 2, 3, ... on one TCP
# connection (no value repeated or diverging).
# With LAB_DECIDE=silence (the fast mode) the standby decides on the silent
# stream before membership does: in the second set-up too it fences hA and
# takes over (an unneeded takeover, the price of the mode), so hB wins both.
set -u
. "$(dirname "$0")/../lib/common.sh"
LAB_NIC=1
LAB_APPEND="us.run=service"
LAB_COROSYNC=1
. "$top_srcdir/tests/lib/lab.sh"
trap lab_down EXIT

role_of() { lab_field "$1" role; }
is_active() { lab_runs_vm hB; }
is_degraded() { [ "$(lab_field hA degraded)" = true ]; }

# run_mode NAME WINNER LOSER: cut the link, wait for the loser to be fenced.
run_mode() {
	local mode=$1 win=$2 lose=$3 log=$LAB_DIR/client-$1.log before t0 ms
	lab_protected_pair "$log" || fail "$mode: no protected pair"
	sleep_ms "$(rand_ms 200 2000)"
	before=$(lab_replies "$log")
	t0=$(date +%s%N)
	lab_exec hA ip link set "${LAB_PFX}a" down
	lab_wait 60 lab_host_empty "$lose" || fail "$mode: $lose was not fenced"
	if [ "$win" = hB ]; then
		lab_wait 60 is_active || fail "$mode: hB did not take over"
	else
		lab_wait 60 is_degraded || fail "$mode: hA did not degrade"
	fi
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	lab_wait 60 lab_replies_at_least "$log" $(( before + 10 )) || fail "$mode: no replies after the cut"
	[ "$(lab_qemus "$lose")" = 0 ] && [ "$(lab_qemus "$win")" = 1 ] ||
		fail "$mode: QEMUs: hA $(lab_qemus hA), hB $(lab_qemus hB)"
	grep -q "FENCED node $lose" "$LAB_DIR/$win.log" || fail "$mode: $win did not fence $lose"
	! grep -q "FENCED node $win" "$LAB_DIR/$lose.log" || fail "$mode: $lose fenced $win too"
	if [ "$win" = hB ]; then
		! grep -q 'DEGRADED' "$LAB_DIR/hA.log" || fail "$mode: hA released output unprotected"
	else
		! grep -q 'TAKEOVER' "$LAB_DIR/hB.log" || fail "$mode: hB promoted"
		grep -q 'the standby lost its stream for good' "$LAB_DIR/hA.log" ||
			fail "$mode: hA degraded for another reason: $(grep DEGRADED "$LAB_DIR/hA.log")"
	fi
	kill -TERM "$LAB_CLIENT_PID"
	wait "$LAB_CLIENT_PID" || fail "$mode: client: $(cat "$log.err")"
	lab_replies_in_order "$log" >&2 || fail "$mode: the client got repeated or diverging replies"
	note "$mode: cut -> $lose fenced, $win runs the VM, in $ms ms; $before replies before, $(lab_replies "$log") in all"
	lab_stop_host "$win"
	cs_cleanup
	lab_exec hA ip link set "${LAB_PFX}a" up
	mv "$LAB_DIR/hA.log" "$LAB_DIR/hA-$mode.log"; mv "$LAB_DIR/hB.log" "$LAB_DIR/hB-$mode.log"
}

lab_up || fail "cannot build the lab"
CS_LAN= run_mode replication-link-only hB hA
if [ "${LAB_DECIDE:-}" = silence ]; then
	CS_LAN=1 run_mode with-lan-link hB hA
	grep -q 'silent for [0-9]* ms' "$LAB_DIR/hB-with-lan-link.log" ||
		fail "with-lan-link: hB did not decide on the silent stream"
else
	CS_LAN=1 run_mode with-lan-link hA hB
fi
echo "PASS (decide = ${LAB_DECIDE:-membership}): after each partition exactly one copy runs, the other host was fenced, replies 1, 2, 3, ... on one connection"
