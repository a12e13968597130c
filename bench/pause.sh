#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/pause: where the guest's pause per epoch goes, at three dirty rates
# (idle, ~1,000 and ~10,000 pages per epoch at 50 ms epochs), split into
# stop / scan / copy / device state / cont, p50 and p99 over EPOCHS epochs,
# and the epochs per second achieved. Baseline measured in the same run: the
# dirtier's own pages/s in an unprotected QEMU beside the protected one.
# Each rate runs with both device-state methods (migrate, xen-save).
# Real QEMU under TCG on a shared 2-core machine: orders of magnitude only.
# Usage (root): bench/pause.sh [EPOCHS]   (after ./scripts/build.sh)
# PAUSE_RATES and PAUSE_DEVSTATE choose the rows (defaults below). With
# PAUSE_BASE_BIN=/path/to/an/older/understudy every row is run with that
# binary too, right before this build's: a before/after in the same run.
# PAUSE_PLOT=FILE.png draws the pause p50 against the dirty pages per epoch
# (gnuplot), one line per binary. PAUSE_EPOCH_MS (default 50) sets epoch_ms:
# longer epochs for larger dirty sets than 50 ms reaches (here the dirtier
# ran at up to 200,000 pages/s under protection: ~8,800 pages per 50 ms
# epoch, its whole 12,288-page region at 200 ms).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export top_srcdir=$top top_builddir=${top_builddir:-$top/build}
. "$top/tests/lib/common.sh"
EPOCHS=${1:-250}
RATES=${PAUSE_RATES:-0 20000 200000}	# pages/s: 0, 1000 and 10000 pages per 50 ms epoch
DEVSTATES=${PAUSE_DEVSTATE:-migrate xen-save}
BINS="$US_BIN"
[ -n "${PAUSE_BASE_BIN:-}" ] && BINS="$PAUSE_BASE_BIN $US_BIN"
THIS_BIN=$US_BIN
PLOT_DATA=$(mktemp /tmp/us-pause-plot.XXXXXX)
LAB_MEM=256M
EPOCH_MS=${PAUSE_EPOCH_MS:-50}
[[ $EPOCH_MS =~ ^[1-9][0-9]*$ ]] || fail "PAUSE_EPOCH_MS=$EPOCH_MS is not a positive number"
LAB_EPOCH_MS=$EPOCH_MS
. "$top/tests/lib/lab.sh"
trap 'lab_down; rm -f "$PLOT_DATA"' EXIT
lab_up || fail "cannot create the lab"

# pct FILE COLUMN P: the P-th percentile of a CSV column.
pct() {
	tail -n +2 "$1" | cut -d, -f"$2" | sort -n |
		awk -v p="$3" '{v[NR]=$1} END {i=int((NR-1)*p/100)+1; print v[i]/1000}'
}

# dirtier_rate FILE: the median pages/s the dirtier reported.
dirtier_rate() {
	grep -a -o 'us-dirtier pages/s=[0-9]*' "$1" | cut -d= -f2 | tail -n +2 | sort -n |
		awk '{v[NR]=$1} END {print NR ? v[int((NR+1)/2)] : 0}'
}

unprotected() {
	local rate=$1 log=$LAB_DIR/plain.serial ram=/dev/shm/understudy-$LAB_VM.plain
	rm -f "$log"
	timeout 150 qemu-system-x86_64 -machine q35,memory-backend=ram0 -m 256M \
		-object memory-backend-file,id=ram0,size=256M,mem-path="$ram",share=on \
		-nodefaults -vga none -display none -serial file:"$log" \
		-kernel "$US_GUEST_KERNEL" -initrd "$US_GUEST_INITRD" \
		-append "console=ttyS0 quiet us.run=dirtier us.dirty=$rate us.dirty_mb=48" &
	local q=$!
	lab_wait 120 sh -c "[ \"\$(grep -s -a -c 'us-dirtier pages' '$log')\" -ge 6 ] 2>/dev/null"
	kill $q; wait $q 2>/dev/null; rm -f "$ram"
	dirtier_rate "$log"
}

protected() {
	local rate=$1 csv=$LAB_DIR/stats-$1.csv t0 t1 n0 n1
	LAB_APPEND="us.run=dirtier us.dirty=$rate us.dirty_mb=48"
	lab_start hB standby
	lab_wait 30 lab_answers hB || fail "standby did not start"
	lab_start hA primary --stats "$csv"
	lab_wait 180 grep -s -a -q 'us-dirtier' "$LAB_DIR/hA/$LAB_VM.serial" ||
		fail "$(lab_guest_failed hA 180 "come up" "the dirtier never ran")"
	n0=$(lab_field hA acked); t0=$(date +%s%N)
	lab_wait 600 lab_acked_at_least $(( n0 + EPOCHS )) || fail "epochs stalled"
	n1=$(lab_field hA acked); t1=$(date +%s%N)
	EPS=$(awk -v n=$(( n1 - n0 )) -v t=$(( t1 - t0 )) 'BEGIN {printf "%.1f", n / (t / 1e9)}')
	PROT_RATE=$(dirtier_rate "$LAB_DIR/hA/$LAB_VM.serial")
	lab_stop_host hA; lab_stop_host hB
	# keep the epochs after the dirtier started
	head -1 "$csv" > "$csv.tail"; tail -n "$EPOCHS" "$csv" >> "$csv.tail"
	CSV=$csv.tail
}

