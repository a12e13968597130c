#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Boots the cached demo guest (guest/build.sh) under plain QEMU exactly as
# understudy starts VMs (q35, RAM in a shared memory-backend-file, TCG,
# virtio-net with user networking) and checks every workload: the guest says
# "us-guest: boot" once, the counter prints 1, 2, 3... without a gap, the
# dirtier reports its rate, the TCP service answers 1, 2, 3... across two
# connections sharing one counter, and findcounter reads from the RAM file
# the value the serial log shows while QMP holds the VM stopped. It also
# checks findcounter on hand-made files and that the initramfs does not hold
# the counter's magic. QEMU, the RAM file and the temporary directory are
# removed on every exit.
set -euo pipefail

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-.}
findcounter=$top_builddir/tests/tools/findcounter
DEADLINE=${US_TEST_DEADLINE:-180} # seconds for any one wait under TCG
CHECK_KEY=0x05ca1ab1e0ddba11      # US_COUNTER_CHECK_KEY in guest/counter.h

qpid='' tmp='' ram=/dev/shm/us-test-$$-ram
cleanup() {
	if [ -n "$qpid" ]; then
		kill "$qpid" 2>/dev/null || true
		wait "$qpid" 2>/dev/null || true
	fi
	rm -f "$ram"
	[ -z "$tmp" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "FAIL: $*" >&2
	if [ -n "$tmp" ] && [ -f "$tmp/serial.log" ]; then
		echo "--- last lines of the serial log:" >&2
		tr -d '\r' < "$tmp/serial.log" | tail -n 30 >&2
	fi
	[ -z "$tmp" ] || [ ! -s "$tmp/qemu.err" ] || { echo "--- qemu:" >&2; cat "$tmp/qemu.err" >&2; }
	exit 1
}

command -v qemu-system-x86_64 >/dev/null || { echo "SKIP: qemu-system-x86_64 not installed (Debian package qemu-system-x86)"; exit 77; }
command -v socat >/dev/null || fail "socat not found: install the Debian package socat"
[ -x "$findcounter" ] || fail "$findcounter not built: run make first"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/us-guest-boot.XXXXXX")

# --- findcounter on hand-made files -----------------------------------------

# record VALUE [CHECK]: the 32-byte counter record, little-endian.
record() {
	local v=$1 c=${2:-$(( $1 ^ CHECK_KEY ))} i
	printf 'UsCtR\001understudy'
	for i in 0 1 2 3 4 5 6 7; do printf "\\x$(printf %02x $(( (v >> (8 * i)) & 255 )))"; done
	for i in 0 1 2 3 4 5 6 7; do printf "\\x$(printf %02x $(( (c >> (8 * i)) & 255 )))"; done
}

{ head -c 5000 /dev/zero; record 4242; head -c 3000 /dev/zero; record 4242; record 7 1; } > "$tmp/one.bin"
[ "$("$findcounter" "$tmp/one.bin")" = 4242 ] || fail "findcounter misread a file holding 4242 twice and one bad record"
{ record 1; record 2; } > "$tmp/two.bin"
! "$findcounter" "$tmp/two.bin" 2>/dev/null || fail "findcounter accepted two different values"
head -c 65536 /dev/zero > "$tmp/none.bin"
! "$findcounter" "$tmp/none.bin" 2>/dev/null || fail "findcounter found a value in zeros"

# --- the image --------------------------------------------------------------

env=$("$top_srcdir/guest/build.sh") || fail "guest/build.sh failed"
eval "$env"
[ -f "$US_GUEST_KERNEL" ] && [ -f "$US_GUEST_INITRD" ] || fail "guest/build.sh printed missing paths"
n=$(zcat "$US_GUEST_INITRD" | LC_ALL=C grep -caF "$(printf 'UsCtR\001understudy')" || true)
[ "$n" = 0 ] || fail "the initramfs holds the counter magic in plain: findcounter could match the program"

# --- boot -------------------------------------------------------------------

# free_port: a loopback TCP port nothing listens on now.
free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 40000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
	fail "no free loopback port found"
}

