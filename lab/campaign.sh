# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault campaigns of understudy-lab (sourced after lab.sh, faults.sh and
# client.sh). The schedule (which fault in which round, after how long, held
# how long) comes from the seed alone and is written before the first
# round, so a campaign replayed with its seed meets the same faults at the
# same moments. A round: wait DELAY, inject, hold, heal, wait until the pair
# is protected and the client answered again; then the round's window of
# the client's history goes through the checker (lab/check.awk) and the
# LAN frames through the dual-active check (lab/dual.awk). Results: one
# JSON object per round in rounds.jsonl, summary.json, gaps.png, and the
# logs of every failed round under failed/round-N/.

# lab_schedule SEED FAULTS ROUNDS: "ROUND FAULT DELAY_MS HOLD_MS" lines; each
# block of as many rounds as there are faults is a shuffle of all of them.
lab_schedule() {
	local seed=$1 rounds=$3 r=0 i j tmp
	local -a all block
	read -r -a all <<< "${2//,/ }"
	RANDOM=$seed
	while [ "$r" -lt "$rounds" ]; do
		block=("${all[@]}")
		for (( i = ${#block[@]} - 1; i > 0; i-- )); do
			j=$(( RANDOM % (i + 1) ))
			tmp=${block[i]}; block[i]=${block[j]}; block[j]=$tmp
		done
		for i in "${block[@]}"; do
			[ "$r" -lt "$rounds" ] || break
			r=$(( r + 1 ))
			echo "$r $i $(( 500 + RANDOM % 2500 )) $(( 1000 + RANDOM % 2000 ))"
		done
	done
}

lab_now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# lab_window_violations FROM TO: the checker's and the dual-active check's
# violations with a time stamp in [FROM, TO].
lab_window_violations() {
	{
		lab_history | awk -v model="$(lab_client_model)" -f "$LAB_HOME/check.awk"
		lab_frames | awk -v from="$1" -f "$LAB_HOME/dual.awk"
	} | awk -v a="$1" -v b="$2" '$1 == "violation" && $2 >= a && $2 <= b'
}

# lab_window_stall FROM TO: the longest gap between replies that ended in
# [FROM, TO], or the one still open at TO, in ms (the client's view of the
# fault: its failover time).
lab_window_stall() {
	lab_history | awk -v a="$1" -v b="$2" \
		'NR > 1 && $1 >= a && $1 <= b && $1 - p > m { m = $1 - p } $1 <= b { p = $1 }
		 END { if (p && b - (p > a ? p : a) > m) m = b - (p > a ? p : a); print m + 0 }'
}

# lab_round R FAULT DELAY HOLD: one round; appends its JSON to rounds.jsonl.
lab_round() {
	local r=$1 f=$2 delay=$3 hold=$4 t0 ti t1 why='' viol stall n before from to acted
	t0=$(lab_now_ms)
	# a round after a failed one starts from a protected pair, or not at all
	lab_protected || lab_heal 240 2> "$CAMP_OUT/round.err" ||
		why="the pair was not protected before the fault: $(tr '\n' ' ' < "$CAMP_OUT/round.err")"
	from=$(lab_primary)
	sleep_ms "$delay"
	ti=$(lab_now_ms)
	# the seed of the fault's own randomness (linkfault): the round's, from the campaign's
	[ -n "$why" ] || LAB_FAULT_SEED=$(( CAMP_SEED * 1000 + r )) lab_inject "$f" 2> "$CAMP_OUT/round.err" ||
		why="inject failed: $(tr '\n' ' ' < "$CAMP_OUT/round.err")"
	sleep_ms "$hold"
	if [ -z "$why" ]; then
		lab_heal 240 2> "$CAMP_OUT/round.err" || why="no recovery: $(tr '\n' ' ' < "$CAMP_OUT/round.err")"
	fi
	acted=$(cat "$LAB_DIR/fault.stats" 2>/dev/null)
	before=$(lab_history | wc -l)
	if [ -z "$why" ] && ! lab_wait 60 lab_history_grows "$before" 5; then
		# a connection stuck for good (its TCP saw data the surviving guest
		# never sent): a new connection shows what state the guest has
		why="the client got no reply after the heal (a new connection checks the state)"
		lab_client_stop
	elif ! lab_client_alive; then
		why="${why:+$why; }the client's connection broke: $(lab_client_error)"
	fi
	if ! lab_client_alive; then
		lab_client_start
		lab_wait 60 lab_history_grows "$before" 3
	fi
	t1=$(lab_now_ms)
	to=$(lab_primary)
	viol=$(lab_window_violations "$t0" "$t1")
	stall=$(lab_window_stall "$ti" "$t1")
	n=$(printf '%s' "$viol" | grep -c violation)
	[ "$n" = 0 ] || why="${why:+$why; }$n violations"
	lab_round_json "$r" "$f" "$delay" "$hold" "$ti" "$t1" "$stall" "${from:-?}" "${to:-?}" "$why" "$viol" \
		"$acted" >> "$CAMP_OUT/rounds.jsonl"
	echo "$ti $f" >> "$CAMP_OUT/faults.dat"
	printf 'round %d/%d %-18s %s (client stall %d ms, primary %s -> %s)\n' "$r" "$CAMP_ROUNDS" "$f" \
		"$([ -z "$why" ] && echo passed || echo "FAILED: $why")" "$stall" "${from:-?}" "${to:-?}" >&2
	[ -z "$why" ] || lab_keep_failed "$r" "$t0" "$t1" "$viol"
	[ -z "$why" ]
}

# lab_round_json R FAULT DELAY HOLD INJECT_MS END_MS STALL FROM TO WHY VIOLATIONS
# ACTED (the fault tools' counters: "HOST TOOL mechanism ... NAME N ..." lines)
lab_round_json() {
	jq -c -n --argjson round "$1" --arg fault "$2" --argjson delay_ms "$3" --argjson hold_ms "$4" \
		--argjson inject_ms "$5" --argjson end_ms "$6" --argjson failover_ms "$7" \
		--arg primary_before "$8" --arg primary_after "$9" --arg why "${10}" --arg viol "${11}" --arg acted "${12}" \
		'{round: $round, fault: $fault, delay_ms: $delay_ms, hold_ms: $hold_ms,
		  inject_ms: $inject_ms, end_ms: $end_ms, failover_ms: $failover_ms,
		  primary_before: $primary_before, primary_after: $primary_after,
		  passed: ($why == ""), why: $why,
		  violations: ($viol | split("\n") | map(select(length > 0))),
		  acted: ($acted | split("\n") | map(select(length > 0)))}'
}

# lab_keep_failed R FROM TO VIOLATIONS: the logs of a failed round.
lab_keep_failed() {
	local d=$CAMP_OUT/failed/round-$1 f
	mkdir -p "$d"
	for f in "$LAB_DIR"/*.log "$LAB_DIR"/*.conf; do
		[ -f "$f" ] && cp "$f" "$d/"
	done
	for f in hA hB; do
		[ -f "$LAB_DIR/$f/corosync.log" ] && cp "$LAB_DIR/$f/corosync.log" "$d/$f-corosync.log"
		[ -f "$LAB_DIR/$f/$LAB_VM.serial" ] && cp "$LAB_DIR/$f/$LAB_VM.serial" "$d/$f.serial"
	done
	lab_history | awk -v a="$2" -v b="$3" '$1 >= a && $1 <= b' > "$d/history"
	printf '%s\n' "$4" > "$d/violations"
}

# lab_baseline: the client's gaps between replies before the first fault
# (the same run's baseline), as JSON {p50, p99, max}.
lab_baseline() {
	local first
	first=$(head -1 "$CAMP_OUT/faults.dat" | cut -d' ' -f1)
	lab_history | awk -v end="${first:-0}" 'NR > 1 && $1 < end { print $1 - p } { p = $1 }' |
		jq -s 'sort | if length == 0 then {} else {p50: .[((length * 0.5 | ceil) - 1)],
			p99: .[((length * 0.99 | ceil) - 1)], max: max} end'
}

# lab_summary: summary.json from rounds.jsonl (per fault: rounds, passed,
# failover p50/p99/max; the baseline), printed as a table too.
lab_summary() {
	jq -s --argjson seed "$CAMP_SEED" --arg faults "$CAMP_FAULTS" --arg checker "$(lab_client_model)" \
		--argjson baseline "$(lab_baseline)" '
		def pct(p): sort | .[((length * p | ceil) - 1)]; # nearest rank: p99 of 2 is the larger
		{seed: $seed, faults: ($faults | split(",")), checker: $checker,
		 baseline_gap_ms: $baseline,
		 rounds: length, passed: map(select(.passed)) | length,
		 failed: map(select(.passed | not)) | length,
		 violations: (map(.violations[]) | group_by(split(" ")[2]) |
			map({key: .[0] | split(" ")[2], value: length}) | from_entries),
		 per_fault: (group_by(.fault) | map({key: .[0].fault, value: {
			rounds: length, passed: map(select(.passed)) | length,
			failover_ms: (map(.failover_ms) | {p50: pct(0.5), p99: pct(0.99), max: max})}}) | from_entries)}
	' "$CAMP_OUT/rounds.jsonl" > "$CAMP_OUT/summary.json"
	# the padding is printf's: jq 1.6 (Debian 12) repeats strings ("  " * n)
	# through freed memory (jq issues 2115, 2117), which crashed the table
	# after its header
	printf '%-20s %6s %6s %7s %7s %7s\n' fault rounds passed 'p50 ms' 'p99 ms' 'max ms'
	jq -r '.per_fault | to_entries[] | [.key, .value.rounds, .value.passed, .value.failover_ms.p50,
		.value.failover_ms.p99, .value.failover_ms.max] | @tsv' "$CAMP_OUT/summary.json" |
		awk -F '\t' '{ printf "%-20s %6s %6s %7s %7s %7s\n", $1, $2, $3, $4, $5, $6 }'
	jq -r '"baseline (no fault, before round 1): gap between replies p50 \(.baseline_gap_ms.p50) ms, p99 \(.baseline_gap_ms.p99) ms, max \(.baseline_gap_ms.max) ms",
		"rounds \(.rounds): \(.passed) passed, \(.failed) failed; violations: \(.violations)"' \
		"$CAMP_OUT/summary.json"
}

# lab_plot: gaps.png, the client's gap before each reply over the campaign's
# time with every fault marked (needs gnuplot; skipped with a note without).
lab_plot() {
	local t0
	command -v gnuplot >/dev/null || { lab_log "no gnuplot: no plot (apt-get install gnuplot-nox)"; return 0; }
	t0=$(lab_history | head -1 | cut -d' ' -f1)
	[ -n "$t0" ] || return 0
	lab_history | awk -v t0="$t0" 'NR > 1 { print ($1 - t0) / 1000, $1 - p } { p = $1 }' > "$CAMP_OUT/gaps.dat"
	awk -v t0="$t0" '{ printf "set arrow from %.3f, graph 0 to %.3f, graph 1 nohead lc rgb \"red\" dt 2\n", ($1 - t0) / 1000, ($1 - t0) / 1000;
		printf "set label \"%s\" at %.3f, graph 0.98 rotate by 90 right font \",7\" tc rgb \"red\"\n", $2, ($1 - t0) / 1000 }' \
		"$CAMP_OUT/faults.dat" > "$CAMP_OUT/faults.gp"
	gnuplot -e "set terminal png size 1400,500; set output '$CAMP_OUT/gaps.png';
		set title 'understudy-lab campaign, seed $CAMP_SEED: gap before each reply (faults in red)';
		set xlabel 'seconds'; set ylabel 'gap (ms)'; set logscale y; set key off;
		load '$CAMP_OUT/faults.gp';
		plot '$CAMP_OUT/gaps.dat' using 1:2 with impulses lc rgb 'blue'" 2> "$CAMP_OUT/gnuplot.err" ||
		lab_log "gnuplot failed: $(head -3 "$CAMP_OUT/gnuplot.err")"
}

# lab_campaign: run the rounds of $CAMP_OUT/schedule; 0 when all passed.
lab_campaign() {
	local r f d h bad=0
	: > "$CAMP_OUT/rounds.jsonl"
	: > "$CAMP_OUT/faults.dat"
	while read -r -u 3 r f d h; do
		lab_round "$r" "$f" "$d" "$h" || bad=$(( bad + 1 ))
	done 3< "$CAMP_OUT/schedule"
	lab_history > "$CAMP_OUT/history"
	lab_frames > "$CAMP_OUT/frames"
	lab_summary
	lab_plot
	[ "$bad" = 0 ]
}
