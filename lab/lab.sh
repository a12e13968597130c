# SPDX-License-Identifier: LGPL-2.1-or-later
# The lab (sourced by the tests through tests/lib/lab.sh, by the demo and by
# understudy-lab, which installs this folder): hosts are network namespaces
# on this machine. hA and hB run QEMU and the daemons, joined by a veth pair
# that is the replication link (10.99.N.1 <-> 10.99.N.2). A LAN bridge (in
# namespace "lan") joins every host's lan0: on hA and hB lan0 is a port of
# the host bridge br0 that the VM's tap joins; hC is a client at 10.77.N.100,
# the guest is 10.77.N.10 (LAB_NIC=1 gives it the NIC). Every host has its
# own run directory; lab_down kills every process of every host and removes
# what the lab made, and runs from a trap so it also happens on failure.
#
# With LAB_COROSYNC=1, lab_start also starts the host's own corosync (tests/
# lib/corosync.sh) and the daemons use it: [heartbeat] membership = corosync,
# node = hA/hB, and the lab's fence agent (lab/fence_lab.sh). Without
# it they run with membership = none (the stream-loss rule).
# LAB_DECIDE=silence (with LAB_COROSYNC) runs both daemons in the fast mode,
# [failover] decide = silence, and LAB_SILENCE_MS sets [heartbeat]
# silence_ms; a test that runs in both modes reads LAB_DECIDE from the
# environment (e.g. LAB_DECIDE=silence make check TESTS=.../partition.sh).
#
# With LAB_DISK=SIZE (e.g. 64M) the VM has a replicated disk: every host's
# config says [vm] disk = $LAB_DIR/H/disk.img (lab_disk H), and lab_start
# makes that image sparse, SIZE bytes of zeros, when the file is not there
# yet (a test that wants a fresh or a prepared image removes or writes it
# first). It lives in $LAB_DIR, so lab_down removes it.
#
# Usage:  . tests/lib/lab.sh; lab_up; ...; (trap calls lab_down)
# Needs:  US_BIN (the understudy binary), root, iproute2.

LAB_ID=${LAB_ID:-$$}
# LAB_PFX names the namespaces, veths and shm_dirs; understudy-lab sets its own
LAB_PFX=${LAB_PFX:-us${LAB_ID}}
LAB_NET=$(( LAB_ID % 200 + 20 ))
LAB_DIR=${LAB_DIR:-/tmp/understudy-lab-$LAB_ID}
LAB_VM=${LAB_VM:-lab$LAB_ID}
LAB_HOSTS="hA hB hC"
LAB_GUEST_IP=10.77.$LAB_NET.10
# LAB_HOME: this folder (the lab's scripts); LAB_LIB: the caller's helpers
# (tests/lib for the tests), this folder when the caller has none
LAB_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_LIB=${LAB_LIB:-$LAB_HOME}
# Corosync's token here: with two TCG guests on a shared 2-core machine a
# 300 ms token flapped the membership every few seconds (corosync at SCHED_RR
# 99 still logged "not scheduled for 400 ms"), so the lab uses 1000 ms;
# tests/integration/membership.sh, without QEMU, measures 300 ms.
CS_TOKEN=${CS_TOKEN:-1000}
# shellcheck source=lab/corosync.sh
. "$LAB_HOME/corosync.sh"
# shellcheck source=lab/slowdisk.sh
. "$LAB_HOME/slowdisk.sh"
LAB_CLIENT_IP=10.77.$LAB_NET.100

# A signal ends the shell through its EXIT trap, so the lab is removed then too.
trap 'exit 130' INT TERM HUP

lab_ns() { echo "$LAB_PFX-$1"; }
lab_ip() { case $1 in hA) echo "10.99.$LAB_NET.1" ;; hB) echo "10.99.$LAB_NET.2" ;; esac; }
# lab_lan_ip H: host H's own address on the LAN (on br0), for corosync's second link.
lab_lan_ip() { case $1 in hA) echo "10.77.$LAB_NET.1" ;; hB) echo "10.77.$LAB_NET.2" ;; esac; }
lab_exec() { local h=$1; shift; ip netns exec "$(lab_ns "$h")" "$@"; }
lab_log() { echo "lab: $*" >&2; }

