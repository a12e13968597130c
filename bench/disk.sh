#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/disk: what replicating the disk costs the guest. One run, one table,
# the baseline measured in the same run:
#  1. sequential writes inside the guest (busybox dd, 1 MiB O_DIRECT blocks
#     + fsync, the guest's `ddbench` workload), MiB/s timed on the host from
#     the console: plain QEMU opening the raw image itself (virtio-blk,
#     cache=none, as tests/integration/guest_disk.sh) beside the protected
#     pair of the lab (LAB_DISK: QEMU's disk is the daemon's NBD server);
#  2. 4 KiB write + fdatasync requests: the guest's `ledger` driven by
#     tests/tools/reqclient from hC for a fixed time, requests/s and round
#     trip p50/p99, unprotected vs protected (output commit included);
#  3. disk bytes sent per epoch (disk.sent_bytes of the primary's status
#     over the epochs taken) during each of the two protected loads;
#  4. the pause per epoch (stats CSV, as bench/pause.sh) under the ledger's
#     load with the disk beside a protected pair without a disk running the
#     counter service under the same client; QMP `stop` drains and flushes
#     the guest's disk I/O before it replies, so that drain is inside the
#     stop column.
# Real QEMU under TCG on a shared machine: orders of magnitude only.
# With --baseline-bin FILE the sequential rounds also run on a pair of that
# daemon binary (an older build), before this build's, for a before/after in
# one run.
# Usage (root): bench/disk.sh [--help] [--seq-mb N] [--rounds R] [--cycles C]
#               [--ledger-s S] [--epoch-ms MS] [--baseline-bin FILE]
#               (after ./scripts/build.sh)
set -uo pipefail

SEQ_MB=2048	# MiB per sequential round: rounds of a few seconds (256 MiB took 0.3 s here)
ROUNDS=3	# sequential rounds per mode and cycle (the median of all is shown)
CYCLES=2	# the modes' sequential rounds by turns: this disk varies 2x over a minute
LEDGER_S=30	# seconds of reqclient per request/reply run
EPOCH_MS=50
STANDBY_DIR=''	# --standby-dir: host B's image there (its own disk)
LEDGER_MB=128	# the ledger's part of the disk (32767 records); dd writes after it
BASE_BIN=''	# --baseline-bin: the sequential rounds with this daemon too

usage() {
	cat <<EOF
usage: bench/disk.sh [--seq-mb N] [--rounds R] [--cycles C] [--ledger-s S]
                    [--epoch-ms MS] [--standby-dir DIR] [--baseline-bin FILE]
Measures, unprotected (plain QEMU on the raw image, cache=none) beside
protected (the lab's pair with a replicated disk), in one run:
  seq MiB/s      sequential writes in the guest: busybox dd, N MiB (default
                 $SEQ_MB) in 1 MiB O_DIRECT blocks + fsync, R rounds
                 (default $ROUNDS) per mode in each of C cycles (default
                 $CYCLES; the modes take turns, so that the host disk's
                 drift over the run reaches them alike), the median of
                 all, timed on the host wall clock
  ledger req/s   4 KiB O_DIRECT write + fdatasync per request (the ledger;
  and p50/p99    sequential offsets) driven by reqclient from the client
                 host for S seconds (default $LEDGER_S): requests/s, round
                 trip p50/p99
  daemon CPU     CPU ms (user+system, all threads) of the primary's and the
                 standby's daemon per MiB the guest wrote in the seq rounds:
                 the replication's cost, steadier than MiB/s on a busy host
  disk KiB/epoch disk bytes the primary sent per epoch in both loads
  pause p50/p99  the pause per epoch (stop+scan+copy+devstate+cont) and its
                 QMP stop part (which drains the guest's disk I/O) under
                 the ledger's load, beside a protected pair without a disk
                 under the same client (the counter service)
--baseline-bin FILE runs the sequential rounds on a pair of that understudy
binary as well (both hosts), before this build's: old and new in one run.
--standby-dir DIR puts host B's image in DIR (a tmpfs or another device):
both lab hosts are one machine, and by default the standby's image shares
host A's disk, so every protected write reaches that one disk twice.
Goal: protected sequential writes >= 80 % of unprotected, and no pause
added beyond the drain inside stop. Epoch interval MS (default $EPOCH_MS, or
auto: [replication] epoch_ms = auto). LAB_DISK_LOG_MAX sets disk_log_max.
Takes about 5 minutes under TCG here, 7 with --baseline-bin. Root; after ./scripts/build.sh
(top_builddir=DIR for another build tree).
EOF
}

while [ $# -gt 0 ]; do
	case $1 in
	-h|--help) usage; exit 0 ;;
	--seq-mb) SEQ_MB=${2:?}; shift 2 ;;
	--rounds) ROUNDS=${2:?}; shift 2 ;;
	--cycles) CYCLES=${2:?}; shift 2 ;;
	--ledger-s) LEDGER_S=${2:?}; shift 2 ;;
	--epoch-ms) EPOCH_MS=${2:?}; shift 2 ;;
	--standby-dir) STANDBY_DIR=${2:?}; shift 2 ;;
	--baseline-bin) BASE_BIN=${2:?}; shift 2 ;;
	*) usage >&2; exit 2 ;;
	esac
