# SPDX-License-Identifier: LGPL-2.1-or-later
# The tests' way into the lab: the lab itself lives in lab/ (lab.sh, corosync.sh,
# fence_lab.sh), which understudy-lab installs and shares; tests/lib keeps the
# helpers only the tests use (LAB_LIB: the Pacemaker lab, fswriter, rxe).
LAB_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab/lab.sh
. "$LAB_LIB/../../lab/lab.sh"
