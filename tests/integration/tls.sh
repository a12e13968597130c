#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# TLS on the replication link between real daemons (TCG counter guest, lab
# hosts hA and hB, no corosync), with tcpdump on hB's side of the link:
#  1. the control: no key, tls off: the capture holds the guest's console
#     text ("us-counter N", in the pages the guest dirties), so the check of
#     step 2 can see plaintext when there is some;
#  2. a key on both hosts (tls = auto: psk): both log TLS up and whether
#     kernel TLS is in use; epochs are acknowledged; the capture of the same
#     length holds no "us-counter" anywhere; then hA is killed and the guest
#     counts on from hB, promoted from what came over TLS;
#  3. tls = x509 with certificates in libvirt's layout (tests/lib/mkcerts.sh,
#     the standby's naming its address): protected, TLS up both sides;
#  4. TLS on the standby only: it refuses the plaintext primary in words,
#     commits nothing, and its replica is byte for byte as before.
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$top_srcdir/tests/lib/lab.sh"
trap lab_down EXIT
command -v tcpdump > /dev/null || fail "tcpdump is not installed (scripts/deps.sh)"
MARK="us-counter"
CAPTURE_S=6

lab_up || fail "cannot build the lab"
"$US_BIN" keygen "$LAB_DIR/key" > /dev/null || fail "keygen failed"
"$top_srcdir/tests/lib/mkcerts.sh" "$LAB_DIR/pki" "$(lab_ip hB)" > /dev/null ||
	fail "cannot make certificates"
ser_b=$LAB_DIR/hB/$LAB_VM.serial
replica() { echo "$(lab_shm hB)/understudy-$LAB_VM.replica"; }
sum_replica() { md5sum < "$(replica)" | cut -d' ' -f1; }
stop_both() { lab_stop_host hA; lab_stop_host hB; }
# start H ROLE [ini lines...]: the daemon with extra [replication] lines
start() {
	local h=$1 role=$2
	shift 2
	lab_config "$h" "$LAB_DIR/$h.conf" "[replication]" "$@"
	ip netns exec "$(lab_ns "$h")" "$US_BIN" "$role" -c "$LAB_DIR/$h.conf" \
		$([ "$role" = standby ] && echo --promote auto) > "$LAB_DIR/$h.log" 2>&1 &
	echo $! > "$LAB_DIR/$h.pid"
	disown $!
}
standby_up() { lab_wait 30 lab_answers hB || fail "the standby did not start: $(tail -3 "$LAB_DIR/hB.log")"; }
protected() { # protected WHAT: the pair acknowledges epochs
	lab_wait 180 lab_acked_at_least 3 || fail "$1: no epoch acknowledged: $(tail -3 "$LAB_DIR/hA.log")"
}
# capture FILE: CAPTURE_S seconds of the replication port on hB
capture() {
	lab_exec hB timeout "$CAPTURE_S" tcpdump -i any -s 0 -w "$1" tcp port 7300 2> /dev/null
	[ -s "$1" ] || fail "tcpdump captured nothing"
}
marks() { grep -a -c "$MARK" "$1"; }

# 1. the control: plaintext
start hB standby "tls = off"
standby_up
start hA primary "tls = off"
protected "plain"
lab_wait 120 lab_counting "$LAB_DIR/hA/$LAB_VM.serial" 3 || fail "$(lab_guest_failed hA 120 "count")"
capture "$LAB_DIR/plain.pcap"
n=$(marks "$LAB_DIR/plain.pcap")
[ "$n" -gt 0 ] || fail "the control capture shows no '$MARK': the check below would prove nothing"
note "step 1: without TLS the link shows '$MARK' $n times in $CAPTURE_S s"
stop_both

# 2. psk from the key file, then a takeover
rm -f "$ser_b" # before its QEMU opens it: a parked QEMU prints nothing
start hB standby "key_file = $LAB_DIR/key"
standby_up
start hA primary "key_file = $LAB_DIR/key"
protected "tls = psk"
for h in hA hB; do
	grep -q "TLS up ((TLS1.3).*tls = psk); kernel TLS" "$LAB_DIR/$h.log" ||
		fail "$h did not log TLS up: $(grep -a TLS "$LAB_DIR/$h.log" | tail -3)"
done
lab_wait 120 lab_counting "$LAB_DIR/hA/$LAB_VM.serial" 3 || fail "$(lab_guest_failed hA 120 "count")"
capture "$LAB_DIR/tls.pcap"
bytes=$(stat -c %s "$LAB_DIR/tls.pcap")
[ "$(marks "$LAB_DIR/tls.pcap")" = 0 ] || fail "'$MARK' is readable on the TLS link"
[ "$bytes" -gt 100000 ] || fail "the TLS capture is only $bytes bytes: did epochs flow?"
lab_kill_host hA
lab_wait 60 lab_counting "$ser_b" 2 || fail "$(lab_guest_failed hB 60 "count on from hB")"
lab_runs_vm hB || fail "hB does not run the VM: $(lab_field hB role)"
grep -a -q 'us-guest: boot' "$ser_b" && fail "the guest rebooted on hB"
note "step 2: tls = psk: $bytes bytes captured, no '$MARK'; $(grep -o 'kernel TLS [a-z ]*' "$LAB_DIR/hB.log" | head -1); takeover on hB counts on from $(lab_counters "$ser_b" | head -1)"
lab_stop_host hB

# 3. x509 in libvirt's layout
start hB standby "tls = x509" "tls_dir = $LAB_DIR/pki"
standby_up
start hA primary "tls = x509" "tls_dir = $LAB_DIR/pki"
protected "tls = x509"
grep -q "TLS up ((TLS1.3).*tls = x509)" "$LAB_DIR/hB.log" || fail "hB did not log TLS up with x509"
note "step 3: tls = x509: protected, $(lab_field hA acked) epochs acknowledged"
stop_both

# 4. TLS on one side only
start hB standby "key_file = $LAB_DIR/key"
standby_up
sleep 3 # the parked QEMU's start-up writes
before=$(sum_replica)
start hA primary "key_file = $LAB_DIR/key" "tls = off"
lab_wait 60 grep -q "speaks the replication protocol without TLS: set \[replication\] tls the same" \
	"$LAB_DIR/hB.log" || fail "the TLS standby did not refuse a plaintext primary in words: $(tail -3 "$LAB_DIR/hB.log")"
[ "$(lab_field hB committed)" = -1 ] || fail "the standby committed an epoch of a plaintext primary"
[ "$(sum_replica)" = "$before" ] || fail "the replica changed"
note "step 4: a plaintext primary refused by a TLS standby, replica unchanged"
exit 0
