#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/latency: request latency from hC to the guest's counter service (one
# TCP connection, one request at a time), p50 and p99 over N requests:
# unprotected (baseline, same run: the same VM, relay and tap after the
# standby is gone and the primary runs degraded) and protected at epoch
# intervals of 25, 50 and 100 ms. Output commit makes a reply wait for the
# ACK of the epoch that produced it: expect roughly epoch_ms/2 to epoch_ms
# plus the checkpoint pause. Real QEMU under TCG: orders of magnitude only.
# Usage (root): bench/latency.sh [N]   (after ./scripts/build.sh)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export top_srcdir=$top top_builddir=${top_builddir:-$top/build}
. "$top/tests/lib/common.sh"
N=${1:-300}
LAB_NIC=1
LAB_APPEND="us.run=service"
. "$top/tests/lib/lab.sh"
trap lab_down EXIT
lab_up || fail "cannot create the lab"


# pct FILE P: the P-th percentile of the latency column, in ms.
pct() {
	awk '{print $3}' "$1" | sort -n |
		awk -v p="$2" '{v[NR]=$1} END {printf "%.1f", v[int((NR-1)*p/100)+1]/1000}'
}

# measure NAME EPOCH_MS [unprotected]
measure() {
	local name=$1 log=$LAB_DIR/lat-$1.log pid start
	LAB_EPOCH_MS=$2
	lab_start hB standby
	lab_wait 30 lab_answers hB || fail "standby did not start"
	lab_start hA primary
	ip netns exec "$(lab_ns hC)" "$top_builddir/tests/tools/reqclient" "$LAB_GUEST_IP" 7777 \
		3600 "$log" 2>/dev/null &
	pid=$!
	lab_wait 180 lab_replies_at_least "$log" 20 ||
		fail "$name: $(lab_guest_failed hA 180 "come up" "no reply to the client on hC")"
	if [ -n "${3:-}" ]; then
		lab_kill_host hB
		lab_wait 30 sh -c "[ \"\$(ip netns exec $(lab_ns hA) $US_BIN status --vm $LAB_VM --json | grep -o '\"degraded\":true')\" ]" ||
			fail "primary did not degrade"
		sleep 1
	fi
	start=$(lab_replies "$log")
	lab_wait 600 lab_replies_at_least "$log" $(( start + N )) || fail "$name: replies stalled"
	kill -TERM "$pid"; wait "$pid"
	tail -n +"$(( start + 1 ))" "$log" | head -n "$N" > "$log.sel"
	printf '%-24s %8s %8s %8s\n' "$name" "$(pct "$log.sel" 50)" "$(pct "$log.sel" 99)" "$N"
	lab_stop_host hA; lab_stop_host hB
}

printf '%-24s %8s %8s %8s\n' "mode" "p50 ms" "p99 ms" "requests"
measure "unprotected (baseline)" 50 unprotected
for ms in 25 50 100; do measure "protected, epoch ${ms} ms" "$ms"; done
echo "one TCP connection from hC, one request at a time; QEMU under TCG on a shared 2-core machine."
