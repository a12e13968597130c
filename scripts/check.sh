#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The test command: installs the Debian packages, builds, builds the guest
# image (cached in /var/cache/understudy), and runs every test (`make check`:
# cmocka unit tests and integration tests with real QEMU and namespaces).
# Then the sanitizer build (scripts/sanitize.sh), the fuzzers (scripts/fuzz.sh)
# and make distcheck.
# Prints the logs of failed tests and a closing "N passed, N failed" line.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh" || exit 1
"$top/scripts/build.sh" || exit 1
"$top/scripts/lint.sh" || exit 1
"$top/guest/build.sh" >/dev/null || exit 1
cd "$top/build"
make -j"$(nproc)" check
rc=$?
for log in $(grep -l -E '^:test-result: (FAIL|ERROR)' $(find . -name '*.trs') 2>/dev/null); do
	echo "===== ${log%.trs}.log"
	tail -50 "${log%.trs}.log"
done
pass=$(grep -h -c '^:test-result: PASS' $(find . -name '*.trs') | paste -sd+ | bc)
failn=$(grep -h -c -E '^:test-result: (FAIL|ERROR|XPASS)' $(find . -name '*.trs') | paste -sd+ | bc)
skip=$(grep -h -c '^:test-result: SKIP' $(find . -name '*.trs') | paste -sd+ | bc)

# stage WHAT LOG LINES SHOW CMD...: run one more stage, counted as one more
# test; on failure the last LINES of LOG, else SHOW (a command) summarises it.
stage() {
	local what=$1 log=$2 lines=$3 show=$4
	shift 4
	if "$@" > "$log" 2>&1; then
		eval "$show"
		pass=$((pass + 1))
		return 0
	fi
	echo "===== $log"
	tail -"$lines" "$log"
	echo "understudy: $what FAILED (build/$log)"
	failn=$((failn + 1))
	return 1
}

# The sanitizer build (ASan, UBSan): the unit tests and a takeover, with no
# report (scripts/sanitize.sh).
stage "the sanitizer build" sanitize.log 60 'tail -1 sanitize.log' "$top/scripts/sanitize.sh"
src=$?

# The ThreadSanitizer build: the unit tests, with no report (scripts/sanitize.sh --tsan).
stage "the ThreadSanitizer build" tsan.log 60 'tail -1 tsan.log' "$top/scripts/sanitize.sh" --tsan
trc=$?

# The fuzzers (scripts/fuzz.sh, clang's libFuzzer): every seed, then each
# harness for a bounded time; a crash fails, its input left as a new seed.
stage "the fuzzers" fuzz.log 80 "sed -n '/^harness/,\$p' fuzz.log" "$top/scripts/fuzz.sh"
frc=$?

# The release tarball: make distcheck builds it, then configures, builds,
# runs the unit tests, installs and uninstalls from it (distcheck-unit in
# Makefile.am: the integration tests ran above, in this tree).
make -j"$(nproc)" distcheck-unit > distcheck.log 2>&1
drc=$?
if [ $drc -ne 0 ]; then
	echo "===== distcheck.log"
	tail -40 distcheck.log
	for log in $(find understudy-*/ -name '*.trs' -exec grep -l -E '^:test-result: (FAIL|ERROR)' {} + 2>/dev/null); do
		echo "===== ${log%.trs}.log"
		tail -50 "${log%.trs}.log"
	done
	# a failed distcheck leaves its tree read-only: remove it, or the next
	# run would count its test results with this tree's
	chmod -R u+w understudy-*/ 2>/dev/null
	rm -rf understudy-*/
	echo "understudy: make distcheck FAILED (build/distcheck.log)"
	failn=$((failn + 1))
else
	echo "understudy: make distcheck passed"
	pass=$((pass + 1))
fi
# the closing line counts distcheck as one more test
echo "understudy: $pass passed, $failn failed, $skip skipped"
[ $rc -eq 0 ] && [ $drc -eq 0 ] && [ $src -eq 0 ] && [ $trc -eq 0 ] && [ $frc -eq 0 ]
