/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The verbs transport (rdma/verbs.c) against fakes of librdmacm and
 * libibverbs (linked with --wrap; the inline verbs calls go through a fake
 * device context's ops) for what soft-RoCE cannot provoke: ibv_reg_mr
 * failing, a rejected connection, a completion error, DISCONNECTED
 * mid-epoch, a full send queue, the ring's credit holding the writer back
 * until the reader gives space back, the doorbells the writer rings
 * bounded by the receives the reader posted (an RNR NAK costs 655 ms), the
 * ACK timeout shortened (or a warning where the kernel refuses), and
 * large bodies in registered memory gathered from there, not copied, every
 * write within the peer's ring.
 */
#include <config.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "rdma/transport_int.h"
#include "rdma/verbs_int.h"
#include "replicator/log.h"
#include "tests/lib/logcap.h"

#define RING (8u << 20)
#define MAX_EV 8
#define MAX_WC 64

/* ---- the fakes ---- */

static struct {
	struct ibv_context ctx;
	struct ibv_device dev;
	struct ibv_pd pd;
	struct ibv_cq cq;
	struct ibv_qp qp;
	struct ibv_comp_channel cch;
	struct rdma_event_channel ech;
	enum rdma_cm_event_type ev[MAX_EV];	/* scripted cm events, in order */
	int nev, next_ev;
	struct ibv_wc wc[MAX_WC];		/* scripted completions */
	int nwc;
	int reg_fail;			/* ibv_reg_mr fails with this errno */
	int post_send_rc;		/* ibv_post_send returns this */
	int sends, writes_outstanding, max_outstanding;
	int doorbells;			/* WRITE_WITH_IMMs posted */
	int rnr_timer;			/* min_rnr_timer set by ibv_modify_qp, or -1 */
	int ack_timeout;		/* RDMA_OPTION_ID_ACK_TIMEOUT set, or -1 */
	int set_option_fail;		/* rdma_set_option fails with this errno */
	uint64_t bytes_written;
	int disconnected;
	int max_sge;			/* the device's, for ibv_query_device */
	int last_nsge;			/* of the last write WR */
	struct ibv_sge last_sge[32];
	int outside_ring;		/* writes that reach beyond the peer's ring */
	int bounce_bytes;		/* bytes taken from the bounce region (lkey 7 is user) */
} f;

#define RING_ADDR 0x10000u

static int fake_poll_cq(struct ibv_cq *cq, int n, struct ibv_wc *wc)
{
	int i;

	for (i = 0; i < n && i < f.nwc; i++)
		wc[i] = f.wc[i];
	memmove(f.wc, f.wc + i, (f.nwc - i) * sizeof(*wc));
	f.nwc -= i;
	return i;
}

static int fake_req_notify(struct ibv_cq *cq, int solicited)
{
	return 0;
}

static int fake_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad)
{
	if (f.post_send_rc)
		return f.post_send_rc;
	uint64_t len = 0;
	int i;

	f.sends++;
	f.writes_outstanding++;
	if (f.writes_outstanding > f.max_outstanding)
		f.max_outstanding = f.writes_outstanding;
	for (i = 0; i < wr->num_sge; i++)
		len += wr->sg_list[i].length;
	if (wr->opcode == IBV_WR_SEND_WITH_IMM)
		return 0;
	f.bytes_written += len;
	f.doorbells += wr->opcode == IBV_WR_RDMA_WRITE_WITH_IMM;
	f.last_nsge = wr->num_sge;
	memcpy(f.last_sge, wr->sg_list, wr->num_sge * sizeof(*wr->sg_list));
	f.outside_ring += wr->wr.rdma.remote_addr < RING_ADDR ||
			  wr->wr.rdma.remote_addr + len > RING_ADDR + RING;
	return 0;
}

static int fake_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad)
{
	return 0;
}

struct rdma_event_channel *__wrap_rdma_create_event_channel(void);
struct rdma_event_channel *__wrap_rdma_create_event_channel(void)
{
	return &f.ech;
}

void __wrap_rdma_destroy_event_channel(struct rdma_event_channel *ch);
void __wrap_rdma_destroy_event_channel(struct rdma_event_channel *ch)
{
}

