# SPDX-License-Identifier: LGPL-2.1-or-later
# A real two-node Pacemaker cluster in the lab (sourced after tests/lib/lab.sh
# with LAB_NIC, LAB_DISK, ... set as for any lab test). Nodes hA and hB are the
# lab's hosts: each runs, in its own network, mount and UTS namespaces
# (tests/lib/pcmk_node.sh), its own corosync (knet over the replication link
# and the LAN) and pacemakerd, started here, not by systemd. The VM is the
# promotable clone "vm-clone" of ocf:understudy:understudy (promoted-max=1,
# clone-max=2, notify=true), fenced by fence_understudy_lab with
# stonith-enabled=true and priority-fencing-delay, so that in a partition the
# node running the VM survives.
#
# Usage:  . tests/lib/lab.sh; . tests/lib/pcmk.sh; trap pcmk_down EXIT
#         lab_up; pcmk_up; pcmk_configure; ...
# Needs:  pacemaker, pacemaker-cli-utils, resource-agents (tests' deps.sh)

PCMK_NODES="hA hB"
# the lab's VM under Pacemaker: a NIC, the ledger on a replicated disk
: "${LAB_NIC:=1}" "${LAB_DISK:=64M}" "${LAB_PEER_TIMEOUT_MS:=3000}"
: "${LAB_APPEND:=us.run=ledger us.disk=/dev/vda}"
PCMK_RSC=vm
PCMK_AGENTS=$LAB_DIR/agents
LAB_PROMOTE=pacemaker
LAB_FENCE_COMMAND=""

pcmk_holder() { cat "$LAB_DIR/$1/pcmk.holder" 2>/dev/null; }

# pcmk_exec H CMD...: run CMD on node H (its network, mount and UTS namespaces).
pcmk_exec() {
	local h=$1 pid
	shift
	pid=$(pcmk_holder "$h")
	[ -n "$pid" ] || { lab_log "node $h is not up"; return 1; }
	nsenter -t "$pid" -m -u -n -- "$@"
}

pcmk_log() { echo "$LAB_DIR/$1/pcmk/log/pacemaker.log"; }
pcmk_vm_log() { echo "$LAB_DIR/$1/pcmk/log/understudy.log"; }

pcmk_cs_conf() {
	cat <<CONF
totem {
	version: 2
	cluster_name: pcmk$LAB_ID
	transport: knet
	crypto_cipher: none
	crypto_hash: none
	token: ${CS_TOKEN:-1000}
	interface {
		linknumber: 0
		knet_transport: udp
	}
	interface {
		linknumber: 1
		knet_transport: udp
	}
}
nodelist {
	node {
		ring0_addr: $(lab_ip hA)
		ring1_addr: $(lab_lan_ip hA)
		name: hA
		nodeid: 1
	}
	node {
		ring0_addr: $(lab_ip hB)
		ring1_addr: $(lab_lan_ip hB)
		name: hB
		nodeid: 2
	}
}
quorum {
	provider: corosync_votequorum
	two_node: 1
}
logging {
	to_logfile: yes
	logfile: /var/log/pacemaker/corosync.log
	to_syslog: no
	to_stderr: no
	timestamp: on
}
CONF
}

# The agents the nodes see: ours, overlaid on the system's directories.
pcmk_agents() {
	mkdir -p "$PCMK_AGENTS/ocf/understudy" "$PCMK_AGENTS/sbin"
	cp "$top_srcdir/failover/ocf/understudy" "$PCMK_AGENTS/ocf/understudy/understudy"
	cp "$LAB_LIB/fence_understudy_lab" "$PCMK_AGENTS/sbin/fence_understudy_lab"
	chmod 755 "$PCMK_AGENTS/ocf/understudy/understudy" "$PCMK_AGENTS/sbin/fence_understudy_lab"
}

