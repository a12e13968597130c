/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The public transport functions: pick an implementation at connect/listen
 * time, then dispatch every call through its table of operations.
 */
#include <config.h>

#include <errno.h>
#include <string.h>
#include <time.h>

#include "rdma/transport_int.h"
#ifdef HAVE_RDMA
#include "rdma/verbs_int.h"
#endif
#include "replicator/log.h"

uint64_t us_transport_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int us_transport_kind_parse(const char *s, enum us_transport_kind *kind)
{
	if (strcmp(s, "tcp") == 0)
		*kind = US_TRANSPORT_TCP;
	else if (strcmp(s, "rdma") == 0)
		*kind = US_TRANSPORT_RDMA;
	else if (strcmp(s, "auto") == 0)
		*kind = US_TRANSPORT_AUTO;
	else
		return -EINVAL;
	return 0;
}

/*
 * Pick the implementation: rdma when asked (and built), auto: rdma when
 * @addr is on an RDMA device, else tcp with a log line.
 * @return US_TRANSPORT_TCP or US_TRANSPORT_RDMA, or -EPROTONOSUPPORT.
 */
static int resolve_kind(enum us_transport_kind kind, const char *addr, int passive)
{
#ifdef HAVE_RDMA
	if (kind != US_TRANSPORT_AUTO)
		return kind;
	if (us_verbs_probe(addr, passive))
		return US_TRANSPORT_RDMA;
	us_log(LOG_NOTICE, US_TAG_RDMA, "transport = auto: %s is not on an RDMA device, using TCP",
	       addr);
	return US_TRANSPORT_TCP;
#else
	if (kind != US_TRANSPORT_RDMA)
		return US_TRANSPORT_TCP;
	us_log(LOG_ERR, US_TAG_RDMA, "transport = rdma: this build has no RDMA transport "
	       "(rdma-core was not found by configure); use transport = tcp or auto");
	return -EPROTONOSUPPORT;
#endif
}

struct us_transport *us_transport_connect(qb_loop_t *loop, enum us_transport_kind kind,
					  const char *addr, int timeout_ms)
{
	int rc = resolve_kind(kind, addr, 0);

	if (rc < 0) {
		errno = -rc;
		return NULL;
	}
#ifdef HAVE_RDMA
	if (rc == US_TRANSPORT_RDMA)
		return us_verbs_connect(loop, addr, timeout_ms);
#endif
	return us_tcp_connect(loop, addr, timeout_ms);
}

struct us_listener *us_transport_listen(qb_loop_t *loop, enum us_transport_kind kind,
					const char *addr, us_transport_accept_fn fn, void *opaque)
{
	int rc = resolve_kind(kind, addr, 1);

	if (rc < 0) {
		errno = -rc;
		return NULL;
	}
#ifdef HAVE_RDMA
	if (rc == US_TRANSPORT_RDMA)
		return us_verbs_listen(loop, addr, fn, opaque);
#endif
	return us_tcp_listen(loop, addr, fn, opaque);
}

void us_listener_free(struct us_listener *l)
{
	if (l)
		l->destroy(l);
}

void us_transport_set_cbs(struct us_transport *t, const struct us_transport_cbs *cbs, void *opaque)
{
	if (t->auth) { /* transport_auth.c sits in between */
		t->user_cbs = *cbs;
		t->user_opaque = opaque;
		return;
	}
	t->cbs = *cbs;
	t->opaque = opaque;
}

static int send_msg(struct us_transport *t, uint16_t type, uint64_t epoch, const void *body,
		    size_t len)
{
	return t->ops->send_msg(t, type, epoch, body, len);
}

static int send_body(struct us_transport *t, uint16_t type, uint64_t epoch, const void *desc,
		     size_t desc_len, const void *data, size_t len)
{
	return t->ops->send_body(t, type, epoch, desc, desc_len, data, len);
}

void us_transport_set_vm(struct us_transport *t, uint64_t vm_id)
{
	t->vm_id = vm_id;
}

