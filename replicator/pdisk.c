/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The primary's disk. QEMU's disk is an NBD client of the server started
 * here; the server's thread reports every write that reached the image to
 * the write log. The order of things:
 *
 *   HELLO_OK        the log starts recording (the guest has not run yet)
 *   initial sync    the whole image, read while the guest runs, as epoch 0
 *                   DISK messages after the RAM pages
 *   checkpoint n    QMP stop (QEMU drained its disk) ─▶ cut the log: the
 *                   epoch's writes, sent after its pages, before its device
 *                   state; a write that raced a block copy of the sync
 *                   reaches the standby after that copy, so it wins
 *   drained         the next cut frees the previous batch (the transport is
 *                   idle whenever a checkpoint starts)
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk/image.h"
#include "disk/nbd.h"
#include "replicator/log.h"
#include "replicator/pdisk.h"

#define SYNC_CHUNK US_PROTO_MAX_DISK_CHUNK
#define SYNC_CHUNKS 16 /* 16 MiB in flight */

static void on_wrote(void *opaque, enum us_nbd_change kind, uint64_t offset, uint64_t length,
		     const void *data)
{
	struct us_pdisk *d = opaque;

	if (us_wlog_add(d->wlog, kind == US_NBD_WRITE ? US_DISK_WRITE : US_DISK_ZEROES, offset,
			length, data) < 0)
		us_log(LOG_CRIT, US_TAG_PRIMARY,
		       "out of memory for the disk write log: the "
		       "replica's disk is no longer exact");
}

static const struct us_nbd_ops nbd_ops = { .wrote = on_wrote };

int us_pdisk_up(struct us_pdisk *d, const char *image, const char *run_dir, const char *vm,
		uint64_t log_max)
{
	int rc;

	memset(d, 0, sizeof(*d));
	if (!image || !image[0])
		return 0;
	rc = us_image_open(image, &d->img);
	if (rc < 0)
		return rc;
	d->wlog = us_wlog_new(log_max / 2, log_max);
	d->sync_buf = malloc((size_t)SYNC_CHUNK * SYNC_CHUNKS);
	snprintf(d->sock, sizeof(d->sock), "%s/%s-disk.sock", run_dir, vm);
	if (d->wlog && d->sync_buf)
		d->nbd = us_nbd_start(d->sock, "disk0", us_image_fd(d->img), us_image_size(d->img),
				      &nbd_ops, d);
	if (d->nbd)
		return 0;
	rc = -errno ?: -ENOMEM;
	us_log(LOG_CRIT, US_TAG_PRIMARY, "cannot serve the disk %s on %s: %s", image, d->sock,
	       strerror(-rc));
	us_pdisk_down(d);
	return rc;
}

void us_pdisk_down(struct us_pdisk *d)
{
	us_nbd_stop(d->nbd);
	d->nbd = NULL;
	if (d->wlog && d->batch.v)
		us_wlog_release(d->wlog, &d->batch);
	us_wlog_free(d->wlog);
	d->wlog = NULL;
	free(d->sync_buf);
	d->sync_buf = NULL;
	us_image_close(d->img);
	d->img = NULL;
}

int us_pdisk_on(const struct us_pdisk *d)
{
	return d->img != NULL;
}

uint64_t us_pdisk_size(const struct us_pdisk *d)
{
	return d->img ? us_image_size(d->img) : 0;
}

void us_pdisk_record(struct us_pdisk *d, int on)
{
	if (d->wlog)
		us_wlog_record(d->wlog, on);
}

void us_pdisk_unreplicated(struct us_pdisk *d)
{
	if (!d->wlog)
		return;
	us_wlog_record(d->wlog, 0);
	us_wlog_release(d->wlog, &d->batch);
}

void us_pdisk_cut(struct us_pdisk *d)
{
	if (!d->wlog)
		return;
	us_wlog_release(d->wlog, &d->batch);
	us_wlog_cut(d->wlog, &d->batch);
}

void us_pdisk_epoch_reset(struct us_pdisk *d)
{
	d->n_writes = d->n_bytes = 0;
}

