#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The ThreadSanitizer build: configures build-tsan/ with --enable-tsan and
# runs every unit test under it. The daemon has threads of its own (the NBD
# server, the disk flusher, the pause's copier and scan threads, the write
# log's waiters): a data race between them, or with the main loop, is a
# report, and any report fails. Reports go to build-tsan/tsan-reports/;
# tests/tsan.supp holds the few that are not ours to fix, each with why.
# Called by scripts/check.sh after the main run; takes the build's dependencies.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] || ./autogen.sh >/dev/null
mkdir -p build-tsan
cd build-tsan
[ -f Makefile ] || ../configure --enable-fatal-warnings --enable-tsan CFLAGS="-O1 -g" >configure.log 2>&1 ||
	{ tail -20 configure.log; exit 1; }
make -j"$(nproc)" >make.log 2>&1 || { tail -40 make.log; exit 1; }
reports=$PWD/tsan-reports
rm -rf "$reports"
mkdir -p "$reports"
export TSAN_OPTIONS="log_path=$reports/tsan:halt_on_error=0:suppressions=$top/tests/tsan.supp"
unit=$(make -s print-unit-tests 2>/dev/null)
make -j"$(nproc)" check TESTS="$unit" >check.log 2>&1
rc=$?
for log in $(grep -l -E '^:test-result: (FAIL|ERROR)' $(find . -name '*.trs') 2>/dev/null); do
	echo "===== build-tsan/${log%.trs}.log"
	tail -40 "${log%.trs}.log"
done
n=$(find "$reports" -type f | wc -l)
for f in $(find "$reports" -type f | head -5); do
	echo "===== ThreadSanitizer report $f"
	head -50 "$f"
done
tests=$(grep -h -c '^:test-result: PASS' $(find . -name '*.trs') | paste -sd+ | bc)
echo "understudy: ThreadSanitizer build: $tests tests passed, $n reports"
[ $rc -eq 0 ] && [ "$n" -eq 0 ]
