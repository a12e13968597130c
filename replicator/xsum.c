/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The epoch checksum's two XXH3-64 loops behind one interface, and the
 * choice between them by timing (xsum.h).
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "replicator/xsum.h"

#define PROBE_BYTES (64u << 10)
#define PROBE_ROUNDS 3

struct us_xsum {
	enum us_xsum_loop loop;
	XXH3_state_t *lib;
	void *scalar;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Fastest of PROBE_ROUNDS passes of @s over @buf, seconds. */
static double probe(struct us_xsum *s, const char *buf)
{
	double best = 1e9, t;
	int i;

	for (i = 0; i < PROBE_ROUNDS; i++) {
		t = now_s();
		us_xsum_reset(s);
		us_xsum_update(s, buf, PROBE_BYTES);
		(void)us_xsum_digest(s);
		t = now_s() - t;
		best = t < best ? t : best;
	}
	return best;
}

/* The scalar loop only when clearly faster: a noisy probe keeps the library's. */
static enum us_xsum_loop choose(void)
{
	struct us_xsum *lib = us_xsum_new(US_XSUM_LIB), *scalar = us_xsum_new(US_XSUM_SCALAR);
	char *buf = malloc(PROBE_BYTES);
	enum us_xsum_loop pick = US_XSUM_LIB;
	size_t i;

	if (lib && scalar && buf) {
		for (i = 0; i < PROBE_BYTES; i++)
			buf[i] = (char)(i * 131 + (i >> 9));
		if (probe(scalar, buf) < 0.75 * probe(lib, buf))
			pick = US_XSUM_SCALAR;
	}
	free(buf);
	us_xsum_free(lib);
	us_xsum_free(scalar);
	return pick;
}

static enum us_xsum_loop auto_loop(void)
{
	static enum us_xsum_loop chosen; /* AUTO until the first probe */

	if (__atomic_load_n(&chosen, __ATOMIC_RELAXED) == US_XSUM_AUTO)
		__atomic_store_n(&chosen, choose(), __ATOMIC_RELAXED);
	return __atomic_load_n(&chosen, __ATOMIC_RELAXED);
}

struct us_xsum *us_xsum_new(enum us_xsum_loop loop)
{
	struct us_xsum *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->loop = loop == US_XSUM_AUTO ? auto_loop() : loop;
	if (s->loop == US_XSUM_SCALAR)
		s->scalar = us_xsum_scalar_new();
	else
		s->lib = XXH3_createState();
	if (!s->lib && !s->scalar) {
		free(s);
		return NULL;
	}
	us_xsum_reset(s);
	return s;
}

void us_xsum_free(struct us_xsum *s)
{
	if (!s)
		return;
	if (s->scalar)
		us_xsum_scalar_free(s->scalar);
	if (s->lib)
		XXH3_freeState(s->lib);
	free(s);
}

void us_xsum_reset(struct us_xsum *s)
{
	if (s->scalar)
		us_xsum_scalar_reset(s->scalar);
	else
		XXH3_64bits_reset(s->lib);
}

void us_xsum_update(struct us_xsum *s, const void *p, size_t len)
{
	if (s->scalar)
		us_xsum_scalar_update(s->scalar, p, len);
	else
		XXH3_64bits_update(s->lib, p, len);
}

uint64_t us_xsum_digest(const struct us_xsum *s)
{
	return s->scalar ? us_xsum_scalar_digest(s->scalar) : XXH3_64bits_digest(s->lib);
}

enum us_xsum_loop us_xsum_loop(const struct us_xsum *s)
{
	return s->loop;
}
