# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared set-up of the integration tests (sourced): locate the built binary
# and tools, build or reuse the cached guest image, and helpers to fail with
# a message. Integration tests need root (namespaces, ptrace, /dev/shm).

top_srcdir=${top_srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
US_BIN=$top_builddir/understudy
US_FINDCOUNTER=$top_builddir/tests/tools/findcounter

# fail MSG: say why, show the end of the lab's logs (when there is a lab),
# exit 1 (the lab's trap then removes it).
fail() {
	local f
	echo "FAIL: $*" >&2
	for f in "${LAB_DIR:-/nonexistent}"/*.log "${LAB_DIR:-/nonexistent}"/*/corosync.log \
		"${LAB_DIR:-/nonexistent}"/*/pcmk/log/understudy.log; do
		[ -f "$f" ] || continue
		echo "--- last lines of $f:" >&2
		grep -v ' debug: ' "$f" | tail -n 12 | cut -c1-220 >&2
	done
	exit 1
}
note() { echo "# $*" >&2; }

[ "$(id -u)" = 0 ] || { echo "SKIP: integration tests need root" >&2; exit 77; }
[ -x "$US_BIN" ] || fail "$US_BIN not built: run make first"
command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 missing: apt-get install qemu-system-x86"
eval "$("$top_srcdir/guest/build.sh")" || fail "building the guest image failed"
export US_BIN US_GUEST_KERNEL US_GUEST_INITRD

# rand_ms LO HI: a random number of milliseconds in [LO, HI].
rand_ms() { echo $(( $1 + RANDOM % ($2 - $1 + 1) )); }

# sleep_ms N
sleep_ms() { sleep "$(printf '%d.%03d' $(( $1 / 1000 )) $(( $1 % 1000 )))"; }
