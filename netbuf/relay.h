/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The network relay between QEMU's "-netdev stream" unix socket (each frame a
 * 4-byte big-endian length and the frame) and a tap device on the host's
 * bridge. Frames from the guest are held in the output-commit queue until
 * their epoch is acknowledged; frames to the guest pass at once.
 */
#ifndef US_RELAY_H
#define US_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include <qb/qbloop.h>

#include "netbuf/frame.h"

struct us_relay;

enum us_relay_mode {
	US_RELAY_INACTIVE = 0,	/* parked standby: nothing passes */
	US_RELAY_BUFFERED = 1,	/* protected: guest output waits for its epoch's ACK */
	US_RELAY_PASSTHROUGH = 2,	/* unprotected or promoted: output passes at once */
};

struct us_relay_cfg {
	const char *sock_path;	/* where QEMU's -netdev stream connects */
	const char *tap;	/* tap device to create */
	const char *bridge;	/* bridge to attach it to, or "" */
	uint64_t max_bytes;	/* output queue caps */
	uint64_t max_frames;
};

struct us_relay_stats {
	uint64_t queued_frames, queued_bytes;
	uint64_t released_frames, released_bytes;
	uint64_t inbound_frames, inbound_dropped;
	uint64_t malformed;	/* zero-length, oversized or truncated frames */
	int blocked;		/* queue full: not reading from QEMU */
	int mode;
};

/**
 * Listen on cfg->sock_path (before QEMU starts) and create the tap.
 * @return the relay, or NULL with errno set and the cause logged.
 */
struct us_relay *us_relay_new(qb_loop_t *loop, const struct us_relay_cfg *cfg,
			      enum us_relay_mode mode);

/** Checkpoint: frames read so far belong to epoch @epoch. */
void us_relay_seal(struct us_relay *r, uint64_t epoch);

/** ACK(@epoch): send every held frame of epochs <= @epoch to the tap. */
void us_relay_release(struct us_relay *r, uint64_t epoch);

/** Switch mode; to PASSTHROUGH releases everything held, in order. */
void us_relay_set_mode(struct us_relay *r, enum us_relay_mode mode);

void us_relay_stats(const struct us_relay *r, struct us_relay_stats *st);

/** @return 1 while the guest's output waits for its epoch's release (BUFFERED). */
int us_relay_held(const struct us_relay *r);

/** Forget QEMU's stream now (its QEMU is being replaced), so the next
 * QEMU's connection is accepted. */
void us_relay_detach_qemu(struct us_relay *r);

/** Close QEMU's connection and the tap, remove the socket; NULL-safe. */
void us_relay_free(struct us_relay *r);

#endif
