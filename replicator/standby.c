/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The standby daemon's life (see standby.h):
 *
 *   state      event                     action
 *   waiting    primary connects          HELLO handled by the receiver
 *   receiving  epoch committed           keep its device state
 *   receiving  stream closed or silent   discard torn epoch, ask the decision point
 *   any        membership/fence changed  ask the decision point
 *   any        verdict fence             fence the primary's node
 *   any        verdict promote           drop the stream, load device state, cont
 *   active     primary connects          refuse: this host runs the VM now
 *   active     reprotect = auto, or      hand the running QEMU, its RAM, disk
 *              `understudy reprotect`    and NIC to the primary role (role.c)
 *   receiving  SWITCHOVER(n), n the      load n's device state, hold output,
 *              committed epoch           SWITCHED(n)              -> switching
 *   switching  the old primary closes    hand the stopped QEMU to the primary
 *              (or 2 s pass)             role, which arms tracking and conts
 *   receiving  SUSPEND(n)                not promotable: the primary releases
 *                                        output beyond epoch n
 *   receiving  an epoch after n commits  promotable again
 *
 * With [heartbeat] membership = corosync a lost stream only prepares (the
 * torn epoch is discarded); the decision waits for the primary to leave the
 * group and, in two-node mode, for its node to be fenced. With [failover]
 * decide = silence the stream's own silence (silence_ms, as this host could
 * hear it: see us_failover_silence) starts the fence at once and the fence
 * decides; the standby then looks every silence_ms / 5 (at least every
 * SILENCE_LOOK_MS), and refuses a primary whose HELLO promises keepalives rarer
 * than silence_ms / 3.
 */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "failover/failover.h"
#include "heartbeat/peer.h"
#include "rdma/transport.h"
#include "replicator/chanauth.h"
#include "replicator/ctl.h"
#include "replicator/handover.h"
#include "replicator/devstate.h"
#include "check/daemon.h"
#include "disk/hashsend.h"
#include "disk/image.h"
#include "disk/imgstate.h"
#include "disk/nbd.h"
#include "replicator/log.h"
#include "replicator/qemu.h"
#include "replicator/qmp.h"
#include "replicator/ramfile.h"
#include "replicator/receiver.h"
#include "replicator/standby.h"
#include "replicator/vmnet.h"

#define LIVENESS_MS 100
#define PARK_POLL_MS 50
#define QUIET_LOG_MS 100   /* decide = silence: log quiet spells this long */
#define SILENCE_LOOK_MS 20 /* decide = silence: look at least this often */

enum sb_state { SB_WAITING, SB_RECEIVING, SB_ACTIVE, SB_SWITCHING };

static const char *const state_names[] = {
	[SB_WAITING] = "waiting",
	[SB_RECEIVING] = "receiving",
	[SB_ACTIVE] = "active",
	[SB_SWITCHING] = "switching",
};

#define SWITCH_WAIT_MS 2000 /* for the old primary to close after SWITCHED */
#define SWITCH_ASK_MS 10000 /* for the primary to act on SWITCH_ASK */

struct us_standby {
	const struct us_config *cfg;
	qb_loop_t *loop;
	enum sb_state state;
	int exit_rc;
	struct us_ramfile ram;
	struct us_qemu *qemu;
	struct us_qmp *qmp;
	struct us_receiver *rx;
	struct us_ctl *ctl;
	struct us_listener *listener;
	struct us_relay *relay; /* NULL when the VM has no NIC */
	char net_sock[PATH_MAX];
	struct us_image *img;	    /* the replica image, NULL without [vm] disk */
	struct us_nbd *nbd;	    /* serves it to the parked (later, running) QEMU */
	struct us_hashsend *hashes; /* the image's block hashes, going to the primary */
	char disk_sock[PATH_MAX];
	struct us_transport *tx;
	qb_loop_timer_handle liveness;
	uint64_t lost_ms; /* when the stream was lost */
	uint64_t promoted_epoch;
	uint64_t takeover_ms; /* stream lost to guest running */
	char dev_sock[PATH_MAX];
	struct us_peer *peer; /* NULL with [heartbeat] membership = none */
	char last_why[256];   /* the last verdict logged, to log changes only */
	uint64_t announced_ms;
	struct us_handover *h;	       /* the loop; filled when the primary role takes over */
	int handing_over;	       /* promoted, and the primary role is next */
	uint64_t switch_t0_us;	       /* SWITCHOVER arrived */
	uint64_t switch_primary_us;    /* the old primary's part of the pause */
	struct us_ctl_req *switch_req; /* switchover asked here, answered once taken */
	int suspended;		       /* the primary suspended protection ... */
	uint64_t suspended_after;      /* ... after this epoch: not promotable */
	uint64_t switch_asked_ms;
	int handoff; /* the primary demoted at handoff_epoch: ours to run */
	uint64_t handoff_epoch;
	uint64_t handoff_us; /* when its HANDOFF came */
	/* Pacemaker promoted a replica no primary runs: the primary role
	 * boots the guest from this host's image */
	int cold_boot;
	qb_loop_signal_handle sig_term, sig_int;
	qb_loop_timer_handle park_timer;   /* the parked QEMU still starting */
	struct us_imgstate_writer img_rec; /* the replica image's state record */
	struct us_chanauth auth;	   /* the channel's key and handshake */
	struct us_silence_watch watch;	   /* decide = silence: the stream's silence */
	uint64_t silent_ms;		   /* ... as of the last look */
	uint64_t quiet_peak;		   /* the longest look of this quiet spell */
	uint64_t quiet_max;		   /* the longest quiet spell that ended */
};

static void drop_tx(struct us_standby *s);

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t now_ms(void)
{
	return now_us() / 1000;
}

/* ---- promotion ---- */

static uint64_t committed(const struct us_standby *s)
{
	struct us_receiver_stats st;

	us_receiver_stats(s->rx, &st);
	return st.committed;
}

static void cluster_input(struct us_standby *s, struct us_failover_cluster *cl)
{
	const struct us_config *c = s->cfg;

	cl->membership = s->peer != NULL;
	cl->stream_silent = !s->tx || us_transport_idle_ms(s->tx) > c->silence_ms;
	cl->decide_silence = c->decide_silence;
	cl->silent_ms = s->silent_ms;
	cl->silence_ms = c->silence_ms;
	cl->nodes = c->nodes;
	cl->fence_command = c->fence_command;
	cl->allow_unfenced = c->allow_unfenced;
	if (!s->peer)
		return;
	cl->connected = us_peer_connected(s->peer);
	cl->quorate = us_peer_quorate(s->peer);
	cl->nodes = us_peer_nodes(s->peer, c->nodes);
	cl->peer_gone = us_peer_state(s->peer) == US_PEER_GONE;
	cl->peer_left = us_peer_state(s->peer) == US_PEER_LEFT;
	cl->fence_state = us_peer_fence_state(s->peer);
}

