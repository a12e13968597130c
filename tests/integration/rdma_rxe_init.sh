#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# /init (installed as such) of the soft-RoCE test guest (tests/integration/rdma_rxe.sh): loads
# the RDMA modules, mounts the host's root read-only over virtio-9p, gives
# eth0 the user-network address, creates the rxe0 device on it and runs, in
# a chroot into the host's root, the command of us.cmd= (a path there) with
# the arguments of us.args= (commas for spaces). It ends with a line
# "us-rxe: counters NAME:VALUE ..." of rxe0's hardware counters and one line
# "us-rxe: result rc=N" on the console, and powers off.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

cmd='' args='' ip=10.0.2.15/24
# shellcheck disable=SC2013 # the command line is words
for arg in $(cat /proc/cmdline); do
	case $arg in
	us.cmd=*) cmd=${arg#us.cmd=} ;;
	us.args=*) args=$(echo "${arg#us.args=}" | tr , ' ') ;;
	us.ip=*) ip=${arg#us.ip=} ;;
	esac
done

finish() {
	echo "us-rxe: result rc=$1"
	sync
	poweroff -f
}

us-modload
dmesg -n 4
ip link set lo up
if ! ip link set eth0 up || ! ip addr add "$ip" dev eth0; then
	echo "us-rxe: cannot configure eth0"
	finish 90
fi
mkdir -p /host
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro hostroot /host ||
	{ echo "us-rxe: cannot mount the host root over 9p"; finish 91; }
if ! { mount -t proc proc /host/proc && mount -t sysfs sysfs /host/sys &&
	mount -t devtmpfs devtmpfs /host/dev && mkdir -p /host/dev/shm &&
	mount -t tmpfs tmpfs /host/dev/shm && mount -t tmpfs tmpfs /host/run; }; then
	echo "us-rxe: cannot mount the pseudo file systems in the chroot"
	finish 92
fi
echo 1 > /proc/sys/net/ipv4/conf/all/accept_local
chroot /host rdma link add rxe0 type rxe netdev eth0 ||
	{ echo "us-rxe: rdma link add rxe0 failed (rdma_rxe loaded? iproute2 on the host?)"; finish 93; }
chroot /host rdma link show
# shellcheck disable=SC2086 # $args are separate words
chroot /host $cmd $args
rc=$?
# rxe's retry counters (rdma_rxe.sh checks there was no RNR NAK)
echo "us-rxe: counters $(cd /sys/class/infiniband/rxe0/ports/1/hw_counters && grep . ./* | sed 's|^\./||' | tr '\n' ' ')"
finish $rc
