#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/transport: epochs of 1k, 10k and 50k random pages through the
# replication transport into the real standby receiver, pages/s and GB/s
# beside a memcpy and a plain TCP stream of the same bytes measured in the
# same run (build/bench/transport). First over TCP on this host's loopback,
# then over verbs on soft-RoCE (rxe0) in a TCG guest booted as
# tests/integration/rdma_rxe.sh does (tests/lib/rxe.sh), where the TCP
# baseline is the guest's own loopback. In the guest, before the bench, the
# raw verbs of the same rxe0 are measured with perftest's ib_write_bw (1 MiB
# RDMA WRITEs) and ib_write_lat (64 B), or ibverbs-utils' ibv_rc_pingpong
# when perftest is missing: what soft-RoCE under TCG can do at best; then
# the same bench over TCP on the guest's loopback: what our stack costs on
# the guest's emulated CPU with no verbs involved. The
# bench also prints rxe's retry counters: RNR NAKs, which must stay 0 (each
# stalls the queue pair 0.64 ms), and retransmissions, each after the
# queue pair's ACK timeout of 67 ms (in the TCG guest the responder falls
# that far behind a few hundred times a round: re-sent, not lost).
# Between the two, the same epochs over a link of a NIC's rate: a veth pair
# between two network namespaces, each end shaped by tc tbf to RATE
# (US_BENCH_RATES, default "10gbit 1gbit"; empty: none), the primary in one namespace
# and the standby in the other (bench/transport --netns), with a plain TCP
# stream over the same shaped link as the baseline. On loopback the CPU is
# the link; on a shaped link, as in production, the NIC is.
# In the guest the verbs bench runs in US_BENCH_RDMA_ROUNDS rounds (5), each
# between two ib_write_bw runs: under TCG on this shared host the raw figure
# itself moves by a fifth from one run to the next, so each round's 50k-page
# GB/s is put against the mean of the two ib_write_bw around it ("rdma
# round" lines, and their median). With US_BENCH_OLD_BUILDDIR=DIR another
# build's bench runs right after this one's in each round (plain only), for
# an old/new comparison in one guest.
# Usage (root): bench/transport.sh [REPEATS [GUEST_REPEATS]]   (20 and 5;
# after ./scripts/build.sh, or with top_builddir=DIR; US_BENCH_RDMA=0 skips
# the guest; TRANSPORT_PLOT=FILE.png draws GB/s against the epoch's pages,
# one panel per link of this host: plain, auth, TLS and the TCP stream)
# (bench/transport.sh --guest REPEATS ROUNDS BUILDDIR [OLD_BUILDDIR] is what
# the guest runs.)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

# perftest's server, then its client until the server listens (TCG is slow).
perftest_pair() {
	local srv
	"$@" > /dev/null 2>&1 &
	srv=$!
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		sleep 1
		"$@" 10.0.2.15 2>&1 | grep -A1 '#bytes' | sed 's/^/raw: /' && break
	done
	wait "$srv" || true
}

# The raw verbs of rxe0 in this guest.
raw_baseline() {
	if command -v ib_write_bw > /dev/null; then
		echo "raw: perftest ib_write_bw -d rxe0 -s 1048576 -n 100 (GB/s = Gb/s / 8)"
		perftest_pair ib_write_bw -d rxe0 -s 1048576 -n 100 -F --report_gbits
		echo "raw: perftest ib_write_lat -d rxe0 -s 64 -n 200"
		perftest_pair ib_write_lat -d rxe0 -s 64 -n 200 -F
	elif command -v ibv_rc_pingpong > /dev/null; then
		echo "raw: ibv_rc_pingpong -d rxe0 -g 1 -s 1048576 -n 20 (no perftest installed)"
		ibv_rc_pingpong -d rxe0 -g 1 -s 1048576 -n 20 > /dev/null 2>&1 &
		sleep 2
		ibv_rc_pingpong -d rxe0 -g 1 -s 1048576 -n 20 10.0.2.15 2>&1 | sed -n 's/^/raw: /p' | grep -E 'Mbit|usec'
		wait || true
	else
		echo "raw: no baseline: install the Debian package perftest (or ibverbs-utils)"
	fi
}

# ib_write_bw's average Gb/s now (perftest), or nothing.
raw_bw() {
	command -v ib_write_bw > /dev/null || return 0
	perftest_pair ib_write_bw -d rxe0 -s 1048576 -n 100 -F --report_gbits | awk '$2 == 1048576 { print $5 }'
}

