#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Pacemaker resource agent failover/ocf/understudy without a cluster:
# resource-agents' ocf-tester runs every action against a real daemon (real
# QEMU under TCG, in lab host hA's namespace, with a replicated disk and no
# standby): meta-data against ra-api-1.dtd, validate-all, monitor of a
# stopped resource (7), start (the standby daemon), probe, notify, demote of
# an unpromoted instance, promote (a cold boot: no primary runs anywhere),
# demote (the guest held stopped), promote again, each twice (idempotent),
# stop. Then the agent's own answers: monitor codes (0, 191 unprotected
# primary, 7 stopped), validate-all refusing a config without
# promote = pacemaker, and the promoted daemon's monitor after a crash (9).
set -u
. "$(dirname "$0")/../lib/common.sh"
LAB_DISK=64M
LAB_APPEND="us.run=ledger us.disk=/dev/vda"
LAB_PROMOTE=pacemaker
LAB_FENCE_COMMAND=""
. "$top_srcdir/tests/lib/lab.sh"
AGENT=$top_srcdir/failover/ocf/understudy
trap 'lab_exec hA env OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=vm HA_RSCTMP=$LAB_DIR/rsctmp \
	OCF_RESKEY_config=$CONF OCF_RESKEY_binary=$US_BIN "$AGENT" stop >/dev/null 2>&1; lab_down' EXIT
command -v ocf-tester >/dev/null || fail "ocf-tester missing: apt-get install resource-agents"

lab_up || fail "cannot build the lab"
CONF=$LAB_DIR/hA.conf
lab_disk_make hA || fail "no disk image"
lab_config hA "$CONF"
mkdir -p "$LAB_DIR/rsctmp"

# agent ACTION: run the agent in hA as Pacemaker's executor would; prints the exit code.
agent() {
	lab_exec hA env OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=vm HA_RSCTMP="$LAB_DIR/rsctmp" \
		OCF_RESKEY_config="$CONF" OCF_RESKEY_binary="$US_BIN" \
		OCF_RESKEY_logfile="$LAB_DIR/hA.log" "$AGENT" "$1" >/dev/null 2>>"$LAB_DIR/agent.err"
	echo $?
}

out=$(lab_exec hA env HA_RSCTMP="$LAB_DIR/rsctmp" ocf-tester -n vm -o config="$CONF" \
	-o binary="$US_BIN" -o logfile="$LAB_DIR/hA.log" "$AGENT" 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/# ocf-tester: /' >&2
[ $rc -eq 0 ] || fail "ocf-tester failed ($rc)"
printf '%s\n' "$out" | grep -q "passed all tests" || fail "ocf-tester did not pass all tests"
grep -q "COLD START" "$LAB_DIR/hA.log" || fail "promote did not cold-boot the VM"
grep -q "DEMOTED: VM" "$LAB_DIR/hA.log" || fail "demote did not hold the guest"

[ "$(agent monitor)" = 7 ] || fail "monitor of a stopped resource is not 7"
[ "$(agent start)" = 0 ] || fail "start failed: $(tail -3 "$LAB_DIR/agent.err")"
[ "$(agent monitor)" = 0 ] || fail "monitor of a lone standby is not 0"
[ "$(agent promote)" = 0 ] || fail "promote failed: $(tail -3 "$LAB_DIR/agent.err")"
[ "$(agent monitor)" = 191 ] ||
	fail "monitor of a primary without standby is not 191 (promoted, degraded)"
[ -n "$(lab_field hA qemu_pid)" ] || fail "no QEMU in the promoted daemon's status"
kill -9 "$(lab_field hA pid)" || fail "no daemon pid in status"
lab_wait 10 sh -c "[ \"\$(lab_exec hA true; echo)\" ]" >/dev/null 2>&1
sleep 1
[ "$(agent monitor)" = 9 ] || fail "monitor after the promoted daemon crashed is not 9 (failed promoted)"
[ "$(agent stop)" = 0 ] || fail "stop after a crash failed"
[ "$(agent monitor)" = 7 ] || fail "monitor after stop is not 7"
lab_kill_host hA	# the crashed daemon's QEMU

sed -i 's/^promote = pacemaker$/promote = auto/' "$CONF"
[ "$(agent validate-all)" = 6 ] || fail "validate-all accepted a config without promote = pacemaker"
grep -q "lacks \[failover\] promote = pacemaker" "$LAB_DIR/agent.err" ||
	fail "validate-all's reason does not name the missing key: $(tail -2 "$LAB_DIR/agent.err")"
note "ocf-tester passed; monitor 7/0/191/9 as the daemon's state says"
exit 0
