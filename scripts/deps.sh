#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs the Debian 12 packages understudy needs to build, test and run its
# demo. Idempotent: does nothing when everything is installed already.
set -euo pipefail

PKGS="build-essential autoconf automake libtool pkg-config
libqb-dev libjansson-dev libinih-dev libxxhash-dev libcmocka-dev
qemu-system-x86 qemu-utils busybox-static cpio iproute2 kmod procps psmisc
libc6-dev ca-certificates"

[ "$(id -u)" = 0 ] || { echo "deps.sh: run as root (apt-get install)" >&2; exit 1; }
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "deps.sh: all Debian packages present"
	exit 0
fi
echo "deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $missing
