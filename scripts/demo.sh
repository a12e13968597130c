#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The demo: hosts are network namespaces on this machine, each running its own
# corosync; the guest boots on hA under protection with a standby on hB and a
# replicated disk (a sparse 64 MiB raw image on each host, served to QEMU by
# the daemon's NBD server). The guest runs the counter (a console line every
# 100 ms) and the ledger: each request appends the next record to the raw
# disk (O_DIRECT write + fdatasync) and only then is answered with its
# number. A client on hC keeps one TCP connection to the ledger. Then every
# process of hA (daemon, QEMU, corosync) is SIGKILLed; hB's corosync sees hA
# leave, the lab's fence agent confirms hA is off, and the guest carries on
# from hB. It prints the guest's console counter and ledger record, and the
# client's last reply, just before the kill and first just after, and the
# time from the kill to the guest running again; then it stops hB's daemon
# (SIGTERM: its QEMU stops, the image stays) and checks hB's image with
# tests/tools/ledgercheck: records 1..M intact, M at least the client's last
# reply. Installs and builds what it needs; removes everything it made when
# it ends, also on failure.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh" >/dev/null || exit 1
"$top/scripts/build.sh" >/dev/null || exit 1
export top_srcdir=$top top_builddir=$top/build
. "$top/tests/lib/common.sh"
LAB_VM=demo
LAB_NIC=1
LAB_APPEND="us.run=counter,ledger us.disk=/dev/vda"
LAB_DISK=64M
LAB_COROSYNC=1
. "$top/tests/lib/lab.sh"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ms_now() { echo $(( $(date +%s%N) / 1000000 )); }
ser_a=$LAB_DIR/hA/$LAB_VM.serial
ser_b=$LAB_DIR/hB/$LAB_VM.serial
# ledger_records FILE: the record numbers the ledger printed, one a line.
ledger_records() { grep -a -o -E 'us-ledger [0-9]+' "$1" 2>/dev/null | cut -d' ' -f2; }
ledger_writing() { [ "$(ledger_records "$1" | wc -l)" -ge "$2" ]; }
daemon_gone() { ! kill -0 "$1" 2>/dev/null; }
# ledger_said FILE: the ledger's last messages (and any workload's exit) on
# the console FILE, on one line: the counter's lines hide them in its tail.
ledger_said() {
	local out
	out=$(tr -d '\r' < "$1" 2>/dev/null | grep -a -E '^us-ledger[: ]|^us-guest: .*exited' |
		grep -a -v -E '^us-ledger [0-9]+$' | tail -n 4 | awk 'NR > 1 { printf " | " } { printf "%s", $0 }')
	echo "the ledger said: ${out:-nothing}"
}
# demo_down: the client first (no "Killed" notice from its job), then the lab.
demo_down() {
	[ -z "${cpid:-}" ] || { kill -TERM "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null; }
	lab_down
}

trap demo_down EXIT
ledgercheck=$top_builddir/tests/tools/ledgercheck
[ -x "$ledgercheck" ] || fail "$ledgercheck not built (scripts/build.sh builds it)"
[ -x "$top_builddir/tests/tools/reqclient" ] || fail "$top_builddir/tests/tools/reqclient not built"

lab_up || fail "cannot create the lab namespaces"
say "host B ($(lab_ip hB)): corosync, standby daemon, QEMU parked on the replica RAM, a blank $LAB_DISK disk image"
lab_start hB standby || fail "cannot start host B's standby"
lab_wait 30 lab_field hB state >/dev/null || fail "standby did not start: $(tail -5 "$LAB_DIR/hB.log")"
say "host A ($(lab_ip hA)): corosync, primary daemon boots the guest, initial sync of RAM and disk, then an epoch every 50 ms"
lab_start hA primary || fail "cannot start host A's primary"
lab_wait 180 lab_counting "$ser_a" 20 || fail "$(lab_guest_failed hA 180)"
say "host C ($LAB_CLIENT_IP): a client sends requests to the guest's ledger ($LAB_GUEST_IP:7777) over one TCP connection"
clog=$LAB_DIR/client.log
ip netns exec "$(lab_ns hC)" "$top_builddir/tests/tools/reqclient" "$LAB_GUEST_IP" 7777 600 "$clog" \
	2> "$LAB_DIR/client.err" &
cpid=$!
lab_wait 60 lab_replies_at_least "$clog" 20 ||
	fail "$(lab_guest_failed hA 60 "answer the client's ledger requests" \
		"$(ledger_said "$ser_a")$([ -s "$LAB_DIR/client.err" ] &&
			echo "; client: $(tr '\n' ' ' < "$LAB_DIR/client.err")")")"
