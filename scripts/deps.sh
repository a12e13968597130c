#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs the Debian 12 packages understudy needs to build, test and run its
# demo. Idempotent: does nothing when everything is installed already.
set -euo pipefail

PKGS="build-essential autoconf automake libtool pkg-config
libqb-dev libjansson-dev libinih-dev libxxhash-dev libcmocka-dev
qemu-system-x86 qemu-utils busybox-static cpio iproute2 kmod procps psmisc
libc6-dev ca-certificates bc socat xz-utils cppcheck clang-format clang libclang-rt-14-dev
corosync libcpg-dev libquorum-dev libvotequorum-dev libcmap-dev libcorosync-common-dev nettle-dev
liblz4-dev libzstd-dev libgnutls28-dev openssl tcpdump
rdma-core ibverbs-providers ibverbs-utils perftest libibverbs-dev librdmacm-dev
systemd python3-libnbd libnbd-bin
e2fsprogs jq gnuplot-nox
iptables libnetfilter-queue-dev libfuse3-dev fuse3
pacemaker pacemaker-cli-utils resource-agents"

[ "$(id -u)" = 0 ] || { echo "deps.sh: run as root (apt-get install)" >&2; exit 1; }
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
export DEBIAN_FRONTEND=noninteractive
if [ -n "$missing" ]; then
	echo "deps.sh: installing:$missing"
	apt-get update -q
	# no service may start at install (corosync, pacemaker): the tests start
	# their own, in namespaces; a policy-rc.d of our own says so, then goes
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	apt-get install -y -q --no-install-recommends $missing
else
	echo "deps.sh: all Debian packages present"
fi
# guest/build.sh fetches Debian's kernel with apt-get download: needs the lists
apt-cache show linux-image-amd64 >/dev/null 2>&1 || apt-get update -q
