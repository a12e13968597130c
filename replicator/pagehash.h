/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef US_PAGEHASH_H
#define US_PAGEHASH_H

#include <stddef.h>
#include <stdint.h>
#include <nettle/umac.h>

#define US_PAGEHASH_LEN 16

/* What each guest page last held when it was sent, as a keyed hash. */
struct us_pagehash {
	struct umac128_ctx mac;
	uint8_t (*sum)[US_PAGEHASH_LEN];
	uint64_t *known; /* bitmap: sum[pfn] is valid */
	size_t pages;
};

int us_pagehash_init(struct us_pagehash *h, size_t pages);
void us_pagehash_free(struct us_pagehash *h);
/* Nothing is known any more: a new stream, a sync, a torn epoch. */
void us_pagehash_forget(struct us_pagehash *h);
/* 1 if @page (one guest page) holds what was last recorded for @pfn; else
 * records it and returns 0. A @pfn out of range is always "changed". */
int us_pagehash_unchanged(struct us_pagehash *h, uint64_t pfn, const void *page);

#endif
