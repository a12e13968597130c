/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Standby half of the epoch protocol (see proto.h for the sequence).
 *
 *   state      message          action
 *   HELLO      HELLO ok         send HELLO_OK, expect epoch 0 (a sync)
 *   HELLO      HELLO in sync    (same lineage, base epoch = committed: a
 *                               switchover) send HELLO_OK, expect committed+1
 *   HELLO      anything else    refuse
 *   EPOCH      PAGES(n)         epoch 0: write to replica; else stage
 *   EPOCH      DEVSTATE(n)      stage
 *   EPOCH      EPOCH_END(n)     verify sums, send ACK(n), apply, commit n
 *   any        wrong VM, epoch, version, type or size: refuse, discard n
 *
 * Epoch 0 (a sync) writes straight into the replica, so a HELLO that
 * starts a sync first drops the committed epoch (and its device state): from
 * that moment until the sync's epoch 0 commits, this standby holds nothing it
 * could promote. After that, only a verified epoch ever touches the replica.
 */
#include <config.h>

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replicator/buf.h"
#include "replicator/log.h"
#include "replicator/receiver_int.h"

struct us_receiver *us_receiver_new(const struct us_receiver_cfg *cfg,
				    const struct us_receiver_ops *ops, void *opaque)
{
	struct us_receiver *rx = calloc(1, sizeof(*rx));

	if (!rx)
		return NULL;
	rx->sum = us_xsum_new(US_XSUM_AUTO);
	if (!rx->sum) {
		free(rx);
		errno = ENOMEM;
		return NULL;
	}
	rx->cfg = *cfg;
	rx->ops = *ops;
	rx->opaque = opaque;
	snprintf(rx->vm_name, sizeof(rx->vm_name), "%s", cfg->vm_name);
	rx->cfg.vm_name = rx->vm_name;
	snprintf(rx->accel, sizeof(rx->accel), "%s", cfg->accel ? cfg->accel : "tcg");
	rx->cfg.accel = rx->accel;
	rx->vm_id = us_proto_vm_id(rx->vm_name);
	us_buf_init(&rx->pages, cfg->staging_max);
	us_buf_init(&rx->dev, cfg->devstate_max);
	us_buf_init(&rx->dev_committed, cfg->devstate_max);
	us_buf_init(&rx->disk, cfg->disk_staging_max);
	if (!cfg->disk_size)
		rx->cfg.disk_fd = -1;	/* no disk: a zeroed cfg must not mean stdin */
	rx->st.committed = US_EPOCH_NONE;
	rx->st.receiving = US_EPOCH_NONE;
	return rx;
}

uint64_t us_receiver_lineage(const struct us_receiver *rx)
{
	return rx->st.committed == US_EPOCH_NONE ? 0 : rx->lineage;
}

void us_receiver_free(struct us_receiver *rx)
{
	if (!rx)
		return;
	us_buf_free(&rx->pages);
	free(rx->unz);
	us_buf_free(&rx->dev);
	us_buf_free(&rx->dev_committed);
	us_buf_free(&rx->disk);
	us_xsum_free(rx->sum);
	free(rx);
}

void us_rx_sum(struct us_receiver *rx, const void *body, size_t len)
{
	if (!rx->unsummed)
		us_xsum_update(rx->sum, body, len);
}

#define STAGE_CHUNK (16u << 10) /* copied, then summed while in the cache */

int us_rx_stage(struct us_receiver *rx, struct us_buf *b, const void *body, size_t len)
{
	const char *src = body;
	char *dst;
	size_t off, n;
	int rc;

	if (len && b->data && src == b->data + b->len) { /* the transport placed it */
		rc = us_buf_append(b, body, len);
		if (rc == 0)
			us_rx_sum(rx, body, len);
		return rc;
	}
	rc = us_buf_reserve(b, len);
	if (rc < 0)
		return rc;
	dst = b->data + b->len;
	for (off = 0; off < len; off += n) {
		n = len - off < STAGE_CHUNK ? len - off : STAGE_CHUNK;
		memcpy(dst + off, src + off, n);
		us_rx_sum(rx, dst + off, n);
	}
	b->len += len;
	return 0;
}

void us_receiver_set_authenticated(struct us_receiver *rx, int on)
{
	rx->unsummed = on;
}

