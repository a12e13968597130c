/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The verbs transport's completions (rdma/verbs_conn.h): the completion
 * channel's handler polls the queue and, per completion, retires writes and
 * control sends, takes credit and control messages (writer), or parses the
 * ring after a doorbell and returns credit in control SENDs (reader); then
 * it reports "drained" or the end of the connection.
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "rdma/verbs_conn.h"
#include "replicator/log.h"

int us_verbs_send_ctl(struct verbs_conn *c, const void *msg, size_t len)
{
	struct ibv_sge sge = { 0, len, c->ctl_mr->lkey };
	struct ibv_send_wr wr = { .sg_list = &sge, .num_sge = len ? 1 : 0,
				  .opcode = IBV_WR_SEND_WITH_IMM, .send_flags = IBV_SEND_SIGNALED };
	struct ibv_send_wr *bad;
	uint32_t slot;
	int rc;

	for (slot = 0; slot < CTL_SLOTS && (c->send_busy & (1u << slot)); slot++)
		;
	if (slot == CTL_SLOTS)
		return -ENOBUFS;
	sge.addr = (uintptr_t)(c->ctl + (size_t)(CTL_SLOTS + slot) * CTL_SLOT);
	if (len)
		memcpy((void *)(uintptr_t)sge.addr, msg, len);
	wr.wr_id = WRID_SEND | slot;
	wr.imm_data = htonl((uint32_t)(c->pos - c->credit_sent));
	rc = ibv_post_send(c->id->qp, &wr, &bad);
	if (rc)
		return -rc;
	c->credit_sent = c->pos;
	c->db_uncredited = 0;
	c->send_busy |= 1u << slot;
	c->was_busy = 1;
	return 0;
}

/* @len stream bytes at @at, contiguous: in the ring, or copied to @tmp. */
static const char *peek(struct verbs_conn *c, uint64_t at, size_t len, char *tmp)
{
	size_t off = at % c->ring_len, first = c->ring_len - off;

	if (len <= first)
		return c->ring + off;
	memcpy(tmp, c->ring + off, first);
	memcpy(tmp + first, c->ring, len - first);
	return tmp;
}

/*
 * The body of @h at stream position @at: in the ring, or where it wraps,
 * copied into the owner's place for it (cbs.place, e.g. the standby's
 * staging, which then takes it as it lies) or else into scratch.
 */
static const char *body_at(struct verbs_conn *c, const struct us_msg_hdr *h, uint64_t at)
{
	size_t off = at % c->ring_len, first = c->ring_len - off;
	char *place;

	if (h->len <= first || !c->base.cbs.place)
		return peek(c, at, h->len, c->scratch);
	place = c->base.cbs.place(c->base.opaque, h);
	return peek(c, at, h->len, place ? place : c->scratch);
}

/* Parse complete messages out of the ring. @return 0, or -errno to close. */
static int consume(struct verbs_conn *c, char *why, size_t whylen)
{
	char hbuf[US_PROTO_HDR_SIZE];
	struct us_msg_hdr h;
	const char *body;
	int rc;

	while (!c->stopped && c->arrived - c->pos >= US_PROTO_HDR_SIZE) {
		rc = us_proto_hdr_decode(peek(c, c->pos, US_PROTO_HDR_SIZE, hbuf), &h, why, whylen);
		if (rc == -EBADMSG)
			return rc;
		if (rc == 0 && c->arrived - c->pos < US_PROTO_HDR_SIZE + (uint64_t)h.len)
			break;
		body = rc ? NULL : body_at(c, &h, c->pos + US_PROTO_HDR_SIZE);
		if (c->base.cbs.msg(c->base.opaque, rc, &h, body) || rc)
			c->stopped = 1;
		c->pos += US_PROTO_HDR_SIZE + (rc ? 0 : h.len);
	}
	if (c->stopped) {
		snprintf(why, whylen, "connection closed after a refused message");
		return -ECONNABORTED;
	}
	return 0;
}

/*
 * Give consumed ring space back, in bare credits sent only every
 * CREDIT_DOORBELLS doorbells or quarter ring: the writer then never waits
 * for more (it has CTL_SLOTS doorbells and the ring holds two messages) and
 * the SENDs do not outrun the receives a busy writer re-posts. Bare credits
 * use at most half the send slots, so an ACK always finds one; otherwise
 * the credit rides on a later send.
 */
static void return_credit(struct verbs_conn *c)
{
	if (c->writer || c->failed || c->pos == c->credit_sent)
		return;
	if (c->db_uncredited < CREDIT_DOORBELLS && c->pos - c->credit_sent < c->ring_len / 4)
		return;
	if (__builtin_popcount(c->send_busy) < (int)CTL_SLOTS / 2)
		us_verbs_send_ctl(c, NULL, 0);
}

/* Best effort: let a final REFUSE reach the peer before closing. */
static void linger_sends(struct verbs_conn *c)
{
	struct ibv_wc wc;
	int i;

	for (i = 0; i < 200 && c->send_busy; i++) {
		if (ibv_poll_cq(c->cq, 1, &wc) <= 0)
			usleep(1000);
		else if (WRID_KIND(wc.wr_id) == WRID_SEND)
			c->send_busy &= ~(1u << WRID_VAL(wc.wr_id));
	}
}