int __wrap_rdma_create_id(struct rdma_event_channel *ch, struct rdma_cm_id **id, void *ctx,
			  enum rdma_port_space ps);
int __wrap_rdma_create_id(struct rdma_event_channel *ch, struct rdma_cm_id **id, void *ctx,
			  enum rdma_port_space ps)
{
	*id = calloc(1, sizeof(**id));
	(*id)->channel = ch;
	(*id)->context = ctx;
	return 0;
}

int __wrap_rdma_destroy_id(struct rdma_cm_id *id);
int __wrap_rdma_destroy_id(struct rdma_cm_id *id)
{
	free(id);
	return 0;
}

int __wrap_rdma_resolve_addr(struct rdma_cm_id *id, struct sockaddr *src, struct sockaddr *dst,
			     int ms);
int __wrap_rdma_resolve_addr(struct rdma_cm_id *id, struct sockaddr *src, struct sockaddr *dst,
			     int ms)
{
	id->verbs = &f.ctx;
	return 0;
}

int __wrap_rdma_resolve_route(struct rdma_cm_id *id, int ms);
int __wrap_rdma_resolve_route(struct rdma_cm_id *id, int ms)
{
	return 0;
}

int __wrap_rdma_set_option(struct rdma_cm_id *id, int level, int name, void *val, size_t len);
int __wrap_rdma_set_option(struct rdma_cm_id *id, int level, int name, void *val, size_t len)
{
	if (f.set_option_fail) {
		errno = f.set_option_fail;
		return -1;
	}
	if (level == RDMA_OPTION_ID && name == RDMA_OPTION_ID_ACK_TIMEOUT && len == 1)
		f.ack_timeout = *(uint8_t *)val;
	return 0;
}

int __wrap_rdma_connect(struct rdma_cm_id *id, struct rdma_conn_param *p);
int __wrap_rdma_connect(struct rdma_cm_id *id, struct rdma_conn_param *p)
{
	return 0;
}

int __wrap_rdma_disconnect(struct rdma_cm_id *id);
int __wrap_rdma_disconnect(struct rdma_cm_id *id)
{
	f.disconnected++;
	return 0;
}

int __wrap_rdma_get_cm_event(struct rdma_event_channel *ch, struct rdma_cm_event **event);
int __wrap_rdma_get_cm_event(struct rdma_event_channel *ch, struct rdma_cm_event **event)
{
	static struct { uint64_t addr; uint32_t rkey, len; } ri = { RING_ADDR, 42, RING };
	struct rdma_cm_event *ev;

	if (f.next_ev == f.nev) {
		errno = EAGAIN;
		return -1;
	}
	ev = calloc(1, sizeof(*ev));
	ev->event = f.ev[f.next_ev++];
	if (ev->event == RDMA_CM_EVENT_ESTABLISHED) {
		ev->param.conn.private_data = &ri;
		ev->param.conn.private_data_len = sizeof(ri);
	}
	*event = ev;
	return 0;
}

int __wrap_rdma_ack_cm_event(struct rdma_cm_event *event);
int __wrap_rdma_ack_cm_event(struct rdma_cm_event *event)
{
	free(event);
	return 0;
}

int __wrap_rdma_create_qp(struct rdma_cm_id *id, struct ibv_pd *pd, struct ibv_qp_init_attr *a);
int __wrap_rdma_create_qp(struct rdma_cm_id *id, struct ibv_pd *pd, struct ibv_qp_init_attr *a)
{
	id->qp = &f.qp;
	return 0;
}

void __wrap_rdma_destroy_qp(struct rdma_cm_id *id);
void __wrap_rdma_destroy_qp(struct rdma_cm_id *id)
{
	id->qp = NULL;
}

struct ibv_pd *__wrap_ibv_alloc_pd(struct ibv_context *c);
struct ibv_pd *__wrap_ibv_alloc_pd(struct ibv_context *c)
{
	return &f.pd;
}

int __wrap_ibv_dealloc_pd(struct ibv_pd *pd);
int __wrap_ibv_dealloc_pd(struct ibv_pd *pd)
{
	return 0;
}

