/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Inside the verbs transport (rdma/verbs*.c): the connection's control
 * block, its limits, and the functions its files share. Not for other
 * modules (they use transport.h; transport.c also verbs_int.h).
 *
 * The same proto.h message stream TCP carries, moved by one-sided RDMA WRITE
 * into a ring the standby registered, on reliable connected queue pairs set
 * up with librdmacm, on the caller's libqb loop (the rdmacm event channel and
 * the completion channel are both polled).
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
 * each doorbell; "drained" fires once nothing is queued or in flight. The
 * writer copies borrowed data into the bounce region (one memcpy; simple and
 * correct whatever memory the caller's data lives in), except a body of
 * ZC_MIN bytes or more inside memory the caller registered
 * (us_transport_register): that one the WRITE gathers from where it lies,
 * the header from the bounce region (one WR has up to max_sge pieces;
 * under soft-RoCE in a TCG guest the copy was 6 % of an epoch).
 *
 * Receives: every WRITE_WITH_IMM and every SEND consumes a receive the peer
 * posted, and one that finds none is answered with an RNR NAK: the sender
 * then waits the peer's min_rnr_timer, which rdma_cm leaves at 0, meaning
 * 655 ms (over soft-RoCE that made every epoch ~2 s). So the writer keeps at
 * most CTL_SLOTS doorbells beyond the credit (the reader re-posts a
 * doorbell's receive before it consumes its bytes), the reader sends bare
 * credit only every CREDIT_DOORBELLS doorbells or quarter ring (the writer
 * then always has room for one more message, and a writer that polls rarely
 * still has receives posted), and both sides set min_rnr_timer to RNR_TIMER.
 */
#ifndef US_VERBS_CONN_H
#define US_VERBS_CONN_H

#include <stdint.h>
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "rdma/msgq.h"
#include "rdma/transport_int.h"

#define CTL_SLOT 4096u			/* one control SEND or RECV buffer */
#define CTL_SLOTS 32u			/* receives posted; sends in flight */
#define SQ_DEPTH 128u
#define SIGNAL_EVERY 16u
#define BATCH_BYTES (1u << 20)		/* bytes per doorbell */
#define CREDIT_DOORBELLS (CTL_SLOTS / 4)	/* reader: bare credit after this many */
#define RNR_TIMER 12			/* IB encoding: 0.64 ms (0 would be 655 ms) */
/*
 * Local ACK timeout, IB encoding: 4.096 us << 14 = 67 ms, perftest's own.
 * rdma_cm's for RoCE comes from a packet lifetime of 16: 0.5 s or more
 * before an unacknowledged packet is sent again, with the epoch, and the
 * guest's output, waiting. bench/transport.sh on soft-RoCE in a TCG guest:
 * with rdma_cm's, a dozen retransmissions a round and 50k-page epochs at
 * 80-103 % (median 83) of ib_write_bw; with 14, some 400 a round, mostly
 * a responder more than 67 ms behind (about 1 % of the bytes sent twice),
 * and a median of 89 % in one run, 94 % in another (rounds 76-97 %).
 */
#define ACK_TIMEOUT 14
#define MSG_MAX (US_PROTO_HDR_SIZE + US_PROTO_MAX_BODY + US_PROTO_MAX_DEVSTATE_CHUNK)
#define USER_MRS 4			/* memory registered by the caller */
#define ZC_MIN (16u << 10)		/* a body this large in it is not copied */
#define ZC_PIECES 8			/* such bodies per doorbell */
#define SGE_MAX 16			/* pieces per write WR, at most */
#define SGE_MIN_ZC 8			/* fewer on the device: always copy */
#define WRS_PER_DB 4			/* a doorbell's WRs: 2 ZC_PIECES + 2 pieces / SGE_MIN_ZC + wrap */

#define WRID_RECV (1ull << 62)
#define WRID_SEND (2ull << 62)
#define WRID_WRITE (3ull << 62)
#define WRID_KIND(w) ((w) & (3ull << 62))
#define WRID_VAL(w) ((w) & ~(3ull << 62))

/* Memory the caller registered (us_transport_register). */
struct user_mr {
	const char *addr;
	size_t len;
	struct ibv_mr *mr;
};

/* A body of the doorbell being built that the WRITE takes from user memory. */
struct zc_piece {
	uint64_t at;		/* stream position */
	uint32_t len;
	uint32_t lkey;
	const char *addr;
};

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
	uint32_t max_sge;		/* per write WR */
	struct user_mr umr[USER_MRS];
	struct zc_piece zc[ZC_PIECES];	/* of the doorbell being built */
	uint32_t nzc;
	/* reader */
	uint64_t arrived;	/* stream bytes announced by doorbells */
	uint64_t pos;		/* stream bytes consumed */
	uint64_t credit_sent;
	uint32_t db_uncredited;	/* doorbells consumed since credit was last sent */
	char *scratch;		/* a message that wraps the ring, made contiguous */
	uint32_t send_busy;	/* bit per send slot */
};

/* verbs_res.c: resources */
struct verbs_conn *us_verbs_conn_alloc(qb_loop_t *loop, const char *peer, int writer);
/* PD, completion channel, CQ, QP, control slots with receives posted. */
int us_verbs_setup_qp(struct verbs_conn *c);
/* Allocate and register the ring (reader) or its bounce mirror (writer). */
int us_verbs_setup_ring(struct verbs_conn *c, uint32_t len, int access);
/* On an RTS queue pair: a SEND that finds no receive waits RNR_TIMER. */
int us_verbs_shorten_rnr(struct verbs_conn *c);
/* Before connect or accept: a lost packet is sent again after ACK_TIMEOUT. */
void us_verbs_shorten_ack(struct rdma_cm_id *id);
int us_verbs_post_recv(struct verbs_conn *c, uint32_t slot);
/* Poll the completion and rdmacm channels on the connection's loop. */
int us_verbs_loop_add(struct verbs_conn *c);
/* Off the loop, marked failed: nothing more is sent or reported. */
void us_verbs_shut(struct verbs_conn *c);
void us_verbs_destroy(struct us_transport *t);

/* verbs.c: the rdmacm events of a live connection */
int32_t us_verbs_cm_dispatch(int32_t fd, int32_t revents, void *data);

/* verbs_write.c: the writer, and the operations table */
/* Deregister the caller's memory (on destroy, after the QP). */
void us_verbs_drop_user_mrs(struct verbs_conn *c);
extern const struct us_transport_ops us_verbs_ops;
/* Copy queued messages into the ring and ring doorbells while room lasts. */
int us_verbs_pump(struct verbs_conn *c);
/* The reader consumed @bytes more. */
void us_verbs_add_credit(struct verbs_conn *c, uint32_t bytes);
int us_verbs_busy(const struct us_transport *t);

/* verbs_cq.c: completions, the reader */
int32_t us_verbs_cq_dispatch(int32_t fd, int32_t revents, void *data);
/* A control SEND (@len may be 0) carrying the credit in its immediate. */
int us_verbs_send_ctl(struct verbs_conn *c, const void *msg, size_t len);
/* Report the end of the connection; the owner may free it in the callback. */
void us_verbs_conn_fail(struct verbs_conn *c, int err, const char *why);

#endif
