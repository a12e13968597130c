/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The epoch checksum as the standby streams it: XXH3-64 (proto.h), computed
 * by one of two loops that give the same value: libxxhash's (SSE2 on
 * x86-64) or the portable scalar loop of the same hash, built here from
 * xxhash.h (xsum_scalar.c). The first us_xsum_new of a process times both
 * on the same bytes and keeps the faster for the process. On a real CPU the
 * library's loop wins (about 10 against 6 GB/s here); on an emulated one
 * (QEMU TCG, as the soft-RoCE bench and test guest run) its SSE multiplies
 * are emulated and the scalar loop is 2.5 times as fast (0.98 against 0.38
 * GB/s), where the checksum was the standby's largest cost.
 */
#ifndef US_XSUM_H
#define US_XSUM_H

#include <stddef.h>
#include <stdint.h>

enum us_xsum_loop { US_XSUM_AUTO, US_XSUM_LIB, US_XSUM_SCALAR };

struct us_xsum;

/** A reset sum using @loop (AUTO: the faster here). NULL when out of memory. */
struct us_xsum *us_xsum_new(enum us_xsum_loop loop);
void us_xsum_free(struct us_xsum *s);
void us_xsum_reset(struct us_xsum *s);
void us_xsum_update(struct us_xsum *s, const void *p, size_t len);
uint64_t us_xsum_digest(const struct us_xsum *s);
/** The loop @s uses (US_XSUM_LIB or US_XSUM_SCALAR). */
enum us_xsum_loop us_xsum_loop(const struct us_xsum *s);

/* xsum_scalar.c: XXH3-64 streamed by the scalar loop, its own state. */
void *us_xsum_scalar_new(void);
void us_xsum_scalar_free(void *st);
void us_xsum_scalar_reset(void *st);
void us_xsum_scalar_update(void *st, const void *p, size_t len);
uint64_t us_xsum_scalar_digest(const void *st);

#endif
