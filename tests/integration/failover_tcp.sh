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
#    backwards) across the takeover, and replies continue after it. A
#    capture on hC's LAN port (tests/tools/framecap) must see RARPs
#    (ethertype 0x8035) from the guest's MAC after the kill, more than the
#    incoming migration sends by itself: the new primary's announce-self,
#    which moves the MAC in real switches, reached the LAN; and no daemon
#    may log "announce-self failed".
set -u
. "$(dirname "$0")/../lib/common.sh"
LAB_NIC=1
LAB_APPEND="us.run=service"
LAB_COROSYNC=1
LAB_PEER_TIMEOUT_MS=5000
. "$top_srcdir/tests/lib/lab.sh"
CLIENT=$top_builddir/tests/tools/reqclient
FRAMECAP=$top_builddir/tests/tools/framecap
ROUNDS=${ROUNDS:-5}
trap lab_down EXIT
[ -x "$CLIENT" ] || fail "$CLIENT not built"
[ -x "$FRAMECAP" ] || fail "$FRAMECAP not built"

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

# capture_rarps FILE: count RARP frames from the guest's MAC on hC's LAN
# port into FILE (framecap's pid in CAP_PID), once it listens.
capture_rarps() {
	ip netns exec "$(lab_ns hC)" "$FRAMECAP" -c 1000 -t 600 lan0 0x8035 "$(lab_guest_mac)" \
		> "$1" 2> "$1.err" &
	CAP_PID=$!
	lab_wait 10 grep -s -q listening "$1.err" || fail "framecap did not start: $(cat "$1.err")"
}

# RARPs from the guest's MAC in one takeover: loading the device state (an
# incoming migration) makes QEMU announce the MAC by itself, 5 rounds by its
# announce-* migration parameters; the takeover's announce-self (failover/
# promote.c) sends 5 more, 50 to 1250 ms after it is called.
RARPS_MIGRATION=5
RARPS_ANNOUNCE=5

# rarps_at_least FILE MS N: framecap logged N frames at or after MS.
rarps_at_least() { [ "$(lab_rarps_after "$1" "$2")" -ge "$3" ]; }

# check_rarps FILE KILL_MS ROUND: RARPs from the guest's MAC reached the LAN
# after the kill, announce-self's among them, and no announce-self failed.
check_rarps() {
	local n first
	lab_wait 10 rarps_at_least "$1" "$2" 1 &&
		lab_wait 5 rarps_at_least "$1" "$2" $(( RARPS_MIGRATION + RARPS_ANNOUNCE ))
	kill -TERM "$CAP_PID"
	wait "$CAP_PID"
	n=$(lab_rarps_after "$1" "$2")
	[ "$n" -ge 1 ] || fail "round $3: no RARP from the guest's MAC $(lab_guest_mac) reached the LAN" \
		"after the kill ($(wc -l < "$1") before it; $(tail -1 "$1.err"))"
	[ "$n" -gt "$RARPS_MIGRATION" ] || fail "round $3: only $n RARPs from the guest's MAC after the" \
		"kill: the incoming migration's own, none from the takeover's announce-self"
	lab_announce_ok || fail "round $3: the new primary's announce-self failed"
	first=$(awk -v t="$2" '$1 >= t { print $1; exit }' "$1")
	RARP_NOTE="$n RARPs from $(lab_guest_mac) on the LAN, the first $(( first - $2 )) ms after the kill"
}

round() {
	local r=$1 log=$LAB_DIR/client-$1.log caps=$LAB_DIR/rarp-$1.txt before kill_ms
	lab_protected_pair "$log" || fail "round $r: no protected pair"
	[ "$r" = 1 ] && output_waits "$log"
	capture_rarps "$caps"
	sleep_ms "$(rand_ms 300 3000)"
	kill_ms=$(date +%s%3N)
	lab_kill_host hA
	before=$(lab_replies "$log")
	lab_wait 90 lab_replies_at_least "$log" $(( before + 10 )) ||
		fail "round $r: no replies after the takeover: $(cat "$log.err")"
	kill -TERM "$LAB_CLIENT_PID"
	wait "$LAB_CLIENT_PID" || fail "round $r: client exit $?: $(cat "$log.err")"
	check_sequence "$log" "round $r"
	check_rarps "$caps" "$kill_ms" "$r"
	grep -q 'FENCED node hA' "$LAB_DIR/hB.log" || fail "round $r: hB promoted without fencing hA"
	grep -q 'promotion decided: the primary left the group (and its node is fenced)' "$LAB_DIR/hB.log" ||
		fail "round $r: the promotion was not decided on membership: $(grep promotion "$LAB_DIR/hB.log")"
	note "round $r: $before replies before the kill, $(lab_replies "$log") in all, one connection," \
	     "$(grep -a -o 'guest running [0-9]* ms' "$LAB_DIR/hB.log"), $RARP_NOTE"
	lab_stop_host hB
}

lab_up || fail "cannot build the lab"
for r in $(seq "$ROUNDS"); do round "$r"; done
echo "PASS: $ROUNDS takeovers kept the client's TCP connection, lost no acknowledged reply" \
     "and announced the guest's MAC on the LAN"
