/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Sending the replica image's block hashes (see hashsend.h): one loop job
 * per DISK_HASHES message of up to STEP_BLOCKS hashes, re-queued until the
 * whole image is covered; a read error ends it with a log line (the primary
 * then waits in vain and its connect timeout or the operator decide).
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "disk/blockhash.h"
#include "disk/hashsend.h"
#include "replicator/log.h"
#include "replicator/proto.h"

#define STEP_BLOCKS 256u /* 16 MiB of image per step */

struct us_hashsend {
	qb_loop_t *loop;
	int fd;
	uint64_t size, next, blocks;
	struct us_transport *tx;
	int queued;	     /* a job is on the loop */
	char *buf;	     /* one block */
	unsigned char *body; /* descriptor + STEP_BLOCKS hashes */
};

static void step(void *data);

static void queue(struct us_hashsend *h)
{
	h->queued = qb_loop_job_add(h->loop, QB_LOOP_LOW, h, step) == 0;
}

/* Hash the next blocks into the body. @return how many, or -errno. */
static int64_t hash_some(struct us_hashsend *h)
{
	unsigned char *out = h->body + US_PROTO_HASHES_DESC;
	uint32_t n;
	int64_t rc;

	for (n = 0; n < STEP_BLOCKS && h->next + n < h->blocks; n++) {
		rc = us_blockhash_read(h->fd, h->size, h->next + n, h->buf,
				       out + (size_t)n * US_PROTO_HASH_LEN);
		if (rc < 0)
			return rc;
	}
	return n;
}

static void step(void *data)
{
	struct us_hashsend *h = data;
	int64_t n;
	int rc;

	h->queued = 0;
	n = hash_some(h);
	if (n < 0) {
		us_log(LOG_ERR, US_TAG_DISK, "cannot read the replica image to hash it: %s",
		       strerror((int)-n));
		return;
	}
	us_proto_hashes_desc_encode(h->body, h->next, (uint32_t)n);
	rc = us_transport_send_msg(h->tx, US_MSG_DISK_HASHES, 0, h->body,
				   US_PROTO_HASHES_DESC + (size_t)n * US_PROTO_HASH_LEN);
	if (rc < 0)
		return;
	h->next += n;
	if (h->next < h->blocks)
		queue(h);
	else
		us_log(LOG_INFO, US_TAG_DISK, "hashes of the replica image's %lu blocks sent",
		       (unsigned long)h->blocks);
}

struct us_hashsend *us_hashsend_start(qb_loop_t *loop, int fd, uint64_t size,
				      struct us_transport *tx)
{
	struct us_hashsend *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->loop = loop;
	h->fd = fd;
	h->size = size;
	h->tx = tx;
	h->blocks = us_blockhash_blocks(size);
	h->buf = malloc(US_PROTO_HASH_BLOCK);
	h->body = malloc(US_PROTO_HASHES_DESC + (size_t)STEP_BLOCKS * US_PROTO_HASH_LEN);
	if (!h->buf || !h->body) {
		us_hashsend_free(h);
		errno = ENOMEM;
		return NULL;
	}
	queue(h);
	return h;
}

void us_hashsend_free(struct us_hashsend *h)
{
	if (!h)
		return;
	if (h->queued)
		qb_loop_job_del(h->loop, QB_LOOP_LOW, h, step);
	free(h->buf);
	free(h->body);
	free(h);
}
