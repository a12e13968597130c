/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The write log (see wlog.h). One mutex guards it; the NBD thread appends,
 * the main thread cuts and releases. The high-water signal is an eventfd
 * the main loop polls; it is set when the open epoch crosses the mark and
 * cleared at the cut. Back-pressure waits on a condition variable that a
 * release signals, and only while released batches can free room: the open
 * epoch alone never makes a writer wait, since its cut needs QMP `stop` to
 * finish, and `stop` waits for this very write's reply.
 */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "disk/segpool.h"
#include "disk/wlog.h"
#include "replicator/proto.h"

#define SEG_BYTES (4u << 20) /* the copies' memory, in pieces of these */

struct us_wlog {
	pthread_mutex_t lock;
	pthread_cond_t room;	   /* signalled by a release */
	struct us_wlog_batch open; /* the epoch being built */
	size_t alloc;		   /* entries allocated in @open */
	uint64_t high_water, cap;
	uint64_t mark; /* what signals now: high_water, or hard once escalated */
	uint64_t held; /* bytes of cut batches not yet released */
	uint64_t waits;
	int recording, failed, signalled;
	int efd;
	struct us_segpool *mem; /* the copies of written data */
	struct {		/* us_wlog_reserve's piece, not yet in an entry */
		char *data;
		uint64_t length;
		struct us_seg *seg;
	} lent;
};

struct us_wlog *us_wlog_new(uint64_t high_water, uint64_t cap)
{
	struct us_wlog *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->mem = us_segpool_new(SEG_BYTES, cap + 2 * SEG_BYTES);
	l->efd = l->mem ? eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) : -1;
	if (l->efd < 0) {
		us_segpool_free(l->mem);
		free(l);
		return NULL;
	}
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->room, NULL);
	l->high_water = high_water;
	l->mark = high_water;
	l->cap = cap;
	return l;
}

/* Locked. Give the entries' data back to the pool and free the entries. */
static void free_entries(struct us_wlog *l, struct us_wlog_batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (b->v[i].seg)
			us_segpool_put(l->mem, b->v[i].seg);
	free(b->v);
	memset(b, 0, sizeof(*b));
}

/* Locked. The reserved piece goes back to the pool, if it is still out. */
static void give_back(struct us_wlog *l)
{
	if (!l->lent.seg)
		return;
	us_segpool_put(l->mem, l->lent.seg);
	memset(&l->lent, 0, sizeof(l->lent));
	if (!l->recording)
		us_segpool_trim(l->mem);
}

