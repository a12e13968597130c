/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The verbs transport's per-connection resources (rdma/verbs_conn.h): the
 * protection domain, completion channel and queue, the queue pair with its
 * control slots and posted receives, the registered ring, the two fds on the
 * caller's loop, and their teardown in reverse.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "rdma/verbs_conn.h"
#include "rdma/verbs_int.h"
#include "replicator/log.h"

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

int us_verbs_post_recv(struct verbs_conn *c, uint32_t slot)
{
	struct ibv_sge sge = { (uintptr_t)(c->ctl + (size_t)slot * CTL_SLOT), CTL_SLOT,
			       c->ctl_mr->lkey };
	struct ibv_recv_wr wr = { .wr_id = WRID_RECV | slot, .sg_list = &sge, .num_sge = 1 };
	struct ibv_recv_wr *bad;

	return -ibv_post_recv(c->id->qp, &wr, &bad);
}

/* PD, completion channel, CQ, QP, control slots with receives posted. */
int us_verbs_setup_qp(struct verbs_conn *c)
{
	struct ibv_qp_init_attr qa = { .qp_type = IBV_QPT_RC, .sq_sig_all = 0,
		.cap = { .max_send_wr = SQ_DEPTH, .max_recv_wr = CTL_SLOTS,
			 .max_send_sge = 1, .max_recv_sge = 1 } };
	struct ibv_device_attr da;
	uint32_t i;

	/* the writer gathers headers and registered bodies into one WR */
	c->max_sge = 1;
	if (c->writer && ibv_query_device(c->id->verbs, &da) == 0 && da.max_sge > 1)
		c->max_sge = da.max_sge < (int)SGE_MAX ? (uint32_t)da.max_sge : SGE_MAX;
	qa.cap.max_send_sge = c->max_sge;
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
		if (us_verbs_post_recv(c, i))
			return -EIO;
	return 0;
}

/* A warning only: the connection works with rdma_cm's longer timeout. */
void us_verbs_shorten_ack(struct rdma_cm_id *id)
{
	uint8_t t = ACK_TIMEOUT;

	if (rdma_set_option(id, RDMA_OPTION_ID, RDMA_OPTION_ID_ACK_TIMEOUT, &t, sizeof(t)))
		us_log(LOG_WARNING, US_TAG_RDMA, "cannot shorten the RDMA ACK timeout (%s): a lost "
		       "packet will stall replication for rdma_cm's default, about 0.5 s",
		       strerror(errno));
}

int us_verbs_ack_timeout(struct us_transport *t)
{
	struct ibv_qp_attr qa;
	struct ibv_qp_init_attr ia;
	struct verbs_conn *c = (struct verbs_conn *)t;
	int rc;

	if (t->ops != &us_verbs_ops || !c->id || !c->id->qp)
		return -EINVAL;
	rc = ibv_query_qp(c->id->qp, &qa, IBV_QP_TIMEOUT, &ia);
	return rc ? -rc : qa.timeout;
}

/* On an RTS queue pair: answer a SEND that finds no receive with a short RNR wait. */
int us_verbs_shorten_rnr(struct verbs_conn *c)
{
	struct ibv_qp_attr qa = { .min_rnr_timer = RNR_TIMER };
	int rc = ibv_modify_qp(c->id->qp, &qa, IBV_QP_MIN_RNR_TIMER);

	if (rc)
		us_log(LOG_ERR, US_TAG_RDMA, "cannot set the RDMA queue pair's RNR timer: %s",
		       strerror(rc));
	return -rc;
}

int us_verbs_setup_ring(struct verbs_conn *c, uint32_t len, int access)
{
	c->ring_len = len;
	c->ring = aligned_alloc(4096, len);
	if (!c->ring)
		return -ENOMEM;
	c->ring_mr = reg(c, c->ring, len, access);
	return c->ring_mr ? 0 : -errno;
}

int us_verbs_loop_add(struct verbs_conn *c)
{
	int rc;

	fcntl(c->cch->fd, F_SETFL, fcntl(c->cch->fd, F_GETFL) | O_NONBLOCK);
	fcntl(c->ech->fd, F_SETFL, fcntl(c->ech->fd, F_GETFL) | O_NONBLOCK);
	rc = qb_loop_poll_add(c->base.loop, QB_LOOP_HIGH, c->cch->fd, POLLIN, c, us_verbs_cq_dispatch);
	if (rc < 0)
		return rc;
	rc = qb_loop_poll_add(c->base.loop, QB_LOOP_HIGH, c->ech->fd, POLLIN, c, us_verbs_cm_dispatch);
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

void us_verbs_shut(struct verbs_conn *c)
{
	loop_del(c);
	c->failed = 1;
}

struct verbs_conn *us_verbs_conn_alloc(qb_loop_t *loop, const char *peer, int writer)
{
	struct verbs_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->base.ops = &us_verbs_ops;
	c->base.loop = loop;
	c->base.last_rx_ms = us_transport_now_ms();
	snprintf(c->base.peer, sizeof(c->base.peer), "%s", peer);
	c->writer = writer;
	return c;
}

void us_verbs_destroy(struct us_transport *t)
{
	struct verbs_conn *c = (struct verbs_conn *)t;

	loop_del(c);
	if (c->id && c->id->qp)
		rdma_disconnect(c->id);
	if (c->id && c->id->qp)
		rdma_destroy_qp(c->id);
	us_verbs_drop_user_mrs(c);
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
