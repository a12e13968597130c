#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The lab's fence agent: "powers off" lab host NODE by SIGKILLing every
# process in its network namespace PREFIX-NODE, and exits 0 only once the
# host is empty. Use as the daemon's fence command:
#   fence_command = /path/to/lab/fence_lab.sh us<LAB_ID>
# (the daemon appends the node name, hA or hB).
# Usage: fence_lab.sh PREFIX NODE
[ $# -eq 2 ] || { echo "usage: fence_lab.sh PREFIX NODE" >&2; exit 2; }
ns="$1-$2"
ip netns list | grep -q "^$ns\( \|$\)" || { echo "fence_lab: no lab host $ns" >&2; exit 1; }
# looks every 10 ms: a takeover waits for this agent (5 s in all)
i=0
while [ $i -lt 500 ]; do
	pids=$(ip netns pids "$ns" 2>/dev/null)
	[ -z "$pids" ] && exit 0
	kill -9 $pids 2>/dev/null
	sleep 0.01
	i=$((i + 1))
done
echo "fence_lab: processes of $ns survive SIGKILL: $pids" >&2
exit 1
