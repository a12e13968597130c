#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/failover: how long the primary host's death costs, over ROUNDS host
# kills in each decision mode, p50, p99 and max. The scenario of tests/
# integration/failover_tcp.sh: real QEMU (TCG), a corosync per host, a client
# on hC sending increments on one TCP connection; at a random moment every
# process of hA gets SIGKILL and the standby promotes
#  - decide = membership (the default): once corosync says hA left and the
#    lab's fence agent has emptied hA;
#  - decide = silence (the fast mode): once the stream was silent for
#    silence_ms (LAB_SILENCE_MS, else the daemon's default), which starts the
#    fence at once, and the fence agent has emptied hA.
# Both modes run in one invocation, alternating round by round, so each is
# the other's same-run baseline. Per round, on the wall clock
# (CLOCK_REALTIME, microseconds):
#  - kill: stamped just before the SIGKILLs are sent;
#  - standby running: when the standby's "TAKEOVER:" line (written after its
#    QEMU answered cont and announce-self) appears in its log, polled every
#    5 ms without forking: an upper bound, late by at most one poll;
#  - first reply: the client logs milliseconds since its first reply on the
#    monotonic clock; each reply seen by the same poll gives an upper bound of
#    that first reply on the wall clock, and the earliest bound over the round
#    maps every reply onto the wall clock (to about a millisecond). Replies
#    earlier than 100 ms after the kill were in flight from hA (its daemon,
#    which releases output, died at the kill).
# Also the standby's own takeover_ms (last message from the primary to guest
# running) and the reply gap spanning the kill. Baseline from the same run:
# the client's inter-reply gaps while protected, before the kill.
# Usage (root): bench/failover.sh [ROUNDS]   (after ./scripts/build.sh)
#   MODES="membership silence" (the default) chooses the modes.
#   FAILOVER_PLOT=FILE.png draws, one panel per mode, each round's kill ->
#   standby running and kill -> first reply (points) with their p50 (dashed
#   lines), from the same run (gnuplot).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export top_srcdir=$top top_builddir=${top_builddir:-$top/build}
. "$top/tests/lib/common.sh"
ROUNDS=${1:-10}
MODES=${MODES:-membership silence}
SEP_MS=100	# replies this long after the kill come from the new primary
LAB_NIC=1
LAB_APPEND="us.run=service"
LAB_COROSYNC=1
LAB_PEER_TIMEOUT_MS=${LAB_PEER_TIMEOUT_MS:-5000}
. "$top/tests/lib/lab.sh"
CLIENT=$top_builddir/tests/tools/reqclient
trap lab_down EXIT
[ -x "$CLIENT" ] || fail "$CLIENT not built: make check TESTS="
lab_up || fail "cannot create the lab"
mkfifo "$LAB_DIR/tick" || fail "cannot make the poll timer fifo in $LAB_DIR"
exec {TICK}<>"$LAB_DIR/tick"