/* Log a verdict when it differs from the last one logged. */
static void log_verdict(struct us_standby *s, enum us_verdict v, const char *why)
{
	static const char *const words[] = {
		[US_VERDICT_WAIT] = "deferred",	 [US_VERDICT_PROMOTE] = "decided",
		[US_VERDICT_REFUSE] = "refused", [US_VERDICT_FENCE] = "waits for fencing",
		[US_VERDICT_DEGRADE] = "?",
	};

	if (strcmp(s->last_why, why) == 0)
		return;
	snprintf(s->last_why, sizeof(s->last_why), "%s", why);
	us_log(v == US_VERDICT_PROMOTE ? LOG_NOTICE : LOG_WARNING, US_TAG_FAILOVER,
	       "promotion %s: %s", words[v], why);
}

/* Promoted: the primary role goes on with this QEMU once the loop returns. */
static void hand_over(struct us_standby *s)
{
	s->handing_over = 1;
	qb_loop_stop(s->loop);
}

static int do_promote(struct us_standby *s, char *why, size_t whylen)
{
	if (!s->qmp) {
		snprintf(why, whylen, "promotion waits: the parked QEMU is still starting");
		return -EAGAIN;
	}
	struct us_promote_args a = { .qmp = s->qmp,
				     .sock_path = s->dev_sock,
				     .announce = s->cfg->vm.mac[0] != 0,
				     .timeout_ms = 10000,
				     .disk_fd = s->img ? us_image_fd(s->img) : -1 };
	struct us_receiver_stats st;
	uint64_t t0 = now_ms(), epoch = committed(s);
	int rc;

	if (s->tx) { /* a fenced primary's stream: its torn epoch goes */
		s->lost_ms = now_ms() - us_transport_idle_ms(s->tx);
		drop_tx(s);
		us_receiver_reset(s->rx);
	}
	a.devstate = us_receiver_devstate(s->rx, &a.devstate_len);
	us_receiver_stats(s->rx, &st);
	if (st.disk_failed) {
		snprintf(why, whylen,
			 "promotion refused: an acknowledged epoch never reached the "
			 "replica image (see the log): its disk is not the committed one");
		return -EIO;
	}
	rc = us_failover_promote(&a);
	if (rc < 0) {
		snprintf(why, whylen, "promotion failed: %s", strerror(-rc));
		return rc;
	}
	s->state = SB_ACTIVE;
	if (s->relay)
		us_relay_set_mode(s->relay, US_RELAY_PASSTHROUGH);
	if (s->peer)
		us_peer_announce(s->peer, US_HB_ROLE_PRIMARY, epoch);
	s->promoted_epoch = epoch;
	s->takeover_ms = now_ms() - (s->lost_ms ? s->lost_ms : t0);
	us_log(LOG_NOTICE, US_TAG_FAILOVER,
	       "TAKEOVER: VM '%s' runs on this host from epoch %lu; "
	       "guest running %lu ms after the last message from the primary (load+cont %lu ms)",
	       s->cfg->vm.name, (unsigned long)epoch, (unsigned long)s->takeover_ms,
	       (unsigned long)(now_ms() - t0));
	if (s->cfg->reprotect_auto)
		hand_over(s);
	else
		us_log(LOG_WARNING, US_TAG_FAILOVER,
		       "VM '%s' runs UNPROTECTED; [failover] reprotect "
		       "= manual: run `understudy reprotect --vm %s` once a standby can be started",
		       s->cfg->vm.name, s->cfg->vm.name);
	return 0;
}

/* Ask the decision point and act on its verdict. @return 0 when promoted,
 * -EAGAIN (wait), -EPERM (refused) or the promotion's error. */
static int promote(struct us_standby *s, enum us_trigger trigger, char *why, size_t whylen)
{
	struct us_failover_input in = { .trigger = trigger,
					.promote_auto = s->cfg->promote_auto,
					.promote_pacemaker = s->cfg->promote_pacemaker,
					.active = s->state == SB_ACTIVE,
					.committed = committed(s),
					.suspended = s->suspended,
					.suspended_after = s->suspended_after };
	enum us_verdict v;

	cluster_input(s, &in.cl);
	v = us_failover_decide(&in, why, whylen);
	log_verdict(s, v, why);
	if (v == US_VERDICT_FENCE && us_peer_fence_named(s->peer, s->cfg->peer_node, 0) < 0)
		us_log(LOG_CRIT, US_TAG_FAILOVER,
		       "cannot fence the primary: its node name is "
		       "unknown (it never announced itself); promote by hand once it is off");
	if (v != US_VERDICT_PROMOTE)
		return v == US_VERDICT_REFUSE ? -EPERM : -EAGAIN;
	return do_promote(s, why, whylen);
}

/* The stream is gone; @last_ms: when it was last heard (its silence counts
 * from there). */
static void stream_lost(struct us_standby *s, const char *why, uint64_t last_ms)
{
	char verdict[512];

	us_log(LOG_WARNING, US_TAG_STANDBY, "replication stream lost: %s", why);
	us_receiver_reset(s->rx);
	if (s->state != SB_ACTIVE)
		s->state = SB_WAITING;
	s->lost_ms = last_ms;
	if (promote(s, US_TRIGGER_STREAM_LOST, verdict, sizeof(verdict)) == -EIO)
		s->exit_rc = -EIO;
}

/* decide = silence: the stream is silent enough, or a fence runs or ran. */
static int silence_counts(const struct us_standby *s)
{
	return s->cfg->decide_silence && (s->silent_ms >= s->cfg->silence_ms ||
					  us_peer_fence_state(s->peer) != US_FENCE_NONE);
}

/* The look period: every LIVENESS_MS, or with decide = silence every
 * silence_ms / 5, at most SILENCE_LOOK_MS: the decision is at most that late. */
static unsigned look_ms(const struct us_config *c)
{
	unsigned ms = c->silence_ms / 5;

	if (!c->decide_silence)
		return LIVENESS_MS;
	return ms > SILENCE_LOOK_MS ? SILENCE_LOOK_MS : ms < 2 ? 2 : ms;
}

