/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The primary's control block, shared by primary.c (life cycle, standby
 * connection, initial sync, ACKs, control requests) and epoch.c (one
 * checkpoint: stop, scan, copy, device state, cont, send) and loss.c
 * (losing the standby: liveness, membership, fencing, degraded mode).
 */
#ifndef US_PRIMARY_INT_H
#define US_PRIMARY_INT_H

#include <stdint.h>
#include <stdio.h>
#include <jansson.h>
#include <qb/qbloop.h>
#include <xxhash.h>

#include "rdma/transport.h"
#include "replicator/chanauth.h"
#include "replicator/config.h"
#include "replicator/ctl.h"
#include "replicator/copier.h"
#include "replicator/devstate.h"
#include "replicator/pagehash.h"
#include "replicator/dirty.h"
#include "replicator/epochlen.h"
#include "replicator/qemu.h"
#include "replicator/qmp.h"
#include "disk/imgstate.h"
#include "replicator/pdisk.h"
#include "replicator/ramfile.h"
#include "replicator/runs.h"
#include "netbuf/relay.h"
#include "heartbeat/peer.h"

enum primary_phase {
	PH_CONNECTING,		/* looking for the standby */
	PH_HANDSHAKE,		/* HELLO sent */
	PH_SYNC,		/* epoch 0: streaming all of RAM */
	PH_IDLE,		/* between checkpoints */
	PH_CHECKPOINT,		/* guest stopped for a checkpoint */
	PH_PAUSED,		/* guest held stopped at a committed epoch */
	PH_DEGRADED,		/* standby lost: guest runs unprotected */
	PH_SWITCHING,		/* switchover: guest stopped at the final epoch, ACK awaited */
	PH_HANDING,		/* switchover: SWITCHOVER sent, SWITCHED awaited */
	PH_HANDED,		/* switchover done: the standby role is next */
};

/* Where one checkpoint's pause went, microseconds. */
struct epoch_times {
	uint64_t epoch;
	uint64_t pages;
	uint64_t dev_bytes;
	uint64_t stop_us, scan_us, copy_us, dev_us, cont_us;
	uint64_t send_us;	/* checksum, tags, queueing: after "cont" went out */
	uint64_t vm_pause_us;	/* QEMU's STOP to RESUME event: the guest's own pause */
	uint64_t start_ms;	/* monotonic, when "stop" was sent */
	uint64_t start_us;	/* the same, in microseconds */
	uint64_t sent_ms;	/* when EPOCH_END was queued */
	uint64_t ack_ms;	/* EPOCH_END queued to ACK, once acked */
	int acked, resumed;	/* ACK arrived; "cont" answered */
};

/* A chunk of at most US_PROTO_MAX_RUN pages staged in the send buffer. */
struct chunk {
	uint64_t first;
	uint32_t count;
	size_t off;		/* into sendbuf */
};

struct us_handover;

struct us_primary {
	const struct us_config *cfg;
	qb_loop_t *loop;		/* the daemon's (h->loop) */
	struct us_handover *h;
	struct us_epochlen len;		/* the checkpoint interval in force */
	int adopted;			/* took over a promoted standby's running QEMU */
	int seeking;			/* guest runs unprotected; looking for a standby
					 * or syncing one (failover/reprotect.c) */
	int seek_sent;			/* epoch 0 went out to the standby being synced */
	int sync_resume;		/* a sync broke off at sync_next: go on from there */
	uint64_t sync_sent_total;	/* RAM bytes streamed by syncs, all connections */
	uint64_t seek_since_ms;		/* unprotected since */
	uint64_t syncs;			/* syncs started by this daemon */
	qb_loop_signal_handle sig_term, sig_int;
	uint64_t lineage;		/* the VM's run, kept across roles */
	uint64_t base_epoch;		/* HELLO: go on from this epoch, US_EPOCH_NONE: sync */
	uint64_t ram_sent_bytes;	/* PAGES bytes sent since start, syncs included */
	uint64_t sync_ram_bytes;	/* ... of which the last sync's */

	/* switchover (failover/switchover.c): the old primary's side */
	struct us_ctl_req *switch_req;	/* answered when the standby took the VM */
	int switch_wanted;		/* stop for good at the next checkpoint */
	uint64_t switch_epoch;		/* the final epoch */
	uint64_t switch_stop_us;	/* when the guest stopped for it */
	void *switch_dev;		/* its device state, for the standby role */
	size_t switch_dev_len;
	uint64_t switches;		/* switchovers this daemon made or took */
	int handoff;			/* Pacemaker's demote: HANDOFF, not SWITCHOVER;
					   the standby resumes only at its promote */
	int handed_off;			/* HANDOFF_OK came: the guest waits, stopped */
	int demoted;			/* demoted with no standby: guest held stopped */
	/* ... and the new primary's */
	int resuming;			/* took the VM at a switchover */
	int switch_waiting;		/* the old primary is not our standby yet */
	uint64_t switch_since_ms;
	uint64_t switch_pause_ms;	/* the guest's pause in the last switchover */