# stamp: NOW = the wall clock in microseconds (no fork).
stamp() { NOW=${EPOCHREALTIME//[!0-9]/}; }

# tick: wait 5 ms (a read from a fifo nobody writes; no fork).
tick() { read -r -t 0.005 -u "$TICK"; }

# follow_client: read the client's new replies; each refines T0, the wall
# clock of its first reply, and counts in AFTER when past the separator SEP.
follow_client() {
	local line ms
	while IFS= read -r -u "$CFD" line; do
		line=$CPART$line CPART=''
		ms=${line%% *}
		stamp
		(( NOW - ms * 1000 < T0 )) && T0=$(( NOW - ms * 1000 ))
		(( T0 + ms * 1000 >= SEP )) && AFTER=$(( AFTER + 1 ))
	done
	CPART=$CPART$line
}

# follow_standby: RUN = when the standby's TAKEOVER line was first seen.
follow_standby() {
	local line
	while IFS= read -r -u "$BFD" line; do
		line=$BPART$line BPART=''
		[[ $RUN = 0 && $line = *"TAKEOVER:"* ]] && { stamp; RUN=$NOW; }
	done
	BPART=$BPART$line
}

# follow_for MS: follow the client for MS milliseconds.
follow_for() {
	local end
	stamp; end=$(( NOW + $1 * 1000 ))
	while stamp; (( NOW < end )); do follow_client; tick; done
}

# follow_takeover: follow both until the standby runs and 5 replies came after.
follow_takeover() {
	local end=$(( KILL + 90000000 ))
	while stamp; (( NOW < end )); do
		follow_standby; follow_client
		(( RUN > 0 && AFTER >= 5 )) && return 0
		tick
	done
	return 1
}

# kill_primary: power hA off (SIGKILL to all its processes), KILL stamped just before.
kill_primary() {
	local pids
	pids=$(ip netns pids "$(lab_ns hA)")
	stamp; KILL=$NOW SEP=$(( NOW + SEP_MS * 1000 ))
	# shellcheck disable=SC2086 # one pid a word
	kill -9 $pids 2>/dev/null
}

# protect LOG: the protected pair and its client (lab_protected_pair), from
# an empty client log: a failed try's replies must not count.
protect() {
	rm -f "$1" "$1.err"
	lab_protected_pair "$1"
}

# protect_retry LOG: protect, up to 3 tries; SETUP_FAILS counts the failed ones.
protect_retry() {
	local try
	for try in 1 2 3; do
		protect "$1" && return 0
		SETUP_FAILS=$(( SETUP_FAILS + 1 ))
		note "round $r: set-up $try of 3 failed; again"
		kill -TERM "$LAB_CLIENT_PID" 2>/dev/null; wait "$LAB_CLIENT_PID" 2>/dev/null
		lab_stop_host hA; lab_stop_host hB
	done
	fail "round $r: no protected pair in 3 tries"
}

# figures TAKEOVER_MS LOG MODE: append this round's figures (ms) to
# rounds-MODE.txt, its gaps to gaps-MODE.txt.
figures() {
	awk -v t0="$T0" -v kill="$KILL" -v sep="$SEP" -v run="$RUN" -v tk="$1" \
	    -v gaps="$LAB_DIR/gaps-$3.txt" '
		{ t = t0 + $1 * 1000 }
		NR > 20 && t < kill { printf "%.3f\n", (t - prev) / 1000 >> gaps }
		t >= sep { printf "%.3f %.3f %s %.3f\n", (run - kill) / 1000,
			   (t - kill) / 1000, tk, (t - prev) / 1000; exit }
		{ prev = t }' "$2" >> "$LAB_DIR/rounds-$3.txt"
}

# decided MODE: the standby's log says the promotion was decided by MODE's rule.
decided() {
	case $1 in
	membership) grep -q 'promotion decided: the primary left the group' "$LAB_DIR/hB.log" ;;
	silence) grep -q "promotion decided: the primary's node is fenced" "$LAB_DIR/hB.log" ;;
	esac
}

round() {
	local mode=$1 log=$LAB_DIR/client-$r-$1.log
	LAB_DECIDE=$mode
	[ "$mode" = membership ] && LAB_DECIDE=''
	protect_retry "$log"
	exec {CFD}<"$log" {BFD}<"$LAB_DIR/hB.log"
	T0=$(( 1 << 62 )) SEP=$(( 1 << 62 )) CPART='' BPART='' AFTER=0 RUN=0
	follow_standby
	follow_for "$(rand_ms 300 3000)"
	kill_primary
	follow_takeover || fail "round $r: no takeover and replies within 90 s: $(tail -3 "$LAB_DIR/hB.log")"
	lab_kill_host hA
	kill -TERM "$LAB_CLIENT_PID"
	wait "$LAB_CLIENT_PID" || fail "round $r: client exit $?: $(cat "$log.err")"
	exec {CFD}<&- {BFD}<&-
	lab_replies_in_order "$log" >/dev/null || fail "round $r: replies not 1, 2, 3, ..."
	decided "$mode" || fail "round $r: the promotion was not decided by decide = $mode: $(grep 'promotion' "$LAB_DIR/hB.log")"
	[ "$mode" = membership ] ||
		SILENCE=$(grep -a -m1 -o 'silence_ms [0-9]*' "$LAB_DIR/hB.log" | cut -d' ' -f2)
	# the new primary's status has no takeover_ms: its TAKEOVER line has
	figures "$(grep -a -o 'guest running [0-9]* ms after' "$LAB_DIR/hB.log" | tail -1 | cut -d' ' -f3)" \
		"$log" "$mode"
	note "round $r, $mode: $(tail -1 "$LAB_DIR/rounds-$mode.txt") (running, first reply, takeover_ms, gap; ms)"
	lab_stop_host hB
}

