#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The sanitizer builds, run by scripts/check.sh after the main run; they take
# the build's dependencies. Any report fails; the reports land in DIR/reports/.
#   scripts/sanitize.sh         build-san/ with --enable-sanitizers (ASan and
#                               UBSan, any report aborts): every unit test and
#                               a takeover with a real QEMU, corosync and a
#                               client (failover_tcp.sh)
#   scripts/sanitize.sh --tsan  build-tsan/ with --enable-tsan (ThreadSanitizer):
#                               every unit test. The daemon's threads (the NBD
#                               server, the disk flusher, the pause's copier and
#                               scan threads, the write log's waiters) share
#                               memory with its main loop: a data race is a
#                               report. tests/tsan.supp holds the few that are
#                               not ours to fix, each with why.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] || ./autogen.sh >/dev/null
if [ "${1:-}" = --tsan ]; then
	dir=build-tsan what="ThreadSanitizer build"
	flags=(--enable-tsan CFLAGS="-O1 -g")
	extra=
else
	dir=build-san what="sanitizer build"
	flags=(--enable-sanitizers)
	extra=tests/integration/failover_tcp.sh
fi
mkdir -p "$dir"
cd "$dir"
[ -f Makefile ] || ../configure --enable-fatal-warnings "${flags[@]}" >configure.log 2>&1 ||
	{ tail -20 configure.log; exit 1; }
make -j"$(nproc)" >make.log 2>&1 || { tail -40 make.log; exit 1; }
reports=$PWD/reports
rm -rf "$reports"
mkdir -p "$reports"
export ASAN_OPTIONS="log_path=$reports/asan:detect_leaks=1:abort_on_error=1"
export LSAN_OPTIONS="suppressions=$top/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="log_path=$reports/tsan:halt_on_error=0:suppressions=$top/tests/tsan.supp"
unit=$(make -s print-unit-tests 2>/dev/null)
make -j"$(nproc)" check TESTS="$unit $extra" >check.log 2>&1
rc=$?
for log in $(grep -l -E '^:test-result: (FAIL|ERROR)' $(find . -name '*.trs') 2>/dev/null); do
	echo "===== $dir/${log%.trs}.log"
	tail -40 "${log%.trs}.log"
done
n=$(find "$reports" -type f | wc -l)
for f in $(find "$reports" -type f | head -5); do
	echo "===== sanitizer report $f"
	head -50 "$f"
done
tests=$(grep -h -c '^:test-result: PASS' $(find . -name '*.trs') | paste -sd+ | bc)
echo "understudy: $what: $tests tests passed, $n reports"
[ $rc -eq 0 ] && [ "$n" -eq 0 ]
