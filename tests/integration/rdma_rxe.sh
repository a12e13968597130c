#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The RDMA transport on real verbs: boots a QEMU guest (TCG) with Debian's
# kernel, whose rdma_rxe gives a soft-RoCE device on the guest's NIC, mounts
# the host's root read-only over virtio-9p and runs this build's transport
# conformance suite (tests/unit/transport_suite rdma 10.0.2.15) in a chroot
# into it, primary and standby in the same guest talking to the guest's own
# address (rxe on that kernel is not network-namespace aware). The guest
# prints rxe0's counters and "us-rxe: result rc=N" and powers off; this
# script asserts N = 0, that every suite test passed and that rxe sent no RNR
# NAK. Skips (77) only when the guest kernel cannot be obtained. QEMU and the
# temporary directory are removed on every exit (the guest's boot is
# tests/lib/rxe.sh, shared with bench/transport.sh).
set -euo pipefail

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=$(cd "${top_builddir:-.}" && pwd)
suite=$top_builddir/tests/unit/transport_suite
DEADLINE=${US_TEST_DEADLINE:-600} # seconds for the whole guest run under TCG
# shellcheck source=tests/lib/rxe.sh
. "$top_srcdir/tests/lib/rxe.sh"

[ -x "$suite" ] || fail "$suite not built: run make check"
rxe_setup
start=$(date +%s)
rxe_run "$suite" rdma,10.0.2.15 768M "$DEADLINE"
log=$RXE_LOG result=$RXE_RESULT
echo "$log" | grep -E '^\[ *(RUN|OK|FAILED|ERROR|PASSED|  LINE) *\]|^us-rxe:|transport conformance|rdma error' || true
[ "$result" = 0 ] || fail "the conformance suite over soft-RoCE failed (rc=$result)"
ran=$(echo "$log" | grep -o 'Running [0-9]* test' | grep -o '[0-9][0-9]*')
[ "${ran:-0}" -ge 6 ] || fail "the suite ran ${ran:-no} tests, expected at least 6"
echo "$log" | grep -q "^\[  PASSED  \] $ran test(s)\." || fail "the suite did not pass all its $ran tests"
# An RNR NAK (a SEND or WRITE_WITH_IMM that found no receive posted) stalls
# the queue pair for the peer's RNR timer: the transport must never cause one.
rnr=$(echo "$log" | sed -n 's/^us-rxe: counters .*rcvd_rnr_err:\([0-9]*\).*/\1/p')
[ -n "$rnr" ] || fail "the guest printed no rxe counters"
[ "$rnr" = 0 ] || fail "rxe answered $rnr RNR NAK(s): a sender outran the receives its peer posted"
echo "PASS: transport conformance suite over soft-RoCE (rxe0 in a TCG guest) in $(( $(date +%s) - start ))s; correctness only, not speed"