int us_transport_send_msg(struct us_transport *t, uint16_t type, uint64_t epoch,
			  const void *body, size_t len)
{
	return send_msg(t, type, epoch, body, len);
}

int us_transport_send_pages(struct us_transport *t, uint64_t epoch, uint64_t first,
			    uint32_t count, const void *data)
{
	char desc[US_PROTO_PAGES_DESC];

	if (count == 0 || count > US_PROTO_MAX_RUN)
		return -EINVAL;
	us_proto_pages_desc_encode(desc, first, count);
	return send_body(t, US_MSG_PAGES, epoch, desc, sizeof(desc), data,
			 (size_t)count * US_PROTO_PAGE_SIZE);
}

int us_transport_send_page_runs(struct us_transport *t, uint64_t epoch, const void *body,
				size_t len)
{
	if (len < US_PROTO_PAGES_DESC + US_PROTO_PAGE_SIZE || len > US_PROTO_MAX_BODY)
		return -EINVAL;
	return send_body(t, US_MSG_PAGES, epoch, NULL, 0, body, len);
}

/* A guest write goes out in chunks the receiver's bound allows; zeroes carry no data. */
int us_transport_send_disk(struct us_transport *t, uint64_t epoch, uint64_t offset,
			   uint32_t kind, const void *data, uint64_t len)
{
	char desc[US_PROTO_DISK_DESC];
	uint64_t off;
	uint32_t n;
	int rc;

	if (len == 0 || (kind != US_DISK_WRITE && kind != US_DISK_ZEROES))
		return -EINVAL;
	for (off = 0; off < len; off += n) {
		n = len - off < US_PROTO_MAX_DISK_CHUNK ? (uint32_t)(len - off)
							: US_PROTO_MAX_DISK_CHUNK;
		us_proto_disk_desc_encode(desc, offset + off, n, kind);
		rc = send_body(t, US_MSG_DISK, epoch, desc, sizeof(desc),
			       kind == US_DISK_WRITE ? (const char *)data + off : NULL,
			       kind == US_DISK_WRITE ? n : 0);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Device state goes out in chunks the receiver's buffer bound allows. */
int us_transport_send_devstate(struct us_transport *t, uint64_t epoch, const void *buf, size_t len)
{
	size_t off, n;
	int rc;

	for (off = 0; off < len; off += n) {
		n = len - off < US_PROTO_MAX_DEVSTATE_CHUNK ? len - off : US_PROTO_MAX_DEVSTATE_CHUNK;
		rc = send_body(t, US_MSG_DEVSTATE, epoch, NULL, 0, (const char *)buf + off, n);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int us_transport_end_epoch(struct us_transport *t, const struct us_epoch_end *e)
{
	char body[64];

	return send_msg(t, US_MSG_EPOCH_END, e->epoch, body, us_proto_epoch_end_encode(body, e));
}

int us_transport_register(struct us_transport *t, const void *buf, size_t len)
{
	return t->ops->register_buf ? t->ops->register_buf(t, buf, len) : -EOPNOTSUPP;
}

int us_transport_unregister(struct us_transport *t, const void *buf)
{
	return t->ops->unregister_buf ? t->ops->unregister_buf(t, buf) : -ENOENT;
}

int us_transport_busy(const struct us_transport *t)
{
	return t->ops->busy(t);
}

uint64_t us_transport_queued(const struct us_transport *t)
{
	return t->ops->queued(t);
}

uint64_t us_transport_idle_ms(const struct us_transport *t)
{
	return us_transport_now_ms() - t->last_rx_ms;
}

const char *us_transport_name(const struct us_transport *t)
{
	return t->ops->name;
}

const char *us_transport_peer(const struct us_transport *t)
{
	return t->peer;
}

void us_transport_free(struct us_transport *t)
{
	if (!t)
		return;
	us_transport_auth_free(t);
	t->ops->destroy(t);
}
