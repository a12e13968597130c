/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The verbs transport: the same proto.h message stream TCP carries, moved by
 * one-sided RDMA WRITE into a ring the standby registered, on reliable
 * connected queue pairs set up with librdmacm, on the caller's libqb loop
 * (the rdmacm event channel and the completion channel are both polled).
 *
 *   connecting side ("writer", the primary)     accepting side ("reader")
 *   resolve addr, route; create QP         ──▶ CONNECT_REQUEST: create QP,
 *                                              register the ring, accept with
 *   ESTABLISHED: ring addr/len/rkey  ◀──────── private data {addr, len, rkey}
 *   copy messages (header+body) into a registered bounce region that mirrors
 *   the ring, RDMA WRITE each batch, the last WR WRITE_WITH_IMM(bytes)  ──▶
 *                                              RECV_RDMA_WITH_IMM: parse the
 *                                              ring like TCP's receive buffer
 *   credit += imm  ◀── SEND_WITH_IMM(imm = bytes consumed, body = a control
 *                      message such as HELLO_OK/ACK, or empty)
 *
 * The writer never writes past what the reader has given back, so unread
 * data is never overwritten. Writes are signalled every SIGNAL_EVERY and at
 * each doorbell; "drained" fires once nothing is queued or in flight.
 *
 * Every WRITE_WITH_IMM and every SEND consumes a receive the peer posted, and
 * a message that finds none is answered with an RNR NAK: the sender then
 * waits the peer's min_rnr_timer, which rdma_cm leaves at 0, meaning 655 ms.
 * Over soft-RoCE that cost ~2 s per epoch. So the writer keeps at most
 * CTL_SLOTS doorbells beyond the credit (a doorbell's receive is re-posted
 * before its bytes are consumed), the reader returns bare credit only every
 * CREDIT_DOORBELLS doorbells or a quarter ring, so a writer that polls
 * rarely still has receives posted, and both sides lower min_rnr_timer so
 * an RNR that slips through costs RNR_TIMER, not 655 ms.
 * The writer copies borrowed data into the bounce region (one memcpy; simple
 * and correct whatever memory the caller's data lives in).
 */
#include <config.h>

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "rdma/msgq.h"
#include "rdma/transport_int.h"
#include "rdma/verbs_int.h"
#include "replicator/log.h"

#define CTL_SLOT 4096u			/* one control SEND or RECV buffer */
#define CTL_SLOTS 32u			/* receives posted; sends in flight */
#define SQ_DEPTH 128u
#define SIGNAL_EVERY 16u
#define BATCH_BYTES (1u << 20)		/* bytes per doorbell */
#define CREDIT_DOORBELLS (CTL_SLOTS / 4)	/* reader: bare credit after this many */
#define RNR_TIMER 12			/* IB encoding: 0.64 ms (0 would be 655 ms) */
#define MSG_MAX (US_PROTO_HDR_SIZE + US_PROTO_MAX_BODY + US_PROTO_MAX_DEVSTATE_CHUNK)

#define WRID_RECV (1ull << 62)
#define WRID_SEND (2ull << 62)
#define WRID_WRITE (3ull << 62)
#define WRID_KIND(w) ((w) & (3ull << 62))
#define WRID_VAL(w) ((w) & ~(3ull << 62))

uint16_t us_verbs_wire_version = US_PROTO_VERSION;

/* The accept's private data: where the writer may write. Little-endian. */
struct ring_info {
	uint64_t addr;
	uint32_t rkey;
	uint32_t len;
};
_Static_assert(sizeof(struct ring_info) == 16, "ring_info is on the wire");

struct verbs_conn {
	struct us_transport base;
	struct rdma_event_channel *ech;	/* this connection's rdmacm events */
	struct rdma_cm_id *id;
	struct ibv_pd *pd;
	struct ibv_comp_channel *cch;
	struct ibv_cq *cq;
	int writer;		/* connecting side: writes the peer's ring */
	int in_loop;		/* fds registered with the loop */
	int failed;		/* closed was reported */
	int stopped;		/* owner stopped reading */
	int was_busy;		/* something was queued since the last drained */
	char *ring;		/* reader: the ring; writer: the bounce mirror */
	uint32_t ring_len;
	struct ibv_mr *ring_mr;
	char *ctl;		/* CTL_SLOTS receive slots, then CTL_SLOTS send slots */
	struct ibv_mr *ctl_mr;
	uint64_t remote_addr;	/* writer: the peer's ring */
	uint32_t rkey;
	/* writer */
	struct us_msgq mq;	/* messages not yet copied into the ring */
	uint64_t head;		/* stream bytes copied and posted */
	uint64_t credit;	/* stream bytes the reader consumed */
	uint64_t posted, completed;	/* write WRs */
	uint64_t db_end[CTL_SLOTS];	/* stream end of each doorbell beyond the credit */
	uint64_t db_posted, db_done;	/* doorbells rung; of them, covered by credit */
	/* reader */
	uint64_t arrived;	/* stream bytes announced by doorbells */
	uint64_t pos;		/* stream bytes consumed */
	uint64_t credit_sent;
	uint32_t db_uncredited;	/* doorbells consumed since credit was last sent */
	char *scratch;		/* a message that wraps the ring, made contiguous */
	uint32_t send_busy;	/* bit per send slot */
};

struct verbs_listener {
	struct us_listener base;
	qb_loop_t *loop;
	struct rdma_event_channel *ech;
	struct rdma_cm_id *id;
	us_transport_accept_fn fn;
	void *opaque;
};

static const struct us_transport_ops verbs_ops;
static int32_t cq_dispatch(int32_t fd, int32_t revents, void *data);
static int32_t cm_dispatch(int32_t fd, int32_t revents, void *data);

/* ---- addresses and set-up ---- */

static int get_addr(const char *addr, int passive, struct addrinfo **res)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = passive ? AI_PASSIVE : 0 };
	char host[256];
	const char *colon = strrchr(addr, ':');
	size_t n = colon ? (size_t)(colon - addr) : 0;
	int rc;

	if (!colon || n == 0 || n >= sizeof(host) || !colon[1]) {
		us_log(LOG_ERR, US_TAG_RDMA, "address '%s' is not host:port", addr);
		return -EINVAL;
	}
	memcpy(host, addr, n);
	host[n] = 0;
	rc = getaddrinfo(host, colon + 1, &hints, res);
	if (rc != 0) {
		us_log(LOG_ERR, US_TAG_RDMA, "cannot resolve '%s': %s", addr, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	return 0;
}

static struct rdma_event_channel *open_channel(void)
{
	struct rdma_event_channel *ech = rdma_create_event_channel();

	if (!ech)
		us_log(LOG_ERR, US_TAG_RDMA, "no RDMA connection manager (%s): load the rdma_ucm "
		       "module and check /dev/infiniband/rdma_cm, or use transport = tcp",
		       strerror(errno));
	return ech;
}

/* Wait for one event of @want on @ech; copies the connection's private data. */
static int wait_event(struct rdma_event_channel *ech, enum rdma_cm_event_type want,
		      int timeout_ms, struct ring_info *ri)
{
	struct pollfd p = { .fd = ech->fd, .events = POLLIN };
	struct rdma_cm_event *ev;
	int rc = 0;

	if (poll(&p, 1, timeout_ms) == 0)
		return -ETIMEDOUT;
	if (rdma_get_cm_event(ech, &ev) < 0)
		return -errno;
	if (ev->event != want) {
		us_log(LOG_ERR, US_TAG_RDMA, "RDMA connection set-up: %s (status %d) instead of %s",
		       rdma_event_str(ev->event), ev->status, rdma_event_str(want));
		rc = ev->event == RDMA_CM_EVENT_REJECTED ? -ECONNREFUSED :
		     ev->event == RDMA_CM_EVENT_ADDR_ERROR ? -EHOSTUNREACH : -ECONNABORTED;
	} else if (ri) {
		if (ev->param.conn.private_data_len < sizeof(*ri))
			rc = -EPROTO;
		else
			memcpy(ri, ev->param.conn.private_data, sizeof(*ri));
	}
	rdma_ack_cm_event(ev);
	return rc;
}

static struct ibv_mr *reg(struct verbs_conn *c, void *buf, size_t len, int access)
{
	struct ibv_mr *mr = ibv_reg_mr(c->pd, buf, len, access);
	struct rlimit rl = { 0, 0 };

	if (mr)
		return mr;
	getrlimit(RLIMIT_MEMLOCK, &rl);
	us_log(LOG_ERR, US_TAG_RDMA, "cannot register %zu bytes for RDMA: %s; locked-memory "
	       "limit is %llu bytes: raise RLIMIT_MEMLOCK (ulimit -l, LimitMEMLOCK=)",
	       len, strerror(errno), (unsigned long long)rl.rlim_cur);
	if (!errno)
		errno = ENOMEM;
	return NULL;
}

static int post_recv(struct verbs_conn *c, uint32_t slot)
{
	struct ibv_sge sge = { (uintptr_t)(c->ctl + (size_t)slot * CTL_SLOT), CTL_SLOT,
			       c->ctl_mr->lkey };
	struct ibv_recv_wr wr = { .wr_id = WRID_RECV | slot, .sg_list = &sge, .num_sge = 1 };
	struct ibv_recv_wr *bad;

	return -ibv_post_recv(c->id->qp, &wr, &bad);
}

/* PD, completion channel, CQ, QP, control slots with receives posted. */
static int setup_qp(struct verbs_conn *c)
{
	struct ibv_qp_init_attr qa = { .qp_type = IBV_QPT_RC, .sq_sig_all = 0,
		.cap = { .max_send_wr = SQ_DEPTH, .max_recv_wr = CTL_SLOTS,
			 .max_send_sge = 1, .max_recv_sge = 1 } };
	uint32_t i;

	c->pd = ibv_alloc_pd(c->id->verbs);
	c->cch = c->pd ? ibv_create_comp_channel(c->id->verbs) : NULL;
	c->cq = c->cch ? ibv_create_cq(c->id->verbs, SQ_DEPTH + CTL_SLOTS, c, c->cch, 0) : NULL;
	if (!c->cq || ibv_req_notify_cq(c->cq, 0)) {
		us_log(LOG_ERR, US_TAG_RDMA, "cannot create RDMA protection domain or completion "
		       "queue on %s: %s", ibv_get_device_name(c->id->verbs->device), strerror(errno));
		return -(errno ? errno : ENOMEM);
	}
	qa.send_cq = qa.recv_cq = c->cq;
	if (rdma_create_qp(c->id, c->pd, &qa) < 0) {
		us_log(LOG_ERR, US_TAG_RDMA, "cannot create RDMA queue pair: %s", strerror(errno));
		return -errno;
	}
	c->ctl = calloc(2 * CTL_SLOTS, CTL_SLOT);
	if (!c->ctl)
		return -ENOMEM;
	c->ctl_mr = reg(c, c->ctl, 2 * CTL_SLOTS * CTL_SLOT, IBV_ACCESS_LOCAL_WRITE);
	if (!c->ctl_mr)
		return -errno;
	for (i = 0; i < CTL_SLOTS; i++)
		if (post_recv(c, i))
			return -EIO;
	return 0;
}

/* On an RTS queue pair: answer a SEND that finds no receive with a short RNR wait. */
static int shorten_rnr(struct verbs_conn *c)
{
	struct ibv_qp_attr qa = { .min_rnr_timer = RNR_TIMER };
	int rc = ibv_modify_qp(c->id->qp, &qa, IBV_QP_MIN_RNR_TIMER);

	if (rc)
		us_log(LOG_ERR, US_TAG_RDMA, "cannot set the RDMA queue pair's RNR timer: %s",
		       strerror(rc));
	return -rc;
}

static int setup_ring(struct verbs_conn *c, uint32_t len, int access)
{
	c->ring_len = len;
	c->ring = aligned_alloc(4096, len);
	if (!c->ring)
		return -ENOMEM;
	c->ring_mr = reg(c, c->ring, len, access);
	return c->ring_mr ? 0 : -errno;
}

static int loop_add(struct verbs_conn *c)
{
	int rc;

	fcntl(c->cch->fd, F_SETFL, fcntl(c->cch->fd, F_GETFL) | O_NONBLOCK);
	fcntl(c->ech->fd, F_SETFL, fcntl(c->ech->fd, F_GETFL) | O_NONBLOCK);
	rc = qb_loop_poll_add(c->base.loop, QB_LOOP_HIGH, c->cch->fd, POLLIN, c, cq_dispatch);
	if (rc < 0)
		return rc;
	rc = qb_loop_poll_add(c->base.loop, QB_LOOP_HIGH, c->ech->fd, POLLIN, c, cm_dispatch);
	if (rc < 0) {
		qb_loop_poll_del(c->base.loop, c->cch->fd);
		return rc;
	}
	c->in_loop = 1;
	return 0;
}

static void loop_del(struct verbs_conn *c)
{
	if (!c->in_loop)
		return;
	qb_loop_poll_del(c->base.loop, c->cch->fd);
	qb_loop_poll_del(c->base.loop, c->ech->fd);
	c->in_loop = 0;
}

static struct verbs_conn *conn_alloc(qb_loop_t *loop, const char *peer, int writer)
{
	struct verbs_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->base.ops = &verbs_ops;
	c->base.loop = loop;
	c->base.last_rx_ms = us_transport_now_ms();
	snprintf(c->base.peer, sizeof(c->base.peer), "%s", peer);
	c->writer = writer;
	return c;
}

static void verbs_destroy(struct us_transport *t);

static int resolve_route(struct verbs_conn *c, const char *addr, int timeout_ms)
{
	struct addrinfo *res = NULL;
	int rc = get_addr(addr, 0, &res);

	if (rc < 0)
		return rc;
	rc = rdma_resolve_addr(c->id, NULL, res->ai_addr, timeout_ms) ? -errno : 0;
	freeaddrinfo(res);
	if (rc == 0)
		rc = wait_event(c->ech, RDMA_CM_EVENT_ADDR_RESOLVED, timeout_ms, NULL);
	if (rc < 0) {
		us_log(LOG_ERR, US_TAG_RDMA, "%s is not reachable through an RDMA device (%s): "
		       "check `rdma link`, or use transport = tcp", addr, strerror(-rc));
		return rc;
	}
	if (rdma_resolve_route(c->id, timeout_ms))
		return -errno;
	return wait_event(c->ech, RDMA_CM_EVENT_ROUTE_RESOLVED, timeout_ms, NULL);
}

static int connect_peer(struct verbs_conn *c, const char *addr, int timeout_ms)
{
	struct rdma_conn_param cp = { .responder_resources = 1, .initiator_depth = 1,
				      .retry_count = 7, .rnr_retry_count = 7 };
	struct ring_info ri;
	int rc;

	if (rdma_connect(c->id, &cp))
		return -errno;
	rc = wait_event(c->ech, RDMA_CM_EVENT_ESTABLISHED, timeout_ms, &ri);
	if (rc < 0) {
		us_log(LOG_ERR, US_TAG_RDMA, "RDMA connection to %s failed: %s (is the standby "
		       "listening there with transport = rdma?)", addr, strerror(-rc));
		return rc;
	}
	c->remote_addr = le64toh(ri.addr);
	c->rkey = le32toh(ri.rkey);
	if (le32toh(ri.len) < 2 * MSG_MAX) {
		us_log(LOG_ERR, US_TAG_RDMA, "%s offers a ring of %u bytes, too small", addr,
		       le32toh(ri.len));
		return -EPROTO;
	}
	rc = shorten_rnr(c);
	return rc ? rc : setup_ring(c, le32toh(ri.len), IBV_ACCESS_LOCAL_WRITE);
}

struct us_transport *us_verbs_connect(qb_loop_t *loop, const char *addr, int timeout_ms)
{
	struct verbs_conn *c = conn_alloc(loop, addr, 1);
	int rc = -ENOMEM;

	if (!c)
		goto out;
	c->ech = open_channel();
	rc = -ENODEV;
	if (!c->ech)
		goto out;
	rc = rdma_create_id(c->ech, &c->id, c, RDMA_PS_TCP) ? -errno : 0;
	if (rc == 0)
		rc = resolve_route(c, addr, timeout_ms);
	if (rc == 0)
		rc = setup_qp(c);
	if (rc == 0)
		rc = connect_peer(c, addr, timeout_ms);
	if (rc == 0)
		rc = loop_add(c);
out:
	if (rc < 0) {
		if (c)
			verbs_destroy(&c->base);
		errno = -rc;
		return NULL;
	}
	return &c->base;
}

/* ---- writer: the message queue, copied into the ring and written ---- */

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

static int post_write(struct verbs_conn *c, uint64_t from, uint32_t len, int imm, uint32_t total)
{
	size_t off = from % c->ring_len;
	struct ibv_sge sge = { (uintptr_t)(c->ring + off), len, c->ring_mr->lkey };
	struct ibv_send_wr wr = { .wr_id = WRID_WRITE | c->posted, .sg_list = &sge, .num_sge = 1,
				  .opcode = imm ? IBV_WR_RDMA_WRITE_WITH_IMM : IBV_WR_RDMA_WRITE };
	struct ibv_send_wr *bad;
	int rc;

	wr.wr.rdma.remote_addr = c->remote_addr + off;
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

/* Write stream bytes [from, to): one WR, or two where the ring wraps. */
static int write_range(struct verbs_conn *c, uint64_t from, uint64_t to)
{
	uint32_t total = to - from, off = from % c->ring_len, first = c->ring_len - off;
	int rc;

	if (total <= first) {
		rc = post_write(c, from, total, 1, total);
	} else {
		rc = post_write(c, from, first, 0, 0);
		rc = rc ? rc : post_write(c, from + first, total - first, 1, total);
	}
	if (rc == 0)
		c->db_end[c->db_posted++ % CTL_SLOTS] = to;
	return rc;
}

/* Credit covers a doorbell once the reader consumed its bytes: it re-posted its receive. */
static void add_credit(struct verbs_conn *c, uint32_t bytes)
{
	c->credit += bytes;
	while (c->db_done < c->db_posted && c->db_end[c->db_done % CTL_SLOTS] <= c->credit)
		c->db_done++;
}

/* Room for one more doorbell: in the send queue, and a receive at the reader. */
static int can_ring(const struct verbs_conn *c)
{
	return c->posted - c->completed + 2 <= SQ_DEPTH && c->db_posted - c->db_done < CTL_SLOTS;
}

/* Copy queued messages into the ring while credit lasts; one doorbell per batch. */
static int pump(struct verbs_conn *c)
{
	uint64_t start;
	int rc;

	while (!us_msgq_empty(&c->mq) && !c->failed && can_ring(c)) {
		start = c->head;
		while (!us_msgq_empty(&c->mq) && c->head - start < BATCH_BYTES) {
			struct us_seg *s = us_msgq_front(&c->mq);
			size_t need = s->hdr_len + s->body_len;

			if (need > c->ring_len - (c->head - c->credit))
				break;
			copy_in(c, c->head, s->hdr, s->hdr_len);
			copy_in(c, c->head + s->hdr_len, s->body, s->body_len);
			c->head += need;
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

static void shut(struct verbs_conn *c)
{
	loop_del(c);
	c->failed = 1;
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
	rc = us_msgq_push(&c->mq, &h, prefix, prefix_len, body, body_len, owned);
	if (rc < 0)
		return rc;
	c->was_busy = 1;
	rc = pump(c);
	if (rc < 0) {
		/* The stream has a hole now: nothing more may follow it. */
		us_log(LOG_ERR, US_TAG_RDMA, "posting an RDMA write to %s failed: %s (send queue "
		       "full?); the connection is unusable", c->base.peer, strerror(-rc));
		shut(c);
	}
	return rc;
}

/* ---- reader: control SENDs carry credit in their immediate ---- */

static int send_ctl(struct verbs_conn *c, const void *msg, size_t len)
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
		return send_ctl(c, msg, US_PROTO_HDR_SIZE + len);
	}
	if (len) {
		copy = malloc(len);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, body, len);
	}
	return enqueue(c, type, epoch, NULL, 0, copy, len, copy);	/* owns copy */
}

static int verbs_send_pages(struct us_transport *t, uint64_t epoch, uint64_t first,
			    uint32_t count, const void *data)
{
	char desc[US_PROTO_PAGES_DESC];

	if (!((struct verbs_conn *)t)->writer)
		return -EOPNOTSUPP;
	us_proto_pages_desc_encode(desc, first, count);
	return enqueue((struct verbs_conn *)t, US_MSG_PAGES, epoch, desc, sizeof(desc), data,
		       (size_t)count * US_PROTO_PAGE_SIZE, NULL);
}

static int verbs_send_devstate(struct us_transport *t, uint64_t epoch, const void *buf, size_t len)
{
	if (!((struct verbs_conn *)t)->writer)
		return -EOPNOTSUPP;
	return enqueue((struct verbs_conn *)t, US_MSG_DEVSTATE, epoch, NULL, 0, buf, len, NULL);
}

static int verbs_busy(const struct us_transport *t)
{
	const struct verbs_conn *c = (const struct verbs_conn *)t;

	return !us_msgq_empty(&c->mq) || c->completed < c->posted || c->send_busy;
}

static uint64_t verbs_queued(const struct us_transport *t)
{
	return ((const struct verbs_conn *)t)->mq.queued;
}

/* ---- receiving ---- */

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
		body = rc ? NULL : peek(c, c->pos + US_PROTO_HDR_SIZE, h.len, c->scratch);
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
		send_ctl(c, NULL, 0);
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
		if (post_recv(c, slot))
			return snprintf(why, whylen, "cannot re-post a receive"), -EIO;
		return consume(c, why, whylen);
	}
	if (wc->wc_flags & IBV_WC_WITH_IMM)
		add_credit(c, ntohl(wc->imm_data));
	rc = on_ctl(c, c->ctl + (size_t)slot * CTL_SLOT, wc->byte_len, why, whylen);
	if (rc == 0 && post_recv(c, slot))
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
static void conn_fail(struct verbs_conn *c, int err, const char *why)
{
	if (c->failed)
		return;
	shut(c);
	if (c->base.cbs.closed)
		c->base.cbs.closed(c->base.opaque, err, why);
}

static void maybe_drained(struct verbs_conn *c)
{
	if (!c->was_busy || verbs_busy(&c->base))
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

static int32_t cq_dispatch(int32_t fd, int32_t revents, void *data)
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
		rc = pump(c);
	if (rc == 0)
		return_credit(c);
	if (rc == -ECONNABORTED)
		linger_sends(c);
	if (rc < 0) {
		if (!why[0])
			snprintf(why, sizeof(why), "posting an RDMA write failed: %s", strerror(-rc));
		conn_fail(c, rc, why);
		return 0;
	}
	maybe_drained(c);
	return 0;
}

static int32_t cm_dispatch(int32_t fd, int32_t revents, void *data)
{
	struct verbs_conn *c = data;
	struct rdma_cm_event *ev;
	enum rdma_cm_event_type type;
	char why[160];

	if (rdma_get_cm_event(c->ech, &ev) < 0)
		return 0;
	type = ev->event;
	rdma_ack_cm_event(ev);
	if (type == RDMA_CM_EVENT_ESTABLISHED)
		return 0;
	snprintf(why, sizeof(why), type == RDMA_CM_EVENT_DISCONNECTED ?
		 "peer disconnected (an unfinished epoch is discarded)" : "RDMA connection event %s",
		 rdma_event_str(type));
	conn_fail(c, -ECONNRESET, why);
	return 0;
}

static void verbs_destroy(struct us_transport *t)
{
	struct verbs_conn *c = (struct verbs_conn *)t;

	loop_del(c);
	if (c->id && c->id->qp)
		rdma_disconnect(c->id);
	if (c->id && c->id->qp)
		rdma_destroy_qp(c->id);
	if (c->ring_mr)
		ibv_dereg_mr(c->ring_mr);
	if (c->ctl_mr)
		ibv_dereg_mr(c->ctl_mr);
	if (c->cq)
		ibv_destroy_cq(c->cq);
	if (c->cch)
		ibv_destroy_comp_channel(c->cch);
	if (c->pd)
		ibv_dealloc_pd(c->pd);
	if (c->id)
		rdma_destroy_id(c->id);
	if (c->ech)
		rdma_destroy_event_channel(c->ech);
	us_msgq_free(&c->mq);
	free(c->ring);
	free(c->ctl);
	free(c->scratch);
	free(c);
}

static const struct us_transport_ops verbs_ops = {
	.name = "rdma",
	.send_msg = verbs_send_msg,
	.send_pages = verbs_send_pages,
	.send_devstate = verbs_send_devstate,
	.busy = verbs_busy,
	.queued = verbs_queued,
	.destroy = verbs_destroy,
};

/* ---- listener ---- */

static int accept_setup(struct verbs_conn *c)
{
	struct ring_info ri;
	struct rdma_conn_param cp = { .responder_resources = 1, .initiator_depth = 1,
				      .retry_count = 7, .rnr_retry_count = 7,
				      .private_data = &ri, .private_data_len = sizeof(ri) };
	int rc = setup_qp(c);

	if (rc == 0)
		rc = setup_ring(c, US_VERBS_RING_SIZE, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	c->scratch = rc == 0 ? malloc(MSG_MAX) : NULL;
	if (rc == 0 && !c->scratch)
		rc = -ENOMEM;
	if (rc < 0)
		return rc;
	ri = (struct ring_info){ htole64((uintptr_t)c->ring), htole32(c->ring_mr->rkey),
				 htole32(c->ring_len) };
	c->ech = open_channel();
	if (!c->ech)
		return -ENODEV;
	if (rdma_migrate_id(c->id, c->ech) || rdma_accept(c->id, &cp))
		return -errno;
	rc = shorten_rnr(c);	/* rdma_accept moved the QP to RTS */
	return rc ? rc : loop_add(c);
}

static void accept_conn(struct verbs_listener *l, struct rdma_cm_id *id)
{
	char host[NI_MAXHOST] = "?", peer[64];
	struct sockaddr *sa = rdma_get_peer_addr(id);
	struct verbs_conn *c;
	int rc;

	getnameinfo(sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
		    sizeof(struct sockaddr_in), host, sizeof(host), NULL, 0, NI_NUMERICHOST);
	snprintf(peer, sizeof(peer), "%s:%u", host, ntohs(rdma_get_dst_port(id)));
	c = conn_alloc(l->loop, peer, 0);
	if (!c) {
		rdma_reject(id, NULL, 0);
		rdma_destroy_id(id);
		return;
	}
	c->id = id;
	id->context = c;
	rc = accept_setup(c);
	if (rc < 0) {
		us_log(LOG_ERR, US_TAG_RDMA, "cannot accept the RDMA connection from %s: %s",
		       peer, strerror(-rc));
		rdma_reject(id, NULL, 0);
		verbs_destroy(&c->base);
		return;
	}
	l->fn(l->opaque, &c->base);
}

static int32_t listener_dispatch(int32_t fd, int32_t revents, void *data)
{
	struct verbs_listener *l = data;
	struct rdma_cm_event *ev;
	struct rdma_cm_id *id;
	enum rdma_cm_event_type type;

	if (rdma_get_cm_event(l->ech, &ev) < 0)
		return 0;
	type = ev->event;
	id = ev->id;
	rdma_ack_cm_event(ev);	/* before rdma_migrate_id, which waits for it */
	if (type == RDMA_CM_EVENT_CONNECT_REQUEST)
		accept_conn(l, id);
	return 0;
}

static void listener_destroy(struct us_listener *base)
{
	struct verbs_listener *l = (struct verbs_listener *)base;

	if (l->ech)
		qb_loop_poll_del(l->loop, l->ech->fd);
	if (l->id)
		rdma_destroy_id(l->id);
	if (l->ech)
		rdma_destroy_event_channel(l->ech);
	free(l);
}

static int bind_listen(struct verbs_listener *l, const char *addr)
{
	struct addrinfo *res = NULL;
	int rc = get_addr(addr, 1, &res);

	if (rc < 0)
		return rc;
	if (rdma_create_id(l->ech, &l->id, l, RDMA_PS_TCP) || rdma_bind_addr(l->id, res->ai_addr) ||
	    rdma_listen(l->id, 4)) {
		rc = -errno;
		us_log(LOG_ERR, US_TAG_RDMA, "cannot listen for RDMA on %s: %s (is the address on "
		       "an RDMA device? see `rdma link`)", addr, strerror(errno));
	}
	freeaddrinfo(res);
	return rc;
}

struct us_listener *us_verbs_listen(qb_loop_t *loop, const char *addr,
				    us_transport_accept_fn fn, void *opaque)
{
	struct verbs_listener *l = calloc(1, sizeof(*l));
	int rc = -ENOMEM;

	if (!l)
		goto out;
	*l = (struct verbs_listener){ .base.destroy = listener_destroy, .loop = loop, .fn = fn,
				      .opaque = opaque };
	l->ech = open_channel();
	rc = -ENODEV;
	if (!l->ech)
		goto out;
	rc = bind_listen(l, addr);
	if (rc == 0) {
		fcntl(l->ech->fd, F_SETFL, fcntl(l->ech->fd, F_GETFL) | O_NONBLOCK);
		rc = qb_loop_poll_add(loop, QB_LOOP_HIGH, l->ech->fd, POLLIN, l, listener_dispatch);
	}
out:
	if (rc < 0) {
		if (l) {
			if (l->ech)
				rdma_destroy_event_channel(l->ech);
			if (l->id)
				rdma_destroy_id(l->id);
			free(l);
		}
		errno = -rc;
		return NULL;
	}
	return &l->base;
}

/* ---- transport = auto ---- */

static int probe_id(struct rdma_event_channel *ech, struct rdma_cm_id *id,
		    const struct sockaddr *sa, int passive)
{
	if (passive)
		return rdma_bind_addr(id, (struct sockaddr *)sa) ? -errno : 0;
	if (rdma_resolve_addr(id, NULL, (struct sockaddr *)sa, 1000))
		return -errno;
	return wait_event(ech, RDMA_CM_EVENT_ADDR_RESOLVED, 1500, NULL);
}

int us_verbs_probe(const char *addr, int passive)
{
	struct rdma_event_channel *ech = rdma_create_event_channel();
	struct rdma_cm_id *id = NULL;
	struct addrinfo *res = NULL;
	int rc, yes = 0;

	if (!ech) {
		us_log(LOG_INFO, US_TAG_RDMA, "no RDMA connection manager on this host (%s)",
		       strerror(errno));
		return 0;
	}
	rc = get_addr(addr, passive, &res);
	if (rc == 0)
		rc = rdma_create_id(ech, &id, NULL, RDMA_PS_TCP) ? -errno : 0;
	if (rc == 0)
		rc = probe_id(ech, id, res->ai_addr, passive);
	yes = rc == 0 && id->verbs != NULL;
	if (!yes)
		us_log(LOG_INFO, US_TAG_RDMA, "%s is not on an RDMA device (%s)", addr,
		       rc ? strerror(-rc) : "no verbs context");
	if (res)
		freeaddrinfo(res);
	if (id)
		rdma_destroy_id(id);
	rdma_destroy_event_channel(ech);
	return yes;
}
