#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# An example checker script for understudy-lab (README, "Writing your own
# checker"): a client of a line-based TCP service, here the test guest's
# counter service or its disk-backed ledger (port 7777, one request "+\n",
# one number back). understudy-lab runs it on the client host with
# GUEST_IP and GUEST_PORT set. The contract: the first line of output is the
# model the replies must follow, then exactly one line per acknowledged
# reply, printed only once the reply has arrived. On a broken connection
# it exits non-zero (the lab starts it again and reports the break).
set -u
exec 3<> "/dev/tcp/$GUEST_IP/$GUEST_PORT" || exit 2
echo "model counter"
while printf '+\n' >&3; do
	IFS= read -r reply <&3 || { echo "counter-client: connection closed" >&2; exit 3; }
	echo "$reply"
done
echo "counter-client: connection broken" >&2
exit 3