/* The peer watch saw membership, quorum or fencing change. */
static void cluster_changed(void *opaque)
{
	struct us_standby *s = opaque;
	char verdict[512];

	if (s->state == SB_ACTIVE)
		return;
	/* a primary joining or announcing decides nothing: keep the log quiet */
	if (us_peer_state(s->peer) == US_PEER_MEMBER && us_peer_connected(s->peer) &&
	    !silence_counts(s))
		return;
	if (promote(s, US_TRIGGER_MEMBERSHIP, verdict, sizeof(verdict)) == -EIO) {
		s->exit_rc = -EIO;
		qb_loop_stop(s->loop);
	}
}

/* A quiet spell of a live stream ended while this standby was promotable
 * (only then can a silence decide): the margin silence_ms has over it
 * (bench/silence_soak.sh reads these lines; the look period rounds down). */
static void note_quiet(struct us_standby *s)
{
	uint64_t ms = committed(s) == US_EPOCH_NONE || s->suspended ? 0 : s->silent_ms;

	if (ms >= s->quiet_peak) {
		s->quiet_peak = ms;
		return;
	}
	if (s->quiet_peak >= QUIET_LOG_MS && s->tx)
		us_log(LOG_INFO, US_TAG_STANDBY,
		       "the primary's stream was quiet for %lu ms "
		       "(silence_ms %u)",
		       (unsigned long)s->quiet_peak, s->cfg->silence_ms);
	if (s->tx && s->quiet_peak > s->quiet_max)
		s->quiet_max = s->quiet_peak;
	s->quiet_peak = ms;
}

/* decide = silence: how long the primary has been silent; ask when it counts. */
static void watch_silence(struct us_standby *s)
{
	uint64_t now = now_ms(), last = s->tx ? now - us_transport_idle_ms(s->tx) : s->lost_ms;

	if (!s->cfg->decide_silence || !s->peer)
		return;
	s->silent_ms = us_failover_silence(&s->watch, now, last, s->cfg->silence_ms / 2);
	note_quiet(s);
	if (s->state != SB_ACTIVE && s->state != SB_SWITCHING && !s->handoff && silence_counts(s))
		cluster_changed(s);
}

/* ---- the replication connection ---- */

/* The stream ends: what depends on it goes first. */
static void drop_tx(struct us_standby *s)
{
	us_hashsend_free(s->hashes);
	s->hashes = NULL;
	us_transport_free(s->tx);
	s->tx = NULL;
}

/* After our HELLO_OK, the replica image's block hashes follow (disk resync). */
static int rx_send(void *opaque, uint16_t type, uint64_t epoch, const void *body, size_t len)
{
	struct us_standby *s = opaque;
	int rc = s->tx ? us_transport_send_msg(s->tx, type, epoch, body, len) : -EPIPE;

	if (rc == 0 && type == US_MSG_HELLO_OK && s->img && committed(s) == US_EPOCH_NONE) {
		struct us_imgstate torn = { .epoch = -1, .synced = 0 };

		us_imgstate_note(&s->img_rec, s->cfg->vm.disk, &torn, 1); /* before any block */
		us_hashsend_free(s->hashes);
		s->hashes = us_hashsend_start(s->loop, us_image_fd(s->img), us_image_size(s->img),
					      s->tx);
		if (!s->hashes)
			rc = -ENOMEM;
	}
	return rc;
}

static void rx_committed(void *opaque, uint64_t epoch)
{
	struct us_standby *s = opaque;

	if (s->peer && (epoch == 0 || now_ms() - s->announced_ms >= 1000)) {
		us_peer_announce(s->peer, US_HB_ROLE_STANDBY, epoch);
		s->announced_ms = now_ms();
	}
	if (s->img) {
		struct us_imgstate now = { .lineage = us_receiver_lineage(s->rx),
					   .epoch = (int64_t)epoch,
					   .synced = 1 };

		us_imgstate_note(&s->img_rec, s->cfg->vm.disk, &now, 0);
	}
	if (s->suspended && (epoch == 0 || epoch > s->suspended_after)) {
		s->suspended = 0;
		us_log(LOG_NOTICE, US_TAG_STANDBY,
		       "protection resumed: epoch %lu committed; this "
		       "standby can be promoted again",
		       (unsigned long)epoch);
	}
	if (epoch == 0)
		us_log(LOG_NOTICE, US_TAG_STANDBY, "initial sync complete: standby holds epoch 0");
	else
		us_log(LOG_DEBUG, US_TAG_STANDBY, "committed epoch %lu", (unsigned long)epoch);
}

/* The replica image cannot be written (a full or failing disk): this host
 * can hold no replica, so the standby stops rather than pretend. */
static void check_replica_disk(struct us_standby *s)
{
	struct us_receiver_stats st;

	us_receiver_stats(s->rx, &st);
	if (!st.disk_failed || s->exit_rc)
		return;
	us_log(LOG_CRIT, US_TAG_STANDBY,
	       "the replica image %s cannot be written: this standby "
	       "stops; free or repair the disk under it, then start the standby again",
	       s->cfg->vm.disk);
	s->exit_rc = -EIO;
	qb_loop_stop(s->loop);
}

/* ---- switchover ---- */

static int refuse_switch(struct us_standby *s, const char *why)
{
	struct us_refuse r = { .code = US_REFUSE_STATE };
	char body[160];

	snprintf(r.reason, sizeof(r.reason), "%s", why);
	us_log(LOG_ERR, US_TAG_STANDBY, "refusing the switchover: %s", why);
	us_transport_send_msg(s->tx, US_MSG_REFUSE, 0, body, us_proto_refuse_encode(body, &r));
	return 1;
}

