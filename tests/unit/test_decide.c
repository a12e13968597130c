/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the failover decision point (failover/decide.c): every branch
 * of the standby's us_failover_decide() and the primary's
 * us_failover_standby_lost(), each asserting the verdict and a phrase of the
 * reason, since the reason is what the operator reads. The membership cases
 * are truth tables, one row per situation, like the state tables they test.
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

/* One situation of the cluster and what must come of it. */
struct row {
	const char *name;
	int conn, quorate, gone, left, unusable, silent, nodes;
	const char *fence;
	int allow, fstate;
	enum us_verdict want;
	const char *phrase;	/* must appear in the reason */
};

/* Membership on, corosync reachable, quorate, nothing else set. */
static struct us_failover_cluster cluster_of(const struct row *r)
{
	struct us_failover_cluster cl = {
		.membership = 1, .connected = r->conn, .quorate = r->quorate,
		.peer_gone = r->gone, .peer_left = r->left, .peer_unusable = r->unusable,
		.stream_silent = r->silent, .nodes = r->nodes, .fence_command = r->fence,
		.allow_unfenced = r->allow, .fence_state = r->fstate,
	};

	return cl;
}

/* The standby's input: automatic promotion, epoch 5 committed, not active. */
static struct us_failover_input input_of(const struct row *r, enum us_trigger trigger)
{
	struct us_failover_input in = { .trigger = trigger, .promote_auto = 1, .committed = 5 };

	in.cl = cluster_of(r);
	return in;
}

static void expect(const char *name, enum us_verdict got, const char *why,
		   enum us_verdict want, const char *phrase)
{
	if (got != want || !strstr(why, phrase))
		fail_msg("%s: verdict %d (want %d), why \"%s\" (want \"%s\" in it)", name, got,
			 want, why, phrase);
}

static enum us_verdict decide(const struct us_failover_input *in, char *why, size_t len)
{
	memset(why, 0, len);
	return us_failover_decide(in, why, len);
}

static enum us_verdict standby_lost(const struct us_failover_cluster *cl, char *why, size_t len)
{
	memset(why, 0, len);
	return us_failover_standby_lost(cl, why, len);
}

/* The standby, membership on: conn quorate gone left unusable silent nodes
 * fence allow fence_state -> verdict, phrase. */
