# SPDX-License-Identifier: LGPL-2.1-or-later
# The hostile-network part of the lab (sourced after lab.sh): the tampering
# proxy (tests/tools/tamperproxy) runs in hB's namespace on the replication
# link, listening on hB's replication address port 7301 and passing on to
# the standby's 7300; hA's primary is configured with that port as its peer,
# so every byte between the daemons crosses the proxy. Both daemons have the
# same key (`understudy keygen`), promote = manual (a lost stream never
# promotes the standby behind the test's back) and a grace of
# TAMPER_GRACE_MS before the primary degrades, then seeks its standby again.
#
# Usage: tamper_up; tamper_pair LOG; E=$(tamper_snapshot); tamper CMD...;
#        tamper_replica_same E; tamper_reprotected
# The proxy's log is $LAB_DIR/tamper.log (a failing test prints its end).

TAMPER_BIN=$top_builddir/tests/tools/tamperproxy
TAMPER_CTL=$LAB_DIR/tamper.ctl
TAMPER_LOG=$LAB_DIR/tamper.log
TAMPER_PORT=7301
TAMPER_GRACE_MS=${TAMPER_GRACE_MS:-3000}
TAMPER_KEY=$LAB_DIR/key
LAB_PROMOTE=manual

# tamper_up: the key, and the proxy in hB's namespace.
tamper_up() {
	[ -x "$TAMPER_BIN" ] || { lab_log "$TAMPER_BIN not built"; return 1; }
	"$US_BIN" keygen "$TAMPER_KEY" >/dev/null || return 1
	ip netns exec "$(lab_ns hB)" "$TAMPER_BIN" --listen "$(lab_ip hB):$TAMPER_PORT" \
		--connect "$(lab_ip hB):7300" --ctl "$TAMPER_CTL" 2> "$TAMPER_LOG" &
	echo $! > "$LAB_DIR/tamper.pid"
	disown $!
	lab_wait 10 test -S "$TAMPER_CTL" || { lab_log "tamperproxy did not start: $(cat "$TAMPER_LOG")"; return 1; }
}

# tamper_down: stop the proxy cleanly (SIGTERM); lab_down removes the rest.
tamper_down() {
	local pid
	pid=$(cat "$LAB_DIR/tamper.pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null
	lab_wait 5 sh -c "! kill -0 $pid 2>/dev/null"
}

# tamper CMD...: one control command; prints the answer, fails on "err".
tamper() { "$TAMPER_BIN" --ctl "$TAMPER_CTL" -c "$*"; }

# tamper_stat KEY: one counter of the proxy's stats.
tamper_stat() { tamper stats | tr ' ' '\n' | sed -n "s/^$1=//p"; }
tamper_recorded() { [ "$(tamper_stat recorded_epoch)" != -1 ]; }

# tamper_start H ROLE [KEYFILE|none]: the daemon of host H with the key (or
# KEYFILE, or none), the primary's peer being the proxy.
tamper_start() {
	local h=$1 role=$2 key=${3:-$TAMPER_KEY} extra=()
	# tls = off: the proxy reads the messages and their tags, the layer that
	# also guards RDMA (tls.sh covers TLS, which the proxy could only break)
	[ "$key" = none ] || extra+=("[replication]" "key_file = $key" "tls = off")
	[ "$h" = hA ] && extra+=("[replication]" "peer = $(lab_ip hB):$TAMPER_PORT")
	extra+=("[net]" "degraded_grace_ms = $TAMPER_GRACE_MS")
	lab_config "$h" "$LAB_DIR/$h.conf" "${extra[@]}"
	ip netns exec "$(lab_ns "$h")" "$US_BIN" "$role" -c "$LAB_DIR/$h.conf" \
		>> "$LAB_DIR/$h.log" 2>&1 &
	echo $! > "$LAB_DIR/$h.pid"
	disown $!
}

# tamper_pair LOG: the keyed pair through the proxy, a client on hC logging
# its replies to LOG (pid in LAB_CLIENT_PID), 20 replies seen.
tamper_pair() { lab_protected_pair "$1" tamper_start; }

tamper_replica() { echo "$(lab_shm hB)/understudy-$LAB_VM.replica"; }
tamper_committed_is() { [ "$(lab_field hB committed)" = "$1" ]; }

# tamper_snapshot: pause the primary at an acknowledged epoch E, wait for
# the standby to commit E, check the replica is the primary's RAM and keep a
# copy of it ($LAB_DIR/replica.E); prints E. The guest stays paused.
tamper_snapshot() {
	local e
	e=$(lab_ctl hA pause --json | grep -o '"epoch":[0-9]*' | cut -d: -f2)
	[ -n "$e" ] || { lab_log "pause failed: $(tail -2 "$LAB_DIR/hA.log")"; return 1; }
	lab_wait 20 tamper_committed_is "$e" || { lab_log "the standby never committed $e"; return 1; }
	cmp "$(lab_shm hA)/understudy-$LAB_VM.ram" "$(tamper_replica)" >&2 ||
		{ lab_log "the replica is not the primary's RAM at epoch $e"; return 1; }
	cp "$(tamper_replica)" "$LAB_DIR/replica.$e" || return 1
	echo "$e"
}

# tamper_replica_same E: the standby still holds epoch E, byte for byte.
tamper_replica_same() {
	[ "$(lab_field hB committed)" = "$1" ] ||
		{ lab_log "the standby committed $(lab_field hB committed), not $1"; return 1; }
	cmp "$LAB_DIR/replica.$1" "$(tamper_replica)" >&2 ||
		{ lab_log "the replica changed since epoch $1"; return 1; }
}

# tamper_reprotected: let the primary through again (pass) and wait until
# it is protected with epochs acknowledged past what it had.
tamper_reprotected() {
	local before
	before=$(lab_field hA acked)
	tamper pass >/dev/null || return 1
	lab_wait 120 lab_acked_at_least $(( ${before:--1} + 5 )) && lab_wait 30 tamper_protected
}
tamper_protected() { [ "$(lab_field hA state)" = protected ]; }

# tamper_mark: from here on tamper_logged looks only at new lines of the logs.
tamper_mark() {
	TAMPER_MARK_hA=$(cat "$LAB_DIR/hA.log" 2>/dev/null | wc -l)
	TAMPER_MARK_hB=$(cat "$LAB_DIR/hB.log" 2>/dev/null | wc -l)
}
tamper_since_mark() { local m=TAMPER_MARK_$1; tail -n +$(( ${!m:-0} + 1 )) "$LAB_DIR/$1.log"; }
tamper_grep() { tamper_since_mark "$1" | grep -a -q -E "$2"; }

# tamper_logged H REGEX [SECONDS]: host H's daemon logs a line matching REGEX
# after the mark, within SECONDS (30).
tamper_logged() { lab_wait "${3:-30}" tamper_grep "$1" "$2"; }
