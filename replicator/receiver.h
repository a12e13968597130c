/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The standby's half of the epoch protocol: checks every message against the
 * session (VM, version, epoch sequence), stages epoch n, and on a verified
 * EPOCH_END acknowledges it and applies it to the replica RAM. A message that
 * fails any check leaves the replica and the committed device state exactly
 * as they were.
 */
#ifndef US_RECEIVER_H
#define US_RECEIVER_H

#include <stddef.h>
#include <stdint.h>
#include "replicator/proto.h"

struct us_receiver;

struct us_receiver_cfg {
	const char *vm_name;
	const char *accel;	/* "kvm" or "tcg": the primary must run the same */
	uint64_t ram_size;
	void *replica;		/* shared mapping of the replica RAM file */
	uint64_t staging_max;	/* cap on one epoch's staged pages, bytes */
	uint64_t devstate_max;	/* cap on one epoch's device state, bytes */
	int disk_fd;		/* the replica image, -1 for a VM without a disk */
	uint64_t disk_size;	/* its size in bytes */
	uint64_t disk_staging_max; /* cap on one epoch's staged disk writes, bytes */
	uint32_t keepalive_max_ms; /* refuse a primary promising keepalives rarer than
				      this (decide = silence); 0: any */
};

/* What the receiver asks of its owner. */
struct us_receiver_ops {
	/* Send a message back to the primary; 0 or -errno. */
	int (*send)(void *opaque, uint16_t type, uint64_t epoch, const void *body, size_t len);
	/* Epoch @epoch is now in the replica (after its ACK went out). */
	void (*committed)(void *opaque, uint64_t epoch);
};

struct us_receiver_stats {
	uint64_t committed;	/* US_EPOCH_NONE before epoch 0 */
	uint64_t receiving;	/* epoch being staged, US_EPOCH_NONE when idle */
	uint64_t epochs;	/* committed since start */
	uint64_t pages;		/* pages applied since start */
	uint64_t bytes;		/* message bytes accepted since start */
	uint64_t rejected;	/* messages refused */
	uint64_t sync_pages;	/* epoch 0 pages received so far */
	uint64_t sync_disk_bytes; /* epoch 0 disk bytes written so far */
	uint64_t disk_bytes;	/* disk bytes applied from later epochs */
	int disk_failed;	/* an acknowledged epoch could not reach the image */
};

/** @return a receiver, or NULL with errno set. */
struct us_receiver *us_receiver_new(const struct us_receiver_cfg *cfg,
				    const struct us_receiver_ops *ops, void *opaque);

/**
 * Handle one framed message whose header decoded with result @hdr_rc
 * (0 or -EPROTONOSUPPORT from us_proto_hdr_decode).
 * @return 0, or -errno with @why set: the caller must close the connection
 * (a REFUSE with the reason was already sent where the peer can read it).
 */
int us_receiver_input(struct us_receiver *rx, int hdr_rc, const struct us_msg_hdr *h,
		      const void *body, char *why, size_t whylen);

/**
 * The link is (@on 1) or is not authenticated: with a key's tags or TLS
 * every byte is checked on the way already, so EPOCH_END's XXH3 sum is
 * neither computed nor checked (the primary sends 0; it decides alike).
 */
void us_receiver_set_authenticated(struct us_receiver *rx, int on);

/**
 * The transport's place callback (transport.h): where the body of the
 * message with header @h should be received so that staging it copies
 * nothing: the tail of the epoch's staging, for a PAGES, DEVSTATE or DISK
 * of the epoch expected (not epoch 0, which goes to the replica). NULL
 * otherwise.
 * The bytes there count only once us_receiver_input takes the message.
 */
void *us_receiver_place(struct us_receiver *rx, const struct us_msg_hdr *h);

/** The connection is gone: discard a partly received epoch, wait for HELLO. */
void us_receiver_reset(struct us_receiver *rx);

/** Counters and epochs. */
void us_receiver_stats(const struct us_receiver *rx, struct us_receiver_stats *st);

/** @return the committed epoch's device state (NULL, 0 before epoch 0). */
const void *us_receiver_devstate(const struct us_receiver *rx, size_t *len);

/**
 * Start out holding committed epoch @epoch of run @lineage with its device
 * state (copied): the replica RAM and image already are that epoch (the old
 * primary of a switchover). A HELLO of the same lineage with base epoch
 * @epoch then needs no sync.
 */
void us_receiver_adopt(struct us_receiver *rx, uint64_t lineage, uint64_t epoch,
		       const void *devstate, size_t len);

/** @return the lineage of the committed epoch, 0 if none. */
uint64_t us_receiver_lineage(const struct us_receiver *rx);

/** Free; NULL-safe. */
void us_receiver_free(struct us_receiver *rx);

#endif
