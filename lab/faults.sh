# SPDX-License-Identifier: LGPL-2.1-or-later
# The faults of understudy-lab (sourced after lab.sh): one table, FAULT ->
# what it does; lab_inject applies one to the protected pair as it stands
# (the primary and the standby found from the daemons' status), lab_heal
# undoes every reversible fault at once and brings a host that was powered
# off or fenced back as a standby, then waits until the pair is protected
# again. A fault that powers a host off is healed by the survivor's
# takeover: heal only waits for it. The tampering proxy's faults go through
# lab_tamper, the one place that speaks its control protocol.

LAB_FAULTS="power-off-primary power-off-standby kill-daemon stop-standby
partition-repl partition-lan loss delay duplicate reorder corosync-restart
disk-full slow-disk tamper-flip tamper-replay tamper-inject tamper-forge-ack"

# lab_fault_help: one line per fault, for --help and `understudy-lab faults`.
lab_fault_help() {
	cat <<'TXT'
power-off-primary   SIGKILL every process of the primary's host (daemon, QEMU, corosync)
power-off-standby   the same on the standby's host
kill-daemon         SIGKILL the primary's daemon only; its QEMU and corosync live on
stop-standby        SIGSTOP the standby's daemon (heal: SIGCONT)
partition-repl      the replication link (which carries corosync) down on both ends
partition-lan       the primary's port on the LAN bridge down: the client is cut off
loss                5 % of the replication link's packets lost (tc netem; without
                    sch_netem: linkfault through iptables NFQUEUE, seeded)
delay               the same way: 40 ms +- 20 ms delay
duplicate           the same way: 10 % duplicated packets
reorder             the same way: 75 % of packets sent at once, the rest 20 ms late
corosync-restart    stop and start the primary's corosync
disk-full           the standby's image full: every write and fsync fails with ENOSPC
                    (slowfs, FUSE, under the image; needs: up --disk)
slow-disk           every write and fsync of the standby's image 50 ms late (slowfs;
                    needs: up --disk)
tamper-flip         tamperproxy: flip a byte in the next PAGES message (needs: run --tamper)
tamper-replay       tamperproxy: record the next epoch and replay it (needs: run --tamper)
tamper-inject       tamperproxy: inject a made-up PAGES message    (needs: run --tamper)
tamper-forge-ack    tamperproxy: forge an ACK towards the primary  (needs: run --tamper)
TXT
}

# lab_fault_known FAULT: FAULT is in the table.
lab_fault_known() { case " $(echo $LAB_FAULTS) " in *" $1 "*) return 0 ;; esac; return 1; }

# lab_primary / lab_standby: the host running the guest, and the other.
lab_primary() {
	local h
	for h in hA hB; do
		lab_runs_vm "$h" && { echo "$h"; return 0; }
	done
	return 1
}
lab_other() { [ "$1" = hA ] && echo hB || echo hA; }

# lab_faults_usable LIST: the faults of LIST (comma-separated) can run here;
# else says which cannot and why.
lab_faults_usable() {
	local f
	for f in ${1//,/ }; do
		case $f in
		loss | delay | duplicate | reorder)
			lab_netem_ok || lab_linkfault_ok || { lab_log "fault $f needs tc netem, which this kernel" \
				"lacks (modprobe sch_netem), or iptables and $LAB_TOOLS/linkfault; or leave $f out of" \
				"--faults"; return 1; } ;;
		disk-full | slow-disk)
			[ -n "${LAB_DISK:-}" ] || { lab_log "fault $f needs a replicated disk: up --disk SIZE" \
				"(and a guest that writes it, e.g. --append 'us.run=ledger us.disk=/dev/vda')"; return 1; } ;;
		tamper-*)
			[ -x "$LAB_TOOLS/tamperproxy" ] || { lab_log "fault $f needs $LAB_TOOLS/tamperproxy," \
				"which this build lacks; leave it out of --faults"; return 1; } ;;
		esac
	done
}

