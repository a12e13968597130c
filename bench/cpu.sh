#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/cpu: the slowdown protection costs a CPU-bound guest. The guest runs
# the `cpu` workload (guest/cpu.c: a mixing loop in a 4 KiB table, almost no
# pages written), which prints its running count of operations every 100 ms
# of guest time; the rate is taken on the host's clock (the guest's stands
# still while QEMU is stopped) over SECONDS. Rows, in one run: unprotected
# (the same VM after its standby is gone and the primary runs degraded: no
# epochs), protected at epoch_ms 25, 50 and 100, and unprotected again at the
# end; the baseline is the mean of the two unprotected rows. Real QEMU under
# TCG on a shared 2-core machine: orders of magnitude only.
# Usage (root): bench/cpu.sh [SECONDS]   (default 30; after ./scripts/build.sh)
# CPU_PLOT=FILE.png draws ops/s against epoch_ms (gnuplot), the two
# unprotected rows and their mean as lines.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export top_srcdir=$top top_builddir=${top_builddir:-$top/build}
. "$top/tests/lib/common.sh"
SECONDS_EACH=${1:-30}
LAB_APPEND="us.run=cpu"
. "$top/tests/lib/lab.sh"
DATA=$(mktemp /tmp/us-bench-cpu.XXXXXX)
trap 'lab_down; rm -f "$DATA"' EXIT
lab_up || fail "cannot create the lab"

# sample: "NOW_NS OPS" from the guest's last count line.
sample() {
	local ops
	ops=$(grep -a -o 'us-cpu ops=[0-9]*' "$LAB_DIR/hA/$LAB_VM.serial" | tail -1 | cut -d= -f2)
	echo "$(date +%s%N) ${ops:-0}"
}

# measure NAME EPOCH_MS [unprotected]: prints ops/s and epochs/s.
measure() {
	local t0 o0 t1 o1 a0 a1
	LAB_EPOCH_MS=$2
	lab_start hB standby
	lab_wait 30 lab_answers hB || fail "standby did not start"
	lab_start hA primary
	lab_wait 180 grep -s -a -q 'us-cpu ops=' "$LAB_DIR/hA/$LAB_VM.serial" ||
		fail "$1: $(lab_guest_failed hA 180 "come up" "the cpu workload never ran")"
	lab_wait 120 lab_acked_at_least 5 || fail "$1: not protected"
	if [ -n "${3:-}" ]; then
		lab_kill_host hB
		lab_wait 30 sh -c "[ \"\$(ip netns exec $(lab_ns hA) $US_BIN status --vm $LAB_VM --json | grep -o '\"degraded\":true')\" ]" ||
			fail "$1: primary did not degrade"
	fi
	sleep 2
	a0=$(lab_field hA acked); read -r t0 o0 < <(sample)
	sleep "$SECONDS_EACH"
	a1=$(lab_field hA acked); read -r t1 o1 < <(sample)
	[ "$o1" -gt "$o0" ] || fail "$1: the guest's count did not advance"
	OPS=$(awk -v o=$(( o1 - o0 )) -v t=$(( t1 - t0 )) 'BEGIN {printf "%.0f", o / (t / 1e9)}')
	EPS=$(awk -v n=$(( a1 - a0 )) -v t=$(( t1 - t0 )) 'BEGIN {printf "%.1f", n / (t / 1e9)}')
	lab_stop_host hA; lab_stop_host hB
}

rows=()
measure "unprotected (first)" 50 unprotected; u1=$OPS
rows+=("unprotected (first)|-|$OPS|0.0")
for ms in 25 50 100; do
	measure "protected, epoch $ms ms" "$ms"
	rows+=("protected, epoch $ms ms|$ms|$OPS|$EPS")
done
measure "unprotected (last)" 50 unprotected; u2=$OPS
rows+=("unprotected (last)|-|$OPS|0.0")
base=$(( (u1 + u2) / 2 ))

printf '%-26s %9s %14s %10s %10s\n' "mode" "epoch ms" "guest ops/s" "vs base" "epochs/s"
for r in "${rows[@]}"; do
	IFS='|' read -r name ms ops eps <<< "$r"
	printf '%-26s %9s %14s %9.1f%% %10s\n' "$name" "$ms" "$ops" \
		"$(awk -v o="$ops" -v b="$base" 'BEGIN {print (o - b) * 100 / b}')" "$eps"
	[ "$ms" != "-" ] && echo "$ms $ops" >> "$DATA"
done
echo "baseline: mean of the two unprotected rows, $base ops/s (the same VM, standby gone, same run)."
echo "ops/s on the host's clock over ${SECONDS_EACH} s; QEMU under TCG on a shared 2-core machine: orders of magnitude."
if [ -n "${CPU_PLOT:-}" ] && command -v gnuplot >/dev/null; then
	gnuplot -e "set terminal pngcairo size 800,500; set output '$CPU_PLOT';
		set title 'bench/cpu: CPU-bound guest, ${SECONDS_EACH} s per row' noenhanced;
		set xlabel 'epoch_ms' noenhanced; set ylabel 'guest ops/s (millions)';
		set xrange [0:110]; set xtics (25, 50, 100); set yrange [0:*]; set grid ytics;
		set key bottom right;
		plot '$DATA' using 1:(\$2 / 1e6) with linespoints pt 7 title 'protected',
		     $u1 / 1e6 with lines dt 2 lc rgb 'dark-cyan' title 'unprotected, first',
		     $u2 / 1e6 with lines dt 3 lc rgb 'blue' title 'unprotected, last',
		     $base / 1e6 with lines lw 2 title 'baseline: their mean'" && echo "plot: $CPU_PLOT"
fi
