#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The role cycle, all of it, on one client connection: real
# QEMU (TCG), a real corosync per host with the lab's fence agent, the
# guest's `ledger` on a replicated 64 MiB disk, one [replication] hosts line
# in both hosts' configs (lab.sh), [failover] reprotect = auto.
#  1. hA (primary) is SIGKILLed with everything on it; hB fences it and
#     takes over; its daemon changes role to primary without restarting the
#     guest and runs it unprotected (status: role primary, state unprotected).
#  2. hA's daemon is started again as a standby on hA's old image; hB syncs
#     it while the guest runs and reaches state protected (epoch 0 acked).
#     The disk bytes that sync sent (hB's disk.sync_bytes) are under 10 % of
#     the image: hA still had it, only blocks that differ went.
#  3. hB is SIGKILLed; hA fences it and takes over, and the same again the
#     other way: hB returns as a standby and hA reaches protected.
#  4. Three planned switchovers, back and forth (`understudy switchover`,
#     asked on the primary, then on the standby, then on the primary): the
#     guest stops at an epoch boundary on one host and goes on on the other,
#     whose old primary becomes its standby without restarting and with no
#     sync: the new primary's syncs, sync_ram_bytes and disk sync_bytes stay
#     0 and the new standby received no sync page (a switchover sends
#     epochs, not an image); nobody is fenced. The guest's pause
#     (switch_pause_ms) is noted.
#  5. A switchover in doubt: hA's daemon (the standby) is SIGSTOPped and a
#     switchover asked on hB: hB stops the guest at the final epoch, whose
#     ACK never comes. It must not resume on its own: it keeps the guest
#     stopped until membership and the fence decide (hA fenced), then
#     abandons the switchover and resumes the guest, unprotected; the reply
#     to `understudy switchover` says so, and hA never took over.
#  6. With no standby, a switchover is refused, naming the cause, and
#     changes nothing.
# Throughout, the client on hC holds one TCP connection and its replies must
# be exactly 1, 2, 3, ...; at the end hA's daemon is stopped and its image
# must hold ledger records 1..N, N the client's last reply (ledgercheck).
# (switchover.sh was this test's step 4 on its own; bench/switchover.sh
# measures many.)
set -u
. "$(dirname "$0")/../lib/common.sh"
LAB_NIC=1
LAB_APPEND="us.run=ledger us.disk=/dev/vda"
LAB_COROSYNC=1
LAB_PEER_TIMEOUT_MS=5000
LAB_DISK=64M
. "$top_srcdir/tests/lib/lab.sh"
LEDGERCHECK=$top_builddir/tests/tools/ledgercheck
trap lab_down EXIT
[ -x "$top_builddir/tests/tools/reqclient" ] || fail "reqclient not built"
[ -x "$LEDGERCHECK" ] || fail "$LEDGERCHECK not built"
DISK_BYTES=$(( 64 << 20 ))

state_is() { [ "$(lab_field "$1" state)" = "$2" ]; }
role_is() { [ "$(lab_field "$1" role)" = "$2" ]; }
replies_grow() { lab_replies_at_least "$LOG" $(( $1 + 5 )); }
both_members() { lab_member "$1" && lab_member "$2"; }
joined_as_said() {
	[ "$(grep -a -c 'it can take over from now on' "$LAB_DIR/$1.log")" -ge \
	  "$(grep -a -c 'is not yet a member of this host' "$LAB_DIR/$1.log")" ]
}