done
for v in "$SEQ_MB" "$ROUNDS" "$CYCLES" "$LEDGER_S" "${EPOCH_MS/#auto/1}"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || { echo "bench/disk.sh: '$v' is not a positive number" >&2; exit 2; }
done

top=$(cd "$(dirname "$0")/.." && pwd)
export top_srcdir=$top top_builddir=${top_builddir:-$top/build}
. "$top/tests/lib/common.sh"
REQCLIENT=$top_builddir/tests/tools/reqclient
for t in "$REQCLIENT" "$top_builddir/tests/tools/nbdserve"; do
	[ -x "$t" ] || fail "$t not built: make -C $top_builddir tests/tools/${t##*/} first"
done
[ -z "$BASE_BIN" ] || [ -x "$BASE_BIN" ] || fail "--baseline-bin $BASE_BIN is not an executable"
DISK_MB=$(( LEDGER_MB + SEQ_MB ))
LAB_NIC=1
LAB_EPOCH_MS=$EPOCH_MS
GUEST_RUN="us.run=ledger,ddbench us.ddbench_mb=$SEQ_MB us.ddbench_seek=$LEDGER_MB"
DD_PORT=7778
. "$top/tests/lib/lab.sh"

plain_pid=''
cleanup() {
	if [ -n "$plain_pid" ]; then
		kill -KILL "$plain_pid" 2>/dev/null
		wait "$plain_pid" 2>/dev/null
	fi
	rm -f "$LAB_DIR/plain.img" "/dev/shm/understudy-$LAB_VM.plain"
	[ -z "$STANDBY_DIR" ] || rm -f "$STANDBY_DIR/$LAB_PFX-hB.img"
	lab_down	# also removes LAB_DIR with the lab's images
}
trap cleanup EXIT
lab_up || fail "cannot create the lab"
# the images take O_DIRECT (QEMU's cache=none needs it; tmpfs does not)
dd if=/dev/zero of="$LAB_DIR/probe" bs=4096 count=1 oflag=direct status=none 2>/dev/null ||
	fail "$LAB_DIR does not take O_DIRECT writes (tmpfs?): set LAB_DIR to a directory on disk"
rm -f "$LAB_DIR/probe"

# ---- helpers ---------------------------------------------------------------

# pctl P: the P-th percentile of the numbers on stdin, one a line.
pctl() { sort -n | awk -v p="$1" '{v[NR]=$1} END {if (NR) print v[int((NR-1)*p/100)+1]; else print "nan"}'; }
# median: of the numbers on stdin.
median() { sort -n | awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]; else print "nan"}'; }
# ms US: microseconds as milliseconds, one decimal.
ms() { awk -v u="$1" 'BEGIN {if (u == "nan") print "nan"; else printf "%.1f", u / 1000}'; }
# ratio A B: A/B, two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b + 0 > 0 && a != "nan") printf "%.2f", a / b; else print "n/a"}'; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# console_count FILE REGEX: lines of the console FILE matching REGEX.
console_count() { tr -d '\r' 2>/dev/null < "$1" | grep -a -c -E "$2"; }

# console_has FILE REGEX
console_has() { [ "$(console_count "$1" "$2")" -gt 0 ]; }

