#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Corosync membership with real corosync on hA and hB (lab/corosync.sh)
# and tests/tools/hbprobe running heartbeat/membership on each host:
#  1. both probes see the other join, with its node name, role and epoch,
#     and the cluster is quorate; the status JSON lists the peer;
#  2. fencing hB (lab/fence_lab.sh: every process of hB killed) makes hA's probe report hB left
#     (the kill-to-report time is printed with the token used) while hA
#     stays quorate (two_node: which is why promotion needs fencing);
#  3. hB back, then the replication link cut: both sides see the other leave
#     (and stay quorate); hA's probe runs heartbeat/fence with the lab's fence
#     agent, which leaves hB without a single process;
#  4. restarting corosync on hA makes its probe report disconnected, then
#     reconnected once corosync is back.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
PROBE=$top_builddir/tests/tools/hbprobe
fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "# $*" >&2; }

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespaces)" >&2; exit 77; }
command -v corosync >/dev/null || fail "corosync missing: apt-get install corosync"
[ -x "$PROBE" ] || fail "$PROBE not built: run make check"
CS_TOKEN=${CS_TOKEN:-300}
. "$top_srcdir/tests/lib/lab.sh"

trap 'cs_cleanup; lab_down' EXIT

out() { echo "$LAB_DIR/$1/probe.out"; }
has_line() { grep -q -E "$2" "$(out "$1")" 2>/dev/null; }
wait_line() { lab_wait "$3" has_line "$1" "$2"; }
# line_ms H REGEX [N]: the time stamp of the Nth line matching
line_ms() { grep -E "$2" "$(out "$1")" | sed -n "${3:-1}p" | sed 's/.* t=//'; }
count() { grep -c -E "$2" "$(out "$1")" 2>/dev/null; }
at_least() { [ "$(count "$1" "$2")" -ge "$3" ]; }
FENCE="$LAB_HOME/fence_lab.sh $LAB_PFX"
# probe H ROLE EPOCH [FENCE]: start hbprobe on host H; it fences with FENCE
probe() {
	ip netns exec "$(lab_ns "$1")" env HBPROBE_FENCE="${4:-}" "$PROBE" "$LAB_VM" "$1" "$2" "$3" > "$(out "$1")" 2> "$LAB_DIR/$1/probe.err" &
	echo $! > "$LAB_DIR/$1/probe.pid"
}
why() { echo "$(tail -5 "$LAB_DIR/$1/corosync.log" 2>/dev/null) / $(tail -5 "$LAB_DIR/$1/probe.err" 2>/dev/null)"; }

lab_up || fail "cannot build the lab"
cs_start hA || fail "cannot start corosync on hA"
cs_start hB || fail "cannot start corosync on hB"
cs_wait_members hA 2 30 || fail "corosync did not form a two-node membership: $(why hA)"

# 1. join
probe hA primary 7 "$FENCE"
probe hB standby 5
wait_line hA '^joined 2 hB standby 5 ' 20 || fail "hA never saw hB join: $(why hA)"
wait_line hB '^joined 1 hA primary 7 ' 20 || fail "hB never saw hA join: $(why hB)"
wait_line hA '^quorum 1 ' 10 || fail "hA's probe never reported quorum: $(why hA)"
kill -USR1 "$(cat "$LAB_DIR/hA/probe.pid")"
wait_line hA '^status ' 10 || fail "no status from hA's probe"
has_line hA '^status .*"connected":true.*"name":"hB","role":"standby","epoch":5' ||
	fail "status misses hB: $(grep '^status' "$(out hA)")"

# 2. standby host dies: hA fences it with the lab's fence agent
t0=$(date +%s%3N)
lab_exec hA "$LAB_HOME/fence_lab.sh" "$LAB_PFX" hB || fail "the lab fence agent failed"
[ -z "$(ip netns pids "$(lab_ns hB)")" ] || fail "hB still has processes after fencing"
wait_line hA '^left 2 hB ' 30 || fail "hA's probe never reported hB left: $(why hA)"
ms=$(( $(line_ms hA '^left 2 hB ') - t0 ))
note "kill of hB -> peer_left on hA: $ms ms ($(grep '^left' "$(out hA)" | cut -d' ' -f4), token $CS_TOKEN ms)"
has_line hA '^quorum 0 ' && fail "hA lost quorum when hB died: two_node should keep it"
# hA's probe fences a peer that left with nodedown (here already off): let
# that finish before hB comes back
settled() { at_least hA '^fenced hB 0 ' 1 || has_line hA '^left 2 hB procdown '; }
lab_wait 30 settled || fail "hA's probe neither fenced the dead hB nor saw procdown: $(why hA)"

# 3. hB back, then a partition: hA fences hB
cs_start hB || fail "cannot restart corosync on hB"
cs_wait_members hA 2 30 || fail "hB's corosync did not rejoin: $(why hB)"
probe hB standby 6
lab_wait 20 at_least hA '^joined 2 hB standby 6 ' 1 || fail "hA never saw hB rejoin: $(why hA)"
nf=$(( $(count hA '^fenced hB 0 ') + 1 ))
t0=$(date +%s%3N)
lab_exec hA ip link set "${LAB_PFX}a" down
lab_wait 30 at_least hA '^left 2 hB ' 2 || fail "hA did not see hB leave on a partition: $(why hA)"
lab_wait 30 at_least hA '^fenced hB 0 ' "$nf" || fail "hA did not fence hB: $(grep fenc "$(out hA)") $(why hA)"
[ -z "$(ip netns pids "$(lab_ns hB)")" ] || fail "hB still has processes after fencing"
has_line hA '^quorum 0 ' && fail "hA lost quorum on the partition"
note "partition -> peer_left on hA: $(( $(line_ms hA '^left 2 hB ' 2) - t0 )) ms, -> fenced: $(( $(line_ms hA '^fenced hB 0 ' "$nf") - t0 )) ms"

# 4. corosync restarts under hA's probe
cs_stop hA
wait_line hA '^disconnected ' 20 || fail "hA's probe did not notice corosync stop: $(why hA)"
cs_start hA || fail "cannot restart corosync on hA"
wait_line hA '^reconnected ' 30 || fail "hA's probe did not reconnect: $(why hA)"
note "restart: $(grep -E '^(disconnected|reconnected)' "$(out hA)" | tr '\n' ' ')"
exit 0
