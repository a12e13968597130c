/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Where the copy column of the pause goes: K scattered 4 KiB pages of a
 * shared /dev/shm file (guest RAM as the daemon maps it) copied into a send
 * buffer, the way replicator/epoch.c stages an epoch, in several variants
 * timed in the same run on the same pages: plain memcpy into a reused,
 * pre-faulted buffer (the baseline), the copy with XXH3 of each page as it
 * was staged before (copy + hash), XXH3 alone over the copy (what now runs
 * after "cont"), the copy into a fresh buffer (page faults on the send
 * buffer), and the copy through a fresh mapping of the file (page faults on
 * the daemon's mapping), with and without MAP_POPULATE. The baseline is the
 * same memcpy of the same bytes repeated at once (source already read). A second process
 * writes the pages before each round, as the guest would, so the source is
 * not hot in this core's cache. Median of REPEATS rounds of this thread's
 * CPU time (page faults included, preemption not), ms and GB/s.
 * Usage: pagecopy [MIB [REPEATS [DIR]]]   (default 256 MiB, 30 repeats, /dev/shm;
 *        a hugetlbfs DIR maps the file on 2 MiB pages, as [vm] hugepages)
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <xxhash.h>

#define PAGE 4096ul
#define MAX_REPS 1000
#define STRIDE 7919ul /* odd: a permutation of the pages */

enum variant {
	V_MEMCPY,
	V_AGAIN,
	V_PREAD,
	V_COPY_HASH,
	V_HASH_ONLY,
	V_FRESH_BUF,
	V_FRESH_MAP,
	V_POP_MAP,
	V_N
};

static const char *const names[V_N] = {
	"memcpy of just-written pages",	   "the same memcpy again (baseline)",
	"pread() of just-written pages",   "copy + XXH3 per page (old pause)",
	"XXH3 over the copy (after cont)", "memcpy into a fresh buffer",
	"memcpy from a fresh mapping",	   "... fresh mapping, MAP_POPULATE",
};

struct bench {
	int fd;
	size_t npages, k;
	char *ram; /* the long-lived mapping, all faulted */
	char *buf; /* reused send buffer */
	uint64_t sink;
	int to, from; /* the writer child */
};

static char ram_path[PATH_MAX];
static pid_t child = -1;

static void cleanup(void)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		child = -1;
	}
	if (ram_path[0])
		unlink(ram_path);
}

static void on_signal(int sig)
{
	cleanup();
	_exit(128 + sig);
}

/* This thread's CPU time: the work itself, without preemption by the
 * other labs on a shared machine (wall clock would mostly measure them). */
static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_minflt + ru.ru_majflt;
}

static size_t page_of(const struct bench *b, size_t i, unsigned round)
{
	return (i * STRIDE + round) % b->npages;
}

/* The writer: on each byte from the pipe, write the K pages of that round. */
static void writer(struct bench *b, int in, int out)
{
	unsigned char round;
	size_t i;

	while (read(in, &round, 1) == 1) {
		for (i = 0; i < b->k; i++)
			memset(b->ram + page_of(b, i, round) * PAGE, round + (int)i, PAGE);
		if (write(out, "d", 1) != 1)
			_exit(1);
	}
	_exit(0);
}

static int dirty_round(struct bench *b, unsigned round)
{
	unsigned char r = (unsigned char)round;
	char c;

	if (write(b->to, &r, 1) != 1 || read(b->from, &c, 1) != 1)
		return -EIO;
	return 0;
}

static void copy_pages(struct bench *b, const char *ram, char *buf, unsigned round, int hash)
{
	XXH3_state_t *s = hash ? XXH3_createState() : NULL;
	size_t i, p;

	if (s)
		XXH3_64bits_reset(s);
	for (i = 0; i < b->k; i++) {
		p = page_of(b, i, round);
		memcpy(buf + i * PAGE, ram + p * PAGE, PAGE);
		if (s)
			XXH3_64bits_update(s, buf + i * PAGE, PAGE);
	}
	if (s) {
		b->sink += XXH3_64bits_digest(s);
		XXH3_freeState(s);
	}
}

/* The kernel reads the page cache through its own (huge-page) direct map. */
static int pread_pages(struct bench *b, unsigned round)
{
	size_t i, p;

	for (i = 0; i < b->k; i++) {
		p = page_of(b, i, round);
		if (pread(b->fd, b->buf + i * PAGE, PAGE, (off_t)(p * PAGE)) != (ssize_t)PAGE)
			return -EIO;
	}
	return 0;
}

static void hash_copy(struct bench *b)
{
	XXH3_state_t *s = XXH3_createState();
	size_t i;

	XXH3_64bits_reset(s);
	for (i = 0; i < b->k; i++)
		XXH3_64bits_update(s, b->buf + i * PAGE, PAGE);
	b->sink += XXH3_64bits_digest(s);
	XXH3_freeState(s);
}