lab_up() {
	local h
	command -v ip >/dev/null || { echo "lab: ip not found: apt-get install iproute2" >&2; return 1; }
	mkdir -p "$LAB_DIR"
	for h in $LAB_HOSTS; do
		ip netns add "$(lab_ns "$h")" || return 1
		lab_exec "$h" ip link set lo up
		mkdir -p "$LAB_DIR/$h"
	done
	lab_lan || return 1
	ip link add "${LAB_PFX}a" type veth peer name "${LAB_PFX}b" || return 1
	ip link set "${LAB_PFX}a" netns "$(lab_ns hA)"
	ip link set "${LAB_PFX}b" netns "$(lab_ns hB)"
	lab_exec hA ip addr add "$(lab_ip hA)/24" dev "${LAB_PFX}a"
	lab_exec hB ip addr add "$(lab_ip hB)/24" dev "${LAB_PFX}b"
	lab_exec hA ip link set "${LAB_PFX}a" up
	lab_exec hB ip link set "${LAB_PFX}b" up
}

# lab_lan: the LAN bridge and every host's port on it.
lab_lan() {
	local h
	ip netns add "$(lab_ns lan)" || return 1
	ip netns exec "$(lab_ns lan)" ip link add lanbr type bridge
	ip netns exec "$(lab_ns lan)" ip link set lanbr up
	for h in $LAB_HOSTS; do
		ip link add "$LAB_PFX$h" type veth peer name lan0 netns "$(lab_ns "$h")" || return 1
		ip link set "$LAB_PFX$h" netns "$(lab_ns lan)"
		ip netns exec "$(lab_ns lan)" ip link set "$LAB_PFX$h" master lanbr up
		lab_exec "$h" ip link set lan0 up
		case $h in
		hC) lab_exec hC ip addr add "$LAB_CLIENT_IP/24" dev lan0 ;;
		*) lab_exec "$h" ip link add br0 type bridge
		   lab_exec "$h" ip addr add "$(lab_lan_ip "$h")/24" dev br0
		   lab_exec "$h" ip link set br0 up
		   lab_exec "$h" ip link set lan0 master br0 ;;
		esac
	done
}

# lab_kill_host H: power host H off: SIGKILL every process in its namespace.
lab_kill_host() {
	local pids
	pids=$(ip netns pids "$(lab_ns "$1")" 2>/dev/null)
	[ -n "$pids" ] && kill -9 $pids 2>/dev/null
	local i
	for i in $(seq 50); do
		[ -z "$(ip netns pids "$(lab_ns "$1")" 2>/dev/null)" ] && return 0
		sleep 0.1
	done
	return 0
}

# lab_stop_host H: SIGTERM every process (clean shutdown), then kill.
lab_stop_host() {
	local pids i
	pids=$(ip netns pids "$(lab_ns "$1")" 2>/dev/null)
	[ -n "$pids" ] && kill -TERM $pids 2>/dev/null
	for i in $(seq 50); do
		[ -z "$(ip netns pids "$(lab_ns "$1")" 2>/dev/null)" ] && return 0
		sleep 0.1
	done
	lab_kill_host "$1"
}

# lab_down also fails the test (exit 1) when a daemon log left in the lab
# says announce-self failed: the takeover tests check after each takeover,
# this catches what they did not look at.
lab_down() {
	local h bad=''
	lab_announce_ok || bad=1
	for h in $LAB_HOSTS lan; do
		lab_kill_host "$h"
		ip netns del "$(lab_ns "$h")" 2>/dev/null
	done
	cs_cleanup
	for h in hA hB; do
		lab_vol_umount "$h"
	done
	# libqb's blackboxes of the daemons and tools (qb-understudy-PID-
	# blackbox-*), which outlive even a clean exit: with LAB_OWN_SHM (set by
	# understudy-lab, which may run beside production daemons) only those of
	# the processes the lab ran; the VM's RAM files are in the lab's own
	# shm_dirs, never in /dev/shm itself, where a real VM's may be
	lab_shm_sweep
	rm -rf "$(lab_shm hA)" "$(lab_shm hB)"
	[ -n "${LAB_KEEP:-}" ] || rm -rf "$LAB_DIR"
	[ -z "$bad" ] || { echo "FAIL: a takeover did not announce the guest's MAC" >&2; exit 1; }
}

