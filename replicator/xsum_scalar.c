/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * XXH3-64 streamed by xxhash.h's portable scalar loop (XXH_VECTOR =
 * XXH_SCALAR), compiled into this file with XXH_INLINE_ALL so that it lives
 * beside libxxhash's vector loop: the other of the two loops us_xsum
 * chooses between (xsum.h). Same hash, same values.
 */
#include <config.h>

/* Unrolled, the scalar loop streams 1.8 instead of 0.95 GB/s under TCG. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("unroll-loops")
#endif

#define XXH_INLINE_ALL
#define XXH_VECTOR 0 /* XXH_SCALAR */
#include <xxhash.h>

#include "replicator/xsum.h"

void *us_xsum_scalar_new(void)
{
	return XXH3_createState();
}

void us_xsum_scalar_free(void *st)
{
	XXH3_freeState(st);
}

void us_xsum_scalar_reset(void *st)
{
	XXH3_64bits_reset(st);
}

void us_xsum_scalar_update(void *st, const void *p, size_t len)
{
	XXH3_64bits_update(st, p, len);
}

uint64_t us_xsum_scalar_digest(const void *st)
{
	return XXH3_64bits_digest(st);
}
