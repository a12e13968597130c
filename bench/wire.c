/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench/wire: the bytes an epoch puts on the wire and the CPU each page
 * costs, for each way of sending dirty pages, on three workloads. The
 * baseline, from the same run, is sending every dirty page as it is: 4 KiB
 * plus its share of a descriptor, at the cost of a memcpy.
 *
 * Methods:  plain      every dirty page, whole
 *           same       pages unchanged since last sent are left out
 *                      (replicator/pagehash.c: keyed UMAC-128 per page)
 *           lz4        every page through LZ4_compress_default
 *           zstd1      every page through ZSTD level 1
 *           same+lz4   pagehash first, then lz4 on what is left
 *
 * Workloads (synthetic, in this process, over a 256 MiB "guest"):
 *           random     the dirtier: each epoch, random pages get random bytes
 *           identical  each epoch, pages rewritten with the values they held
 *           pagecache  a file of text being rewritten through the page cache:
 *                      each epoch a window of the file is written again, 90 %
 *                      of its pages with what they held, 10 % with new text
 *
 * Usage: bench/wire [EPOCHS [PAGES_PER_EPOCH]]   (defaults 50, 6000)
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <lz4.h>
#include <zstd.h>

#include "replicator/pagehash.h"
#include "replicator/proto.h"

#define PG US_PROTO_PAGE_SIZE
#define GUEST_PAGES 65536u /* 256 MiB */
#define DESC 16u	   /* a descriptor per run; counted per page, worst case */

enum { M_PLAIN, M_SAME, M_LZ4, M_ZSTD, M_SAME_LZ4, M_N };
static const char *const method_name[M_N] = { "plain", "same", "lz4", "zstd1", "same+lz4" };

enum { W_RANDOM, W_IDENTICAL, W_PAGECACHE, W_N };
static const char *const load_name[W_N] = { "random", "identical", "pagecache" };

