#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The sanitizer build: configures build-san/ with --enable-sanitizers (ASan
# and UBSan, any report aborts), runs every unit test and a takeover with a
# real QEMU, corosync and a client (failover_tcp.sh) under it, and fails on
# any report, which the sanitizers write to build-san/san-reports/. Called
# by scripts/check.sh after the main run; takes the build's dependencies.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] || ./autogen.sh >/dev/null
mkdir -p build-san
cd build-san
[ -f Makefile ] || ../configure --enable-fatal-warnings --enable-sanitizers >configure.log 2>&1 ||
	{ tail -20 configure.log; exit 1; }
make -j"$(nproc)" >make.log 2>&1 || { tail -40 make.log; exit 1; }
reports=$PWD/san-reports
rm -rf "$reports"
mkdir -p "$reports"
export ASAN_OPTIONS="log_path=$reports/asan:detect_leaks=1:abort_on_error=1"
export LSAN_OPTIONS="suppressions=$top/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1:halt_on_error=1"
unit=$(make -s print-unit-tests 2>/dev/null)
make -j"$(nproc)" check TESTS="$unit tests/integration/failover_tcp.sh" >check.log 2>&1
rc=$?
for log in $(grep -l -E '^:test-result: (FAIL|ERROR)' $(find . -name '*.trs') 2>/dev/null); do
	echo "===== build-san/${log%.trs}.log"
	tail -40 "${log%.trs}.log"
done
n=$(find "$reports" -type f | wc -l)
for f in $(find "$reports" -type f | head -5); do
	echo "===== sanitizer report $f"
	head -40 "$f"
done
tests=$(grep -h -c '^:test-result: PASS' $(find . -name '*.trs') | paste -sd+ | bc)
echo "understudy: sanitizer build: $tests tests passed, $n reports"
[ $rc -eq 0 ] && [ "$n" -eq 0 ]
