#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/campaign: understudy-lab campaigns of every fault this machine can run
# (understudy-lab --faults all), first with the built-in counter checker on
# the guest's disk-backed ledger (a 4 GiB replicated disk: the ledger writes
# a 4 KiB record per reply, about 130 a second here, and has no wrap, so a
# 64 MiB disk was full after two minutes; the image is sparse on a tmpfs, so
# only what the ledger wrote takes memory), then with the example
# script-defined checker (lab/examples/counter-client.sh,
# the same counter service through a bash /dev/tcp client), ROUNDS rounds in
# all (default 100, split 70/30). Each campaign prints its rounds, then a
# table per fault of rounds passed and failover time (the client's longest
# stall in the round) p50/p99/max, beside the baseline from the same run:
# the client's gaps between replies before the first fault. Exits 1 unless
# every round passed with no lost, repeated or backwards value and no
# dual-active. Results in OUT (default ./bench-campaign-SEED): one folder per
# checker with summary.json, rounds.jsonl, gaps.png, failed/.
# Usage (root): bench/campaign.sh [ROUNDS [SEED [OUT]]]   (after ./scripts/build.sh)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${top_builddir:-$top/build}
ROUNDS=${1:-100}
SEED=${2:-$RANDOM}
OUT=${3:-./bench-campaign-$SEED}
export UNDERSTUDY_LAB_HOME=$top/lab UNDERSTUDY_LAB_TOOLS=$build/tests/tools US_BIN=$build/understudy
LAB=$build/understudy-lab
[ -x "$LAB" ] || { echo "bench/campaign: $LAB not built: ./scripts/build.sh" >&2; exit 1; }
"$top/guest/build.sh" > /dev/null || { echo "bench/campaign: building the guest failed" >&2; exit 1; }
counter_rounds=$(( ROUNDS * 7 / 10 ))
script_rounds=$(( ROUNDS - counter_rounds ))
bad=0
# campaign NAME ROUNDS SEED [--checker SCRIPT]
campaign() {
	local name=$1 rounds=$2 seed=$3; shift 3
	echo "== $name checker: $rounds rounds, seed $seed"
	"$LAB" --id "${LAB_ID:-98}" campaign --seed "$seed" --faults all --rounds "$rounds" --out "$OUT/$name" "$@" ||
		bad=1
	jq -e '.violations | (.lost // 0) + (.repeated // 0) + (.backwards // 0) + (.["dual-active"] // 0) == 0' \
		"$OUT/$name/summary.json" > /dev/null || { echo "VIOLATIONS: $(jq -c .violations "$OUT/$name/summary.json")"; bad=1; }
}
mkdir -p "$OUT" || exit 1
# the counter checker on the guest's ledger (every reply a record on its
# replicated disk), so the disk and the disk-full fault are in the campaign
campaign counter "$counter_rounds" "$SEED" --disk 4G --append "us.run=ledger us.disk=/dev/vda"
campaign script "$script_rounds" $(( SEED + 1 )) --checker "$top/lab/examples/counter-client.sh"
echo "replay: $LAB campaign --seed $SEED --faults all --rounds $counter_rounds (and --seed $(( SEED + 1 )) for the script)"
exit "$bad"
