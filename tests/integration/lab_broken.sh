#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The lab's checker can fail: in a build configured with
# --enable-test-early-release (scripts/broken.sh; never installed) the
# daemon releases the guest's output before the standby acknowledged it.
# A campaign of primary host kills must then report the damage: replies the
# client was given from an epoch the standby never had (lost or repeated
# values, or a connection stuck because the client's TCP saw data the
# surviving guest never sent). Asserted: the campaign exits non-zero, and
# summary.json counts failed rounds whose reason is a violation or a client
# that got nothing more. Skipped (77) in a normal build.
set -u
. "$(dirname "$0")/../lib/common.sh"
grep -q '^#define US_TEST_EARLY_RELEASE 1' "$top_builddir/config.h" ||
	{ echo "SKIP: needs the --enable-test-early-release build (scripts/broken.sh)" >&2; exit 77; }
export UNDERSTUDY_LAB_HOME=$top_srcdir/lab UNDERSTUDY_LAB_TOOLS=$top_builddir/tests/tools US_BIN
LAB=$top_builddir/understudy-lab
WORK=$(mktemp -d /tmp/lab_broken.XXXXXX)
for ID in $(seq $(( $$ % 90 + 5 )) 99) $(seq 5 99); do
	ip netns list | grep -q "^uslab$ID-" || [ -e "/tmp/understudy-lab-uslab$ID" ] || break
done
trap '"$LAB" --id "$ID" down >/dev/null 2>&1; rm -rf "$WORK"' EXIT
seed=$RANDOM
"$LAB" --id "$ID" campaign --seed "$seed" --faults power-off-primary,kill-daemon --rounds 4 --out "$WORK/c" \
	> "$WORK/out" 2>&1 && fail "the campaign passed a build that releases output early: $(cat "$WORK/out")"
cat "$WORK/out" >&2
sum=$WORK/c/summary.json
[ -s "$sum" ] || fail "no summary.json"
caught=$(jq '[.[] | select(.passed | not) | select(.why | test("violations|no reply|connection broke"))] | length' \
	-s "$WORK/c/rounds.jsonl")
[ "${caught:-0}" -gt 0 ] || fail "no round failed for a violation or a stuck client: $(jq -c '[.[] | .why]' -s "$WORK/c/rounds.jsonl")"
echo "PASS: the broken build was caught in $caught of 4 rounds (seed $seed): $(jq -c .violations "$sum")"
