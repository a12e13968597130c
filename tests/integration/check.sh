#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `understudy check` on real lab hosts (namespaces, a corosync per host, a
# real QEMU asked over QMP, real tmpfs): a good host shows every check PASS;
# a missing bridge, a stopped corosync and a shm_dir tmpfs too small for the
# guest each FAIL with the cause named and a fix; --host leaves the cluster
# out; a daemon refuses to start on a failed host check and names it, but
# not on a cluster check; and a running daemon shows the cluster checks in
# its status. The host's accelerator is settled explicitly (accel = tcg):
# on these CI machines `auto` is a WARN (their /dev/kvm cannot run a guest),
# which tests/unit/test_check.c asserts with fakes.
set -u
. "$(dirname "$0")/../lib/common.sh"
LAB_COROSYNC=1 LAB_NIC=1
. "$top_srcdir/tests/lib/lab.sh"
SMALL=$LAB_DIR/smallshm
cleanup() { umount "$SMALL" 2>/dev/null; lab_down; }
trap cleanup EXIT
lab_up || fail "cannot build the lab"
cs_start hA && cs_start hB || fail "cannot start corosync"
cs_wait_members hA 2 || fail "corosync on hA never saw both nodes"

conf=$LAB_DIR/check.conf
out=$LAB_DIR/check.out
# check_run H ARGS...: run understudy check on host H into $out, echo its exit code.
check_run() { local h=$1; shift; lab_exec "$h" "$US_BIN" check "$@" > "$out" 2>&1; echo $?; }
# expect_line LEVEL NAME WORDS: the output has that check at that level, saying WORDS.
expect_line() {
	grep -q -- "^$1  $2 .*$3" "$out" || fail "no '$1 $2 ... $3' in: $(cat "$out")"
}

lab_config hA "$conf" "[vm]" "accel = tcg"
rc=$(check_run hA -c "$conf" --role primary)
[ "$rc" = 0 ] || fail "good host: exit $rc: $(cat "$out")"
grep -v -q '^PASS\|^ ' "$out" && fail "good host: not all PASS: $(cat "$out")"
for name in kernel.uffd-wp-async kernel.pagemap-scan kernel.ptrace accel qemu.version \
	qemu.features shm_dir memory bridge corosync corosync.quorum corosync.node fence \
	replication.peer; do
	expect_line PASS "$name" ""
done
expect_line PASS corosync.node "node 'hA' (1) is a member"
expect_line PASS bridge "bridge br0 exists"
note "good host: $(grep -c '^PASS' "$out") checks, all PASS"
rc=$(check_run hA -c "$conf" --role primary --json)
[ "$rc" = 0 ] && grep -q '"ok":true' "$out" && grep -q '"name":"qemu.features","result":"PASS"' "$out" ||
	fail "good host --json: exit $rc: $(cat "$out")"

lab_config hA "$conf" "[vm]" "accel = tcg" "[net]" "bridge = nosuchbr"
rc=$(check_run hA -c "$conf" --role primary)
[ "$rc" = 1 ] || fail "missing bridge: exit $rc"
expect_line FAIL bridge "bridge nosuchbr does not exist"
grep -q "fix: create it (ip link add nosuchbr type bridge" "$out" || fail "missing bridge: no fix"
if lab_exec hA "$US_BIN" primary -c "$conf" > "$out" 2>&1; then fail "primary started without its bridge"; fi
grep -q "refuses to start: host check bridge failed: bridge nosuchbr does not exist" "$out" ||
	fail "primary with a missing bridge: $(tail -3 "$out")"
[ "$(lab_qemus hA)" = 0 ] || fail "a refused primary left QEMU running"
note "missing bridge: FAIL, and the primary refused to start"

# accel = kvm where KVM cannot run a guest (these CI hosts): refused with the reason.
lab_config hA "$conf" "[vm]" "accel = kvm"
rc=$(check_run hA -c "$conf" --host)
if [ "$rc" = 1 ]; then
	expect_line FAIL accel "accel = kvm but /dev/kvm"
	if lab_exec hA "$US_BIN" primary -c "$conf" > "$out" 2>&1; then fail "primary started on an unusable KVM"; fi
	grep -q "refuses to start: host check accel failed: accel = kvm but /dev/kvm" "$out" ||
		fail "accel = kvm: $(tail -3 "$out")"
	note "accel = kvm on a host without a usable KVM: refused ($(grep -m1 -o 'but /dev/kvm.*' "$out"))"
else
	expect_line PASS accel "kvm: /dev/kvm works"
	note "accel = kvm: this host runs KVM guests"
fi

mkdir -p "$SMALL" && mount -t tmpfs -o size=16M tmpfs "$SMALL" || fail "cannot mount a small tmpfs"
lab_config hA "$conf" "[vm]" "accel = tcg" "[daemon]" "shm_dir = $SMALL"
rc=$(check_run hA -c "$conf" --host)
[ "$rc" = 1 ] || fail "small shm_dir: exit $rc"
expect_line FAIL shm_dir "$SMALL has 16 MiB free, the guest's RAM file needs 128 MiB"
umount "$SMALL"
note "small shm_dir: FAIL naming the space"

cs_stop hA
lab_config hA "$conf" "[vm]" "accel = tcg"
rc=$(check_run hA -c "$conf" --role primary)
[ "$rc" = 1 ] || fail "corosync stopped: exit $rc"
expect_line FAIL corosync "corosync does not answer"
grep -q "fix: start corosync" "$out" || fail "corosync stopped: no fix"
rc=$(check_run hA -c "$conf" --host)
[ "$rc" = 0 ] || fail "--host with corosync stopped: exit $rc: $(cat "$out")"
grep -q "corosync" "$out" && fail "--host ran the cluster checks"
note "corosync stopped: FAIL in check, not in check --host"

# A cluster check never stops a daemon: the standby starts with hA's
# corosync down (its own runs) and reports the checks in its status.
standby_up() { [ -n "$(lab_field hB state)" ]; }
lab_start hB standby
lab_wait 60 standby_up || fail "standby did not start"
st=$(lab_ctl hB status)
echo "$st" | grep -q "checks.corosync.node  *PASS: node 'hB' (2) is a member" ||
	fail "standby status lacks its cluster checks: $st"
echo "$st" | grep -q "checks.replication.listen  *PASS: listening" ||
	fail "standby status: no listen check: $st"
echo "$st" | grep -q "^accel  *tcg$" || fail "standby status: accel is not tcg: $st"
# SIGTERM stops a daemon cleanly: its QEMU stopped, its files removed (a
# daemon that started QEMU once lost its signal handler to a private loop).
pid=$(lab_daemon_pid hB)
kill -TERM "$pid"
gone() { ! kill -0 "$pid" 2>/dev/null; }
lab_wait 15 gone || fail "the standby ignored SIGTERM"
grep -q "daemon for VM '$LAB_VM' stopped" "$LAB_DIR/hB.log" || fail "no clean stop in the log"
[ "$(lab_qemus hB)" = 0 ] || fail "SIGTERM left the standby's QEMU running"
[ ! -e "$(lab_shm hB)/understudy-$LAB_VM.replica" ] || fail "SIGTERM left the replica RAM file"
note "SIGTERM: the standby stopped its QEMU and removed its files"
echo "PASS: understudy check names each failure and its fix; daemons gate on host checks only"