# The console read without a process per poll, so that the harness takes
# no CPU from the guest it times (a tr | grep every 20 ms cost a few % of
# this 2-core machine, and more of the protected pair's share): con_open
# opens CON_FD on FILE at its end, con_next reads on from there with bash's
# own read, and at the end of the file waits 20 ms in read -t on a pipe
# that never has data.
exec {CON_SLEEP}<> <(:)
con_open() {
	[ -z "${CON_FD:-}" ] || exec {CON_FD}<&-
	exec {CON_FD}< "$1" || return 1
	CON_PART=''
	while IFS= read -r -u "$CON_FD" _; do :; done
}

# con_next REGEX SECONDS: the next whole console line matching REGEX (in
# CON_LINE, \r removed), or 1 after SECONDS.
con_next() {
	local deadline=$(( SECONDS + $2 )) l
	while [ "$SECONDS" -lt "$deadline" ]; do
		if IFS= read -r -u "$CON_FD" l; then
			l=${CON_PART}${l//$'\r'/}
			CON_PART=''
			[[ $l =~ $1 ]] && { CON_LINE=$l; return 0; }
		else
			CON_PART=${CON_PART}${l//$'\r'/}	# a line not yet ended
			read -r -t 0.02 -u "$CON_SLEEP" _
		fi
	done
	return 1
}

# seq_round SERIAL: one ddbench round (a connection from hC to the guest's
# DD_PORT starts it); prints "WALL_MIBPS GUEST_MIBPS", the wall clock from
# the console's "us-ddbench: start" to its result line (each seen within
# 20 ms).
seq_round() {
	local f=$1 t0 t1 line
	con_open "$f" || { lab_log "cannot read the console $f"; return 1; }
	# refused until the guest's nc listens again after the last round
	lab_wait 60 ip netns exec "$(lab_ns hC)" bash -c "exec 3<>/dev/tcp/$LAB_GUEST_IP/$DD_PORT" 2>/dev/null ||
		{ lab_log "cannot connect to ddbench on $LAB_GUEST_IP:$DD_PORT"; return 1; }
	con_next '^us-ddbench: start' 120 || { lab_log "ddbench did not start"; return 1; }
	t0=$(now_ms)
	[ -z "${PROT:-}" ] || window_start
	con_next '^us-ddbench (mib=|: dd .* failed)' 600 || { lab_log "ddbench round did not end"; return 1; }
	line=$CON_LINE
	[[ $line =~ failed ]] && { lab_log "dd failed in the guest: $line"; return 1; }
	t1=$(now_ms)
	if [ -n "${PROT:-}" ]; then
		window_end
		SEQ_EPOCHS=$(( SEQ_EPOCHS + W_EPOCHS ))
		SEQ_BYTES=$(( SEQ_BYTES + W_BYTES ))
		SEQ_RANGES="$SEQ_RANGES $W_E0:$W_E1"
	fi
	awk -v m="$SEQ_MB" -v t=$(( t1 - t0 )) -v l="$line" 'BEGIN {
		sub(/.*MBps=/, "", l); printf "%.1f %s\n", m * 1000 / (t > 0 ? t : 1), l }'
}

# cpu_ticks H: user+system clock ticks of host H's daemon so far, all its
# threads (the NBD server's too); empty without a daemon.
cpu_ticks() {
	local pid
	pid=$(lab_daemon_pid "$1")
	[ -n "$pid" ] && sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13}'
}

# cpu_per_mib FILE COL ROUNDS: CPU ms per MiB the guest wrote, from the
# clock ticks in column COL of FILE (one line per phase) over ROUNDS rounds
# of SEQ_MB, or "-".
cpu_per_mib() {
	awk -v c="$2" -v r="$3" -v hz="$(getconf CLK_TCK)" -v m="$SEQ_MB" \
		'{t += $c; n++} END {if (!n || !r) print "-"; else printf "%.2f", t * 1000 / hz / (m * r)}' \
		"$1" 2>/dev/null || echo -
}