/* The old primary stopped the guest at epoch @h->epoch, which we hold: load it. */
static int on_switchover(struct us_standby *s, const struct us_msg_hdr *h, const void *body)
{
	struct us_receiver_stats st;
	const void *dev;
	size_t len;
	char why[160];
	int rc;

	us_receiver_stats(s->rx, &st);
	if (!s->qmp)
		return refuse_switch(s, "the parked QEMU is still starting: ask again in a moment");
	if (st.committed != h->epoch || st.receiving != US_EPOCH_NONE || st.disk_failed) {
		snprintf(why, sizeof(why),
			 "asked to take over at epoch %lu, but this standby holds "
			 "epoch %ld%s",
			 (unsigned long)h->epoch, (long)st.committed,
			 st.disk_failed ? " and its image failed" : "");
		return refuse_switch(s, why);
	}
	s->switch_t0_us = now_us();
	memcpy(&s->switch_primary_us, body, sizeof(s->switch_primary_us));
	if (s->img && fdatasync(us_image_fd(s->img)) < 0)
		return refuse_switch(s, "cannot sync the replica image to stable storage");
	dev = us_receiver_devstate(s->rx, &len);
	rc = us_devstate_restore(s->qmp, s->dev_sock, dev, len, 10000);
	if (rc < 0) {
		snprintf(why, sizeof(why),
			 "the parked QEMU could not load epoch %lu's device "
			 "state: %s",
			 (unsigned long)h->epoch, strerror(-rc));
		s->exit_rc = -EIO; /* a failed load leaves that QEMU unusable */
		qb_loop_stop(s->loop);
		return refuse_switch(s, why);
	}
	if (s->relay)
		us_relay_set_mode(s->relay, US_RELAY_BUFFERED);
	s->state = SB_SWITCHING;
	s->promoted_epoch = h->epoch;
	us_log(LOG_NOTICE, US_TAG_STANDBY,
	       "switchover: epoch %lu loaded in %lu ms; the guest "
	       "goes on here",
	       (unsigned long)h->epoch, (unsigned long)((now_us() - s->switch_t0_us) / 1000));
	return us_transport_send_msg(s->tx, US_MSG_SWITCHED, h->epoch, NULL, 0) < 0;
}

/* Pacemaker's demote on the primary: the guest stopped at @h->epoch, which
 * we must hold; it resumes here at our promote (failover/demote.c). */
static int on_handoff(struct us_standby *s, const struct us_msg_hdr *h)
{
	struct us_receiver_stats st;
	char why[160];

	us_receiver_stats(s->rx, &st);
	if (st.committed != h->epoch || st.receiving != US_EPOCH_NONE || st.disk_failed) {
		snprintf(why, sizeof(why),
			 "the primary demoted at epoch %lu, but this standby holds epoch %ld%s",
			 (unsigned long)h->epoch, (long)st.committed,
			 st.disk_failed ? " and its image failed" : "");
		return refuse_switch(s, why);
	}
	s->handoff = 1;
	s->handoff_epoch = h->epoch;
	s->handoff_us = now_us();
	us_log(LOG_NOTICE, US_TAG_STANDBY,
	       "the primary DEMOTED: its guest is stopped at epoch %lu, which this standby "
	       "holds; it resumes here when this host is promoted",
	       (unsigned long)h->epoch);
	return us_transport_send_msg(s->tx, US_MSG_HANDOFF_OK, h->epoch, NULL, 0) < 0;
}

/* The promote that a demote waits for: the switchover's second half. */
static void promote_handoff(struct us_standby *s, struct us_ctl_req *req)
{
	struct us_msg_hdr h = { .type = US_MSG_SWITCHOVER, .epoch = s->handoff_epoch };
	uint64_t waited = now_us() - s->handoff_us; /* the guest's pause, since HANDOFF */
	char body[8];

	memcpy(body, &waited, sizeof(body));
	if (s->switch_req) {
		us_ctl_reply_error(req, "a switchover is already under way");
		return;
	}
	s->switch_req = req;
	if (on_switchover(s, &h, body) != 0 || s->state != SB_SWITCHING) {
		if (s->switch_req)
			us_ctl_reply_error(s->switch_req, "the demoted epoch could not be loaded: "
							  "see the log");
		s->switch_req = NULL;
	}
}

/* The old primary let go (or is silent): the primary role takes the stopped guest. */
static void switch_take(struct us_standby *s)
{
	s->h->resume = 1;
	s->h->pause_us = s->switch_primary_us + (now_us() - s->switch_t0_us);
	if (s->switch_req)
		us_ctl_reply(s->switch_req, json_pack("{s:b, s:I}", "ok", 1, "epoch",
						      (json_int_t)s->promoted_epoch));
	s->switch_req = NULL;
	hand_over(s);
}

static void ask_switchover(struct us_standby *s, struct us_ctl_req *req)
{
	struct us_receiver_stats st;

	us_receiver_stats(s->rx, &st);
	if (s->switch_req) {
		us_ctl_reply_error(req, "a switchover is already under way");
		return;
	}
	if (!s->tx || s->state != SB_RECEIVING || st.committed == US_EPOCH_NONE) {
		us_ctl_reply_error(req, !s->tx ? "no primary is connected: nothing to switch over "
						 "from"
					       : "this standby is not in sync yet: wait for its "
						 "first "
						 "committed epoch; nothing changed");
		return;
	}
	if (us_transport_send_msg(s->tx, US_MSG_SWITCH_ASK, st.committed, NULL, 0) < 0) {
		us_ctl_reply_error(req, "cannot reach the primary");
		return;
	}
	s->switch_req = req;
	s->switch_asked_ms = now_ms();
}

/* Before anything acts on a message: the channel's handshake (chanauth.h). */
static int auth_gate(struct us_standby *s, const struct us_msg_hdr *h, const void *body,
		     int *replay)
{
	struct us_refuse r = { .code = US_REFUSE_AUTH };
	char out[160], why[256];
	int rc;

	rc = us_chanauth_standby_msg(&s->auth, s->tx, h, body, replay, why, sizeof(why));
	if (rc >= 0)
		return rc;
	us_log(LOG_ERR, US_TAG_STANDBY, "%s; nothing applied", why);
	snprintf(r.reason, sizeof(r.reason), "%s", why); /* the wire's reason is shorter */
	if (!us_transport_authenticated(s->tx))
		us_transport_send_msg(s->tx, US_MSG_REFUSE, 0, out,
				      us_proto_refuse_encode(out, &r));
	return -1;
}

/* The primary refused a message of ours (one that failed its tag on the
 * way, transport_auth.c): say why the connection ends. */
static int primary_refused(struct us_standby *s, const struct us_msg_hdr *h, const void *body)
{
	struct us_refuse r;
	char why[160];

	if (us_proto_refuse_decode(body, h->len, &r, why, sizeof(why)) < 0)
		snprintf(r.reason, sizeof(r.reason), "%s", why);
	us_log(LOG_ERR, US_TAG_STANDBY, "primary %s refused: %s; the connection ends",
	       us_transport_peer(s->tx), r.reason);
	return 1;
}

