/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One checkpoint on the primary, as a chain of callbacks on the loop:
 *
 *   timer ─▶ QMP stop ─▶ migrate (device state, runs in QEMU)
 *                       ├ meanwhile: PAGEMAP_SCAN + re-arm, copy dirty pages
 *                       └ completed + postmigrate ─▶ queue the epoch
 *                                                  ─▶ QMP cont ─▶ next timer
 *
 * The guest is paused from "stop" to "cont" only; the transfer overlaps the
 * next epoch. A new checkpoint waits while the previous one is still being
 * sent or too many epochs are unacknowledged (the bounded pipeline).
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>

#include "replicator/log.h"
#include "replicator/pace.h"
#include "replicator/primary_int.h"

uint64_t us_epoch_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void on_timer(void *data)
{
	us_epoch_start(data);
}

void us_epoch_schedule(struct us_primary *p, uint64_t delay_ms)
{
	qb_loop_timer_add(p->loop, QB_LOOP_HIGH, delay_ms * 1000000ULL, p, on_timer, &p->timer);
}

static void fatal(struct us_primary *p, const char *step, const char *err)
{
	us_log(LOG_CRIT, US_TAG_PRIMARY, "checkpoint of epoch %lu failed at %s: %s; stopping",
	       (unsigned long)p->epoch, step, err);
	p->exit_rc = -EIO;
	qb_loop_stop(p->loop);
}

uint64_t us_epoch_inflight(const struct us_primary *p)
{
	return p->acked == US_EPOCH_NONE ? p->epoch : p->epoch - p->acked - 1;
}

/*
 * The send buffer: anonymous memory, asked for on huge pages and faulted in
 * when it grows (a fault per 4 KiB page in the pause cost more than the copy
 * on this machine, see bench/pagecopy), and kept for the next epochs.
 */
static int grow_sendbuf(struct us_primary *p, size_t bytes)
{
	size_t len = 2 * p->sendbuf_cap;
	void *n;

	if (p->staging_max && len > p->staging_max)
		len = p->staging_max;	/* doubling stays under the standby's cap */
	if (len < bytes)
		len = bytes;
	len = (len + SENDBUF_ALIGN - 1) & ~(size_t)(SENDBUF_ALIGN - 1);
	n = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (n == MAP_FAILED)
		return -ENOMEM;
	madvise(n, len, MADV_HUGEPAGE);	/* best effort: THP may be off */
	madvise(n, len, MADV_POPULATE_WRITE);
	us_epoch_free_sendbuf(p);
	p->sendbuf = n;
	p->sendbuf_cap = len;
	return 0;
}

void us_epoch_free_sendbuf(struct us_primary *p)
{
	if (p->sendbuf)
		munmap(p->sendbuf, p->sendbuf_cap);
	p->sendbuf = NULL;
	p->sendbuf_cap = 0;
}

int us_epoch_reserve(struct us_primary *p, uint64_t pages, size_t chunks)
{
	size_t bytes = pages * US_PROTO_PAGE_SIZE + chunks * US_PROTO_PAGES_DESC;
	void *n;

	if (bytes > p->sendbuf_cap && grow_sendbuf(p, bytes) < 0)
		return -ENOMEM;
	if (chunks > p->chunks_cap) {
		n = realloc(p->chunks, chunks * sizeof(*p->chunks));
		if (!n)
			return -ENOMEM;
		p->chunks = n;
		p->chunks_cap = chunks;
	}
	return 0;
}

static size_t count_chunks(const struct us_runs *r)
{
	size_t i, n = 0;

	for (i = 0; i < r->n; i++)
		n += (r->v[i].count + US_PROTO_MAX_RUN - 1) / US_PROTO_MAX_RUN;
	return n;
}

/* Copy a chunk of pages into the send buffer: the only work of the pause. */
static void copy_chunk(struct us_primary *p, uint64_t first, uint32_t count, size_t off)
{
	size_t len = (size_t)count * US_PROTO_PAGE_SIZE;

	memcpy(p->sendbuf + off, (char *)p->ram.map + first * US_PROTO_PAGE_SIZE, len);
	p->chunks[p->n_chunks++] = (struct chunk){ first, count, off };
}

/* Add a staged chunk to the epoch's checksum, as the receiver will see it. */
static void hash_chunk(struct us_primary *p, const struct chunk *c)
{
	char desc[US_PROTO_PAGES_DESC];

	if (p->unsummed) /* an authenticated link checks every byte already */
		return;
	us_proto_pages_desc_encode(desc, c->first, c->count);
	XXH3_64bits_update(p->sum, desc, sizeof(desc));
	XXH3_64bits_update(p->sum, p->sendbuf + c->off, (size_t)c->count * US_PROTO_PAGE_SIZE);
}

