#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Static checks run by the test command: cppcheck over every C file (warnings,
# portability, performance; a finding fails the run), and clang-format over
# the files listed in .clang-format-checked (new files obey the house
# format from the start; older files are converted as they are reworked).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
rc=0
cfg=()
[ -f build/config.h ] && cfg=(-Ibuild)
if ! cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
	--inline-suppr --std=c11 -I. "${cfg[@]}" -D_GNU_SOURCE -DHAVE_RDMA=1 \
	--suppress=missingIncludeSystem --suppress=unknownMacro \
	check disk replicator rdma netbuf heartbeat failover tests bench guest; then
	echo "lint: cppcheck found the problems above" >&2
	rc=1
fi
while read -r f; do
	case $f in ''|'#'*) continue ;; esac
	if ! clang-format --dry-run --Werror "$f" 2>/dev/null; then
		echo "lint: $f does not follow .clang-format (clang-format -i $f)" >&2
		rc=1
	fi
done < .clang-format-checked
[ $rc = 0 ] && echo "lint: cppcheck and clang-format clean"
exit $rc