struct ibv_comp_channel *__wrap_ibv_create_comp_channel(struct ibv_context *c);
struct ibv_comp_channel *__wrap_ibv_create_comp_channel(struct ibv_context *c)
{
	return &f.cch;
}

int __wrap_ibv_destroy_comp_channel(struct ibv_comp_channel *ch);
int __wrap_ibv_destroy_comp_channel(struct ibv_comp_channel *ch)
{
	return 0;
}

struct ibv_cq *__wrap_ibv_create_cq(struct ibv_context *c, int cqe, void *ctx,
				    struct ibv_comp_channel *ch, int vec);
struct ibv_cq *__wrap_ibv_create_cq(struct ibv_context *c, int cqe, void *ctx,
				    struct ibv_comp_channel *ch, int vec)
{
	return &f.cq;
}

int __wrap_ibv_destroy_cq(struct ibv_cq *cq);
int __wrap_ibv_destroy_cq(struct ibv_cq *cq)
{
	return 0;
}

static struct ibv_mr *fake_reg(void)
{
	struct ibv_mr *mr;

	if (f.reg_fail) {
		errno = f.reg_fail;
		return NULL;
	}
	mr = calloc(1, sizeof(*mr));
	mr->lkey = mr->rkey = 7;
	return mr;
}

struct ibv_mr *__wrap_ibv_reg_mr(struct ibv_pd *pd, void *addr, size_t len, int access);
struct ibv_mr *__wrap_ibv_reg_mr(struct ibv_pd *pd, void *addr, size_t len, int access)
{
	return fake_reg();
}

struct ibv_mr *__wrap_ibv_reg_mr_iova2(struct ibv_pd *pd, void *addr, size_t len, uint64_t iova,
				       unsigned int access);
struct ibv_mr *__wrap_ibv_reg_mr_iova2(struct ibv_pd *pd, void *addr, size_t len, uint64_t iova,
				       unsigned int access)
{
	return fake_reg();
}

int __wrap_ibv_dereg_mr(struct ibv_mr *mr);
int __wrap_ibv_dereg_mr(struct ibv_mr *mr)
{
	free(mr);
	return 0;
}

int __wrap_ibv_query_device(struct ibv_context *c, struct ibv_device_attr *a);
int __wrap_ibv_query_device(struct ibv_context *c, struct ibv_device_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->max_sge = f.max_sge;
	return 0;
}

int __wrap_ibv_get_cq_event(struct ibv_comp_channel *ch, struct ibv_cq **cq, void **ctx);
int __wrap_ibv_get_cq_event(struct ibv_comp_channel *ch, struct ibv_cq **cq, void **ctx)
{
	*cq = &f.cq;
	*ctx = NULL;
	return 0;
}

void __wrap_ibv_ack_cq_events(struct ibv_cq *cq, unsigned int n);
void __wrap_ibv_ack_cq_events(struct ibv_cq *cq, unsigned int n)
{
}

const char *__wrap_ibv_get_device_name(struct ibv_device *d);
const char *__wrap_ibv_get_device_name(struct ibv_device *d)
{
	return "fake0";
}

int __wrap_ibv_modify_qp(struct ibv_qp *qp, struct ibv_qp_attr *attr, int mask);
int __wrap_ibv_modify_qp(struct ibv_qp *qp, struct ibv_qp_attr *attr, int mask)
{
	if (mask & IBV_QP_MIN_RNR_TIMER)
		f.rnr_timer = attr->min_rnr_timer;
	return 0;
}

/* ---- tests ---- */

static qb_loop_t *loop;
static int closed_err;
static char closed_why[256];

static void on_closed(void *opaque, int err, const char *why)
{
	closed_err = err;
	snprintf(closed_why, sizeof(closed_why), "%s", why);
	qb_loop_stop(loop);
}

static void stop_loop(void *data)
{
	qb_loop_stop(loop);
}