/* One timed round of @v; setup (fresh buffer, fresh mapping) is timed too. */
static double run_variant(struct bench *b, enum variant v, unsigned round, long *nflt)
{
	size_t len = b->npages * PAGE;
	char *buf = b->buf, *ram = b->ram;
	double t0 = now_ms(), t;

	if (v == V_FRESH_BUF)
		buf = mmap(NULL, b->k * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			   -1, 0);
	if (v == V_FRESH_MAP || v == V_POP_MAP)
		ram = mmap(NULL, len, PROT_READ, MAP_SHARED | (v == V_POP_MAP ? MAP_POPULATE : 0),
			   b->fd, 0);
	if (buf == MAP_FAILED || ram == MAP_FAILED)
		return -1;
	if (v == V_POP_MAP)
		t0 = now_ms(); /* populated at start-up in the daemon: not in the pause */
	*nflt = faults();
	if (v == V_HASH_ONLY)
		hash_copy(b);
	else if (v == V_PREAD)
		pread_pages(b, round);
	else
		copy_pages(b, ram, buf, round, v == V_COPY_HASH);
	t = now_ms() - t0;
	*nflt = faults() - *nflt;
	if (buf != b->buf)
		munmap(buf, b->k * PAGE);
	if (ram != b->ram)
		munmap(ram, len);
	return t;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int run_k(struct bench *b, size_t k, int reps)
{
	static double t[V_N][MAX_REPS];
	long nflt[V_N] = { 0 };
	double med;
	unsigned round = 0;
	int r, v;

	b->k = k;
	for (r = 0; r < reps; r++) {
		for (v = 0; v < V_N; v++) {
			if (dirty_round(b, ++round) < 0)
				return -EIO;
			/* the copy it hashes, as after cont; the read it repeats */
			if (v == V_HASH_ONLY || v == V_AGAIN)
				copy_pages(b, b->ram, b->buf, round, 0);
			t[v][r] = run_variant(b, (enum variant)v, round, &nflt[v]);
			if (t[v][r] < 0)
				return -ENOMEM;
		}
	}
	for (v = 0; v < V_N; v++) {
		qsort(t[v], (size_t)reps, sizeof(double), cmp_double);
		med = t[v][reps / 2];
		printf("%8zu  %-34s %8.3f %8.2f %8.2f %8ld\n", k, names[v], med,
		       k * PAGE / (med * 1e6), med / t[V_AGAIN][reps / 2], nflt[v]);
	}
	return 0;
}

static int start_writer(struct bench *b)
{
	int a[2], c[2];

	if (pipe(a) < 0 || pipe(c) < 0)
		return -errno;
	child = fork();
	if (child < 0)
		return -errno;
	if (child == 0)
		writer(b, a[0], c[1]);
	b->to = a[1];
	b->from = c[0];
	return 0;
}

static int setup(struct bench *b, size_t mib, size_t kmax, const char *dir)
{
	size_t len = mib << 20;

	b->npages = len / PAGE;
	snprintf(ram_path, sizeof(ram_path), "%s/us-bench-pagecopy-%d", dir, (int)getpid());
	b->fd = open(ram_path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (b->fd < 0 || posix_fallocate(b->fd, 0, (off_t)len) != 0)
		return -ENOSPC;
	b->ram = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, b->fd, 0);
	b->buf = mmap(NULL, kmax * PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (b->ram == MAP_FAILED || b->buf == MAP_FAILED)
		return -ENOMEM;
	return start_writer(b);
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 256;
	int reps = argc > 2 ? atoi(argv[2]) : 30;
	const char *dir = argc > 3 ? argv[3] : "/dev/shm";
	static const size_t ks[] = { 1000, 6000, 10000 };
	struct bench b = { .fd = -1 };
	size_t i;
	int rc;

	if (mib < 64 || reps < 1 || reps > MAX_REPS) {
		fprintf(stderr, "pagecopy: need MIB >= 64 and 1 <= REPEATS <= 1000\n");
		return 1;
	}
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	rc = setup(&b, mib, ks[2], dir);
	if (rc < 0) {
		fprintf(stderr, "pagecopy: %s: %s\n", ram_path, strerror(-rc));
		return 1;
	}
	printf("RAM file %zu MiB in %s, pages scattered, written by another process "
	       "before each round; median of %d\n",
	       mib, dir, reps);
	printf("%8s  %-34s %8s %8s %8s %8s\n", "pages", "variant", "cpu ms", "GB/s", "x base",
	       "faults");
	for (i = 0, rc = 0; i < sizeof(ks) / sizeof(ks[0]) && rc == 0; i++)
		rc = run_k(&b, ks[i], reps);
	fprintf(rc < 0 ? stderr : stdout, "%s(checksum sink %llx)\n",
		rc < 0 ? "pagecopy failed " : "", (unsigned long long)b.sink);
	return rc < 0 ? 1 : 0;
}
