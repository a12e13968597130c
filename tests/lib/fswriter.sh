# SPDX-License-Identifier: LGPL-2.1-or-later
# Checking what the guest's fswriter workload (guest/fswriter.c) left on an
# ext4 image (sourced by the tests that run it). Needs debugfs (e2fsprogs)
# and fail() from tests/lib/common.sh.

# fswriter_expected N: the bytes fswriter writes into file N.
fswriter_expected() {
	awk -v n="$1" 'BEGIN {
		s = "us-fswriter " n "\n"
		for (i = length(s); i < 1024; i++)
			s = s sprintf("%c", 97 + (n * 7 + i) % 26)
		printf "%s", s
	}'
}

# fswriter_check_files IMAGE LAST WORKDIR WHAT: every file 1..LAST announced
# (the last 127 only: slots are reused, and file LAST+1 may have been
# written) is whole on IMAGE; WORKDIR is scratch; WHAT prefixes a failure.
fswriter_check_files() {
	local k out=$3/files
	rm -rf "$out"
	mkdir "$out"
	debugfs -R "rdump /us-fswriter $out" "$1" > /dev/null 2>&1 ||
		fail "$4debugfs cannot copy /us-fswriter out of $1"
	for ((k = $2 > 127 ? $2 - 126 : 1; k <= $2; k++)); do
		cmp -s <(fswriter_expected "$k") "$out/us-fswriter/$(printf 'f-%03d' $((k % 128)))" ||
			fail "${4}file $k, announced on the console, is not on $1 whole"
	done
}
