/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of dirty-page tracking (replicator/dirty.c, inject.c).
 *
 * Real-kernel tests (the test_real_* functions): a forked child maps a
 * shared file in /dev/shm and writes pages when told to over a pipe; the
 * parent attaches (one injected userfaultfd() in the child) and scans. The
 * child's command loop fails loudly if its ppoll() or nanosleep() ever
 * returns EINTR, which is what a badly restored syscall would do. They are
 * skipped only if this kernel lacks the mechanism (us_dirty_kernel_check).
 *
 * Fake tests (the test_fake_* functions): this binary is linked with
 * -Wl,--wrap=ioctl; a fake armed by the test makes one ioctl request fail or
 * answer differently, for what a 6.18 kernel cannot be made to do here.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "replicator/dirty.h"
#include "replicator/dirty_int.h"
#include "replicator/log.h"

#define NPAGES 1024
#define REPLY_TIMEOUT_MS 20000		/* only guards against a hung child */

/* ---- ioctl fake ---- */

enum fake_mode {
	FAKE_NONE,
	FAKE_FAIL,		/* the request fails with fake.err */
	FAKE_DROP_FEATURES,	/* UFFDIO_API succeeds but offers no WP_ASYNC */
	FAKE_STALL,		/* PAGEMAP_SCAN reports nothing and no progress */
};

static struct {
	unsigned long request;
	enum fake_mode mode;
	int err;
	int hits;
} fake;

int __real_ioctl(int fd, unsigned long request, ...);
int __wrap_ioctl(int fd, unsigned long request, ...);

int __wrap_ioctl(int fd, unsigned long request, ...)
{
	void *arg;
	va_list ap;
	int rc;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fake.mode == FAKE_NONE || request != fake.request)
		return __real_ioctl(fd, request, arg);
	fake.hits++;
	if (fake.mode == FAKE_FAIL) {
		errno = fake.err;
		return -1;
	}
	if (fake.mode == FAKE_STALL) {
		struct pm_scan_arg *scan = arg;

		scan->walk_end = scan->start;
		return 0;
	}
	rc = __real_ioctl(fd, request, arg);
	((struct uffdio_api *)arg)->features &= ~(uint64_t)UFFD_FEATURE_WP_ASYNC;
	return rc;
}

static void fake_arm(unsigned long request, enum fake_mode mode, int err)
{
	fake.request = request;
	fake.mode = mode;
	fake.err = err;
	fake.hits = 0;
}

static void fake_disarm(void)
{
	fake.mode = FAKE_NONE;
}

/* ---- the child ---- */

enum child_kind {
	CHILD_POLL,		/* one thread, blocked in ppoll() */
	CHILD_POLL_THREAD,	/* main in ppoll(), a second thread in nanosleep() */
	CHILD_SLEEP_MAIN,	/* main in nanosleep(), a second thread serves ppoll() */
	CHILD_NOBODY,		/* like CHILD_POLL, running as uid/gid 65534 */
};

enum child_op { OP_PING, OP_WRITE, OP_READ_INTO, OP_ADDR };

struct cmd {
	uint32_t op;
	uint32_t times;
	uint64_t page;
};

struct reply {
	int32_t status;		/* 0, or -errno of the failed step */
	uint32_t eintr;		/* times a ppoll/nanosleep returned EINTR */
	uint64_t value;
};

struct child {
	pid_t pid;
	enum child_kind kind;
	int cmd;		/* parent's write end, -1 */
	int reply;		/* parent's read end, -1 */
	char path[64];
	unsigned char *map;	/* parent's own mapping of the file */
};

static struct {
	int cmd, reply;
	unsigned char *map;
	volatile uint32_t eintr;
} kid;