# seq_rounds SERIAL MODE: ROUNDS rounds, added to MODE's rounds of earlier
# cycles; sets SEQ_WALL and SEQ_GUEST (medians of all of MODE's rounds so
# far), SEQ_ALL, SEQ_CPU (the daemons' CPU ms per MiB written,
# primary/standby, "-/-" unprotected); with PROT set, SEQ_EPOCHS,
# SEQ_BYTES (disk bytes sent) and SEQ_RANGES (E0:E1 ...) of the epochs from
# each of this call's rounds' start to its end.
seq_rounds() {
	local out=$LAB_DIR/seq-$2.txt cpu=$LAB_DIR/cpu-$2.txt a0 b0 a1 b1 n
	touch "$out" "$cpu"
	SEQ_EPOCHS=0 SEQ_BYTES=0 SEQ_RANGES=''
	a0=$(cpu_ticks hA) b0=$(cpu_ticks hB)
	for _ in $(seq "$ROUNDS"); do
		seq_round "$1" >> "$out" || return 1
	done
	a1=$(cpu_ticks hA) b1=$(cpu_ticks hB)
	[ -z "$a0" ] || [ -z "$a1" ] || [ -z "$b0" ] || [ -z "$b1" ] ||
		echo "$(( a1 - a0 )) $(( b1 - b0 ))" >> "$cpu"
	n=$(wc -l < "$out")
	SEQ_CPU=$(cpu_per_mib "$cpu" 1 "$n")/$(cpu_per_mib "$cpu" 2 "$n")
	SEQ_WALL=$(cut -d' ' -f1 "$out" | median)
	SEQ_GUEST=$(cut -d' ' -f2 "$out" | median)
	SEQ_ALL=$(cut -d' ' -f1 "$out" | tr '\n' ' ')
}

# ledger_run LOG: reqclient from hC for LEDGER_S seconds against the guest's
# port 7777; sets REQ_RATE, RTT50 and RTT99 (ms).
ledger_run() {
	local log=$1 n last
	ip netns exec "$(lab_ns hC)" "$REQCLIENT" "$LAB_GUEST_IP" 7777 "$LEDGER_S" "$log" 2> "$log.err" ||
		{ lab_log "reqclient: $(cat "$log.err")"; return 1; }
	n=$(wc -l < "$log")
	[ "$n" -gt 1 ] || { lab_log "reqclient got no replies: $(cat "$log.err")"; return 1; }
	last=$(tail -n 1 "$log" | cut -d' ' -f1)
	REQ_RATE=$(awk -v n="$n" -v t="$last" 'BEGIN {printf "%.0f", (n - 1) * 1000 / (t > 0 ? t : 1)}')
	RTT50=$(ms "$(cut -d' ' -f3 "$log" | pctl 50)")
	RTT99=$(ms "$(cut -d' ' -f3 "$log" | pctl 99)")
}

# disk_field KEY: one field of the disk object of the primary's status.
disk_field() {
	lab_ctl hA status --json 2>/dev/null | grep -o '"disk":{[^}]*}' | grep -o "\"$1\":[0-9]*" | cut -d: -f2
}

# window_start / window_end: the epochs and disk bytes of a measured window;
# window_end sets W_E0, W_E1, W_EPOCHS, W_BYTES (disk bytes sent).
window_start() { W_E0=$(lab_field hA epoch); W_B0=$(disk_field sent_bytes); }
window_end() {
	local b1
	W_E1=$(lab_field hA epoch)
	b1=$(disk_field sent_bytes)
	W_EPOCHS=$(( W_E1 - W_E0 ))
	W_BYTES=$(( ${b1:-0} - ${W_B0:-0} ))
}

# per_epoch BYTES EPOCHS: KiB per epoch.
per_epoch() { awk -v b="$1" -v e="$2" 'BEGIN {if (e > 0) printf "%.1f", b / 1024 / e; else print "n/a"}'; }

# pause_stats CSV RANGES PREFIX: the epochs E0 < e <= E1 of the stats CSV
# for each E0:E1 of RANGES; sets PREFIX_n (epochs) and, in ms "p50/p99",
# PREFIX_stop, _scan, _copy, _dev, _cont, _rest (scan+copy+devstate+cont)
# and _pause (all five, as bench/pause.sh), _vm (QEMU's STOP to RESUME
# events, column vm_pause_us; 0 for an older build), and PREFIX_rest50 and
# the like (p50 alone).
pause_stats() {
	local rows=$LAB_DIR/pause.$$.rows col i=1 p50
	awk -F, -v r="$2" 'BEGIN {n = split(r, rs, " "); for (i = 1; i <= n; i++) {split(rs[i], ab, ":"); a[i] = ab[1]; b[i] = ab[2]}}
		NR > 1 {for (i = 1; i <= n; i++) if ($1 > a[i] && $1 <= b[i]) {
			print $4, $5, $6, $7, $8, $5 + $6 + $7 + $8, $4 + $5 + $6 + $7 + $8, $11 + 0; next}}' \
		"$1" > "$rows"
	printf -v "${3}_n" '%s' "$(wc -l < "$rows")"
	for col in stop scan copy dev cont rest pause vm; do
		p50=$(ms "$(cut -d' ' -f$i "$rows" | pctl 50)")
		printf -v "${3}_$col" '%s' "$p50/$(ms "$(cut -d' ' -f$i "$rows" | pctl 99)")"
		printf -v "${3}_${col}50" '%s' "$p50"
		i=$(( i + 1 ))
	done
}

