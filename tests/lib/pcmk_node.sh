#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# One node of the Pacemaker lab (tests/lib/pcmk.sh), run by it inside the
# node's network namespace under `unshare -m -u`: names the node, gives it
# private /run, /dev/shm, /var/lib/pacemaker, /var/lib/corosync,
# /etc/corosync and /var/log/pacemaker (bind mounts of DIR's, so the CIB and
# the logs outlive a "power-off"), overlays the lab's agents onto
# /usr/lib/ocf/resource.d and /usr/sbin, then holds the namespaces (the lab
# enters them with nsenter). Nothing is mounted outside the namespace.
# When all is mounted it writes its pid to DIR/holder.pid (the lab waits
# for that file) and becomes `sleep infinity`, keeping that pid.
# Usage: pcmk_node.sh NODE DIR AGENTS_DIR SHM_SUBDIR
set -e
node=$1 dir=$2 agents=$3 shm=$4
hostname "$node"
mount --make-rprivate /
mkdir -p "$dir/lib/cib" "$dir/lib/pengine" "$dir/lib/blackbox" "$dir/lib/cores" \
	"$dir/etc" "$dir/log" "$dir/cs"
chown -R hacluster:haclient "$dir/lib" "$dir/log"
mount -t tmpfs -o mode=0755 none /run
mkdir -p /run/crm /run/resource-agents
chown hacluster:haclient /run/crm
mount -t tmpfs -o mode=1777 none /dev/shm
mkdir -p "/dev/shm/$shm"
mount --bind "$dir/lib" /var/lib/pacemaker
mount --bind "$dir/cs" /var/lib/corosync
mount --bind "$dir/etc" /etc/corosync
mount --bind "$dir/log" /var/log/pacemaker
mount -t overlay overlay -o "lowerdir=$agents/ocf:/usr/lib/ocf/resource.d" /usr/lib/ocf/resource.d
mount -t overlay overlay -o "lowerdir=$agents/sbin:/usr/sbin" /usr/sbin
echo $$ > "$dir/holder.pid"
exec sleep infinity
