/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pause's page copy split across threads (copier.c). */
#ifndef US_COPIER_H
#define US_COPIER_H

#include <stddef.h>

struct us_copier;

/* One span to copy: @len bytes from @src to @dst. */
struct us_copy_span {
	void *dst;
	const void *src;
	size_t len;
};

/** Up to @threads threads in all (the caller is one); NULL on error (errno). */
struct us_copier *us_copier_new(unsigned threads);
void us_copier_free(struct us_copier *c);
/** Threads in use, the caller included. */
unsigned us_copier_threads(const struct us_copier *c);
/** Copy every span, split by bytes among the threads; returns when all are done. */
void us_copier_run(struct us_copier *c, const struct us_copy_span *v, size_t n);

#endif
