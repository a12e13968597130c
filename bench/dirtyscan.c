/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * How long one dirty scan (PAGEMAP_SCAN + re-arm, replicator/dirty.c) takes:
 * a child maps a shared /dev/shm file as guest RAM would be, touches every
 * page, then dirties K pages on command (scattered or in one run); the parent
 * tracks it and times us_dirty_scan (wall clock, and this thread's CPU time,
 * which leaves out preemption on a busy machine). One table row per case.
 * -t N[,M...] splits the scan across N threads (us_dirty_set_threads), then
 * M, on the same populated region (a table per count); -d DIR puts
 * the file in DIR instead of /dev/shm: a hugetlbfs mount for 2 MiB pages
 * (bench/scan.sh mounts one and reserves the pages).
 * Usage: dirtyscan [-t THREADS[,THREADS...]] [-d DIR] [MIB [REPEATS]]
 *        (default 1 thread, /dev/shm, 256 MiB, 30 repeats)
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <linux/magic.h>

#include "replicator/dirty.h"
#include "replicator/log.h"

#define PAGE 4096ull
#define SCATTER_STRIDE 7919ull		/* odd: a permutation of the pages */

struct order {
	uint64_t count;
	uint32_t scattered;
};

static char ram_path[PATH_MAX];
static const char *ram_dir = "/dev/shm";
static uint64_t touch_stride = PAGE;	/* the mapping's page size */
static pid_t child_pid = -1;

static void cleanup(void)
{
	if (child_pid > 0) {
		kill(child_pid, SIGKILL);
		waitpid(child_pid, NULL, 0);
		child_pid = -1;
	}
	if (ram_path[0])
		unlink(ram_path);
}

static void on_signal(int sig)
{
	cleanup();
	_exit(128 + sig);
}

static double clock_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double now_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

/* CPU time of this thread: the scan's own cost, without preemption. */
static double cpu_ms(void)
{
	return clock_ms(CLOCK_THREAD_CPUTIME_ID);
}

static void child_loop(int in, int out, uint64_t npages)
{
	volatile unsigned char *ram;
	struct order o;
	uint64_t i, p, round = 0;
	int fd = open(ram_path, O_RDWR);

	ram = fd < 0 ? MAP_FAILED : mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE,
					 MAP_SHARED, fd, 0);
	if (ram == MAP_FAILED)
		_exit(1);
	for (i = 0; i < npages; i += touch_stride / PAGE)
		ram[i * PAGE] = 1;
	if (write(out, "r", 1) != 1)
		_exit(1);
	while (read(in, &o, sizeof(o)) == sizeof(o)) {
		round++;
		for (i = 0; i < o.count; i++) {
			p = o.scattered ? (i * SCATTER_STRIDE + round) % npages : i;
			ram[p * PAGE + 8]++;
		}
		if (write(out, "d", 1) != 1)
			_exit(1);
	}
	_exit(0);
}

static int start_child(uint64_t npages, int *to, int *from)
{
	int a[2], b[2], fd;
	char c;

	snprintf(ram_path, sizeof(ram_path), "%s/us-bench-dirtyscan-%d", ram_dir, (int)getpid());
	fd = open(ram_path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)(npages * PAGE)) < 0)
		return -errno;
	close(fd);
	if (pipe(a) < 0 || pipe(b) < 0)
		return -errno;
	child_pid = fork();
	if (child_pid < 0)
		return -errno;
	if (child_pid == 0)
		child_loop(a[0], b[1], npages);
	*to = a[1];
	*from = b[0];
	return read(*from, &c, 1) == 1 ? 0 : -EIO;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int run_case(struct us_dirty *d, int to, int from, struct order o, int reps)
{
	double *t = calloc((size_t)reps * 2, sizeof(*t)), *cpu, t0, c0;
	struct us_runs runs;
	uint64_t pages = 0;
	size_t nruns = 0;
	int i, rc = 0;
	char c;

	if (!t)
		return -ENOMEM;
	cpu = t + reps;
	us_runs_init(&runs);
	for (i = 0; i < reps && rc == 0; i++) {
		if (write(to, &o, sizeof(o)) != sizeof(o) || read(from, &c, 1) != 1)
			rc = -EIO;
		us_runs_clear(&runs);
		t0 = now_ms();
		c0 = cpu_ms();
		if (rc == 0)
			rc = us_dirty_scan(d, &runs);
		cpu[i] = cpu_ms() - c0;
		t[i] = now_ms() - t0;
		pages = runs.pages;
		nruns = runs.n;
	}
	us_runs_free(&runs);
	if (rc == 0) {
		qsort(t, (size_t)reps, sizeof(t[0]), cmp_double);
		qsort(cpu, (size_t)reps, sizeof(cpu[0]), cmp_double);
		printf("%-10s %8" PRIu64 " %8" PRIu64 " %8zu %8.3f %8.3f %8.3f %8.3f\n",
		       o.scattered ? "scattered" : "one run", o.count, pages, nruns,
		       t[0], t[reps / 2], t[reps - 1], cpu[reps / 2]);
	}
	free(t);
	return rc;
}

