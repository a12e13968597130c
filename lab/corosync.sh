# SPDX-License-Identifier: LGPL-2.1-or-later
# Real corosync 3 in the lab (sourced by lab/lab.sh): one corosync
# per host hA/hB (nodeid 1/2, named hA/hB), knet over UDP on the replication
# link (and with CS_LAN=1 a second, passive knet link over the LAN, on the
# address lab_lan_ip gives br0), two_node quorum, token 300 ms. Each runs in its host's network
# namespace and its own mount namespace with a private tmpfs on /run and
# /var/lib/corosync (the pid lock and the state dir are fixed paths); its
# IPC sockets are abstract, hence per network namespace, so clients must run
# in the same host (lab_exec). lab_down kills them with the host; cs_cleanup
# removes the libqb files they leave in /dev/shm.
#
# Usage:  . lab/lab.sh; lab_up; cs_start hA; ...; trap lab_down EXIT

CS_TOKEN=${CS_TOKEN:-300}
CS_PIDS=""

# cs_conf H: write host H's corosync.conf, print its path.
cs_conf() {
	local h=$1 f="$LAB_DIR/$1/corosync.conf"
	cat > "$f" <<CONF
totem {
	version: 2
	cluster_name: us$LAB_ID
	transport: knet
	crypto_cipher: none
	crypto_hash: none
	token: $CS_TOKEN
	interface {
		linknumber: 0
		knet_transport: udp
		knet_link_priority: 1
	}$([ -n "${CS_LAN:-}" ] && printf '\n\tinterface {\n\t\tlinknumber: 1\n\t\tknet_transport: udp\n\t\tknet_link_priority: 0\n\t}')
	link_mode: passive
}
nodelist {
	node {
		ring0_addr: $(lab_ip hA)$([ -n "${CS_LAN:-}" ] && printf '\n\t\tring1_addr: %s' "$(lab_lan_ip hA)")
		name: hA
		nodeid: 1
	}
	node {
		ring0_addr: $(lab_ip hB)$([ -n "${CS_LAN:-}" ] && printf '\n\t\tring1_addr: %s' "$(lab_lan_ip hB)")
		name: hB
		nodeid: 2
	}
}
quorum {
	provider: corosync_votequorum
	two_node: 1
}
logging {
	to_stderr: yes
	to_logfile: no
	to_syslog: no
	timestamp: on
}
CONF
	echo "$f"
}

# cs_start H: start host H's corosync in the background.
cs_start() {
	local h=$1 conf pid
	command -v corosync >/dev/null || { echo "lab: corosync not found: apt-get install corosync" >&2; return 1; }
	conf=$(cs_conf "$h")
	ip netns exec "$(lab_ns "$h")" unshare -m sh -c 'mount -t tmpfs none /run && mount -t tmpfs none /var/lib/corosync && exec corosync -f -c "$0"' "$conf" \
		>> "$LAB_DIR/$h/corosync.log" 2>&1 &
	pid=$!
	lab_record_pid "$pid"
	disown "$pid"	# no "Killed" job notice when the lab kills it
	echo "$pid" > "$LAB_DIR/$h/corosync.pid"
	CS_PIDS="$CS_PIDS $pid"
}

cs_pid() { cat "$LAB_DIR/$1/corosync.pid" 2>/dev/null; }

# cs_stop H: clean shutdown of host H's corosync (SIGTERM), wait for it.
cs_stop() { cs_signal "$1" TERM; }

# cs_kill H: SIGKILL host H's corosync only (the host's other processes live).
cs_kill() { cs_signal "$1" KILL; }

cs_signal() {
	local pid i
	pid=$(cs_pid "$1")
	[ -n "$pid" ] || return 0
	kill -"$2" "$pid" 2>/dev/null
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	rm -f "$LAB_DIR/$1/corosync.pid"
	cs_clean_shm "$pid"
}

# cs_members H: number of nodes host H's corosync sees ("" when unreachable).
cs_members() {
	lab_exec "$1" corosync-quorumtool -s 2>/dev/null | awk '/^Nodes:/ { print $2 }'
}

# cs_wait_members H N [SECONDS]: wait until host H's corosync sees N nodes.
cs_wait_members() {
	local h=$1 n=$2
	lab_wait "${3:-20}" cs_has_members "$h" "$n"
}
cs_has_members() { [ "$(cs_members "$1")" = "$2" ]; }

cs_clean_shm() {
	local pid=$1
	# libqb IPC keeps each connection in a directory qb-SERVERPID-CLIENTPID-*
	rm -rf /dev/shm/qb-corosync-"$pid"-* /dev/shm/qb-"$pid"-* 2>/dev/null
}

# cs_cleanup: remove every corosync this lab started (kill if still alive)
# and its files in /dev/shm. Safe to call twice.
cs_cleanup() {
	local pid
	for pid in $CS_PIDS; do
		kill -9 "$pid" 2>/dev/null
	done
	sleep 0.2
	for pid in $CS_PIDS; do
		cs_clean_shm "$pid"
	done
	CS_PIDS=""
}