/* The initial sync's pages: sent whole, counted in epoch 0. */
void us_epoch_stage_chunk(struct us_primary *p, uint64_t first, uint32_t count, size_t off)
{
	copy_chunk(p, first, count, off);
	hash_chunk(p, &p->chunks[p->n_chunks - 1]);
	p->n_pages += count;
	p->n_page_bytes += US_PROTO_PAGES_DESC + (size_t)count * US_PROTO_PAGE_SIZE;
}

/* Below this many pages the copy stays on the loop's thread: waking the
 * others would cost more than it saves. */
#define COPY_SPLIT_PAGES 1024

/* One span per chunk: its pages, contiguous in guest RAM and in the send buffer. */
static int copy_spans(struct us_primary *p)
{
	size_t i;

	if (p->n_chunks > p->spans_cap) {
		struct us_copy_span *n = realloc(p->spans, p->n_chunks * sizeof(*n));

		if (!n)
			return -ENOMEM;
		p->spans = n;
		p->spans_cap = p->n_chunks;
	}
	for (i = 0; i < p->n_chunks; i++) {
		const struct chunk *c = &p->chunks[i];

		p->spans[i] = (struct us_copy_span){
			p->sendbuf + c->off, (char *)p->ram.map + c->first * US_PROTO_PAGE_SIZE,
			(size_t)c->count * US_PROTO_PAGE_SIZE
		};
	}
	us_copier_run(p->runs.pages >= COPY_SPLIT_PAGES ? p->copier : NULL, p->spans, p->n_chunks);
	return 0;
}

/*
 * Copy the dirty pages out of guest RAM while the guest is stopped (split
 * across the copier's threads when there are many); their checksum is
 * taken from the copy after "cont" (queue_epoch). Each chunk of up to
 * US_PROTO_MAX_RUN pages gets its PAGES descriptor just before its pages in
 * the send buffer, so that consecutive chunks go out as one message.
 */
static int copy_pages(struct us_primary *p)
{
	size_t i, nchunks = count_chunks(&p->runs), off = 0;
	uint64_t first, left;
	uint32_t n;

	if (p->runs.pages * (US_PROTO_PAGE_SIZE + US_PROTO_PAGES_DESC) > p->staging_max)
		return -ENOBUFS;
	if (us_epoch_reserve(p, p->runs.pages, nchunks) < 0)
		return -ENOMEM;
	p->n_chunks = 0;
	for (i = 0; i < p->runs.n; i++) {
		for (first = p->runs.v[i].first, left = p->runs.v[i].count; left; left -= n) {
			n = left > US_PROTO_MAX_RUN ? US_PROTO_MAX_RUN : left;
			us_proto_pages_desc_encode(p->sendbuf + off, first, n);
			off += US_PROTO_PAGES_DESC;
			p->chunks[p->n_chunks++] = (struct chunk){ first, n, off };
			off += (size_t)n * US_PROTO_PAGE_SIZE;
			first += n;
		}
	}
	return copy_spans(p);
}

/* Send pages [first, first + count) of a staged chunk, at @off in the send buffer. */
static int send_run(struct us_primary *p, uint64_t first, uint32_t count, size_t off)
{
	struct chunk c = { first, count, off };
	int rc;

	if (p->cfg->compress_lz4) {
		rc = us_epoch_send_lz4(p, first, count, p->sendbuf + off);
		if (rc != 0)
			return rc < 0 ? rc : 0;
	}
	p->n_pages += count;
	p->n_page_bytes += US_PROTO_PAGES_DESC + (size_t)count * US_PROTO_PAGE_SIZE;
	hash_chunk(p, &c);
	return us_transport_send_pages(p->tx, p->epoch, first, count, p->sendbuf + off);
}

/* Consecutive chunks, descriptors and pages, that leave as one PAGES message. */
struct batch {
	size_t off, len;	/* in the send buffer */
	uint32_t pages;
};

static int flush_batch(struct us_primary *p, struct batch *b)
{
	const char *body = p->sendbuf + b->off;
	size_t len = b->len;

	if (!len)
		return 0;
	if (!p->unsummed)
		XXH3_64bits_update(p->sum, body, len);
	p->n_pages += b->pages;
	p->n_page_bytes += len;
	b->len = 0;
	b->pages = 0;
	return us_transport_send_page_runs(p->tx, p->epoch, body, len);
}