lab_wait 30 lab_member hB || fail "the daemons do not see each other in corosync: $(tail -5 "$LAB_DIR/hB.log")"
grep -E 'initial sync|committed|protected' "$LAB_DIR/hA.log" | sed 's/^/   /'
say "understudy status on host A"
lab_ctl hA status | sed 's/^/   /'
say "guest serial console on host A (last lines)"
tr -d '\r' < "$ser_a" | grep -a -E '^us-(counter|ledger) [0-9]+$' | tail -4 | sed 's/^/   /'

say "power host A off: SIGKILL its daemon, QEMU and corosync"
t0=$(ms_now)
lab_kill_host hA
# hA is off: its console ends here; the client gets no reply until hB takes over
before=$(lab_counters "$ser_a" | tail -1)
lbefore=$(ledger_records "$ser_a" | tail -1)
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
lab_wait 10 ledger_writing "$ser_b" 3
lafter=$(ledger_records "$ser_b" | head -3 | tr '\n' ' ')
lafter=${lafter% }
lfirst=${lafter%% *}
# hA's console is not held back like its network output: it may show records
# of an epoch the kill lost, which hB's guest (from the last acknowledged
# epoch) prints again; the client's replies are held, so it never saw them.
if [ -n "$lbefore" ] && [ -n "$lfirst" ] && [ "$lfirst" -le "$lbefore" ]; then
	if [ -n "$rbefore" ] && [ "$rbefore" -ge "$lfirst" ]; then
		lnote="(hB's guest went on from record $(( lfirst - 1 )))"
	elif [ "$lfirst" = "$lbefore" ]; then
		lnote="(record $lbefore again: hA printed it in an epoch the kill lost; no client saw it)"
	else
		lnote="(records $lfirst..$lbefore again: hA printed them in an epoch the kill lost; no client saw them)"
	fi
elif [ -n "$lbefore" ] && [ "$lfirst" = $(( lbefore + 1 )) ]; then
	lnote="(continues from $lbefore)"
else
	lnote=''
fi
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
printf '   ledger: last record on host A console  : %s\n' "${lbefore:-none}"
printf '   ledger: first records on host B console: %s %s\n' "${lafter:-none}" "$lnote"
kill -TERM "$cpid"
if wait "$cpid"; then conn="intact (never reset)"; else conn="BROKEN: $(cat "$LAB_DIR/client.err")"; fi
rlast=$(tail -1 "$clog" | cut -d' ' -f2)
printf '   client: last reply before the kill     : %s\n' "$rbefore"
printf '   client: first reply after the kill     : %s (%d ms after the kill)\n' "$rafter" $(( t2 - t0 ))
printf '   client: TCP connection                 : %s\n' "$conn"
printf '   client: replies 1..N without gaps?     : %s\n' \
	"$(lab_replies_in_order "$clog" >/dev/null && echo "yes ($(lab_replies "$clog") replies)" || echo NO)"
say "understudy status on host B: it runs the guest now, unprotected, and looks for a standby at host A (reprotect = auto)"
lab_ctl hB status | sed 's/^/   /'

say "stop host B's daemon (SIGTERM: it stops its QEMU; the disk image stays) and check its image"
sleep 1 # the request the client had sent when it stopped is answered (on disk) by now
bpid=$(lab_daemon_pid hB)
t3=$(ms_now)
kill -TERM "$bpid" 2>/dev/null
lab_wait 20 daemon_gone "$bpid" || fail "host B's daemon (pid $bpid) did not exit within 20 s of SIGTERM"
t4=$(ms_now)
[ "$(lab_qemus hB)" = 0 ] || fail "host B's daemon exited on SIGTERM but left its QEMU running"
left=$(find "$LAB_DIR/hB" -maxdepth 1 -type s -printf '%f ' 2>/dev/null;
	ls /dev/shm/understudy-"$LAB_VM".replica 2>/dev/null)
printf '   host B daemon: exited on SIGTERM       : after %d ms, its QEMU stopped, %s\n' $(( t4 - t3 )) \
	"$([ -z "$left" ] && echo "its sockets and replica RAM file removed" || echo "LEFT BEHIND: $left")"
out=$("$ledgercheck" "$(lab_disk hB)" --min "$rlast" --max $(( rlast + 1 )) 2>&1) ||
	fail "ledgercheck on host B's image, the client's last reply $rlast: $out"
printf '   ledgercheck on host B image            : %s (the client'"'"'s last reply: %s)\n' "$out" "$rlast"
