#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/silence_sweep: the curve that chooses [heartbeat] silence_ms for
# [failover] decide = silence: false takeovers against failover time.
#  1. One soak (bench/silence_soak.sh) of SOAK_SECONDS under load at a
#     silence_ms far above the candidates (2000), logging every quiet spell of
#     the live stream as the standby heard it. A spell of at least a
#     candidate's silence_ms is a takeover that candidate would have made
#     with nothing failed. (Conservative: at 2000 the standby forgives only
#     its own stalls of 1000 ms or more, a candidate those of silence_ms / 2;
#     and the primary's keepalives come every 250 ms, a candidate's every
#     silence_ms / 3.)
#  2. For each candidate, ROUNDS host kills in the fast mode (bench/failover.sh,
#     MODES=silence): kill -> standby running and kill -> the client's first
#     reply, p50 and p99.
# Prints one row per candidate; the default is the smallest silence_ms with
# no would-be false takeover whose failover meets the targets.
# Usage (root): bench/silence_sweep.sh [SOAK_SECONDS [ROUNDS [CANDIDATES...]]]
#   defaults: 600 s, 5 rounds, candidates 100 150 200 300 500
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
SOAK=${1:-600}
ROUNDS=${2:-5}
shift 2 2>/dev/null || shift $#
CANDIDATES=${*:-100 150 200 300 500}
OUT=$(mktemp -d /tmp/silence-sweep.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

echo "# soak: $SOAK s at silence_ms 2000 under load" >&2
LAB_SILENCE_MS=2000 SOAK_OUT=$OUT/soak "$top/bench/silence_soak.sh" "$SOAK" > "$OUT/soak.txt" ||
	{ cat "$OUT/soak.txt"; echo "FAIL: the soak failed" >&2; exit 1; }
cat "$OUT/soak.txt"
hours=$(awk '/^protected time soaked/ { print $NF / 3600 }' "$OUT/soak.txt")

# col FILE MEASURE N: field N of the silence row whose measure starts with MEASURE.
col() { awk -v m="$2" -v n="$3" '$1 == "silence" && index($0, m) { print $(NF - 4 + n) }' "$1"; }

printf '\n%-10s %16s %18s %10s %10s %12s %12s\n' silence_ms "quiet >= it" "false/hour (would)" \
	"run p50" "run p99" "reply p50" "reply p99"
for s in $CANDIDATES; do
	echo "# failover: $ROUNDS kills at silence_ms $s" >&2
	MODES=silence LAB_SILENCE_MS=$s "$top/bench/failover.sh" "$ROUNDS" > "$OUT/fo-$s.txt" ||
		{ cat "$OUT/fo-$s.txt"; echo "FAIL: bench/failover.sh at silence_ms $s" >&2; exit 1; }
	n=$(awk -v m="$s" '$1 >= m { n++ } END { print n + 0 }' "$OUT/soak/quiet.txt")
	printf '%-10s %16s %18.1f %10s %10s %12s %12s\n' "$s" "$n" \
		"$(awk -v n="$n" -v h="$hours" 'BEGIN { print (h > 0 ? n / h : 0) }')" \
		"$(col "$OUT/fo-$s.txt" "QEMU running" 1)" "$(col "$OUT/fo-$s.txt" "QEMU running" 2)" \
		"$(col "$OUT/fo-$s.txt" "first reply" 1)" "$(col "$OUT/fo-$s.txt" "first reply" 2)"
done
echo "quiet >= it: quiet spells of the live stream in the soak at least silence_ms long (each a" \
     "takeover that silence_ms would have made with nothing failed); times in ms from the kill," \
     "$ROUNDS kills each, wall clock; QEMU under TCG on a shared 2-core machine."