/* Hash and count @len bytes at @off as the transport chunks them. */
static void account(struct us_pdisk *d, XXH3_state_t *sum, uint64_t off, uint64_t len,
		    uint32_t kind, const char *data)
{
	char desc[US_PROTO_DISK_DESC];
	uint64_t at, n;

	for (at = 0; at < len; at += n) {
		n = len - at < US_PROTO_MAX_DISK_CHUNK ? len - at : US_PROTO_MAX_DISK_CHUNK;
		us_proto_disk_desc_encode(desc, off + at, (uint32_t)n, kind);
		XXH3_64bits_update(sum, desc, sizeof(desc));
		d->n_bytes += sizeof(desc);
		if (kind == US_DISK_WRITE) {
			XXH3_64bits_update(sum, data + at, n);
			d->n_bytes += n;
		}
		d->n_writes++;
	}
	d->sent_bytes += kind == US_DISK_WRITE ? len : 0;
}

int us_pdisk_send(struct us_pdisk *d, struct us_transport *tx, uint64_t epoch, XXH3_state_t *sum)
{
	const struct us_wlog_entry *e;
	size_t i;
	int rc;

	for (i = 0; i < d->batch.n; i++) {
		e = &d->batch.v[i];
		rc = us_transport_send_disk(tx, epoch, e->offset, e->kind, e->data, e->length);
		if (rc < 0)
			return rc;
		account(d, sum, e->offset, e->length, e->kind, e->data);
	}
	return 0;
}

static int read_block(struct us_pdisk *d, char *buf, uint64_t off, size_t len)
{
	ssize_t n = pread(us_image_fd(d->img), buf, len, (off_t)off);

	if (n == (ssize_t)len)
		return 0;
	us_log(LOG_ERR, US_TAG_PRIMARY,
	       "cannot read the disk image at %lu for the initial "
	       "sync: %s",
	       (unsigned long)off, n < 0 ? strerror(errno) : "short read");
	return n < 0 ? -errno : -EIO;
}

static int all_zero(const char *p, size_t len)
{
	return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

/* One block of the initial sync: its bytes, or ZEROES for a block of zeroes. */
static int sync_block(struct us_pdisk *d, struct us_transport *tx, XXH3_state_t *sum, char *buf,
		      uint64_t len)
{
	uint32_t kind;
	int rc = read_block(d, buf, d->sync_next, len);

	if (rc < 0)
		return rc;
	kind = all_zero(buf, len) ? US_DISK_ZEROES : US_DISK_WRITE;
	rc = us_transport_send_disk(tx, 0, d->sync_next, kind, kind == US_DISK_WRITE ? buf : NULL,
				    len);
	if (rc < 0)
		return rc;
	account(d, sum, d->sync_next, len, kind, buf);
	d->sync_bytes += kind == US_DISK_WRITE ? len : 0;
	d->sync_next += len;
	return 0;
}

int us_pdisk_sync_step(struct us_pdisk *d, struct us_transport *tx, XXH3_state_t *sum)
{
	uint64_t size = us_pdisk_size(d), len;
	int i, rc;

	if (d->sync_next >= size)
		return 0;
	for (i = 0; i < SYNC_CHUNKS && d->sync_next < size; i++) {
		len = size - d->sync_next < SYNC_CHUNK ? size - d->sync_next : SYNC_CHUNK;
		rc = sync_block(d, tx, sum, d->sync_buf + (size_t)i * SYNC_CHUNK, len);
		if (rc < 0)
			return rc;
	}
	if (d->sync_next >= size)
		us_log(LOG_NOTICE, US_TAG_PRIMARY,
		       "initial sync of the disk: %lu MiB queued, %lu MiB "
		       "of it data (the rest zeroes)",
		       (unsigned long)(size >> 20), (unsigned long)(d->sync_bytes >> 20));
	return d->sync_next < size;
}

json_t *us_pdisk_status(struct us_pdisk *d)
{
	uint64_t open = 0, held = 0, waits = 0;

	us_wlog_stats(d->wlog, &open, &held, &waits);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "size", (json_int_t)us_pdisk_size(d),
			 "sync_bytes", (json_int_t)d->sync_bytes, "sent_bytes",
			 (json_int_t)d->sent_bytes, "log_open_bytes", (json_int_t)open,
			 "log_held_bytes", (json_int_t)held, "log_waits", (json_int_t)waits);
}
