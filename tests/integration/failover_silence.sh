#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The fast decision mode, [failover] decide = silence, end to end: real QEMU
# (TCG), tap, bridge, a real corosync per host and the lab's fence agent; a
# client on hC sends increments on one TCP connection. In this mode a
# replication stream silent for silence_ms starts the fence at once and the
# confirmed fence decides, so every round asserts what makes that safe:
#  - pause: the guest held by `understudy pause` for 4 x silence_ms is no
#    silence (the primary's keepalives): nobody fences, nobody promotes, and
#    replies resume after `understudy resume`;
#  - stall, fence failing: the primary's daemon stopped (SIGSTOP, its QEMU
#    alive) with a fence command that fails: the standby tries to fence and
#    never promotes; after SIGCONT the pair goes on, one copy, replies resume;
#  - stall: the same stop with the lab's fence agent: a false suspicion. The
#    standby fences hA (every process of it, the stopped daemon and its QEMU)
#    and only then promotes;
#  - kill: every process of hA SIGKILLed at a random moment; the standby
#    decides on the silence before corosync does.
# After each takeover: "FENCED node hA" before "TAKEOVER", the decision was
# the fence's, hA has no process left and hB runs the only QEMU (exactly one
# active copy), and the client's replies are 1, 2, 3, ... on one connection.
set -u
. "$(dirname "$0")/../lib/common.sh"
LAB_NIC=1
LAB_APPEND="us.run=service"
LAB_COROSYNC=1
LAB_DECIDE=silence
# The default, 500: on a loaded machine a stall of the primary longer than
# silence_ms is a false suspicion, the mode's price (bench/silence_soak.sh
# counts them), and would fence a pair before a round starts. What this test
# asserts holds at any silence_ms; LAB_SILENCE_MS=200 runs it faster.
LAB_SILENCE_MS=${LAB_SILENCE_MS:-500}
LAB_PEER_TIMEOUT_MS=5000
. "$top_srcdir/tests/lib/lab.sh"
trap lab_down EXIT
SILENCE=	# the standby's silence_ms, from its status

check_sequence() {
	lab_replies_in_order "$1" >&2 || fail "$2: replies are not 1, 2, 3, ...: $(awk '{print $2}' "$1" | tr '\n' ' ' | cut -c1-300)"
}

# one_copy WHAT: hA is empty, hB runs the VM and the only QEMU.
one_copy() {
	lab_wait 30 lab_host_empty hA || fail "$1: hA still has processes"
	[ "$(lab_qemus hB)" = 1 ] || fail "$1: hB runs $(lab_qemus hB) QEMUs"
	lab_runs_vm hB || fail "$1: hB does not run the VM: $(lab_field hB role)"
}

# fenced_first WHAT: hB fenced hA on the silence and promoted only after.
fenced_first() {
	local fenced took
	fenced=$(lab_line_no "$LAB_DIR/hB.log" 'FENCED node hA')
	took=$(lab_line_no "$LAB_DIR/hB.log" 'TAKEOVER')
	[ -n "$fenced" ] && [ -n "$took" ] && [ "$fenced" -lt "$took" ] ||
		fail "$1: hB promoted before hA was fenced (lines $fenced, $took)"
	grep -q "promotion decided: the primary's node is fenced: it is off" "$LAB_DIR/hB.log" ||
		fail "$1: the promotion was not the fence's: $(grep promotion "$LAB_DIR/hB.log")"
}

# finish WHAT LOG BEFORE: replies resume, in order, on one connection.
finish() {
	lab_wait 90 lab_replies_at_least "$2" $(( $3 + 10 )) || fail "$1: no replies after: $(cat "$2.err")"
	kill -TERM "$LAB_CLIENT_PID"
	wait "$LAB_CLIENT_PID" || fail "$1: client exit $?: $(cat "$2.err")"
	check_sequence "$2" "$1"
}

# next_pair: stop both hosts, keep their logs, for a fresh pair.
next_pair() {
	lab_stop_host hA; lab_stop_host hB
	mv "$LAB_DIR/hA.log" "$LAB_DIR/hA-$1.log"; mv "$LAB_DIR/hB.log" "$LAB_DIR/hB-$1.log"
}

