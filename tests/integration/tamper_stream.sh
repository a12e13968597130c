#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A hostile network inside a protected, keyed session (issue 13), part 1:
# the tampering proxy (tests/lib/tamper.sh) sits on the replication link
# between hA's primary and hB's standby, both with the same key; a client on
# hC talks to the guest's TCP service (the dirtier runs too, so that an
# epoch has many PAGES messages). Each step starts from a committed epoch E
# (the primary paused at it, the replica checked equal to its RAM and
# copied), makes the fault, then checks that the standby still holds E byte
# for byte and that both daemons' logs say why (the peer, the message, the
# cause):
#  1. one bit flipped in the first PAGES message of epoch E+1 (mid-epoch);
#     then the primary protects the guest again through the proxy;
#  2. a made-up PAGES injected out of sequence while the primary is paused.
# tamper_replay.sh has the replayed epoch and the forged ACK.
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

# 1. a flipped bit in one page, mid-epoch: the first PAGES after resume (since
# protocol 9 an epoch may be a single PAGES message, so a later one can be e + 2)
e=$(tamper_snapshot) || fail "no committed epoch to start from"
tamper block >/dev/null && tamper flip PAGES 1 >/dev/null || fail "cannot arm the flip"
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
tamper_replica_same "$e" || fail "inject: the replica is not as at epoch $e"
note "inject: refused on both sides, replica as at epoch $e"

kill "$LAB_CLIENT_PID" 2>/dev/null
lab_replies_in_order "$CLIENT" || fail "the client's replies are not in order"
echo "PASS: a flipped bit mid-epoch and an injected message refused on both sides, replica exact"