# pcmk_node_up H: power node H on: its namespaces, corosync, pacemakerd.
pcmk_node_up() {
	local h=$1 d=$LAB_DIR/$1/pcmk i
	command -v pacemakerd >/dev/null ||
		{ lab_log "pacemakerd not found: apt-get install pacemaker pacemaker-cli-utils resource-agents"; return 1; }
	[ -d "$PCMK_AGENTS" ] || pcmk_agents
	mkdir -p "$d/etc"
	pcmk_cs_conf > "$d/etc/corosync.conf"
	lab_disk_make "$h" || return 1
	lab_config "$h" "$d/etc/understudy.conf"
	rm -f "$d/holder.pid"
	( ip netns exec "$(lab_ns "$h")" unshare -m -u --propagation private \
		"$LAB_LIB/pcmk_node.sh" "$h" "$d" "$PCMK_AGENTS" "$LAB_PFX-$h"
	  echo "node $h: its holder exited (status $?)" ) >> "$LAB_DIR/$h/pcmk.node.log" 2>&1 &
	disown $!
	for i in $(seq 600); do
		[ -s "$d/holder.pid" ] && break
		sleep 0.1
	done
	[ -s "$d/holder.pid" ] || { lab_log "node $h did not come up: $(cat "$LAB_DIR/$h/pcmk.node.log")"; return 1; }
	cp "$d/holder.pid" "$LAB_DIR/$h/pcmk.holder"
	readlink "/proc/$(pcmk_holder "$h")/ns/net" > "$LAB_DIR/$h/netns.id"
	pcmk_exec "$h" sh -c 'corosync -f >/var/log/pacemaker/corosync.out 2>&1 &'
	pcmk_exec "$h" env PCMK_logfile=/var/log/pacemaker/pacemaker.log PCMK_debug=no \
		sh -c 'pacemakerd -f >/var/log/pacemaker/pacemakerd.out 2>&1 &'
}

# pcmk_up: both nodes on; wait until each sees both online with a DC.
pcmk_up() {
	local h
	for h in $PCMK_NODES; do pcmk_node_up "$h" || return 1; done
	lab_wait 120 pcmk_online hA 2 && lab_wait 60 pcmk_online hB 2 ||
		{ lab_log "the cluster did not form: $(pcmk_exec hA crm_mon -1 2>&1 | tail -5)"; return 1; }
}

# pcmk_online H N: node H's view has N nodes online and a DC.
pcmk_online() {
	local out
	out=$(pcmk_exec "$1" crm_mon -1 2>/dev/null) || return 1
	printf '%s\n' "$out" | grep -q "Current DC: h[AB]" || return 1
	[ "$(printf '%s\n' "$out" | sed -n 's/.*Online: \[ \(.*\) \]/\1/p' | wc -w)" -ge "$2" ]
}

# pcmk_configure: properties, the stonith device and the promotable clone.
pcmk_configure() {
	local h=${1:-hA}
	pcmk_exec "$h" crm_attribute -t crm_config -n stonith-enabled -v true -q &&
	pcmk_exec "$h" crm_attribute -t crm_config -n priority-fencing-delay -v 5s -q &&
	pcmk_exec "$h" crm_attribute -t crm_config -n stonith-timeout -v 30s -q &&
	pcmk_exec "$h" crm_attribute -t crm_config -n cluster-recheck-interval -v 30s -q &&
	pcmk_exec "$h" cibadmin -C -o resources -X "<primitive id=\"lab-fence\" class=\"stonith\" type=\"fence_understudy_lab\">
  <instance_attributes id=\"lab-fence-ia\">
    <nvpair id=\"lab-fence-dir\" name=\"lab_dir\" value=\"$LAB_DIR\"/>
    <nvpair id=\"lab-fence-hosts\" name=\"pcmk_host_list\" value=\"hA hB\"/>
  </instance_attributes>
  <operations><op id=\"lab-fence-mon\" name=\"monitor\" interval=\"60s\"/></operations>
</primitive>" &&
	pcmk_exec "$h" cibadmin -C -o resources -X "<clone id=\"vm-clone\">
  <meta_attributes id=\"vm-clone-meta\">
    <nvpair id=\"vm-clone-promotable\" name=\"promotable\" value=\"true\"/>
    <nvpair id=\"vm-clone-pmax\" name=\"promoted-max\" value=\"1\"/>
    <nvpair id=\"vm-clone-cmax\" name=\"clone-max\" value=\"2\"/>
    <nvpair id=\"vm-clone-notify\" name=\"notify\" value=\"true\"/>
    <nvpair id=\"vm-clone-prio\" name=\"priority\" value=\"10\"/>
  </meta_attributes>
  <primitive id=\"$PCMK_RSC\" class=\"ocf\" provider=\"understudy\" type=\"understudy\">
    <instance_attributes id=\"vm-ia\">
      <nvpair id=\"vm-config\" name=\"config\" value=\"/etc/corosync/understudy.conf\"/>
      <nvpair id=\"vm-binary\" name=\"binary\" value=\"$US_BIN\"/>
      <nvpair id=\"vm-pref\" name=\"preferred_node\" value=\"${PCMK_PREFERRED:-hA}\"/>
      <nvpair id=\"vm-log\" name=\"logfile\" value=\"/var/log/pacemaker/understudy.log\"/>
    </instance_attributes>
    <operations>
      <op id=\"vm-start\" name=\"start\" timeout=\"120s\" interval=\"0\"/>
      <op id=\"vm-stop\" name=\"stop\" timeout=\"60s\" interval=\"0\"/>
      <op id=\"vm-promote\" name=\"promote\" timeout=\"120s\" interval=\"0\"/>
      <op id=\"vm-demote\" name=\"demote\" timeout=\"60s\" interval=\"0\"/>
      <op id=\"vm-notify\" name=\"notify\" timeout=\"30s\" interval=\"0\"/>
      <op id=\"vm-mon-p\" name=\"monitor\" interval=\"3s\" role=\"Promoted\" timeout=\"20s\"/>
      <op id=\"vm-mon-u\" name=\"monitor\" interval=\"4s\" role=\"Unpromoted\" timeout=\"20s\"/>
    </operations>
  </primitive>
</clone>"
}

