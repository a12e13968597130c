/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The pause's page copy split across threads. Copying pages the guest has
 * just written costs about a microsecond a page here (the lines come from
 * another core's cache or from memory), several times a memcpy of hot
 * data; the guest's vCPUs are stopped while the daemon copies, so their
 * cores are free. The spans are divided by bytes into one contiguous share
 * per thread; the caller copies the first share itself. Workers wait on a
 * condition variable between epochs (no thread per epoch).
 */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "replicator/copier.h"

#define COPIER_MAX 8

struct share {
	size_t span, off; /* where this share starts: span index, byte offset in it */
	size_t bytes;	  /* how many bytes it copies */
};

struct us_copier {
	pthread_mutex_t lock;
	pthread_cond_t go, done;
	pthread_t thread[COPIER_MAX];
	unsigned threads; /* the caller included */
	unsigned started; /* workers running */
	unsigned pending; /* workers still copying this round */
	unsigned long round;
	int stop;
	const struct us_copy_span *v;
	size_t n;
	struct share share[COPIER_MAX];
};

static void copy_share(const struct us_copy_span *v, size_t n, const struct share *s)
{
	size_t i = s->span, off = s->off, left = s->bytes, k;

	for (; left && i < n; i++, off = 0) {
		k = v[i].len - off < left ? v[i].len - off : left;
		memcpy((char *)v[i].dst + off, (const char *)v[i].src + off, k);
		left -= k;
	}
}

struct worker_arg {
	struct us_copier *c;
	unsigned idx;
};

static void *worker(void *arg)
{
	struct us_copier *c = ((struct worker_arg *)arg)->c;
	unsigned idx = ((struct worker_arg *)arg)->idx;
	unsigned long seen = 0;

	free(arg);
	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->stop && c->round == seen)
			pthread_cond_wait(&c->go, &c->lock);
		if (c->stop)
			break;
		seen = c->round;
		pthread_mutex_unlock(&c->lock);
		copy_share(c->v, c->n, &c->share[idx]);
		pthread_mutex_lock(&c->lock);
		if (--c->pending == 0)
			pthread_cond_signal(&c->done);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static int start_worker(struct us_copier *c, unsigned idx)
{
	struct worker_arg *a = malloc(sizeof(*a));
	sigset_t all, old;
	int rc;

	if (!a)
		return -ENOMEM;
	*a = (struct worker_arg){ c, idx };
	sigfillset(&all); /* signals stay with the loop's thread */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&c->thread[idx], NULL, worker, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		free(a);
		return -rc;
	}
	return 0;
}

struct us_copier *us_copier_new(unsigned threads)
{
	struct us_copier *c = calloc(1, sizeof(*c));
	unsigned i;
	int rc = 0;

	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->go, NULL);
	pthread_cond_init(&c->done, NULL);
	c->threads = threads < 1 ? 1 : threads > COPIER_MAX ? COPIER_MAX : threads;
	for (i = 1; i < c->threads && rc == 0; i++) {
		rc = start_worker(c, i);
		if (rc == 0)
			c->started++;
	}
	if (rc < 0) {
		us_copier_free(c);
		errno = -rc;
		return NULL;
	}
	return c;
}

void us_copier_free(struct us_copier *c)
{
	unsigned i;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = 1;
	pthread_cond_broadcast(&c->go);
	pthread_mutex_unlock(&c->lock);
	for (i = 1; i <= c->started; i++)
		pthread_join(c->thread[i], NULL);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->go);
	pthread_cond_destroy(&c->done);
	free(c);
}

unsigned us_copier_threads(const struct us_copier *c)
{
	return c ? c->threads : 1;
}

/* Cut the spans into c->threads shares of about equal bytes. */
static void plan(struct us_copier *c, const struct us_copy_span *v, size_t n)
{
	size_t total = 0, each, i = 0, off = 0, want, k;
	unsigned t;

	for (k = 0; k < n; k++)
		total += v[k].len;
	each = (total + c->threads - 1) / c->threads;
	for (t = 0; t < c->threads; t++) {
		c->share[t] = (struct share){ i, off, 0 };
		for (want = each; want && i < n;) {
			k = v[i].len - off < want ? v[i].len - off : want;
			c->share[t].bytes += k;
			want -= k;
			off += k;
			if (off == v[i].len) {
				i++;
				off = 0;
			}
		}
	}
}

void us_copier_run(struct us_copier *c, const struct us_copy_span *v, size_t n)
{
	if (!c || c->threads == 1) {
		struct share all = { 0, 0, (size_t)-1 };

		copy_share(v, n, &all);
		return;
	}
	plan(c, v, n);
	pthread_mutex_lock(&c->lock);
	c->v = v;
	c->n = n;
	c->pending = c->threads - 1;
	c->round++;
	pthread_cond_broadcast(&c->go);
	pthread_mutex_unlock(&c->lock);
	copy_share(v, n, &c->share[0]);
	pthread_mutex_lock(&c->lock);
	while (c->pending)
		pthread_cond_wait(&c->done, &c->lock);
	pthread_mutex_unlock(&c->lock);
}
