#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Takeover from the last committed epoch, with real QEMU (TCG), real
# namespaces and the counter guest. Five rounds; each boots the guest on hA
# under protection, lets epochs run for a random time, SIGKILLs every process
# of hA (daemon and QEMU) and checks from hB's serial log that the guest was
# not rebooted and carried on counting from the committed state:
#  - manual rounds (odd): before promoting, the counter value C is read out of
#    the standby's replica RAM (the last acknowledged epoch); the first value
#    the resumed guest prints must be C or C+1 (C may be incremented but not yet
#    printed), and C must not be ahead of what the primary had printed;
#  - automatic rounds (even): the standby promotes itself on stream loss; the
#    first value must not be ahead of the primary's last value + 1 (+ 2 when
#    the kill cut a line in half: its digits then appear on hB only).
# In every round hB's values then increase by exactly one (never backwards).
# Rounds 3 and 4 capture device state with xen-save-devices-state, the others
# with migrate.
# Serial output is not output-committed (that is the network's job), so the
# standby may print again a value the primary printed after the last ACK.
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$top_srcdir/tests/lib/lab.sh"
trap lab_down EXIT

[ -x "$US_FINDCOUNTER" ] || fail "$US_FINDCOUNTER not built"
ROUNDS=${ROUNDS:-5}
ser_a=$LAB_DIR/hA/$LAB_VM.serial
ser_b=$LAB_DIR/hB/$LAB_VM.serial

standby_state_is() { [ "$(lab_field hB state)" = "$1" ]; }

check_sequence() {
	local prev="" v
	for v in $(lab_counters "$1"); do
		[ -z "$prev" ] || [ "$v" -eq $(( prev + 1 )) ] || fail "$1: $v follows $prev"
		prev=$v
	done
}

round() {
	local r=$1 mode=$2 vkill first slack c=""
	rm -f "$ser_a" "$ser_b"
	lab_start hB standby --promote "$mode"
	lab_wait 30 lab_answers hB || fail "round $r: standby did not start: $(tail -3 "$LAB_DIR/hB.log")"
	lab_start hA primary
	lab_wait 180 lab_counting "$ser_a" 3 ||
		fail "round $r: $(lab_guest_failed hA 180 "come up" "fewer than 3 counter values")"
	lab_acked_at_least 1 || fail "round $r: no epoch acknowledged"
	sleep_ms "$(rand_ms 500 4000)"
	lab_kill_host hA
	vkill=$(lab_counters "$ser_a" | tail -1)
	# a line cut by the kill ("us-coun") ends on hB ("ter 24"): allow one more
	slack=1
	[ "$(tail -c1 "$ser_a" | od -An -c | tr -d ' ')" = '\n' ] || slack=2
	if [ "$mode" = manual ]; then
		lab_wait 10 standby_state_is waiting || fail "round $r: standby did not notice the loss"
		c=$("$US_FINDCOUNTER" "$(lab_shm hB)/understudy-$LAB_VM.replica") || fail "round $r: no counter in the replica"
		[ "$c" -le $(( vkill + slack )) ] || fail "round $r: replica counter $c is ahead of the primary's $vkill"
		lab_ctl hB promote >/dev/null || fail "round $r: promote refused"
	fi
	lab_wait 60 lab_counting "$ser_b" 2 || fail "round $r: $(lab_guest_failed hB 60 "count on from hB")"
	lab_runs_vm hB || fail "round $r: standby not active: $(lab_field hB role)"
	grep -a -q 'us-guest: boot' "$ser_b" && fail "round $r: the guest rebooted on hB"
	first=$(lab_counters "$ser_b" | head -1)
	[ "$first" -le $(( vkill + slack )) ] || fail "round $r: resumed at $first, ahead of the primary's last $vkill"
	if [ -n "$c" ]; then
		[ "$first" -eq "$c" ] || [ "$first" -eq $(( c + 1 )) ] ||
			fail "round $r: resumed at $first but the committed counter was $c"
	fi
	check_sequence "$ser_b"
	note "round $r ($mode, $LAB_DEVSTATE): primary last $vkill, committed ${c:-?}, resumed at $first," \
	     "$(grep -a -o 'guest running [0-9]* ms' "$LAB_DIR/hB.log")"
	lab_stop_host hB
}

lab_up || fail "cannot build the lab"
for r in $(seq "$ROUNDS"); do
	# rounds 3 and 4 save device state with QMP migrate, the others with
	# xen-save-devices-state (the default)
	case $r in 3|4) LAB_DEVSTATE=migrate ;; *) LAB_DEVSTATE=xen-save ;; esac
	if [ $(( r % 2 )) = 1 ]; then round "$r" manual; else round "$r" auto; fi
done
echo "PASS: $ROUNDS takeovers resumed from the committed epoch"
