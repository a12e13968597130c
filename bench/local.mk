# SPDX-License-Identifier: LGPL-2.1-or-later
# Benchmarks are run by hand (see bench/README), not by make check.
EXTRA_DIST += bench/pause.sh bench/latency.sh bench/README
# bench/failover: host kills, kill to standby running and to the client's first reply.
EXTRA_DIST += bench/failover.sh
noinst_PROGRAMS += bench/dirtyscan
bench_dirtyscan_LDADD = $(US_LIBS)
# bench/transport: epochs over TCP here, over soft-RoCE in a guest (bench/transport.sh).
# tests/lib/rxe.sh: the guest boot it shares with tests/integration/rdma_rxe.sh.
EXTRA_DIST += bench/transport.sh tests/lib/rxe.sh
noinst_PROGRAMS += bench/transport
bench_transport_LDADD = $(US_LIBS)
if HAVE_RDMA
bench_transport_LDADD += $(RDMA_LIBS)
endif
# bench/disk: the disk's cost, unprotected (plain QEMU, cache=none) vs protected.
EXTRA_DIST += bench/disk.sh
# bench/switchover: the guest pause and client gap of planned switchovers.
EXTRA_DIST += bench/switchover.sh
# bench/campaign: understudy-lab campaigns of every fault, counter and script checkers.
EXTRA_DIST += bench/campaign.sh
