#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/silence_soak: does [failover] decide = silence take over when nothing
# failed? A protected pair in the fast mode runs for SECONDS under load (the
# guest's service answering a client on hC as fast as it can, and its
# dirtier writing SOAK_DIRTY pages/s), with real QEMU (TCG) and a corosync
# per host, and nobody kills anything. Every fence the standby starts is a
# false suspicion and every takeover an unneeded one; after one the pair is
# set up again and the soak goes on until SECONDS of protected time passed.
# The standby logs each quiet spell of the live stream of 100 ms or more
# while it is promotable ("stream was quiet for N ms", as it heard it: its
# own stalls forgiven):
# the table counts them against thresholds, which is the margin silence_ms
# has. Baseline from the same run: the stalls this machine imposes on a plain
# process (a shell on the host sleeping 10 ms at a time, its oversleep).
# Usage (root): bench/silence_soak.sh [SECONDS]   (default 1800, after ./scripts/build.sh)
#   LAB_SILENCE_MS=MS  the silence_ms under test (default: the daemon's)
#   SOAK_DIRTY=N       the dirtier's pages per second (default 20000)
#   SOAK_OUT=DIR       keep quiet.txt (spells, ms), stalls.txt and the daemons' logs there
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export top_srcdir=$top top_builddir=${top_builddir:-$top/build}
. "$top/tests/lib/common.sh"
SECONDS_WANTED=${1:-1800}
DIRTY=${SOAK_DIRTY:-20000}
LAB_NIC=1
LAB_APPEND="us.run=service,dirtier us.dirty=$DIRTY us.dirty_mb=48"
LAB_COROSYNC=1
LAB_DECIDE=silence
LAB_PEER_TIMEOUT_MS=${LAB_PEER_TIMEOUT_MS:-5000}
. "$top/tests/lib/lab.sh"
PROBE_PID=''
cleanup() {
	[ -z "$PROBE_PID" ] || kill "$PROBE_PID" 2>/dev/null
	lab_down
}
trap cleanup EXIT
[ -x "$top_builddir/tests/tools/reqclient" ] || fail "reqclient not built: make check TESTS="

