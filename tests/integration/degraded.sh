#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The standby host dies, with real QEMU, tap, bridge and corosync: every
# process of hB is SIGKILLed while a client on hC talks to the guest. Run
# twice:
#  - membership = corosync (each host runs its own corosync): the primary
#    holds the guest's output until corosync says hB left and the lab's fence
#    agent confirms hB is off, then runs unprotected;
#  - membership = none: the primary holds output for degraded_grace_ms.
# Both times: no reply in the first second after the kill (no ACK means
# nothing committed), then output flows again without ACKs, `understudy
# status` says degraded (and `takeover`, yes while protected, says no
# standby), and the client's connection and its reply sequence
# 1, 2, 3, ... are intact. With [failover] reprotect = manual the primary
# stays degraded until `understudy reprotect`, which it then refuses a
# second time while it looks for a standby.
set -u
. "$(dirname "$0")/../lib/common.sh"
LAB_NIC=1
LAB_APPEND="us.run=service"
LAB_FENCE_DELAY_MS=1000
LAB_REPROTECT=manual	# the degraded state itself; reprotect.sh covers what auto does next
. "$top_srcdir/tests/lib/lab.sh"
CLIENT=$top_builddir/tests/tools/reqclient
trap lab_down EXIT
[ -x "$CLIENT" ] || fail "$CLIENT not built"

run_mode() {
	local mode=$1 log=$LAB_DIR/client-$1.log n0 n1 left fenced degraded
	lab_protected_pair "$log" || fail "$mode: no protected pair"
	[ "$(lab_field hA degraded)" = false ] || fail "$mode: degraded while protected"
	takeover_yes() { [ "$(lab_field hA takeover)" = yes ]; }
	lab_wait 30 takeover_yes ||
		fail "$mode: protected, but status says: $(lab_ctl hA status --json | grep -o '"takeover":"[^"]*"')"
	lab_kill_host hB
	n0=$(lab_replies "$log")
	sleep 1
	n1=$(lab_replies "$log")
	[ "$n1" -le $(( n0 + 1 )) ] || fail "$mode: output flowed before the standby was confirmed gone: $n0 -> $n1"
	lab_wait 30 lab_replies_at_least "$log" $(( n1 + 20 )) || fail "$mode: output never resumed unprotected"
	[ "$(lab_field hA degraded)" = true ] || fail "$mode: status does not say degraded"
	[ "$(lab_field hA state)" = degraded ] || fail "$mode: state is $(lab_field hA state)"
	[ "$(lab_field hA output)" = released-unprotected ] || fail "$mode: output is $(lab_field hA output)"
	lab_ctl hA status --json | grep -q '"takeover":"no: no standby"' ||
		fail "$mode: degraded, but status says: $(lab_ctl hA status --json | grep -o '"takeover":"[^"]*"')"
	degraded=$(lab_line_no "$LAB_DIR/hA.log" 'DEGRADED')
	[ -n "$degraded" ] || fail "$mode: no loud log line"
	if [ "$mode" = corosync ]; then
		left=$(lab_line_no "$LAB_DIR/hA.log" 'peer standby hB .* left the group: nodedown')
		fenced=$(lab_line_no "$LAB_DIR/hA.log" 'FENCED node hB')
		[ -n "$left" ] && [ -n "$fenced" ] || fail "$mode: no membership loss or fence of hB in hA's log"
		[ "$left" -lt "$degraded" ] && [ "$fenced" -lt "$degraded" ] ||
			fail "$mode: degraded before corosync and the fence agent confirmed hB gone"
		[ "$(lab_field hA peer_state)" = gone ] || fail "$mode: status peer_state is $(lab_field hA peer_state)"
	else
		grep -q 'standby gone for' "$LAB_DIR/hA.log" || fail "$mode: not degraded by the grace period"
	fi
	# reprotect = manual: degraded stays degraded until asked, then looks for a standby
	sleep 1
	[ "$(lab_field hA state)" = degraded ] || fail "$mode: left degraded by itself: $(lab_field hA state)"
	out=$(lab_ctl hA reprotect 2>&1) || fail "$mode: reprotect refused: $out"
	[ "$(lab_field hA state)" = unprotected ] || fail "$mode: state after reprotect: $(lab_field hA state)"
	out=$(lab_ctl hA reprotect 2>&1) && fail "$mode: a second reprotect accepted: $out"
	echo "$out" | grep -q "already looking for a standby" || fail "$mode: second reprotect: $out"
	grep -a -q "looking for a standby at" "$LAB_DIR/hA.log" || fail "$mode: reprotect not logged"
	kill -TERM "$LAB_CLIENT_PID"
	wait "$LAB_CLIENT_PID" || fail "$mode: client: $(cat "$log.err")"
	lab_replies_in_order "$log" >&2 || fail "$mode: replies are not 1, 2, 3, ..."
	note "$mode: held $n0 -> $n1 replies in the first second without a standby, then $(lab_replies "$log") in all"
	lab_stop_host hA
	mv "$LAB_DIR/hA.log" "$LAB_DIR/hA-$mode.log"
}

lab_up || fail "cannot build the lab"
LAB_COROSYNC=1 run_mode corosync
cs_cleanup
LAB_COROSYNC= run_mode none
echo "PASS: the primary degraded only after the standby was confirmed gone (corosync + fence, or the grace period); output flows, connection intact"
