#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Device-state capture and restore with real QEMU (TCG, SeaBIOS only): runs
# devstate_helper in a private directory and /dev/shm prefix, and on every
# exit kills any QEMU it left (pid files, checked against the command line)
# and removes the directory and the RAM files.
command -v qemu-system-x86_64 >/dev/null 2>&1 || {
	echo "qemu-system-x86_64 not found: apt-get install qemu-system-x86"
	exit 77
}
builddir=${top_builddir:-.}
dir=$(mktemp -d /tmp/us-test-devstate.XXXXXX) || exit 1
shm=/dev/shm/us-test-devstate-$$

cleanup() {
	for f in "$dir"/*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		if tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF "$dir/"; then
			echo "killing QEMU $pid left behind"
			kill -9 "$pid"
		fi
	done
	rm -rf "$dir"
	rm -f "$shm"-*
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

US_TEST_DIR=$dir US_TEST_SHM=$shm "$builddir/tests/integration/devstate_helper"
