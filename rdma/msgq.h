/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The send queue every transport keeps: messages as segments of an owned,
 * encoded header (with the PAGES descriptor) and a body that is borrowed from
 * the caller or, for control messages, owned. FIFO, grows by doubling.
 */
#ifndef US_MSGQ_H
#define US_MSGQ_H

#include <stddef.h>
#include <stdint.h>
#include "replicator/proto.h"

#define US_SEG_HDR_MAX (US_PROTO_HDR_SIZE + US_PROTO_PAGES_DESC)

struct us_seg {
	char hdr[US_SEG_HDR_MAX];	/* header and, for PAGES, its descriptor */
	uint32_t hdr_len;
	const char *body;		/* borrowed, or points to owned */
	size_t body_len;
	void *owned;			/* freed when the segment is popped */
	int seal;			/* tag it (us_transport_auth_seal) before it leaves */
};

struct us_msgq {
	struct us_seg *q;	/* live segments are q[head..tail) */
	size_t head, tail, cap;
	uint64_t queued;	/* bytes of live segments */
};

/**
 * Append a message: @h encoded (its len set from @prefix_len + @body_len),
 * @prefix copied after it, @body borrowed; @owned (may be NULL) is freed with
 * the segment, also on failure. @seal: the channel is authenticated, the
 * transport tags the segment when it first sends it. @return 0 or -ENOMEM.
 */
int us_msgq_push(struct us_msgq *mq, struct us_msg_hdr *h, const void *prefix,
		 size_t prefix_len, const void *body, size_t body_len, void *owned, int seal);

/** @return 1 if no segment is queued. */
int us_msgq_empty(const struct us_msgq *mq);

/** The oldest segment; the queue must not be empty. */
struct us_seg *us_msgq_front(struct us_msgq *mq);

/** Drop the oldest segment (its bytes no longer count as queued). */
void us_msgq_pop(struct us_msgq *mq);

/** Drop everything and the allocation; NULL-safe. */
void us_msgq_free(struct us_msgq *mq);

#endif
