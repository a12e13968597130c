#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A hostile network inside a protected, keyed session (issue 13): the
# tampering proxy (tests/lib/tamper.sh) sits on the replication link between
# hA's primary and hB's standby, both with the same key; a client on hC
# talks to the guest (counter service, and the dirtier so that an epoch has
# many PAGES messages). Each step starts from a committed epoch E (the
# primary paused at it, the replica checked equal to its RAM and copied),
# makes the fault, then checks that the standby still holds E byte for byte,
# that both daemons' logs say why (the peer and the cause), and lets the
# primary protect the guest again through the proxy:
#  1. one bit flipped in the third PAGES message of epoch E+1 (mid-epoch);
#  2. a made-up PAGES injected out of sequence while the primary is paused;
#  3. an epoch recorded in the first session replayed into a later one;
#  4. a forged ACK sent to the primary in place of the standby's real one:
#     the primary refuses it, its output stays held (no reply reaches the
#     client on hC) until the grace period ends, and it never counts the
#     epoch acknowledged.
set -u
. "$(dirname "$0")/../lib/common.sh"
LAB_NIC=1
LAB_APPEND="us.run=service,dirtier us.dirty=2000 us.dirty_mb=32"
. "$top_srcdir/tests/lib/lab.sh"
. "$top_srcdir/tests/lib/tamper.sh"
trap 'tamper_down; lab_down' EXIT
CLIENT=$LAB_DIR/client.log
# what the standby logs of a message that fails its tag
REFUSED="authentication tag mismatch on"

lab_up || fail "cannot build the lab"
tamper_up || fail "cannot start the tampering proxy"
tamper_pair "$CLIENT" || fail "the keyed pair did not come up through the proxy"
tamper record >/dev/null || fail "record: $(tamper record)"
lab_wait 30 tamper_recorded || fail "the proxy recorded no epoch: $(tamper stats)"
rec=$(tamper_stat recorded_epoch)

# after_fault E WHAT: the standby still holds E, byte for byte; then back to protected
after_fault() {
	local e=$1 what=$2
	tamper_replica_same "$e" || fail "$what: the replica is not as at epoch $e"
	lab_ctl hA resume >/dev/null 2>&1
	tamper_reprotected || fail "$what: the primary did not protect the guest again"
	note "$what: refused on both sides, replica as at epoch $e, protected again"
}

# 1. a flipped bit in one page, mid-epoch
e=$(tamper_snapshot) || fail "no committed epoch to start from"
tamper block >/dev/null && tamper flip PAGES 3 >/dev/null || fail "cannot arm the flip"
tamper_mark
lab_ctl hA resume >/dev/null || fail "resume failed"
tamper_logged hB "$REFUSED PAGES of epoch $((e + 1))" ||
	fail "flip: the standby did not refuse the altered PAGES of epoch $((e + 1)) ($(tamper_stat last))"
[ "$(tamper_stat last)" = "flip:PAGES:$((e + 1))" ] ||
	fail "flip: the proxy flipped $(tamper_stat last), not a PAGES of epoch $((e + 1))"
tamper_logged hA "standby $(lab_ip hB):7301 refused: $REFUSED PAGES of epoch $((e + 1))" ||
	fail "flip: the primary does not say why the standby left"
tamper_replica_same "$e" || fail "flip: the replica is not as at epoch $e"
tamper_reprotected || fail "flip: the primary did not protect the guest again"
note "flip: refused on both sides, replica as at epoch $e, protected again"

# 2. a message injected out of sequence (the guest paused: nothing else moves)
e=$(tamper_snapshot) || fail "no committed epoch to start from"
tamper block >/dev/null || fail "block"
tamper_mark
tamper inject PAGES >/dev/null || fail "inject: $(tamper inject PAGES)"
tamper_logged hB "$REFUSED PAGES of epoch $((e + 1))" || fail "inject: the standby did not refuse it"
tamper_logged hA "standby .* refused: $REFUSED PAGES" || fail "inject: the primary does not say why"
after_fault "$e" inject

# 3. an epoch of the first session replayed into this one
e=$(tamper_snapshot) || fail "no committed epoch to start from"
tamper block >/dev/null || fail "block"
tamper_mark
out=$(tamper replay-epoch) || fail "replay-epoch: $out"
case $out in *"of session 1 into session 1") fail "replay-epoch: not a later session: $out" ;; esac
tamper_logged hB "$REFUSED [A-Z_]+ of epoch $rec" || fail "replay-epoch: the standby did not refuse epoch $rec"
tamper_logged hA "standby .* refused: $REFUSED [A-Z_]+ of epoch $rec" ||
	fail "replay-epoch: the primary does not say why"
after_fault "$e" "replay of epoch $rec"

# 4. a forged ACK: the held output stays held
tamper block >/dev/null || fail "block"
tamper_mark
tamper forge-ack >/dev/null || fail "forge-ack"
tamper_logged hA "$REFUSED ACK of epoch" || fail "forge-ack: the primary did not refuse the forged ACK"
f=$(tamper_stat last)
f=${f##*:}
tamper_logged hA "$REFUSED ACK of epoch $f" || fail "forge-ack: the refused ACK is not the forged one ($f)"
tamper_logged hB "primary .* refused: $REFUSED ACK of epoch $f" ||
	fail "forge-ack: the standby does not say why the primary left"
sleep 1 # replies released by the real ACKs before it are on their way
held=$(lab_replies "$CLIENT")
# until the grace period ends (DEGRADED), not one reply: counted first, then
# the log looked at, so a count taken is always from before the release
deadline=$(( $(date +%s) + TAMPER_GRACE_MS / 1000 + 30 ))
while :; do
	now=$(lab_replies "$CLIENT")
	tamper_grep hA DEGRADED && break
	[ "$now" = "$held" ] || fail "forge-ack: $((now - held)) replies reached the client while its output was held"
	[ "$(date +%s)" -lt "$deadline" ] || fail "forge-ack: the primary never degraded"
	sleep 0.2
done
acked=$(lab_field hA acked)
[ "$acked" -lt "$f" ] || fail "forge-ack: the primary counts epoch $f acknowledged ($acked)"
lab_wait 30 lab_replies_at_least "$CLIENT" $((held + 1)) || fail "forge-ack: no reply after the grace period"
tamper_reprotected || fail "forge-ack: the primary did not protect the guest again"
note "forge-ack: refused, output held ($held replies, none until DEGRADED), acked $acked < $f"

kill "$LAB_CLIENT_PID" 2>/dev/null
lab_replies_in_order "$CLIENT" || fail "the client's replies are not in order"
echo "PASS: flipped, injected, replayed and forged messages refused, replica exact, output held"
