#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The replica is exact, disk included: real QEMU (TCG) on hA with a
# replicated disk (a sparse 64 MiB raw image per host, LAB_DISK) running the
# guest's `ledger` (one 4 KiB O_DIRECT record + fdatasync per request) under
# a client on hC that sends requests as fast as replies come; standby on hB.
# ROUNDS (3) times, with the guest running and writing in between: the
# primary is paused at an acknowledged epoch (`understudy pause`: a final
# checkpoint, the guest held stopped, its disk I/O drained); once the
# standby reports that epoch committed, hB's replica image must equal hA's
# image byte for byte (cmp), the replica RAM file must equal the primary's
# RAM, and ledgercheck must find on both images records 1..N intact, N the
# client's last reply (at most one more: the request in flight). While
# paused no reply may reach the client; after `understudy resume` replies go
# on, and at the end they are exactly 1, 2, 3, ... on one connection.
# The primary compresses its pages (compress = lz4, PAGES_LZ4), and the
# status must show bytes saved by it: the replica is exact through it.
set -u
. "$(dirname "$0")/../lib/common.sh"
LAB_NIC=1
LAB_APPEND="us.run=ledger us.disk=/dev/vda"
LAB_DISK=64M
LAB_COMPRESS=lz4
# A paused primary sends KEEPALIVEs: with membership = none a standby would
# promote once the stream is silent for the lab's 2 s peer_timeout_ms, and
# each round below stays paused longer than that (checked at the end).
. "$top_srcdir/tests/lib/lab.sh"
LEDGERCHECK=$top_builddir/tests/tools/ledgercheck
ROUNDS=${ROUNDS:-3}
trap lab_down EXIT
[ -x "$top_builddir/tests/tools/reqclient" ] || fail "reqclient not built"
[ -x "$LEDGERCHECK" ] || fail "$LEDGERCHECK not built"

standby_committed_is() { [ "$(lab_field hB committed)" = "$1" ]; }
# last_reply LOG: the value of the client's last reply (0 before the first).
last_reply() { tail -n 1 "$1" 2>/dev/null | awk '{ v = $2 } END { print v + 0 }'; }

# check_image H N ROUND: host H's image holds records 1..N, or N+1.
check_image() {
	local out
	out=$("$LEDGERCHECK" "$(lab_disk "$1")" --min "$2" --max $(( $2 + 1 )) 2>&1) ||
		fail "round $3: $1's image, the client's last reply $2: $out"
	echo "$out"
}

lab_up || fail "cannot build the lab"
log=$LAB_DIR/client.log
lab_protected_pair "$log" || fail "no protected pair"
for round in $(seq "$ROUNDS"); do
	start=$(lab_field hA acked)
	n0=$(lab_replies "$log")
	lab_wait 60 lab_acked_at_least $(( start + 20 )) || fail "round $round: epochs stalled"
	lab_wait 60 lab_replies_at_least "$log" $(( n0 + 20 )) || fail "round $round: replies stalled"
	epoch=$(lab_ctl hA pause --json | grep -o '"epoch":[0-9]*' | cut -d: -f2)
	[ -n "$epoch" ] || fail "round $round: pause failed"
	lab_wait 10 standby_committed_is "$epoch" || fail "round $round: standby never committed epoch $epoch"
	# a reply of the last epoch may still be on its way to the client
	sleep 0.5
	n=$(last_reply "$log")
	cmp "$(lab_disk hA)" "$(lab_disk hB)" ||
		fail "round $round: hB's replica image differs from hA's image at epoch $epoch"
	cmp "$(lab_shm hA)/understudy-$LAB_VM.ram" "$(lab_shm hB)/understudy-$LAB_VM.replica" ||
		fail "round $round: replica RAM differs from the primary's RAM at epoch $epoch"
	out=$(check_image hA "$n" "$round")
	check_image hB "$n" "$round" > /dev/null
	sleep 2.5	# paused past peer_timeout_ms: only keepalives flow
	[ "$(last_reply "$log")" = "$n" ] || fail "round $round: replies reached the client while" \
		"the guest was paused: $n -> $(last_reply "$log")"
	note "round $round: at epoch $epoch, $n replies: images and RAM identical; both images: $out"
	lab_ctl hA resume >/dev/null || fail "round $round: resume failed"
done
lab_wait 60 lab_replies_at_least "$log" $(( $(lab_replies "$log") + 20 )) || fail "no replies after the last resume"
[ "$(lab_field hA state)" = protected ] || fail "primary not protected after resume"
grep -q "stream lost\|TAKEOVER" "$LAB_DIR/hB.log" &&
	fail "the standby took a paused primary for lost: $(grep -m1 'stream lost\|TAKEOVER' "$LAB_DIR/hB.log")"
saved=$(lab_field hA compress_saved_bytes)
[ "$(lab_field hA compress)" = lz4 ] && [ "${saved:-0}" -gt 0 ] ||
	fail "compress = lz4 saved nothing: $(lab_field hA compress) $saved"
note "compress = lz4 kept $((saved >> 10)) KiB off the link ($(($(lab_field hA ram_sent_bytes) >> 10)) KiB of pages sent)"
kill -TERM "$LAB_CLIENT_PID"
wait "$LAB_CLIENT_PID" || fail "client exit $?: $(cat "$log.err")"
lab_replies_in_order "$log" ||
	fail "replies are not 1, 2, 3, ...: $(awk '{print $2}' "$log" | tr '\n' ' ' | cut -c1-300)"
echo "PASS: replica image and RAM byte-for-byte equal to the primary's at $ROUNDS committed" \
     "epochs under the ledger's load; $(lab_replies "$log") replies 1, 2, 3, ... on one connection"