# lab_shm_sweep: remove libqb's files of the lab's processes (LAB_OWN_SHM:
# only those of the pids in $LAB_DIR/pids; else every qb-*understudy* file).
lab_shm_sweep() {
	local pid
	if [ -z "${LAB_OWN_SHM:-}" ]; then
		rm -f /dev/shm/qb-*understudy*
		return 0
	fi
	for pid in $(cat "$LAB_DIR/pids" 2>/dev/null); do
		rm -rf /dev/shm/qb-understudy-"$pid"-* /dev/shm/qb-*-"$pid"-* /dev/shm/qb-"$pid"-* 2>/dev/null
	done
}

# lab_record_pid PID: a process of the lab, whose libqb files lab_down removes.
lab_record_pid() { echo "$1" >> "$LAB_DIR/pids"; }

# lab_guest_mac: the MAC of the lab guest's NIC (LAB_NIC).
lab_guest_mac() { printf '52:54:00:77:%02x:10\n' "$LAB_NET"; }

# lab_announce_ok: no daemon log in the lab says "announce-self failed" (a
# takeover that the LAN's switches would not follow at once); otherwise
# shows those lines and returns 1. The daemon only warns: the guest runs on.
lab_announce_ok() {
	local bad
	bad=$(grep -a -H 'announce-self failed' "$LAB_DIR"/*.log 2>/dev/null | cut -c1-300)
	[ -z "$bad" ] && return 0
	lab_log "announce-self failed: $bad"
	return 1
}

# lab_rarps_after FILE MS: how many frames tests/tools/framecap logged to
# FILE at or after wall-clock millisecond MS.
lab_rarps_after() {
	[ -f "$1" ] || { echo 0; return; }
	awk -v t="$2" '$1 >= t { n++ } END { print n + 0 }' "$1"
}

# lab_config H FILE [extra ini lines...]: the config of host H for the lab VM.
lab_config() {
	local h=$1 f=$2; shift 2
	mkdir -p "$(lab_shm "$h")" || return 1
	cat > "$f" <<CONF
[vm]
name = $LAB_VM
memory = ${LAB_MEM:-128M}
kernel = $US_GUEST_KERNEL
initrd = $US_GUEST_INITRD
append = console=ttyS0 quiet ${LAB_APPEND:-us.run=counter}$([ -n "${LAB_NIC:-}" ] && echo " us.ip=$LAB_GUEST_IP/24")
$([ -n "${LAB_NIC:-}" ] && printf 'mac = %s\n[net]\nbridge = br0\n' "$(lab_guest_mac)")
[replication]
hosts = hA=$(lab_ip hA):7300 hB=$(lab_ip hB):7300
epoch_ms = ${LAB_EPOCH_MS:-50}
peer_timeout_ms = ${LAB_PEER_TIMEOUT_MS:-2000}
devstate = ${LAB_DEVSTATE:-xen-save}
${LAB_COMPRESS:+compress = $LAB_COMPRESS}
${LAB_DISK_LOG_MAX:+disk_log_max = $LAB_DISK_LOG_MAX}
[heartbeat]
membership = $([ -n "${LAB_COROSYNC:-}" ] && echo corosync || echo none)
node = $h
fence_command = ${LAB_FENCE_COMMAND-$LAB_HOME/fence_lab.sh $LAB_PFX}
fence_delay_ms = ${LAB_FENCE_DELAY_MS:-3000}
${LAB_SILENCE_MS:+silence_ms = $LAB_SILENCE_MS}
[failover]
reprotect = ${LAB_REPROTECT:-auto}
${LAB_DECIDE:+decide = $LAB_DECIDE}
${LAB_PROMOTE:+promote = $LAB_PROMOTE}
[daemon]
run_dir = $LAB_DIR/$h
shm_dir = $(lab_shm "$h")
CONF
	local line
	for line in "$@"; do echo "$line" >> "$f"; done
	# LAB_TAMPER_PORT (understudy-lab run --tamper): each host's standby
	# listens on 7300 behind a tampering proxy on LAB_TAMPER_PORT (lab_start)
	[ -z "${LAB_TAMPER_PORT:-}" ] ||
		printf '[replication]\nhosts = hA=%s:%s hB=%s:%s\nlisten = %s:7300\n' "$(lab_ip hA)" \
			"$LAB_TAMPER_PORT" "$(lab_ip hB)" "$LAB_TAMPER_PORT" "$(lab_ip "$h")" >> "$f"
	# LAB_KEY_FILE: an authenticated channel; tls = off keeps it readable to
	# the tampering proxy (the tags are what a tamper fault meets)
	[ -z "${LAB_KEY_FILE:-}" ] ||
		printf '[replication]\nkey_file = %s\ntls = off\n' "$LAB_KEY_FILE" >> "$f"
	# last, under its own header: extra lines without one stay in [daemon]
	[ -z "${LAB_DISK:-}" ] || printf '[vm]\ndisk = %s\n' "$(lab_disk "$h")" >> "$f"
}

# lab_shm H: host H's shm_dir (its guest RAM files), a directory of its own so
# that a RAM file of one host can never be taken for the other's.
lab_shm() { echo "/dev/shm/$LAB_PFX-$1"; }

# lab_disk H: the path of host H's disk image (LAB_DISK); with LAB_DISK_VOL
# (understudy-lab) on a volume of its own (lab/slowdisk.sh: a tmpfs seen
# through slowfs), which the disk faults act on without touching the
# machine's file systems.
lab_disk() {
	if [ -n "${LAB_DISK_VOL:-}" ]; then echo "$LAB_DIR/$1/disk/disk.img"
	else echo "$LAB_DIR/$1/disk.img"; fi
}

# lab_disk_make H: with LAB_DISK, a sparse image of LAB_DISK bytes for host H
# unless it has one already.
lab_disk_make() {
	[ -n "${LAB_DISK:-}" ] && [ ! -e "$(lab_disk "$1")" ] || return 0
	mkdir -p "$LAB_DIR/$1"
	[ -z "${LAB_DISK_VOL:-}" ] || lab_vol_mount "$1" || return 1
	truncate -s "$LAB_DISK" "$(lab_disk "$1")" ||
		{ lab_log "cannot make a $LAB_DISK image $(lab_disk "$1")"; return 1; }
}

# lab_start H ROLE [args...]: start the daemon of host H in the background.
lab_start() {
	local h=$1 role=$2; shift 2
	lab_disk_make "$h" || return 1
	lab_config "$h" "$LAB_DIR/$h.conf"
	if [ -n "${LAB_COROSYNC:-}" ] && ! kill -0 "$(cs_pid "$h")" 2>/dev/null; then
		cs_start "$h" || return 1
	fi
	[ -z "${LAB_TAMPER_PORT:-}" ] || lab_tamper_proxy "$h" || return 1
	# not lab_exec: a function would run in a subshell and $! be the subshell's
	ip netns exec "$(lab_ns "$h")" "$US_BIN" "$role" -c "$LAB_DIR/$h.conf" "$@" \
		> "$LAB_DIR/$h.log" 2>&1 &
	echo $! > "$LAB_DIR/$h.pid"
	lab_record_pid $!
	disown $!	# killed with its host: no "Killed" job notice in the test's output
	[ "$role" != primary ] || lab_show_accel "$h"
}

# lab_accel H: the accelerator host H's QEMU runs under, with the daemon's
# reason when it logged one ("tcg (/dev/kvm is present but ...)"), else
# with the configured choice; nothing before QEMU started.
lab_accel() {
	local log=$LAB_DIR/$1.log accel why
	accel=$(grep -a -o -m1 'QEMU for [^ ]* started (pid [0-9]*, [a-z]*' "$log" 2>/dev/null)
	accel=${accel##*, }
	[ -n "$accel" ] || return 0
	why=$(grep -a -o -m1 "accel [a-z]*: $accel: .*" "$log" | sed "s/^accel [a-z]*: $accel: //; s/; fix: .*//")
	echo "$accel (${why:-accel = $(lab_conf_accel "$1")})"
}

# lab_conf_accel H: the accel key of host H's config (auto when unset).
lab_conf_accel() {
	local a
	a=$(sed -n 's/^accel *= *\([a-z]*\).*/\1/p' "$LAB_DIR/$1.conf" 2>/dev/null | tail -1)
	echo "${a:-auto}"
}

# lab_qemu_started H: host H's daemon started its QEMU, or is gone (no wait then).
lab_qemu_started() {
	grep -a -q 'QEMU for [^ ]* started' "$LAB_DIR/$1.log" 2>/dev/null ||
		! kill -0 "$(lab_daemon_pid "$1")" 2>/dev/null
}

# lab_show_accel H: once per lab, wait for host H's QEMU and print
# "lab: accelerator: tcg (...)".
lab_show_accel() {
	[ -e "$LAB_DIR/accel.shown" ] && return 0
	lab_wait 30 lab_qemu_started "$1"
	if [ -n "$(lab_accel "$1")" ]; then
		lab_log "accelerator: $(lab_accel "$1")"
		touch "$LAB_DIR/accel.shown"
	else
		lab_log "accelerator: unknown: $1's daemon has not started QEMU"
	fi
}

# lab_console_tail H [N]: the last N (5) non-empty lines of the guest's
# console on host H, on one line.
lab_console_tail() {
	local f=$LAB_DIR/$1/$LAB_VM.serial out
	out=$(tr -d '\r' < "$f" 2>/dev/null | tr -c '\n[:print:]' '?' | grep -a -v '^ *$' |
		tail -n "${2:-5}" | cut -c1-160 | awk 'NR > 1 { printf " | " } { printf "%s", $0 }')
	echo "${out:-(none: the console $f is empty)}"
}

# lab_guest_failed H SECONDS [WHAT [DETAIL]]: the failure message for a
# guest on host H that did not WHAT ("come up") within SECONDS: it names the
# accelerator and ends with the last lines of the guest's console.
lab_guest_failed() {
	local h=$1 secs=$2 what=${3:-come up} detail=${4:+ ($4)} accel
	accel=$(lab_accel "$h")
	accel=${accel%% *}
	echo "guest did not $what under ${accel:-no accelerator (QEMU never started on $h)}" \
	     "in $secs s$detail; last console lines: $(lab_console_tail "$h")"
}

# lab_daemon_pid H: the pid of host H's understudy daemon.
lab_daemon_pid() { cat "$LAB_DIR/$1.pid" 2>/dev/null; }

# lab_daemon_stopped H: host H's daemon is stopped (SIGSTOP, state T).
lab_daemon_stopped() {
	local pid
	pid=$(lab_daemon_pid "$1")
	[ -n "$pid" ] && [ "$(awk '/^State:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)" = T ]
}

# lab_answers H: host H's daemon answers status (its loop runs: a standby
# listens by then). lab_field alone succeeds even when nothing answers.
lab_answers() { [ -n "$(lab_field "$1" state)" ]; }

# lab_runs_vm H: host H's daemon runs the guest after a takeover: role active
# (promoted, reprotect = manual) or primary (reprotect = auto handed it over).
lab_runs_vm() { case $(lab_field "$1" role) in active|primary) return 0 ;; esac; return 1; }

