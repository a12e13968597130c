/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Inside of the standby's receiver, shared by its RAM half (receiver.c) and
 * its disk half (receiver_disk.c).
 */
#ifndef US_RECEIVER_INT_H
#define US_RECEIVER_INT_H

#include "replicator/buf.h"
#include "replicator/proto.h"
#include "replicator/receiver.h"
#include "replicator/xsum.h"

enum rx_state { RX_HELLO, RX_EPOCH };

struct us_receiver {
	struct us_receiver_cfg cfg;
	struct us_receiver_ops ops;
	void *opaque;
	char vm_name[US_PROTO_NAME_MAX];
	char accel[US_PROTO_ACCEL_MAX];
	uint64_t vm_id;
	uint64_t lineage;		/* of the run whose epoch is committed, 0: none */
	uint64_t sync_lineage;		/* of the sync in progress (st.sync_pages), 0: none */
	enum rx_state state;
	uint64_t expect;		/* epoch the next message must carry */
	int epoch_open;			/* a message of @expect arrived */
	struct us_buf pages;		/* staged PAGES bodies of @expect */
	struct us_buf dev;		/* staged device state of @expect */
	struct us_buf dev_committed;	/* device state of the committed epoch */
	struct us_buf disk;		/* staged DISK bodies of @expect */
	struct us_xsum *sum;		/* the epoch's XXH3 (xsum.h) */
	int unsummed;			/* us_receiver_set_authenticated */
	uint64_t n_pages, n_page_bytes;
	char *unz;			/* a PAGES body decompressed (receiver_lz4.c) */
	uint64_t n_disk, n_disk_bytes;
	struct us_receiver_stats st;
};

/* Send REFUSE(@code, @why), discard the open epoch, wait for HELLO; @return @rc. */
int us_rx_refuse(struct us_receiver *rx, uint32_t code, int rc, const char *why);

/* Add @len bytes to the epoch's XXH3 sum (not on an authenticated link). */
void us_rx_sum(struct us_receiver *rx, const void *body, size_t len);

/* Append @body to @b and add it to the sum in one pass. @return 0 or -errno. */
int us_rx_stage(struct us_receiver *rx, struct us_buf *b, const void *body, size_t len);

/* A DISK message of the current epoch: staged, or written at once in epoch 0. */
int us_rx_on_disk(struct us_receiver *rx, const struct us_msg_hdr *h, const void *body,
		  char *why, size_t whylen);

/* A PAGES_LZ4 message: decompressed, then as PAGES (receiver_lz4.c). */
int us_rx_on_pages_lz4(struct us_receiver *rx, const struct us_msg_hdr *h, const void *body,
		       char *why, size_t whylen);

/* Write the staged DISK messages of the verified epoch to the image. */
int us_rx_disk_apply_staged(struct us_receiver *rx);

/* Write one decoded DISK message to @fd. */
int us_rx_disk_apply_one(int fd, const struct us_disk *m);

#endif