# lab_inject FAULT: apply FAULT; 0, or 1 with the reason on stderr.
lab_inject() {
	local f=$1 p s
	lab_fault_known "$f" || { lab_log "unknown fault '$f'; the faults: $(echo $LAB_FAULTS)"; return 1; }
	p=$(lab_primary) || { lab_log "no host runs the guest: start the pair with 'understudy-lab run'"; return 1; }
	s=$(lab_other "$p")
	echo "$f $p" >> "$LAB_DIR/faults.active"
	rm -f "$LAB_DIR/fault.stats"
	case $f in
	power-off-primary) lab_kill_host "$p" ;;
	power-off-standby) lab_kill_host "$s" ;;
	kill-daemon) kill -KILL "$(lab_daemon_pid "$p")" ;;
	stop-standby) kill -STOP "$(lab_daemon_pid "$s")" ;;
	partition-repl) lab_exec hA ip link set "${LAB_PFX}a" down && lab_exec hB ip link set "${LAB_PFX}b" down ;;
	partition-lan) ip netns exec "$(lab_ns lan)" ip link set "$LAB_PFX$p" down ;;
	loss | delay | duplicate | reorder) lab_link_fault "$f" ;;
	corosync-restart) cs_stop "$p" && cs_start "$p" ;;
	disk-full) lab_disk_full "$s" ;;
	slow-disk) lab_slow_disk "$s" ;;
	tamper-flip) lab_tamper "flip PAGES" ;;
	tamper-replay) lab_tamper_replay ;;
	tamper-inject) lab_tamper "inject PAGES" ;;
	tamper-forge-ack) lab_tamper "forge-ack" ;;
	esac
}

# The tampering proxy (tests/tools/tamperproxy, `run --tamper`): one per
# host, in its namespace, listening on LAB_TAMPER_PORT of the host's
# replication address and connecting to its standby's 7300 (lab_config);
# the primary connects to the other host's proxy. Its control socket is
# $LAB_DIR/H/tamper.sock, one text command a line, answered "ok ..." or
# "err ..." (flip TYPE, replay-epoch, inject TYPE, forge-ack, pass).

# lab_tamper_proxy H: start host H's proxy unless it runs.
lab_tamper_proxy() {
	local h=$1 sock=$LAB_DIR/$1/tamper.sock
	kill -0 "$(cat "$LAB_DIR/$h/tamper.pid" 2>/dev/null)" 2>/dev/null && return 0
	rm -f "$sock"
	ip netns exec "$(lab_ns "$h")" "$LAB_TOOLS/tamperproxy" --listen "$(lab_ip "$h"):$LAB_TAMPER_PORT" \
		--connect "$(lab_ip "$h"):7300" --ctl "$sock" > "$LAB_DIR/$h/tamper.log" 2>&1 &
	echo $! > "$LAB_DIR/$h/tamper.pid"
	disown $!
	lab_wait 10 test -S "$sock" ||
		{ lab_log "tamperproxy on $h did not start: $(tail -n 3 "$LAB_DIR/$h/tamper.log")"; return 1; }
}

# lab_tamper CMD: one command to the proxy in front of the standby, the
# one the primary's stream passes through; 0 on "ok", its answer in
# LAB_TAMPER_REPLY.
lab_tamper() {
	local p s sock
	p=$(lab_primary) || { lab_log "no host runs the guest"; return 1; }
	s=$(lab_other "$p")
	sock=$LAB_DIR/$s/tamper.sock
	[ -S "$sock" ] || { lab_log "no tampering proxy on $s: start the pair with 'understudy-lab run --tamper'"; return 1; }
	LAB_TAMPER_REPLY=$(echo "$1" | socat -t 5 - UNIX-CONNECT:"$sock" 2>&1)
	case $LAB_TAMPER_REPLY in
	ok*) return 0 ;;
	*) lab_log "tamperproxy on $s refused '$1': ${LAB_TAMPER_REPLY:-no answer}"; return 1 ;;
	esac
}

# lab_tamper_recorded: the proxy holds a whole epoch to replay ("record").
lab_tamper_recorded() { lab_tamper stats && [[ $LAB_TAMPER_REPLY != *recorded_epoch=-1* ]]; }