static const struct row standby_rows[] = {
	{ "corosync unreachable", 0, 1, 1, 0, 0, 1, 2, FENCE, 0, US_FENCE_DONE,
	  US_VERDICT_WAIT, "corosync is unreachable" },
	{ "unreachable beats no quorum", 0, 0, 1, 0, 0, 1, 2, NULL, 0, US_FENCE_NONE,
	  US_VERDICT_WAIT, "corosync is unreachable" },
	{ "primary still a member", 1, 1, 0, 0, 0, 1, 2, FENCE, 0, US_FENCE_DONE,
	  US_VERDICT_WAIT, "is a member of the group" },
	{ "stream still flowing", 1, 1, 1, 0, 0, 0, 2, FENCE, 0, US_FENCE_DONE,
	  US_VERDICT_WAIT, "still flows" },
	{ "no quorum", 1, 0, 1, 0, 0, 1, 2, FENCE, 0, US_FENCE_DONE,
	  US_VERDICT_WAIT, "no quorum" },
	{ "no quorum before the two-node rule", 1, 0, 1, 0, 0, 1, 2, NULL, 0, US_FENCE_NONE,
	  US_VERDICT_WAIT, "no quorum" },
	{ "two-node, no fence command", 1, 1, 1, 0, 0, 1, 2, NULL, 0, US_FENCE_NONE,
	  US_VERDICT_REFUSE, "split brain" },
	{ "two-node, empty fence command", 1, 1, 1, 0, 0, 1, 2, "", 0, US_FENCE_NONE,
	  US_VERDICT_REFUSE, "automatic promotion refused" },
	{ "two-node, unfenced by override", 1, 1, 1, 0, 0, 1, 2, NULL, 1, US_FENCE_NONE,
	  US_VERDICT_PROMOTE, "explicit override" },
	{ "three nodes, no fence command", 1, 1, 1, 0, 0, 1, 3, NULL, 0, US_FENCE_NONE,
	  US_VERDICT_PROMOTE, "quorum alone" },
	{ "fence not started", 1, 1, 1, 0, 0, 1, 2, FENCE, 0, US_FENCE_NONE,
	  US_VERDICT_FENCE, "fencing its node first" },
	{ "fence waiting", 1, 1, 1, 0, 0, 1, 2, FENCE, 0, US_FENCE_WAITING,
	  US_VERDICT_FENCE, "fencing its node first" },
	{ "fence running", 1, 1, 1, 0, 0, 1, 2, FENCE, 0, US_FENCE_RUNNING,
	  US_VERDICT_FENCE, "fencing its node first" },
	{ "fence done", 1, 1, 1, 0, 0, 1, 2, FENCE, 0, US_FENCE_DONE,
	  US_VERDICT_PROMOTE, "its node is fenced" },
	{ "fence done, three nodes", 1, 1, 1, 0, 0, 1, 3, FENCE, 0, US_FENCE_DONE,
	  US_VERDICT_PROMOTE, "its node is fenced" },
	{ "fence failed", 1, 1, 1, 0, 0, 1, 2, FENCE, 0, US_FENCE_FAILED,
	  US_VERDICT_REFUSE, "fencing its node failed" },
	{ "fence failed, override set", 1, 1, 1, 0, 0, 1, 2, FENCE, 1, US_FENCE_FAILED,
	  US_VERDICT_REFUSE, "fencing its node failed" },
	{ "primary left cleanly", 1, 1, 0, 1, 0, 1, 2, FENCE, 0, US_FENCE_DONE,
	  US_VERDICT_WAIT, "left the group cleanly" },
	{ "left cleanly, corosync unreachable", 0, 0, 0, 1, 0, 1, 2, NULL, 1, US_FENCE_NONE,
	  US_VERDICT_WAIT, "left the group cleanly" },
};

static void standby_table(void **state)
{
	static const enum us_trigger triggers[] = { US_TRIGGER_STREAM_LOST,
						    US_TRIGGER_MEMBERSHIP };
	struct us_failover_input in;
	char why[1024];
	size_t i, t;

	for (t = 0; t < 2; t++) {
		for (i = 0; i < sizeof(standby_rows) / sizeof(standby_rows[0]); i++) {
			in = input_of(&standby_rows[i], triggers[t]);
			expect(standby_rows[i].name, decide(&in, why, sizeof(why)), why,
			       standby_rows[i].want, standby_rows[i].phrase);
		}
	}
}

