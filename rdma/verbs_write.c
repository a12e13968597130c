/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The verbs transport's writer (the primary): messages queued, copied into
 * the bounce region that mirrors the reader's ring (large bodies in memory
 * the caller registered: gathered from there instead) and written there
 * with RDMA WRITE, one WRITE_WITH_IMM doorbell per batch, within the ring
 * space and the receives the reader gave back (the rules are in
 * rdma/verbs_conn.h). Also the operations table behind transport.h.
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "rdma/verbs_conn.h"
#include "rdma/verbs_int.h"
#include "replicator/log.h"

uint16_t us_verbs_wire_version = US_PROTO_VERSION;

static void encode_hdr(struct verbs_conn *c, void *out, uint16_t type, uint64_t epoch, size_t len)
{
	struct us_msg_hdr h = { .version = us_verbs_wire_version, .type = type, .len = len,
				.vm_id = c->base.vm_id, .epoch = epoch };

	us_proto_hdr_encode(out, &h);
}

/* Copy @len bytes to stream position @at of the mirrored ring. */
static void copy_in(struct verbs_conn *c, uint64_t at, const void *src, size_t len)
{
	size_t off = at % c->ring_len, first = len < c->ring_len - off ? len : c->ring_len - off;

	memcpy(c->ring + off, src, first);
	memcpy(c->ring, (const char *)src + first, len - first);
}

/* Post one write WR of @n pieces to stream position @at of the peer's ring. */
static int post_write(struct verbs_conn *c, uint64_t at, struct ibv_sge *sge, int n, int imm,
		      uint32_t total)
{
	struct ibv_send_wr wr = { .wr_id = WRID_WRITE | c->posted, .sg_list = sge, .num_sge = n,
				  .opcode = imm ? IBV_WR_RDMA_WRITE_WITH_IMM : IBV_WR_RDMA_WRITE };
	struct ibv_send_wr *bad;
	int rc;

	wr.wr.rdma.remote_addr = c->remote_addr + at % c->ring_len;
	wr.wr.rdma.rkey = c->rkey;
	if (imm) {
		wr.imm_data = htonl(total);
		wr.send_flags = IBV_SEND_SIGNALED;
	} else if ((c->posted + 1) % SIGNAL_EVERY == 0) {
		wr.send_flags = IBV_SEND_SIGNALED;
	}
	rc = ibv_post_send(c->id->qp, &wr, &bad);
	if (rc)
		return -rc;
	c->posted++;
	return 0;
}

/*
 * The piece of local memory holding stream bytes from @at on, up to @to, the
 * ring's wrap or the next zero-copy body: a body's rest in user memory, or
 * the bounce region. @return its length.
 */
static uint32_t span_at(struct verbs_conn *c, uint64_t at, uint64_t to, struct ibv_sge *sge)
{
	uint64_t end = to, wrap = at - at % c->ring_len + c->ring_len;
	uint32_t i;

	sge->addr = (uintptr_t)(c->ring + at % c->ring_len);
	sge->lkey = c->ring_mr->lkey;
	for (i = 0; i < c->nzc; i++) {
		const struct zc_piece *z = &c->zc[i];

		if (at >= z->at && at < z->at + z->len) {
			sge->addr = (uintptr_t)(z->addr + (at - z->at));
			sge->lkey = z->lkey;
			end = z->at + z->len;
			break;
		}
		if (z->at > at && z->at < end)
			end = z->at;
	}
	end = end < wrap ? end : wrap;
	sge->length = end - at;
	return sge->length;
}

/* Write stream bytes [from, to): WRs of up to max_sge pieces, cut where the ring wraps. */
static int write_range(struct verbs_conn *c, uint64_t from, uint64_t to)
{
	struct ibv_sge sge[SGE_MAX];
	uint64_t at = from, wr_at = from;
	uint32_t n = 0;
	int rc = 0;

	while (at < to && rc == 0) {
		at += span_at(c, at, to, &sge[n++]);
		if (at == to || n == c->max_sge || at % c->ring_len == 0) {
			rc = post_write(c, wr_at, sge, n, at == to, to - from);
			wr_at = at;
			n = 0;
		}
	}
	if (rc == 0)
		c->db_end[c->db_posted++ % CTL_SLOTS] = to;
	return rc;
}

