# SPDX-License-Identifier: LGPL-2.1-or-later
# The commands of understudy-lab (sourced by it after the lab's libraries):
# each lab_cmd_* is one sub-command. The lab's settings live in
# $LAB_DIR/lab.env between commands; LAB_CMD_DOWN=1 while a command builds
# something, so that a failure or Ctrl-C (the EXIT trap) removes the lab.

# lab_cmd_exit: the EXIT trap: remove the lab when a command failed half-way.
lab_cmd_exit() {
	local rc=$?
	if [ -z "$LAB_CMD_DOWN" ]; then
		# a campaign in a lab the user made leaves it, but not with a fault in force
		[ -z "${LAB_CMD_UNDO:-}" ] || { trap '' INT TERM HUP; lab_log "undoing the faults in force"; lab_undo; }
		return "$rc"
	fi
	# a second signal (Ctrl-C again, or timeout(1) signalling the whole
	# process group after its child) must not cut the removal short: it
	# ran the INT trap, `exit 130`, in the middle of it, and its subshell
	# (signals back at their defaults) died, which left the lab's state
	# and shm_dirs behind; ignored here, also for every command it runs
	trap '' INT TERM HUP
	lab_log "removing the lab (the command failed or was interrupted)"
	LAB_CMD_DOWN=''
	lab_cmd_teardown
	exit "$rc"
}

# lab_cmd_teardown: everything the lab made, whatever state it is in.
lab_cmd_teardown() {
	( lab_down ) || true
	[ -n "${LAB_KEEP:-}" ] || rm -rf "$LAB_DIR"
	return 0
}

# lab_vm_answers: a daemon of VM $LAB_VM answers here; the blackbox the
# status client leaves in /dev/shm is removed (nothing else of libqb's).
lab_vm_answers() {
	local pid rc
	"$US_BIN" status --vm "$LAB_VM" >/dev/null 2>&1 &
	pid=$!
	wait "$pid"
	rc=$?
	rm -f /dev/shm/qb-understudy-"$pid"-blackbox-*
	return "$rc"
}