static uint64_t do_op(const struct cmd *c, int32_t *status)
{
	int p[2];
	uint32_t i;

	*status = 0;
	if (c->op == OP_ADDR)
		return (uintptr_t)kid.map;
	if (c->op == OP_WRITE)
		for (i = 0; i < c->times; i++)
			((volatile unsigned char *)kid.map)[c->page * 4096 + i % 4096]++;
	if (c->op != OP_READ_INTO)
		return 0;
	/* A write by the kernel (copy_to_user) into the page. */
	if (pipe(p) < 0 || write(p[1], "kernel", 6) != 6 ||
	    read(p[0], kid.map + c->page * 4096 + 8, 6) != 6)
		*status = -EIO;
	close(p[0]);
	close(p[1]);
	return 0;
}

static void serve_commands(void)
{
	struct pollfd pfd = { .fd = kid.cmd, .events = POLLIN };
	struct reply rep;
	struct cmd c;
	ssize_t got;

	for (;;) {
		if (ppoll(&pfd, 1, NULL, NULL) < 0) {
			if (errno == EINTR)
				kid.eintr++;
			continue;
		}
		got = read(kid.cmd, &c, sizeof(c));
		if (got != sizeof(c))
			_exit(got == 0 ? 0 : 3);
		memset(&rep, 0, sizeof(rep));
		rep.value = do_op(&c, &rep.status);
		rep.eintr = kid.eintr;
		if (write(kid.reply, &rep, sizeof(rep)) != sizeof(rep))
			_exit(4);
	}
}

static void sleep_forever(void)
{
	struct timespec ts = { .tv_sec = 3600 };

	for (;;)
		if (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL) == EINTR)
			kid.eintr++;
}

static void *serve_thread(void *arg)
{
	serve_commands();
	return NULL;
}

static void *sleep_thread(void *arg)
{
	sleep_forever();
	return NULL;
}

static void run_child(enum child_kind kind, const char *path)
{
	pthread_t t;
	int fd = open(path, O_RDWR);

	if (fd < 0)
		_exit(5);
	kid.map = mmap(NULL, NPAGES * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (kid.map == MAP_FAILED)
		_exit(6);
	close(fd);
	kid.map[7 * 4096] = 1;		/* written before any attach */
	if (kind == CHILD_NOBODY && (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
				     setresuid(65534, 65534, 65534) < 0))
		_exit(8);
	if (kind == CHILD_POLL_THREAD && pthread_create(&t, NULL, sleep_thread, NULL))
		_exit(7);
	if (kind == CHILD_SLEEP_MAIN) {
		if (pthread_create(&t, NULL, serve_thread, NULL))
			_exit(7);
		sleep_forever();
	}
	serve_commands();
}

/* ---- talking to the child ---- */

static int child_call(struct child *c, uint32_t op, uint64_t page, uint32_t times,
		      struct reply *rep)
{
	struct cmd cmd = { .op = op, .times = times, .page = page };
	struct pollfd pfd = { .fd = c->reply, .events = POLLIN };

	if (write(c->cmd, &cmd, sizeof(cmd)) != sizeof(cmd))
		return -EPIPE;
	if (poll(&pfd, 1, REPLY_TIMEOUT_MS) != 1)
		return -ETIMEDOUT;
	if (read(c->reply, rep, sizeof(*rep)) != sizeof(*rep))
		return -EPIPE;
	return 0;
}

/* Assert the child answers, has never seen EINTR, and did the op. */
static uint64_t child_do(struct child *c, uint32_t op, uint64_t page, uint32_t times)
{
	struct reply rep;

	assert_int_equal(child_call(c, op, page, times, &rep), 0);
	assert_int_equal(rep.status, 0);
	assert_int_equal(rep.eintr, 0);
	return rep.value;
}

static void child_write(struct child *c, uint64_t page)
{
	child_do(c, OP_WRITE, page, 1);
}

/* The syscall the child's main thread is blocked in, from /proc (-1: none). */
static long blocked_in(pid_t pid)
{
	char path[64];
	long nr = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &nr) != 1)
		nr = -1;
	fclose(f);
	return nr;
}