static int on_msg(void *opaque, int hdr_rc, const struct us_msg_hdr *h, const void *body)
{
	struct us_standby *s = opaque;
	char why[256];
	int rc, replay;

	if (hdr_rc == 0) {
		rc = auth_gate(s, h, body, &replay);
		if (rc < 0)
			return 1;
		if (replay) /* AUTH verified: the held HELLO goes on now */
			return on_msg(opaque, 0, &s->auth.hello_hdr, s->auth.hello);
		if (rc > 0)
			return 0;
	}
	if (hdr_rc == 0 && h->type == US_MSG_REFUSE)
		return primary_refused(s, h, body);
	if (hdr_rc == 0 && h->type == US_MSG_SWITCHOVER && s->state == SB_RECEIVING)
		return on_switchover(s, h, body);
	if (hdr_rc == 0 && h->type == US_MSG_HANDOFF && s->state == SB_RECEIVING)
		return on_handoff(s, h);
	if (hdr_rc == 0 && s->handoff && h->type != US_MSG_KEEPALIVE) {
		s->handoff = 0; /* the primary was promoted again and runs on */
		us_log(LOG_NOTICE, US_TAG_STANDBY,
		       "the demoted primary runs the guest again: the handoff of epoch %lu is off",
		       (unsigned long)s->handoff_epoch);
	}
	if (hdr_rc == 0 && h->type == US_MSG_SUSPEND && s->state == SB_RECEIVING) {
		s->suspended = 1;
		s->suspended_after = h->epoch;
		us_log(LOG_WARNING, US_TAG_STANDBY,
		       "the primary SUSPENDED protection after epoch "
		       "%lu and releases output beyond it: this standby cannot be promoted until "
		       "the first epoch after resume-protection commits",
		       (unsigned long)h->epoch);
		return us_transport_send_msg(s->tx, US_MSG_SUSPEND_OK, h->epoch, NULL, 0) < 0;
	}
	if (s->state == SB_SWITCHING)
		return 0; /* nothing more from the old primary matters */
	rc = us_receiver_input(s->rx, hdr_rc, h, body, why, sizeof(why));

	check_replica_disk(s);
	if (rc == 0)
		return 0;
	us_log(LOG_ERR, US_TAG_STANDBY, "closing the replication connection from %s: %s",
	       us_transport_peer(s->tx), why);
	return 1;
}

static void on_closed(void *opaque, int err, const char *why)
{
	struct us_standby *s = opaque;

	/* -ECONNABORTED: we closed it, on a refused message that said why */
	if (s->auth.waiting && err != -ECONNABORTED)
		us_log(LOG_ERR, US_TAG_STANDBY,
		       "the primary %s closed the connection before it authenticated: the two "
		       "hosts' key_file differ, or it is not our primary; nothing applied",
		       us_transport_peer(s->tx));
	s->auth.waiting = 0;
	drop_tx(s);
	if (s->state == SB_SWITCHING) {
		switch_take(s);
		return;
	}
	stream_lost(s, why, now_ms());
}

/* A large body is read straight into the epoch's staging (no copy out of the transport's buffer). */
static void *on_place(void *opaque, const struct us_msg_hdr *h)
{
	struct us_standby *s = opaque;

	return s->state == SB_RECEIVING && !s->handoff ? us_receiver_place(s->rx, h) : NULL;
}

static void on_accept(void *opaque, struct us_transport *t)
{
	static const struct us_transport_cbs cbs = { .msg = on_msg,
						     .closed = on_closed,
						     .place = on_place };
	struct us_standby *s = opaque;
	struct us_refuse r = { .code = US_REFUSE_BUSY };
	char body[160];

	if (s->tx || s->state == SB_ACTIVE) {
		snprintf(r.reason, sizeof(r.reason), "%s",
			 s->tx ? "standby already has a primary"
			       : "this host already runs the VM (promoted)");
		us_log(LOG_WARNING, US_TAG_STANDBY, "refusing %s: %s", us_transport_peer(t),
		       r.reason);
		us_transport_set_vm(t, us_proto_vm_id(s->cfg->vm.name));
		us_transport_send_msg(t, US_MSG_REFUSE, 0, body, us_proto_refuse_encode(body, &r));
		us_transport_free(t);
		return;
	}
	if (us_chanauth_connected(&s->auth, t, 1) < 0) {
		us_transport_free(t); /* logged */
		return;
	}
	s->tx = t;
	s->auth.waiting = 0;
	s->state = SB_RECEIVING;
	us_receiver_set_authenticated(s->rx, s->auth.on || s->auth.tls);
	if (s->peer) /* an earlier primary's fence says nothing of this one */
		us_peer_fence_forget(s->peer);
	us_transport_set_cbs(t, &cbs, s);
	us_transport_set_vm(t, us_proto_vm_id(s->cfg->vm.name));
	us_log(LOG_NOTICE, US_TAG_STANDBY, "primary connected from %s", us_transport_peer(t));
}

static void check_liveness(void *data)
{
	struct us_standby *s = data;
	char why[96];

	if (s->state == SB_SWITCHING && (now_us() - s->switch_t0_us) / 1000 > SWITCH_WAIT_MS) {
		us_log(LOG_WARNING, US_TAG_STANDBY,
		       "switchover: the old primary did not close its "
		       "stream within %u ms; taking the VM anyway",
		       SWITCH_WAIT_MS);
		drop_tx(s);
		switch_take(s);
	}
	if (s->switch_req && s->state == SB_RECEIVING &&
	    now_ms() - s->switch_asked_ms > SWITCH_ASK_MS) {
		us_ctl_reply_error(s->switch_req, "the primary did not start the switchover: see "
						  "its log (not protected yet, or paused?)");
		s->switch_req = NULL;
	}
	if (s->tx && s->state != SB_SWITCHING &&
	    us_transport_idle_ms(s->tx) > s->cfg->peer_timeout_ms) {
		uint64_t last = now_ms() - us_transport_idle_ms(s->tx);

		snprintf(why, sizeof(why), "no message from the primary for %lu ms",
			 (unsigned long)us_transport_idle_ms(s->tx));
		drop_tx(s);
		stream_lost(s, why, last);
	}
	if (s->peer && s->state != SB_ACTIVE && us_peer_state(s->peer) == US_PEER_GONE)
		cluster_changed(s); /* the stream may have gone silent since */
	watch_silence(s);
	if (s->exit_rc)
		qb_loop_stop(s->loop);
	qb_loop_timer_add(s->loop, QB_LOOP_LOW, look_ms(s->cfg) * 1000000ULL, s, check_liveness,
			  &s->liveness);
}

/* ---- control requests ---- */