void us_wlog_free(struct us_wlog *l)
{
	if (!l)
		return;
	give_back(l);
	free_entries(l, &l->open);
	us_segpool_free(l->mem);
	close(l->efd);
	pthread_cond_destroy(&l->room);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

/* Locked. Drop the open epoch's writes. */
static void drop_open(struct us_wlog *l)
{
	free_entries(l, &l->open);
	l->alloc = 0;
}

void us_wlog_record(struct us_wlog *l, int on)
{
	pthread_mutex_lock(&l->lock);
	if (on && !l->recording) /* the first epoch's writes copy into warm memory */
		us_segpool_prefill(l->mem, l->high_water);
	l->recording = on;
	if (!on) {
		drop_open(l);
		us_segpool_trim(l->mem); /* and what cut batches hold, at their release */
	}
	l->failed = 0;
	pthread_cond_broadcast(&l->room);
	pthread_mutex_unlock(&l->lock);
}

/* Locked. Wait while earlier batches hold the room a write needs. */
static void wait_room(struct us_wlog *l, uint64_t len)
{
	int waited = 0;

	while (l->recording && l->held && l->held + l->open.bytes + len > l->cap) {
		waited = 1;
		pthread_cond_wait(&l->room, &l->lock);
	}
	l->waits += waited;
}

/* Locked. Append one entry; -ENOMEM leaves the log unchanged. */
static int append(struct us_wlog *l, uint32_t kind, uint64_t offset, uint64_t length,
		  const void *data)
{
	struct us_wlog_entry e = { .offset = offset, .length = length, .kind = kind };
	struct us_wlog_entry *v;

	if (l->open.n == l->alloc) {
		v = realloc(l->open.v, (l->alloc * 2 + 64) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->open.v = v;
		l->alloc = l->alloc * 2 + 64;
	}
	if (kind == US_DISK_WRITE && l->lent.seg && data == l->lent.data &&
	    length == l->lent.length) {
		e.data = l->lent.data; /* received in place: nothing to copy */
		e.seg = l->lent.seg;
		memset(&l->lent, 0, sizeof(l->lent));
	} else if (kind == US_DISK_WRITE) {
		e.data = us_segpool_get(l->mem, length, &e.seg);
		if (!e.data)
			return -ENOMEM;
		memcpy(e.data, data, length);
	}
	l->open.bytes += kind == US_DISK_WRITE ? length : 0;
	l->open.v[l->open.n++] = e;
	return 0;
}

static void signal_high_water(struct us_wlog *l)
{
	uint64_t one = 1;

	if (l->signalled || l->open.bytes < l->mark)
		return;
	l->signalled = 1;
	if (write(l->efd, &one, sizeof(one)) < 0)
		l->signalled = 0; /* counter full: it is readable anyway */
}

/* lock held. The high-water fd no longer readable (a cut, or a new mark). */
static void unsignal_high_water(struct us_wlog *l)
{
	uint64_t v;

	if (l->signalled && read(l->efd, &v, sizeof(v)) == sizeof(v))
		l->signalled = 0;
}

int us_wlog_add(struct us_wlog *l, uint32_t kind, uint64_t offset, uint64_t length,
		const void *data)
{
	int rc = 0;

	pthread_mutex_lock(&l->lock);
	if (l->recording)
		wait_room(l, kind == US_DISK_WRITE ? length : 0);
	if (l->recording) {
		rc = append(l, kind, offset, length, data);
		if (rc < 0) {
			l->failed = 1;
			l->recording = 0;
			drop_open(l);
		}
		signal_high_water(l);
	}
	give_back(l); /* reserved but not taken: not recording, or no memory */
	pthread_mutex_unlock(&l->lock);
	return rc;
}

void *us_wlog_reserve(struct us_wlog *l, uint64_t length)
{
	char *p = NULL;

	pthread_mutex_lock(&l->lock);
	give_back(l);
	if (l->recording)
		wait_room(l, length);
	if (l->recording && length) {
		p = us_segpool_get(l->mem, length, &l->lent.seg);
		l->lent.data = p;
		l->lent.length = p ? length : 0;
	}
	pthread_mutex_unlock(&l->lock);
	return p;
}

void us_wlog_unused(struct us_wlog *l, void *data)
{
	pthread_mutex_lock(&l->lock);
	if (data && data == l->lent.data)
		give_back(l);
	pthread_mutex_unlock(&l->lock);
}

void us_wlog_cut(struct us_wlog *l, struct us_wlog_batch *out)
{
	pthread_mutex_lock(&l->lock);
	*out = l->open;
	l->held += out->bytes;
	memset(&l->open, 0, sizeof(l->open));
	l->alloc = 0;
	l->mark = l->high_water;
	unsignal_high_water(l);
	pthread_mutex_unlock(&l->lock);
}

uint64_t us_wlog_hard_mark(const struct us_wlog *l)
{
	return l->high_water + (l->cap - l->high_water) / 2;
}

void us_wlog_escalate(struct us_wlog *l)
{
	pthread_mutex_lock(&l->lock);
	unsignal_high_water(l);
	l->mark = us_wlog_hard_mark(l);
	signal_high_water(l);
	pthread_mutex_unlock(&l->lock);
}

void us_wlog_release(struct us_wlog *l, struct us_wlog_batch *b)
{
	pthread_mutex_lock(&l->lock);
	l->held -= b->bytes < l->held ? b->bytes : l->held;
	free_entries(l, b);
	if (!l->recording)
		us_segpool_trim(l->mem);
	pthread_cond_broadcast(&l->room);
	pthread_mutex_unlock(&l->lock);
}

int us_wlog_fd(const struct us_wlog *l)
{
	return l->efd;
}

void us_wlog_stats(struct us_wlog *l, uint64_t *open_bytes, uint64_t *held, uint64_t *waits)
{
	pthread_mutex_lock(&l->lock);
	*open_bytes = l->open.bytes;
	*held = l->held;
	*waits = l->waits;
	pthread_mutex_unlock(&l->lock);
}

int us_wlog_failed(struct us_wlog *l)
{
	int f;

	pthread_mutex_lock(&l->lock);
	f = l->failed;
	pthread_mutex_unlock(&l->lock);
	return f;
}