/* The primary: the same columns; membership on. */
static const struct row primary_rows[] = {
	{ "corosync unreachable", 0, 1, 1, 0, 0, 1, 2, FENCE, 0, US_FENCE_DONE,
	  US_VERDICT_WAIT, "corosync is unreachable" },
	{ "standby still a member", 1, 1, 0, 0, 0, 1, 2, NULL, 0, US_FENCE_NONE,
	  US_VERDICT_WAIT, "the standby is a member of the group" },
	{ "stream still flowing", 1, 1, 1, 0, 0, 0, 2, NULL, 0, US_FENCE_NONE,
	  US_VERDICT_WAIT, "still flows" },
	{ "no quorum", 1, 0, 1, 0, 0, 1, 2, NULL, 0, US_FENCE_NONE,
	  US_VERDICT_WAIT, "no quorum" },
	{ "gone, two-node, no fence command", 1, 1, 1, 0, 0, 1, 2, NULL, 0, US_FENCE_NONE,
	  US_VERDICT_DEGRADE, "the standby left the group" },
	{ "gone, empty fence command", 1, 1, 1, 0, 0, 1, 2, "", 0, US_FENCE_NONE,
	  US_VERDICT_DEGRADE, "the standby left the group" },
	{ "gone, fence not started", 1, 1, 1, 0, 0, 1, 2, FENCE, 0, US_FENCE_NONE,
	  US_VERDICT_FENCE, "left the group: fencing its node first" },
	{ "gone, fence waiting", 1, 1, 1, 0, 0, 1, 2, FENCE, 0, US_FENCE_WAITING,
	  US_VERDICT_FENCE, "fencing its node first" },
	{ "gone, fence running", 1, 1, 1, 0, 0, 1, 2, FENCE, 0, US_FENCE_RUNNING,
	  US_VERDICT_FENCE, "fencing its node first" },
	{ "gone, fence done", 1, 1, 1, 0, 0, 1, 2, FENCE, 0, US_FENCE_DONE,
	  US_VERDICT_DEGRADE, "its node is fenced" },
	{ "gone, fence failed", 1, 1, 1, 0, 0, 1, 2, FENCE, 0, US_FENCE_FAILED,
	  US_VERDICT_REFUSE, "fencing its node failed" },
	{ "unusable, no fence command", 1, 1, 0, 0, 1, 1, 2, NULL, 0, US_FENCE_NONE,
	  US_VERDICT_DEGRADE, "lost its stream for good" },
	{ "unusable, fence not started", 1, 1, 0, 0, 1, 1, 2, FENCE, 0, US_FENCE_NONE,
	  US_VERDICT_FENCE, "lost its stream for good: fencing its node first" },
	{ "unusable, fence done", 1, 1, 0, 0, 1, 1, 2, FENCE, 0, US_FENCE_DONE,
	  US_VERDICT_DEGRADE, "its node is fenced" },
	{ "unusable, no quorum", 1, 0, 0, 0, 1, 1, 2, NULL, 0, US_FENCE_NONE,
	  US_VERDICT_WAIT, "no quorum" },
	{ "unusable, corosync unreachable", 0, 1, 0, 0, 1, 1, 2, NULL, 0, US_FENCE_NONE,
	  US_VERDICT_WAIT, "corosync is unreachable" },
	{ "standby left cleanly", 1, 1, 0, 1, 0, 1, 2, FENCE, 0, US_FENCE_NONE,
	  US_VERDICT_DEGRADE, "left the group cleanly" },
	{ "left cleanly, stream still up", 1, 1, 0, 1, 0, 0, 2, FENCE, 0, US_FENCE_NONE,
	  US_VERDICT_WAIT, "its stream still flows" },
};

static void primary_table(void **state)
{
	struct us_failover_cluster cl;
	char why[1024];
	size_t i;

	for (i = 0; i < sizeof(primary_rows) / sizeof(primary_rows[0]); i++) {
		cl = cluster_of(&primary_rows[i]);
		expect(primary_rows[i].name, standby_lost(&cl, why, sizeof(why)), why,
		       primary_rows[i].want, primary_rows[i].phrase);
	}
}

/* Everything says go: the primary left, silent, quorate, fenced. */
static const struct row go = { "go", 1, 1, 1, 0, 0, 1, 2, FENCE, 0, US_FENCE_DONE,
			       US_VERDICT_PROMOTE, "its node is fenced" };

static void already_active(void **state)
{
	struct us_failover_input in = input_of(&go, US_TRIGGER_OPERATOR);
	char why[256];

	in.active = 1;
	expect("operator, active", decide(&in, why, sizeof(why)), why, US_VERDICT_REFUSE,
	       "already active");
	in.trigger = US_TRIGGER_STREAM_LOST;
	expect("stream lost, active", decide(&in, why, sizeof(why)), why, US_VERDICT_REFUSE,
	       "already active");
	in.committed = US_EPOCH_NONE;	/* checked first: the more useful reason */
	expect("active, no epoch", decide(&in, why, sizeof(why)), why, US_VERDICT_REFUSE,
	       "already active");
}

static void no_committed_epoch(void **state)
{
	static const enum us_trigger triggers[] = { US_TRIGGER_OPERATOR, US_TRIGGER_STREAM_LOST,
						    US_TRIGGER_MEMBERSHIP };
	struct us_failover_input in;
	char why[256];
	size_t t;

	for (t = 0; t < 3; t++) {
		in = input_of(&go, triggers[t]);
		in.committed = US_EPOCH_NONE;
		expect("no epoch", decide(&in, why, sizeof(why)), why, US_VERDICT_REFUSE,
		       "no committed epoch");
		in.cl.membership = 0;
		expect("no epoch, no membership", decide(&in, why, sizeof(why)), why,
		       US_VERDICT_REFUSE, "no committed epoch");
	}
}

