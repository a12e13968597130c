/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The primary losing its standby: a liveness check on the ACK stream, the
 * standby's membership in the VM's Corosync group, fencing it, and degraded
 * mode. Output stays held until the decision point (failover/decide.c) says
 * DEGRADE:
 *
 *   event                                     action
 *   stream closed, or no ACK for too long     drop the stream, ask
 *   standby left the group                    ask (silent stream: fence)
 *   stream lost for peer_timeout_ms although  ask (a standby without its
 *   the standby is a member                   stream is of no use: fence it)
 *   membership, quorum or fencing changed     ask
 *   verdict fence                             fence the standby's node after
 *                                             fence_delay_ms (the standby,
 *                                             fencing at once, wins a partition)
 *   verdict degrade                           drop the stream, release output
 *                                             without ACKs
 *   any of these while the standby is mid-    no fence, no verdict: it holds
 *   sync (nothing promotable sent yet)        nothing it could promote
 *                                             (failover/reprotect.c goes on
 *                                             syncing)
 *
 * With [heartbeat] membership = none the old rule holds: degrade once the
 * stream has been lost for degraded_grace_ms.
 */
#include <config.h>

#include <errno.h>
#include <string.h>

#include "failover/failover.h"
#include "heartbeat/peer.h"
#include "replicator/log.h"
#include "replicator/primary_int.h"

#define LIVENESS_MS 100
#define KEEPALIVE_MS 250

/* How long the standby has owed us an ACK without a word: since the oldest
 * unacknowledged epoch was sent or since its last message, whichever is
 * later. 0 while nothing is owed (the initial sync is not acknowledged until
 * its epoch 0, a paused guest sends no epochs). */
static uint64_t owed_ms(const struct us_primary *p)
{
	uint64_t e = p->acked == US_EPOCH_NONE ? 0 : p->acked + 1;
	const struct epoch_times *t = &p->hist[e % 256];
	uint64_t idle = us_transport_idle_ms(p->tx), since;

	if (p->phase < PH_IDLE)
		return 0;
	if (us_epoch_inflight(p) == 0 || t->epoch != e || !t->sent_ms)
		return 0;
	since = us_epoch_now_us() / 1000 - t->sent_ms;
	return since < idle ? since : idle;
}

/* No word from the standby for @ms while it owes us one (or no stream). */
static int silent_for(const struct us_primary *p, unsigned ms)
{
	return !p->tx || owed_ms(p) > ms;
}

static void degrade(struct us_primary *p, const char *why)
{
	if (p->degraded)
		return;
	p->degraded = 1;
	us_log(LOG_CRIT, US_TAG_PRIMARY,
	       "DEGRADED: %s; VM '%s' runs UNPROTECTED and its output "
	       "is released without acknowledgements",
	       why, p->cfg->vm.name);
	us_primary_pass_output(p);
	us_primary_switch_abort(p, "the standby was lost before it took the VM, and is now "
				   "known gone");
	if (p->cfg->reprotect_auto)
		us_primary_seek(p, "the standby was lost");
}

static void on_grace(void *data)
{
	struct us_primary *p = data;
	char why[64];

	p->grace_timer = 0;
	snprintf(why, sizeof(why), "standby gone for %u ms", p->cfg->degraded_grace_ms);
	degrade(p, why);
}

/*
 * Silence must mean death: a standby of [failover] decide = silence fences
 * this host when its stream is quiet for silence_ms. So whatever the primary
 * is doing (the guest held by `understudy pause`, suspended protection, a
 * long checkpoint, the initial sync waiting for the disk hashes, a
 * switchover) a KEEPALIVE goes out every us_primary_keepalive_ms, on a timer
 * of its own at high priority; the HELLO promised that interval. Not before
 * the handshake (the standby reads nothing but HELLO and AUTH then), and not
 * behind queued sends: their bytes already reach the standby.
 */
unsigned us_primary_keepalive_ms(const struct us_config *c)
{
	unsigned ms = c->silence_ms / 3;

	return ms > KEEPALIVE_MS ? KEEPALIVE_MS : ms ? ms : 1;
}

static void keepalive(void *data)
{
	struct us_primary *p = data;

	p->ka_timer = 0;
	if (p->tx && p->phase > PH_HANDSHAKE && p->phase != PH_HANDED &&
	    !us_transport_busy(p->tx) &&
	    us_transport_send_msg(p->tx, US_MSG_KEEPALIVE, p->epoch, NULL, 0) == 0)
		p->keepalive_ms = us_epoch_now_us() / 1000;
	qb_loop_timer_add(p->loop, QB_LOOP_HIGH, us_primary_keepalive_ms(p->cfg) * 1000000ULL, p,
			  keepalive, &p->ka_timer);
}