	/* suspended protection (failover/suspend.c) */
	int suspended;			/* output released, no epochs, tracking on */
	uint64_t suspend_since_ms;
	uint64_t suspend_epoch;		/* the last epoch sent before it */
	uint64_t resume_epoch;		/* the epoch carrying the suspension's changes */
	uint64_t resume_ms;		/* resume-protection asked, its epoch not yet acked */
	uint64_t resume_ram_bytes;	/* that epoch's PAGES bytes */
	uint64_t resume_disk_bytes;	/* ... and DISK bytes */
	enum primary_phase phase;
	int exit_rc;

	struct us_ramfile ram;
	struct us_qemu *qemu;
	struct us_qmp *qmp;
	struct us_devstate *dev;
	struct us_dirty *dirty;
	struct us_ctl *ctl;
	struct us_transport *tx;
	struct us_relay *relay;	/* NULL when the VM has no NIC */
	struct us_chanauth auth; /* the channel's key and handshake (chanauth.h) */
	struct us_pdisk disk;	/* the replicated disk, if [vm] disk is set */
	struct us_imgstate_writer img_rec; /* its state record (loss.c) */
	uint64_t img_rec_acked;		/* p->acked when it was last noted */
	int img_released;		/* output left beyond img_rec_acked */
	int disk_polled;	/* the write log's high-water fd is polled */
	int flush_polled;	/* the disk flusher's fd is polled */
	uint64_t vm_stop_us;	/* QEMU's STOP event of the checkpoint under way */
	struct {		/* the epoch to queue once "cont" is answered (epoch.c) */
		const void *dev;	/* its device state: valid until the next capture */
		size_t dev_len;
		int pending;
	} fin;
	int disk_deferred;	/* its checkpoint waits for pace_ready_ms (disk_high_water) */
	char net_sock[PATH_MAX];
	uint64_t vm_id;

	/* losing the standby (loss.c) */
	struct us_peer *peer;		/* NULL with [heartbeat] membership = none */
	int member_pending;		/* protected, but the standby not yet seen in the group */
	qb_loop_timer_handle grace_timer;
	qb_loop_timer_handle live_timer;
	qb_loop_timer_handle ka_timer;	/* the next KEEPALIVE (loss.c) */
	int lost;			/* the standby is lost: output held */
	uint64_t lost_ms;		/* since when */
	int degraded;			/* output released without ACKs */
	char last_why[256];
	uint64_t announced_ms;		/* start of the ACK-rate window */
	uint64_t keepalive_ms;		/* when the last KEEPALIVE went out */
	uint64_t acks_window;
	double epochs_per_s;

	/* the epoch being built and the last one acknowledged */
	uint64_t epoch;
	uint64_t acked;		/* US_EPOCH_NONE before ACK(0) */
	XXH3_state_t *sum;
	int unsummed;			/* the link is authenticated (key or TLS): its
					 * tags cover every byte, no XXH3 sum (0 sent) */
	uint64_t n_pages, n_page_bytes;
	struct us_runs runs;
	char *sendbuf;		/* mmap'd, sendbuf_cap bytes (epoch.c) */
	size_t sendbuf_cap;
	struct chunk *chunks;
	size_t n_chunks, chunks_cap;
	struct us_copier *copier;	/* the pause's copy on several threads */
	struct us_copy_span *spans;	/* one per dirty run, for the copier */
	size_t spans_cap;
	uint64_t staging_max;	/* the standby's cap, from HELLO_OK */
	struct us_pagehash sent;	/* what each page held when last sent (skip_unchanged) */
	int sent_failed;		/* no memory for it: every dirty page is sent */
	uint64_t unchanged_pages;	/* dirty pages not sent: left as last sent */
	char *zbuf;			/* compress = lz4: one compressed run (epoch_lz4.c) */
	uint64_t lz4_saved_bytes;	/* bytes compression kept off the link */

	/* initial sync */
	uint64_t sync_next;	/* next page to stream */
	uint64_t sync_started_ms;
	int sync_last_pct;
	int sync_streamed;	/* everything queued; epoch 0 may start */

	/* scheduling */
	qb_loop_timer_handle timer;
	uint64_t pace_ready_ms; /* monotonic: the guest has run its share (pace.h) */
	qb_loop_timer_handle connect_timer;
	uint64_t connect_deadline_ms;
	int due;		/* a checkpoint waits for the transport to drain */
	struct epoch_times cur;
	struct epoch_times hist[256];	/* ring of recent checkpoints, by epoch */
	uint64_t ack_ms_last;
	FILE *stats;

