#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The guest's disk workloads against a plain raw image under plain QEMU (no
# understudy; virtio-blk, cache=none, TCG, user networking with a host
# port forwarded to the guest's port 7777). The ledger: 50 requests answered
# 1..50, QEMU SIGKILLed, ledgercheck finds exactly records 1..50 on the
# image; booted again on the same image it resumes after record 50 and
# answers 51..60, then reqclient runs it flat out for a few seconds (the
# rate is printed) and every reply is on the image once more. The ext4
# writer: a fresh mkfs.ext4 image, QEMU SIGKILLed once the console has shown
# "us-fswriter 20" or more; e2fsck -fn must pass on the image as QEMU left
# it (the journal not replayed: -n never writes) and on a copy whose journal
# e2fsck -E journal_only replayed first (that is what a mount does), and
# every file the console announced must be on that copy, whole. Booted again,
# the guest itself replays the journal, finds no damaged file and goes on
# after the last announced one. QEMU and the temporary directory holding the
# images are removed on every exit.
set -euo pipefail

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-.}
# shellcheck source=tests/lib/fswriter.sh
. "$top_srcdir/tests/lib/fswriter.sh"
ledgercheck=$top_builddir/tests/tools/ledgercheck
reqclient=$top_builddir/tests/tools/reqclient
DEADLINE=${US_TEST_DEADLINE:-180} # seconds for any one wait under TCG
FLAT_OUT_S=3                      # seconds of reqclient against the ledger
PATH=$PATH:/usr/sbin:/sbin