static void log_verdict(struct us_primary *p, const char *why)
{
	if (strcmp(p->last_why, why) == 0)
		return;
	snprintf(p->last_why, sizeof(p->last_why), "%s", why);
	us_log(LOG_WARNING, US_TAG_PRIMARY, "standby loss: %s", why);
}

static void drop_stream(struct us_primary *p, const char *why)
{
	p->lost = 1;
	p->lost_ms = us_epoch_now_us() / 1000;
	us_log(LOG_CRIT, US_TAG_PRIMARY,
	       "LOST THE STANDBY (%s): VM '%s' is no longer protected; "
	       "last acknowledged epoch %ld; output held until %s",
	       why, p->cfg->vm.name, (long)p->acked,
	       p->peer			   ? "corosync confirms the standby is gone"
	       : p->cfg->promote_pacemaker ? "Pacemaker fences it"
					   : "the grace period ends");
	if (p->tx)
		us_transport_free(p->tx);
	p->tx = NULL;
	us_pdisk_unreplicated(&p->disk);
	if (p->phase != PH_CHECKPOINT && p->phase != PH_PAUSED && p->phase != PH_SWITCHING &&
	    p->phase != PH_HANDING)
		p->phase = PH_DEGRADED;
	if (p->pause_req) {
		us_ctl_reply_error(p->pause_req, "standby lost before the epoch was acknowledged");
		p->pause_req = NULL;
	}
}

/* The stream is closed, or owes an ACK for longer than silence_ms (before
 * epoch 0 is acknowledged the standby holds nothing, so any time counts). */
static int stream_silent(const struct us_primary *p)
{
	return !p->tx || p->acked == US_EPOCH_NONE || silent_for(p, p->cfg->silence_ms);
}

/* Ask the decision point what the standby's state means now, and do it. The
 * stream is kept until the verdict is DEGRADE: a membership flap that ends
 * before the fence (the standby rejoins, ACKs resume) costs nothing. */
static void evaluate(struct us_primary *p)
{
	struct us_failover_cluster cl = {
		.membership = 1,
		.connected = us_peer_connected(p->peer),
		.quorate = us_peer_quorate(p->peer),
		.peer_gone = us_peer_state(p->peer) == US_PEER_GONE,
		.peer_left = us_peer_state(p->peer) == US_PEER_LEFT,
		.stream_silent = stream_silent(p),
		.nodes = us_peer_nodes(p->peer, p->cfg->nodes),
		.peer_unusable =
			p->lost && us_epoch_now_us() / 1000 - p->lost_ms > p->cfg->peer_timeout_ms,
		.fence_command = p->cfg->fence_command,
		.allow_unfenced = p->cfg->allow_unfenced,
		.fence_state = us_peer_fence_state(p->peer),
	};
	char why[512];
	enum us_verdict v;

	if (p->seeking && !p->seek_sent)
		return; /* the standby holds nothing it could promote: no fence (failover/reprotect.c) */
	if ((cl.peer_gone || cl.peer_left) && p->tx &&
	    us_primary_seek_lost(p, "the standby left the VM's group mid-sync"))
		return;
	if (p->degraded || (!p->lost && !(cl.peer_gone || cl.peer_left)))
		return;
	v = us_failover_standby_lost(&cl, why, sizeof(why));
	log_verdict(p, why);
	if (v == US_VERDICT_FENCE &&
	    us_peer_fence_named(p->peer, p->cfg->peer_node, p->cfg->fence_delay_ms) < 0) {
		log_verdict(p, "cannot fence the standby: its node name is unknown (name it in "
			       "[replication] hosts); output stays held");
	} else if (v == US_VERDICT_DEGRADE) {
		if (p->tx)
			drop_stream(p, "the standby is gone");
		degrade(p, why);
	}
}

void us_primary_no_standby(struct us_primary *p, const char *why)
{
	drop_stream(p, why);
	if (p->peer)
		evaluate(p);
	else if (p->cfg->promote_pacemaker)
		log_verdict(p, "[failover] promote = pacemaker: output stays held until "
			       "Pacemaker fences the standby's node and the resource agent runs "
			       "`understudy degrade`");
	else
		qb_loop_timer_add(p->loop, QB_LOOP_HIGH, p->cfg->degraded_grace_ms * 1000000ULL, p,
				  on_grace, &p->grace_timer);
}