	/* control */
	struct us_ctl_req *pause_req;	/* answered when the held epoch is acked */
	int pause_wanted;
};

#define PRIMARY_MAX_INFLIGHT 4	/* epochs sent and not yet acknowledged */
#define SENDBUF_ALIGN (2u << 20) /* the send buffer grows in huge pages */

/* epoch.c */
void us_epoch_schedule(struct us_primary *p, uint64_t delay_ms);
void us_epoch_start(struct us_primary *p);
void us_epoch_drained(struct us_primary *p);
uint64_t us_epoch_now_us(void);
/* epochs sent and not yet acknowledged */
uint64_t us_epoch_inflight(const struct us_primary *p);
int us_epoch_reserve(struct us_primary *p, uint64_t pages, size_t chunks);
void us_epoch_free_sendbuf(struct us_primary *p);
void us_epoch_stage_chunk(struct us_primary *p, uint64_t first, uint32_t count, size_t off);

/* epoch_lz4.c: send a run as PAGES_LZ4; @return 1 when sent so, 0 when it is
 * not worth it (send it plain), -errno on a transport error. */
int us_epoch_send_lz4(struct us_primary *p, uint64_t first, uint32_t count, const void *data);

/* loss.c */
/** The most time between two messages to the standby (a KEEPALIVE when
 * nothing else goes): silence_ms / 3, at most 250 ms. */
unsigned us_primary_keepalive_ms(const struct us_config *c);
void us_primary_lost_standby(struct us_primary *p, const char *why);
/* Protected again: say whether the standby can take over yet (loss.c). */
void us_primary_member_check(struct us_primary *p);
void us_primary_acked(struct us_primary *p);
int us_primary_loss_up(struct us_primary *p);
void us_primary_loss_down(struct us_primary *p);
void us_primary_loss_status(const struct us_primary *p, json_t *o);
int us_primary_degrade(struct us_primary *p, char *why, size_t len);
void us_primary_peer_renew(struct us_primary *p);

/* failover/reprotect.c */
void us_primary_seek(struct us_primary *p, const char *why);
int us_primary_seek_synced(struct us_primary *p, uint64_t standby_pages);
void us_primary_seek_done(struct us_primary *p);
int us_primary_seek_lost(struct us_primary *p, const char *why);
void us_primary_seek_cut(struct us_primary *p);
int us_primary_reprotect(struct us_primary *p, char *why, size_t len);

/* failover/switchover.c */
int us_primary_switchover(struct us_primary *p, struct us_ctl_req *req, char *why, size_t len);
int us_primary_switch_hold(struct us_primary *p, const void *dev, size_t len);
void us_primary_switch_acked(struct us_primary *p, uint64_t epoch);
void us_primary_switch_abort(struct us_primary *p, const char *why);
int us_primary_switched(struct us_primary *p, uint64_t epoch);
int us_primary_switch_resume(struct us_primary *p);
int us_primary_switch_standby(struct us_primary *p, uint64_t committed);
int us_primary_demote(struct us_primary *p, struct us_ctl_req *req, char *why, size_t len);
int us_primary_handoff_ok(struct us_primary *p, uint64_t epoch);
int us_primary_undemote(struct us_primary *p, char *why, size_t len);

/* failover/suspend.c */
int us_primary_suspend(struct us_primary *p, char *why, size_t len);
int us_primary_resume_protection(struct us_primary *p, const char *by, char *why, size_t len);
int us_primary_suspend_ok(struct us_primary *p, uint64_t epoch);
void us_primary_resume_sized(struct us_primary *p, uint64_t epoch, uint64_t ram, uint64_t disk);
void us_primary_resume_acked(struct us_primary *p, uint64_t epoch);

/* loss.c: record the image's state beside it (@force: at a clean stop) */
void us_primary_note_image(struct us_primary *p, int force);
/* loss.c: no standby came (after a switchover) */
void us_primary_no_standby(struct us_primary *p, const char *why);

/* primary.c */
void us_primary_sync_start(struct us_primary *p);
void us_primary_connect_later(struct us_primary *p, unsigned ms);
const char *us_primary_state_name(const struct us_primary *p);
void us_primary_watch_disk(struct us_primary *p);
void us_primary_unwatch_disk(struct us_primary *p);
void us_primary_release_output(struct us_primary *p);
void us_primary_pass_output(struct us_primary *p);
int us_primary_settle_output(struct us_primary *p);
void us_primary_epoch_sent(struct us_primary *p);
void us_primary_stats(struct us_primary *p, struct epoch_times *t);

#endif
