#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# understudy-lab, the lab as a command, end to end:
#  1. its checkers can fail: histories with a repeated, a backwards and a
#     skipped value, a log that lost an entry, a register read that went back,
#     and frames from two hosts by turns are each reported as violations;
#  2. it refuses to start where its names are in use (here a RAM file in
#     /dev/shm named like its VM's, as a real VM of that name would have),
#     and leaves that file alone;
#  3. SIGINT to the process group of `run` (a terminal's Ctrl-C), twice,
#     while it starts the pair removes the whole lab: namespaces, processes,
#     mounts, shm_dirs, state;
#  4. a short campaign, one round of each fault kind (with real QEMU,
#     corosync and the lab's fence agent, the guest's ledger on a replicated
#     disk): the host faults, loss through the netem fallback (linkfault,
#     NFQUEUE; LAB_NO_NETEM=1 picks it where netem exists), slow-disk and
#     disk-full (slowfs, FUSE), passes every round with no violation, the
#     link and disk faults acted (linkfault dropped packets, slowfs delayed
#     and refused writes), summary.json has failover times for each fault,
#     its table a row for each, and a dry run with the same seed prints the
#     same schedule;
#  5. after it nothing of the lab is left: namespaces, shm_dirs, state.
set -u
. "$(dirname "$0")/../lib/common.sh"
export UNDERSTUDY_LAB_HOME=$top_srcdir/lab UNDERSTUDY_LAB_TOOLS=$top_builddir/tests/tools US_BIN
LAB=$top_builddir/understudy-lab
[ -x "$LAB" ] || fail "$LAB not built"
WORK=$(mktemp -d /tmp/lab_campaign.XXXXXX)
# a free lab number: other runs of this test may be on the machine
for ID in $(seq $(( $$ % 90 + 5 )) 99) $(seq 5 99); do
	ip netns list | grep -q "^uslab$ID-" || [ -e "/tmp/understudy-lab-uslab$ID" ] || break
done
FAKE=/dev/shm/understudy-uslab$ID.lab-campaign-test
cleanup() { rm -f "$FAKE"; "$LAB" --id "$ID" down >/dev/null 2>&1; rm -rf "$WORK"; }
trap cleanup EXIT
lab_gone() {
	! ip netns list | grep -q "^uslab$ID-" && ! compgen -G "/dev/shm/uslab$ID-*" >/dev/null &&
		[ ! -e "/tmp/understudy-lab-uslab$ID" ] && ! pgrep -f "uslab$ID([^0-9]|$)" >/dev/null &&
		! grep -q "understudy-lab-uslab$ID/" /proc/mounts
}
lab_left() {
	echo "namespaces: $(ip netns list | grep "^uslab$ID-" | tr '\n' ' ')" \
	     "shm: $(compgen -G "/dev/shm/uslab$ID-*" | tr '\n' ' ')" \
	     "state: $(ls -d "/tmp/understudy-lab-uslab$ID" 2>/dev/null)" \
	     "processes: $(pgrep -a -f "uslab$ID([^0-9]|$)" | cut -c1-120 | tr '\n' ';')" \
	     "mounts: $(grep "understudy-lab-uslab$ID/" /proc/mounts | cut -d' ' -f2 | tr '\n' ' ')"
}
# wait_for SECONDS CMD...: poll CMD every 0.2 s
wait_for() {
	local end=$(( $(date +%s) + $1 )); shift
	until "$@"; do [ "$(date +%s)" -lt "$end" ] || return 1; sleep 0.2; done
}