/*
 * Wait until the main thread sits in the syscall it blocks in, so the
 * injection really interrupts it: ppoll, or clock_nanosleep, which after one
 * injection shows as restart_syscall (the kernel resumes the remaining sleep).
 */
static int is_blocked(const struct child *c)
{
	long nr = blocked_in(c->pid);

	if (c->kind == CHILD_SLEEP_MAIN)
		return nr == SYS_clock_nanosleep || nr == SYS_restart_syscall;
	return nr == SYS_ppoll;
}

static void wait_blocked(struct child *c)
{
	int i;

	for (i = 0; i < 2000 && !is_blocked(c); i++)
		usleep(1000);
	assert_true(is_blocked(c));
}

/* True if process @pid holds a userfaultfd. */
static int has_uffd(pid_t pid)
{
	char dir[64], path[320], target[128];
	struct dirent *e;
	ssize_t n;
	int found = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		found |= strstr(target, "userfaultfd") != NULL;
	}
	closedir(d);
	return found;
}

static int make_file(struct child *c)
{
	static int serial;
	int fd;

	snprintf(c->path, sizeof(c->path), "/dev/shm/us-test-dirty-%d-%d",
		 (int)getpid(), serial++);
	fd = open(c->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, NPAGES * 4096) < 0) {
		close(fd);
		return -errno;
	}
	close(fd);
	return 0;
}

/* The parent's own mapping, made after fork so the child has only its own. */
static int map_file(struct child *c)
{
	int fd = open(c->path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	c->map = mmap(NULL, NPAGES * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return c->map == MAP_FAILED ? -ENOMEM : 0;
}

static int start_child(struct child *c, enum child_kind kind)
{
	int to[2], from[2];

	c->kind = kind;
	if (make_file(c) < 0)
		return -1;
	if (pipe2(to, O_CLOEXEC) < 0 || pipe2(from, O_CLOEXEC) < 0)
		return -1;
	c->pid = fork();
	if (c->pid < 0)
		return -1;
	if (c->pid == 0) {
		close(to[1]);
		close(from[0]);
		kid.cmd = to[0];
		kid.reply = from[1];
		run_child(kind, c->path);
		_exit(0);
	}
	close(to[0]);
	close(from[1]);
	c->cmd = to[1];
	c->reply = from[0];
	return map_file(c);
}

static void stop_child(struct child *c)
{
	if (c->cmd >= 0)
		close(c->cmd);
	if (c->reply >= 0)
		close(c->reply);
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
	}
	if (c->map && c->map != MAP_FAILED)
		munmap(c->map, NPAGES * 4096);
	if (c->path[0])
		unlink(c->path);
	free(c);
}

/* ---- fixtures ---- */

struct fixture {
	struct child *child;
	struct us_dirty *dirty;
	struct us_runs runs;
	uint64_t addr;
};

static int kernel_ok;

static int teardown(void **state)
{
	struct fixture *f = *state;

	fake_disarm();
	if (!f)
		return 0;
	us_dirty_free(f->dirty);
	us_runs_free(&f->runs);
	if (f->child)
		stop_child(f->child);
	free(f);
	return 0;
}


static int setup_kind(void **state, enum child_kind kind)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	*state = f;
	us_runs_init(&f->runs);
	f->child = calloc(1, sizeof(*f->child));
	if (f->child) {
		f->child->cmd = f->child->reply = -1;
		if (start_child(f->child, kind) == 0)
			return 0;
	}
	teardown(state);		/* cmocka skips teardown when setup fails */
	return -1;
}

static int setup_poll(void **state)
{
	return setup_kind(state, CHILD_POLL);
}

static int setup_poll_thread(void **state)
{
	return setup_kind(state, CHILD_POLL_THREAD);
}

static int setup_sleep_main(void **state)
{
	return setup_kind(state, CHILD_SLEEP_MAIN);
}