# wait_guest SERIAL WHAT REGEX...: every REGEX on the console within 180 s.
wait_guest() {
	local f=$1 what=$2 r; shift 2
	for r in "$@"; do
		lab_wait 180 console_has "$f" "$r" ||
			fail "$what: no '$r' on the console within 180 s; last lines: $(tr -d '\r' < "$f" | tail -n 5 | tr '\n' '|')"
	done
}

# ---- 1+2 unprotected: plain QEMU on hA, the raw image opened by QEMU --------

# unprotected [nbd]: with nbd, QEMU's disk is tests/tools/nbdserve (the
# daemon's NBD server on its own, nothing replicated): the NBD path's part.
unprotected() {
	local img=$LAB_DIR/plain.img serial=$LAB_DIR/plain.serial tap=${LAB_PFX}p
	local drive="file=$img,format=raw,if=virtio,cache=none" dev='' nbd_pid=''
	rm -f "$img" "$serial"; truncate -s "${DISK_MB}M" "$img"
	if [ "${1:-}" = nbd ]; then
		"$top_builddir/tests/tools/nbdserve" "$LAB_DIR/plain.sock" "$img" disk0 \
			> "$LAB_DIR/nbdserve.log" 2>&1 &
		nbd_pid=$!
		lab_wait 10 test -S "$LAB_DIR/plain.sock" || fail "nbdserve did not start"
		drive="driver=nbd,node-name=disk0,server.type=unix,server.path=$LAB_DIR/plain.sock,export=disk0"
		dev="-device virtio-blk-pci,drive=disk0"
	fi
	lab_exec hA ip tuntap add dev "$tap" mode tap || fail "cannot make the tap $tap"
	lab_exec hA ip link set "$tap" master br0 up
	ip netns exec "$(lab_ns hA)" qemu-system-x86_64 -machine q35 -m "${LAB_MEM:-128M}" -accel "$ACCEL" \
		-nodefaults -vga none -display none -no-user-config -serial "file:$serial" \
		-kernel "$US_GUEST_KERNEL" -initrd "$US_GUEST_INITRD" \
		-append "console=ttyS0 quiet $GUEST_RUN us.ip=$LAB_GUEST_IP/24" \
		$([ -n "$dev" ] && echo "-blockdev $drive $dev" || echo "-drive $drive") \
		-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" \
		-device "virtio-net-pci,netdev=n0,mac=$(lab_guest_mac),romfile=" \
		> "$LAB_DIR/plain.err" 2>&1 &
	plain_pid=$!
	wait_guest "$serial" "unprotected guest" '^us-ledger listening' '^us-ddbench: listening'
	seq_rounds "$serial" "$([ -n "$nbd_pid" ] && echo nbd || echo plain)" || fail "unprotected sequential rounds failed"
	if [ -n "$nbd_pid" ]; then
		B_SEQ=$SEQ_WALL B_SEQ_G=$SEQ_GUEST B_SEQ_ALL=$SEQ_ALL
	else
		U_SEQ=$SEQ_WALL U_SEQ_G=$SEQ_GUEST U_SEQ_ALL=$SEQ_ALL
		if [ "$CYCLE" = 1 ]; then
			ledger_run "$LAB_DIR/plain-req.log" || fail "unprotected ledger run failed"
			U_REQ=$REQ_RATE U_RTT50=$RTT50 U_RTT99=$RTT99
		fi
	fi
	kill -KILL "$plain_pid"; wait "$plain_pid" 2>/dev/null; plain_pid=''
	[ -z "$nbd_pid" ] || { kill "$nbd_pid"; wait "$nbd_pid" 2>/dev/null; }
	lab_exec hA ip link del "$tap"
	rm -f "$img" "$LAB_DIR/plain.sock"
}

# ---- protected pairs -------------------------------------------------------

