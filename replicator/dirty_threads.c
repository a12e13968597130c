/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The dirty scan split across threads. PAGEMAP_SCAN walks every page-table
 * entry of the range, so with 4 KiB pages its cost grows with guest RAM, not
 * with the pages written; the walk of disjoint slices needs only the target's
 * mmap lock for reading and per-table locks, so slices run in parallel. The
 * guest's vCPUs are stopped while the daemon scans: their cores are free.
 *
 * The caller scans slice 0 into the result itself; each worker scans its own
 * slice into runs of its own, then the caller appends them in address order.
 * Workers wait on a condition variable between scans (no thread per epoch).
 */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replicator/dirty.h"
#include "replicator/dirty_int.h"
#include "replicator/log.h"

#define SLICE_ALIGN (2ull << 20)    /* a page-table page's reach; a huge page */
#define AUTO_SLICE_MIN (1ull << 30) /* below 1 GiB a thread's wake-up costs more */
#define AUTO_THREADS_MAX 4

struct dirty_worker {
	struct dirty_pool *pool;
	pthread_t thread;
	uint64_t start, end;	 /* this worker's slice */
	struct page_region *vec; /* US_DIRTY_VEC_MAX entries */
	struct us_runs runs;	 /* its result of the last scan */
	int rc;
	int started;
};

struct dirty_pool {
	struct us_dirty *d;
	pthread_mutex_t lock;
	pthread_cond_t go, done;
	unsigned gen;	  /* scans ordered so far */
	unsigned pending; /* workers not done with this one */
	int stop;
	uint64_t first_end; /* the caller's slice: [addr, first_end) */
	size_t n;	    /* workers */
	struct dirty_worker w[];
};

static void *worker_main(void *arg)
{
	struct dirty_worker *w = arg;
	struct dirty_pool *pool = w->pool;
	unsigned seen = 0;

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		while (pool->gen == seen && !pool->stop)
			pthread_cond_wait(&pool->go, &pool->lock);
		if (pool->stop)
			break;
		seen = pool->gen;
		pthread_mutex_unlock(&pool->lock);
		us_runs_clear(&w->runs);
		w->rc = us_dirty_scan_range(pool->d, w->start, w->end, w->vec, &w->runs);
		pthread_mutex_lock(&pool->lock);
		if (--pool->pending == 0)
			pthread_cond_signal(&pool->done);
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

/* Append a worker's runs, which all lie above those already in @out. */
static int merge_runs(struct us_runs *out, const struct us_runs *in)
{
	size_t i;
	int rc;

	for (i = 0; i < in->n; i++) {
		rc = us_runs_add(out, in->v[i].first, in->v[i].count);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int us_dirty_pool_scan(struct us_dirty *d, struct us_runs *out)
{
	struct dirty_pool *pool = d->pool;
	size_t i;
	int rc, wrc = 0;

	pthread_mutex_lock(&pool->lock);
	pool->gen++;
	pool->pending = (unsigned)pool->n;
	pthread_cond_broadcast(&pool->go);
	pthread_mutex_unlock(&pool->lock);
	rc = us_dirty_scan_range(d, d->addr, pool->first_end, d->vec, out);
	pthread_mutex_lock(&pool->lock);
	while (pool->pending)
		pthread_cond_wait(&pool->done, &pool->lock);
	pthread_mutex_unlock(&pool->lock);
	for (i = 0; i < pool->n; i++) {
		if (wrc == 0)
			wrc = pool->w[i].rc;
		if (rc == 0 && wrc == 0)
			rc = merge_runs(out, &pool->w[i].runs);
	}
	return rc < 0 ? rc : wrc;
}

void us_dirty_pool_free(struct us_dirty *d)
{
	struct dirty_pool *pool = d->pool;
	size_t i;

	if (!pool)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stop = 1;
	pthread_cond_broadcast(&pool->go);
	pthread_mutex_unlock(&pool->lock);
	for (i = 0; i < pool->n; i++) {
		if (pool->w[i].started)
			pthread_join(pool->w[i].thread, NULL);
		us_runs_free(&pool->w[i].runs);
		free(pool->w[i].vec);
	}
	pthread_cond_destroy(&pool->go);
	pthread_cond_destroy(&pool->done);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
	d->pool = NULL;
}

/* Slice boundaries: equal shares of the range, on 2 MiB boundaries. */
static uint64_t slice_end(const struct us_dirty *d, unsigned threads, unsigned i)
{
	uint64_t share = d->len / threads * (i + 1);

	if (i + 1 == threads)
		return d->addr + d->len;
	return d->addr + (share & ~(SLICE_ALIGN - 1));
}

/* Workers run with every signal blocked: the daemon's loop takes them. */
static int start_worker(struct dirty_worker *w)
{
	sigset_t all, old;
	int rc;

	w->vec = calloc(US_DIRTY_VEC_MAX, sizeof(*w->vec));
	if (!w->vec)
		return -ENOMEM;
	us_runs_init(&w->runs);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		return -rc;
	w->started = 1;
	pthread_setname_np(w->thread, "us-dirtyscan");
	return 0;
}

static struct dirty_pool *pool_new(struct us_dirty *d, unsigned threads)
{
	struct dirty_pool *pool;
	size_t n = threads - 1;

	pool = calloc(1, sizeof(*pool) + n * sizeof(pool->w[0]));
	if (!pool)
		return NULL;
	pool->d = d;
	pool->n = n;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->go, NULL);
	pthread_cond_init(&pool->done, NULL);
	return pool;
}

unsigned us_dirty_auto_threads(uint64_t len)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t n = len / AUTO_SLICE_MIN;

	/* one CPU stays for QEMU, which saves device state during the scan: on
	 * 2 CPUs a second scan thread measured slower (bench/scan.sh) */
	if (cpus < 2)
		cpus = 2;
	if (n > (uint64_t)cpus - 1)
		n = (uint64_t)cpus - 1;
	if (n > AUTO_THREADS_MAX)
		n = AUTO_THREADS_MAX;
	return n ? (unsigned)n : 1;
}

int us_dirty_set_threads(struct us_dirty *d, unsigned threads)
{
	size_t i;
	int rc = 0;

	if (threads == 0 || threads > US_DIRTY_THREADS_MAX)
		return -EINVAL;
	us_dirty_pool_free(d);
	/* every slice at least 2 MiB: fewer threads for a small guest */
	while (threads > 1 && d->len / threads < SLICE_ALIGN)
		threads--;
	if (threads == 1)
		return 0;
	d->pool = pool_new(d, threads);
	if (!d->pool)
		return -ENOMEM;
	d->pool->first_end = slice_end(d, threads, 0);
	for (i = 0; i < d->pool->n && rc == 0; i++) {
		d->pool->w[i] = (struct dirty_worker){ .pool = d->pool,
						       .start = slice_end(d, threads, i),
						       .end = slice_end(d, threads, i + 1) };
		rc = start_worker(&d->pool->w[i]);
	}
	if (rc < 0) {
		us_log(LOG_ERR, US_TAG_DIRTY, "cannot start %u scan threads: %s", threads,
		       strerror(-rc));
		us_dirty_pool_free(d);
	}
	return rc;
}