/* Suspended protection: output went out beyond the committed epoch, so no
 * trigger, the operator's included, promotes, and the reason says so. */
static void suspended_never_promotes(void **state)
{
	static const enum us_trigger triggers[] = { US_TRIGGER_OPERATOR, US_TRIGGER_STREAM_LOST,
						    US_TRIGGER_MEMBERSHIP };
	struct us_failover_input in;
	char why[512];
	size_t t;

	for (t = 0; t < 3; t++) {
		in = input_of(&go, triggers[t]);
		in.suspended = 1;
		in.suspended_after = 42;
		expect("suspended", decide(&in, why, sizeof(why)), why, US_VERDICT_REFUSE,
		       "protection is suspended: the primary released output beyond epoch 42");
		in.suspended = 0;
		assert_int_not_equal(decide(&in, why, sizeof(why)), US_VERDICT_REFUSE);
	}
}

/* Whatever the cluster says, an operator's request promotes from any
 * committed epoch, epoch 0 included. */
static void operator_always_promotes(void **state)
{
	struct us_failover_input in;
	char why[256];
	size_t i;

	for (i = 0; i < sizeof(standby_rows) / sizeof(standby_rows[0]); i++) {
		in = input_of(&standby_rows[i], US_TRIGGER_OPERATOR);
		in.committed = i % 2 ? 0 : 5;
		in.promote_auto = i % 3 != 0;
		expect(standby_rows[i].name, decide(&in, why, sizeof(why)), why,
		       US_VERDICT_PROMOTE, "operator request");
		in.cl.membership = 0;
		expect(standby_rows[i].name, decide(&in, why, sizeof(why)), why,
		       US_VERDICT_PROMOTE, "operator request");
	}
}

static void manual_waits(void **state)
{
	struct us_failover_input in = input_of(&go, US_TRIGGER_STREAM_LOST);
	char why[256];

	expect("auto", decide(&in, why, sizeof(why)), why, go.want, go.phrase);
	in.promote_auto = 0;
	expect("manual", decide(&in, why, sizeof(why)), why, US_VERDICT_WAIT, "promote = manual");
	in.cl.membership = 0;
	expect("manual, no membership", decide(&in, why, sizeof(why)), why, US_VERDICT_WAIT,
	       "promote = manual");
	in.trigger = US_TRIGGER_MEMBERSHIP;
	expect("manual, membership trigger", decide(&in, why, sizeof(why)), why,
	       US_VERDICT_WAIT, "promote = manual");
	in.promote_pacemaker = 1; /* Pacemaker's promote is the operator trigger */
	in.trigger = US_TRIGGER_STREAM_LOST;
	expect("pacemaker, stream lost", decide(&in, why, sizeof(why)), why, US_VERDICT_WAIT,
	       "promote = pacemaker");
	in.trigger = US_TRIGGER_OPERATOR;
	expect("pacemaker's promote", decide(&in, why, sizeof(why)), why, US_VERDICT_PROMOTE,
	       "operator request");
}

/* Without membership the cluster fields mean nothing: only a lost stream
 * promotes, even two-node without fencing (the old rule). */
static void membership_none(void **state)
{
	static const struct row quiet = { "quiet", 0, 0, 0, 0, 0, 0, 2, NULL, 0, US_FENCE_NONE,
					  0, NULL };
	static const struct row failed = { "failed", 1, 1, 1, 1, 1, 1, 2, FENCE, 0,
					   US_FENCE_FAILED, 0, NULL };
	const struct row *rows[] = { &quiet, &failed };
	struct us_failover_input in;
	char why[256];
	size_t i;

	for (i = 0; i < 2; i++) {
		in = input_of(rows[i], US_TRIGGER_STREAM_LOST);
		in.cl.membership = 0;
		expect(rows[i]->name, decide(&in, why, sizeof(why)), why, US_VERDICT_PROMOTE,
		       "membership = none");
		in.trigger = US_TRIGGER_MEMBERSHIP;
		expect(rows[i]->name, decide(&in, why, sizeof(why)), why, US_VERDICT_WAIT,
		       "membership = none");
	}
}