# lab_member H: host H's daemon sees its peer's daemon in the corosync group.
lab_member() { [ "$(lab_field "$1" peer_state)" = member ]; }

# lab_ctl H CMD [args]: understudy control command on host H.
# (ip netns exec execs the command: $! is understudy's pid, for lab_down)
lab_ctl() {
	local h=$1 pid; shift
	ip netns exec "$(lab_ns "$h")" "$US_BIN" "$@" --vm "$LAB_VM" &
	pid=$!
	lab_record_pid "$pid"
	wait "$pid"
}

# lab_field H KEY: one field of host H's status, "" if unreachable (also
# when its daemon is SIGSTOPped: the call would wait for it forever).
lab_field() {
	lab_daemon_stopped "$1" && return 0
	lab_ctl "$1" status --json 2>/dev/null | grep -o "\"$2\":[^,}]*" | head -1 | cut -d: -f2 | tr -d '"'
}

# lab_wait SECONDS CMD...: poll CMD every 0.1 s until it succeeds.
lab_wait() {
	local deadline=$(( $(date +%s) + $1 )); shift
	until "$@"; do
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

lab_acked_at_least() { local a; a=$(lab_field hA acked); [ -n "$a" ] && [ "$a" -ge "$1" ]; }

# lab_counters FILE: the counter values the guest printed, one a line.
lab_counters() { grep -a -o 'us-counter [0-9]*' "$1" 2>/dev/null | cut -d' ' -f2; }

# lab_counting FILE N: the guest printed at least N counter values to FILE.
lab_counting() { [ "$(lab_counters "$1" | wc -l)" -ge "$2" ]; }

# lab_replies LOG: how many replies tests/tools/reqclient logged (0 before it starts).
lab_replies() { cat "$1" 2>/dev/null | wc -l; }

# lab_replies_at_least LOG N
lab_replies_at_least() { [ "$(lab_replies "$1")" -ge "$2" ]; }

# lab_replies_in_order LOG: the replies were exactly 1, 2, 3, ...; else says where not.
lab_replies_in_order() {
	awk '{ if ($2 != NR) { print "reply " NR " was " $2; exit 1 } }' "$1"
}

# lab_line_no FILE REGEX: the number of the first line of FILE matching REGEX.
lab_line_no() { grep -n -m1 -E "$2" "$1" | cut -d: -f1; }

# lab_qemus H: how many QEMU processes run in host H.
lab_qemus() {
	local pids
	pids=$(ip netns pids "$(lab_ns "$1")" 2>/dev/null)
	[ -n "$pids" ] || { echo 0; return; }
	ps -o comm= -p "$(echo $pids | tr ' ' ,)" 2>/dev/null | grep -c qemu
}

# lab_host_empty H: no process runs in host H (it is off, or was fenced).
lab_host_empty() { [ -z "$(ip netns pids "$(lab_ns "$1")" 2>/dev/null)" ]; }

# lab_protected_pair LOG [START]: standby on hB, primary on hA (each started
# by START H ROLE, lab_start unless given), the guest's service and a client
# on hC logging to LOG (its pid in LAB_CLIENT_PID), and wait for 20 replies
# (and, with LAB_COROSYNC, both daemons in the group).
lab_protected_pair() {
	local log=$1 start=${2:-lab_start}
	"$start" hB standby
	lab_wait 30 lab_answers hB || { lab_log "standby did not start"; return 1; }
	"$start" hA primary
	ip netns exec "$(lab_ns hC)" "$top_builddir/tests/tools/reqclient" "$LAB_GUEST_IP" 7777 600 \
		"$log" 2> "$log.err" &
	LAB_CLIENT_PID=$!
	lab_wait 180 lab_replies_at_least "$log" 20 ||
		{ lab_log "$(lab_guest_failed hA 180 "come up" \
			"no reply to the client on hC: $(tr '\n' ' ' < "$log.err")")"; return 1; }
	[ -z "${LAB_COROSYNC:-}" ] && return 0
	lab_wait 30 lab_member hA && lab_wait 30 lab_member hB ||
		{ lab_log "the daemons never saw each other in corosync"; return 1; }
}
