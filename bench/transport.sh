#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/transport: epochs of 1k, 10k and 50k random pages through the
# replication transport into the real standby receiver, pages/s and GB/s
# beside a memcpy and a plain TCP stream of the same bytes measured in the
# same run (build/bench/transport). First over TCP on this host's loopback,
# then over verbs on soft-RoCE (rxe0) in a TCG guest booted as
# tests/integration/rdma_rxe.sh does (tests/lib/rxe.sh), where the TCP
# baseline is the guest's own loopback. Soft-RoCE under TCG proves
# correctness, not speed.
# Usage (root): bench/transport.sh [REPEATS [GUEST_REPEATS]]   (20 and 5;
# after ./scripts/build.sh, or with top_builddir=DIR)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export top_srcdir=$top
top_builddir=$(cd "${top_builddir:-$top/build}" && pwd)
export top_builddir
bench=$top_builddir/bench/transport
REPEATS=${1:-20}
GUEST_REPEATS=${2:-5}
DEADLINE=${US_BENCH_DEADLINE:-3600}	# seconds for the guest run under TCG

[ -x "$bench" ] || { echo "FAIL: $bench not built: run ./scripts/build.sh" >&2; exit 1; }
echo "== TCP over loopback on this host: $bench tcp 127.0.0.1 $REPEATS"
"$bench" tcp 127.0.0.1 "$REPEATS"
echo
echo "== RDMA (soft-RoCE rxe0) in a TCG guest: $bench rdma 10.0.2.15 $GUEST_REPEATS"
grep -q '^#define HAVE_RDMA 1' "$top_builddir/config.h" ||
	{ echo "SKIP: this build has no RDMA transport (rdma-core missing at configure)"; exit 0; }
# shellcheck source=tests/lib/rxe.sh
. "$top/tests/lib/rxe.sh"
rxe_setup
rxe_run "$bench" "rdma,10.0.2.15,$GUEST_REPEATS" 2G "$DEADLINE"
echo "$RXE_LOG" | grep -E '^(bench/transport|soft-RoCE|this build)|^ *(pages|[0-9]+) \|' || true
[ "$RXE_RESULT" = 0 ] || fail "bench/transport in the guest failed (rc=$RXE_RESULT)"