# pcmk_role_on ROLE: the node with the VM's instance in ROLE (Promoted or
# Unpromoted) as crm_mon shows it, "" if none.
pcmk_role_on() {
	local h out
	for h in $PCMK_NODES; do
		out=$(pcmk_exec "$h" crm_mon -1 2>/dev/null) || continue
		printf '%s\n' "$out" | sed -n "s/.* $1: \\[ \\(h[AB]\\) \\].*/\\1/p" | head -n1
		return 0
	done
}
pcmk_promoted_on() { pcmk_role_on Promoted; }
pcmk_unpromoted_on() { pcmk_role_on Unpromoted; }

pcmk_is_promoted() { [ "$(pcmk_promoted_on)" = "$1" ]; }
pcmk_is_unpromoted() { [ "$(pcmk_unpromoted_on)" = "$1" ]; }

# pcmk_pair_on P U: P promoted and protected, U unpromoted and in sync.
pcmk_pair_on() {
	pcmk_is_promoted "$1" && pcmk_is_unpromoted "$2" &&
		[ "$(lab_field "$1" state)" = protected ] && [ "$(lab_field "$2" promotable)" = true ]
}

# pcmk_pids H NAME: the pids of program NAME on node H only (PIDs are not
# namespaced here: `pidof` alone would also name another lab's, run by a
# test in parallel).
pcmk_pids() {
	local p id
	id=$(cat "$LAB_DIR/$1/netns.id" 2>/dev/null) || return 0
	for p in $(pidof "$2"); do
		[ "$(readlink "/proc/$p/ns/net" 2>/dev/null)" = "$id" ] && echo "$p"
	done
	return 0
}

# pcmk_stop H: stop node H's Pacemaker cleanly (its resources stop first);
# wait until pacemakerd is gone.
pcmk_stop() {
	local pids
	pids=$(pcmk_pids "$1" pacemakerd)
	[ -n "$pids" ] && kill -TERM $pids
	lab_wait 120 pcmk_stopped "$1"
}
pcmk_stopped() { [ -z "$(pcmk_pids "$1" pacemakerd)" ]; }

# pcmk_kill_node H: power node H off (every process of its namespace).
pcmk_kill_node() {
	lab_kill_host "$1"
	rm -f "$LAB_DIR/$1/pcmk.holder"
}

# pcmk_client LOG: the client on hC, one TCP connection to the guest.
pcmk_client() {
	ip netns exec "$(lab_ns hC)" "$top_builddir/tests/tools/reqclient" "$LAB_GUEST_IP" 7777 900 \
		"$1" 2> "$1.err" &
	LAB_CLIENT_PID=$!
}

# pcmk_down: every node off, then the lab (lab_down) goes.
pcmk_down() {
	local rc=$? h
	for h in $PCMK_NODES; do lab_kill_host "$h"; done
	(exit $rc)
	lab_down
}

# The daemons' control channel is libqb IPC, whose buffers live in /dev/shm:
# a client must share the node's private /dev/shm, so it runs on the node.
lab_ctl() { local h=$1; shift; pcmk_exec "$h" "$US_BIN" "$@" --vm "$LAB_VM"; }