/* Add a chunk, with the descriptor before it, to the batch; send the batch when full. */
static int batch_chunk(struct us_primary *p, struct batch *b, const struct chunk *c)
{
	size_t start = c->off - US_PROTO_PAGES_DESC;
	int rc = 0;

	if (b->len && (b->off + b->len != start || b->pages + c->count > US_PROTO_MAX_RUN))
		rc = flush_batch(p, b);
	if (!b->len)
		b->off = start;
	b->len += US_PROTO_PAGES_DESC + (size_t)c->count * US_PROTO_PAGE_SIZE;
	b->pages += c->count;
	return rc;
}

/* Mark in @same the chunk's pages whose content is as last sent. @return how many. */
static uint32_t mark_unchanged(struct us_primary *p, const struct chunk *c, uint64_t *same)
{
	uint32_t i, n = 0;

	memset(same, 0, US_PROTO_MAX_RUN / 8);
	if (!p->sent.pages)
		return 0;
	for (i = 0; i < c->count; i++) {
		const char *page = p->sendbuf + c->off + (size_t)i * US_PROTO_PAGE_SIZE;

		if (us_pagehash_unchanged(&p->sent, c->first + i, page)) {
			same[i / 64] |= 1ull << (i % 64);
			n++;
		}
	}
	p->unchanged_pages += n;
	return n;
}

/*
 * Send a staged chunk, leaving out the pages whose content is as it was
 * last sent (skip_unchanged): the standby holds them already, since epochs
 * apply in order and a lost epoch ends the session (the table is
 * forgotten at the next sync). A chunk sent whole joins the batch; the
 * rest of one with pages left out go as runs of consecutive pages.
 */
static int send_chunk(struct us_primary *p, struct batch *b, const struct chunk *c)
{
	uint64_t same[US_PROTO_MAX_RUN / 64];
	uint32_t i, start = 0;
	int rc;

	if (!mark_unchanged(p, c, same) && !p->cfg->compress_lz4)
		return batch_chunk(p, b, c);
	rc = flush_batch(p, b);
	for (i = 0; i < c->count && rc == 0; i++) {
		if (!(same[i / 64] >> (i % 64) & 1))
			continue;
		if (i > start)
			rc = send_run(p, c->first + start, i - start,
				      c->off + (size_t)start * US_PROTO_PAGE_SIZE);
		start = i + 1;
	}
	if (rc == 0 && c->count > start)
		rc = send_run(p, c->first + start, c->count - start,
			      c->off + (size_t)start * US_PROTO_PAGE_SIZE);
	return rc;
}

/* On the wire, as in the checksum: pages, disk writes, device state. */
static int queue_epoch(struct us_primary *p, const void *dev, size_t dev_len)
{
	struct us_epoch_end e = { .epoch = p->epoch, .devstate_bytes = dev_len };
	struct batch b = { 0 };
	size_t i;
	int rc = 0;

	if (p->cfg->skip_unchanged && !p->sent.pages && !p->sent_failed &&
	    (p->sent_failed = us_pagehash_init(&p->sent, p->ram.size / US_PROTO_PAGE_SIZE) < 0))
		us_log(LOG_WARNING, US_TAG_PRIMARY, "skip_unchanged: no memory for the table of "
		       "page hashes; every dirty page is sent");
	for (i = 0; i < p->n_chunks && rc == 0; i++)
		rc = send_chunk(p, &b, &p->chunks[i]);
	if (rc == 0)
		rc = flush_batch(p, &b);
	e.pages = p->n_pages;
	e.page_bytes = p->n_page_bytes;
	if (rc == 0)
		rc = us_pdisk_send(&p->disk, p->tx, p->epoch, p->unsummed ? NULL : p->sum);
	e.disk_writes = p->disk.n_writes;
	e.disk_bytes = p->disk.n_bytes;
	if (!p->unsummed) {
		XXH3_64bits_update(p->sum, dev, dev_len);
		e.checksum = XXH3_64bits_digest(p->sum);
	}
	if (rc == 0)
		rc = us_transport_send_devstate(p->tx, p->epoch, dev, dev_len);
	if (rc == 0)
		rc = us_transport_end_epoch(p->tx, &e);
	return rc;
}

