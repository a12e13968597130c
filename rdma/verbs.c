/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The verbs transport's connection management with librdmacm: resolving
 * and connecting (the primary), listening and accepting (the standby), the
 * rdmacm events of a live connection, and the probe behind transport = auto.
 * The message flow and the control block are in rdma/verbs_conn.h;
 * resources in verbs_res.c, the writer in verbs_write.c, completions and
 * the reader in verbs_cq.c.
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
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "rdma/verbs_conn.h"
#include "rdma/verbs_int.h"
#include "replicator/log.h"

struct verbs_listener {
	struct us_listener base;
	qb_loop_t *loop;
	struct rdma_event_channel *ech;
	struct rdma_cm_id *id;
	us_transport_accept_fn fn;
	void *opaque;
};

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

	us_verbs_shorten_ack(c->id);
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
	rc = us_verbs_shorten_rnr(c);
	return rc ? rc : us_verbs_setup_ring(c, le32toh(ri.len), IBV_ACCESS_LOCAL_WRITE);
}

struct us_transport *us_verbs_connect(qb_loop_t *loop, const char *addr, int timeout_ms)
{
	struct verbs_conn *c = us_verbs_conn_alloc(loop, addr, 1);
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
		rc = us_verbs_setup_qp(c);
	if (rc == 0)
		rc = connect_peer(c, addr, timeout_ms);
	if (rc == 0)
		rc = us_verbs_loop_add(c);
out:
	if (rc < 0) {
		if (c)
			us_verbs_destroy(&c->base);
		errno = -rc;
		return NULL;
	}
	return &c->base;
}

int32_t us_verbs_cm_dispatch(int32_t fd, int32_t revents, void *data)
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
	us_verbs_conn_fail(c, -ECONNRESET, why);
	return 0;
}

static int accept_setup(struct verbs_conn *c)
{
	struct ring_info ri;
	struct rdma_conn_param cp = { .responder_resources = 1, .initiator_depth = 1,
				      .retry_count = 7, .rnr_retry_count = 7,
				      .private_data = &ri, .private_data_len = sizeof(ri) };
	int rc = us_verbs_setup_qp(c);

	if (rc == 0)
		rc = us_verbs_setup_ring(c, US_VERBS_RING_SIZE, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
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
	us_verbs_shorten_ack(c->id);
	if (rdma_migrate_id(c->id, c->ech) || rdma_accept(c->id, &cp))
		return -errno;
	rc = us_verbs_shorten_rnr(c);	/* rdma_accept moved the QP to RTS */
	return rc ? rc : us_verbs_loop_add(c);
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
	c = us_verbs_conn_alloc(l->loop, peer, 0);
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
		us_verbs_destroy(&c->base);
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