# stats FILE COLUMN: "p50 p99 max n" of a column (nearest rank).
stats() {
	awk -v c="$2" '{print $c}' "$1" 2>/dev/null | sort -n | awk '{v[NR]=$1} END {
		if (!NR) { printf "%8s %8s %8s %4d", "-", "-", "-", 0; exit }
		i = int(0.99 * NR); if (i < 0.99 * NR) i++
		printf "%8.0f %8.0f %8.0f %4d", v[int((NR-1)/2)+1], v[i], v[NR], NR}'
}

# plot: FAILOVER_PLOT from rounds-MODE.txt (columns 1 and 2, ms), a panel
# per mode on one y scale.
plot() {
	local m f ymax run reply
	ymax=$(cat "$LAB_DIR"/rounds-*.txt 2>/dev/null | awk '$2 > y { y = $2 } $1 > y { y = $1 }
		END { print y ? y * 1.15 : 1 }')
	{
		echo "set terminal pngcairo size $((440 * $(echo "$MODES" | wc -w) + 80)),520"
		echo "set output '$FAILOVER_PLOT'"
		echo "set multiplot layout 1,$(echo "$MODES" | wc -w) title 'bench/failover: $ROUNDS host kills per mode (wall clock)'"
		echo "set yrange [0:$ymax]; set xrange [0.5:$ROUNDS.5]; set xtics 1; set grid ytics"
		echo "set xlabel 'round'; set ylabel 'ms after the kill'; set key below"
		for m in $MODES; do
			f=$LAB_DIR/rounds-$m.txt
			[ -s "$f" ] || continue
			run=$(stats "$f" 1 | awk '{print $1}') reply=$(stats "$f" 2 | awk '{print $1}')
			echo "set title 'decide = $m'"
			echo "plot '$f' using (\$0 + 1):1 with points pt 7 ps 1.5 lc 1 title 'standby running'," \
			     "'$f' using (\$0 + 1):2 with points pt 5 ps 1.5 lc 2 title 'first reply'," \
			     "$run with lines dt 2 lc 1 title 'running p50 $run ms'," \
			     "$reply with lines dt 2 lc 2 title 'first reply p50 $reply ms'"
		done
		echo "unset multiplot"
	} | gnuplot && echo "plot: $FAILOVER_PLOT"
}

SETUP_FAILS=0 SILENCE='?'
for r in $(seq "$ROUNDS"); do for m in $MODES; do round "$m"; done; done
printf '%-10s %-50s %8s %8s %8s %4s\n' mode "measure ($ROUNDS host kills each)" "p50 ms" "p99 ms" "max ms" n
for m in $MODES; do
	f=$LAB_DIR/rounds-$m.txt
	printf '%-10s %-50s %s\n' "$m" "kill -> standby's QEMU running (TAKEOVER seen)" "$(stats "$f" 1)"
	printf '%-10s %-50s %s\n' "$m" "kill -> client's first reply after" "$(stats "$f" 2)"
	printf '%-10s %-50s %s\n' "$m" "standby's takeover_ms (stream lost -> running)" "$(stats "$f" 3)"
	printf '%-10s %-50s %s\n' "$m" "client's reply gap spanning the kill" "$(stats "$f" 4)"
	printf '%-10s %-50s %s\n' "$m" "baseline: client's reply gap, protected, pre-kill" "$(stats "$LAB_DIR/gaps-$m.txt" 1)"
done
echo "corosync token ${CS_TOKEN} ms (consensus 1.2 x token), standby fences at once (fence_delay_ms" \
     "${LAB_FENCE_DELAY_MS:-3000} is the primary's), epoch_ms ${LAB_EPOCH_MS:-50}," \
     "peer_timeout_ms $LAB_PEER_TIMEOUT_MS, silence_ms $SILENCE (decide = silence)."
echo "wall clock; standby running polled every 5 ms (late by <= 1 poll); replies mapped from the" \
     "client's monotonic log (~1 ms). The first reply waits for the client's TCP retransmission." \
     "Modes alternate round by round; targets for decide = silence: running <= 500 ms p50," \
     "first reply <= 1000 ms p50."
echo "pairs that failed to form before a kill and were set up again: $SETUP_FAILS (not measured)."
echo "QEMU under TCG on a shared 2-core machine: orders of magnitude only."
if [ -n "${FAILOVER_PLOT:-}" ] && command -v gnuplot >/dev/null; then
	plot
fi