qpid='' tmp=''
cleanup() {
	stop_qemu
	[ -z "$tmp" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# stop_qemu: SIGKILL the running QEMU, as a host crash would stop it.
stop_qemu() {
	if [ -n "$qpid" ]; then
		kill -KILL "$qpid" 2>/dev/null || true
		wait "$qpid" 2>/dev/null || true
		qpid=''
	fi
}

fail() {
	echo "FAIL: $*" >&2
	if [ -n "${log:-}" ] && [ -f "$log" ]; then
		echo "--- last lines of $log:" >&2
		tr -d '\r' < "$log" | tail -n 30 >&2
	fi
	[ -z "$tmp" ] || [ ! -s "$tmp/qemu.err" ] || { echo "--- qemu:" >&2; cat "$tmp/qemu.err" >&2; }
	exit 1
}

command -v qemu-system-x86_64 >/dev/null || { echo "SKIP: qemu-system-x86_64 not installed (Debian package qemu-system-x86)"; exit 77; }
command -v socat >/dev/null || fail "socat not found: install the Debian package socat"
for t in mkfs.ext4 e2fsck debugfs; do
	command -v $t >/dev/null || fail "$t not found: install the Debian package e2fsprogs"
done
[ -x "$ledgercheck" ] || fail "$ledgercheck not built: run make first"
[ -x "$reqclient" ] || fail "$reqclient not built: run make first"

# image_dir: a fresh directory on a file system that takes O_DIRECT, which
# QEMU's cache=none needs (tmpfs does not): TMPDIR first, then the build tree.
image_dir() {
	local d base
	for base in "${TMPDIR:-/tmp}" "$top_builddir"; do
		d=$(mktemp -d "$base/us-guest-disk.XXXXXX") || continue
		if dd if=/dev/zero of="$d/probe" bs=4096 count=1 oflag=direct status=none 2>/dev/null; then
			rm -f "$d/probe"
			echo "$d"
			return
		fi
		rm -rf "$d"
	done
	fail "neither ${TMPDIR:-/tmp} nor $top_builddir takes O_DIRECT writes (QEMU cache=none needs them)"
}

env=$("$top_srcdir/guest/build.sh") || fail "guest/build.sh failed"
eval "$env"
tmp=$(image_dir)

# free_port: a loopback TCP port nothing listens on now.
free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 40000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
	fail "no free loopback port found"
}

# boot NAME IMAGE WORKLOAD [PORT]: start QEMU on IMAGE with us.run=WORKLOAD,
# its console in $tmp/NAME.serial (now $log); with PORT, the guest's 7777
# is reachable on 127.0.0.1:PORT.
boot() {
	local net=(-nic none) ip=''
	log=$tmp/$1.serial
	if [ $# -ge 4 ]; then
		# shellcheck disable=SC2054 # the commas are QEMU's, inside one word
		net=(-netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$4-:7777"
			-device virtio-net-pci,netdev=n0,romfile=)
		ip="us.ip=10.0.2.15/24 us.gw=10.0.2.2"
	fi
	qemu-system-x86_64 -machine q35 -m 256M -accel tcg -nodefaults -vga none \
		-display none -no-user-config -serial "file:$log" \
		-qmp "unix:$tmp/qmp.sock,server=on,wait=off" \
		-kernel "$US_GUEST_KERNEL" -initrd "$US_GUEST_INITRD" \
		-append "console=ttyS0 us.run=$3 $ip" \
		-drive "file=$2,format=raw,if=virtio,cache=none" "${net[@]}" \
		> "$tmp/qemu.err" 2>&1 &
	qpid=$!
}

# lines: the console log without carriage returns and without a last line
# still being written.
lines() {
	if [ "$(tail -c 1 "$log" | od -An -tx1 | tr -d ' ')" = 0a ]; then
		tr -d '\r' < "$log"
	else
		tr -d '\r' < "$log" | sed '$d'
	fi
}

# wait_for REGEX: poll the console until a line matches, within DEADLINE.
wait_for() {
	local until=$((SECONDS + DEADLINE))
	while ! lines 2>/dev/null | grep -qE "$1"; do
		kill -0 "$qpid" 2>/dev/null || fail "QEMU exited while waiting for '$1'"
		! lines 2>/dev/null | grep -qE '^us-guest: (ledger|fswriter) exited' ||
			fail "the workload stopped while waiting for '$1'"
		[ "$SECONDS" -lt "$until" ] || fail "no '$1' on the console within ${DEADLINE}s (QEMU under tcg)"
		sleep 0.1
	done
}

# blockstats: "WRITES FLUSHES" the guest's disk has done since boot (QMP
# query-blockstats): shows that each fsync in the guest reaches QEMU. The
# one device's own stats come last, after its file node's ("parent").
blockstats() {
	local out w f
	out=$(printf '{"execute":"qmp_capabilities"}\n{"execute":"query-blockstats"}\n' |
		socat -t 5 - "UNIX-CONNECT:$tmp/qmp.sock") || fail "QMP query-blockstats failed"
	w=$(grep -o '"wr_operations": [0-9]*' <<< "$out" | tail -n 1 | grep -o '[0-9]*$')
	f=$(grep -o '"flush_operations": [0-9]*' <<< "$out" | tail -n 1 | grep -o '[0-9]*$')
	if [ -z "$w" ] || [ -z "$f" ]; then
		fail "no block statistics in the QMP answer: $out"
	fi
	echo "$w $f"
}

# now_ms: wall clock in milliseconds.
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# --- the ledger: 50 records, SIGKILL, checked on the image -------------------

# ask_range FIRST LAST: one request per number on fd 3; each reply must be it.
ask_range() {
	local want reply
	for ((want = $1; want <= $2; want++)); do
		echo "req" >&3
		read -r -t "$DEADLINE" reply <&3 || fail "the ledger did not answer request $want"
		reply=${reply%$'\r'}
		[ "$reply" = "$want" ] || fail "the ledger answered '$reply' where $want was due"
	done
}

# connect PORT: fd 3 to the guest's ledger.
connect() {
	local until=$((SECONDS + DEADLINE))
	until exec 3<>"/dev/tcp/127.0.0.1/$1"; do
		[ "$SECONDS" -lt "$until" ] || fail "cannot connect to the ledger on port $1"
		sleep 0.2
	done 2>/dev/null
}

# check_ledger N: the image holds exactly records 1..N.
check_ledger() {
	local out
	out=$("$ledgercheck" "$tmp/ledger.img" --min "$1" --max "$1" 2>&1) ||
		fail "ledgercheck after $1 acknowledged records: $out"
	[ "$out" = "records 1..$1 intact" ] || fail "ledgercheck printed '$out'"
	echo "ledger: $out"
}

# 32767 records: room for reqclient flat out even with KVM
truncate -s 128M "$tmp/ledger.img"
port=$(free_port)
boot ledger1 "$tmp/ledger.img" ledger "$port"
wait_for '^us-ledger listening on 7777$'
lines | grep -qx 'us-ledger: resuming after record 0' || fail "a blank disk did not start at record 0"
connect "$port"
t0=$(now_ms)
ask_range 1 50
t1=$(now_ms)
exec 3>&-
echo "ledger: 50 requests in $((t1 - t0)) ms (one O_DIRECT write + fdatasync each, TCG)"
stop_qemu
check_ledger 50

# --- the ledger again on the same image: it goes on at 51 --------------------

port=$(free_port)
boot ledger2 "$tmp/ledger.img" ledger "$port"
wait_for '^us-ledger listening on 7777$'
lines | grep -qx 'us-ledger: resuming after record 50' ||
	fail "the second boot did not resume after record 50: $(lines | grep '^us-ledger: resuming')"
connect "$port"
ask_range 51 60
exec 3>&-
"$reqclient" 127.0.0.1 "$port" "$FLAT_OUT_S" "$tmp/req.log" 2> "$tmp/req.err" ||
	fail "reqclient failed: $(cat "$tmp/req.err")"
n=$(wc -l < "$tmp/req.log")
[ "$n" -gt 0 ] || fail "reqclient got no reply"
awk 'NR + 60 != $2 { print "reply " NR " of reqclient is " $2 ", wanted " NR + 60; bad = 1; exit }
	END { exit bad }' "$tmp/req.log" || fail "reqclient's replies do not continue at 61"
rtt=$(awk '{ print $3 }' "$tmp/req.log" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
echo "ledger: reqclient flat out: $n records in ${FLAT_OUT_S}s = $((n / FLAT_OUT_S))/s, median round trip $rtt us"
read -r writes flushes <<< "$(blockstats)"
echo "ledger: this boot: $((10 + n)) records, $writes disk writes, $flushes flushes"
[ "$flushes" -ge $((10 + n)) ] || fail "$((10 + n)) records but only $flushes flushes reached QEMU"
stop_qemu
check_ledger $((60 + n))

# --- ext4: fsync'd files survive a SIGKILLed QEMU ----------------------------

# last_file: the highest N the console announced as written.
last_file() {
	lines | sed -n 's/^us-fswriter \([0-9]*\)$/\1/p' | tail -n 1
}


truncate -s 64M "$tmp/ext4.img"
mkfs.ext4 -q -F "$tmp/ext4.img"
boot fs1 "$tmp/ext4.img" fswriter
wait_for '^us-fswriter: resuming after file 0$'
t0=$(now_ms)
wait_for '^us-fswriter 20$'
t1=$(now_ms)
read -r writes flushes <<< "$(blockstats)"
stop_qemu
last=$(last_file)
echo "fswriter: 20 files in about $((t1 - t0)) ms (create, write, fsync, rename, fsync dir); $last announced at SIGKILL"
echo "fswriter: $writes disk writes and $flushes flushes for about $last files (the mount included)"
e2fsck -fn "$tmp/ext4.img" > "$tmp/fsck.out" 2>&1 ||
	fail "e2fsck -fn on the image as QEMU left it: $(cat "$tmp/fsck.out")"
cp --sparse=always "$tmp/ext4.img" "$tmp/replayed.img"
e2fsck -E journal_only -p "$tmp/replayed.img" > "$tmp/fsck.out" 2>&1 ||
	fail "replaying the journal failed: $(cat "$tmp/fsck.out")"
e2fsck -fn "$tmp/replayed.img" > "$tmp/fsck.out" 2>&1 ||
	fail "e2fsck -fn after the journal replay: $(cat "$tmp/fsck.out")"
fswriter_check_files "$tmp/replayed.img" "$last" "$tmp" ""
echo "fswriter: e2fsck clean before and after the journal replay; files 1..$last whole"

# --- ext4 again: the guest replays the journal and goes on --------------------

boot fs2 "$tmp/ext4.img" fswriter
wait_for '^us-fswriter: resuming after file [0-9]+$'
lines | grep -qx 'us-fswriter: [0-9]* files checked, 0 damaged' ||
	fail "the guest found damaged files: $(lines | grep '^us-fswriter: ')"
resumed=$(lines | sed -n 's/^us-fswriter: resuming after file \([0-9]*\)$/\1/p')
# File last+1 may be on the disk already: written, but killed before printed.
if [ "$resumed" -lt "$last" ] || [ "$resumed" -gt $((last + 1)) ]; then
	fail "the guest resumed after file $resumed, the console had announced $last"
fi
wait_for "^us-fswriter $((resumed + 1))\$"
stop_qemu
echo "fswriter: second boot resumed after file $resumed ($last announced before the kill)"