/* Credit covers a doorbell once the reader consumed its bytes: it re-posted its receive. */
void us_verbs_add_credit(struct verbs_conn *c, uint32_t bytes)
{
	c->credit += bytes;
	while (c->db_done < c->db_posted && c->db_end[c->db_done % CTL_SLOTS] <= c->credit)
		c->db_done++;
}

/* Room for one more doorbell: in the send queue, and a receive at the reader. */
static int can_ring(const struct verbs_conn *c)
{
	return c->posted - c->completed + WRS_PER_DB <= SQ_DEPTH &&
	       c->db_posted - c->db_done < CTL_SLOTS;
}

/* The user memory @s's body lies in, when it is to be sent from there, or NULL. */
static const struct ibv_mr *zc_mr(const struct verbs_conn *c, const struct us_seg *s)
{
	int i;

	if (s->owned || s->body_len < ZC_MIN || c->max_sge < SGE_MIN_ZC)
		return NULL;
	for (i = 0; i < (int)USER_MRS; i++) {
		const struct user_mr *u = &c->umr[i];

		if (u->mr && s->body >= u->addr && s->body_len <= u->len &&
		    (size_t)(s->body - u->addr) <= u->len - s->body_len)
			return u->mr;
	}
	return NULL;
}

/* Put @s into the ring at c->head: its header, and its body copied or gathered later. */
static void place_seg(struct verbs_conn *c, struct us_seg *s, const struct ibv_mr *mr)
{
	if (s->seal) { /* tagged as it leaves, in send order */
		us_transport_auth_seal(&c->base, s->hdr, s->hdr_len, s->body, s->body_len);
		s->seal = 0;
	}
	copy_in(c, c->head, s->hdr, s->hdr_len);
	if (mr)
		c->zc[c->nzc++] = (struct zc_piece){ c->head + s->hdr_len, s->body_len, mr->lkey,
						     s->body };
	else
		copy_in(c, c->head + s->hdr_len, s->body, s->body_len);
	c->head += s->hdr_len + s->body_len;
}

/* Copy queued messages into the ring while credit lasts; one doorbell per batch. */
int us_verbs_pump(struct verbs_conn *c)
{
	uint64_t start;
	int rc;

	while (!us_msgq_empty(&c->mq) && !c->failed && can_ring(c)) {
		start = c->head;
		c->nzc = 0;
		while (!us_msgq_empty(&c->mq) && c->head - start < BATCH_BYTES) {
			struct us_seg *s = us_msgq_front(&c->mq);
			const struct ibv_mr *mr = zc_mr(c, s);

			if (s->hdr_len + s->body_len > c->ring_len - (c->head - c->credit) ||
			    (mr && c->nzc == ZC_PIECES))
				break;
			place_seg(c, s, mr);
			us_msgq_pop(&c->mq);
		}
		if (c->head == start)
			return 0;
		rc = write_range(c, start, c->head);
		if (rc)
			return rc;
	}
	return 0;
}

static int enqueue(struct verbs_conn *c, uint16_t type, uint64_t epoch, const void *prefix,
		   size_t prefix_len, const void *body, size_t body_len, void *owned)
{
	struct us_msg_hdr h = { .version = us_verbs_wire_version, .type = type,
				.vm_id = c->base.vm_id, .epoch = epoch };
	int rc;

	if (c->failed) {
		free(owned);
		return -EPIPE;
	}
	rc = us_msgq_push(&c->mq, &h, prefix, prefix_len, body, body_len, owned,
			  c->base.auth != NULL);
	if (rc < 0)
		return rc;
	c->was_busy = 1;
	rc = us_verbs_pump(c);
	if (rc < 0) {
		/* The stream has a hole now: nothing more may follow it. */
		us_log(LOG_ERR, US_TAG_RDMA, "posting an RDMA write to %s failed: %s (send queue "
		       "full?); the connection is unusable", c->base.peer, strerror(-rc));
		us_verbs_shut(c);
	}
	return rc;
}

