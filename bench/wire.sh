#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/wire.sh: runs build/bench/wire (bytes per epoch and CPU per page of
# each way of sending dirty pages, on three workloads; plain is the baseline,
# from the same run), prints its table as it is, and with WIRE_PLOT=FILE.png
# draws KiB per epoch per method for each workload as grouped bars, each
# labelled with its share of plain (gnuplot), from that same table.
# Usage: bench/wire.sh [EPOCHS [PAGES_PER_EPOCH]]   (after ./scripts/build.sh)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
top_builddir=${top_builddir:-$top/build}
WIRE=$top_builddir/bench/wire
[ -x "$WIRE" ] || { echo "bench/wire.sh: $WIRE not built (./scripts/build.sh)" >&2; exit 1; }
OUT=$(mktemp /tmp/us-wire.XXXXXX)
trap 'rm -f "$OUT" "$OUT".*' EXIT
"$WIRE" "$@" | tee "$OUT"
rc=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] || exit "$rc"
[ -n "${WIRE_PLOT:-}" ] || exit 0
command -v gnuplot >/dev/null || { echo "bench/wire.sh: no gnuplot, no plot" >&2; exit 0; }

# table FIELD...: the table's rows are "workload method KiB/epoch of-plain%
# ns/page MB/s"; one line per workload with each FIELD of each method in
# turn, the methods in the table's order.
table() {
	awk -v f="$*" 'BEGIN { nf = split(f, fs, " ") }
	     NR > 2 && NF == 6 {
		if (!($2 in col)) { col[$2] = ++nm }
		if (!($1 in row)) { row[$1] = ++nw; wl[nw] = $1 }
		for (k = 1; k <= nf; k++) v[row[$1], col[$2], k] = $fs[k]
	     }
	     END {
		for (w = 1; w <= nw; w++) {
			printf "%s", wl[w]
			for (m = 1; m <= nm; m++) for (k = 1; k <= nf; k++) printf " %s", v[w, m, k]
			print ""
		}
	     }' "$OUT"
}
methods=$(awk 'NR > 2 && NF == 6 && !seen[$2]++ { printf " %s", $2 }' "$OUT")
n=$(echo "$methods" | wc -w)
{ echo "workload$methods"; table 3; } > "$OUT.dat"
table 3 4 > "$OUT.lab"
title=$(head -1 "$OUT" | sed 's/^bench\/wire: //; s/; baseline.*//')
# bar i (1..n) of row r sits at r + (i - 1 - (n - 1) / 2) / (n + 1) (cluster gap 1)
gnuplot -e "set terminal png size 900,500; set output '$WIRE_PLOT';
	set title 'bench/wire: $title; labels: of plain (the baseline)';
	set style data histogram; set style histogram cluster gap 1;
	set style fill solid 0.8 border -1; set boxwidth 0.9;
	set ylabel 'KiB on the wire per epoch'; set yrange [0:*]; set grid ytics;
	set key outside right top; set offsets 0, 0, graph 0.12, 0;
	plot for [i=2:$((n + 1))] '$OUT.dat' using i:xtic(1) title columnheader(i),
	     for [i=1:$n] '$OUT.lab' using (\$0 + (i - 1 - ($n - 1) / 2.0) / ($n + 1)):2*i:2*i+1 \
		with labels rotate by 90 left offset 0,0.4 font ',8' notitle" &&
	echo "plot: $WIRE_PLOT"
