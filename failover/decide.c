/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The decisions of a failover (see failover.h), in one place and free of I/O
 * so a unit test walks every branch. The standby may promote when:
 *   an operator asks, or
 *   without membership: the stream is lost (the old, unsafe rule), or
 *   with membership: the primary left the group, the stream is silent, the
 *   cluster is quorate, and the primary's node is fenced (or the operator
 *   accepted running unfenced), or
 *   with [failover] decide = silence (the fast mode), also: the primary's
 *   stream was silent for silence_ms while corosync has not decided yet.
 *   That silence starts the fence at once, and the fence decides: the
 *   standby promotes only once it confirmed the primary's node is off, and
 *   never when it failed. A silent stream decides in this mode, so the
 *   primary must never be silent while alive: it sends a KEEPALIVE every
 *   silence_ms / 3 whatever it does (replicator/loss.c), and this host's own
 *   stalls do not count as the primary's silence (us_failover_silence). A
 *   false suspicion (a live primary whose stream stalled) costs an unneeded
 *   takeover, never a second active copy: its node is off before this one
 *   runs. A primary that left the group cleanly (stopped by an operator) is
 *   never fenced: the stream's silence gives corosync silence_ms to say so.
 * The primary degrades on the mirror rule; it fences the standby first so
 * that, in a partition, the side that fences first is the only one running.
 * The two-node rule binds only promotion: without a fence command a standby
 * configured like its primary never promotes by itself, so the primary may
 * run on unprotected.
 */
#include <config.h>

#include <stdio.h>

#include "failover/failover.h"
#include "heartbeat/fence.h"
#include "heartbeat/peer.h"
#include "replicator/proto.h"

/* Membership's part, shared by both roles: WAIT, REFUSE, FENCE, or @go. */
static enum us_verdict cluster_rule(const struct us_failover_cluster *cl, const char *peer,
				    enum us_verdict go, char *why, size_t whylen)
{
	char policy[512] = "no fence command: a standby configured alike never promotes by itself";

	if (!cl->connected) {
		snprintf(why, whylen, "corosync is unreachable: membership unknown, nothing is "
			 "decided until it is back");
		return US_VERDICT_WAIT;
	}
	if (!cl->peer_gone && !cl->peer_unusable) {
		snprintf(why, whylen, "the %s is a member of the group: nothing to decide (a lost "
			 "stream is a suspicion only)", peer);
		return US_VERDICT_WAIT;
	}
	if (!cl->stream_silent) {
		snprintf(why, whylen, "the %s left the group but its replication stream still "
			 "flows: waiting", peer);
		return US_VERDICT_WAIT;
	}
	if (!cl->quorate) {
		snprintf(why, whylen, "the %s left the group but this partition has no quorum", peer);
		return US_VERDICT_WAIT;
	}
	if (go == US_VERDICT_PROMOTE &&
	    us_fence_policy(cl->nodes, cl->fence_command, cl->allow_unfenced, policy,
			    sizeof(policy)) < 0) {
		snprintf(why, whylen, "%s", policy);
		return US_VERDICT_REFUSE;
	}
	if (!cl->fence_command || !*cl->fence_command || cl->fence_state == US_FENCE_DONE) {
		snprintf(why, whylen, "the %s %s (%s)", peer, cl->peer_gone ? "left the group"
			 : "lost its stream for good",
			 cl->fence_state == US_FENCE_DONE ? "and its node is fenced" : policy);
		return go;
	}
	if (cl->fence_state == US_FENCE_FAILED) {
		snprintf(why, whylen, "the %s %s but fencing its node failed: fix the fence command "
			 "and act by hand once the node is off", peer,
			 cl->peer_gone ? "left the group" : "lost its stream for good");
		return US_VERDICT_REFUSE;
	}
	snprintf(why, whylen, "the %s %s: fencing its node first", peer,
		 cl->peer_gone ? "left the group" : "lost its stream for good");
	return US_VERDICT_FENCE;
}