printf '%-5s %-9s %-8s %9s %9s | %-13s %-13s %-13s %-13s %-13s %-13s %-13s %-13s | %7s | %10s %10s\n' \
	"build" "rate/s" "devstate" "pages/ep" "dev KB" "stop ms" "scan ms" "copy ms" "devstate ms" "cont ms" \
	"pause ms" "after cont" "vm paused" "ep/s" "guest p/s" "unprot p/s"
printf '%-5s %-9s %-8s %9s %9s | %-13s %-13s %-13s %-13s %-13s %-13s %-13s %-13s | %7s | %10s %10s\n' \
	"" "" "" "p50" "max" "p50/p99" "p50/p99" "p50/p99" "p50/p99" "p50/p99" "p50/p99" "p50/p99" "p50/p99" "" "" ""
for rate in $RATES; do
  base=$(unprotected "$rate")
  for LAB_DEVSTATE in $DEVSTATES; do
   for US_BIN in $BINS; do
	build=this; [ "$US_BIN" != "$THIS_BIN" ] && build=base
	protected "$rate"
	# send_us (column 10) is 0 for a build that queued the epoch inside the pause
	# vm_pause_us (column 11): QEMU's STOP to RESUME events, 0 for an older build
	awk -F, 'NR>1 {print $1","$2","$3","$4","$5","$6","$7","$8","$9","($4+$5+$6+$7+$8)","($10+0)","($11+0)}' \
		"$CSV" > "$CSV.sum"
	sed -i '1i epoch,pages,dev_bytes,stop_us,scan_us,copy_us,dev_us,cont_us,ack_ms,pause_us,send_us,vm_pause_us' "$CSV.sum"
	row=""
	for col in 4 5 6 7 8 10 11 12; do
		row="$row $(printf '%-13s' "$(pct "$CSV.sum" $col 50)/$(pct "$CSV.sum" $col 99)")"
	done
	pages=$(tail -n +2 "$CSV.sum" | cut -d, -f2 | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
	printf '%-5s %-9s %-8s %9s %9s |%s | %7s | %10s %10s\n' "$build" "$rate" "$LAB_DEVSTATE" \
		"$pages" \
		"$(( $(tail -n +2 "$CSV.sum" | cut -d, -f3 | sort -n | tail -1) / 1024 ))" \
		"$row" "$EPS" "$PROT_RATE" "$base"
	echo "$build-$LAB_DEVSTATE $pages $(pct "$CSV.sum" 10 50)" >> "$PLOT_DATA"
	[ "$(pct "$CSV.sum" 12 50)" = 0 ] ||
		echo "$build-$LAB_DEVSTATE-vm $pages $(pct "$CSV.sum" 12 50)" >> "$PLOT_DATA"
   done
  done
done
if [ -n "${PAUSE_PLOT:-}" ] && command -v gnuplot >/dev/null; then
	for series in $(cut -d' ' -f1 "$PLOT_DATA" | sort -u); do
		grep "^$series " "$PLOT_DATA" | sort -k2 -n > "$PLOT_DATA.$series"
	done
	plots=""
	for f in "$PLOT_DATA".*; do
		plots="$plots${plots:+, }'$f' using 2:3 with linespoints title '${f##*.}'"
	done
	gnuplot -e "set terminal png size 800,500; set output '$PAUSE_PLOT';
		set xlabel 'dirty pages per epoch (p50)'; set ylabel 'pause p50 (ms)';
		set key top left; plot $plots" && echo "plot: $PAUSE_PLOT"
	rm -f "$PLOT_DATA".*
fi
echo "epochs per row: $EPOCHS at epoch_ms=$EPOCH_MS; guest p/s = the dirtier's pages/s under protection, unprot p/s = the same guest without understudy (baseline, same run)."
echo "devstate overlaps scan+copy (migrate runs in QEMU meanwhile); its column is the wait left after copy. QEMU runs under TCG here: orders of magnitude only."
echo "build: this = $THIS_BIN${PAUSE_BASE_BIN:+, base = $PAUSE_BASE_BIN (same run, row before)}. Since the epoch's checksum and queueing run after cont (\"after cont\": their time, 0 for a build that did them inside the pause), the cont column includes them when they outlast QEMU's resume: an upper bound of the guest's pause."
echo "vm paused: QEMU's own STOP to RESUME events (their QMP timestamps), the time the guest's vCPUs were stopped; pause ms is the daemon's stop sent to cont answered, which its loop may read late."