/* An unprivileged target, as QEMU under libvirt; needs root to set up. */
static int setup_nobody(void **state)
{
	if (geteuid() != 0)
		return setup_kind(state, CHILD_POLL);
	return setup_kind(state, CHILD_NOBODY);
}

/* Attach to the fixture's child over its whole mapping. */
static void attach(struct fixture *f)
{
	if (!kernel_ok)
		skip();
	f->addr = child_do(f->child, OP_ADDR, 0, 0);
	wait_blocked(f->child);
	f->dirty = us_dirty_attach(f->child->pid, f->addr, NPAGES * 4096);
	assert_non_null(f->dirty);
	assert_false(has_uffd(f->child->pid));	/* its copy was closed again */
}

static void scan(struct fixture *f)
{
	us_runs_clear(&f->runs);
	assert_int_equal(us_dirty_scan(f->dirty, &f->runs), 0);
	assert_int_equal(us_runs_check_bound(&f->runs, NPAGES), 0);
}

static void assert_run(const struct us_runs *r, size_t i, uint64_t first, uint64_t count)
{
	assert_true(i < r->n);
	assert_int_equal(r->v[i].first, first);
	assert_int_equal(r->v[i].count, count);
}

/* ---- real kernel ---- */

/* Scan threads: the same runs, a run across the slice boundary merged once. */
static void test_real_scan_threads(void **state)
{
	struct fixture *f = *state;

	attach(f);
	assert_int_equal(us_dirty_set_threads(f->dirty, 0), -EINVAL);
	assert_int_equal(us_dirty_set_threads(f->dirty, US_DIRTY_THREADS_MAX + 1), -EINVAL);
	/* 4 MiB: at most two slices of 2 MiB, the boundary at page 512 */
	assert_int_equal(us_dirty_set_threads(f->dirty, 4), 0);
	scan(f);
	assert_int_equal(f->runs.n, 0);
	child_write(f->child, 3);
	child_write(f->child, 511);
	child_write(f->child, 512);
	child_write(f->child, 700);
	child_write(f->child, NPAGES - 1);
	scan(f);
	assert_int_equal(f->runs.n, 4);
	assert_run(&f->runs, 0, 3, 1);
	assert_run(&f->runs, 1, 511, 2);
	assert_run(&f->runs, 2, 700, 1);
	assert_run(&f->runs, 3, NPAGES - 1, 1);
	assert_int_equal(f->runs.pages, 5);
	scan(f);
	assert_int_equal(f->runs.n, 0);
	child_write(f->child, 600);		/* re-armed in the worker's slice too */
	scan(f);
	assert_int_equal(f->runs.n, 1);
	assert_run(&f->runs, 0, 600, 1);
	assert_int_equal(us_dirty_set_threads(f->dirty, 1), 0);	/* back to one */
	child_write(f->child, 513);
	scan(f);
	assert_int_equal(f->runs.n, 1);
	assert_run(&f->runs, 0, 513, 1);
}

static void test_real_kernel_check(void **state)
{
	char why[256] = "";

	int rc = us_dirty_kernel_check(why, sizeof(why));

	/* An older kernel skips every real-kernel test, saying why. */
	if (rc == -ENOSYS) {
		print_message("%s\n", why);
		skip();
	}
	if (rc != 0)
		fail_msg("%s", why);
	assert_string_equal(why, "");
}

static void test_real_find_mapping(void **state)
{
	struct fixture *f = *state;
	uint64_t addr = 0, len = 0, want;

	want = child_do(f->child, OP_ADDR, 0, 0);
	assert_int_equal(us_dirty_find_mapping(f->child->pid, f->child->path, &addr, &len), 0);
	assert_int_equal(addr, want);
	assert_int_equal(len, NPAGES * 4096);
	assert_int_equal(us_dirty_find_mapping(f->child->pid, "/dev/shm/us-test-dirty-not-mapped",
					       &addr, &len), -ENOENT);
}