static int verbs_send_msg(struct us_transport *t, uint16_t type, uint64_t epoch,
			  const void *body, size_t len)
{
	struct verbs_conn *c = (struct verbs_conn *)t;
	char msg[CTL_SLOT];
	void *copy = NULL;

	if (!c->writer) {
		if (len > CTL_SLOT - US_PROTO_HDR_SIZE)
			return -EMSGSIZE;
		if (c->failed)
			return -EPIPE;
		encode_hdr(c, msg, type, epoch, len);
		memcpy(msg + US_PROTO_HDR_SIZE, body, len);
		if (c->base.auth) /* sent at once: tagged now */
			us_transport_auth_seal(t, msg, US_PROTO_HDR_SIZE, msg + US_PROTO_HDR_SIZE,
					       len);
		return us_verbs_send_ctl(c, msg, US_PROTO_HDR_SIZE + len);
	}
	if (len) {
		copy = malloc(len);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, body, len);
	}
	return enqueue(c, type, epoch, NULL, 0, copy, len, copy);	/* owns copy */
}

static int verbs_send_body(struct us_transport *t, uint16_t type, uint64_t epoch,
			   const void *desc, size_t desc_len, const void *data, size_t len)
{
	if (!((struct verbs_conn *)t)->writer)
		return -EOPNOTSUPP;
	return enqueue((struct verbs_conn *)t, type, epoch, desc, desc_len, data, len, NULL);
}

static int verbs_register(struct us_transport *t, const void *buf, size_t len)
{
	struct verbs_conn *c = (struct verbs_conn *)t;
	struct user_mr *u = NULL;
	int i;

	if (!c->writer || c->max_sge < SGE_MIN_ZC)
		return -EOPNOTSUPP;
	for (i = 0; i < (int)USER_MRS && !u; i++)
		u = c->umr[i].mr ? NULL : &c->umr[i];
	if (!u)
		return -ENOSPC;
	u->mr = ibv_reg_mr(c->pd, (void *)buf, len, 0);
	if (!u->mr) {
		us_log(LOG_INFO, US_TAG_RDMA, "cannot register %zu bytes of send buffer for RDMA "
		       "(%s): its bodies are copied", len, strerror(errno));
		return -(errno ? errno : ENOMEM);
	}
	u->addr = buf;
	u->len = len;
	return 0;
}

static int verbs_unregister(struct us_transport *t, const void *buf)
{
	struct verbs_conn *c = (struct verbs_conn *)t;
	int i;

	for (i = 0; i < (int)USER_MRS; i++) {
		struct user_mr *u = &c->umr[i];

		if (!u->mr || u->addr != buf)
			continue;
		if (us_verbs_busy(t))
			return -EBUSY;	/* a write in flight may read it */
		ibv_dereg_mr(u->mr);
		*u = (struct user_mr){ 0 };
		return 0;
	}
	return -ENOENT;
}

void us_verbs_drop_user_mrs(struct verbs_conn *c)
{
	int i;

	for (i = 0; i < (int)USER_MRS; i++)
		if (c->umr[i].mr)
			ibv_dereg_mr(c->umr[i].mr);
	memset(c->umr, 0, sizeof(c->umr));
}

int us_verbs_busy(const struct us_transport *t)
{
	const struct verbs_conn *c = (const struct verbs_conn *)t;

	return !us_msgq_empty(&c->mq) || c->completed < c->posted || c->send_busy;
}

static uint64_t verbs_queued(const struct us_transport *t)
{
	return ((const struct verbs_conn *)t)->mq.queued;
}

const struct us_transport_ops us_verbs_ops = {
	.name = "rdma",
	.send_msg = verbs_send_msg,
	.send_body = verbs_send_body,
	.busy = us_verbs_busy,
	.register_buf = verbs_register,
	.unregister_buf = verbs_unregister,
	.queued = verbs_queued,
	.destroy = us_verbs_destroy,
};
