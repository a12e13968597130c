/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A page the guest wrote but left as it was last sent need not be sent
 * again. Which pages those are is decided by a hash of what each page held
 * when it was last sent. The guest chooses its memory's content, so the
 * hash must resist chosen collisions: a collision would leave a stale page
 * on the standby, unseen until a takeover. XXH3 is not keyed and 64 bits
 * are found by brute force; this uses UMAC-128 (Nettle) under a random key
 * drawn when the table is made and never leaving the process. UMAC's
 * universal hash bounds the chance that two different pages, chosen
 * without knowledge of the key, collide to about 2^-120; the nonce is the
 * same for every page, so equal pages hash equal. It runs at several GB/s
 * a core, and is computed from the send buffer after the guest resumes.
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "replicator/pagehash.h"
#include "replicator/proto.h"

static const uint8_t pagehash_nonce[16]; /* fixed: equal pages, equal sums */

int us_pagehash_init(struct us_pagehash *h, size_t pages)
{
	uint8_t key[UMAC_KEY_SIZE];

	memset(h, 0, sizeof(*h));
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key))
		return -EIO;
	umac128_set_key(&h->mac, key);
	memset(key, 0, sizeof(key));
	h->sum = calloc(pages ? pages : 1, sizeof(*h->sum));
	h->known = calloc((pages + 63) / 64 ? (pages + 63) / 64 : 1, sizeof(uint64_t));
	if (!h->sum || !h->known) {
		us_pagehash_free(h);
		return -ENOMEM;
	}
	h->pages = pages;
	return 0;
}

void us_pagehash_free(struct us_pagehash *h)
{
	free(h->sum);
	free(h->known);
	h->sum = NULL;
	h->known = NULL;
	h->pages = 0;
}

void us_pagehash_forget(struct us_pagehash *h)
{
	if (h->known)
		memset(h->known, 0, (h->pages + 63) / 64 * sizeof(uint64_t));
}

int us_pagehash_unchanged(struct us_pagehash *h, uint64_t pfn, const void *page)
{
	uint8_t sum[US_PAGEHASH_LEN];
	uint64_t bit;
	int known;

	if (pfn >= h->pages)
		return 0;
	umac128_set_nonce(&h->mac, sizeof(pagehash_nonce), pagehash_nonce);
	umac128_update(&h->mac, US_PROTO_PAGE_SIZE, page);
	umac128_digest(&h->mac, sizeof(sum), sum);
	bit = 1ull << (pfn % 64);
	known = (h->known[pfn / 64] & bit) != 0;
	if (known && memcmp(h->sum[pfn], sum, sizeof(sum)) == 0)
		return 1;
	memcpy(h->sum[pfn], sum, sizeof(sum));
	h->known[pfn / 64] |= bit;
	return 0;
}