# The 50k-page GB/s of the bench's table on stdin, which passes on to stderr
# (the guest's devtmpfs has no /dev/stderr).
row_gbs() {
	local line gbs=''
	while IFS= read -r line; do
		printf '%s\n' "$line" >&2
		[[ $line =~ ^\ *50000\ \|\ *[0-9]+\ +([0-9.]+) ]] && gbs=${BASH_REMATCH[1]}
	done
	echo "$gbs"
}

# round_line R BEFORE AFTER NEW [OLD]: the builds' 50k-page GB/s against the
# mean of the raw Gb/s before and after them.
round_line() {
	echo "$@" | awk '{ raw = ($2 + $3) / 16
		printf "rdma round %d: ib_write_bw %.2f and %.2f Gb/s (mean %.4f GB/s); 50k pages %.4f GB/s = %.0f %%",
			$1, $2, $3, raw, $4, raw ? 100 * $4 / raw : 0
		if (NF > 4) printf "; old build %.4f GB/s = %.0f %%", $5, raw ? 100 * $5 / raw : 0
		printf "\n" }'
}

# The median of the numbers on stdin.
median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

# rounds REPEATS ROUNDS BUILD [OLD]: the verbs bench between ib_write_bw runs.
rounds() {
	local r before after new old=() lines=''
	before=$(raw_bw)
	for r in $(seq "$2"); do
		echo "== over verbs on rxe0, round $r: $3"
		new=$("$3/bench/transport" rdma 10.0.2.15 "$1" 2>&1 | row_gbs) || return 1
		if [ -n "${4:-}" ]; then
			echo "== over verbs on rxe0, round $r, old build: $4"
			old=("$("$4/bench/transport" --modes plain rdma 10.0.2.15 "$1" 2>&1 | row_gbs)") || return 1
		fi
		after=$(raw_bw)
		lines+=$(round_line "$r" "${before:-0}" "${after:-0}" "${new:-0}" "${old[@]}")$'\n'
		printf '%s' "$lines" | tail -n 1
		before=$after
	done
	printf 'rdma: median of %d rounds: %s %% of ib_write_bw' "$2" \
		"$(echo "$lines" | sed -n 's/^rdma round [0-9]*:[^=]*= \([0-9]*\) %.*/\1/p' | median)"
	[ -z "${4:-}" ] || printf '; old build %s %%' \
		"$(echo "$lines" | sed -n 's/.*old build [0-9.]* GB\/s = \([0-9]*\) %.*/\1/p' | median)"
	echo
}

if [ "${1:-}" = --guest ]; then
	PATH=/usr/sbin:/usr/bin:/sbin:/bin
	raw_baseline
	echo "== the same epochs over TCP inside the guest (our stack on TCG, no verbs)"
	"$4/bench/transport" tcp 10.0.2.15 "$2" || true
	rounds "$2" "$3" "$4" "${5:-}" 2>&1
	exit
fi
export top_srcdir=$top
top_builddir=$(cd "${top_builddir:-$top/build}" && pwd)
export top_builddir
bench=$top_builddir/bench/transport
REPEATS=${1:-20}
GUEST_REPEATS=${2:-5}
DEADLINE=${US_BENCH_DEADLINE:-3600}	# seconds for the guest run under TCG

