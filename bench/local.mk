# SPDX-License-Identifier: LGPL-2.1-or-later
# Benchmarks are run by hand (see bench/README), not by make check.
EXTRA_DIST += bench/pause.sh bench/latency.sh bench/README
noinst_PROGRAMS += bench/dirtyscan
bench_dirtyscan_LDADD = $(US_LIBS)