struct result {
	double bytes;  /* on the wire, all epochs */
	double cpu_ns; /* all epochs */
	double pages;
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void fill_random(uint8_t *p)
{
	for (size_t i = 0; i < PG; i += 8) {
		uint64_t v = next_rand();

		memcpy(p + i, &v, 8);
	}
}

/* Text-like content: words from a small vocabulary, about 3:1 for lz4. */
static void fill_text(uint8_t *p)
{
	static const char *const words[] = { "the ",	"epoch ",  "standby ", "page ",
					     "commit ", "client ", "reply ",   "disk ",
					     "0x3f2a ", "ledger ", "record ",  "\n" };
	size_t i = 0;

	while (i < PG) {
		const char *w = words[next_rand() % (sizeof(words) / sizeof(words[0]))];
		size_t n = strlen(w);

		memcpy(p + i, w, i + n > PG ? PG - i : n);
		i += n;
	}
}

/* One epoch of workload @w on @ram: the pfns it dirtied into @dirty. */
static size_t dirty_epoch(int w, uint8_t *ram, uint32_t *dirty, size_t n, int epoch)
{
	/* an odd stride visits n distinct pages, as a scan reports them */
	uint64_t start = next_rand() % GUEST_PAGES, stride = (next_rand() % GUEST_PAGES) | 1;
	size_t i;

	for (i = 0; i < n; i++) {
		uint32_t pfn;

		if (w == W_PAGECACHE)
			pfn = (uint32_t)(((size_t)epoch * n + i) % (GUEST_PAGES / 2));
		else
			pfn = (uint32_t)((start + i * stride) % GUEST_PAGES);
		dirty[i] = pfn;
		if (w == W_RANDOM)
			fill_random(ram + (size_t)pfn * PG);
		else if (w == W_PAGECACHE && next_rand() % 10 == 0)
			fill_text(ram + (size_t)pfn * PG);
		/* identical, and 90 % of the file: the same values again */
	}
	return n;
}

static size_t send_one(int m, struct us_pagehash *h, uint32_t pfn, const uint8_t *page,
		       uint8_t *out, ZSTD_CCtx *z)
{
	int same = 0;

	if (m == M_SAME || m == M_SAME_LZ4)
		same = us_pagehash_unchanged(h, pfn, page);
	if (same)
		return 0;
	switch (m) {
	case M_LZ4:
	case M_SAME_LZ4:
		return DESC + (size_t)LZ4_compress_default((const char *)page, (char *)out, PG,
							   LZ4_compressBound(PG));
	case M_ZSTD: return DESC + ZSTD_compressCCtx(z, out, ZSTD_compressBound(PG), page, PG, 1);
	default: memcpy(out, page, PG); return DESC + PG;
	}
}

static void run(int w, int epochs, size_t n, struct result res[M_N])
{
	uint8_t *ram = malloc((size_t)GUEST_PAGES * PG), *out = malloc(2 * PG);
	uint32_t *dirty = malloc(n * sizeof(*dirty));
	struct us_pagehash h[M_N];
	ZSTD_CCtx *z = ZSTD_createCCtx();

	if (!ram || !out || !dirty || !z) {
		fprintf(stderr, "wire: out of memory\n");
		exit(1);
	}
	for (size_t p = 0; p < GUEST_PAGES; p++)
		(w == W_PAGECACHE ? fill_text : fill_random)(ram + p * PG);
	for (int m = 0; m < M_N; m++) {
		if (us_pagehash_init(&h[m], GUEST_PAGES) < 0) {
			fprintf(stderr, "wire: cannot make the page hash table\n");
			exit(1);
		}
		/* the initial sync sent every page once: record them */
		for (size_t p = 0; p < GUEST_PAGES; p++)
			us_pagehash_unchanged(&h[m], p, ram + p * PG);
	}
	memset(res, 0, sizeof(struct result) * M_N);
	for (int e = 0; e < epochs; e++) {
		dirty_epoch(w, ram, dirty, n, e);
		for (int m = 0; m < M_N; m++) {
			double t0 = cpu_ns();

			for (size_t i = 0; i < n; i++)
				res[m].bytes += send_one(m, &h[m], dirty[i],
							 ram + (size_t)dirty[i] * PG, out, z);
			res[m].cpu_ns += cpu_ns() - t0;
			res[m].pages += n;
		}
	}
	for (int m = 0; m < M_N; m++)
		us_pagehash_free(&h[m]);
	ZSTD_freeCCtx(z);
	free(dirty);
	free(out);
	free(ram);
}

int main(int argc, char **argv)
{
	int epochs = argc > 1 ? atoi(argv[1]) : 50;
	size_t n = argc > 2 ? (size_t)atol(argv[2]) : 6000;
	struct result res[M_N];

	if (epochs < 1 || n < 1 || n > GUEST_PAGES) {
		fprintf(stderr, "usage: bench/wire [EPOCHS [PAGES_PER_EPOCH <= %u]]\n",
			GUEST_PAGES);
		return 2;
	}
	printf("bench/wire: %d epochs of %zu dirty pages in a 256 MiB guest; baseline: plain\n",
	       epochs, n);
	printf("%-10s %-9s %14s %9s %12s %10s\n", "workload", "method", "KiB/epoch", "of plain",
	       "CPU ns/page", "MB/s/core");
	for (int w = 0; w < W_N; w++) {
		run(w, epochs, n, res);
		for (int m = 0; m < M_N; m++) {
			double kib = res[m].bytes / epochs / 1024;
			double ns = res[m].cpu_ns / res[m].pages;

			printf("%-10s %-9s %14.0f %8.1f%% %12.0f %10.0f\n", load_name[w],
			       method_name[m], kib, 100.0 * res[m].bytes / res[M_PLAIN].bytes, ns,
			       ns > 0 ? PG / ns * 1e3 : 0.0);
		}
	}
	return 0;
}