void *us_receiver_place(struct us_receiver *rx, const struct us_msg_hdr *h)
{
	struct us_buf *b = h->type == US_MSG_PAGES      ? &rx->pages
			   : h->type == US_MSG_DEVSTATE ? &rx->dev
			   : h->type == US_MSG_DISK     ? &rx->disk
							: NULL;

	if (!b || rx->state != RX_EPOCH || h->vm_id != rx->vm_id || h->epoch != rx->expect ||
	    h->epoch == 0)
		return NULL;
	return us_buf_tail(b, h->len);
}

static void open_epoch(struct us_receiver *rx)
{
	us_buf_clear(&rx->pages);
	us_buf_clear(&rx->dev);
	us_buf_clear(&rx->disk);
	us_xsum_reset(rx->sum);
	rx->n_pages = rx->n_page_bytes = 0;
	rx->n_disk = rx->n_disk_bytes = 0;
	rx->epoch_open = 0;
	rx->st.receiving = US_EPOCH_NONE;
}

void us_receiver_reset(struct us_receiver *rx)
{
	if (rx->epoch_open)
		us_log(LOG_WARNING, US_TAG_STANDBY,
		       "discarding torn epoch %lu: the connection ended before its EPOCH_END; "
		       "replica stays at epoch %ld", (unsigned long)rx->expect,
		       (long)rx->st.committed);
	open_epoch(rx);
	rx->state = RX_HELLO;
}

void us_receiver_stats(const struct us_receiver *rx, struct us_receiver_stats *st)
{
	*st = rx->st;
}

const void *us_receiver_devstate(const struct us_receiver *rx, size_t *len)
{
	*len = rx->dev_committed.len;
	return rx->st.committed == US_EPOCH_NONE ? NULL : rx->dev_committed.data;
}

int us_rx_refuse(struct us_receiver *rx, uint32_t code, int rc, const char *why)
{
	struct us_refuse r = { .code = code };
	char body[256];
	size_t n;

	snprintf(r.reason, sizeof(r.reason), "%s", why);
	n = us_proto_refuse_encode(body, &r);
	rx->ops.send(rx->opaque, US_MSG_REFUSE, rx->expect, body, n);
	rx->st.rejected++;
	if (rx->epoch_open)
		us_log(LOG_WARNING, US_TAG_STANDBY, "discarding epoch %lu after a bad message",
		       (unsigned long)rx->expect);
	open_epoch(rx);
	rx->state = RX_HELLO;
	return rc;
}

static int check_hello(struct us_receiver *rx, const struct us_msg_hdr *h,
		       const struct us_hello *m, char *why, size_t whylen)
{
	if (strcmp(m->vm_name, rx->vm_name) != 0 || h->vm_id != rx->vm_id) {
		snprintf(why, whylen, "primary protects VM '%s', this standby holds VM '%s'",
			 m->vm_name, rx->vm_name);
		return us_rx_refuse(rx, US_REFUSE_VM, -EINVAL, why);
	}
	if (m->ram_size != rx->cfg.ram_size || m->page_size != US_PROTO_PAGE_SIZE) {
		snprintf(why, whylen, "guest memory differs: primary %lu MiB in %u B pages, standby "
			 "%lu MiB: set [vm] memory equal", (unsigned long)(m->ram_size >> 20),
			 m->page_size, (unsigned long)(rx->cfg.ram_size >> 20));
		return us_rx_refuse(rx, US_REFUSE_VM, -EINVAL, why);
	}
	if (m->disk_size != rx->cfg.disk_size) {
		snprintf(why, whylen, "disk sizes differ: primary %lu bytes, standby %lu: give the "
			 "standby an image of the same size", (unsigned long)m->disk_size,
			 (unsigned long)rx->cfg.disk_size);
		return us_rx_refuse(rx, US_REFUSE_VM, -EINVAL, why);
	}
	if (rx->cfg.keepalive_max_ms &&
	    (!m->keepalive_ms || m->keepalive_ms > rx->cfg.keepalive_max_ms)) {
		snprintf(why, whylen, "primary keepalive every %u ms, this standby needs <= %u "
			 "(decide = silence): set decide and silence_ms alike on both", m->keepalive_ms,
			 rx->cfg.keepalive_max_ms);
		return us_rx_refuse(rx, US_REFUSE_LIVENESS, -EINVAL, why);
	}
	if (strcmp(m->accel, rx->cfg.accel) != 0) {
		snprintf(why, whylen, "accelerators differ: primary %s, standby %s: set [vm] accel "
			 "alike on both hosts", m->accel, rx->cfg.accel);
		return us_rx_refuse(rx, US_REFUSE_ACCEL, -EINVAL, why);
	}
	return 0;
}

