#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The primary's daemon crashes (SIGKILL) while its QEMU and its host's
# corosync live on, with real QEMU, tap, bridge and corosync. The standby
# sees the stream close (a suspicion) and corosync report the daemon gone
# (procdown); it must fence hA before it promotes, so the VM never runs
# twice. The fence agent is wrapped to wait 1.5 s first, so the test can
# watch the window: hA's QEMU outlived its daemon and hB has not promoted
# while the fence is pending. Asserted after: hB promoted only after
# "FENCED node hA"; hA has no process and hB runs the only QEMU; the
# client's replies are 1, 2, 3, ... on one connection. It holds in both
# decision modes (LAB_DECIDE=silence: the silent stream starts the fence).
set -u
. "$(dirname "$0")/../lib/common.sh"
LAB_NIC=1
LAB_APPEND="us.run=service"
LAB_COROSYNC=1
. "$top_srcdir/tests/lib/lab.sh"
trap lab_down EXIT
log=$LAB_DIR/client.log
LAB_FENCE_COMMAND=$LAB_DIR/slow_fence.sh

active() { lab_runs_vm hB; }
# alive PID: running (a zombie left for init to reap does not count)
alive() { local st; st=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null); [ -n "$st" ] && [ "$st" != Z ]; }

lab_up || fail "cannot build the lab"
printf '#!/bin/sh\nsleep 1.5\nexec %s %s "$1"\n' "$LAB_HOME/fence_lab.sh" "$LAB_PFX" > "$LAB_FENCE_COMMAND"
chmod +x "$LAB_FENCE_COMMAND"
lab_protected_pair "$log" || fail "no protected pair"
sleep_ms "$(rand_ms 200 2000)"
before=$(lab_replies "$log")
qpid=$(lab_field hA qemu_pid)
[ -n "$qpid" ] && alive "$qpid" || fail "no QEMU pid in hA's status"
kill -KILL "$(lab_daemon_pid hA)"
lab_wait 30 grep -q 'fencing node hA' "$LAB_DIR/hB.log" || fail "hB never started fencing hA"
alive "$qpid" || fail "hA's QEMU died with its daemon: this test needs it alive"
[ "$(lab_field hB role)" = standby ] || fail "hB promoted while hA's QEMU still ran"
lab_wait 60 active || fail "hB did not take over: $(grep -E 'fenc|promotion|left' "$LAB_DIR/hB.log" | tail -4)"
lab_wait 30 lab_host_empty hA || fail "hA still has processes"
! alive "$qpid" || fail "hA's QEMU (pid $qpid) survived"
[ "$(lab_qemus hB)" = 1 ] || fail "hB runs $(lab_qemus hB) QEMUs"
grep -q 'peer primary hA .* left the group: procdown' "$LAB_DIR/hB.log" ||
	fail "corosync did not report the daemon down: $(grep 'left the group' "$LAB_DIR/hB.log")"
fenced=$(lab_line_no "$LAB_DIR/hB.log" 'FENCED node hA')
took=$(lab_line_no "$LAB_DIR/hB.log" 'TAKEOVER')
[ -n "$fenced" ] && [ "$fenced" -lt "$took" ] || fail "hB promoted before hA was fenced"
lab_wait 60 lab_replies_at_least "$log" $(( before + 10 )) || fail "no replies after the takeover"
kill -TERM "$LAB_CLIENT_PID"
wait "$LAB_CLIENT_PID" || fail "client: $(cat "$log.err")"
lab_replies_in_order "$log" >&2 || fail "the client got repeated or diverging replies"
note "$before replies before the crash, $(lab_replies "$log") in all; $(grep -a -o 'guest running [0-9]* ms' "$LAB_DIR/hB.log")"
echo "PASS (decide = ${LAB_DECIDE:-membership}): a crashed primary daemon with live QEMU was fenced before the standby promoted; one copy runs"