# lab_tamper_replay: record the next epoch, then send it again.
lab_tamper_replay() {
	lab_tamper record && lab_wait 20 lab_tamper_recorded ||
		{ lab_log "tamperproxy recorded no epoch in 20 s"; return 1; }
	lab_tamper replay-epoch
}

# lab_tamper_heal: every proxy passing everything again; after a tamper
# fault, its counters (flipped, injected, forged, replayed_epochs...) in
# the lab's fault.stats.
lab_tamper_heal() {
	local h sock reply
	for h in hA hB; do
		sock=$LAB_DIR/$h/tamper.sock
		[ -S "$sock" ] || continue
		if grep -q '^tamper-' "$LAB_DIR/faults.active" 2>/dev/null; then
			reply=$(echo stats | socat -t 5 - UNIX-CONNECT:"$sock" 2>&1)
			echo "$h tamperproxy ${reply#ok }" >> "$LAB_DIR/fault.stats"
		fi
		echo pass | socat -t 5 - UNIX-CONNECT:"$sock" > /dev/null 2>&1
	done
}

# lab_undo: undo every reversible fault (idempotent: links up, qdiscs gone,
# the standby continued, the proxy passing everything).
lab_undo() {
	local h pid
	lab_exec hA ip link set "${LAB_PFX}a" up 2>/dev/null
	lab_exec hB ip link set "${LAB_PFX}b" up 2>/dev/null
	lab_exec hA tc qdisc del dev "${LAB_PFX}a" root 2>/dev/null
	lab_exec hB tc qdisc del dev "${LAB_PFX}b" root 2>/dev/null
	lab_linkfault_stop
	lab_slow_heal
	for h in hA hB; do
		ip netns exec "$(lab_ns lan)" ip link set "$LAB_PFX$h" up 2>/dev/null
		pid=$(lab_daemon_pid "$h")
		[ -n "$pid" ] && kill -CONT "$pid" 2>/dev/null
		[ -z "${LAB_COROSYNC:-}" ] || lab_host_empty "$h" ||
			kill -0 "$(cs_pid "$h")" 2>/dev/null || cs_start "$h"
	done
	lab_tamper_heal
	rm -f "$LAB_DIR/faults.active"
	return 0
}

# lab_off H: host H runs no daemon and no QEMU: it is off, was fenced, or
# its daemon stopped by itself (a standby whose disk failed stops so).
lab_off() {
	lab_host_empty "$1" && return 0
	! kill -0 "$(lab_daemon_pid "$1")" 2>/dev/null && [ "$(lab_qemus "$1")" = 0 ]
}

# lab_settled: one host runs the guest and either the other is off and the
# primary has decided so (it seeks a standby: state unprotected or syncing;
# a standby started before that decision would be fenced by it), or the
# other is its standby and the pair is protected.
lab_settled() {
	local p s
	p=$(lab_primary) || return 1
	s=$(lab_other "$p")
	if lab_off "$s"; then
		case $(lab_field "$p" state) in unprotected | syncing) return 0 ;; esac
		return 1
	fi
	[ "$(lab_field "$s" role)" = standby ] && [ "$(lab_field "$p" state)" = protected ]
}

lab_protected() { local p; p=$(lab_primary) && [ "$(lab_field "$p" state)" = protected ]; }

# lab_heal [SECONDS]: undo the faults, wait for the pair to settle, start a
# standby on a host that was powered off or fenced, wait until protected.
lab_heal() {
	local secs=${1:-240} p s
	lab_undo
	lab_wait "$secs" lab_settled ||
		{ lab_log "no host took the guest over within $secs s"; return 1; }
	p=$(lab_primary)
	s=$(lab_other "$p")
	if lab_off "$s"; then
		lab_start "$s" standby || return 1
	fi
	lab_wait "$secs" lab_protected ||
		{ lab_log "$p never protected again within $secs s: state $(lab_field "$p" state)"; return 1; }
}
