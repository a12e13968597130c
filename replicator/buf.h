/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A byte buffer that grows by appending up to a hard cap, and keeps its
 * allocation when cleared: the staging areas of an epoch.
 */
#ifndef US_BUF_H
#define US_BUF_H

#include <stddef.h>

struct us_buf {
	char *data;
	size_t len;		/* bytes in use */
	size_t alloc;		/* bytes allocated */
	size_t cap;		/* never grows past this */
};

/** Empty buffer that may grow to @cap bytes; no allocation yet. */
void us_buf_init(struct us_buf *b, size_t cap);

/** Make room for @n more bytes. @return 0, -ENOBUFS past the cap, -ENOMEM. */
int us_buf_reserve(struct us_buf *b, size_t n);

/**
 * Where the next @n bytes will go (room made for them), for a producer that
 * writes them in place before appending them. @return NULL past the cap or
 * out of memory.
 */
void *us_buf_tail(struct us_buf *b, size_t n);

/**
 * Append @n bytes; @p may be us_buf_tail's pointer, the bytes already there
 * (then nothing is copied). @return 0, -ENOBUFS past the cap, -ENOMEM.
 */
int us_buf_append(struct us_buf *b, const void *p, size_t n);

/** Forget the contents, keep the allocation. */
void us_buf_clear(struct us_buf *b);

/** Exchange two buffers' contents. */
void us_buf_swap(struct us_buf *a, struct us_buf *b);

/** Release the allocation; NULL-safe. */
void us_buf_free(struct us_buf *b);

#endif
