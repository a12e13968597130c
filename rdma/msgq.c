/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The transports' send queue of message segments (see msgq.h). */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rdma/msgq.h"

static struct us_seg *grow(struct us_msgq *mq)
{
	struct us_seg *q;
	size_t cap;

	if (mq->head == mq->tail)
		mq->head = mq->tail = 0;
	if (mq->tail == mq->cap) {
		cap = mq->cap ? mq->cap * 2 : 256;
		q = realloc(mq->q, cap * sizeof(*q));
		if (!q)
			return NULL;
		mq->q = q;
		mq->cap = cap;
	}
	return memset(&mq->q[mq->tail++], 0, sizeof(struct us_seg));
}

int us_msgq_push(struct us_msgq *mq, struct us_msg_hdr *h, const void *prefix,
		 size_t prefix_len, const void *body, size_t body_len, void *owned, int seal)
{
	struct us_seg *s = grow(mq);

	if (!s) {
		free(owned);
		return -ENOMEM;
	}
	h->len = prefix_len + body_len;
	us_proto_hdr_encode(s->hdr, h);
	if (prefix_len)
		memcpy(s->hdr + US_PROTO_HDR_SIZE, prefix, prefix_len);
	s->hdr_len = US_PROTO_HDR_SIZE + prefix_len;
	s->body = body;
	s->body_len = body_len;
	s->owned = owned;
	s->seal = seal;
	mq->queued += s->hdr_len + body_len;
	return 0;
}

int us_msgq_empty(const struct us_msgq *mq)
{
	return mq->head == mq->tail;
}

struct us_seg *us_msgq_front(struct us_msgq *mq)
{
	return &mq->q[mq->head];
}

void us_msgq_pop(struct us_msgq *mq)
{
	struct us_seg *s = &mq->q[mq->head++];

	mq->queued -= s->hdr_len + s->body_len;
	free(s->owned);
}

void us_msgq_free(struct us_msgq *mq)
{
	if (!mq)
		return;
	while (!us_msgq_empty(mq))
		us_msgq_pop(mq);
	free(mq->q);
	mq->q = NULL;
	mq->cap = 0;
}