/* The core contract: clean at attach, exactly the written runs, then clean. */
static void test_real_scan_exact(void **state)
{
	struct fixture *f = *state;

	attach(f);
	scan(f);
	assert_int_equal(f->runs.n, 0);		/* page 7 was written before attach */
	child_write(f->child, 3);
	child_write(f->child, 4);
	child_write(f->child, 5);
	child_write(f->child, 100);
	child_write(f->child, NPAGES - 1);
	scan(f);
	assert_int_equal(f->runs.n, 3);
	assert_run(&f->runs, 0, 3, 3);
	assert_run(&f->runs, 1, 100, 1);
	assert_run(&f->runs, 2, NPAGES - 1, 1);
	assert_int_equal(f->runs.pages, 5);
	scan(f);
	assert_int_equal(f->runs.n, 0);
	child_write(f->child, 4);		/* re-armed: caught again */
	scan(f);
	assert_int_equal(f->runs.n, 1);
	assert_run(&f->runs, 0, 4, 1);
}

static void test_real_rewrites_count_once(void **state)
{
	struct fixture *f = *state;
	int i;

	attach(f);
	for (i = 0; i < 20; i++)
		child_do(f->child, OP_WRITE, 10, 4096);
	child_do(f->child, OP_WRITE, 11, 100000);
	scan(f);
	assert_int_equal(f->runs.n, 1);
	assert_run(&f->runs, 0, 10, 2);
	assert_int_equal(f->runs.pages, 2);
}

/* A vector of 2 regions forces the scan to resume from walk_end many times. */
static void test_real_scan_resumes_when_vector_full(void **state)
{
	struct fixture *f = *state;
	uint64_t p;
	size_t i;

	attach(f);
	f->dirty->veclen = 2;
	for (p = 0; p < 60; p += 2)
		child_write(f->child, p);
	child_write(f->child, NPAGES - 2);
	child_write(f->child, NPAGES - 1);
	scan(f);
	assert_int_equal(f->runs.n, 31);
	for (i = 0; i < 30; i++)
		assert_run(&f->runs, i, i * 2, 1);
	assert_run(&f->runs, 30, NPAGES - 2, 2);
	scan(f);
	assert_int_equal(f->runs.n, 0);
}

/* Only writes through the tracked process's page tables count. */
static void test_real_other_mapping_not_seen(void **state)
{
	struct fixture *f = *state;

	attach(f);
	f->child->map[200 * 4096] = 0x5a;	/* our own mapping of the file */
	child_write(f->child, 201);
	scan(f);
	assert_int_equal(f->runs.n, 1);
	assert_run(&f->runs, 0, 201, 1);
}

/* The kernel writing into the page (read() into it) counts as a write. */
static void test_real_kernel_write_seen(void **state)
{
	struct fixture *f = *state;

	attach(f);
	child_do(f->child, OP_READ_INTO, 300, 0);
	scan(f);
	assert_int_equal(f->runs.n, 1);
	assert_run(&f->runs, 0, 300, 1);
	assert_memory_equal(f->child->map + 300 * 4096 + 8, "kernel", 6);
}

/*
 * The child keeps running after the injection: its blocked ppoll() or
 * nanosleep() restarted (child_do asserts no EINTR was ever seen), it still
 * writes, and after free its writes no longer fault into anything.
 */
static void test_real_target_survives(void **state)
{
	struct fixture *f = *state;
	int i;

	attach(f);
	for (i = 0; i < 3; i++)
		child_do(f->child, OP_PING, 0, 0);
	us_dirty_free(f->dirty);
	f->dirty = NULL;
	attach(f);			/* a second injection into the same process */
	child_write(f->child, 9);
	scan(f);
	assert_int_equal(f->runs.n, 1);
	us_dirty_free(f->dirty);
	f->dirty = NULL;
	child_write(f->child, 9);
	child_do(f->child, OP_PING, 0, 0);
	assert_int_equal(kill(f->child->pid, 0), 0);
}

