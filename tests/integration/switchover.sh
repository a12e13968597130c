#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Planned switchover, three times, on one client connection: real QEMU (TCG),
# a real corosync per host with the lab's fence agent, the guest's `ledger`
# on a replicated 64 MiB disk, a client on hC holding one TCP connection.
#  1. `understudy switchover` on hA (the primary): the guest stops at an
#     epoch boundary on hA and goes on on hB; hA's daemon becomes hB's
#     standby without restarting, and hB is protected again with no sync:
#     hB's syncs, sync_ram_bytes and disk sync_bytes stay 0 and hA's
#     receiver took no sync pages (a switchover sends epochs, not an image).
#     No host is fenced, no TAKEOVER happens.
#  2. `understudy switchover` on hA again, now the standby: it asks hB, and
#     the VM moves back the same way.
#  3. once more from hA (the primary again).
#  4. with hA stopped, a switchover on hB is refused, naming the cause, and
#     hB stays the primary.
# Each time the guest's pause (the new primary's switch_pause_ms) is noted
# beside the epoch pause. At the end the replies are exactly 1, 2, 3, ...,
# and hA's image holds ledger records 1..N, N the client's last reply.
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

state_is() { [ "$(lab_field "$1" state)" = "$2" ]; }
role_is() { [ "$(lab_field "$1" role)" = "$2" ]; }
replies_grow() { lab_replies_at_least "$LOG" $(( $1 + 5 )); }

# switch_over ON FROM TO: run `understudy switchover` on host ON; the VM
# moves from FROM to TO, which is protected by FROM with no sync.
switch_over() {
	local on=$1 from=$2 to=$3 before out n
	before=$(lab_replies "$LOG")
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
	! grep -a -q "TAKEOVER\|FENCED" "$LAB_DIR/hA.log" "$LAB_DIR/hB.log" ||
		fail "a switchover fenced or took over: $(grep -a -h 'TAKEOVER\|FENCED' "$LAB_DIR"/h?.log)"
	PAUSES="$PAUSES $(lab_field "$to" switch_pause_ms)"
	note "switchover asked on $on: $from -> $to at epoch $(lab_field "$to" acked | head -1)," \
	     "guest paused $(lab_field "$to" switch_pause_ms) ms; replies going on"
}

lab_up || fail "cannot build the lab"
LOG=$LAB_DIR/client.log
PAUSES=''
lab_protected_pair "$LOG" || fail "no protected pair"
lab_wait 60 lab_acked_at_least 1 || fail "the pair never committed an epoch"

switch_over hA hA hB
switch_over hA hB hA
switch_over hA hA hB

kill -TERM "$LAB_CLIENT_PID"
wait "$LAB_CLIENT_PID" || fail "client exit $?: $(cat "$LOG.err")"
lab_replies_in_order "$LOG" ||
	fail "replies are not 1, 2, 3, ...: $(awk '{print $2}' "$LOG" | tr '\n' ' ' | cut -c1-300)"
sleep 1
# with its standby gone, a switchover is refused, saying why, and changes nothing
lab_stop_host hA
out=$(lab_ctl hB switchover 2>&1) && fail "switchover without a standby accepted: $out"
echo "$out" | grep -q "no standby is connected\|not in sync" || fail "switchover refused without a reason: $out"
role_is hB primary || fail "a refused switchover changed hB's role: $(lab_field hB role)"
note "without a standby: $out"
lab_stop_host hB
last=$(tail -n 1 "$LOG" | awk '{ print $2 }')
out=$("$LEDGERCHECK" "$(lab_disk hB)" --min "$last" --max $(( last + 1 )) 2>&1) ||
	fail "hB's image at the end, the client's last reply $last: $out"
echo "PASS: three switchovers with no sync and no fence on one connection, $last replies in" \
     "order; guest pauses (ms):$PAUSES; hB's image: $out"