# 1. the checkers
check() { printf '%b' "$2" | awk -v model="$1" -f "$top_srcdir/lab/check.awk" | grep '^violation' | cut -d' ' -f3 | sort -u | tr '\n' ' '; }
[ "$(check counter '1 1\n2 2\n3 3\n4 4\n')" = "" ] || fail "the counter checker flagged a good history"
[ "$(check counter '1 1\n2 2\n3 2\n4 3\n')" = "lost repeated " ] || fail "a repeated counter value: $(check counter '1 1\n2 2\n3 2\n')"
[ "$(check counter '1 5\n2 6\n3 4\n')" = "backwards lost " ] || fail "a counter going backwards: $(check counter '1 5\n2 6\n3 4\n')"
[ "$(check counter '1 5\n2 8\n')" = "skipped " ] || fail "skipped counter values"
[ "$(check log '1 a\n2 a,b\n3 a,c\n')" = "lost " ] || fail "a log that lost an entry: $(check log '1 a\n2 a,b\n3 a,c\n')"
[ "$(check register '1 w 1\n2 w 2\n3 r 2\n4 r 1\n')" = "backwards lost " ] || fail "a register read of an old write"
check counter '10 1\n15 2\n4015 3\n' > /dev/null
stall=$(printf '10 1\n15 2\n4015 3\n' | awk -v model=counter -f "$top_srcdir/lab/check.awk" | awk '/^stall/ { print $3 }')
[ "$stall" = 4000 ] || fail "the longest stall is 4000 ms, the checker says $stall"
dual=$(printf '1 hA\n2 hA\n3 hB\n4 hA\n' | awk -v from=0 -f "$top_srcdir/lab/dual.awk")
echo "$dual" | grep -q dual-active || fail "frames from hA, hB, hA again were not reported dual-active"
[ -z "$(printf '1 hA\n2 hA\n3 hB\n4 hB\n' | awk -v from=0 -f "$top_srcdir/lab/dual.awk")" ] ||
	fail "a takeover (hA then hB) was reported dual-active"
note "checkers: every broken history reported"

# 2. collision refusal
echo "not the lab's" > "$FAKE"
out=$("$LAB" --id "$ID" up 2>&1) && fail "up started beside $FAKE: $out"
echo "$out" | grep -q "refusing to start.*RAM files of a VM uslab$ID" || fail "the refusal does not name the cause: $out"
[ "$(cat "$FAKE")" = "not the lab's" ] || fail "the refused up touched $FAKE"
"$LAB" --id "$ID" down > /dev/null
[ -e "$FAKE" ] || fail "down removed $FAKE, which the lab did not make"
rm -f "$FAKE"
note "refused beside a file named like its VM's, and left it alone: $out"

# 3. Ctrl-C while `run` starts the pair: SIGINT to its process group, as a
# terminal sends it, once the primary's QEMU runs
"$LAB" --id "$ID" up > /dev/null 2> "$WORK/up.err" || fail "up failed: $(cat "$WORK/up.err")"
# env --default-signal: a command started with & in a script ignores SIGINT,
# and bash cannot trap a signal ignored at its start; a terminal's foreground
# command has it at its default, as here
setsid env --default-signal=INT "$LAB" --id "$ID" run > "$WORK/run.out" 2>&1 &
run=$!
qemu_up() { grep -a -q 'QEMU for .* started' "/tmp/understudy-lab-uslab$ID/hA.log" 2>/dev/null; }
wait_for 120 qemu_up || fail "run never started the primary's QEMU: $(cat "$WORK/run.out")"
kill -INT -- -"$run"
# and again, in the middle of the removal, as a user pressing Ctrl-C twice
# or timeout(1) (which signals its child, then the group) does: before the
# fix this left the namespaces, state and shm_dirs (2 runs of 2)
sleep 0.3
kill -INT -- -"$run" 2>/dev/null
ended() { ! kill -0 "$run" 2>/dev/null; }
wait_for 120 ended || fail "run still runs 120 s after SIGINT: $(cat "$WORK/run.out")"
wait "$run"
rc=$?
[ "$rc" != 0 ] || fail "run exited 0 after SIGINT"
wait_for 10 lab_gone || fail "SIGINT to run (exit $rc) left: $(lab_left); run said: $(cat "$WORK/run.out")"
grep -q 'interrupted: stopping' "$WORK/run.out" || fail "run did not see the SIGINT: $(cat "$WORK/run.out")"
note "SIGINT to run's process group, twice: exit $rc, nothing left: $(tr '\n' ' ' < "$WORK/run.out")"

