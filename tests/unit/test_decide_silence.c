/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the fast decision mode, [failover] decide = silence
 * (failover/decide.c): a stream silent for silence_ms starts the fence at
 * once, only a confirmed fence promotes, a failed one never does, and the
 * rules that come first (operator, suspended, no epoch, a clean leave) still
 * come first. Then us_failover_silence: this host's own stalls are not the
 * primary's silence.
 */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "failover/failover.h"
#include "heartbeat/peer.h"
#include "replicator/proto.h"

#define FENCE "/usr/sbin/fence_test --plug"
#define SILENCE 300

/* One situation: membership as corosync sees it, the silence, the fence. */
struct row {
	const char *name;
	int conn, quorate, gone, member_silent_ms;
	const char *fence;
	int fstate;
	enum us_verdict want;
	const char *phrase; /* must appear in the reason */
};

static struct us_failover_input input_of(const struct row *r)
{
	struct us_failover_input in = { .trigger = US_TRIGGER_STREAM_LOST,
					.promote_auto = 1,
					.committed = 5 };

	in.cl = (struct us_failover_cluster){ .membership = 1,
					      .connected = r->conn,
					      .quorate = r->quorate,
					      .peer_gone = r->gone,
					      .stream_silent = r->member_silent_ms >= SILENCE,
					      .nodes = 2,
					      .fence_command = r->fence,
					      .fence_state = r->fstate,
					      .decide_silence = 1,
					      .silent_ms = (uint64_t)r->member_silent_ms,
					      .silence_ms = SILENCE };
	return in;
}

static void expect(const char *name, const struct us_failover_input *in, enum us_verdict want,
		   const char *phrase)
{
	char why[512];
	enum us_verdict got;

	memset(why, 0, sizeof(why));
	got = us_failover_decide(in, why, sizeof(why));
	if (got != want || !strstr(why, phrase))
		fail_msg("%s: verdict %d (want %d), why \"%s\" (want \"%s\" in it)", name, got,
			 want, why, phrase);
}

/* conn quorate gone silent_ms fence fence_state -> verdict, phrase */
static const struct row rows[] = {
	/* corosync has not decided: the primary is a member */
	{ "member, stream flows", 1, 1, 0, 0, FENCE, US_FENCE_NONE, US_VERDICT_WAIT,
	  "is a member of the group" },
	{ "member, quiet but not yet silent", 1, 1, 0, SILENCE - 1, FENCE, US_FENCE_NONE,
	  US_VERDICT_WAIT, "is a member of the group" },
	{ "member, silent", 1, 1, 0, SILENCE, FENCE, US_FENCE_NONE, US_VERDICT_FENCE,
	  "silent for 300 ms (silence_ms 300, decide = silence): fencing its node first" },
	{ "member, long silent", 1, 1, 0, 5000, FENCE, US_FENCE_NONE, US_VERDICT_FENCE,
	  "silent for 5000 ms" },
	/* the silence needs neither corosync nor quorum: the fence decides */
	{ "corosync unreachable, silent", 0, 0, 0, SILENCE, FENCE, US_FENCE_NONE, US_VERDICT_FENCE,
	  "fencing its node first" },
	{ "no quorum, silent", 1, 0, 0, SILENCE, FENCE, US_FENCE_NONE, US_VERDICT_FENCE,
	  "fencing its node first" },
	{ "corosync unreachable, not silent", 0, 0, 0, 10, FENCE, US_FENCE_NONE, US_VERDICT_WAIT,
	  "corosync is unreachable" },
	/* the fence, whoever started it */
	{ "fence waiting", 1, 1, 0, 0, FENCE, US_FENCE_WAITING, US_VERDICT_FENCE,
	  "fencing its node first" },
	{ "fence running", 1, 1, 0, SILENCE, FENCE, US_FENCE_RUNNING, US_VERDICT_FENCE,
	  "fencing its node first" },
	{ "fence done, stream back", 1, 1, 0, 0, FENCE, US_FENCE_DONE, US_VERDICT_PROMOTE,
	  "the primary's node is fenced: it is off" },
	{ "fence done, silent", 1, 1, 0, SILENCE, FENCE, US_FENCE_DONE, US_VERDICT_PROMOTE,
	  "the primary's node is fenced" },
	{ "fence done, no quorum", 1, 0, 0, SILENCE, FENCE, US_FENCE_DONE, US_VERDICT_PROMOTE,
	  "the primary's node is fenced" },
	{ "fence failed", 1, 1, 0, SILENCE, FENCE, US_FENCE_FAILED, US_VERDICT_REFUSE,
	  "fencing the primary's node failed" },
	{ "fence failed, gone", 1, 1, 1, SILENCE, FENCE, US_FENCE_FAILED, US_VERDICT_REFUSE,
	  "fencing the primary's node failed" },
	/* membership decided first: its rule, then the same fence */
	{ "gone, not yet silent", 1, 1, 1, 10, FENCE, US_FENCE_NONE, US_VERDICT_WAIT,
	  "still flows" },
	{ "gone, silent", 1, 1, 1, SILENCE, FENCE, US_FENCE_NONE, US_VERDICT_FENCE,
	  "fencing its node first" },
	/* no fence command (the config refuses it, the rule too) */
	{ "silent, no fence command", 1, 1, 0, SILENCE, NULL, US_FENCE_NONE, US_VERDICT_REFUSE,
	  "decide = silence without a fence command" },
	{ "silent, empty fence command", 1, 1, 0, SILENCE, "", US_FENCE_NONE, US_VERDICT_REFUSE,
	  "without a fence command" },
};