# lab_collision: print what already uses the lab's names; 0 when none does.
lab_collision() {
	local found=''
	ip netns list 2>/dev/null | grep -q "^$LAB_PFX-" && found="$found namespaces $LAB_PFX-*;"
	ip -o link show 2>/dev/null | grep -q ": $LAB_PFX[a-zA-Z]" && found="$found interfaces $LAB_PFX*;"
	[ -e "$LAB_DIR" ] && found="$found $LAB_DIR;"
	compgen -G "/dev/shm/$LAB_PFX-*" >/dev/null && found="$found /dev/shm/$LAB_PFX-*;"
	compgen -G "/dev/shm/understudy-$LAB_VM.*" >/dev/null && found="$found RAM files of a VM $LAB_VM in /dev/shm;"
	lab_vm_answers && found="$found a running daemon of VM $LAB_VM;"
	grep -l -s -E "^[[:space:]]*name[[:space:]]*=[[:space:]]*$LAB_VM([[:space:];]|$)" /etc/understudy/*.conf \
		>/dev/null 2>&1 && found="$found a VM named $LAB_VM in /etc/understudy;"
	[ -z "$found" ] && return 0
	echo "${found%;}"
	return 1
}

lab_cmd_save_env() {
	# declare -g: lab_cmd_load sources it inside a function
	declare -p US_GUEST_KERNEL US_GUEST_INITRD LAB_APPEND LAB_MEM LAB_DISK LAB_PORT LAB_IMAGE |
		sed 's/^declare -[-x]* /declare -g /' > "$LAB_DIR/lab.env"
}

# lab_cmd_load: the settings of the lab that `up` made, or fail.
lab_cmd_load() {
	[ -f "$LAB_DIR/lab.env" ] ||
		die "no lab $ID here (no $LAB_DIR/lab.env): make it with 'understudy-lab --id $ID up'"
	# shellcheck source=/dev/null
	. "$LAB_DIR/lab.env"
	LAB_CHECKER_SCRIPT=$(cat "$LAB_DIR/checker" 2>/dev/null)
	export US_BIN US_GUEST_KERNEL US_GUEST_INITRD
}

lab_cmd_guest() {
	US_GUEST_KERNEL=${UP_KERNEL:-$GUEST_DIR/vmlinux}
	US_GUEST_INITRD=${UP_INITRD:-$GUEST_DIR/initrd.img}
	[ -r "$US_GUEST_KERNEL" ] && [ -r "$US_GUEST_INITRD" ] ||
		die "no guest kernel/initrd ($US_GUEST_KERNEL, $US_GUEST_INITRD): give --kernel and --initrd," \
		    "or build the test guest with guest/build.sh from understudy's sources"
	LAB_APPEND=${UP_APPEND:-us.run=service}
	LAB_MEM=${UP_MEM:-128M}
	LAB_PORT=${UP_PORT:-7777}
	LAB_DISK=${UP_DISK:-} LAB_IMAGE=${UP_IMAGE:-}
	if [ -n "$LAB_IMAGE" ]; then
		[ -r "$LAB_IMAGE" ] || die "--image $LAB_IMAGE: not a readable file"
		LAB_DISK=$(stat -c %s "$LAB_IMAGE")
	fi
}

lab_cmd_up() {
	local what h
	[ "$(id -u)" = 0 ] || die "run as root: the lab makes network namespaces, bridges and mounts"
	[ -x "$US_BIN" ] || die "$US_BIN is not there (set US_BIN)"
	command -v corosync >/dev/null || die "corosync not found: apt-get install corosync"
	what=$(lab_collision) ||
		die "refusing to start: lab $ID's names are in use:$what. If it is a lab, 'understudy-lab --id $ID down'" \
		    "removes it; otherwise choose another --id"
	lab_cmd_guest
	LAB_CMD_DOWN=1
	mkdir -p "$LAB_DIR" && lab_cmd_save_env || exit 1
	lab_up || die "cannot make the lab's namespaces"
	for h in hA hB; do
		[ -z "$LAB_IMAGE" ] || { lab_vol_mount "$h" && cp --sparse=always "$LAB_IMAGE" "$(lab_disk "$h")"; } ||
			exit 1
	done
	LAB_CMD_DOWN=''
	echo "lab $ID up: hosts $(lab_ns hA) $(lab_ns hB) (replication $(lab_ip hA) <-> $(lab_ip hB))," \
	     "client $(lab_ns hC) ($LAB_CLIENT_IP), guest $LAB_GUEST_IP:$LAB_PORT; next: understudy-lab --id $ID run"
}

lab_cmd_run() {
	lab_cmd_load
	[ -z "$(lab_primary 2>/dev/null)" ] || die "the pair runs already"
	if [ -n "$CHECKER" ]; then
		[ -x "$CHECKER" ] || die "--checker $CHECKER: not an executable script"
		LAB_CHECKER_SCRIPT=$(realpath "$CHECKER")
		echo "$LAB_CHECKER_SCRIPT" > "$LAB_DIR/checker"
	fi
	LAB_CMD_DOWN=1
	lab_cmd_start_pair || exit 1
	LAB_CMD_DOWN=''
	echo "protected pair running: primary $(lab_primary), client on hC answered $(lab_history | wc -l) times"
}

lab_cmd_start_pair() {
	[ -z "$TAMPER" ] || lab_tamper_start || return 1
	lab_start hB standby
	lab_wait 30 lab_answers hB || { lab_log "the standby did not start: $(tail -3 "$LAB_DIR/hB.log")"; return 1; }
	lab_start hA primary
	lab_frames_start || return 1
	# a checker script that finds no guest yet exits before its model line
	[ -z "${LAB_CHECKER_SCRIPT:-}" ] || lab_wait 240 lab_guest_listens ||
		{ lab_log "$(lab_guest_failed hA 240 "listen on port $LAB_PORT")"; return 1; }
	lab_client_start
	lab_wait 240 lab_answered ||
		{ lab_log "$(lab_guest_failed hA 240 "answer the client" "$(lab_client_error)")"; return 1; }
	lab_wait 60 lab_member hA && lab_wait 60 lab_member hB ||
		{ lab_log "the daemons never saw each other in corosync"; return 1; }
	lab_wait 120 lab_protected || { lab_log "the pair is not protected: $(lab_field hA state)"; return 1; }
}

# lab_guest_listens: the guest's service takes a connection from hC (the
# daemons are checked as in lab_answered).
lab_guest_listens() {
	lab_answered_daemons || exit 1
	ip netns exec "$(lab_ns hC)" timeout --foreground 2 bash -c 'exec 3<> "/dev/tcp/$0/$1"' \
		"$LAB_GUEST_IP" "$LAB_PORT" 2>/dev/null
}

# lab_answered_daemons: both daemons run; else says which exited and how.
lab_answered_daemons() {
	local h
	for h in hA hB; do
		kill -0 "$(lab_daemon_pid "$h")" 2>/dev/null ||
			{ lab_log "$h's daemon exited: $(grep -a -v ' debug: ' "$LAB_DIR/$h.log" | tail -n 3 | tr '\n' ' ')"; return 1; }
	done
}

# lab_answered: the client has 20 replies; a daemon that exited ends the
# command at once (exit 1: the EXIT trap removes the lab) with its last words.
lab_answered() {
	lab_answered_daemons || exit 1
	lab_history_grows 0 20
}

# lab_tamper_start: the pair's stream through tampering proxies from now on
# (lab_config, lab_start); remembered in lab.env for later commands.
lab_tamper_start() {
	[ -x "$LAB_TOOLS/tamperproxy" ] ||
		{ lab_log "--tamper needs $LAB_TOOLS/tamperproxy, which this build does not have"; return 1; }
	LAB_TAMPER_PORT=7301
	echo "declare -g LAB_TAMPER_PORT=7301" >> "$LAB_DIR/lab.env"
	# keyed, or a forged ACK would release held output: tamper faults show
	# what the authenticated channel refuses
	LAB_KEY_FILE=$LAB_DIR/replication.key
	"$US_BIN" keygen "$LAB_KEY_FILE" > /dev/null ||
		{ lab_log "understudy keygen $LAB_KEY_FILE failed"; return 1; }
	echo "declare -g LAB_KEY_FILE=$LAB_KEY_FILE" >> "$LAB_DIR/lab.env"
}

lab_cmd_inject() {
	[ -n "$1" ] || bad_usage "inject needs a FAULT (understudy-lab faults lists them)"
	lab_cmd_load
	lab_fault_known "$1" && { lab_faults_usable "$1" || exit 1; }
	lab_inject "$1" || exit 1
	echo "injected $1"
}

lab_cmd_heal() {
	lab_cmd_load
	lab_heal 240 || exit 1
	echo "healed: primary $(lab_primary), protected"
}

lab_cmd_check() {
	local out
	lab_cmd_load
	out=$({ lab_history | awk -v model="$(lab_client_model)" -f "$LAB_HOME/check.awk"
		lab_frames | awk -v from=0 -f "$LAB_HOME/dual.awk"; })
	echo "$out"
	! echo "$out" | grep -q '^violation'
}

lab_cmd_status() {
	local h
	lab_cmd_load
	for h in hA hB; do
		printf '%s: %s\n' "$h" "$(lab_host_empty "$h" && echo "off" ||
			echo "role $(lab_field "$h" role) state $(lab_field "$h" state) epoch $(lab_field "$h" epoch)")"
	done
	echo "client: $(lab_history | wc -l) replies, $(lab_client_alive && echo connected || echo "stopped: $(lab_client_error)")"
	echo "faults in force: $(cut -d' ' -f1 "$LAB_DIR/faults.active" 2>/dev/null | tr '\n' ' ')"
}

lab_cmd_down() {
	if [ ! -e "$LAB_DIR" ] && ! ip netns list | grep -q "^$LAB_PFX-"; then
		echo "no lab $ID here"
		return 0
	fi
	lab_cmd_teardown
	echo "lab $ID removed"
}

# lab_cmd_faults_list: --faults as a list of known faults, or fail.
lab_cmd_faults_list() {
	local f
	local skipped=''
	if [ "$FAULTS" = all ]; then
		FAULTS=''
		for f in $LAB_FAULTS; do
			if lab_faults_usable "$f" 2>/dev/null; then FAULTS=$FAULTS${FAULTS:+,}$f
			else skipped="$skipped $f"; fi
		done
		[ -z "$skipped" ] || lab_log "--faults all: left out, they cannot run here:$skipped"
	fi
	for f in ${FAULTS//,/ }; do
		lab_fault_known "$f" || bad_usage "--faults: unknown fault '$f' (understudy-lab faults lists them)"
	done
	lab_faults_usable "$FAULTS" || exit 1
}

lab_cmd_campaign() {
	local own=''
	[ -n "$SEED" ] && [ -n "$FAULTS" ] && [ -n "$ROUNDS" ] || bad_usage "campaign needs --seed, --faults and --rounds"
	[[ $SEED =~ ^[0-9]+$ ]] && [[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || bad_usage "--seed and --rounds are numbers"
	if [ -f "$LAB_DIR/lab.env" ]; then lab_cmd_load; else LAB_DISK=${UP_DISK:-${UP_IMAGE:+image}}; fi
	lab_cmd_faults_list
	CAMP_SEED=$SEED CAMP_FAULTS=$FAULTS CAMP_ROUNDS=$ROUNDS CAMP_OUT=${OUT:-./campaign-$SEED}
	if [ -n "$DRY" ]; then lab_schedule "$SEED" "$FAULTS" "$ROUNDS"; return 0; fi
	mkdir -p "$CAMP_OUT" || die "cannot make $CAMP_OUT"
	CAMP_OUT=$(realpath "$CAMP_OUT")
	lab_schedule "$SEED" "$FAULTS" "$ROUNDS" > "$CAMP_OUT/schedule"
	if [ ! -f "$LAB_DIR/lab.env" ]; then
		own=1
		lab_cmd_up >&2
		LAB_CMD_DOWN=1
		lab_cmd_load
		[ -z "$CHECKER" ] || { LAB_CHECKER_SCRIPT=$(realpath "$CHECKER"); echo "$LAB_CHECKER_SCRIPT" > "$LAB_DIR/checker"; }
		case ,$FAULTS, in *,tamper-*) TAMPER=1 ;; esac
		lab_cmd_start_pair || exit 1
	fi
	lab_cmd_load
	[ -n "$own" ] || LAB_CMD_UNDO=1
	lab_campaign
	local rc=$?
	LAB_CMD_UNDO=''
	echo "campaign seed $SEED: $CAMP_OUT/summary.json"
	[ -z "$own" ] || { LAB_CMD_DOWN=''; lab_cmd_teardown; }
	return "$rc"
}
