#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Degraded mode, with real QEMU, tap and bridge: the standby host dies (every
# process of hB SIGKILLed) while a client on hC talks to the guest. The
# primary holds the guest's output until the configured grace period has
# passed (no ACKs means nothing committed), then runs unprotected: output
# flows again without ACKs, `understudy status` says degraded, and the
# client's connection and reply sequence 1, 2, 3, ... are intact.
set -u
. "$(dirname "$0")/../lib/common.sh"
LAB_NIC=1
LAB_APPEND="us.run=service"
. "$top_srcdir/tests/lib/lab.sh"
CLIENT=$top_builddir/tests/tools/reqclient
trap lab_down EXIT
[ -x "$CLIENT" ] || fail "$CLIENT not built"

log=$LAB_DIR/client.log

lab_up || fail "cannot build the lab"
lab_start hB standby
lab_wait 30 lab_field hB state >/dev/null || fail "standby did not start"
lab_start hA primary
ip netns exec "$(lab_ns hC)" "$CLIENT" "$LAB_GUEST_IP" 7777 600 "$log" 2> "$LAB_DIR/client.err" &
pid=$!
lab_wait 180 lab_replies_at_least "$log" 20 || fail "no replies: $(cat "$LAB_DIR/client.err")"
[ "$(lab_field hA degraded)" = false ] || fail "degraded while protected"
lab_kill_host hB
n0=$(lab_replies "$log")
sleep 1
n1=$(lab_replies "$log")
[ "$n1" -le $(( n0 + 1 )) ] || fail "output flowed before the grace period: $n0 -> $n1"
lab_wait 30 lab_replies_at_least "$log" $(( n1 + 20 )) || fail "output never resumed unprotected"
[ "$(lab_field hA degraded)" = true ] || fail "status does not say degraded"
[ "$(lab_field hA state)" = degraded ] || fail "state is $(lab_field hA state)"
grep -q 'DEGRADED' "$LAB_DIR/hA.log" || fail "no loud log line"
kill -TERM "$pid"
wait "$pid" || fail "client: $(cat "$LAB_DIR/client.err")"
lab_replies_in_order "$log" >&2 || fail "replies are not 1, 2, 3, ..."
note "held $n0 -> $n1 replies in the first second without a standby, then $(lab_replies "$log") in all"
echo "PASS: primary degraded after the grace period, output flows, connection intact"