/* The primary: without membership it degrades (after its own grace period). */
static void primary_membership_none(void **state)
{
	static const struct row member = { "member", 1, 1, 0, 0, 0, 0, 2, FENCE, 0,
					   US_FENCE_FAILED, 0, NULL };
	struct us_failover_cluster cl = cluster_of(&member);
	char why[256];

	cl.membership = 0;
	expect("no membership", standby_lost(&cl, why, sizeof(why)), why, US_VERDICT_DEGRADE,
	       "membership = none");
}

/* peer_unusable (standby a member, stream gone for good) leads to the same
 * verdict as peer_gone in every situation of the cluster. */
static void primary_unusable_is_gone(void **state)
{
	static const char *const fences[] = { NULL, "", FENCE };
	struct us_failover_cluster gone, unusable;
	char why[512], why2[512];
	int mask, f, fs;

	for (mask = 0; mask < 8; mask++)
		for (f = 0; f < 3; f++)
			for (fs = US_FENCE_NONE; fs <= US_FENCE_FAILED; fs++) {
				struct row r = { "", mask & 1, !!(mask & 2), 1, 0, 0,
						 !!(mask & 4), 2, fences[f], 0, fs, 0,
						 NULL };

				gone = cluster_of(&r);
				unusable = gone;
				unusable.peer_gone = 0;
				unusable.peer_unusable = 1;
				assert_int_equal(standby_lost(&gone, why, sizeof(why)),
						 standby_lost(&unusable, why2, sizeof(why2)));
			}
}

/* The two-node rule binds only promotion: the primary with its standby gone
 * degrades whatever nodes and allow_unfenced say, where the standby in the
 * same cluster refuses. */
static void primary_ignores_two_node_rule(void **state)
{
	static const struct row gone = { "two-node", 1, 1, 1, 0, 0, 1, 2, NULL, 0,
					 US_FENCE_NONE, 0, NULL };
	struct us_failover_input in = input_of(&gone, US_TRIGGER_MEMBERSHIP);
	char why[1024];
	int allow;

	expect("standby side", decide(&in, why, sizeof(why)), why, US_VERDICT_REFUSE,
	       "split brain");
	for (allow = 0; allow < 2; allow++) {
		in.cl.allow_unfenced = allow;
		expect("primary side", standby_lost(&in.cl, why, sizeof(why)), why,
		       US_VERDICT_DEGRADE, "the standby left the group");
		assert_null(strstr(why, "refused"));
	}
}

/* A short buffer gets a truncated, terminated reason and the same verdict. */
static void short_why(void **state)
{
	static const struct row two = { "two-node", 1, 1, 1, 0, 0, 1, 2, NULL, 0, US_FENCE_NONE,
					0, NULL };
	struct us_failover_input in = input_of(&two, US_TRIGGER_STREAM_LOST);
	char buf[32];

	memset(buf, 'x', sizeof(buf));
	assert_int_equal(us_failover_decide(&in, buf, 16), US_VERDICT_REFUSE);
	assert_int_equal(strlen(buf), 15);
	assert_int_equal(buf[16], 'x');
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(us_failover_standby_lost(&in.cl, buf, 16), US_VERDICT_DEGRADE);
	assert_int_equal(strlen(buf), 15);
	assert_int_equal(buf[16], 'x');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(standby_table),
		cmocka_unit_test(primary_table),
		cmocka_unit_test(already_active),
		cmocka_unit_test(no_committed_epoch),
		cmocka_unit_test(operator_always_promotes),
		cmocka_unit_test(manual_waits),
		cmocka_unit_test(membership_none),
		cmocka_unit_test(primary_membership_none),
		cmocka_unit_test(primary_unusable_is_gone),
		cmocka_unit_test(primary_ignores_two_node_rule),
		cmocka_unit_test(short_why),
		cmocka_unit_test(suspended_never_promotes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