/* @return 1 if the primary continues from the epoch this replica holds. */
static int in_sync(const struct us_receiver *rx, const struct us_hello *m)
{
	return rx->st.committed != US_EPOCH_NONE && m->base_epoch == rx->st.committed &&
	       m->lineage != 0 && m->lineage == rx->lineage;
}

/* A sync is coming: it writes into the replica, which is torn until it commits. */
static void drop_committed(struct us_receiver *rx)
{
	if (rx->st.committed == US_EPOCH_NONE)
		return;
	us_log(LOG_WARNING, US_TAG_STANDBY, "a new sync replaces committed epoch %lu: this standby "
	       "cannot be promoted until the sync commits", (unsigned long)rx->st.committed);
	rx->st.committed = US_EPOCH_NONE;
	us_buf_clear(&rx->dev_committed);
}

void us_receiver_adopt(struct us_receiver *rx, uint64_t lineage, uint64_t epoch,
		       const void *devstate, size_t len)
{
	us_buf_clear(&rx->dev_committed);
	if (us_buf_append(&rx->dev_committed, devstate, len) < 0)
		return;	/* over the cap: stays without a committed epoch */
	rx->lineage = lineage;
	rx->st.committed = epoch;
}

static int on_hello(struct us_receiver *rx, const struct us_msg_hdr *h, const void *body,
		    char *why, size_t whylen)
{
	struct us_hello m;
	struct us_hello_ok ok;
	char out[64];
	int rc, sync;

	if (us_proto_hello_decode(body, h->len, &m, why, whylen) < 0)
		return us_rx_refuse(rx, US_REFUSE_PROTOCOL, -EBADMSG, why);
	rc = check_hello(rx, h, &m, why, whylen);
	if (rc < 0)
		return rc;
	sync = !in_sync(rx, &m);
	if (sync)
		drop_committed(rx);
	ok.committed = rx->st.committed;
	ok.staging_max = rx->cfg.staging_max;
	/* a sync of the same run that broke off: its pages so far are in the replica */
	if (!sync || m.lineage == 0 || m.lineage != rx->sync_lineage)
		rx->st.sync_pages = 0;
	ok.sync_pages = sync ? rx->st.sync_pages : 0;
	rx->sync_lineage = sync ? m.lineage : 0;
	rc = rx->ops.send(rx->opaque, US_MSG_HELLO_OK, 0, out, us_proto_hello_ok_encode(out, &ok));
	if (rc < 0)
		return rc;
	rx->state = RX_EPOCH;
	rx->expect = sync ? 0 : rx->st.committed + 1;
	rx->lineage = m.lineage;
	open_epoch(rx);
	if (sync)
		us_log(LOG_NOTICE, US_TAG_STANDBY, "primary for VM '%s' accepted; receiving the "
		       "initial sync", rx->vm_name);
	else
		us_log(LOG_NOTICE, US_TAG_STANDBY, "primary for VM '%s' accepted; it goes on from "
		       "epoch %lu, which this replica holds: no sync", rx->vm_name,
		       (unsigned long)rx->st.committed);
	return 0;
}

/* Every run of a PAGES body decodes and lies inside guest RAM; epoch 0 writes them. */
static int check_runs(struct us_receiver *rx, const struct us_msg_hdr *h, const void *body,
		      uint64_t *pages, char *why, size_t whylen)
{
	uint64_t npages = rx->cfg.ram_size / US_PROTO_PAGE_SIZE;
	struct us_pages m;
	size_t off = 0;
	int rc;

	*pages = 0;
	while ((rc = us_proto_pages_next(body, h->len, &off, &m, why, whylen)) > 0) {
		if (m.first >= npages || m.count > npages - m.first) {
			snprintf(why, whylen, "PAGES run %lu+%u lies outside guest RAM of %lu pages",
				 (unsigned long)m.first, m.count, (unsigned long)npages);
			return us_rx_refuse(rx, US_REFUSE_PROTOCOL, -ERANGE, why);
		}
		*pages += m.count;
	}
	if (rc < 0)
		return us_rx_refuse(rx, US_REFUSE_PROTOCOL, -EBADMSG, why);
	return 0;
}

/* Write the runs of @len bytes of PAGES bodies into the replica (checked when they came). */
static void write_runs(struct us_receiver *rx, const void *bodies, size_t len)
{
	struct us_pages m;
	size_t off = 0;

	while (us_proto_pages_next(bodies, len, &off, &m, NULL, 0) > 0)
		memcpy((char *)rx->cfg.replica + m.first * US_PROTO_PAGE_SIZE, m.data,
		       (size_t)m.count * US_PROTO_PAGE_SIZE);
}