void us_primary_lost_standby(struct us_primary *p, const char *why)
{
	p->member_pending = 0; /* no standby to wait for */
	if (!p->tx || us_primary_seek_lost(p, why))
		return;
	us_primary_no_standby(p, why);
}

/*
 * Protected again, but the standby's daemon not yet in this host's group:
 * the sync can be quicker than corosync's merge of the returning node, and
 * until the standby has seen this host's node (wait_for_all) it can neither
 * be quorate nor see this host leave, so it cannot take over. Said once at
 * protection, and once more when the member arrives (cluster_changed).
 */
void us_primary_member_check(struct us_primary *p)
{
	int member = !p->peer || us_peer_state(p->peer) == US_PEER_MEMBER;

	if (!member && !p->member_pending)
		us_log(LOG_NOTICE, US_TAG_PRIMARY,
		       "the standby's daemon is not yet a member of this host's corosync group: "
		       "until it is, it cannot take over if this host fails");
	else if (member && p->member_pending)
		us_log(LOG_NOTICE, US_TAG_PRIMARY,
		       "the standby's daemon joined the corosync group: it can take over from now "
		       "on");
	p->member_pending = !member;
}

static void cluster_changed(void *opaque)
{
	struct us_primary *p = opaque;

	if (p->member_pending)
		us_primary_member_check(p);

	/* a standby joined the VM's group: look for it now, not at the next retry */
	if ((p->seeking || p->switch_waiting) && !p->tx && p->phase == PH_CONNECTING &&
	    us_peer_state(p->peer) == US_PEER_MEMBER)
		us_primary_connect_later(p, 0);
	evaluate(p);
}

void us_primary_note_image(struct us_primary *p, int force)
{
	int protected_now = p->tx && !p->lost && !p->seeking && !p->degraded && !p->suspended &&
			    p->acked != US_EPOCH_NONE;
	struct us_imgstate now = {
		.lineage = p->lineage,
		.epoch = p->acked == US_EPOCH_NONE ? -1 : (int64_t)p->acked,
		.synced = 1,
	};

	if (p->acked != p->img_rec_acked) /* a new acknowledgement: nothing beyond it yet */
		p->img_released = 0;
	p->img_rec_acked = p->acked;
	if (!protected_now && !p->demoted && !p->handoff)
		p->img_released = 1; /* output flows unacknowledged: sticky until the next ACK */
	now.released = p->img_released;

	if (us_pdisk_on(&p->disk))
		us_imgstate_note(&p->img_rec, p->cfg->vm.disk, &now, force);
}

static void check_liveness(void *data)
{
	struct us_primary *p = data;
	char why[96];

	p->live_timer = 0;
	us_primary_note_image(p, 0);
	if (p->switch_waiting && !p->tx &&
	    us_epoch_now_us() / 1000 - p->switch_since_ms > p->cfg->peer_timeout_ms) {
		p->switch_waiting = 0;
		us_primary_no_standby(p, "the old primary did not come back as the standby");
	}
	if (p->tx && silent_for(p, p->cfg->peer_timeout_ms)) {
		snprintf(why, sizeof(why), "no acknowledgement for %lu ms",
			 (unsigned long)owed_ms(p));
		us_primary_lost_standby(p, why);
	}
	if (p->peer) /* the stream may have fallen silent; "for good" after a while */
		evaluate(p);
	qb_loop_timer_add(p->loop, QB_LOOP_LOW, LIVENESS_MS * 1000000ULL, p, check_liveness,
			  &p->live_timer);
}

/* Once a second: the ACK rate for status, and our epoch to the group. */
void us_primary_acked(struct us_primary *p)
{
	uint64_t now = us_epoch_now_us() / 1000;

	p->acks_window++;
	if (now - p->announced_ms < 1000)
		return;
	p->epochs_per_s = p->announced_ms ? p->acks_window * 1000.0 / (now - p->announced_ms) : 0;
	p->acks_window = 0;
	p->announced_ms = now;
	if (p->peer)
		us_peer_announce(p->peer, US_HB_ROLE_PRIMARY, p->acked);
}

static int peer_up(struct us_primary *p)
{
	struct us_peer_opts o = { .vm = p->cfg->vm.name,
				  .node = p->cfg->node,
				  .self = US_HB_ROLE_PRIMARY,
				  .fence_command = p->cfg->fence_command,
				  .fence_timeout_ms = p->cfg->fence_timeout_ms };

	p->peer = us_peer_new(p->loop, &o, cluster_changed, p);
	if (!p->peer)
		return -errno;
	us_peer_announce(p->peer, US_HB_ROLE_PRIMARY, US_EPOCH_NONE);
	return 0;
}