/* Run the loop until closed or 200 ms passed. */
static void run_briefly(void)
{
	qb_loop_timer_handle th;

	qb_loop_timer_add(loop, QB_LOOP_LOW, 200000000ULL, NULL, stop_loop, &th);
	qb_loop_run(loop);
	qb_loop_timer_del(loop, th);
}

static void script(int n, ...)
{
	va_list ap;
	int i;

	va_start(ap, n);
	for (i = 0; i < n; i++)
		f.ev[f.nev++] = va_arg(ap, enum rdma_cm_event_type);
	va_end(ap);
}

static int setup(void **state)
{
	memset(&f, 0, sizeof(f));
	f.rnr_timer = -1;
	f.ack_timeout = -1;
	f.max_sge = 30;
	f.ctx.device = &f.dev;
	f.ctx.ops.poll_cq = fake_poll_cq;
	f.ctx.ops.req_notify_cq = fake_req_notify;
	f.ctx.ops.post_send = fake_post_send;
	f.ctx.ops.post_recv = fake_post_recv;
	f.cq.context = f.qp.context = &f.ctx;
	/* Always readable: the transport must cope with nothing to read. */
	f.ech.fd = eventfd(1, EFD_CLOEXEC);
	f.cch.fd = eventfd(1, EFD_CLOEXEC);
	loop = qb_loop_create();
	closed_err = 0;
	closed_why[0] = 0;
	us_logcap_clear();
	return 0;
}

static int teardown(void **state)
{
	qb_loop_destroy(loop);
	close(f.ech.fd);
	close(f.cch.fd);
	return 0;
}

static struct us_transport *connected(void)
{
	static const struct us_transport_cbs cbs = { .closed = on_closed };
	struct us_transport *t;

	script(3, RDMA_CM_EVENT_ADDR_RESOLVED, RDMA_CM_EVENT_ROUTE_RESOLVED,
	       RDMA_CM_EVENT_ESTABLISHED);
	t = us_verbs_connect(loop, "10.0.0.1:7000", 100);
	assert_non_null(t);
	assert_string_equal(us_transport_name(t), "rdma");
	us_transport_set_cbs(t, &cbs, NULL);
	return t;
}

static void reg_mr_fails(void **state)
{
	f.reg_fail = ENOMEM;
	script(3, RDMA_CM_EVENT_ADDR_RESOLVED, RDMA_CM_EVENT_ROUTE_RESOLVED,
	       RDMA_CM_EVENT_ESTABLISHED);
	assert_null(us_verbs_connect(loop, "10.0.0.1:7000", 100));
	assert_int_equal(errno, ENOMEM);
	assert_non_null(strstr(us_logcap_text(), "RLIMIT_MEMLOCK"));
}

static void rejected(void **state)
{
	script(3, RDMA_CM_EVENT_ADDR_RESOLVED, RDMA_CM_EVENT_ROUTE_RESOLVED,
	       RDMA_CM_EVENT_REJECTED);
	assert_null(us_verbs_connect(loop, "10.0.0.1:7000", 100));
	assert_int_equal(errno, ECONNREFUSED);
	assert_non_null(strstr(us_logcap_text(), "transport = rdma"));
}

static void address_error(void **state)
{
	script(1, RDMA_CM_EVENT_ADDR_ERROR);
	assert_null(us_verbs_connect(loop, "10.0.0.1:7000", 100));
	assert_int_equal(errno, EHOSTUNREACH);
	assert_non_null(strstr(us_logcap_text(), "not reachable through an RDMA device"));
}

/* A lost packet is sent again after 67 ms, not rdma_cm's 0.5 s or more. */
static void short_ack_timeout(void **state)
{
	struct us_transport *t = connected();

	assert_int_equal(f.ack_timeout, 14);
	us_transport_free(t);
}

/* A kernel that refuses the option costs a warning, not the connection. */
static void ack_timeout_refused(void **state)
{
	struct us_transport *t;

	f.set_option_fail = ENOSYS;
	t = connected();
	assert_int_equal(f.ack_timeout, -1);
	assert_non_null(strstr(us_logcap_text(), "cannot shorten the RDMA ACK timeout"));
	us_transport_free(t);
}

