#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The authenticated replication channel between real daemons (TCG guest,
# lab hosts hA and hB, no corosync):
#  1. the same key on both hosts (`understudy keygen`): the pair is
#     protected and epochs are acknowledged, each side logs the other as
#     authenticated;
#  2. a different key on the standby: the primary refuses the standby's
#     proof, the standby says the primary closed before authenticating; the
#     standby commits nothing and its replica file is byte-for-byte as before;
#  3. a key on the standby only, then on the primary only: refused by the
#     side that has the key or by the standby, in words, nothing applied
#     (no downgrade);
#  4. a keyless peer replays a HELLO at a keyed standby and answers its
#     CHALLENGE with a made-up tag (tests/tools/nokeypeer): refused, the
#     replica untouched;
#  5. a key file readable by others stops the daemon at start-up, naming the
#     fix.
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$top_srcdir/tests/lib/lab.sh"
trap lab_down EXIT
NOKEY=$top_builddir/tests/tools/nokeypeer
[ -x "$NOKEY" ] || fail "$NOKEY not built"

lab_up || fail "cannot build the lab"
"$US_BIN" keygen "$LAB_DIR/k1" >/dev/null || fail "keygen failed"
"$US_BIN" keygen "$LAB_DIR/k2" >/dev/null || fail "keygen failed"
replica() { echo "$(lab_shm hB)/understudy-$LAB_VM.replica"; }
sum_replica() { md5sum < "$(replica)" | cut -d' ' -f1; }
# settled_sum: the replica's sum once the standby made the file and the
# parked QEMU's start-up writes are over
settled_sum() {
	local a b i
	lab_wait 30 test -e "$(replica)" || { echo "no replica file"; return 1; }
	b=$(sum_replica)
	for i in $(seq 10); do
		sleep 1
		a=$b
		b=$(sum_replica)
		[ "$a" = "$b" ] && { echo "$b"; return 0; }
	done
	echo "unsettled"
}
stop_both() { lab_stop_host hA; lab_stop_host hB; }
# the daemons read key_file from the config: lab_config appends extra lines
keyed_start() { # keyed_start H ROLE KEYFILE|""
	local h=$1 role=$2 key=$3
	lab_disk_make "$h"
	# tls = off: this test is about the tag layer (tls.sh covers TLS)
	lab_config "$h" "$LAB_DIR/$h.conf" "[replication]" "tls = off" ${key:+"key_file = $key"}
	ip netns exec "$(lab_ns "$h")" "$US_BIN" "$role" -c "$LAB_DIR/$h.conf" \
		> "$LAB_DIR/$h.log" 2>&1 &
	echo $! > "$LAB_DIR/$h.pid"
	disown $!
}
standby_up() { lab_wait 30 lab_answers hB || fail "the standby did not start: $(tail -3 "$LAB_DIR/hB.log")"; }

# 1. the same key
keyed_start hB standby "$LAB_DIR/k1"
standby_up
keyed_start hA primary "$LAB_DIR/k1"
lab_wait 120 lab_acked_at_least 3 || fail "no epoch acknowledged with the same key: $(tail -3 "$LAB_DIR/hA.log")"
grep -q "standby .* authenticated" "$LAB_DIR/hA.log" || fail "the primary did not log the standby authenticated"
grep -q "primary .* authenticated" "$LAB_DIR/hB.log" || fail "the standby did not log the primary authenticated"
! grep -q "UNAUTHENTICATED" "$LAB_DIR/hA.log" "$LAB_DIR/hB.log" || fail "a keyed daemon warned it is unauthenticated"
note "step 1: same key: protected, $(lab_field hA acked) epochs acknowledged"
stop_both

# 2. different keys
keyed_start hB standby "$LAB_DIR/k2"
standby_up
before=$(settled_sum) || fail "the standby made no replica file: $(tail -3 "$LAB_DIR/hB.log")"
keyed_start hA primary "$LAB_DIR/k1"
lab_wait 30 grep -q "failed authentication: its proof does not match our key" "$LAB_DIR/hA.log" ||
	fail "the primary did not refuse a standby with another key: $(tail -3 "$LAB_DIR/hA.log")"
lab_wait 30 grep -q "closed the connection before it authenticated" "$LAB_DIR/hB.log" ||
	fail "the standby does not say why the primary left: $(tail -3 "$LAB_DIR/hB.log")"
[ "$(lab_field hB committed)" = -1 ] || fail "the standby committed an epoch from a primary with another key"
[ "$(sum_replica)" = "$before" ] || fail "the replica changed"
note "step 2: wrong key refused on both sides, replica unchanged"
stop_both

# 3. a key on one side only
keyed_start hB standby "$LAB_DIR/k1"
standby_up
keyed_start hA primary ""
lab_wait 30 grep -q "offers no authentication and this standby has a key_file" "$LAB_DIR/hB.log" ||
	fail "the keyed standby accepted or did not explain a keyless primary"
lab_wait 30 grep -q "refused: primary .* offers no authentication" "$LAB_DIR/hA.log" ||
	fail "the keyless primary does not say why: $(tail -3 "$LAB_DIR/hA.log")"
[ "$(lab_field hB committed)" = -1 ] || fail "a keyless primary got an epoch committed"
stop_both
keyed_start hB standby ""
standby_up
keyed_start hA primary "$LAB_DIR/k1"
lab_wait 30 grep -q "authenticates but this standby has no key_file" "$LAB_DIR/hB.log" ||
	fail "the keyless standby did not refuse a keyed primary: $(tail -3 "$LAB_DIR/hB.log")"
grep -q "UNAUTHENTICATED" "$LAB_DIR/hB.log" || fail "a keyless daemon did not warn loudly"
[ "$(lab_field hB committed)" = -1 ] || fail "the keyless standby committed an epoch"
note "step 3: a key on one side only: refused either way, in words"
stop_both

# 4. a keyless peer replays a HELLO
keyed_start hB standby "$LAB_DIR/k1"
standby_up
before=$(settled_sum) || fail "the standby made no replica file: $(tail -3 "$LAB_DIR/hB.log")"
out=$(lab_exec hA "$NOKEY" "$(lab_ip hB):7300" "$LAB_VM") || fail "nokeypeer: $out"
printf '%s\n' "$out" | grep -q "standby answered CHALLENGE" || fail "no CHALLENGE: $out"
lab_wait 10 grep -q "authentication tag mismatch on AUTH" "$LAB_DIR/hB.log" ||
	fail "the standby did not refuse the forged AUTH: $(tail -3 "$LAB_DIR/hB.log")"
[ "$(lab_field hB committed)" = -1 ] || fail "the standby committed something"
[ "$(sum_replica)" = "$before" ] || fail "the replica changed"
note "step 4: a replayed HELLO with a forged AUTH refused, replica unchanged"
stop_both

# 5. a key readable by others
chmod 644 "$LAB_DIR/k2"
keyed_start hB standby "$LAB_DIR/k2"
lab_wait 30 grep -q "chmod 600" "$LAB_DIR/hB.log" || fail "a world-readable key was not refused: $(tail -3 "$LAB_DIR/hB.log")"
lab_wait 10 sh -c "! kill -0 $(cat "$LAB_DIR/hB.pid") 2>/dev/null" || fail "the daemon runs on a world-readable key"
note "step 5: a world-readable key stops the daemon, naming the fix"
exit 0
