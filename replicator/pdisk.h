/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The primary's disk: the image, the NBD server QEMU uses as the VM's disk,
 * and the write log that turns its writes into each epoch's DISK messages
 * (see pdisk.c for the order of things).
 */
#ifndef US_PDISK_H
#define US_PDISK_H

#include <limits.h>
#include <stdint.h>
#include <jansson.h>
#include <xxhash.h>

#include "disk/wlog.h"
#include "rdma/transport.h"
#include "replicator/proto.h"

struct us_flusher;
struct us_image;
struct us_nbd;

struct us_pdisk {
	struct us_image *img; /* NULL: the VM has no disk */
	struct us_nbd *nbd;
	struct us_wlog *wlog;
	char sock[PATH_MAX];	    /* the NBD server's socket, for QEMU */
	struct us_wlog_batch batch; /* the epoch being sent (borrowed by the transport) */
	int batch_queued;	    /* its DISK messages are queued: a drain may free it */
	uint64_t n_writes, n_bytes; /* DISK messages and body bytes of the epoch */
	uint64_t sync_next;	    /* initial sync: next byte of the image to send */
	char *sync_buf;		    /* initial sync: blocks in flight */
	uint64_t sent_bytes;	    /* disk bytes sent since start (status) */
	uint64_t sync_bytes;	    /* of which the initial sync's */
	uint64_t sync_skipped;	    /* image bytes the standby held already */
	unsigned char *peer_hashes; /* the standby's block hashes (DISK_HASHES) */
	int sync_last_pct;	    /* progress logged at each tenth */
	uint64_t peer_got;	    /* hashes received on this connection */
	uint64_t early[2];	    /* checkpoints cut early: at the high-water, at the hard mark */
	uint64_t early_unlogged;    /* of those, not yet in a log line */
	uint64_t early_log_ms;	    /* when the last such line was logged */
	struct us_flusher *flusher; /* pays FLUSHes answered during a checkpoint's stop */
	int holding;		    /* output waits for the flusher, from epoch hold_from on */
	uint64_t hold_from;
	uint64_t kicks;		   /* flusher kicks so far: one per stop that left a FLUSH owed */
	uint64_t flushes_deferred; /* stops whose FLUSH was paid outside the pause */
};

/** Open [vm] disk and serve it on RUN_DIR/NAME-disk.sock. @return 0 or -errno, logged. */
int us_pdisk_up(struct us_pdisk *d, const char *image, const char *run_dir, const char *vm,
		uint64_t log_max);

/**
 * Take over an image already open and served by @nbd on @sock (a promoted
 * standby's, whose QEMU is running the guest): its writes go to the write
 * log from now on. Without @img, no disk. @return 0 or -ENOMEM (logged).
 */
int us_pdisk_adopt(struct us_pdisk *d, struct us_image *img, struct us_nbd *nbd, const char *sock,
		   uint64_t log_max);

/**
 * Hand the image and its server on (a switchover: this host becomes the
 * standby): the server stops reporting writes, the log goes, *@img, *@nbd
 * and @sock get what was served (NULL without a disk).
 */
void us_pdisk_give(struct us_pdisk *d, struct us_image **img, struct us_nbd **nbd, char *sock,
		   size_t socklen);

/** Stop serving and close; safe on a disk never brought up. */
void us_pdisk_down(struct us_pdisk *d);

/** @return 1 if the VM has a replicated disk. */
int us_pdisk_on(const struct us_pdisk *d);

/** @return the image size in bytes, 0 without a disk. */
uint64_t us_pdisk_size(const struct us_pdisk *d);

/** Record writes from now on (a standby is being synced), or stop and drop them. */
void us_pdisk_record(struct us_pdisk *d, int on);

/** The standby is gone: stop recording, free what the transport held. */
void us_pdisk_unreplicated(struct us_pdisk *d);

/**
 * The transport sent everything queued: free the sent batch (writers may go
 * on). A batch cut and not yet queued stays: a message sent during the
 * checkpoint (SUSPEND) drains before the epoch's DISK messages are queued.
 */
void us_pdisk_drained(struct us_pdisk *d);

/** Guest stopped for a checkpoint: free the sent batch, take the epoch's writes. */
void us_pdisk_cut(struct us_pdisk *d);

/**
 * Queue the cut writes as DISK messages of @epoch, hashing each body into
 * @sum in wire order. @return 0 or -errno.
 */
int us_pdisk_send(struct us_pdisk *d, struct us_transport *tx, uint64_t epoch, XXH3_state_t *sum);

/**
 * Initial sync: queue the next blocks of the image (read while the guest
 * runs; the write log orders later writes after them) as epoch 0.
 * @return 1 while more remains, 0 when the whole image was queued, -errno.
 */
int us_pdisk_sync_step(struct us_pdisk *d, struct us_transport *tx, XXH3_state_t *sum);

/** A new standby connection: forget the last one's hashes, restart the sync. */
void us_pdisk_new_peer(struct us_pdisk *d);

/** Take a DISK_HASHES message. @return 0, or -EBADMSG (out of range, repeated). */
int us_pdisk_take_hashes(struct us_pdisk *d, const struct us_disk_hashes *m);

/** @return 1 once the standby's hash of every block is in. */
int us_pdisk_hashes_ready(const struct us_pdisk *d);

/**
 * A checkpoint cut early because the write log passed its high-water mark
 * (@hard: its hard mark) in @epoch, at @now_ms: counted, and logged at most
 * every US_PDISK_EARLY_LOG_MS (a guest writing fast cuts ten a second).
 */
void us_pdisk_note_early(struct us_pdisk *d, int hard, unsigned long epoch, uint64_t now_ms);
#define US_PDISK_EARLY_LOG_MS 10000

/** @return {size, sync_bytes, sync_skipped_bytes, sent_bytes, log_open_bytes, log_held_bytes,
 * log_waits, early_checkpoints, early_at_hard_mark}. */
json_t *us_pdisk_status(struct us_pdisk *d);

/* ---- flushes outside the pause (pdisk_flush.c) ---- */

/** Start the flusher (us_pdisk_up and _adopt do); without a thread, flushes stay in the pause. */
void us_pdisk_flusher_up(struct us_pdisk *d);

/** The fd to poll for us_pdisk_flushed, or -1 (no disk, no flusher). */
int us_pdisk_flusher_fd(const struct us_pdisk *d);

/** A checkpoint's `stop` goes out: defer its FLUSHes if the output is held. */
void us_pdisk_stopping(struct us_pdisk *d, int output_held);

/** `stop` answered for @epoch: a FLUSH owed goes to the flusher; that epoch's output waits. */
void us_pdisk_stopped(struct us_pdisk *d, uint64_t epoch);

/** The flusher's fd polled readable. @return 0, or -errno of a failed fdatasync. */
int us_pdisk_flushed(struct us_pdisk *d);

/** The last epoch whose output may go, given ACKs up to @acked; US_EPOCH_NONE: none. */
uint64_t us_pdisk_output_limit(const struct us_pdisk *d, uint64_t acked);

/** Pay an owed FLUSH now, on this thread (the output stops being held). @return 0 or -errno. */
int us_pdisk_settle(struct us_pdisk *d);

/** Settle, end the flusher (us_pdisk_down and _give do). */
void us_pdisk_flusher_down(struct us_pdisk *d);

/** Start of a new epoch's accounting (n_writes, n_bytes). */
void us_pdisk_epoch_reset(struct us_pdisk *d);

#endif