# pair_up CSV: standby on hB, primary on hA writing CSV, wait until protected.
pair_up() {
	rm -f "$(lab_disk hA)" "$(lab_disk hB)"
	if [ -n "$STANDBY_DIR" ]; then	# host B's own disk, not host A's
		mkdir -p "$LAB_DIR/hB" && rm -f "$STANDBY_DIR/$LAB_PFX-hB.img" &&
			truncate -s "${DISK_MB}M" "$STANDBY_DIR/$LAB_PFX-hB.img" &&
			ln -s "$STANDBY_DIR/$LAB_PFX-hB.img" "$(lab_disk hB)" ||
			fail "cannot make host B's image in $STANDBY_DIR"
	fi
	lab_start hB standby
	lab_wait 30 lab_answers hB || fail "standby did not start"
	lab_start hA primary --stats "$1"
	lab_wait 240 primary_protected || fail "$(lab_guest_failed hA 240 "get protected")"
}

primary_protected() { [ "$(lab_field hA state)" = protected ]; }
pair_down() { lab_stop_host hA; lab_stop_host hB; }

protected_disk() {
	local serial=$LAB_DIR/hA/$LAB_VM.serial csv=$LAB_DIR/stats-disk.csv
	LAB_DISK=${DISK_MB}M LAB_APPEND=$GUEST_RUN
	pair_up "$csv"
	wait_guest "$serial" "protected guest" '^us-ledger listening' '^us-ddbench: listening'
	lab_wait 60 lab_acked_at_least $(( $(lab_field hA acked) + 20 )) || fail "epochs stalled"
	local w0
	w0=$(disk_field log_waits)
	PROT=1
	seq_rounds "$serial" prot || fail "protected sequential rounds failed"
	PROT=''
	P_SEQ=$SEQ_WALL P_SEQ_G=$SEQ_GUEST P_SEQ_ALL=$SEQ_ALL P_SEQ_CPU=$SEQ_CPU
	SEQ_LOGWAITS=$(( ${SEQ_LOGWAITS:-0} + $(disk_field log_waits) - w0 ))
	[ "$CYCLE" = 1 ] || { pair_down; LAB_DISK=''; return 0; }
	# epochs, bytes and pauses of the first cycle's rounds, and its ledger run
	P_SEQ_KIB=$(per_epoch "$SEQ_BYTES" "$SEQ_EPOCHS") P_SEQ_MIB=$(( SEQ_BYTES >> 20 )) P_SEQ_EP=$SEQ_EPOCHS
	pause_stats "$csv" "$SEQ_RANGES" S
	window_start
	ledger_run "$LAB_DIR/prot-req.log" || fail "protected ledger run failed"
	window_end
	P_REQ=$REQ_RATE P_RTT50=$RTT50 P_RTT99=$RTT99
	P_LED_KIB=$(per_epoch "$W_BYTES" "$W_EPOCHS") P_LED_REQ=$(wc -l < "$LAB_DIR/prot-req.log")
	P_LED_MIB=$(awk -v b="$W_BYTES" 'BEGIN {printf "%.1f", b / 1048576}') P_LED_EP=$W_EPOCHS
	pause_stats "$csv" "$W_E0:$W_E1" L
	pair_down
	LAB_DISK=''
}

# protected_baseline BIN: the sequential rounds alone on a pair of daemon BIN;
# sets O_SEQ, O_SEQ_G, O_SEQ_ALL, O_SEQ_EP and the O_ pause stats.
protected_baseline() {
	local bin=$US_BIN serial=$LAB_DIR/hA/$LAB_VM.serial csv=$LAB_DIR/stats-base.csv
	US_BIN=$1 LAB_DISK=${DISK_MB}M LAB_APPEND=$GUEST_RUN
	pair_up "$csv"
	wait_guest "$serial" "protected guest (baseline binary)" '^us-ledger listening' '^us-ddbench: listening'
	lab_wait 60 lab_acked_at_least $(( $(lab_field hA acked) + 20 )) || fail "epochs stalled"
	PROT=1
	seq_rounds "$serial" base || fail "protected sequential rounds (baseline binary) failed"
	PROT=''
	O_SEQ=$SEQ_WALL O_SEQ_G=$SEQ_GUEST O_SEQ_ALL=$SEQ_ALL O_SEQ_CPU=$SEQ_CPU
	[ "$CYCLE" != 1 ] || { O_SEQ_EP=$SEQ_EPOCHS; pause_stats "$csv" "$SEQ_RANGES" O; }
	pair_down
	US_BIN=$bin LAB_DISK=''
}

