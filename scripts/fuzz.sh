#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The fuzzers, as CI runs them: configures build-fuzz/ with clang and
# --enable-fuzzing (ASan, UBSan, libFuzzer), builds the harnesses
# (tests/fuzz/), runs each once over its seed corpus (the regression test),
# then fuzzes each for FUZZ_SECONDS (default 20), FUZZ_JOBS (default: the
# cores) at a time, and prints each harness's executions and coverage.
# Exits non-zero on any crash, leak or sanitizer report; the failing input
# is left in tests/fuzz/NAME/ (a seed from then on) and its path printed.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
command -v clang >/dev/null ||
	{ echo "fuzz.sh: no clang: apt-get install clang libclang-rt-14-dev" >&2; exit 1; }
[ -x configure ] && [ configure -nt configure.ac ] || ./autogen.sh >/dev/null
mkdir -p build-fuzz
cd build-fuzz
[ -f Makefile ] || ../configure CC=clang --enable-fatal-warnings --enable-fuzzing \
	>configure.log 2>&1 || { tail -20 configure.log; exit 1; }
progs=$(make -s print-fuzz-progs | tail -1)
make -j"$(nproc)" $progs >make.log 2>&1 || { tail -40 make.log; exit 1; }
make -s fuzz-regress || exit 1
make -s fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-20}" FUZZ_JOBS="${FUZZ_JOBS:-$(nproc)}"