/* decide = silence: the fence, started by a silent stream, decides. */
static enum us_verdict silence_rule(const struct us_failover_cluster *cl, char *why,
				    size_t whylen)
{
	if (cl->fence_state == US_FENCE_DONE) {
		snprintf(why, whylen, "the primary's node is fenced: it is off (decide = silence)");
		return US_VERDICT_PROMOTE;
	}
	if (cl->fence_state == US_FENCE_FAILED) {
		snprintf(why, whylen, "fencing the primary's node failed: it may still run the VM; "
			 "fix the fence command and act by hand once the node is off");
		return US_VERDICT_REFUSE;
	}
	if (cl->fence_state != US_FENCE_NONE) {
		snprintf(why, whylen, "the primary's stream is silent or it left the group: "
			 "fencing its node first");
		return US_VERDICT_FENCE;
	}
	if (cl->silent_ms < cl->silence_ms)
		return cluster_rule(cl, "primary", US_VERDICT_PROMOTE, why, whylen);
	if (!cl->fence_command || !*cl->fence_command) {
		snprintf(why, whylen, "[failover] decide = silence without a fence command: a "
			 "silent stream proves nothing until the primary's node is fenced");
		return US_VERDICT_REFUSE;
	}
	snprintf(why, whylen, "the primary's stream was silent for %lu ms (silence_ms %u, "
		 "decide = silence): fencing its node first", (unsigned long)cl->silent_ms,
		 cl->silence_ms);
	return US_VERDICT_FENCE;
}

uint64_t us_failover_silence(struct us_silence_watch *w, uint64_t now_ms, uint64_t last_ms,
			     unsigned gap_ms)
{
	uint64_t from;

	if (!w->look_ms || now_ms < w->look_ms || now_ms - w->look_ms >= gap_ms)
		w->awake_ms = now_ms;
	w->look_ms = now_ms;
	from = last_ms > w->awake_ms ? last_ms : w->awake_ms;
	return now_ms > from ? now_ms - from : 0;
}

enum us_verdict us_failover_decide(const struct us_failover_input *in, char *why, size_t whylen)
{
	if (in->active) {
		snprintf(why, whylen, "already active");
		return US_VERDICT_REFUSE;
	}
	if (in->committed == US_EPOCH_NONE) {
		snprintf(why, whylen, "no committed epoch: the sync from the primary (the initial "
			 "one, or a resync, which replaces what this standby held) never completed, "
			 "so there is no consistent state to resume from");
		return US_VERDICT_REFUSE;
	}
	if (in->suspended) {
		snprintf(why, whylen, "protection is suspended: the primary released output beyond "
			 "epoch %lu, so promoting this replica would roll its clients back; it is "
			 "promotable again once the first epoch after resume-protection commits",
			 (unsigned long)in->suspended_after);
		return US_VERDICT_REFUSE;
	}
	if (in->trigger == US_TRIGGER_OPERATOR) {
		snprintf(why, whylen, "operator request");
		return US_VERDICT_PROMOTE;
	}
	if (!in->promote_auto) {
		snprintf(why, whylen, in->promote_pacemaker
			 ? "[failover] promote = pacemaker: Pacemaker decides; waiting for the "
			   "resource agent's promote (after it fenced the primary's node)"
			 : "[failover] promote = manual: waiting for `understudy promote`");
		return US_VERDICT_WAIT;
	}
	if (!in->cl.membership) {
		if (in->trigger != US_TRIGGER_STREAM_LOST) {
			snprintf(why, whylen, "[heartbeat] membership = none: only a lost stream "
				 "decides");
			return US_VERDICT_WAIT;
		}
		snprintf(why, whylen, "replication stream from the primary lost "
			 "([heartbeat] membership = none)");
		return US_VERDICT_PROMOTE;
	}
	if (in->cl.peer_left) {
		snprintf(why, whylen, "the primary's daemon left the group cleanly (stopped by an "
			 "operator): not promoting; `understudy promote` takes over by hand");
		return US_VERDICT_WAIT;
	}
	if (in->cl.decide_silence)
		return silence_rule(&in->cl, why, whylen);
	return cluster_rule(&in->cl, "primary", US_VERDICT_PROMOTE, why, whylen);
}

enum us_verdict us_failover_standby_lost(const struct us_failover_cluster *cl, char *why,
					 size_t whylen)
{
	if (!cl->membership) {
		snprintf(why, whylen, "standby lost ([heartbeat] membership = none)");
		return US_VERDICT_DEGRADE;
	}
	if (cl->peer_left) {
		snprintf(why, whylen, "the standby's daemon left the group cleanly%s",
			 cl->stream_silent ? "" : " but its stream still flows: waiting");
		return cl->stream_silent ? US_VERDICT_DEGRADE : US_VERDICT_WAIT;
	}
	return cluster_rule(cl, "standby", US_VERDICT_DEGRADE, why, whylen);
}