static void test_real_attach_no_such_pid(void **state)
{
	struct us_dirty *d;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	errno = 0;
	d = us_dirty_attach(pid, 0x10000000, 4096);
	assert_null(d);
	assert_int_equal(errno, ESRCH);
	assert_int_equal(us_dirty_find_mapping(pid, "/dev/shm/x", &(uint64_t){ 0 },
					       &(uint64_t){ 0 }), -ESRCH);
}

/* Another tracer holds the target: attach fails with EPERM, target unharmed. */
static void test_real_attach_already_traced(void **state)
{
	struct fixture *f = *state;
	pid_t pid = f->child->pid;
	int status;

	if (!kernel_ok)
		skip();
	wait_blocked(f->child);
	assert_int_equal(ptrace(PTRACE_SEIZE, pid, 0, 0), 0);
	errno = 0;
	assert_null(us_dirty_attach(pid, child_do(f->child, OP_ADDR, 0, 0), NPAGES * 4096));
	assert_int_equal(errno, EPERM);
	assert_int_equal(ptrace(PTRACE_INTERRUPT, pid, 0, 0), 0);
	assert_int_equal(waitpid(pid, &status, __WALL), pid);
	assert_int_equal(ptrace(PTRACE_DETACH, pid, 0, 0), 0);
	child_do(f->child, OP_PING, 0, 0);
}

static void test_real_attach_bad_range(void **state)
{
	struct fixture *f = *state;
	uint64_t addr;

	if (!kernel_ok)
		skip();
	addr = child_do(f->child, OP_ADDR, 0, 0);
	errno = 0;
	assert_null(us_dirty_attach(f->child->pid, addr + 1, 4096));
	assert_int_equal(errno, EINVAL);
	assert_null(us_dirty_attach(f->child->pid, addr, 0));
	assert_int_equal(errno, EINVAL);
	/* Nothing mapped there: UFFDIO_REGISTER refuses, the child lives on. */
	assert_null(us_dirty_attach(f->child->pid, 4096, 4096));
	assert_int_equal(errno, EINVAL);
	child_do(f->child, OP_PING, 0, 0);
}

static void test_free_null(void **state)
{
	us_dirty_free(NULL);
	assert_int_equal(fake.hits, 0);
}

/* ---- fakes ---- */

static void assert_names_kernel(const char *why, const char *lacks)
{
	struct utsname u;

	assert_int_equal(uname(&u), 0);
	assert_non_null(strstr(why, u.release));
	assert_non_null(strstr(why, "Linux >= 6.7"));
	assert_non_null(strstr(why, lacks));
}

/* Fake: UFFDIO_API refuses the unknown feature bits, as kernels < 6.7 do. */
static void test_fake_api_refuses_features(void **state)
{
	char why[256] = "";

	fake_arm(UFFDIO_API, FAKE_FAIL, EINVAL);
	assert_int_equal(us_dirty_kernel_check(why, sizeof(why)), -ENOSYS);
	assert_int_equal(fake.hits, 1);
	assert_names_kernel(why, "WP_ASYNC");
}

/* Fake: UFFDIO_API succeeds but does not offer WP_ASYNC. */
static void test_fake_api_lacks_wp_async(void **state)
{
	char why[256] = "";

	fake_arm(UFFDIO_API, FAKE_DROP_FEATURES, 0);
	assert_int_equal(us_dirty_kernel_check(why, sizeof(why)), -ENOSYS);
	assert_int_equal(fake.hits, 1);
	assert_names_kernel(why, "WP_ASYNC");
	assert_int_equal(us_dirty_kernel_check(NULL, 0), -ENOSYS);	/* why is optional */
}