# probe FILE: every 10 ms, append how much longer than 10 ms a sleep took
# when that exceeds 50 ms (a stall of this machine), no fork per sleep.
probe() {
	local fifo=$LAB_DIR/probe.fifo t0 t1 late fd
	mkfifo "$fifo" && exec {fd}<>"$fifo"
	t0=${EPOCHREALTIME//[!0-9]/}
	while :; do
		read -r -t 0.01 -u "$fd"
		t1=${EPOCHREALTIME//[!0-9]/}
		late=$(( (t1 - t0) / 1000 - 10 ))
		(( late >= 50 )) && echo "$late" >> "$1"
		t0=$t1
	done
}

# soak_pair N: one protected pair until the deadline or a fence; adds the
# protected seconds to PROTECTED, counts FENCES and TAKEOVERS.
soak_pair() {
	local log=$LAB_DIR/client-$1.log t0 now
	lab_protected_pair "$log" || { SETUP_FAILS=$(( SETUP_FAILS + 1 )); lab_stop_host hA; lab_stop_host hB; return 0; }
	t0=$(date +%s)
	while now=$(date +%s); (( PROTECTED + now - t0 < SECONDS_WANTED )); do
		grep -q 'fencing node' "$LAB_DIR/hB.log" && break
		sleep 1
	done
	PROTECTED=$(( PROTECTED + $(date +%s) - t0 ))
	if grep -q 'fencing node' "$LAB_DIR/hB.log"; then
		FENCES=$(( FENCES + 1 ))
		lab_wait 30 lab_runs_vm hB && TAKEOVERS=$(( TAKEOVERS + 1 ))
		note "pair $1: FALSE SUSPICION after $(( $(date +%s) - t0 )) s: $(grep -a -m1 'silent for' "$LAB_DIR/hB.log")"
	fi
	REPLIES=$(( REPLIES + $(lab_replies "$log") ))
	kill -TERM "$LAB_CLIENT_PID" 2>/dev/null; wait "$LAB_CLIENT_PID" 2>/dev/null
	lab_replies_in_order "$log" >/dev/null || BAD_ORDER=$(( BAD_ORDER + 1 ))
	grep -a -o 'stream was quiet for [0-9]* ms' "$LAB_DIR/hB.log" | awk '{print $5}' >> "$LAB_DIR/quiet.txt"
	lab_stop_host hA; lab_stop_host hB
	mv "$LAB_DIR/hB.log" "$LAB_DIR/hB-$1.log"; mv "$LAB_DIR/hA.log" "$LAB_DIR/hA-$1.log"
}

# at_least FILE MS: how many values in FILE are >= MS.
at_least() { awk -v m="$2" '$1 >= m { n++ } END { print n + 0 }' "$1" 2>/dev/null || echo 0; }
longest() { sort -n "$1" 2>/dev/null | tail -1 | grep . || echo 0; }

lab_up || fail "cannot create the lab"
: > "$LAB_DIR/quiet.txt"; : > "$LAB_DIR/stalls.txt"
probe "$LAB_DIR/stalls.txt" & PROBE_PID=$!
PROTECTED=0 FENCES=0 TAKEOVERS=0 REPLIES=0 BAD_ORDER=0 SETUP_FAILS=0 n=0 SILENCE='?'
while (( PROTECTED < SECONDS_WANTED )); do
	n=$(( n + 1 ))
	(( n > 50 )) && fail "50 pairs and still not $SECONDS_WANTED s of protected time"
	soak_pair "$n"
	SILENCE=$(grep -a -m1 -o 'silence_ms [0-9]*' "$LAB_DIR"/hB-*.log 2>/dev/null | head -1 | awk '{print $2}')
done
kill "$PROBE_PID" 2>/dev/null; PROBE_PID=''
[ -z "${SOAK_OUT:-}" ] || { mkdir -p "$SOAK_OUT" && cp "$LAB_DIR/quiet.txt" "$LAB_DIR/stalls.txt" \
	"$LAB_DIR"/h[AB]-*.log "$SOAK_OUT/"; }
printf '%-58s %10s\n' "measure (decide = silence, silence_ms ${LAB_SILENCE_MS:-default}, under load)" value
printf '%-58s %10s\n' "protected time soaked, s" "$PROTECTED"
printf '%-58s %10s\n' "false suspicions (fence started, nothing had failed)" "$FENCES"
printf '%-58s %10s\n' "unneeded takeovers" "$TAKEOVERS"
printf '%-58s %10s\n' "client replies (pairs with replies out of order: $BAD_ORDER)" "$REPLIES"
for ms in 100 150 200 300 500 1000; do
	printf '%-58s %10s\n' "standby: quiet spells of the live stream >= $ms ms" "$(at_least "$LAB_DIR/quiet.txt" "$ms")"
done
printf '%-58s %10s\n' "standby: longest quiet spell, ms" "$(longest "$LAB_DIR/quiet.txt")"
for ms in 100 150 200 300 500 1000; do
	printf '%-58s %10s\n' "baseline: this machine's stalls of a plain process >= $ms ms" "$(at_least "$LAB_DIR/stalls.txt" "$ms")"
done
printf '%-58s %10s\n' "baseline: longest stall of a plain process, ms" "$(longest "$LAB_DIR/stalls.txt")"
echo "silence_ms in force: ${SILENCE:-?} (the standby's log); dirtier $DIRTY pages/s; pairs set up" \
     "$n ($SETUP_FAILS failed to form, not counted); quiet spells are as the standby heard them" \
     "(looks every <= 20 ms, its own stalls of silence_ms / 2 forgiven); QEMU under TCG on a" \
     "shared machine."
[ "$BAD_ORDER" = 0 ] || fail "a client saw replies out of order"