static void cq_error_closes(void **state)
{
	struct us_transport *t = connected();
	static char page[4096];

	assert_int_equal(us_transport_send_pages(t, 1, 0, 1, page), 0);
	f.wc[f.nwc++] = (struct ibv_wc){ .wr_id = 3ull << 62, .status = IBV_WC_RETRY_EXC_ERR };
	run_briefly();
	assert_int_equal(closed_err, -EIO);
	assert_non_null(strstr(closed_why, "completion error"));
	assert_int_equal(us_transport_send_pages(t, 1, 0, 1, page), -EPIPE);
	us_transport_free(t);
	assert_int_equal(f.disconnected, 1);
}

static void disconnected_mid_epoch(void **state)
{
	struct us_transport *t = connected();
	static char page[4096];

	assert_int_equal(us_transport_send_pages(t, 1, 0, 1, page), 0);
	script(1, RDMA_CM_EVENT_DISCONNECTED);
	run_briefly();
	assert_int_equal(closed_err, -ECONNRESET);
	assert_non_null(strstr(closed_why, "peer disconnected"));
	us_transport_free(t);
}

static void full_send_queue(void **state)
{
	struct us_transport *t = connected();
	static char page[4096];

	f.post_send_rc = ENOMEM;
	assert_int_equal(us_transport_send_pages(t, 1, 0, 1, page), -ENOMEM);
	assert_non_null(strstr(us_logcap_text(), "send queue full"));
	f.post_send_rc = 0;
	assert_int_equal(us_transport_send_pages(t, 1, 1, 1, page), -EPIPE);	/* no hole */
	us_transport_free(t);
}

/* Without credit the writer stops at the ring's size and at the queue depth. */
static void credit_bounds_writes(void **state)
{
	struct us_transport *t = connected();
	static char pages[256 * 4096];
	uint64_t before;
	int i;

	for (i = 0; i < 12; i++)	/* 12 MiB: more than the 8 MiB ring */
		assert_int_equal(us_transport_send_pages(t, 1, 0, 256, pages), 0);
	assert_true(f.bytes_written <= RING);
	assert_true(us_transport_queued(t) > 0);
	assert_true(us_transport_busy(t));
	assert_true(f.max_outstanding <= 128);
	before = f.bytes_written;
	/* The reader gives 4 MiB back in a SEND's immediate. */
	f.wc[f.nwc++] = (struct ibv_wc){ .wr_id = 1ull << 62, .status = IBV_WC_SUCCESS,
					 .opcode = IBV_WC_RECV, .wc_flags = IBV_WC_WITH_IMM,
					 .imm_data = htonl(4u << 20) };
	run_briefly();
	assert_true(f.bytes_written > before);
	assert_true(f.bytes_written <= RING + (4u << 20));
	assert_int_equal(closed_err, 0);
	us_transport_free(t);
}

/* A credit carried by a SEND from the reader, in receive slot 1. */
static void give_credit(uint32_t bytes)
{
	f.wc[f.nwc++] = (struct ibv_wc){ .wr_id = (1ull << 62) | 1, .status = IBV_WC_SUCCESS,
					 .opcode = IBV_WC_RECV, .wc_flags = IBV_WC_WITH_IMM,
					 .imm_data = htonl(bytes) };
}

/*
 * Small messages, each its own doorbell while there is room: no more
 * WRITE_WITH_IMMs beyond the credit than the reader has receives (32), and
 * a credit covering them lets the rest go out, batched. The queue pair's
 * RNR timer is not left at rdma_cm's 0 (655 ms).
 */
static void doorbells_bounded_by_receives(void **state)
{
	struct us_transport *t = connected();
	static char page[4096];
	int i;

	assert_int_not_equal(f.rnr_timer, -1);
	assert_int_not_equal(f.rnr_timer, 0);
	for (i = 0; i < 100; i++)
		assert_int_equal(us_transport_send_pages(t, 1, i, 1, page), 0);
	assert_int_equal(f.doorbells, 32);
	assert_true(us_transport_queued(t) > 0);
	give_credit(32 * (4096 + US_PROTO_HDR_SIZE + 16)); /* header + PAGES descriptor + page */
	run_briefly();
	assert_int_equal(us_transport_queued(t), 0);
	assert_true(f.doorbells > 32 && f.doorbells < 100);
	assert_int_equal(f.bytes_written, 100 * (4096 + US_PROTO_HDR_SIZE + 16));
	assert_int_equal(closed_err, 0);
	us_transport_free(t);
}

