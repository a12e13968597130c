# SPDX-License-Identifier: LGPL-2.1-or-later
# Benchmarks are run by hand (see bench/README), not by make check.
EXTRA_DIST += bench/pause.sh bench/latency.sh bench/README
# bench/failover: host kills, kill to standby running and to the client's first reply,
# in both decision modes; bench/silence_soak: false takeovers of decide = silence
# under load; bench/silence_sweep: silence_ms against false takeovers and failover.
EXTRA_DIST += bench/failover.sh bench/silence_soak.sh bench/silence_sweep.sh
noinst_PROGRAMS += bench/dirtyscan
bench_dirtyscan_LDADD = $(US_LIBS)
# bench/pagecopy: the pause's copy column apart: memcpy, hash, page faults.
noinst_PROGRAMS += bench/pagecopy
bench_pagecopy_LDADD = $(US_LIBS)
# bench/transport: epochs over TCP here, over soft-RoCE in a guest (bench/transport.sh).
# tests/lib/rxe.sh: the guest boot it shares with tests/integration/rdma_rxe.sh.
EXTRA_DIST += bench/transport.sh tests/lib/rxe.sh
noinst_PROGRAMS += bench/transport
# bench/wire: bytes per epoch and CPU per page of each way to send pages;
# bench/wire.sh runs it and plots its table (WIRE_PLOT).
noinst_PROGRAMS += bench/wire
EXTRA_DIST += bench/wire.sh
bench_wire_CFLAGS = $(AM_CFLAGS) $(LZ4_CFLAGS) $(ZSTD_CFLAGS)
bench_wire_LDADD = $(US_LIBS) $(LZ4_LIBS) $(ZSTD_LIBS)
bench_transport_LDADD = $(US_LIBS)
if HAVE_RDMA
bench_transport_LDADD += $(RDMA_LIBS)
endif
# bench/disk: the disk's cost, unprotected (plain QEMU, cache=none) vs protected.
EXTRA_DIST += bench/disk.sh
# bench/switchover: the guest pause and client gap of planned switchovers.
EXTRA_DIST += bench/switchover.sh
# bench/scan: the idle scan against RAM size, 4 KiB pages on 1/2/N threads, 2 MiB huge pages.
EXTRA_DIST += bench/scan.sh
# bench/cpu: a CPU-bound guest protected at epoch_ms 25/50/100 beside unprotected.
EXTRA_DIST += bench/cpu.sh
# bench/campaign: understudy-lab campaigns of every fault, counter and script checkers.
EXTRA_DIST += bench/campaign.sh
