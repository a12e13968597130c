/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The flusher's thread (see disk/flusher.h). Kicks that come while a sync
 * runs fold into the next one: the thread reads the latest ticket when it
 * starts a sync, and that sync covers every change made before it started.
 */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "disk/flusher.h"
#include "disk/nbd.h"

struct us_flusher {
	struct us_nbd *nbd;
	int efd; /* counts ended syncs */
	pthread_t thread;
	pthread_mutex_t lock; /* guards the fields below */
	pthread_cond_t wake;
	uint64_t kicks;	  /* kicks so far */
	uint64_t started; /* kicks the running or last sync covers */
	uint64_t ticket;  /* the latest kick's */
	uint64_t done;	  /* ticket of the last ended sync */
	int ended;	  /* a sync ended since us_flusher_done */
	int err;	  /* first failure, -errno */
	int quit;
};

/* Sync once for the kicks seen so far; lock held on entry and on return. */
static void sync_once(struct us_flusher *f)
{
	uint64_t ticket = f->ticket, one = 1;
	int rc;

	f->started = f->kicks;
	pthread_mutex_unlock(&f->lock);
	rc = us_nbd_sync(f->nbd);
	pthread_mutex_lock(&f->lock);
	f->done = ticket;
	f->ended = 1;
	if (rc < 0 && !f->err)
		f->err = rc;
	if (write(f->efd, &one, sizeof(one)) < 0) {
		/* an eventfd's counter only fails to overflow: it is readable anyway */
	}
}

static void *run(void *arg)
{
	struct us_flusher *f = arg;

	pthread_mutex_lock(&f->lock);
	for (;;) {
		while (!f->quit && f->started == f->kicks)
			pthread_cond_wait(&f->wake, &f->lock);
		if (f->started != f->kicks)
			sync_once(f); /* a kick before quit is paid first */
		else
			break;
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

struct us_flusher *us_flusher_new(struct us_nbd *nbd)
{
	struct us_flusher *f = calloc(1, sizeof(*f));
	int rc;

	if (!f)
		return NULL;
	f->nbd = nbd;
	f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (f->efd < 0) {
		free(f);
		return NULL;
	}
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->wake, NULL);
	rc = pthread_create(&f->thread, NULL, run, f);
	if (rc) {
		close(f->efd);
		pthread_cond_destroy(&f->wake);
		pthread_mutex_destroy(&f->lock);
		free(f);
		errno = rc;
		return NULL;
	}
	return f;
}

int us_flusher_fd(const struct us_flusher *f)
{
	return f->efd;
}

void us_flusher_kick(struct us_flusher *f, uint64_t ticket)
{
	pthread_mutex_lock(&f->lock);
	f->kicks++;
	f->ticket = ticket;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
}

int us_flusher_done(struct us_flusher *f, uint64_t *ticket, int *err)
{
	uint64_t n;
	int ended;

	if (read(f->efd, &n, sizeof(n)) < 0) {
		/* EAGAIN: nothing ended since the last read; the fields tell */
	}
	pthread_mutex_lock(&f->lock);
	ended = f->ended;
	f->ended = 0;
	*ticket = f->done;
	*err = f->err;
	pthread_mutex_unlock(&f->lock);
	return ended;
}

void us_flusher_free(struct us_flusher *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->quit = 1;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	close(f->efd);
	pthread_cond_destroy(&f->wake);
	pthread_mutex_destroy(&f->lock);
	free(f);
}