round_pause() {
	local log=$LAB_DIR/client-pause.log before
	lab_protected_pair "$log" || fail "pause: no protected pair"
	SILENCE=$(lab_field hB silence_ms)
	[ -n "$SILENCE" ] && [ "$(lab_field hB decide)" = silence ] || fail "hB is not in decide = silence"
	lab_ctl hA pause >/dev/null || fail "pause: understudy pause failed"
	sleep_ms $(( SILENCE * 4 ))
	grep -q 'fencing node' "$LAB_DIR/hB.log" && fail "pause: hB fenced a paused primary: $(grep -a silent "$LAB_DIR/hB.log")"
	[ "$(lab_field hB role)" = standby ] || fail "pause: hB promoted"
	before=$(lab_replies "$log")
	lab_ctl hA resume >/dev/null || fail "pause: understudy resume failed"
	finish pause "$log" "$before"
	note "pause: guest held $(( SILENCE * 4 )) ms (silence_ms $SILENCE): keepalives held the pair, no fence"
	next_pair pause
}

round_fence_fails() {
	local log=$LAB_DIR/client-nofence.log before
	LAB_FENCE_COMMAND=$LAB_DIR/failing_fence.sh
	lab_protected_pair "$log" || fail "fence fails: no protected pair"
	kill -STOP "$(lab_daemon_pid hA)"
	lab_wait 30 grep -q 'fencing node hA' "$LAB_DIR/hB.log" || { kill -CONT "$(lab_daemon_pid hA)"; fail "fence fails: hB never tried to fence the stopped primary"; }
	sleep_ms $(( SILENCE * 3 ))
	kill -CONT "$(lab_daemon_pid hA)"
	[ "$(lab_field hB role)" = standby ] || fail "fence fails: hB promoted although the fence failed"
	! grep -q TAKEOVER "$LAB_DIR/hB.log" || fail "fence fails: hB took over unfenced"
	before=$(lab_replies "$log")
	finish "fence fails" "$log" "$before"
	[ "$(lab_qemus hA)" = 1 ] && [ "$(lab_field hB role)" = standby ] ||
		fail "fence fails: QEMUs hA $(lab_qemus hA), hB role $(lab_field hB role)"
	note "fence fails: hB tried to fence hA in vain and never promoted; hA runs on"
	unset LAB_FENCE_COMMAND
	next_pair nofence
}

round_stall() {
	local log=$LAB_DIR/client-stall.log before
	lab_protected_pair "$log" || fail "stall: no protected pair"
	sleep_ms "$(rand_ms 200 2000)"
	kill -STOP "$(lab_daemon_pid hA)"
	before=$(lab_replies "$log")
	lab_wait 60 lab_runs_vm hB || fail "stall: hB did not take over: $(grep -a -E 'promotion|fenc' "$LAB_DIR/hB.log" | tail -3)"
	one_copy stall
	fenced_first stall
	grep -q "silent for [0-9]* ms (silence_ms $SILENCE, decide = silence)" "$LAB_DIR/hB.log" ||
		fail "stall: the fence was not started by the silence"
	finish stall "$log" "$before"
	note "stall: a stopped primary daemon was fenced and replaced; $(grep -a -o 'guest running [0-9]* ms' "$LAB_DIR/hB.log")"
	next_pair stall
}

round_kill() {
	local log=$LAB_DIR/client-kill.log before
	lab_protected_pair "$log" || fail "kill: no protected pair"
	sleep_ms "$(rand_ms 300 3000)"
	lab_kill_host hA
	before=$(lab_replies "$log")
	lab_wait 60 lab_runs_vm hB || fail "kill: hB did not take over: $(grep -a -E 'promotion|fenc' "$LAB_DIR/hB.log" | tail -3)"
	one_copy kill
	fenced_first kill
	finish kill "$log" "$before"
	note "kill: $before replies before, $(lab_replies "$log") in all, one connection;" \
	     "$(grep -a -o 'guest running [0-9]* ms' "$LAB_DIR/hB.log")"
	next_pair kill
}

lab_up || fail "cannot build the lab"
printf '#!/bin/sh\necho "failing_fence: $1 stays on" >&2\nexit 1\n' > "$LAB_DIR/failing_fence.sh"
chmod +x "$LAB_DIR/failing_fence.sh"
round_pause
round_fence_fails
round_stall
round_kill
echo "PASS: decide = silence: a paused primary is never fenced, a failed fence never promotes," \
     "a stalled or killed primary is fenced before the standby runs the only copy; replies in order"