# 4. a campaign
faults=power-off-primary,power-off-standby,kill-daemon,stop-standby,partition-repl,partition-lan,corosync-restart
faults=$faults,loss,slow-disk,disk-full
rounds=$(echo "$faults" | tr ',' '\n' | wc -l)
seed=$(( RANDOM ))
note "campaign: seed $seed, $rounds rounds: $faults"
LAB_NO_NETEM=1 "$LAB" --id "$ID" campaign --seed "$seed" --faults "$faults" --rounds "$rounds" --out "$WORK/c" \
	--disk 512M --append "us.run=ledger us.disk=/dev/vda" > "$WORK/campaign.out" 2> "$WORK/campaign.err"
rc=$?
cat "$WORK/campaign.err" "$WORK/campaign.out" >&2
[ "$rc" = 0 ] || fail "the campaign failed (exit $rc); failed rounds in $(ls "$WORK/c/failed" 2>/dev/null)"
sum=$WORK/c/summary.json
[ "$(jq .rounds "$sum")" = "$rounds" ] && [ "$(jq .passed "$sum")" = "$rounds" ] ||
	fail "summary.json: $(jq -c '{rounds, passed, failed}' "$sum")"
[ "$(jq -c .violations "$sum")" = '{}' ] || fail "violations: $(jq -c .violations "$sum")"
[ "$(jq '.per_fault | length' "$sum")" = "$rounds" ] || fail "not every fault in per_fault: $(jq -c '.per_fault | keys' "$sum")"
jq -e '[.per_fault[].failover_ms.max] | all(. > 0)' "$sum" > /dev/null || fail "a fault with no failover time"
# the fault tools acted: counters from rounds.jsonl ("hA linkfault mechanism nfqueue ... dropped N ...")
acted() { jq -r --arg f "$1" 'select(.fault == $f) | .acted[]' "$WORK/c/rounds.jsonl" |
	awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) n += $(i + 1) } END { print n + 0 }'; }
[ "$(acted loss dropped)" -gt 0 ] || fail "loss: linkfault dropped nothing: $(jq -c 'select(.fault == "loss")' "$WORK/c/rounds.jsonl")"
[ "$(acted slow-disk delayed)" -gt 0 ] || fail "slow-disk: slowfs delayed nothing: $(jq -c 'select(.fault == "slow-disk")' "$WORK/c/rounds.jsonl")"
[ "$(acted disk-full refused)" -gt 0 ] || fail "disk-full: slowfs refused nothing: $(jq -c 'select(.fault == "disk-full")' "$WORK/c/rounds.jsonl")"
note "faults acted: loss dropped $(acted loss dropped) packets, slow-disk delayed $(acted slow-disk delayed) writes/fsyncs, disk-full refused $(acted disk-full refused)"
# the table has a row per fault (jq 1.6's string repetition once crashed it after the header)
for f in ${faults//,/ }; do
	grep -q "^$f " "$WORK/campaign.out" || fail "no row for $f in the table: $(cat "$WORK/campaign.out")"
done
"$LAB" --id "$ID" campaign --seed "$seed" --faults "$faults" --rounds "$rounds" --disk 512M --dry-run > "$WORK/replay" ||
	fail "the dry run failed"
cmp -s "$WORK/replay" "$WORK/c/schedule" || fail "the seed does not replay the schedule: $(diff "$WORK/replay" "$WORK/c/schedule")"
! command -v gnuplot >/dev/null || [ -s "$WORK/c/gaps.png" ] || fail "no gaps.png: $(cat "$WORK/c/gnuplot.err")"

# 5. nothing left
lab_gone || fail "the campaign left its lab behind"
echo "PASS: understudy-lab: checkers fail on broken histories, refuses a name collision, SIGINT removes it all," \
	"$rounds-round campaign passed (seed $seed) with link and disk faults acting, replayable"