/*
 * A new standby is wanted: the watch of the last one (gone, fenced) goes. The
 * primary stays in the group: leaving and joining again took up to 2 s of
 * corosync's EAGAIN, and a standby that came and went meanwhile was never
 * seen, its lost stream then read as a standby that may promote, and its host
 * fenced (broken_sync.sh in CI).
 */
void us_primary_peer_renew(struct us_primary *p)
{
	if (!p->peer || (us_peer_state(p->peer) == US_PEER_UNKNOWN &&
			 us_peer_fence_state(p->peer) == US_FENCE_NONE))
		return;
	us_peer_rewatch(p->peer);
	us_peer_announce(p->peer, US_HB_ROLE_PRIMARY, US_EPOCH_NONE); /* a new session's */
}

int us_primary_loss_up(struct us_primary *p)
{
	qb_loop_timer_add(p->loop, QB_LOOP_LOW, LIVENESS_MS * 1000000ULL, p, check_liveness,
			  &p->live_timer);
	qb_loop_timer_add(p->loop, QB_LOOP_HIGH, us_primary_keepalive_ms(p->cfg) * 1000000ULL, p,
			  keepalive, &p->ka_timer);
	if (p->cfg->promote_pacemaker) {
		us_log(LOG_NOTICE, US_TAG_PRIMARY,
		       "[failover] promote = pacemaker: a lost standby holds output until "
		       "Pacemaker has fenced it and the resource agent runs `understudy degrade`");
		return 0;
	}
	if (!p->cfg->membership) {
		us_log(LOG_WARNING, US_TAG_PRIMARY,
		       "[heartbeat] membership = none: output is "
		       "released %u ms after the standby is lost, whatever the reason",
		       p->cfg->degraded_grace_ms);
		return 0;
	}
	return peer_up(p);
}

void us_primary_loss_down(struct us_primary *p)
{
	qb_loop_timer_del(p->loop, p->live_timer);
	qb_loop_timer_del(p->loop, p->ka_timer);
	qb_loop_timer_del(p->loop, p->grace_timer);
	us_peer_free(p->peer);
	p->peer = NULL;
}

int us_primary_degrade(struct us_primary *p, char *why, size_t len)
{
	if (p->degraded || (p->seeking && !p->tx))
		return 0; /* unprotected already: output flows */
	if (!p->lost && p->cfg->promote_pacemaker && p->tx) {
		/* Pacemaker stopped or fenced the standby: its stream is dead */
		us_primary_no_standby(p, "Pacemaker stopped the standby's instance");
	} else if (!p->lost) {
		snprintf(why, len, "the standby is connected: nothing to degrade from");
		return -EBUSY;
	}
	degrade(p, "operator request (`understudy degrade`)");
	return 0;
}

/* Whether the standby would take over if this host failed now ("yes"), or why not. */
static const char *takeover(const struct us_primary *p)
{
	if (p->phase == PH_SWITCHING || p->phase == PH_HANDING || p->handoff || p->demoted ||
	    p->switch_waiting)
		return "no: a switchover is under way";
	if (p->seeking)
		return p->tx ? "no: the standby is still being synced" : "no: no standby";
	if (p->degraded || !p->tx || p->lost)
		return "no: no standby";
	if (p->suspended)
		return "no: protection is suspended";
	if (p->acked == US_EPOCH_NONE)
		return "no: the standby has committed no epoch yet";
	if (p->peer && us_peer_state(p->peer) != US_PEER_MEMBER)
		return "no: the standby's daemon is not in this host's corosync group yet";
	return "yes";
}

void us_primary_loss_status(const struct us_primary *p, json_t *o)
{
	if (p->peer)
		us_peer_status(p->peer, o);
	json_object_set_new(o, "epochs_per_s", json_real(p->lost ? 0 : p->epochs_per_s));
	json_object_set_new(o, "membership_mode", json_string(p->peer ? "corosync" : "none"));
	json_object_set_new(o, "output",
			    json_string(p->degraded ? "released-unprotected"
					: p->lost   ? "held"
						    : "committed"));
	json_object_set_new(o, "decision", json_string(p->last_why));
	json_object_set_new(o, "takeover", json_string(takeover(p)));
}