/* Fake: /proc/PID/pagemap has no PAGEMAP_SCAN ioctl (ENOTTY before 6.7). */
static void test_fake_no_pagemap_scan(void **state)
{
	char why[256] = "";

	fake_arm(PAGEMAP_SCAN, FAKE_FAIL, ENOTTY);
	assert_int_equal(us_dirty_kernel_check(why, sizeof(why)), -ENOSYS);
	assert_int_equal(fake.hits, 1);
	assert_names_kernel(why, "PAGEMAP_SCAN");
}

/* Fake: a scan that fails (e.g. EPERM from PM_SCAN_CHECK_WPASYNC) is returned. */
static void test_fake_scan_error(void **state)
{
	struct fixture *f = *state;

	attach(f);
	fake_arm(PAGEMAP_SCAN, FAKE_FAIL, EPERM);
	assert_int_equal(us_dirty_scan(f->dirty, &f->runs), -EPERM);
	fake_disarm();
	scan(f);			/* nothing lost: the tracker still works */
	child_write(f->child, 12);
	scan(f);
	assert_int_equal(f->runs.n, 1);
}

/* Fake: a scan that makes no progress ends with -EIO instead of spinning. */
static void test_fake_scan_stalls(void **state)
{
	struct fixture *f = *state;

	attach(f);
	fake_arm(PAGEMAP_SCAN, FAKE_STALL, 0);
	assert_int_equal(us_dirty_scan(f->dirty, &f->runs), -EIO);
	assert_int_equal(fake.hits, 1);
}

/* Fake: UFFDIO_REGISTER busy (QEMU's own postcopy uffd); the child lives. */
static void test_fake_register_busy(void **state)
{
	struct fixture *f = *state;
	uint64_t addr;

	if (!kernel_ok)
		skip();
	addr = child_do(f->child, OP_ADDR, 0, 0);
	fake_arm(UFFDIO_REGISTER, FAKE_FAIL, EBUSY);
	errno = 0;
	assert_null(us_dirty_attach(f->child->pid, addr, NPAGES * 4096));
	assert_int_equal(errno, EBUSY);
	fake_disarm();
	child_do(f->child, OP_PING, 0, 0);
}

static int group_setup(void **state)
{
	us_log_init("test_dirty", LOG_WARNING, 0);
	kernel_ok = us_dirty_kernel_check(NULL, 0) == 0;
	return 0;
}

static int group_teardown(void **state)
{
	us_log_fini();
	return 0;
}

#define WITH(test, setup) cmocka_unit_test_setup_teardown(test, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_kernel_check),
		WITH(test_real_find_mapping, setup_poll),
		WITH(test_real_scan_exact, setup_poll),
		WITH(test_real_scan_exact, setup_poll_thread),
		WITH(test_real_scan_exact, setup_sleep_main),
		WITH(test_real_scan_threads, setup_poll),
		WITH(test_real_rewrites_count_once, setup_poll),
		WITH(test_real_scan_resumes_when_vector_full, setup_poll),
		WITH(test_real_other_mapping_not_seen, setup_poll),
		WITH(test_real_kernel_write_seen, setup_poll),
		WITH(test_real_kernel_write_seen, setup_nobody),
		WITH(test_real_scan_exact, setup_nobody),
		WITH(test_real_target_survives, setup_poll),
		WITH(test_real_target_survives, setup_poll_thread),
		WITH(test_real_target_survives, setup_sleep_main),
		cmocka_unit_test(test_real_attach_no_such_pid),
		WITH(test_real_attach_bad_range, setup_poll),
		WITH(test_real_attach_already_traced, setup_poll),
		cmocka_unit_test(test_free_null),
		cmocka_unit_test_teardown(test_fake_api_refuses_features, teardown),
		cmocka_unit_test_teardown(test_fake_api_lacks_wp_async, teardown),
		cmocka_unit_test_teardown(test_fake_no_pagemap_scan, teardown),
		WITH(test_fake_scan_error, setup_poll),
		WITH(test_fake_scan_stalls, setup_poll),
		WITH(test_fake_register_busy, setup_poll),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
