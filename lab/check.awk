# SPDX-License-Identifier: LGPL-2.1-or-later
# The checker of one client's history (understudy-lab): reads "MS VALUE..."
# lines (MS: wall-clock milliseconds of the acknowledged reply) and judges
# them against a model (-v model=counter|register|log, see README "Writing
# your own checker"):
#   counter   VALUE is a number, each reply the previous plus one
#   register  "w V" a write of V acknowledged, "r V" a read returned V: every
#             read returns the last acknowledged write
#   log       VALUE is the whole log "e1,e2,...": each reply's log is the
#             previous one with exactly one entry appended
# Prints one "violation MS KIND DETAIL" line per violation, where KIND is
# lost (an acknowledged reply's effect is gone), repeated (the same answer
# again), backwards (a value older than one already answered) or skipped
# (values nobody was answered), then "stall MS LEN" for the longest gap
# between replies (MS: the reply that ended it) and "replies N".
function violation(kind, detail) { printf "violation %d %s %s\n", t, kind, detail; bad++ }

function check_counter(v) {
	if (v == prev) { violation("repeated", "reply " v " again"); violation("lost", "the effect of reply " v) }
	else if (v < prev) { violation("backwards", v " after " prev); violation("lost", prev - v + 1 " acknowledged replies, " v ".." prev) }
	else if (v > prev + 1) violation("skipped", "values " prev + 1 ".." v - 1 " never answered")
}

function check_register(op, v) {
	if (op == "w") { written[v] = ++nw; last = v; return }
	if (nw == 0 && !init) { init = 1; last = v; written[v] = 0; return }	# the value found at the start
	if (v == last) return
	if (v in written && written[v] < written[last]) { violation("backwards", "read " v ", older than the acknowledged write " last); violation("lost", "the write of " last) }
	else violation("lost", "read " v ", the last acknowledged write was " last)
}

function check_log(v,   nv, np) {
	nv = split(v, unused, ","); np = split(prev, unused, ",")
	if (v == prev) violation("repeated", "the log of " nv " entries again")
	else if (index(v, prev ",") != 1 && prev != "") {
		if (nv < np) violation("backwards", "the log shrank from " np " to " nv " entries")
		violation("lost", "the log no longer starts with the " np " acknowledged entries")
	} else if (nv > np + 1) violation("skipped", nv - np - 1 " entries appended unanswered")
}

/^[0-9]+ / {
	t = $1
	if (n > 0 && t - lastt > stall) { stall = t - lastt; stall_at = t }
	if (model == "register") check_register($2, $3)
	else if (n > 0 && model == "log") check_log($2)
	else if (n > 0) check_counter($2 + 0)
	prev = (model == "log") ? $2 : $2 + 0
	lastt = t; n++
}

END { printf "stall %d %d\nreplies %d\n", stall_at, stall, n }
