#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs the libFuzzer harnesses of a --enable-fuzzing build (from its top
# build directory; `make fuzz` and `make fuzz-regress` call it):
#   run.sh fuzz    SEEDS_DIR NAME...  each harness for FUZZ_SECONDS (default 60),
#                                     FUZZ_JOBS (default 1) at a time
#   run.sh regress SEEDS_DIR NAME...  each harness once over every seed
# SEEDS_DIR/NAME/ is a harness's seed corpus; what a run finds new goes to
# tests/fuzz/NAME.work/ here, not into the source tree. A crash, leak,
# timeout or sanitizer report fails the run: the input is copied into
# SEEDS_DIR/NAME/ (a regression seed from then on; commit it with the fix)
# and its path printed. Prints each harness's executions and coverage.
set -uo pipefail
mode=$1 seeds=$2
shift 2
secs=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1}
top_srcdir=$(cd "$seeds/../.." && pwd)
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export LSAN_OPTIONS="suppressions=$top_srcdir/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

# Longest input worth trying, per harness (a PAGES message is 4 KiB a page).
max_len() {
	case $1 in
	receiver | chanauth) echo 65536 ;;
	nbd) echo 16384 ;;
	*) echo 8192 ;;
	esac
}

# The last "#N ... cov: C ft: F corp: U/..." line: "C F U".
coverage() {
	grep -E '^#[0-9]+' "$1" | tail -1 |
		sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\).*/\1 \2 \3/p'
}

# A failed run: keep its input as a seed and say where.
keep_crash() {
	local name=$1 art=$2 log=$3 f dst
	echo "===== fuzz_$name FAILED; the end of $log:"
	tail -40 "$log"
	for f in "$art"/*; do
		[ -f "$f" ] || continue
		dst="$seeds/$name/$(basename "$f")"
		cp "$f" "$dst"
		echo "fuzz_$name: the failing input is now a seed: $dst"
		echo "  reproduce: $PWD/tests/fuzz/fuzz_$name $dst"
	done
}

fuzz_one() {
	local name=$1 work=tests/fuzz/$1.work art=tests/fuzz/$1.artifacts log=tests/fuzz/$1.fuzz.log
	local rc execs cov
	mkdir -p "$work"
	rm -rf "$art"
	mkdir -p "$art"
	"tests/fuzz/fuzz_$name" -max_total_time="$secs" -print_final_stats=1 \
		-max_len="$(max_len "$name")" -timeout=10 -artifact_prefix="$art/" \
		"$work" "$seeds/$name" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(coverage "$log")
	set -- ${cov:-? ? ?}
	printf '%-10s %6s %10s %8s %6s %6s %6s %s\n' "$name" "$secs" "${execs:-?}" \
		"$(( ${execs:-0} / (secs > 0 ? secs : 1) ))" "$1" "$2" "$3" \
		"$([ $rc -eq 0 ] && echo ok || echo CRASH)" >"tests/fuzz/$name.result"
	[ $rc -eq 0 ] || keep_crash "$name" "$art" "$log" >"tests/fuzz/$name.crash"
	return $rc
}

regress_one() {
	local name=$1 log=tests/fuzz/$1.regress.log n
	n=$(find "$seeds/$name" -type f | wc -l)
	if "tests/fuzz/fuzz_$name" -runs=1 $(find "$seeds/$name" -type f | sort) >"$log" 2>&1; then
		printf '%-10s %6s seeds ok\n' "$name" "$n"
		return 0
	fi
	printf '%-10s %6s seeds FAILED (tests/fuzz/%s.regress.log):\n' "$name" "$n" "$name"
	grep -E '^Running: ' "$log" | tail -1
	tail -30 "$log"
	return 1
}

fail=0
if [ "$mode" = regress ]; then
	for name in "$@"; do
		regress_one "$name" || fail=1
	done
	[ $fail -eq 0 ] && echo "fuzz: every seed of $# harnesses passed" ||
		echo "fuzz: a seed FAILED"
	exit $fail
fi

rm -f tests/fuzz/*.result tests/fuzz/*.crash
for name in "$@"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n
	done
	fuzz_one "$name" &
done
wait
printf '%-10s %6s %10s %8s %6s %6s %6s %s\n' harness secs execs exec/s cov ft corpus result
for name in "$@"; do
	cat "tests/fuzz/$name.result" 2>/dev/null || printf '%-10s did not run\n' "$name"
	if [ -s "tests/fuzz/$name.crash" ]; then
		cat "tests/fuzz/$name.crash"
		fail=1
	fi
	grep -q ' ok$' "tests/fuzz/$name.result" 2>/dev/null || fail=1
done
[ $fail -eq 0 ] && echo "fuzz: $# harnesses, ${secs}s each, no crash" ||
	echo "fuzz: a harness FAILED: its input is in its seed folder (above)"
exit $fail