static void silence_table(void **state)
{
	struct us_failover_input in;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		in = input_of(&rows[i]);
		expect(rows[i].name, &in, rows[i].want, rows[i].phrase);
		in.trigger = US_TRIGGER_MEMBERSHIP; /* the trigger does not matter */
		expect(rows[i].name, &in, rows[i].want, rows[i].phrase);
	}
}

/* Never a promotion before the fence confirmed: every silence, every
 * cluster state, every fence state but DONE. */
static void promotes_only_when_fenced(void **state)
{
	static const int silences[] = { 0, SILENCE - 1, SILENCE, 100000 };
	struct row r = { "", 0, 0, 0, 0, FENCE, 0, 0, NULL };
	struct us_failover_input in;
	char why[512];
	int mask, s, fs;

	for (mask = 0; mask < 8; mask++)
		for (s = 0; s < 4; s++)
			for (fs = US_FENCE_NONE; fs <= US_FENCE_FAILED; fs++) {
				r.conn = mask & 1;
				r.quorate = !!(mask & 2);
				r.gone = !!(mask & 4);
				r.member_silent_ms = silences[s];
				r.fstate = fs;
				in = input_of(&r);
				if (us_failover_decide(&in, why, sizeof(why)) == US_VERDICT_PROMOTE)
					assert_int_equal(fs, US_FENCE_DONE);
				else
					assert_int_not_equal(fs, US_FENCE_DONE);
			}
}

/* The rules before the mode still win: a clean leave is never fenced, a
 * suspended pair or a replica with no epoch never promotes, an operator
 * always may, Pacemaker's and manual modes wait. */
static void earlier_rules_first(void **state)
{
	static const struct row silent = {
		"silent", 1, 1, 0, SILENCE, FENCE, US_FENCE_NONE, 0, NULL
	};
	static const struct row fenced = {
		"fenced", 1, 1, 0, SILENCE, FENCE, US_FENCE_DONE, 0, NULL
	};
	struct us_failover_input in = input_of(&silent);

	in.cl.peer_left = 1;
	expect("left cleanly", &in, US_VERDICT_WAIT, "left the group cleanly");
	in = input_of(&fenced);
	in.suspended = 1;
	expect("suspended", &in, US_VERDICT_REFUSE, "protection is suspended");
	in = input_of(&silent);
	in.committed = US_EPOCH_NONE;
	expect("no epoch", &in, US_VERDICT_REFUSE, "no committed epoch");
	in = input_of(&silent);
	in.promote_auto = 0;
	expect("manual", &in, US_VERDICT_WAIT, "promote = manual");
	in.trigger = US_TRIGGER_OPERATOR;
	expect("operator", &in, US_VERDICT_PROMOTE, "operator request");
	in = input_of(&fenced);
	in.active = 1;
	expect("active", &in, US_VERDICT_REFUSE, "already active");
}

/* decide = membership (the default) ignores the silence entirely. */
static void membership_mode_unchanged(void **state)
{
	static const struct row silent = {
		"silent", 1, 1, 0, 100000, FENCE, US_FENCE_NONE, 0, NULL
	};
	struct us_failover_input in = input_of(&silent);

	in.cl.decide_silence = 0;
	expect("membership mode, silent member", &in, US_VERDICT_WAIT, "is a member of the group");
}

/* The watch: silence since the last byte, while this host looks steadily. */
static void watch_counts_silence(void **state)
{
	struct us_silence_watch w = { 0 };
	uint64_t t;

	assert_int_equal(us_failover_silence(&w, 1000, 990, 150), 0); /* first look: from now */
	for (t = 1060; t <= 1300; t += 60)
		us_failover_silence(&w, t, 990, 150);
	assert_int_equal(us_failover_silence(&w, 1360, 990, 150), 360);
	assert_int_equal(us_failover_silence(&w, 1420, 1400, 150), 20); /* a byte came */
}

/* A look that comes a gap late (this host stalled) starts the count again:
 * the primary's keepalives may be waiting unread in the socket. */
static void watch_forgives_own_stall(void **state)
{
	struct us_silence_watch w = { 0 };
	uint64_t t;

	for (t = 1000; t <= 1100; t += 50)
		us_failover_silence(&w, t, 1000, 150);
	assert_int_equal(us_failover_silence(&w, 1549, 1000, 150), 0); /* 449 ms stall */
	assert_int_equal(us_failover_silence(&w, 1599, 1000, 150), 50);
	assert_int_equal(us_failover_silence(&w, 1748, 1000, 150), 199); /* 149: no gap */
	assert_int_equal(us_failover_silence(&w, 1898, 1000, 150), 0);	 /* 150: a gap */
	assert_int_equal(us_failover_silence(&w, 1800, 1000, 150), 0);	 /* clock back */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(silence_table),	cmocka_unit_test(promotes_only_when_fenced),
		cmocka_unit_test(earlier_rules_first),	cmocka_unit_test(membership_mode_unchanged),
		cmocka_unit_test(watch_counts_silence), cmocka_unit_test(watch_forgives_own_stall),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