/* epoch_ms = auto: say when the share bound cannot be kept, and when it can again. */
static void note_len(struct us_primary *p, unsigned prev_ms, unsigned len_ms)
{
	const struct us_epochlen *el = &p->len;
	unsigned pm = us_epochlen_share_permille(el);

	if (el->fixed_ms || (prev_ms == el->max_ms) == (len_ms == el->max_ms))
		return;
	if (len_ms == el->max_ms)
		us_log(LOG_WARNING, US_TAG_PRIMARY, "epoch_ms = auto: a %.1f ms pause needs epochs "
		       "longer than epoch_ms_max (%u ms) to keep the guest paused under %u%% of "
		       "the time; it is paused %u.%u%% now (raise epoch_ms_max or pause_share)",
		       el->pause_us / 1000.0, el->max_ms, el->share_pct, pm / 10, pm % 10);
	else
		us_log(LOG_NOTICE, US_TAG_PRIMARY, "epoch_ms = auto: epochs of %u ms keep the "
		       "guest paused under %u%% of the time again", len_ms, el->share_pct);
}

static void finish_epoch(struct us_primary *p, const void *buf, size_t len);

static void on_cont(void *opaque, json_t *ret, const char *err)
{
	struct us_primary *p = opaque;
	struct epoch_times *t = &p->hist[p->cur.epoch % 256];
	uint64_t now_us = us_epoch_now_us(), pause_us = now_us - p->cur.start_us;
	unsigned len_ms, prev_ms = p->len.cur_ms;

	if (p->fin.pending) {
		p->fin.pending = 0;
		finish_epoch(p, p->fin.dev, p->fin.dev_len);
	}
	if (err) {
		fatal(p, "cont", err);
		return;
	}
	t->cont_us = now_us - p->cur.cont_us;
	len_ms = us_epochlen_next(&p->len, p->cur.start_us, pause_us);
	note_len(p, prev_ms, len_ms);
	t->resumed = 1;
	us_primary_stats(p, t);
	if (p->phase != PH_CHECKPOINT)
		return;
	p->phase = p->tx ? PH_IDLE : p->seeking ? PH_CONNECTING : PH_DEGRADED;
	if (!p->tx)
		return;
	p->pace_ready_ms = now_us / 1000 + us_pace_run_ms(len_ms, pause_us);
	us_epoch_schedule(p, us_pace_delay_ms(p->cur.start_ms, us_epoch_now_us() / 1000, len_ms,
					      pause_us));
}

static void send_cont(struct us_primary *p)
{
	p->cur.cont_us = us_epoch_now_us();
	if (us_qmp_send(p->qmp, "cont", NULL, on_cont, p) < 0)
		fatal(p, "cont", "QMP connection lost");
}

static void finish_epoch(struct us_primary *p, const void *buf, size_t len)
{
	uint64_t t = us_epoch_now_us();
	int rc;

	p->cur.dev_bytes = len;
	if (p->tx) {
		rc = queue_epoch(p, buf, len);
		if (rc == 0 && p->seeking)
			p->seek_sent = 1;	/* the standby may commit it now */
		p->ram_sent_bytes += p->n_page_bytes;
		if (p->epoch == 0)
			p->sync_ram_bytes = p->n_page_bytes;
		if (rc < 0)
			us_primary_lost_standby(p, "cannot queue the epoch for sending");
	}
	p->cur.pages = p->tx ? p->n_pages : p->runs.pages; /* degraded: what was copied */
	us_primary_resume_sized(p, p->cur.epoch, p->n_page_bytes, p->disk.n_bytes);
	p->cur.send_us = us_epoch_now_us() - t;
	p->cur.sent_ms = us_epoch_now_us() / 1000;
	p->hist[p->cur.epoch % 256] = p->cur;
	us_primary_epoch_sent(p);
	p->epoch++;
}

/* A switchover, a demote or `understudy pause` keeps the guest stopped. */
static int holds_guest(const struct us_primary *p)
{
	return p->switch_wanted || p->demoted || p->pause_wanted;
}

/* The epoch's end with the guest held: as before, nothing races the send. */
static void finish_held(struct us_primary *p, const void *buf, size_t len)
{
	finish_epoch(p, buf, len);
	if (us_primary_switch_hold(p, buf, len))
		return;	/* the final epoch of a switchover: the guest stays stopped */
	if (p->demoted) { /* failover/demote.c stopped the guest meanwhile */
		p->phase = p->tx ? PH_IDLE : p->seeking ? PH_CONNECTING : PH_DEGRADED;
		return;
	}
	if (p->pause_wanted && p->tx) {
		p->phase = PH_PAUSED;
		us_log(LOG_NOTICE, US_TAG_PRIMARY, "guest held stopped at epoch %lu",
		       (unsigned long)(p->epoch - 1));
		return;
	}
	send_cont(p);
}