protected_nodisk() {
	local csv=$LAB_DIR/stats-nodisk.csv
	LAB_DISK='' LAB_APPEND="us.run=service"
	pair_up "$csv"
	wait_guest "$LAB_DIR/hA/$LAB_VM.serial" "protected guest without a disk" '^us-guest: ready'
	lab_wait 60 lab_acked_at_least $(( $(lab_field hA acked) + 20 )) || fail "epochs stalled"
	window_start
	ledger_run "$LAB_DIR/nodisk-req.log" || fail "protected counter-service run failed"
	window_end
	N_REQ=$REQ_RATE N_RTT50=$RTT50 N_RTT99=$RTT99
	pause_stats "$csv" "$W_E0:$W_E1" N
	pair_down
}

# The modes' sequential rounds by turns, CYCLES times, so that a drift of
# the host's disk over the run (2x here) reaches them all alike; the ledger,
# the bytes and the pauses come from the first cycle.
t_start=$(date +%s)
for CYCLE in $(seq "$CYCLES"); do
	if [ -n "$BASE_BIN" ]; then
		lab_log "cycle $CYCLE/$CYCLES: protected with a ${DISK_MB} MiB replicated disk, baseline binary $BASE_BIN"
		protected_baseline "$BASE_BIN"
	fi
	lab_log "cycle $CYCLE/$CYCLES: protected with a ${DISK_MB} MiB replicated disk"
	protected_disk
	if [ "$CYCLE" = 1 ]; then
		lab_log "protected without a disk (counter service)"
		protected_nodisk
		# the plain QEMU under the accelerator the daemons chose
		ACCEL=$(lab_accel hA); ACCEL=${ACCEL%% *}; ACCEL=${ACCEL:-tcg}
	fi
	lab_log "cycle $CYCLE/$CYCLES: unprotected: plain QEMU ($ACCEL), ${DISK_MB} MiB raw image, cache=none"
	unprotected
	lab_log "cycle $CYCLE/$CYCLES: unprotected through the NBD server alone (tests/tools/nbdserve, nothing replicated)"
	unprotected nbd
done

# ---- the table -------------------------------------------------------------

row() { printf '%-40s %12s %12s %7s %14s\n' "$@"; }
echo
row "1+2: the guest's disk" "unprotected" "protected" "ratio" "prot. no disk"
row "seq write MiB/s (wall, median)" "$U_SEQ" "$P_SEQ" "$(ratio "$P_SEQ" "$U_SEQ")" "-"
row "seq write MiB/s (guest clock)" "$U_SEQ_G" "$P_SEQ_G" "$(ratio "$P_SEQ_G" "$U_SEQ_G")" "-"
[ -z "$BASE_BIN" ] ||
	row "  protected, baseline binary (wall)" "$U_SEQ" "$O_SEQ" "$(ratio "$O_SEQ" "$U_SEQ")" "(guest $O_SEQ_G)"
