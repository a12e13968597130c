/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The primary's disk. QEMU's disk is an NBD client of the server started
 * here; the server's thread reports every write that reached the image to
 * the write log. The order of things:
 *
 *   HELLO_OK        the log starts recording (the guest has not run yet)
 *   DISK_HASHES     the standby's SHA-256 of each 64 KiB block of its image
 *   initial sync    every block whose hash differs (a returning host's image
 *                   differs little), read while the guest runs, as epoch 0
 *                   DISK messages after the RAM pages
 *   checkpoint n    QMP stop (QEMU drained its disk) ─▶ cut the log: the
 *                   epoch's writes, sent after its pages, before its device
 *                   state; a write that raced a block copy of the sync
 *                   reaches the standby after that copy, so it wins
 *   drained         the batch is freed and a writer held by the cap goes on;
 *                   never later (at the next cut, say): that cut needs QMP
 *                   stop, whose drain would wait for the held writer; never
 *                   sooner either: a message queued between the cut and the
 *                   epoch's send (a SUSPEND) drains too, and the batch it
 *                   found cut but not queued is the epoch's, still to go
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk/blockhash.h"
#include "disk/image.h"
#include "disk/nbd.h"
#include "replicator/log.h"
#include "replicator/pdisk.h"

#define SYNC_BLOCKS 256 /* hash blocks in flight: 16 MiB */

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

/* The NBD server receives a write's payload straight into the log. */
static void *on_payload(void *opaque, uint64_t length)
{
	struct us_pdisk *d = opaque;

	return us_wlog_reserve(d->wlog, length);
}

static void on_unused(void *opaque, void *data)
{
	struct us_pdisk *d = opaque;

	us_wlog_unused(d->wlog, data);
}

static const struct us_nbd_ops nbd_ops = { .wrote = on_wrote,
					   .payload = on_payload,
					   .unused = on_unused };

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
	d->sync_buf = malloc((size_t)US_PROTO_HASH_BLOCK * SYNC_BLOCKS);
	d->peer_hashes = malloc(us_blockhash_blocks(us_image_size(d->img)) * US_PROTO_HASH_LEN);
	snprintf(d->sock, sizeof(d->sock), "%s/%s-disk.sock", run_dir, vm);
	if (d->wlog && d->sync_buf && d->peer_hashes)
		d->nbd = us_nbd_start(d->sock, "disk0", us_image_fd(d->img), us_image_size(d->img),
				      &nbd_ops, d);
	if (d->nbd) {
		us_pdisk_flusher_up(d);
		return 0;
	}
	rc = -errno ?: -ENOMEM;
	us_log(LOG_CRIT, US_TAG_PRIMARY, "cannot serve the disk %s on %s: %s", image, d->sock,
	       strerror(-rc));
	us_pdisk_down(d);
	return rc;
}

int us_pdisk_adopt(struct us_pdisk *d, struct us_image *img, struct us_nbd *nbd, const char *sock,
		   uint64_t log_max)
{
	memset(d, 0, sizeof(*d));
	if (!img)
		return 0;
	d->img = img;
	d->nbd = nbd;
	snprintf(d->sock, sizeof(d->sock), "%s", sock);
	d->wlog = us_wlog_new(log_max / 2, log_max);
	d->sync_buf = malloc((size_t)US_PROTO_HASH_BLOCK * SYNC_BLOCKS);
	d->peer_hashes = malloc(us_blockhash_blocks(us_image_size(d->img)) * US_PROTO_HASH_LEN);
	if (!d->wlog || !d->sync_buf || !d->peer_hashes) {
		us_log(LOG_CRIT, US_TAG_PRIMARY, "out of memory for the disk's write log");
		us_pdisk_down(d);
		return -ENOMEM;
	}
	us_nbd_set_ops(d->nbd, &nbd_ops, d);
	us_pdisk_flusher_up(d);
	return 0;
}

void us_pdisk_give(struct us_pdisk *d, struct us_image **img, struct us_nbd **nbd, char *sock,
		   size_t socklen)
{
	us_pdisk_flusher_down(d);
	*img = d->img;
	*nbd = d->nbd;
	snprintf(sock, socklen, "%s", d->sock);
	if (d->nbd)
		us_nbd_set_ops(d->nbd, NULL, NULL);
	d->img = NULL;
	d->nbd = NULL;
	us_pdisk_down(d); /* the write log and buffers; the image and server stay */
}