static json_t *status_json(struct us_standby *s)
{
	struct us_receiver_stats st;
	json_t *o;

	us_receiver_stats(s->rx, &st);
	o = json_pack("{s:b, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:I, s:s, s:I, s:I}", "ok", 1,
		      "role", s->state == SB_ACTIVE ? "active" : "standby", "vm", s->cfg->vm.name,
		      "state", state_names[s->state], "committed",
		      (json_int_t)(st.committed == US_EPOCH_NONE ? -1 : (json_int_t)st.committed),
		      "epochs", (json_int_t)st.epochs, "sync_pages", (json_int_t)st.sync_pages,
		      "rejected", (json_int_t)st.rejected, "peer",
		      s->tx ? us_transport_peer(s->tx) : "", "idle_ms",
		      (json_int_t)(s->tx ? us_transport_idle_ms(s->tx) : 0), "promote",
		      s->cfg->promote_pacemaker ? "pacemaker"
		      : s->cfg->promote_auto	? "auto"
						: "manual",
		      "qemu_pid", (json_int_t)us_qemu_pid(s->qemu), "takeover_ms",
		      (json_int_t)s->takeover_ms);
	if (o) {
		json_object_set_new(o, "suspended", json_boolean(s->suspended));
		json_object_set_new(o, "handoff_epoch",
				    json_integer(s->handoff ? (json_int_t)s->handoff_epoch : -1));
		json_object_set_new(o, "promotable",
				    json_boolean(st.committed != US_EPOCH_NONE && !s->suspended &&
						 !st.disk_failed));
	}
	if (o)
		us_vmnet_status(s->relay, o);
	if (o && s->peer)
		us_peer_status(s->peer, o);
	if (o)
		json_object_set_new(o, "decision", json_string(s->last_why));
	if (o)
		json_object_set_new(o, "decide",
				    json_string(s->cfg->decide_silence ? "silence" : "membership"));
	if (o)
		json_object_set_new(o, "silent_ms", json_integer((json_int_t)s->silent_ms));
	if (o)
		json_object_set_new(o, "silence_ms", json_integer((json_int_t)s->cfg->silence_ms));
	if (o)
		json_object_set_new(o, "quiet_max_ms", json_integer((json_int_t)s->quiet_max));
	if (o)
		json_object_set_new(o, "accel", json_string(s->cfg->vm.accel));
	if (o)
		json_object_set_new(o, "pid", json_integer((json_int_t)getpid()));
	if (o)
		json_object_set_new(o, "checks", us_check_daemon_status(s->cfg, "standby"));
	return o;
}

/* Pacemaker promoted this replica while no primary runs and none was ever
 * synced here: a cold start. The guest boots from this host's image, which
 * must be consistent (not left mid-sync); the agent chose the freshest. */
static void cold_boot(struct us_standby *s, struct us_ctl_req *req)
{
	char why[256];

	if (s->img && us_imgstate_check(s->cfg->vm.disk, why, sizeof(why)) < 0) {
		us_ctl_reply_error(req, why);
		return;
	}
	us_log(LOG_NOTICE, US_TAG_FAILOVER,
	       "COLD START: VM '%s' boots on this host from its %s (promoted by Pacemaker with "
	       "no primary running)",
	       s->cfg->vm.name, s->img ? "image" : "kernel, diskless");
	us_ctl_reply(req, json_pack("{s:b, s:b}", "ok", 1, "cold_boot", 1));
	s->cold_boot = 1;
	qb_loop_stop(s->loop);
}

static void on_ctl(void *opaque, const char *cmd, json_t *msg, struct us_ctl_req *req)
{
	struct us_standby *s = opaque;
	char why[256];

	if (strcmp(cmd, "status") == 0) {
		us_ctl_reply(req, status_json(s));
		return;
	}
	if (strcmp(cmd, "switchover") == 0) {
		ask_switchover(s, req);
		return;
	}
	if (strcmp(cmd, "reprotect") == 0) {
		if (s->state != SB_ACTIVE) {
			us_ctl_reply_error(req, "this host is a standby: reprotect runs on the "
						"host "
						"that runs the VM");
			return;
		}
		us_ctl_reply(req, json_pack("{s:b}", "ok", 1));
		hand_over(s);
		return;
	}
	if (strcmp(cmd, "demote") == 0) {
		us_ctl_reply(req, json_pack("{s:b}", "ok", 1)); /* a standby is demoted */
		return;
	}
	if (strcmp(cmd, "promote") != 0) {
		us_ctl_reply_error(req, "unknown command for a standby (try status, promote)");
		return;
	}
	if (s->tx && s->handoff && s->state == SB_RECEIVING) {
		promote_handoff(s, req);
		return;
	}
	if (s->tx && s->cfg->promote_pacemaker &&
	    us_transport_idle_ms(s->tx) >= s->cfg->silence_ms) {
		us_log(LOG_WARNING, US_TAG_FAILOVER,
		       "Pacemaker promotes this standby and the primary's stream has been silent "
		       "for %lu ms: its node is taken as fenced",
		       (unsigned long)us_transport_idle_ms(s->tx));
	} else if (s->tx) {
		us_ctl_reply_error(req, "the primary is still connected and replicating: stop it "
					"first, or two copies of the VM would run");
		return;
	}
	if (s->cfg->promote_pacemaker && committed(s) == US_EPOCH_NONE) {
		cold_boot(s, req);
		return;
	}
	if (promote(s, US_TRIGGER_OPERATOR, why, sizeof(why)) < 0) {
		us_ctl_reply_error(req, why);
		return;
	}
	us_ctl_reply(req, json_pack("{s:b, s:I}", "ok", 1, "epoch", (json_int_t)s->promoted_epoch));
}

/* ---- start-up and tear-down ---- */

static int up_checks(struct us_standby *s)
{
	int rc = us_chanauth_load(&s->auth, s->cfg, "standby");

	if (rc < 0)
		return rc;
	if (mkdir(s->cfg->vm.run_dir, 0700) < 0 && errno != EEXIST) {
		us_log(LOG_CRIT, US_TAG_STANDBY, "cannot create run_dir %s: %s", s->cfg->vm.run_dir,
		       strerror(errno));
		return -errno;
	}
	return 0;
}

static void down_checks(struct us_standby *s)
{
	us_chanauth_free(&s->auth);
}

static int up_ram(struct us_standby *s)
{
	char path[PATH_MAX];

	if (s->h->ram.fd >= 0) { /* the old primary's RAM file: epoch n, exactly */
		s->ram = s->h->ram;
		s->h->ram.fd = -1;
		s->h->ram.map = NULL;
		return 0;
	}
	if (us_ramfile_check_dir(s->cfg->vm.shm_dir, s->cfg->vm.hugepages) < 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/understudy-%s.replica", s->cfg->vm.shm_dir,
		 s->cfg->vm.name);
	return us_ramfile_create(&s->ram, path, s->cfg->vm.mem_bytes);
}