# take_over DEAD LIVE: kill host DEAD; LIVE fences it, takes over, and runs
# the guest as an unprotected primary, the client's replies going on.
take_over() {
	local dead=$1 live=$2 before
	lab_kill_host "$dead"
	before=$(lab_replies "$LOG")
	lab_wait 60 grep -a -q "FENCED node $dead" "$LAB_DIR/$live.log" ||
		fail "$live did not fence $dead: $(tail -3 "$LAB_DIR/$live.log")"
	lab_wait 60 role_is "$live" primary ||
		fail "$live's daemon did not become the primary: $(tail -3 "$LAB_DIR/$live.log")"
	grep -a -q "role of VM '$LAB_VM' on this host: standby -> primary" "$LAB_DIR/$live.log" ||
		fail "$live did not log its change of role"
	lab_wait 60 replies_grow "$before" ||
		fail "no replies from the guest on $live: $(cat "$LOG.err")"
	note "$dead killed: $live took over ($(grep -a -o 'guest running [0-9]* ms' "$LAB_DIR/$live.log" | tail -n 1)), state $(lab_field "$live" state)"
}

# reprotect BACK LIVE: BACK's daemon returns as a standby on its old image
# and RAM directory; LIVE syncs it and is protected again.
reprotect() {
	local back=$1 live=$2 sync skipped before
	lab_start "$back" standby
	lab_wait 120 state_is "$live" protected ||
		fail "$live never protected again: state $(lab_field "$live" state): $(tail -5 "$LAB_DIR/$live.log")"
	grep -a -q "PROTECTED AGAIN" "$LAB_DIR/$live.log" || fail "$live did not log PROTECTED AGAIN"
	sync=$(lab_field "$live" sync_bytes)
	skipped=$(lab_field "$live" sync_skipped_bytes)
	[ -n "$sync" ] && [ "$sync" -lt $(( DISK_BYTES / 10 )) ] ||
		fail "the resync of $back sent $sync disk bytes, not under 10 % of $DISK_BYTES"
	[ -n "$skipped" ] && [ "$skipped" -gt 0 ] || fail "the resync skipped no block on $back"
	before=$(lab_replies "$LOG")
	lab_wait 60 replies_grow "$before" || fail "no replies once $live was protected again"
	# The next take_over kills $live: $back can take over only once its
	# corosync has seen $live's node (wait_for_all: a node that never saw
	# its peer is not quorate, and its peer can never leave its group).
	# "PROTECTED AGAIN" can come first: the sync is quicker than the merge.
	lab_wait 60 both_members "$back" "$live" ||
		fail "$back and $live never saw each other in corosync: $(lab_field "$back" peer_state)"
	# ...and the primary says so: a notice at PROTECTED AGAIN if the
	# standby was not a member yet, and a notice once it is
	lab_wait 10 joined_as_said "$live" ||
		fail "$live said $back was not yet a member but never that it joined"
	[ "$(lab_field "$live" takeover)" = yes ] ||
		fail "$live's status: $(lab_ctl "$live" status --json | grep -o '"takeover":"[^"]*"')"
	note "$back back as a standby: $live protected again; resync sent $sync disk bytes," \
	     "$skipped already on $back"
}

# switch_over ON FROM TO: `understudy switchover` on host ON moves the VM
# from FROM to TO, which FROM then protects with no sync and no fence.
switch_over() {
	local on=$1 from=$2 to=$3 before out n f fenced
	before=$(lab_replies "$LOG")
	fenced=$(cat "$LAB_DIR"/h?.log | grep -a -c "FENCED\|TAKEOVER")
	out=$(lab_ctl "$on" switchover 2>&1) || fail "switchover on $on refused: $out"
	lab_wait 60 role_is "$to" primary || fail "$to did not become the primary: $(tail -3 "$LAB_DIR/$to.log")"
	lab_wait 60 role_is "$from" standby || fail "$from did not become the standby: $(tail -3 "$LAB_DIR/$from.log")"
	lab_wait 60 state_is "$to" protected ||
		fail "$to never protected after the switchover: $(lab_field "$to" state): $(tail -5 "$LAB_DIR/$to.log")"
	lab_wait 60 replies_grow "$before" || fail "no replies after the switchover to $to: $(cat "$LOG.err")"
	for f in syncs sync_ram_bytes sync_bytes; do
		n=$(lab_field "$to" "$f")
		[ "${n:-0}" = 0 ] || fail "the switchover to $to made a sync: $f = $n"
	done
	n=$(lab_field "$from" sync_pages)
	[ "$n" = 0 ] || fail "$from (the new standby) received $n sync pages"
	[ "$(cat "$LAB_DIR"/h?.log | grep -a -c "FENCED\|TAKEOVER")" = "$fenced" ] ||
		fail "the switchover fenced or took over"
	PAUSES="$PAUSES $(lab_field "$to" switch_pause_ms)"
	note "switchover asked on $on: $from -> $to, guest paused $(lab_field "$to" switch_pause_ms) ms," \
	     "no sync; replies going on"
}

lab_up || fail "cannot build the lab"
LOG=$LAB_DIR/client.log
lab_protected_pair "$LOG" || fail "no protected pair"
lab_wait 60 lab_acked_at_least 1 || fail "the first pair never committed an epoch"

take_over hA hB
state_is hB unprotected || state_is hB syncing || fail "hB's state after the takeover: $(lab_field hB state)"
reprotect hA hB
take_over hB hA
reprotect hB hA
PAUSES=''
switch_over hA hA hB
switch_over hA hB hA
switch_over hA hA hB

# 5. in doubt: the standby stops answering during the switchover
kill -STOP "$(lab_daemon_pid hA)"
lab_ctl hB switchover > "$LAB_DIR/indoubt.out" 2>&1 &
sw=$!
lab_wait 60 grep -a -q "switchover abandoned" "$LAB_DIR/hB.log" ||
	fail "hB did not abandon the switchover: $(tail -5 "$LAB_DIR/hB.log")"
wait "$sw" && fail "the switchover in doubt reported success: $(cat "$LAB_DIR/indoubt.out")"
grep -q "switchover abandoned" "$LAB_DIR/indoubt.out" ||
	fail "the operator was not told: $(cat "$LAB_DIR/indoubt.out")"
fenced=$(grep -a -n 'FENCED node hA' "$LAB_DIR/hB.log" | tail -n 1 | cut -d: -f1)
abandoned=$(lab_line_no "$LAB_DIR/hB.log" 'switchover abandoned')
asked=$(grep -a -n 'switchover of VM' "$LAB_DIR/hB.log" | tail -n 1 | cut -d: -f1)
[ -n "$fenced" ] && [ "$fenced" -gt "$asked" ] && [ "$fenced" -lt "$abandoned" ] ||
	fail "hB resumed the guest before hA was fenced (FENCED line ${fenced:-none}, resumed line $abandoned)"
before=$(lab_replies "$LOG")
lab_wait 60 replies_grow "$before" || fail "no replies after the abandoned switchover"
note "switchover in doubt: hB kept the guest stopped until hA was fenced, then: $(cat "$LAB_DIR/indoubt.out")"
kill -TERM "$LAB_CLIENT_PID"
wait "$LAB_CLIENT_PID" || fail "client exit $?: $(cat "$LOG.err")"
lab_replies_in_order "$LOG" ||
	fail "replies are not 1, 2, 3, ...: $(awk '{print $2}' "$LOG" | tr '\n' ' ' | cut -c1-300)"
sleep 1	# the request the client had sent is answered (on disk) by now
# 6. with its standby gone, a switchover is refused, saying why, and changes nothing
lab_kill_host hA
out=$(lab_ctl hB switchover 2>&1) && fail "switchover without a standby accepted: $out"
echo "$out" | grep -q "no standby is connected\|not in sync" || fail "switchover refused without a reason: $out"
role_is hB primary || fail "a refused switchover changed hB's role: $(lab_field hB role)"
note "without a standby: $out"
lab_stop_host hB
last=$(tail -n 1 "$LOG" | awk '{ print $2 }')
out=$("$LEDGERCHECK" "$(lab_disk hB)" --min "$last" --max $(( last + 1 )) 2>&1) ||
	fail "hB's image at the end, the client's last reply $last: $out"
echo "PASS: two takeovers, two reprotections, three switchovers (guest pauses, ms:$PAUSES)" \
     "and one in doubt on one connection, $last replies in order; hB's image: $out"