/* A control message from the reader, in receive slot @slot. */
static int on_ctl(struct verbs_conn *c, const char *buf, uint32_t len, char *why, size_t whylen)
{
	struct us_msg_hdr h;
	int rc;

	if (len == 0)
		return 0;
	if (len < US_PROTO_HDR_SIZE)
		return snprintf(why, whylen, "short control message"), -EBADMSG;
	rc = us_proto_hdr_decode(buf, &h, why, whylen);
	if (rc == -EBADMSG)
		return rc;
	if (rc == 0 && len < US_PROTO_HDR_SIZE + h.len)
		return snprintf(why, whylen, "truncated control message"), -EBADMSG;
	if (c->stopped)
		return 0;
	if (c->base.cbs.msg(c->base.opaque, rc, &h, rc ? NULL : buf + US_PROTO_HDR_SIZE) || rc) {
		c->stopped = 1;
		snprintf(why, whylen, "connection closed after a refused message");
		return -ECONNABORTED;
	}
	return 0;
}

static int on_recv(struct verbs_conn *c, const struct ibv_wc *wc, char *why, size_t whylen)
{
	uint32_t slot = WRID_VAL(wc->wr_id);
	int rc = 0;

	c->base.last_rx_ms = us_transport_now_ms();
	if (wc->opcode == IBV_WC_RECV_RDMA_WITH_IMM && !c->writer) {
		c->arrived += ntohl(wc->imm_data);
		c->db_uncredited++;
		if (us_verbs_post_recv(c, slot))
			return snprintf(why, whylen, "cannot re-post a receive"), -EIO;
		return consume(c, why, whylen);
	}
	if (wc->wc_flags & IBV_WC_WITH_IMM)
		us_verbs_add_credit(c, ntohl(wc->imm_data));
	rc = on_ctl(c, c->ctl + (size_t)slot * CTL_SLOT, wc->byte_len, why, whylen);
	if (rc == 0 && us_verbs_post_recv(c, slot))
		return snprintf(why, whylen, "cannot re-post a receive"), -EIO;
	return rc;
}

static int on_wc(struct verbs_conn *c, const struct ibv_wc *wc, char *why, size_t whylen)
{
	if (wc->status != IBV_WC_SUCCESS) {
		snprintf(why, whylen, "RDMA completion error: %s (vendor error 0x%x): the peer "
			 "or the link went away", ibv_wc_status_str(wc->status), wc->vendor_err);
		return -EIO;
	}
	switch (WRID_KIND(wc->wr_id)) {
	case WRID_RECV:
		return on_recv(c, wc, why, whylen);
	case WRID_SEND:
		c->send_busy &= ~(1u << WRID_VAL(wc->wr_id));
		return 0;
	default:
		c->completed = WRID_VAL(wc->wr_id) + 1;
		return 0;
	}
}

/* Report the end of the connection; the owner may free it in the callback. */
void us_verbs_conn_fail(struct verbs_conn *c, int err, const char *why)
{
	if (c->failed)
		return;
	us_verbs_shut(c);
	if (c->base.cbs.closed)
		c->base.cbs.closed(c->base.opaque, err, why);
}

static void maybe_drained(struct verbs_conn *c)
{
	if (!c->was_busy || us_verbs_busy(&c->base))
		return;
	c->was_busy = 0;
	if (c->base.cbs.drained)
		c->base.cbs.drained(c->base.opaque);
}

static int poll_cq(struct verbs_conn *c, char *why, size_t whylen)
{
	struct ibv_wc wc[16];
	int n, i, rc;

	while ((n = ibv_poll_cq(c->cq, 16, wc)) > 0)
		for (i = 0; i < n; i++) {
			rc = on_wc(c, &wc[i], why, whylen);
			if (rc < 0)
				return rc;
		}
	if (n < 0)
		return snprintf(why, whylen, "polling the completion queue failed"), -EIO;
	return 0;
}

int32_t us_verbs_cq_dispatch(int32_t fd, int32_t revents, void *data)
{
	struct verbs_conn *c = data;
	struct ibv_cq *cq;
	void *ctx;
	char why[256] = "";
	int rc;

	if (ibv_get_cq_event(c->cch, &cq, &ctx) == 0) {
		ibv_ack_cq_events(cq, 1);
		ibv_req_notify_cq(cq, 0);
	}
	rc = poll_cq(c, why, sizeof(why));
	if (rc == 0 && c->writer)
		rc = us_verbs_pump(c);
	if (rc == 0)
		return_credit(c);
	if (rc == -ECONNABORTED)
		linger_sends(c);
	if (rc < 0) {
		if (!why[0])
			snprintf(why, sizeof(why), "posting an RDMA write failed: %s", strerror(-rc));
		us_verbs_conn_fail(c, rc, why);
		return 0;
	}
	maybe_drained(c);
	return 0;
}
