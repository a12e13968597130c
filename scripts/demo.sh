#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The demo: hosts are network namespaces on this machine, each running its own
# corosync; the guest boots on hA under protection with a standby on hB, and
# a client on hC keeps one TCP connection to the guest's counter service.
# Then every process of hA (daemon, QEMU, corosync) is SIGKILLed; hB's
# corosync sees hA leave, the lab's fence agent confirms hA is off, and the
# guest carries on from hB. It prints the
# guest's console counter and the client's last reply just before and first
# reply just after, and the time from the kill to the guest running again. Installs and builds what it needs;
# removes everything it made when it ends.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh" >/dev/null || exit 1
"$top/scripts/build.sh" >/dev/null || exit 1
export top_srcdir=$top top_builddir=$top/build
. "$top/tests/lib/common.sh"
LAB_VM=demo
LAB_NIC=1
LAB_APPEND="us.run=counter,service"
LAB_COROSYNC=1
. "$top/tests/lib/lab.sh"
trap lab_down EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ms_now() { echo $(( $(date +%s%N) / 1000000 )); }
ser_a=$LAB_DIR/hA/$LAB_VM.serial
ser_b=$LAB_DIR/hB/$LAB_VM.serial

lab_up || fail "cannot create the lab namespaces"
say "host B ($(lab_ip hB)): corosync, standby daemon, QEMU parked on the replica RAM"
lab_start hB standby
lab_wait 30 lab_field hB state >/dev/null || fail "standby did not start: $(tail -5 "$LAB_DIR/hB.log")"
say "host A ($(lab_ip hA)): corosync, primary daemon boots the guest, initial sync, then an epoch every 50 ms"
lab_start hA primary
lab_wait 180 lab_counting "$ser_a" 20 || fail "$(lab_guest_failed hA 180)"
say "host C ($LAB_CLIENT_IP): a client sends increments to the guest ($LAB_GUEST_IP:7777) over one TCP connection"
clog=$LAB_DIR/client.log
ip netns exec "$(lab_ns hC)" "$top_builddir/tests/tools/reqclient" "$LAB_GUEST_IP" 7777 600 "$clog" \
	2> "$LAB_DIR/client.err" &
cpid=$!
lab_wait 60 lab_replies_at_least "$clog" 20 || fail "the client gets no replies: $(cat "$LAB_DIR/client.err")"
lab_wait 30 lab_member hB || fail "the daemons do not see each other in corosync: $(tail -5 "$LAB_DIR/hB.log")"
grep -E 'initial sync|committed|protected' "$LAB_DIR/hA.log" | sed 's/^/   /'
say "understudy status on host A"
lab_ctl hA status | sed 's/^/   /'
say "guest serial console on host A (last lines)"
lab_counters "$ser_a" | tail -3 | sed 's/^/   us-counter /'

say "power host A off: SIGKILL its daemon, QEMU and corosync"
before=$(lab_counters "$ser_a" | tail -1)
t0=$(ms_now)
lab_kill_host hA
rbefore=$(tail -1 "$clog" | cut -d' ' -f2)
nbefore=$(lab_replies "$clog")
lab_wait 60 lab_counting "$ser_b" 1 || fail "$(lab_guest_failed hB 60 "resume on host B")"
t1=$(ms_now)
after=$(lab_counters "$ser_b" | head -1)
lab_wait 60 lab_replies_at_least "$clog" $(( nbefore + 1 )) || fail "the client got no reply after the takeover"
t2=$(ms_now)
rafter=$(sed -n "$(( nbefore + 1 ))p" "$clog" | cut -d' ' -f2)
grep -E 'stream lost|left the group|FENCED|promotion|TAKEOVER' "$LAB_DIR/hB.log" | grep -v 'no committed epoch' | cut -c1-190 | sed 's/^/   /'
sleep 2
say "result"
printf '   accelerator (QEMU on host B)           : %s\n' "$(lab_accel hB)"
printf '   counter on host A just before the kill : %s\n' "$before"
printf '   first counter printed on host B        : %s\n' "$after"
printf '   kill -> guest printing again on host B : %d ms (the counter prints every 100 ms)\n' $(( t1 - t0 ))
printf '   standby: last epoch -> guest running   : %s ms (corosync token %s ms, then fence)\n' \
	"$(lab_field hB takeover_ms)" "$CS_TOKEN"
printf '   guest rebooted on host B?              : %s\n' \
	"$(grep -a -q 'us-guest: boot' "$ser_b" && echo YES || echo no)"
printf '   host B counter two seconds later       : %s\n' "$(lab_counters "$ser_b" | tail -1)"
kill -TERM "$cpid"
if wait "$cpid"; then conn="intact (never reset)"; else conn="BROKEN: $(cat "$LAB_DIR/client.err")"; fi
printf '   client: last reply before the kill     : %s\n' "$rbefore"
printf '   client: first reply after the kill     : %s (%d ms after the kill)\n' "$rafter" $(( t2 - t0 ))
printf '   client: TCP connection                 : %s\n' "$conn"
printf '   client: replies 1..N without gaps?     : %s\n' \
	"$(lab_replies_in_order "$clog" >/dev/null && echo "yes ($(lab_replies "$clog") replies)" || echo NO)"
say "understudy status on host B"
lab_ctl hB status | sed 's/^/   /'
