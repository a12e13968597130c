# SPDX-License-Identifier: LGPL-2.1-or-later
# Loss, delay, duplication and reordering on the replication link (sourced
# by understudy-lab after lab.sh): tc netem on both ends where the kernel
# has sch_netem; else tests/tools/linkfault, which gives verdicts to the
# packets an iptables NFQUEUE rule (--queue-bypass: a dead linkfault passes
# everything) hands it, in each host's namespace. Loss, delay and reorder
# are applied as packets arrive (INPUT): a packet held on OUTPUT stays
# charged to its TCP socket, whose small-queue limit then lets out two
# packets per delay (3 MB over a 40 ms delay: 31.7 s on OUTPUT, 0.63 s on
# INPUT). A duplicate is sent on OUTPUT through a raw socket with
# LAB_LF_MARK, which the rule skips. LAB_FAULT_SEED seeds linkfault, so a
# campaign's faults replay. Its counters go to the lab's fault.stats.

LAB_LF_QUEUE=73
LAB_LF_MARK=0x7573

# lab_netem_ok: this kernel has tc netem (sch_netem), tried in a namespace
# of its own; LAB_NO_NETEM=1 says no (the fallback tried where netem exists).
lab_netem_ok() { [ -z "${LAB_NO_NETEM:-}" ] && unshare -n sh -c 'ip link set lo up && tc qdisc add dev lo root netem delay 1ms' 2>/dev/null; }

# lab_linkfault_ok: the fallback can run here (iptables, linkfault).
lab_linkfault_ok() { command -v iptables >/dev/null && [ -x "$LAB_TOOLS/linkfault" ]; }

lab_netem() { lab_exec hA tc qdisc replace dev "${LAB_PFX}a" root netem "$@" &&
	lab_exec hB tc qdisc replace dev "${LAB_PFX}b" root netem "$@"; }

# lab_link_fault FAULT: FAULT (loss, delay, duplicate, reorder) on the link.
lab_link_fault() {
	local nargs lfargs
	case $1 in
	loss) nargs='loss 5%' lfargs='--loss 5' ;;
	delay) nargs='delay 40ms 20ms' lfargs='--delay 40 --jitter 20' ;;
	duplicate) nargs='duplicate 10%' lfargs='--duplicate 10' ;;
	reorder) nargs='delay 20ms reorder 75% 50%' lfargs='--delay 20 --reorder 75' ;;
	esac
	if lab_netem_ok; then
		lab_log "$1: tc netem $nargs on both ends of the replication link"
		# shellcheck disable=SC2086
		lab_netem $nargs
		return
	fi
	# shellcheck disable=SC2086
	lab_linkfault_start "$1" $lfargs
}

# lab_lf_if H: host H's end of the replication link.
lab_lf_if() { [ "$1" = hA ] && echo "${LAB_PFX}a" || echo "${LAB_PFX}b"; }

# lab_lf_rule H ACTION(-I/-D) FAULT: host H's NFQUEUE rule for FAULT.
lab_lf_rule() {
	local h=$1 a=$2 q="-j NFQUEUE --queue-num $LAB_LF_QUEUE --queue-bypass"
	# shellcheck disable=SC2086
	if [ "$3" = duplicate ]; then
		lab_exec "$h" iptables "$a" OUTPUT -o "$(lab_lf_if "$h")" -m mark ! --mark "$LAB_LF_MARK" $q
	else
		lab_exec "$h" iptables "$a" INPUT -i "$(lab_lf_if "$h")" $q
	fi
}

# lab_linkfault_start FAULT ARGS...: linkfault with ARGS on both hosts,
# then their rules.
lab_linkfault_start() {
	local f=$1 h d i=0 seed=${LAB_FAULT_SEED:-$RANDOM}; shift
	lab_linkfault_ok || { lab_log "$f: no sch_netem and no fallback (needs iptables and $LAB_TOOLS/linkfault)"; return 1; }
	lab_log "$f: no sch_netem here: linkfault through NFQUEUE on both hosts ($*, seed $seed)"
	for h in hA hB; do
		d=$LAB_DIR/$h
		rm -f "$d/linkfault.stats"
		ip netns exec "$(lab_ns "$h")" "$LAB_TOOLS/linkfault" --queue "$LAB_LF_QUEUE" --mark "$LAB_LF_MARK" \
			--seed $(( seed * 2 + i )) "$@" --stats "$d/linkfault.stats" \
			> "$d/linkfault.log" 2>&1 &
		echo $! > "$d/linkfault.pid"
		disown $!
		i=$(( i + 1 ))
		echo "$f" > "$d/linkfault.fault"
		lab_wait 10 test -s "$d/linkfault.stats" ||
			{ lab_log "linkfault on $h did not start: $(tail -n 3 "$d/linkfault.log")"; return 1; }
		lab_lf_rule "$h" -I "$f" ||
			{ lab_log "iptables on $h refused the NFQUEUE rule"; return 1; }
	done
}

# lab_linkfault_stop: rules out, linkfault gone (it lets out what it held
# and writes its counters), its counters in the lab's fault.stats.
lab_linkfault_stop() {
	local h d pid
	for h in hA hB; do
		d=$LAB_DIR/$h
		[ -f "$d/linkfault.fault" ] || continue
		lab_lf_rule "$h" -D "$(cat "$d/linkfault.fault")" 2>/dev/null
		pid=$(cat "$d/linkfault.pid" 2>/dev/null)
		[ -z "$pid" ] || { kill -TERM "$pid" 2>/dev/null; lab_wait 5 eval "! kill -0 $pid 2>/dev/null"; }
		echo "$h linkfault $(cat "$d/linkfault.stats" 2>/dev/null)" >> "$LAB_DIR/fault.stats"
		rm -f "$d/linkfault.fault" "$d/linkfault.pid"
	done
}