/*
 * Device state is in: the guest may run again. "cont" goes first; the
 * checksum, the channel's tags and the queueing of the epoch, from the copy
 * made in the pause, wait for its answer (on_cont). Run beside QEMU's resume
 * they delayed it: the sender's and the standby's threads woke with the
 * checksum and took the cores QEMU needed to answer "cont" (bench/pause.sh
 * "vm paused", QEMU's own STOP to RESUME, grew by ~3 ms at 2,000 dirty pages
 * on this 2-core machine; on a host with cores to spare it costs the ACK
 * the round trip of "cont", about a millisecond).
 */
static void on_devstate(void *opaque, int rc, const void *buf, size_t len)
{
	struct us_primary *p = opaque;

	p->cur.dev_us = us_epoch_now_us() - p->cur.dev_us;
	if (rc < 0) {
		fatal(p, "device state", strerror(-rc));
		return;
	}
	if (holds_guest(p)) {
		finish_held(p, buf, len);
		return;
	}
	p->fin.dev = buf;
	p->fin.dev_len = len;
	p->fin.pending = 1;
	send_cont(p);
}

/* The guest's output waits for ACKs (not degraded, seeking or suspended). */
static int output_held(const struct us_primary *p)
{
	return p->relay && us_relay_held(p->relay);
}

static void on_stopped(void *opaque, json_t *ret, const char *err)
{
	struct us_primary *p = opaque;
	uint64_t t;
	int rc;

	if (err) {
		fatal(p, "stop", err);
		return;
	}
	t = us_epoch_now_us();
	p->cur.stop_us = t - p->cur.stop_us;
	us_primary_seek_cut(p);			/* a sync's epoch 0: hold output from here */
	if (p->relay)
		us_relay_seal(p->relay, p->epoch);	/* output so far is epoch n's */
	us_pdisk_cut(&p->disk);			/* writes so far are epoch n's: stop drained them */
	us_pdisk_stopped(&p->disk, p->epoch);	/* and its flush, if deferred, goes on meanwhile */
	if (!output_held(p) && us_primary_settle_output(p) < 0)
		return;		/* the output stopped being held during the stop: pay now */
	p->disk_deferred = 0;
	us_primary_watch_disk(p);
	rc = us_devstate_capture(p->dev, on_devstate, p);
	if (rc < 0) {
		fatal(p, "migrate", strerror(-rc));
		return;
	}
	if (p->epoch > 0) {
		XXH3_64bits_reset(p->sum);
		p->n_pages = p->n_page_bytes = 0;
		us_pdisk_epoch_reset(&p->disk);
	}
	us_runs_clear(&p->runs);
	rc = us_dirty_scan(p->dirty, &p->runs);
	p->cur.scan_us = us_epoch_now_us() - t;
	t = us_epoch_now_us();
	if (rc == 0)
		rc = copy_pages(p);
	p->cur.copy_us = us_epoch_now_us() - t;
	p->cur.dev_us = us_epoch_now_us();
	if (rc == -ENOBUFS)
		us_log(LOG_ERR, US_TAG_PRIMARY, "epoch %lu dirtied %lu pages, more than the standby's "
		       "staging cap of %lu bytes: raise staging_max on the standby",
		       (unsigned long)p->epoch, (unsigned long)p->runs.pages,
		       (unsigned long)p->staging_max);
	if (rc < 0)
		fatal(p, "dirty pages", strerror(-rc));
}

void us_epoch_start(struct us_primary *p)
{
	if (p->phase != PH_IDLE && p->phase != PH_SYNC)
		return;
	if (p->suspended || p->demoted)
		return;	/* failover/suspend.c, demote.c: no epochs until resumed */
	if (!p->tx)
		return;
	if (us_transport_busy(p->tx) || us_epoch_inflight(p) >= PRIMARY_MAX_INFLIGHT) {
		p->due = 1;
		return;
	}
	p->due = 0;
	p->phase = PH_CHECKPOINT;
	memset(&p->cur, 0, sizeof(p->cur));
	p->vm_stop_us = 0;
	p->cur.epoch = p->epoch;
	p->cur.start_us = us_epoch_now_us();
	p->cur.start_ms = p->cur.start_us / 1000;
	p->cur.stop_us = p->cur.start_us;
	us_pdisk_stopping(&p->disk, output_held(p));
	if (us_qmp_send(p->qmp, "stop", NULL, on_stopped, p) < 0)
		fatal(p, "stop", "QMP connection lost");
}

void us_epoch_drained(struct us_primary *p)
{
	if (p->due)
		us_epoch_start(p);
}
