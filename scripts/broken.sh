#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The deliberately broken build: configures build-broken/ with
# --enable-test-early-release (the daemon releases the guest's output before
# the standby acknowledged it) and runs tests/integration/lab_broken.sh there:
# an understudy-lab campaign of primary host kills must report the
# violation, which shows that the lab's checker can fail. Like
# scripts/sanitize.sh, for scripts/check.sh or by hand (root).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] || ./autogen.sh >/dev/null
mkdir -p build-broken
cd build-broken
[ -f Makefile ] || ../configure --enable-fatal-warnings --enable-test-early-release >configure.log 2>&1 ||
	{ tail -20 configure.log; exit 1; }
make -j"$(nproc)" >make.log 2>&1 || { tail -40 make.log; exit 1; }
rm -f tests/integration/lab_broken.log tests/integration/lab_broken.trs
make check TESTS=tests/integration/lab_broken.sh >check.log 2>&1
rc=$?
tail -30 tests/integration/lab_broken.log
echo "understudy: broken build (output released before its ACK): the lab's checker $([ $rc = 0 ] && echo caught it || echo "did NOT catch it")"
exit $rc
