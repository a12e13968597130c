#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The primary host dies, end to end: real QEMU (TCG), a real tap on a real
# bridge in namespaces, the guest's counter service, and a real corosync on
# each host (LAB_COROSYNC: the standby promotes only once corosync says hA
# left and the lab's fence agent has confirmed hA is off). A client on hC
# keeps one TCP connection open and sends increments as fast as replies come.
#  - Round 1 first checks that output really waits: with the standby daemon
#    stopped (SIGSTOP; its corosync runs on) no ACK arrives, so no reply
#    reaches the client; after SIGCONT replies resume.
#  - Every round then SIGKILLs all of hA (corosync included) at a random
#    moment; the standby takes over and announces the VM. Asserted: the
#    standby decided on membership plus fencing, the connection was never
#    reset, the replies are exactly 1, 2, 3, ... (no gap, no repeat, never
#    backwards) across the takeover, and replies continue after it.
set -u
. "$(dirname "$0")/../lib/common.sh"
LAB_NIC=1
LAB_APPEND="us.run=service"
LAB_COROSYNC=1
LAB_PEER_TIMEOUT_MS=5000
. "$top_srcdir/tests/lib/lab.sh"
CLIENT=$top_builddir/tests/tools/reqclient
ROUNDS=${ROUNDS:-5}
trap lab_down EXIT
[ -x "$CLIENT" ] || fail "$CLIENT not built"

check_sequence() {
	lab_replies_in_order "$1" || fail "$2: replies are not 1, 2, 3, ...: $(awk '{print $2}' "$1" | tr '\n' ' ' | cut -c1-300)"
}

output_waits() {
	local log=$1 n0 n1
	kill -STOP "$(lab_daemon_pid hB)"
	sleep 0.5
	n0=$(lab_replies "$log")
	sleep 2
	n1=$(lab_replies "$log")
	kill -CONT "$(lab_daemon_pid hB)"
	[ "$n1" -le $(( n0 + 1 )) ] || fail "replies flowed without ACKs: $n0 -> $n1"
	lab_wait 30 lab_replies_at_least "$log" $(( n1 + 5 )) || fail "replies did not resume after the standby did"
	note "output held while the standby was stopped ($n0 -> $n1 replies in 2 s), resumed after"
}

round() {
	local r=$1 log=$LAB_DIR/client-$1.log before
	lab_protected_pair "$log" || fail "round $r: no protected pair"
	[ "$r" = 1 ] && output_waits "$log"
	sleep_ms "$(rand_ms 300 3000)"
	lab_kill_host hA
	before=$(lab_replies "$log")
	lab_wait 90 lab_replies_at_least "$log" $(( before + 10 )) ||
		fail "round $r: no replies after the takeover: $(cat "$log.err")"
	kill -TERM "$LAB_CLIENT_PID"
	wait "$LAB_CLIENT_PID" || fail "round $r: client exit $?: $(cat "$log.err")"
	check_sequence "$log" "round $r"
	grep -q 'FENCED node hA' "$LAB_DIR/hB.log" || fail "round $r: hB promoted without fencing hA"
	grep -q 'promotion decided: the primary left the group (and its node is fenced)' "$LAB_DIR/hB.log" ||
		fail "round $r: the promotion was not decided on membership: $(grep promotion "$LAB_DIR/hB.log")"
	note "round $r: $before replies before the kill, $(lab_replies "$log") in all, one connection," \
	     "$(grep -a -o 'guest running [0-9]* ms' "$LAB_DIR/hB.log")"
	lab_stop_host hB
}

lab_up || fail "cannot build the lab"
for r in $(seq "$ROUNDS"); do round "$r"; done
echo "PASS: $ROUNDS takeovers kept the client's TCP connection and lost no acknowledged reply"