static int on_pages(struct us_receiver *rx, const struct us_msg_hdr *h, const void *body,
		    char *why, size_t whylen)
{
	uint64_t count;
	int rc = check_runs(rx, h, body, &count, why, whylen);

	if (rc < 0)
		return rc;
	if (h->epoch == 0) { /* the initial sync: written at once (us_rx_stage sums the rest) */
		write_runs(rx, body, h->len);
		us_rx_sum(rx, body, h->len);
		rx->st.sync_pages += count;
	} else {
		rc = us_rx_stage(rx, &rx->pages, body, h->len);
		if (rc < 0) {
			snprintf(why, whylen, "epoch %lu exceeds the staging cap of %lu bytes; "
				 "raise staging_max or shorten epoch_ms",
				 (unsigned long)h->epoch, (unsigned long)rx->cfg.staging_max);
			return us_rx_refuse(rx, US_REFUSE_PROTOCOL, rc, why);
		}
	}
	rx->n_pages += count;
	rx->n_page_bytes += h->len;
	return 0;
}

static int on_devstate(struct us_receiver *rx, const struct us_msg_hdr *h, const void *body,
		       char *why, size_t whylen)
{
	int rc = us_rx_stage(rx, &rx->dev, body, h->len);

	if (rc < 0) {
		snprintf(why, whylen, "device state of epoch %lu exceeds the cap of %lu bytes",
			 (unsigned long)h->epoch, (unsigned long)rx->cfg.devstate_max);
		return us_rx_refuse(rx, US_REFUSE_PROTOCOL, rc, why);
	}
	return 0;
}

static void apply_staged(struct us_receiver *rx)
{
	if (rx->pages.len) /* nothing staged: data may be NULL, and NULL + 0 is undefined */
		write_runs(rx, rx->pages.data, rx->pages.len);
}

static int verify_end(struct us_receiver *rx, const struct us_msg_hdr *h,
		      const struct us_epoch_end *e, char *why, size_t whylen)
{
	uint64_t sum = us_xsum_digest(rx->sum);

	if (e->disk_writes != rx->n_disk || e->disk_bytes != rx->n_disk_bytes) {
		snprintf(why, whylen, "epoch %lu is incomplete: EPOCH_END announces %lu disk writes "
			 "(%lu bytes), received %lu (%lu)", (unsigned long)h->epoch,
			 (unsigned long)e->disk_writes, (unsigned long)e->disk_bytes,
			 (unsigned long)rx->n_disk, (unsigned long)rx->n_disk_bytes);
		return us_rx_refuse(rx, US_REFUSE_PROTOCOL, -EBADMSG, why);
	}
	if (e->pages != rx->n_pages || e->page_bytes != rx->n_page_bytes ||
	    e->devstate_bytes != rx->dev.len) {
		snprintf(why, whylen, "epoch %lu is incomplete: EPOCH_END announces %lu pages/%lu "
			 "device bytes, received %lu/%zu", (unsigned long)h->epoch,
			 (unsigned long)e->pages, (unsigned long)e->devstate_bytes,
			 (unsigned long)rx->n_pages, rx->dev.len);
		return us_rx_refuse(rx, US_REFUSE_PROTOCOL, -EBADMSG, why);
	}
	if (!rx->unsummed && e->checksum != sum) {
		snprintf(why, whylen, "epoch %lu fails its checksum (sent %016lx, computed %016lx)",
			 (unsigned long)h->epoch, (unsigned long)e->checksum, (unsigned long)sum);
		return us_rx_refuse(rx, US_REFUSE_PROTOCOL, -EBADMSG, why);
	}
	if (e->devstate_bytes == 0) {
		snprintf(why, whylen, "epoch %lu carries no device state", (unsigned long)h->epoch);
		return us_rx_refuse(rx, US_REFUSE_PROTOCOL, -EBADMSG, why);
	}
	return 0;
}

