/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Capped, growable byte buffers for staging (see buf.h). */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "replicator/buf.h"

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
	p = realloc(b->data, alloc);
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

	if (n && p == b->data + b->len && b->len + n <= b->alloc) { /* written in place */
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
	free(b->data);
	b->data = NULL;
	b->len = b->alloc = 0;
}
