# SPDX-License-Identifier: LGPL-2.1-or-later
# Two copies answering (understudy-lab): reads the frames the guest's MAC sent
# into the LAN, "MS HOST" sorted by MS (framecap on each host's LAN port), and
# prints "violation MS dual-active HOST1 and HOST2 both sent" whenever a host
# sends again after the other one has: a takeover moves the sender once,
# two live copies make it go back and forth. -v from=MS: judge only frames
# from then on (one round's window).
$1 >= from {
	if (runs > 0 && $2 != cur) {
		if ($2 in seen) printf "violation %d dual-active %s and %s both sent the guest's frames\n", $1, $2, cur
		seen[cur] = 1
	}
	if ($2 != cur) runs++
	cur = $2
}