static void down_ram(struct us_standby *s)
{
	us_ramfile_close(&s->ram, 1);
}

static void down_disk(struct us_standby *s)
{
	us_nbd_stop(s->nbd);
	s->nbd = NULL;
	us_image_close(s->img);
	s->img = NULL;
}

/* The replica image, served to the parked QEMU (which only reads it once running). */
static int up_disk(struct us_standby *s)
{
	int rc;

	if (!s->cfg->vm.disk[0])
		return 0;
	if (s->h->img) { /* the old primary's image and server */
		s->img = s->h->img;
		s->nbd = s->h->nbd;
		snprintf(s->disk_sock, sizeof(s->disk_sock), "%s", s->h->disk_sock);
		s->h->img = NULL;
		s->h->nbd = NULL;
		return 0;
	}
	rc = us_image_open(s->cfg->vm.disk, &s->img);
	if (rc < 0)
		return rc;
	snprintf(s->disk_sock, sizeof(s->disk_sock), "%s/%s-disk.sock", s->cfg->vm.run_dir,
		 s->cfg->vm.name);
	s->nbd = us_nbd_start(s->disk_sock, "disk0", us_image_fd(s->img), us_image_size(s->img),
			      NULL, NULL);
	if (s->nbd)
		return 0;
	rc = -errno;
	us_log(LOG_CRIT, US_TAG_STANDBY, "cannot serve the replica image %s on %s: %s",
	       s->cfg->vm.disk, s->disk_sock, strerror(-rc));
	down_disk(s);
	return rc;
}

/* The parked QEMU answers: its QMP connection, ready for an incoming state. */
static int park_qmp(struct us_standby *s)
{
	s->qmp = us_qmp_connect(s->loop, us_qemu_qmp_path(s->qemu));
	return s->qmp && us_devstate_prepare(s->qmp) == 0 ? 0 : -EIO;
}

/* A QEMU parked without waiting (after a switchover): poll until it answers. */
static void park_poll(void *data)
{
	struct us_standby *s = data;
	int rc = us_qemu_ready(s->qemu, s->loop);

	s->park_timer = 0;
	if (rc == -EAGAIN) {
		qb_loop_timer_add(s->loop, QB_LOOP_LOW, PARK_POLL_MS * 1000000ULL, s, park_poll,
				  &s->park_timer);
		return;
	}
	if (rc == 0)
		rc = park_qmp(s);
	if (rc < 0) {
		us_log(LOG_CRIT, US_TAG_STANDBY,
		       "the parked QEMU did not start (%s): this host can "
		       "hold no replica; the standby stops",
		       strerror(-rc));
		s->exit_rc = rc;
		qb_loop_stop(s->loop);
		return;
	}
	us_log(LOG_NOTICE, US_TAG_STANDBY, "QEMU parked (pid %d): this standby can take over",
	       us_qemu_pid(s->qemu));
}

static void down_qemu(struct us_standby *s)
{
	if (s->park_timer)
		qb_loop_timer_del(s->loop, s->park_timer);
	s->park_timer = 0;
	us_qmp_free(s->qmp);
	s->qmp = NULL;
	us_qemu_free(s->qemu);
	s->qemu = NULL;
	us_relay_free(s->relay);
	s->relay = NULL;
	unlink(s->dev_sock);
}

/* The parked QEMU, its QMP connection and its NIC's relay; all or nothing. */
static int up_qemu(struct us_standby *s)
{
	char serial[PATH_MAX];
	struct us_qemu_opts o = { .mode = US_QEMU_INCOMING,
				  .ram_path = s->ram.path,
				  .serial_log = serial,
				  .tag = "standby" };
	int rc = 0;

	if (s->h->relay) {
		s->relay = s->h->relay;
		s->h->relay = NULL;
		snprintf(s->net_sock, sizeof(s->net_sock), "%s", s->h->net_sock);
	} else {
		rc = us_vmnet_start(s->loop, s->cfg, US_RELAY_INACTIVE, &s->relay, s->net_sock,
				    sizeof(s->net_sock));
	}

	if (rc < 0)
		return rc;
	o.netdev_sock = s->relay ? s->net_sock : NULL;
	o.disk_sock = s->nbd ? s->disk_sock : NULL;

	snprintf(serial, sizeof(serial), "%s/%s.serial", s->cfg->vm.run_dir, s->cfg->vm.name);
	snprintf(s->dev_sock, sizeof(s->dev_sock), "%s/%s-incoming.sock", s->cfg->vm.run_dir,
		 s->cfg->vm.name);
	o.loop = s->loop;
	/* after a switchover the new primary waits for our ACKs: take its epochs
	 * while this QEMU starts (it is needed only to promote) */
	o.no_wait = s->h->devstate != NULL;
	s->qemu = us_qemu_start(&s->cfg->vm, &o);
	rc = s->qemu ? 0 : -errno;
	if (s->qemu && o.no_wait) {
		qb_loop_timer_add(s->loop, QB_LOOP_LOW, PARK_POLL_MS * 1000000ULL, s, park_poll,
				  &s->park_timer);
		return 0;
	}
	if (s->qemu)
		rc = park_qmp(s);
	if (rc < 0)
		down_qemu(s);
	return rc;
}

static int up_receiver(struct us_standby *s)
{
	static const struct us_receiver_ops ops = { .send = rx_send, .committed = rx_committed };
	struct us_receiver_cfg rc = {
		.vm_name = s->cfg->vm.name,
		.accel = s->cfg->vm.accel,
		.ram_size = s->cfg->vm.mem_bytes,
		.replica = s->ram.map,
		.staging_max = s->cfg->staging_max
				       ? s->cfg->staging_max
				       : s->cfg->vm.mem_bytes + s->cfg->vm.mem_bytes / 128,
		.devstate_max = s->cfg->devstate_max,
		.disk_fd = s->img ? us_image_fd(s->img) : -1,
		.disk_size = s->img ? us_image_size(s->img) : 0,
		.disk_staging_max = s->cfg->disk_staging_max,
		.keepalive_max_ms = s->cfg->decide_silence ? s->cfg->silence_ms / 3 : 0,
	};

	s->rx = us_receiver_new(&rc, &ops, s);
	if (!s->rx)
		return -errno;
	if (s->h->devstate) { /* a switchover: this host holds its epoch already */
		us_receiver_adopt(s->rx, s->h->lineage, s->h->epoch, s->h->devstate,
				  s->h->devstate_len);
		free(s->h->devstate);
		s->h->devstate = NULL;
		us_log(LOG_NOTICE, US_TAG_STANDBY,
		       "standby for VM '%s' holds epoch %lu from the "
		       "switchover: the new primary goes on from it with no sync",
		       s->cfg->vm.name, (unsigned long)s->h->epoch);
	}
	return 0;
}

