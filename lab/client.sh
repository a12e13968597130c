# SPDX-License-Identifier: LGPL-2.1-or-later
# The client of understudy-lab and what it saw (sourced after lab.sh): on
# host hC either the built-in counter client (reqclient, model counter) or
# a user's checker script (LAB_CHECKER_SCRIPT; README "Writing your own
# checker": its first line is "model counter|register|log", then one line
# per acknowledged reply), each line stamped with the wall-clock ms it
# arrived at. A client whose connection broke is started again on a new
# connection (its history goes on in the next file). And two frame captures
# on the LAN bridge, one per host's port, of the frames the guest's MAC
# sends: the dual-active check reads them.

LAB_CLIENT_DIR() { echo "$LAB_DIR/client"; }

# lab_stamp LOG MODELFILE: copy the script's lines to LOG, each prefixed with
# the wall-clock ms; its first line, the model, goes to MODELFILE.
lab_stamp() {
	local line t
	IFS= read -r line
	case $line in
	"model counter" | "model register" | "model log") echo "${line#model }" > "$2" ;;
	*) echo "understudy-lab: the checker script's first line must be 'model counter'," \
		"'model register' or 'model log', not '$line': see README, Writing your own checker" >&2
	   return 1 ;;
	esac
	while IFS= read -r line; do
		t=${EPOCHREALTIME/./}
		echo "$(( t / 1000 )) $line"
	done > "$1"
}

# lab_client_start: start the client (again); its pid in client/pid.
lab_client_start() {
	local d n
	d=$(LAB_CLIENT_DIR)
	mkdir -p "$d"
	n=$(( $(cat "$d/n" 2>/dev/null || echo 0) + 1 ))
	echo "$n" > "$d/n"
	if [ -z "${LAB_CHECKER_SCRIPT:-}" ]; then
		echo counter > "$d/model"
		ip netns exec "$(lab_ns hC)" "$LAB_TOOLS/reqclient" "$LAB_GUEST_IP" "$LAB_PORT" 8640000 \
			"$d/$n.log" wall 2> "$d/$n.err" &
	else
		( ip netns exec "$(lab_ns hC)" env GUEST_IP="$LAB_GUEST_IP" GUEST_PORT="$LAB_PORT" \
			"$LAB_CHECKER_SCRIPT" 2> "$d/$n.err" | lab_stamp "$d/$n.log" "$d/model" 2>> "$d/$n.err" ) &
	fi
	echo $! > "$d/pid"
	disown $!
}

# lab_client_stop: end the client (its connection with it).
lab_client_stop() {
	local pid
	pid=$(cat "$(LAB_CLIENT_DIR)/pid" 2>/dev/null)
	[ -n "$pid" ] || return 0
	kill -TERM $(ps -o pid= --ppid "$pid" 2>/dev/null) "$pid" 2>/dev/null
	lab_wait 10 eval '! kill -0 "$pid" 2>/dev/null'
}

lab_client_alive() { kill -0 "$(cat "$(LAB_CLIENT_DIR)/pid" 2>/dev/null)" 2>/dev/null; }
lab_client_error() { local d; d=$(LAB_CLIENT_DIR); tail -n 3 "$d/$(cat "$d/n")".err 2>/dev/null | tr '\n' ' '; }
lab_client_model() { cat "$(LAB_CLIENT_DIR)/model" 2>/dev/null || echo counter; }

# lab_history: every acknowledged reply so far, "MS VALUE...", in order.
lab_history() {
	local d i n
	d=$(LAB_CLIENT_DIR)
	n=$(cat "$d/n" 2>/dev/null || echo 0)
	for (( i = 1; i <= n; i++ )); do
		if [ -z "${LAB_CHECKER_SCRIPT:-}" ]; then
			cut -d' ' -f1,2 "$d/$i.log" 2>/dev/null
		else
			cat "$d/$i.log" 2>/dev/null
		fi
	done
}

# lab_history_grows N K: the history has at least N + K replies.
lab_history_grows() { [ "$(lab_history | wc -l)" -ge $(( $1 + $2 )) ]; }

# lab_frames_start: the two captures, once they listen.
lab_frames_start() {
	local h
	for h in hA hB; do
		ip netns exec "$(lab_ns lan)" "$LAB_TOOLS/framecap" -c 2000000000 -t 8640000 "$LAB_PFX$h" \
			all "$(lab_guest_mac)" > "$LAB_DIR/frames.$h" 2> "$LAB_DIR/frames.$h.err" &
		disown $!
		lab_wait 10 grep -s -q listening "$LAB_DIR/frames.$h.err" ||
			{ lab_log "framecap on $h's LAN port did not start: $(cat "$LAB_DIR/frames.$h.err")"; return 1; }
	done
}

# lab_frames: "MS HOST" of every frame from the guest's MAC, in time order.
lab_frames() {
	{ awk '{ print $1, "hA" }' "$LAB_DIR/frames.hA" 2>/dev/null
	  awk '{ print $1, "hB" }' "$LAB_DIR/frames.hB" 2>/dev/null; } | sort -s -n -k1,1
}