static int on_epoch_end(struct us_receiver *rx, const struct us_msg_hdr *h, const void *body,
			char *why, size_t whylen)
{
	struct us_epoch_end e;
	int rc;

	if (us_proto_epoch_end_decode(body, h->len, &e, why, whylen) < 0)
		return us_rx_refuse(rx, US_REFUSE_PROTOCOL, -EBADMSG, why);
	rc = verify_end(rx, h, &e, why, whylen);
	if (rc < 0)
		return rc;
	rc = rx->ops.send(rx->opaque, US_MSG_ACK, h->epoch, NULL, 0);
	if (rc < 0)
		return rc;
	apply_staged(rx);
	rc = us_rx_disk_apply_staged(rx);
	if (rc < 0) {
		/* acknowledged and lost: this replica can no longer take over */
		rx->st.disk_failed = 1;
		us_log(LOG_CRIT, US_TAG_STANDBY, "cannot write epoch %lu to the replica image: %s; "
		       "this standby must not take over", (unsigned long)h->epoch, strerror(-rc));
	}
	us_buf_swap(&rx->dev, &rx->dev_committed);
	if (h->epoch == 0)
		rx->sync_lineage = 0;	/* the sync is whole: nothing to go on from */
	rx->st.committed = h->epoch;
	rx->st.epochs++;
	rx->st.pages += rx->n_pages;
	rx->expect = h->epoch + 1;
	open_epoch(rx);
	if (rx->ops.committed)
		rx->ops.committed(rx->opaque, h->epoch);
	return 0;
}

static int check_sequence(struct us_receiver *rx, const struct us_msg_hdr *h,
			  char *why, size_t whylen)
{
	if (h->vm_id != rx->vm_id && h->type != US_MSG_HELLO) {
		snprintf(why, whylen, "%s for another VM (id %016lx)", us_proto_type_name(h->type),
			 (unsigned long)h->vm_id);
		return us_rx_refuse(rx, US_REFUSE_VM, -EINVAL, why);
	}
	if (rx->state == RX_HELLO && h->type != US_MSG_HELLO) {
		snprintf(why, whylen, "%s before HELLO", us_proto_type_name(h->type));
		return us_rx_refuse(rx, US_REFUSE_PROTOCOL, -EPROTO, why);
	}
	if (rx->state == RX_HELLO || h->type == US_MSG_KEEPALIVE)
		return 0;
	if (h->type != US_MSG_PAGES && h->type != US_MSG_PAGES_LZ4 &&
	    h->type != US_MSG_DEVSTATE && h->type != US_MSG_EPOCH_END && h->type != US_MSG_DISK) {
		snprintf(why, whylen, "unexpected %s from the primary", us_proto_type_name(h->type));
		return us_rx_refuse(rx, US_REFUSE_PROTOCOL, -EPROTO, why);
	}
	if (h->epoch != rx->expect) {
		snprintf(why, whylen, "%s of epoch %lu %s; expected epoch %lu",
			 us_proto_type_name(h->type), (unsigned long)h->epoch,
			 h->epoch < rx->expect ? "replays an old epoch" : "is from the future",
			 (unsigned long)rx->expect);
		return us_rx_refuse(rx, US_REFUSE_PROTOCOL, -EPROTO, why);
	}
	return 0;
}

typedef int (*rx_handler)(struct us_receiver *, const struct us_msg_hdr *, const void *,
			  char *, size_t);

static const rx_handler handlers[US_MSG_TYPE_MAX] = {
	[US_MSG_HELLO] = on_hello,
	[US_MSG_PAGES] = on_pages,
	[US_MSG_DEVSTATE] = on_devstate,
	[US_MSG_EPOCH_END] = on_epoch_end,
	[US_MSG_DISK] = us_rx_on_disk,
	[US_MSG_PAGES_LZ4] = us_rx_on_pages_lz4,
};

int us_receiver_input(struct us_receiver *rx, int hdr_rc, const struct us_msg_hdr *h,
		      const void *body, char *why, size_t whylen)
{
	int rc;

	if (hdr_rc == -EPROTONOSUPPORT) {
		snprintf(why, whylen, "primary speaks protocol version %u, this standby speaks %u: "
			 "run the same understudy release on both hosts", h->version, US_PROTO_VERSION);
		return us_rx_refuse(rx, US_REFUSE_VERSION, hdr_rc, why);
	}
	rc = check_sequence(rx, h, why, whylen);
	if (rc < 0 || h->type == US_MSG_KEEPALIVE)
		return rc;	/* a keepalive only proves the stream alive */
	rx->epoch_open = rx->state == RX_EPOCH;
	rx->st.receiving = rx->epoch_open ? h->epoch : US_EPOCH_NONE;
	rx->st.bytes += US_PROTO_HDR_SIZE + h->len;
	return handlers[h->type](rx, h, body, why, whylen);
}
