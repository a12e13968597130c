#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# understudy under a real two-node Pacemaker cluster (tests/lib/pcmk.sh:
# hA and hB each with their own namespaces, corosync and pacemakerd), the VM
# a promotable clone of ocf:understudy:understudy with a replicated disk,
# the lab's fence agent as the stonith device, and a client on hC holding
# one TCP connection to the guest's counter service throughout:
#  1. the clone starts: one promoted and protected, one unpromoted and in
#     sync, as crm_mon -1 shows it (the cold start boots the preferred node:
#     neither image has a record yet);
#  2. crm_resource --move --promoted: demote and promote make a switchover,
#     the new primary made no sync (its syncs counter stays 0) and the old
#     one kept its image (the standby log says "no sync");
#  3. the unpromoted node is stopped cleanly (node standby): the promoted
#     side degrades on Pacemaker's notify, status unprotected, its monitor
#     says 191 (promoted, degraded), output flows;
#     back online, it is unpromoted and in sync again;
#  4. the promoted node is killed: Pacemaker fences it (the fence agent's
#     "reboot") and promotes the other; the time from the kill to the guest
#     running is printed.
# After each step the replies are exactly 1, 2, 3, ... on the one connection.
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$top_srcdir/tests/lib/lab.sh"
. "$top_srcdir/tests/lib/pcmk.sh"
trap pcmk_down EXIT
[ -x "$top_builddir/tests/tools/reqclient" ] || fail "reqclient not built"

replies_ok() { lab_replies_in_order "$LOG" >/dev/null || fail "replies out of order: $(lab_replies_in_order "$LOG")"; }
replies_grow() { lab_replies_at_least "$LOG" $(( $1 + 10 )); }
other() { [ "$1" = hA ] && echo hB || echo hA; }

lab_up || fail "cannot build the lab"
pcmk_up || fail "the Pacemaker cluster did not form"
pcmk_configure || fail "cannot configure the cluster"
lab_wait 240 pcmk_pair_on hA hB ||
	fail "no protected pair: promoted '$(pcmk_promoted_on)', unpromoted '$(pcmk_unpromoted_on)'," \
	     "hA $(lab_field hA state), hB $(lab_field hB state)"
mon=$(pcmk_exec hA crm_mon -1)
printf '%s\n' "$mon" | grep -q "Promoted: \[ hA \]" && printf '%s\n' "$mon" | grep -q "Unpromoted: \[ hB \]" ||
	fail "crm_mon does not show the pair: $mon"
grep -q "COLD START" "$(pcmk_vm_log hA)" || fail "hA did not cold-boot the VM"
LOG=$LAB_DIR/client.log
pcmk_client "$LOG"
lab_wait 120 lab_replies_at_least "$LOG" 20 || fail "no replies from the guest: $(cat "$LOG.err")"
note "step 1: hA promoted and protected, hB unpromoted in sync"

# 2. a switchover through Pacemaker
before=$(lab_replies "$LOG")
pcmk_exec hA crm_resource --move --promoted -r vm-clone -N hB >/dev/null 2>&1 ||
	fail "crm_resource --move --promoted refused"
lab_wait 120 pcmk_pair_on hB hA ||
	fail "no switchover: promoted '$(pcmk_promoted_on)', hA $(lab_field hA state), hB $(lab_field hB state)"
lab_wait 60 replies_grow "$before" || fail "no replies after the switchover"
replies_ok
[ "$(lab_field hB syncs)" = 0 ] || fail "the new primary synced its standby ($(lab_field hB syncs) syncs)"
grep -q "from the switchover: the new primary goes on from it with no sync" "$(pcmk_vm_log hA)" ||
	fail "the old primary did not keep its image as the standby's"
pause=$(grep -o "guest stopped here [0-9]* ms ago" "$(pcmk_vm_log hA)" | tail -1 | grep -o "[0-9]*")
note "step 2: switchover hA -> hB by Pacemaker, guest paused ${pause:-?} ms, no sync"
pcmk_exec hA crm_resource --clear -r vm-clone >/dev/null 2>&1

# 3. the unpromoted node stopped cleanly
before=$(lab_replies "$LOG")
pcmk_exec hA crm_attribute -N hA -n standby -v on -q || fail "cannot put hA in standby"
released() { [ "$(lab_field hB output)" = released-unprotected ]; }
lab_wait 60 released || fail "hB's output not released after hA stopped: $(lab_field hB output)"
[ "$(lab_field hB state)" = unprotected ] || fail "hB's state without a standby: $(lab_field hB state)"
pcmk_exec hB env OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=vm:0 OCF_RESKEY_binary="$US_BIN" \
	OCF_RESKEY_config=/etc/corosync/understudy.conf "$PCMK_AGENTS/ocf/understudy/understudy" monitor
[ $? = 191 ] || fail "the promoted side's monitor without its standby is not 191"
lab_wait 60 replies_grow "$before" || fail "no replies with the standby stopped"
replies_ok
grep -q "Pacemaker stopped the standby's instance on hA" "$(pcmk_log hB)" ||
	fail "the agent did not act on the notify"
pcmk_exec hA crm_attribute -N hA -n standby -v off -q
lab_wait 240 pcmk_pair_on hB hA || fail "hA did not come back as the standby: $(lab_field hA state)"
note "step 3: hA stopped, hB ran unprotected with output flowing, hA back in sync"

# 4. the promoted node dies
before=$(lab_replies "$LOG")
t0=$(date +%s%N)
pcmk_kill_node hB
running_on_a() { [ "$(lab_field hA role)" = primary ]; }
lab_wait 120 running_on_a || fail "hA not promoted after hB died: $(lab_field hA state)"
t1=$(date +%s%N)
lab_wait 60 replies_grow "$before" || fail "no replies after hB died"
replies_ok
lab_wait 30 grep -q "Peer hB was terminated (reboot) by hA" "$(pcmk_log hA)" || fail "hB was not fenced"
note "step 4: hB killed, fenced, hA promoted: guest running $(( (t1 - t0) / 1000000 )) ms after the kill" \
     "($(lab_replies "$LOG") replies in order on one connection)"
exit 0