#define MAX_COUNTS 8

/* -t 1,2,4: the thread counts, each 1 to US_DIRTY_THREADS_MAX. */
static int parse_threads(char *arg, unsigned *threads, size_t *n)
{
	char *tok, *save = NULL;
	long v;

	for (*n = 0, tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		v = strtol(tok, NULL, 10);
		if (*n == MAX_COUNTS || v < 1 || v > US_DIRTY_THREADS_MAX)
			return -EINVAL;
		threads[(*n)++] = (unsigned)v;
	}
	return *n ? 0 : -EINVAL;
}

static int parse_opts(int argc, char **argv, unsigned *threads, size_t *nthreads)
{
	struct statfs fs;
	int c;

	while ((c = getopt(argc, argv, "t:d:")) != -1) {
		if (c == 't') {
			if (parse_threads(optarg, threads, nthreads) < 0)
				return -EINVAL;
		} else if (c == 'd')
			ram_dir = optarg;
		else
			return -EINVAL;
	}
	if (statfs(ram_dir, &fs) == 0 && fs.f_type == HUGETLBFS_MAGIC)
		touch_stride = (uint64_t)fs.f_bsize;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned threads[MAX_COUNTS] = { 1 };
	size_t nthreads = 1, t;
	int prc = parse_opts(argc, argv, threads, &nthreads);
	uint64_t mib = optind < argc ? strtoull(argv[optind], NULL, 0) : 256, npages = mib * 256;
	int reps = optind + 1 < argc ? atoi(argv[optind + 1]) : 30, to = -1, from = -1, rc;
	static const struct order cases[] = {
		{ 0, 0 }, { 1000, 1 }, { 10000, 1 }, { 1000, 0 }, { 10000, 0 },
	};
	struct us_dirty *d;
	uint64_t addr, len;
	char why[256];
	double t0;
	size_t i;

	us_log_init("dirtyscan", LOG_WARNING, 0);
	if (prc < 0 || us_dirty_kernel_check(why, sizeof(why)) < 0 || reps < 1 ||
	    npages < 10000) {
		fprintf(stderr, "dirtyscan: %s\n", prc < 0 ? "usage: dirtyscan [-t THREADS[,...]] "
			"[-d DIR] [MIB [REPEATS]], THREADS 1 to 16" : reps < 1 || npages < 10000 ?
			"need MIB >= 40 and REPEATS >= 1" : why);
		return 1;
	}
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	rc = start_child(npages, &to, &from);
	if (rc < 0) {
		fprintf(stderr, "dirtyscan: child: %s\n", strerror(-rc));
		return 1;
	}
	rc = us_dirty_find_mapping(child_pid, ram_path, &addr, &len);
	t0 = now_ms();
	d = rc < 0 ? NULL : us_dirty_attach(child_pid, addr, len);
	if (!d) {
		fprintf(stderr, "dirtyscan: attach: %s\n", strerror(rc < 0 ? -rc : errno));
		return 1;
	}
	printf("region %" PRIu64 " MiB (%" PRIu64 " pages of 4 KiB, all populated, mapped in %"
	       PRIu64 " KiB pages), attach %.3f ms, %d repeats\n", mib, npages,
	       touch_stride >> 10, now_ms() - t0, reps);
	for (t = 0; t < nthreads && rc == 0; t++) {
		rc = us_dirty_set_threads(d, threads[t]);
		if (rc < 0) {
			fprintf(stderr, "dirtyscan: %u threads: %s\n", threads[t], strerror(-rc));
			break;
		}
		printf("threads %u\n%-10s %8s %8s %8s %8s %8s %8s %8s\n", threads[t], "pattern",
		       "dirtied", "found", "runs", "min ms", "med ms", "max ms", "cpu med");
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]) && rc == 0; i++)
			rc = run_case(d, to, from, cases[i], reps);
	}
	us_dirty_free(d);
	close(to);
	close(from);
	return rc < 0 ? 1 : 0;
}