row "  daemon CPU ms/MiB, primary/standby" "-" "$P_SEQ_CPU" "" "${BASE_BIN:+(baseline $O_SEQ_CPU)}"
row "  unprotected via the NBD server alone" "$B_SEQ" "-" "$(ratio "$B_SEQ" "$U_SEQ")" "(wall)"
row "  ... guest clock" "$B_SEQ_G" "-" "$(ratio "$B_SEQ_G" "$U_SEQ_G")" "(guest)"
row "ledger 4K write+fsync req/s" "$U_REQ" "$P_REQ" "$(ratio "$P_REQ" "$U_REQ")" "$N_REQ"
row "ledger round trip p50 ms" "$U_RTT50" "$P_RTT50" "$(ratio "$P_RTT50" "$U_RTT50")" "$N_RTT50"
row "ledger round trip p99 ms" "$U_RTT99" "$P_RTT99" "$(ratio "$P_RTT99" "$U_RTT99")" "$N_RTT99"
echo
printf '%-40s %14s %14s %14s\n' "3: disk bytes sent per epoch" "KiB/epoch" "sent MiB" "epochs"
printf '%-40s %14s %14s %14s\n' "sequential rounds (first cycle)" "$P_SEQ_KIB" "$P_SEQ_MIB" "$P_SEQ_EP"
printf '%-40s %14s %14s %14s\n' "during the ledger run ($P_LED_REQ requests)" "$P_LED_KIB" "$P_LED_MIB" "$P_LED_EP"
echo
prow() { printf '%-36s %11s %11s %11s %11s %11s %11s %11s %11s %6s\n' "$@"; }
# pause_row LABEL PREFIX
pause_row() {
	local v=() col n
	for col in stop scan copy dev cont rest pause vm; do
		n=${2}_$col; v+=("${!n}")
	done
	n=${2}_n
	prow "$1" "${v[@]}" "${!n}"
}
# delta A B: A - B, signed, one decimal.
delta() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%+.1f", a - b}'; }
# delta_row LABEL PREFIX BASE: PREFIX's p50s minus BASE's.
delta_row() {
	local v=() col a b
	for col in stop scan copy dev cont rest pause vm; do
		a=${2}_${col}50; b=${3}_${col}50; v+=("$(delta "${!a}" "${!b}")")
	done
	prow "$1" "${v[@]}" ""
}
prow "4: pause per epoch, ms p50/p99" stop scan copy devstate cont rest pause "vm paused" epochs
pause_row "protected, no disk, counter service" N
pause_row "protected, disk, ledger" L
pause_row "protected, disk, dd (first cycle)" S
[ -z "$BASE_BIN" ] || pause_row "  ... baseline binary" O
delta_row "p50: ledger with disk minus no disk" L N
delta_row "p50: dd with disk minus no disk" S N
echo
seq_ok=$(awk -v r="$(ratio "$P_SEQ" "$U_SEQ")" 'BEGIN {print (r != "n/a" && r >= 0.80) ? "met" : "NOT met"}')
# shellcheck disable=SC2154 # L_rest50 and the like: set by pause_stats (printf -v)
rest_ok=$(awk -v a="$L_rest50" -v b="$N_rest50" 'BEGIN {print (a - b <= 1.0) ? "met" : "NOT met"}')
echo "goal 1, protected sequential writes >= 80 % of unprotected (wall clock): $seq_ok" \
	"($(ratio "$P_SEQ" "$U_SEQ"); guest clock $(ratio "$P_SEQ_G" "$U_SEQ_G"))."
# shellcheck disable=SC2154
echo "goal 2, no pause added beyond the drain inside stop (the ledger's rest p50 within 1 ms of" \
	"the no-disk pair's): $rest_ok ($(delta "$L_rest50" "$N_rest50") ms; under dd" \
	"$(delta "$S_rest50" "$N_rest50") ms)."
echo "notes: seq = busybox dd of $SEQ_MB MiB, 1 MiB O_DIRECT blocks + fsync, $ROUNDS rounds per mode in each of $CYCLES cycles (the modes by turns)" \
	"(wall MiB/s unprotected: $U_SEQ_ALL; protected: $P_SEQ_ALL${BASE_BIN:+; baseline binary: $O_SEQ_ALL}), timed on the host from the console;" \
	"the guest's clock stands still while QEMU is stopped, so its MiB/s leaves the pauses out."
echo "  ledger = one 4 KiB O_DIRECT write + fdatasync per request at sequential offsets (not random)," \
	"one request at a time over TCP from hC for $LEDGER_S s; protected round trips include output commit" \
	"(a reply waits for its epoch's ACK: about epoch_ms), the no-disk pair's counter service:" \
	"$N_REQ req/s, p50/p99 $N_RTT50/$N_RTT99 ms."
echo "  pause = stop+scan+copy+devstate+cont from the primary's stats CSV (as bench/pause.sh); rest = pause" \
	"minus stop; vm paused = QEMU's own STOP to RESUME events (the daemon's cont is read after the epoch's" \
	"checksum and queueing, so pause bounds it from above). QMP stop drains and flushes the guest's disk I/O before it replies: that drain is in stop;" \
	"the no-disk pair's VM has no virtio-blk device, so its devstate lacks that device's state." \
	"epoch_ms=$EPOCH_MS; log_waits during the sequential rounds: $SEQ_LOGWAITS."
echo "  unprotected = plain QEMU ($ACCEL) with -drive file=IMG,format=raw,if=virtio,cache=none and a tap on" \
	"hA's bridge; protected = the lab pair (hA primary, hB standby, NBD disk of ${DISK_MB} MiB)." \
	"On a shared, noisy machine: orders of magnitude only. Took $(( $(date +%s) - t_start )) s."