static void down_receiver(struct us_standby *s)
{
	us_receiver_free(s->rx);
	s->rx = NULL;
}

static int up_ctl(struct us_standby *s)
{
	s->ctl = us_ctl_start(s->loop, s->cfg->vm.name, on_ctl, s);
	return s->ctl ? 0 : -errno;
}

static void down_ctl(struct us_standby *s)
{
	if (s->switch_req)
		us_ctl_reply_error(s->switch_req, "daemon stopping");
	s->switch_req = NULL;
	us_ctl_free(s->ctl);
	s->ctl = NULL;
}

static int up_peer(struct us_standby *s)
{
	struct us_peer_opts o = { .vm = s->cfg->vm.name,
				  .node = s->cfg->node,
				  .self = US_HB_ROLE_STANDBY,
				  .fence_command = s->cfg->fence_command,
				  .fence_timeout_ms = s->cfg->fence_timeout_ms };

	if (s->cfg->promote_pacemaker) {
		us_log(LOG_NOTICE, US_TAG_STANDBY,
		       "[failover] promote = pacemaker: this standby promotes only when the "
		       "resource agent runs `understudy promote`");
		return 0;
	}
	if (!s->cfg->membership) {
		us_log(LOG_WARNING, US_TAG_STANDBY,
		       "[heartbeat] membership = none: a lost "
		       "replication stream alone decides promotion (a cut link runs the VM twice)");
		return 0;
	}
	s->peer = us_peer_new(s->loop, &o, cluster_changed, s);
	if (!s->peer)
		return -errno;
	us_peer_announce(s->peer, US_HB_ROLE_STANDBY, committed(s));
	return 0;
}

static void down_peer(struct us_standby *s)
{
	us_peer_free(s->peer);
	s->peer = NULL;
}

static int up_listen(struct us_standby *s)
{
	s->listener = us_transport_listen(s->loop, s->cfg->transport, s->cfg->listen, on_accept, s);
	if (!s->listener)
		return -errno;
	us_log(LOG_NOTICE, US_TAG_STANDBY,
	       "standby for VM '%s' listening on %s; QEMU parked "
	       "(pid %d)",
	       s->cfg->vm.name, s->cfg->listen, us_qemu_pid(s->qemu));
	qb_loop_timer_add(s->loop, QB_LOOP_LOW, look_ms(s->cfg) * 1000000ULL, s, check_liveness,
			  &s->liveness);
	return 0;
}

static void down_listen(struct us_standby *s)
{
	qb_loop_timer_del(s->loop, s->liveness);
	drop_tx(s);
	us_listener_free(s->listener);
	s->listener = NULL;
}

struct stage {
	const char *name;
	int (*up)(struct us_standby *s);
	void (*down)(struct us_standby *s);
};

static const struct stage stages[] = {
	{ "checks", up_checks, down_checks },
	{ "replica RAM file", up_ram, down_ram },
	{ "replica disk and its NBD server", up_disk, down_disk },
	{ "parked QEMU", up_qemu, down_qemu },
	{ "receiver", up_receiver, down_receiver },
	{ "control channel", up_ctl, down_ctl },
	{ "cluster membership", up_peer, down_peer },
	{ "replication listener", up_listen, down_listen },
};

#define N_STAGES (sizeof(stages) / sizeof(stages[0]))

static int32_t on_signal(int32_t sig, void *data)
{
	struct us_standby *s = data;

	us_log(LOG_NOTICE, US_TAG_STANDBY, "signal %d: stopping%s", sig,
	       s->state == SB_ACTIVE ? "; the VM this host runs stops with the daemon" : "");
	qb_loop_stop(s->loop);
	return 0;
}

/* Move the running guest's QEMU and what it is connected to into @h. */
static void give(struct us_standby *s, struct us_handover *h)
{
	h->next = US_ROLE_PRIMARY;
	h->ram = s->ram;
	s->ram.fd = -1;
	s->ram.map = NULL;
	h->qemu = s->qemu;
	h->qmp = s->qmp;
	h->relay = s->relay;
	s->qemu = NULL;
	s->qmp = NULL;
	s->relay = NULL;
	snprintf(h->net_sock, sizeof(h->net_sock), "%s", s->net_sock);
	h->img = s->img;
	h->nbd = s->nbd;
	s->img = NULL;
	s->nbd = NULL;
	snprintf(h->disk_sock, sizeof(h->disk_sock), "%s", s->disk_sock);
	h->epoch = s->promoted_epoch;
	h->lineage = us_receiver_lineage(s->rx);
}

int us_standby_run(const struct us_config *cfg, struct us_handover *h)
{
	struct us_standby s = { .cfg = cfg, .ram.fd = -1, .h = h, .loop = h->loop };
	size_t up = 0;
	int rc = 0;

	qb_loop_signal_add(s.loop, QB_LOOP_HIGH, SIGTERM, &s, on_signal, &s.sig_term);
	qb_loop_signal_add(s.loop, QB_LOOP_HIGH, SIGINT, &s, on_signal, &s.sig_int);
	for (; rc == 0 && up < N_STAGES; up++) {
		rc = stages[up].up(&s);
		if (rc < 0)
			us_log(LOG_CRIT, US_TAG_STANDBY, "start-up failed at %s: %s",
			       stages[up].name, strerror(-rc));
	}
	if (rc == 0) {
		qb_loop_run(s.loop);
		rc = s.exit_rc;
	} else {
		up--;
	}
	if (s.img && s.img_rec.written && s.img_rec.last.synced && !s.handing_over) {
		struct us_imgstate last = s.img_rec.last;

		last.epoch = (int64_t)committed(&s); /* the last commit, not a second old */
		if (committed(&s) != US_EPOCH_NONE)
			us_imgstate_note(&s.img_rec, cfg->vm.disk, &last, 1);
	}
	if (rc == 0 && s.handing_over)
		give(&s, h);
	else if (rc == 0 && s.cold_boot)
		h->next = US_ROLE_PRIMARY; /* with nothing handed over: a fresh boot */
	while (up-- > 0)
		if (stages[up].down)
			stages[up].down(&s);
	qb_loop_signal_del(s.loop, s.sig_term);
	qb_loop_signal_del(s.loop, s.sig_int);
	return rc;
}