[ -x "$bench" ] || { echo "FAIL: $bench not built: run ./scripts/build.sh" >&2; exit 1; }
PLOT_DATA=$(mktemp /tmp/us-transport-plot.XXXXXX)
LINKS=()
# link NAME: the next link's panel; keep N: print the bench's table as it
# comes, and keep its rows (link N, pages, plain, auth and TLS GB/s, TCP
# stream GB/s) for the plot (keep runs in the pipeline's subshell).
link() { LINKS+=("$1"); }
keep() {
	local line
	while IFS= read -r line; do
		printf '%s\n' "$line"
		[[ $line =~ ^\ *[0-9]+\ \| ]] || continue
		echo "$line" | tr -d '|%' | awk -v i="$1" '{ print i, $1, $3, $6, $9, $13 }' >> "$PLOT_DATA"
	done
}
# plot: one panel per link, GB/s against the epoch's pages (log scale).
plot() {
	local i n=${#LINKS[@]}
	[ -n "${TRANSPORT_PLOT:-}" ] && [ -s "$PLOT_DATA" ] || return 0
	command -v gnuplot > /dev/null || { echo "plot: gnuplot is not installed"; return 0; }
	{
		echo "set terminal pngcairo size $((480 * n)),420; set output '$TRANSPORT_PLOT'"
		echo "set multiplot layout 1,$n title 'bench/transport: GB/s against the epoch size'"
		echo "set logscale x; set yrange [0:*]; set xlabel 'pages per epoch'; set ylabel 'GB/s'; set key bottom right"
		for i in $(seq "$n"); do
			echo "set title '${LINKS[$((i - 1))]}'"
			echo "f = '$PLOT_DATA'"
			echo "plot f u 2:(\$1 == $i ? \$3 : 1/0) w lp t 'plain', f u 2:(\$1 == $i ? \$4 : 1/0) w lp t 'auth'," \
				"f u 2:(\$1 == $i ? \$5 : 1/0) w lp t 'TLS', f u 2:(\$1 == $i ? \$6 : 1/0) w lp t 'TCP stream'"
		done
		echo "unset multiplot"
	} | gnuplot && echo "plot: $TRANSPORT_PLOT"
}
echo "== TCP over loopback on this host: $bench tcp 127.0.0.1 $REPEATS"
link loopback
"$bench" tcp 127.0.0.1 "$REPEATS" | keep ${#LINKS[@]}
echo

# A veth pair between namespaces $SHAPE_NS-p (primary) and $SHAPE_NS-s, both ends at rate $1.
SHAPE_NS=us$$-ws
shaped_down() {
	ip netns del "$SHAPE_NS-p" 2> /dev/null || true
	ip netns del "$SHAPE_NS-s" 2> /dev/null || true
}
finish() {
	shaped_down
	rm -f "$PLOT_DATA"
}
shaped_up() {
	local end ns
	shaped_down
	ip netns add "$SHAPE_NS-p"
	ip netns add "$SHAPE_NS-s"
	ip link add "$SHAPE_NS"p netns "$SHAPE_NS-p" type veth peer name "$SHAPE_NS"s netns "$SHAPE_NS-s"
	ip -n "$SHAPE_NS-p" addr add 10.97.0.1/24 dev "$SHAPE_NS"p
	ip -n "$SHAPE_NS-s" addr add 10.97.0.2/24 dev "$SHAPE_NS"s
	for end in p s; do
		ns=$SHAPE_NS-$end
		ip -n "$ns" link set lo up
		ip -n "$ns" link set "$SHAPE_NS$end" up
		# burst: a few GSO packets (tbf's watchdog is an hrtimer), so that
		# even a 4 MB epoch does not ride the bucket; latency bounds the queue
		tc -n "$ns" qdisc add dev "$SHAPE_NS$end" root tbf rate "$1" burst 256kb latency 20ms
	done
}
trap finish EXIT
for rate in ${US_BENCH_RATES-10gbit 1gbit}; do
	echo "== TCP over a veth pair shaped to $rate (tc tbf), primary and standby in two network namespaces"
	shaped_up "$rate"
	link "veth shaped to $rate"
	ip netns exec "$SHAPE_NS-p" "$bench" --netns "$SHAPE_NS-s" tcp 10.97.0.2 "$REPEATS" |
		keep ${#LINKS[@]}
	shaped_down
	echo
done
plot
[ "${US_BENCH_RDMA:-1}" = 1 ] || exit 0
echo "== RDMA (soft-RoCE rxe0) in a TCG guest: $bench rdma 10.0.2.15 $GUEST_REPEATS"
grep -q '^#define HAVE_RDMA 1' "$top_builddir/config.h" ||
	{ echo "SKIP: this build has no RDMA transport (rdma-core missing at configure)"; exit 0; }
# shellcheck source=tests/lib/rxe.sh
. "$top/tests/lib/rxe.sh"
rxe_setup
OLD=${US_BENCH_OLD_BUILDDIR:+$(cd "$US_BENCH_OLD_BUILDDIR" && pwd)}
rxe_run "$top/bench/transport.sh" "--guest,$GUEST_REPEATS,${US_BENCH_RDMA_ROUNDS:-5},$top_builddir${OLD:+,$OLD}" 2G "$DEADLINE"
echo "$RXE_LOG" | grep -E '^(== |raw: |bench/transport|soft-RoCE|this build|rdma[ :])|^ *(pages|[0-9]+) \|' || true
[ "$RXE_RESULT" = 0 ] || fail "bench/transport in the guest failed (rc=$RXE_RESULT)"
