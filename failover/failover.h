/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Taking over: the one place that decides whether a standby promotes, and the
 * promotion itself (parked QEMU loads the last committed device state over the
 * replica RAM and continues).
 */
#ifndef US_FAILOVER_H
#define US_FAILOVER_H

#include <stddef.h>
#include <stdint.h>
#include "replicator/qmp.h"

enum us_trigger {
	US_TRIGGER_STREAM_LOST = 1,	/* the replication stream broke or went silent */
	US_TRIGGER_OPERATOR = 2,	/* `understudy promote` */
	US_TRIGGER_MEMBERSHIP = 3,	/* membership, quorum or fencing changed */
};

enum us_verdict {
	US_VERDICT_WAIT = 0,	/* stay as we are */
	US_VERDICT_PROMOTE = 1,	/* standby: take over */
	US_VERDICT_REFUSE = 2,	/* cannot act (no committed epoch, policy, ...) */
	US_VERDICT_FENCE = 3,	/* fence the peer's node first */
	US_VERDICT_DEGRADE = 4,	/* primary: run unprotected, release output */
};

/* What corosync says of the peer; ignored unless @membership. */
struct us_failover_cluster {
	int membership;		/* [heartbeat] membership = corosync */
	int connected;		/* our corosync is reachable */
	int quorate;
	int peer_gone;		/* the peer left the group: host down or daemon died */
	int peer_left;		/* the peer's daemon left the group cleanly */
	int peer_unusable;	/* primary: the stream is gone for good although the
				   standby is a member (it cannot be used again) */
	int stream_silent;	/* the replication stream is closed or silent */
	int nodes;		/* [heartbeat] nodes */
	const char *fence_command;
	int allow_unfenced;	/* [heartbeat] allow_unfenced: the explicit override */
	int fence_state;	/* enum us_fence_state of the peer */
	int decide_silence;	/* standby, [failover] decide = silence */
	uint64_t silent_ms;	/* the stream quiet this long, as this host heard it */
	unsigned silence_ms;	/* [heartbeat] silence_ms */
};

struct us_failover_input {
	enum us_trigger trigger;
	int promote_auto;	/* config: promote without an operator */
	int promote_pacemaker;	/* config: Pacemaker's resource agent promotes */
	uint64_t committed;	/* US_EPOCH_NONE if nothing to promote from */
	int active;		/* already promoted */
	int suspended;		/* the primary suspended protection and released output */
	uint64_t suspended_after; /* ... beyond this epoch */
	struct us_failover_cluster cl;
};

/**
 * The single decision point for promotion. With membership, a lost stream is
 * a suspicion only: the standby promotes once the primary left the group,
 * the stream is silent too, and (two-node) the primary's node is fenced.
 * With @cl.decide_silence a stream silent for silence_ms is evidence enough
 * to fence the primary's node at once (FENCE), and the confirmed fence alone
 * decides (PROMOTE); a failed fence never promotes (REFUSE).
 * @return the verdict; @why says why in words for the log and the operator.
 */
enum us_verdict us_failover_decide(const struct us_failover_input *in, char *why, size_t whylen);

/*
 * How long the primary's stream has been silent, as this host could hear it:
 * time spent stalled itself (its loop not running) is not the primary's
 * silence, because the primary's messages may be waiting unread in the
 * socket. Look every few milliseconds; a look that comes @gap_ms or more
 * after the one before starts the count again from now.
 */
struct us_silence_watch {
	uint64_t look_ms;	/* the last look, 0: none yet */
	uint64_t awake_ms;	/* this host has looked without a gap since */
};

/**
 * @last_ms: when the stream's last byte arrived (or it closed).
 * @return the milliseconds of silence that count, from max(@last_ms, the
 * end of this host's last gap) to @now_ms.
 */
uint64_t us_failover_silence(struct us_silence_watch *w, uint64_t now_ms, uint64_t last_ms,
			     unsigned gap_ms);

/**
 * The primary's counterpart: what to do when the standby stops answering.
 * Output stays held (WAIT) until membership confirms the standby gone and,
 * with a fence command, its node is fenced (FENCE first); then DEGRADE.
 * Without membership: DEGRADE (the caller waits its grace period first).
 * REFUSE when fencing the standby failed: output stays held, because the
 * standby may be running the VM; once the operator has made sure it is
 * off, `understudy degrade` releases it.
 */
enum us_verdict us_failover_standby_lost(const struct us_failover_cluster *cl, char *why,
					 size_t whylen);

struct us_promote_args {
	struct us_qmp *qmp;		/* the parked QEMU, prepared for x-ignore-shared */
	const char *sock_path;		/* unix socket for migrate-incoming */
	const void *devstate;		/* committed device state */
	size_t devstate_len;
	int announce;			/* the VM has a NIC: announce-self after cont */
	int disk_fd;			/* the replica image, synced before cont; -1: none */
	int timeout_ms;
};

/**
 * Load the committed device state into the parked QEMU and continue the guest.
 * @return 0 or -errno with QEMU's error logged.
 */
int us_failover_promote(const struct us_promote_args *a);

/**
 * After a guest runs on this host (a takeover or a switchover): announce its
 * MAC on the LAN (QMP announce-self, QEMU's migration defaults). A failure is
 * logged and otherwise ignored: the guest's next frame moves the MAC too.
 */
void us_failover_announce(struct us_qmp *qmp, int timeout_ms);

#endif