void us_pdisk_down(struct us_pdisk *d)
{
	us_pdisk_flusher_down(d);
	if (d->wlog) /* a write waiting for room goes on, and so can the server's lock */
		us_wlog_record(d->wlog, 0);
	if (d->nbd)
		us_nbd_set_ops(d->nbd, NULL, NULL); /* the log goes before the server */
	us_nbd_stop(d->nbd);
	d->nbd = NULL;
	if (d->wlog && d->batch.v)
		us_wlog_release(d->wlog, &d->batch);
	us_wlog_free(d->wlog);
	d->wlog = NULL;
	free(d->sync_buf);
	d->sync_buf = NULL;
	free(d->peer_hashes);
	d->peer_hashes = NULL;
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

void us_pdisk_drained(struct us_pdisk *d)
{
	if (d->wlog && d->batch.v && d->batch_queued)
		us_wlog_release(d->wlog, &d->batch);
}

void us_pdisk_cut(struct us_pdisk *d)
{
	if (!d->wlog)
		return;
	us_wlog_release(d->wlog, &d->batch);
	us_wlog_cut(d->wlog, &d->batch);
	d->batch_queued = 0;
}

void us_pdisk_epoch_reset(struct us_pdisk *d)
{
	d->n_writes = d->n_bytes = 0;
}

/* Hash (unless @sum is NULL: an authenticated link) and count @len bytes at @off as the
 * transport chunks them. */
static void account(struct us_pdisk *d, XXH3_state_t *sum, uint64_t off, uint64_t len,
		    uint32_t kind, const char *data)
{
	char desc[US_PROTO_DISK_DESC];
	uint64_t at, n;

	for (at = 0; at < len; at += n) {
		n = len - at < US_PROTO_MAX_DISK_CHUNK ? len - at : US_PROTO_MAX_DISK_CHUNK;
		us_proto_disk_desc_encode(desc, off + at, (uint32_t)n, kind);
		if (sum)
			XXH3_64bits_update(sum, desc, sizeof(desc));
		d->n_bytes += sizeof(desc);
		if (kind == US_DISK_WRITE) {
			if (sum)
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

	d->batch_queued = 1; /* the transport borrows it from here */
	for (i = 0; i < d->batch.n; i++) {
		e = &d->batch.v[i];
		rc = us_transport_send_disk(tx, epoch, e->offset, e->kind, e->data, e->length);
		if (rc < 0)
			return rc;
		account(d, sum, e->offset, e->length, e->kind, e->data);
	}
	return 0;
}

void us_pdisk_new_peer(struct us_pdisk *d)
{
	d->peer_got = 0;
	d->sync_next = d->sync_bytes = d->sync_skipped = 0;
	d->sync_last_pct = -10;
}

int us_pdisk_take_hashes(struct us_pdisk *d, const struct us_disk_hashes *m)
{
	uint64_t blocks = us_blockhash_blocks(us_pdisk_size(d));

	if (!d->img || m->first != d->peer_got || m->count > blocks - m->first)
		return -EBADMSG; /* in order, once each, inside the image */
	memcpy(d->peer_hashes + m->first * US_PROTO_HASH_LEN, m->hashes,
	       (size_t)m->count * US_PROTO_HASH_LEN);
	d->peer_got += m->count;
	return 0;
}

int us_pdisk_hashes_ready(const struct us_pdisk *d)
{
	return !d->img || d->peer_got == us_blockhash_blocks(us_pdisk_size(d));
}

static int all_zero(const char *p, size_t len)
{
	return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

/* Queue one block of the initial sync: its bytes, or ZEROES for zeroes. */
static int send_block(struct us_pdisk *d, struct us_transport *tx, XXH3_state_t *sum, uint64_t off,
		      const char *buf, uint64_t len)
{
	uint32_t kind = all_zero(buf, len) ? US_DISK_ZEROES : US_DISK_WRITE;
	int rc = us_transport_send_disk(tx, 0, off, kind, kind == US_DISK_WRITE ? buf : NULL, len);

	if (rc < 0)
		return rc;
	account(d, sum, off, len, kind, buf);
	d->sync_bytes += kind == US_DISK_WRITE ? len : 0;
	return 1;
}

/* One block: nothing if the standby holds it already. @return 1 if queued, 0, -errno. */
static int sync_block(struct us_pdisk *d, struct us_transport *tx, XXH3_state_t *sum, char *buf,
		      int64_t *len)
{
	uint64_t block = d->sync_next / US_PROTO_HASH_BLOCK;
	unsigned char hash[US_PROTO_HASH_LEN];

	*len = us_blockhash_read(us_image_fd(d->img), us_pdisk_size(d), block, buf, hash);
	if (*len < 0) {
		us_log(LOG_ERR, US_TAG_PRIMARY,
		       "cannot read the disk image at %lu for the initial "
		       "sync: %s",
		       (unsigned long)d->sync_next, strerror((int)-*len));
		return (int)*len;
	}
	if (memcmp(hash, d->peer_hashes + block * US_PROTO_HASH_LEN, sizeof(hash)) != 0)
		return send_block(d, tx, sum, d->sync_next, buf, *len);
	d->sync_skipped += *len;
	return 0;
}

/*
 * Up to SYNC_BLOCKS blocks. A step that found every block on the standby
 * already sends its last one anyway (1/256 of what it skipped): the stream
 * must not fall silent, or the standby's liveness check would end it, and
 * the next step is driven by this one's drain.
 */
/* Every tenth of the image, and the end, in the log. */
static void sync_progress(struct us_pdisk *d, uint64_t size)
{
	int pct = (int)(d->sync_next * 100 / size);

	if (pct / 10 == d->sync_last_pct / 10 && pct != 100)
		return;
	d->sync_last_pct = pct;
	us_log(LOG_NOTICE, US_TAG_PRIMARY,
	       "initial sync of the disk: %3d%% (%lu of %lu MiB compared; %lu KiB sent, %lu MiB "
	       "already on the standby)",
	       pct, (unsigned long)(d->sync_next >> 20), (unsigned long)(size >> 20),
	       (unsigned long)(d->sync_bytes >> 10), (unsigned long)(d->sync_skipped >> 20));
}

int us_pdisk_sync_step(struct us_pdisk *d, struct us_transport *tx, XXH3_state_t *sum)
{
	uint64_t size = us_pdisk_size(d), last = 0;
	int i, rc, queued = 0;
	int64_t len = 0;
	char *buf = d->sync_buf;

	if (d->sync_next >= size)
		return 0;
	for (i = 0; i < SYNC_BLOCKS && d->sync_next < size; i++) {
		buf = d->sync_buf + (size_t)i * US_PROTO_HASH_BLOCK;
		rc = sync_block(d, tx, sum, buf, &len);
		if (rc < 0)
			return rc;
		queued += rc;
		last = d->sync_next;
		d->sync_next += len;
	}
	if (!queued && send_block(d, tx, sum, last, buf, len) < 0)
		return -EIO;
	sync_progress(d, size);
	return d->sync_next < size;
}

void us_pdisk_note_early(struct us_pdisk *d, int hard, unsigned long epoch, uint64_t now_ms)
{
	char tail[64];
	uint64_t more;

	d->early[!!hard]++;
	d->early_unlogged++;
	if (d->early_log_ms && now_ms - d->early_log_ms < US_PDISK_EARLY_LOG_MS)
		return;
	more = d->early_unlogged - 1;
	if (more)
		snprintf(tail, sizeof(tail), "%llu more since the last such line",
			 (unsigned long long)more);
	else
		snprintf(tail, sizeof(tail), "logged at most every %d s; status counts them",
			 US_PDISK_EARLY_LOG_MS / 1000);
	us_log(LOG_INFO, US_TAG_PRIMARY,
	       "disk writes of epoch %lu passed %s (%s of disk_log_max): checkpoint now (%s)",
	       epoch, hard ? "the hard mark" : "the high-water mark", hard ? "3/4" : "half", tail);
	d->early_unlogged = 0;
	d->early_log_ms = now_ms;
}

json_t *us_pdisk_status(struct us_pdisk *d)
{
	uint64_t open = 0, held = 0, waits = 0;

	us_wlog_stats(d->wlog, &open, &held, &waits);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "size",
			 (json_int_t)us_pdisk_size(d), "sync_bytes", (json_int_t)d->sync_bytes,
			 "sync_skipped_bytes", (json_int_t)d->sync_skipped, "sent_bytes",
			 (json_int_t)d->sent_bytes, "log_open_bytes", (json_int_t)open,
			 "log_held_bytes", (json_int_t)held, "log_waits", (json_int_t)waits,
			 "early_checkpoints", (json_int_t)(d->early[0] + d->early[1]),
			 "early_at_hard_mark", (json_int_t)d->early[1], "flushes_deferred",
			 (json_int_t)d->flushes_deferred);
}
