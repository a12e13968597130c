#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/scan: the dirty scan of an idle guest (nothing written) against the
# size of guest RAM, with 4 KiB pages on 1, 2 and N threads and with 2 MiB
# huge pages (hugetlbfs), each by build/bench/dirtyscan in the same run;
# the single-threaded 4 KiB scan of the same size is the baseline of each
# row. Huge pages are reserved through /proc/sys/vm/nr_hugepages for each
# size, on a hugetlbfs mounted for the run, and given back after it (also
# on failure); a size the machine cannot reserve is skipped and said so.
# Usage (root): bench/scan.sh [MIB...]   (default 1024 4096 16384)
# SCAN_REPEATS (default 20) scans per row; SCAN_PLOT=FILE.png draws the
# median scan against the RAM size (gnuplot).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${top_builddir:-$top/build}/bench/dirtyscan
SIZES=${*:-1024 4096 16384}
REPS=${SCAN_REPEATS:-20}
CPUS=$(nproc)
[ -x "$bin" ] || { echo "scan: $bin not built: run ./scripts/build.sh" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "scan: run as root (hugetlbfs, nr_hugepages)" >&2; exit 1; }

ADDED=0	# huge pages this run reserved: given back relative, others may reserve too
MNT=$(mktemp -d /tmp/us-bench-scan.XXXXXX)
DATA=$(mktemp /tmp/us-bench-scan-data.XXXXXX)
cleanup() {
	mountpoint -q "$MNT" && umount "$MNT"
	rmdir "$MNT" 2>/dev/null
	release
	rm -f "$DATA"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# idle_rows ARGS...: "THREADS WALL_MS CPU_MS" of the idle row, per thread count.
idle_rows() {
	"$bin" "$@" | awk '$1 == "threads" {t = $2}
		$1 == "one" && $2 == "run" && $3 == 0 {print t, $7, $9}'
}

# row MIB KIND THREADS WALL CPU: one line of the table, against $base.
row() {
	printf '%8s  %-14s %7s | %10s %10s | %8.2f\n' "$1" "$2" "$3" "$4" "$5" \
		"$(echo "$4 / $base" | bc -l)"
}

# reserve MIB: as many 2 MiB pages as MIB needs; fails if the kernel gives fewer.
reserve() {
	local want=$(( $1 / 2 )) have
	have=$(cat /proc/sys/vm/nr_hugepages)
	echo $(( have + want )) > /proc/sys/vm/nr_hugepages
	ADDED=$(( $(cat /proc/sys/vm/nr_hugepages) - have ))
	[ "$ADDED" -ge "$want" ]
}

# release: give back what reserve took.
release() {
	[ "$ADDED" -gt 0 ] || return 0
	echo $(( $(cat /proc/sys/vm/nr_hugepages) - ADDED )) > /proc/sys/vm/nr_hugepages
	ADDED=0
}

printf '%8s  %-14s %7s | %10s %10s | %8s\n' "RAM MiB" "pages" "threads" "scan ms" "cpu ms" "x base"
THREADS=1,2; [ "$CPUS" -gt 2 ] && THREADS=1,2,$CPUS
for mib in $SIZES; do
	base=""
	while read -r t wall cpu; do
		[ -z "$base" ] && base=$wall
		row "$mib" "4 KiB" "$t" "$wall" "$cpu"
		echo "4k-${t}t $mib $wall" >> "$DATA"
	done < <(idle_rows -t "$THREADS" "$mib" "$REPS")
	[ -n "$base" ] || { echo "scan: dirtyscan failed at $mib MiB" >&2; exit 1; }
	if ! reserve "$mib"; then
		release
		printf '%8s  %-14s %7s | %s\n' "$mib" "2 MiB (huge)" "-" \
			"skipped: the kernel could not reserve $(( mib / 2 )) huge pages"
		continue
	fi
	mount -t hugetlbfs -o pagesize=2M none "$MNT" || exit 1
	n=0
	while read -r t wall cpu; do
		row "$mib" "2 MiB (huge)" "$t" "$wall" "$cpu"
		echo "huge-${t}t $mib $wall" >> "$DATA"
		n=$(( n + 1 ))
	done < <(idle_rows -t 1,2 -d "$MNT" "$mib" "$REPS")
	[ "$n" -gt 0 ] || { echo "scan: dirtyscan on hugetlbfs failed at $mib MiB" >&2; exit 1; }
	umount "$MNT"
	release
done
echo "idle guest (nothing written): median of $REPS scans, wall ms; cpu ms is the calling thread's"
echo "own time; x base = against 4 KiB pages on 1 thread at the same size, same run. $CPUS CPUs, shared."
if [ -n "${SCAN_PLOT:-}" ] && command -v gnuplot >/dev/null; then
	plots=""
	for s in $(cut -d' ' -f1 "$DATA" | sort -u); do
		grep "^$s " "$DATA" > "$DATA.$s"
		plots="$plots${plots:+, }'$DATA.$s' using 2:3 with linespoints title '$s'"
	done
	gnuplot -e "set terminal png size 800,500; set output '$SCAN_PLOT'; set logscale xy;
		set xlabel 'guest RAM (MiB)'; set ylabel 'idle scan, median (ms)'; set key top left;
		plot $plots" && echo "plot: $SCAN_PLOT"
	rm -f "$DATA".*
fi