/* The write WRs posted so far are complete. */
static void writes_complete(void)
{
	f.wc[f.nwc++] = (struct ibv_wc){ .wr_id = (3ull << 62) | (uint64_t)(f.sends - 1),
					 .status = IBV_WC_SUCCESS };
	f.writes_outstanding = 0;
}

/*
 * A body of 16 KiB or more inside registered memory goes out as a second
 * piece of the WR, from where it lies; a smaller one, or one outside, is
 * copied into the bounce region. Across the ring's wrap every write stays
 * within the peer's ring. The memory is withdrawn only once drained.
 */
static void registered_bodies_not_copied(void **state)
{
	static char pages[9][256 * 4096], other[16 * 4096];
	uint64_t msg = US_PROTO_HDR_SIZE + 16 + sizeof(pages[0]);
	struct us_transport *t = connected();
	int i;

	assert_int_equal(us_transport_register(t, pages, sizeof(pages)), 0);
	assert_int_equal(us_transport_send_pages(t, 1, 0, 16, pages[0]), 0);
	assert_int_equal(f.last_nsge, 2);
	assert_int_equal(f.last_sge[0].length, US_PROTO_HDR_SIZE + 16);
	assert_true(f.last_sge[1].addr == (uintptr_t)pages[0]);
	assert_int_equal(f.last_sge[1].length, 16 * 4096);
	assert_int_equal(us_transport_send_pages(t, 1, 16, 1, pages[1]), 0); /* 4 KiB */
	assert_int_equal(f.last_nsge, 1);
	assert_int_equal(us_transport_send_pages(t, 1, 17, 16, other), 0); /* not registered */
	assert_int_equal(f.last_nsge, 1);
	assert_int_equal(us_transport_unregister(t, pages), -EBUSY);
	assert_int_equal(us_transport_unregister(t, other), -ENOENT);
	writes_complete();
	give_credit(f.bytes_written);
	run_briefly();
	/* 9 MiB more: the ring wraps inside one of them */
	f.bytes_written = 0;
	for (i = 0; i < 9; i++)
		assert_int_equal(us_transport_send_pages(t, 1, 256 * i, 256, pages[i]), 0);
	assert_true(us_transport_queued(t) > 0);
	give_credit(4u << 20);
	run_briefly();
	assert_int_equal(us_transport_queued(t), 0);
	assert_int_equal(f.bytes_written, 9 * msg);
	assert_int_equal(f.outside_ring, 0);
	assert_int_equal(closed_err, 0);
	writes_complete();
	run_briefly();
	assert_int_equal(us_transport_unregister(t, pages), 0);
	us_transport_free(t);
}

/* A device with few scatter/gather entries per WR: everything is copied. */
static void few_sges_copy(void **state)
{
	static char pages[16 * 4096];
	struct us_transport *t;

	f.max_sge = 4;
	t = connected();
	assert_int_equal(us_transport_register(t, pages, sizeof(pages)), -EOPNOTSUPP);
	assert_int_equal(us_transport_send_pages(t, 1, 0, 16, pages), 0);
	assert_int_equal(f.last_nsge, 1);
	us_transport_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(reg_mr_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(address_error, setup, teardown),
		cmocka_unit_test_setup_teardown(short_ack_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(ack_timeout_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(cq_error_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(disconnected_mid_epoch, setup, teardown),
		cmocka_unit_test_setup_teardown(full_send_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(credit_bounds_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(doorbells_bounded_by_receives, setup, teardown),
		cmocka_unit_test_setup_teardown(registered_bodies_not_copied, setup, teardown),
		cmocka_unit_test_setup_teardown(few_sges_copy, setup, teardown),
	};

	us_log_init("test_verbs", LOG_CRIT, 0);
	us_logcap_start();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