port=$(free_port)
log=$tmp/serial.log
qmp_sock=$tmp/qmp.sock
start=$(date +%s%N)
qemu-system-x86_64 -machine q35,memory-backend=ram0 \
	-object memory-backend-file,id=ram0,size=256M,mem-path="$ram",share=on \
	-m 256M -accel tcg -nodefaults -vga none -display none -no-user-config \
	-serial "file:$log" -qmp "unix:$qmp_sock,server=on,wait=off" \
	-kernel "$US_GUEST_KERNEL" -initrd "$US_GUEST_INITRD" \
	-append "console=ttyS0 us.run=counter,dirtier,service us.ip=10.0.2.15/24 us.gw=10.0.2.2 us.dirty=2000 us.dirty_mb=16" \
	-netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:7777" \
	-device virtio-net-pci,netdev=n0,romfile= \
	> "$tmp/qemu.err" 2>&1 &
qpid=$!

# lines: the serial log without carriage returns and without a last line
# still being written.
lines() {
	if [ "$(tail -c 1 "$log" | od -An -tx1 | tr -d ' ')" = 0a ]; then
		tr -d '\r' < "$log"
	else
		tr -d '\r' < "$log" | sed '$d'
	fi
}

# wait_for REGEX: poll the serial log until a line matches, within DEADLINE.
wait_for() {
	local until=$((SECONDS + DEADLINE))
	while ! lines 2>/dev/null | grep -qE "$1"; do
		kill -0 "$qpid" 2>/dev/null || fail "QEMU exited while waiting for '$1'"
		[ "$SECONDS" -lt "$until" ] || fail "no '$1' on the console within ${DEADLINE}s (QEMU under tcg)"
		sleep 0.2
	done
}

wait_for '^us-counter 1$'
echo "guest: counter running $(( ($(date +%s%N) - start) / 1000000 )) ms after QEMU started"
wait_for '^us-service listening on 7777$'
wait_for '^us-dirtier pages/s=[0-9]+$'

# --- the service: two connections, one counter ------------------------------

# ask FD: one request on connection FD; prints the reply line.
ask() {
	local reply
	echo "req" >&"$1"
	read -r -t "$DEADLINE" reply <&"$1" || fail "the service did not answer"
	echo "${reply%$'\r'}"
}

exec 3<>"/dev/tcp/127.0.0.1/$port" || fail "cannot connect to the service on port $port"
exec 4<>"/dev/tcp/127.0.0.1/$port" || fail "cannot connect to the service a second time"
for want in 1 2 3; do
	got=$(ask 3)
	[ "$got" = "$want" ] || fail "service answered '$got' to request $want"
done
for want in 4 5; do
	got=$(ask 4)
	[ "$got" = "$want" ] || fail "second connection got '$got', wanted $want (one shared counter)"
done
got=$(ask 3)
[ "$got" = 6 ] || fail "first connection got '$got' after the second one's requests, wanted 6"
exec 3>&- 4>&-

# --- findcounter on the live RAM file, VM stopped ---------------------------

# qmp CMD: run one QMP command; fails unless QEMU returns success.
qmp() {
	local out
	out=$(printf '{"execute":"qmp_capabilities"}\n{"execute":"%s"}\n' "$1" |
		socat -t 5 - "UNIX-CONNECT:$qmp_sock") || fail "QMP connection failed"
	[ "$(grep -o '"return"' <<< "$out" | wc -l)" -ge 2 ] || fail "QMP $1 failed: $out"
}

# last_counter: the newest complete counter line's value.
last_counter() {
	lines | sed -n 's/^us-counter \([0-9]*\)$/\1/p' | tail -n 1
}

before=$(last_counter)
qmp stop
stopped=$(last_counter)
value=$("$findcounter" "$ram") || fail "findcounter found no single counter in the guest RAM"
qmp cont
echo "guest: findcounter read $value; the log showed $before before stop, $stopped once stopped"
[ "$value" -ge "$stopped" ] && [ "$value" -le $((stopped + 1)) ] ||
	fail "findcounter read $value, the serial log was at $stopped when the VM stopped"
wait_for "^us-counter $((value + 1))\$"

# --- the whole log ----------------------------------------------------------

qmp stop
n=$(lines | grep -c '^us-guest: boot$' || true)
[ "$n" = 1 ] || fail "'us-guest: boot' appears $n times: the guest rebooted"
lines | sed -n 's/^us-counter \([0-9]*\)$/\1/p' > "$tmp/values"
awk 'NR != $1 { print "counter line " NR " says " $1; bad = 1; exit } END { exit bad }' "$tmp/values" ||
	fail "the counter skipped or repeated a value"
echo "guest: $(wc -l < "$tmp/values") counter lines in order; $(lines | grep -m 1 '^us-dirtier pages/s=')"
