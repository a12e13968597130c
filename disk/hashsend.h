/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The standby's half of the disk resync: after HELLO_OK it hashes its
 * replica image block by block on the event loop (a bounded step at a time,
 * so ACKs and liveness keep flowing) and sends the hashes as DISK_HASHES;
 * the primary then sends only the blocks whose hash differs.
 */
#ifndef US_DISK_HASHSEND_H
#define US_DISK_HASHSEND_H

#include <stdint.h>
#include <qb/qbloop.h>

#include "rdma/transport.h"

struct us_hashsend;

/**
 * Start hashing image @fd (@size bytes) and sending over @tx, which must
 * outlive the returned object (free it before @tx). @return it, or NULL
 * with errno set.
 */
struct us_hashsend *us_hashsend_start(qb_loop_t *loop, int fd, uint64_t size,
				      struct us_transport *tx);

/** Stop and free; NULL-safe. */
void us_hashsend_free(struct us_hashsend *h);

#endif
