/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Capped, growable byte buffers for staging (see buf.h). From 2 MiB on a
 * buffer is a mapping of whole huge pages of its own (disk/segpool.h): the
 * standby stages every epoch's disk writes and pages here, and on this VM
 * its copies into fresh 4 KiB pages were the standby's largest cost under a
 * guest's dd (perf, the first dd after the sync: four fifths of its samples
 * in this copy, a fifth of those page faults).
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "disk/segpool.h"
#include "replicator/buf.h"

#define BUF_HUGE (2u << 20) /* from this size on: a huge-page mapping */

/* @alloc bytes at @data: from malloc, or a mapping from BUF_HUGE on. */
static void release(char *data, size_t alloc)
{
	if (alloc >= BUF_HUGE)
		munmap(data, alloc);
	else
		free(data);
}

/* The buffer grown to @alloc bytes, its contents kept; NULL leaves it as it was. */
static char *grow(struct us_buf *b, size_t alloc)
{
	char *p;

	if (alloc < BUF_HUGE)
		return realloc(b->data, alloc);
	p = us_segpool_map_huge(alloc);
	if (!p)
		return NULL;
	if (b->len)
		memcpy(p, b->data, b->len);
	if (b->data)
		release(b->data, b->alloc);
	return p;
}

void us_buf_init(struct us_buf *b, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->cap = cap;
}

int us_buf_reserve(struct us_buf *b, size_t n)
{
	size_t want, alloc;
	char *p;

	if (n > b->cap || b->len > b->cap - n)
		return -ENOBUFS;
	want = b->len + n;
	if (want <= b->alloc)
		return 0;
	alloc = b->alloc ? b->alloc : 65536;
	while (alloc < want)
		alloc *= 2;
	if (alloc > b->cap)
		alloc = b->cap;
	if (alloc >= BUF_HUGE)
		alloc = us_segpool_huge_size(alloc);
	p = grow(b, alloc);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->alloc = alloc;
	return 0;
}

void *us_buf_tail(struct us_buf *b, size_t n)
{
	return us_buf_reserve(b, n) < 0 ? NULL : b->data + b->len;
}

int us_buf_append(struct us_buf *b, const void *p, size_t n)
{
	int rc;

	if (n && b->data && p == b->data + b->len && b->len + n <= b->alloc) { /* in place */
		b->len += n;
		return 0;
	}
	rc = us_buf_reserve(b, n);
	if (rc < 0)
		return rc;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

void us_buf_clear(struct us_buf *b)
{
	b->len = 0;
}

void us_buf_swap(struct us_buf *a, struct us_buf *b)
{
	struct us_buf t = *a;

	*a = *b;
	*b = t;
}

void us_buf_free(struct us_buf *b)
{
	if (!b)
		return;
	if (b->data)
		release(b->data, b->alloc);
	b->data = NULL;
	b->len = b->alloc = 0;
}
