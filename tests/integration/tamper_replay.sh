#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A hostile network inside a protected, keyed session (issue 13), part 2
# (tamper_stream.sh has the set-up in words): the proxy records an epoch
# of the first session, then
#  1. forges an ACK: the standby's real ACK of an epoch is withheld and the
#     primary gets one with a made-up tag in its place: the primary refuses
#     it, never counts the epoch acknowledged, and its output stays held (no
#     reply reaches the client on hC) until its grace period ends; then it
#     protects the guest again through the proxy, in a second session;
#  2. replays the recorded epoch of the first session into the second,
#     while the primary is paused at a committed epoch E: refused on both
#     sides, the replica byte for byte as at E.
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

# 1. a forged ACK: the held output stays held
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
note "forge-ack: refused, output held ($held replies, none until DEGRADED), acked $acked < $f"
tamper_reprotected || fail "forge-ack: the primary did not protect the guest again"

# 2. an epoch of the first session replayed into this one
e=$(tamper_snapshot) || fail "no committed epoch to start from"
tamper block >/dev/null || fail "block"
tamper_mark
out=$(tamper replay-epoch) || fail "replay-epoch: $out"
case $out in *"of session 1 into session 1") fail "replay-epoch: not a later session: $out" ;; esac
tamper_logged hB "$REFUSED [A-Z_]+ of epoch $rec" || fail "replay-epoch: the standby did not refuse epoch $rec"
tamper_logged hA "standby .* refused: $REFUSED [A-Z_]+ of epoch $rec" ||
	fail "replay-epoch: the primary does not say why"
tamper_replica_same "$e" || fail "replay-epoch: the replica is not as at epoch $e"
note "replay of epoch $rec: refused on both sides, replica as at epoch $e"

kill "$LAB_CLIENT_PID" 2>/dev/null
lab_replies_in_order "$CLIENT" || fail "the client's replies are not in order"
echo "PASS: a forged ACK refused with the output held, an earlier session's epoch refused, replica exact"
