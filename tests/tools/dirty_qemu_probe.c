/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helper of tests/integration/dirty_qemu.sh: tracks the guest RAM of a real,
 * stock QEMU started paused (-S) and checks, in order: attaching (one
 * injected syscall in QEMU's main thread) leaves QEMU answering QMP; a paused
 * guest dirties nothing; a page written through our own mapping of the RAM
 * file is not reported; once the guest runs (SeaBIOS) its writes are
 * reported; QEMU is still running and answering after tracking stops. The
 * attach waits until QEMU's main thread is blocked in ppoll(), so the
 * injection interrupts that syscall and QEMU must restart it.
 * Usage: dirty_qemu_probe QEMU_PID RAM_FILE QMP_SOCKET. Exit 0 pass, 1 fail,
 * 77 when this kernel cannot track.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include "replicator/dirty.h"
#include "replicator/log.h"

#define PROBE_PAGE (64ull << 20)	/* a page SeaBIOS leaves alone */
#define GUEST_WAIT_SCANS 200		/* x 50 ms: bounds a hung guest only */

#define CHECK(cond, ...) check_or_die((cond), __FILE__, __LINE__, __VA_ARGS__)

static void check_or_die(int ok, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void check_or_die(int ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return;
	fprintf(stderr, "FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static FILE *qmp_open(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 20 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0, "socket: %s", strerror(errno));
	CHECK(strlen(path) < sizeof(sa.sun_path), "socket path too long");
	strcpy(sa.sun_path, path);
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect %s: %s",
	      path, strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fdopen(fd, "r+");
}

/* Next non-event message from QEMU; the caller owns the reference. */
static json_t *qmp_read(FILE *q)
{
	char line[65536];
	json_error_t err;
	json_t *msg;

	for (;;) {
		CHECK(fgets(line, sizeof(line), q) != NULL, "QMP closed or timed out");
		msg = json_loads(line, 0, &err);
		CHECK(msg != NULL, "QMP sent bad JSON: %s", err.text);
		if (!json_object_get(msg, "event"))
			return msg;
		json_decref(msg);
	}
}

/* Run @cmd; return its "return" value (new reference); die on error. */
static json_t *qmp_call(FILE *q, const char *cmd)
{
	json_t *msg, *ret;

	fprintf(q, "{\"execute\":\"%s\"}\n", cmd);
	fflush(q);
	msg = qmp_read(q);
	ret = json_object_get(msg, "return");
	CHECK(ret != NULL, "QMP %s failed", cmd);
	json_incref(ret);
	json_decref(msg);
	return ret;
}

static const char *qmp_status(FILE *q, char *buf, size_t len)
{
	json_t *ret = qmp_call(q, "query-status");
	const char *s = json_string_value(json_object_get(ret, "status"));

	snprintf(buf, len, "%s", s ? s : "?");
	json_decref(ret);
	return buf;
}

static void scan_into(struct us_dirty *d, struct us_runs *runs, uint64_t npages)
{
	us_runs_clear(runs);
	CHECK(us_dirty_scan(d, runs) == 0, "scan failed");
	CHECK(us_runs_check_bound(runs, npages) == 0, "scan reported pages beyond RAM");
}

static int has_page(const struct us_runs *r, uint64_t page)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (page >= r->v[i].first && page - r->v[i].first < r->v[i].count)
			return 1;
	return 0;
}

/* Write one page through our own mapping of the RAM file. */
static void write_own_mapping(const char *ram, uint64_t offset)
{
	int fd = open(ram, O_RDWR | O_CLOEXEC);
	unsigned char *p;

	CHECK(fd >= 0, "open %s: %s", ram, strerror(errno));
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)offset);
	CHECK(p != MAP_FAILED, "mmap %s: %s", ram, strerror(errno));
	close(fd);
	p[123] ^= 0xff;
	munmap(p, 4096);
}

static void nap_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Scan until the running guest has dirtied something. */
static void expect_guest_writes(struct us_dirty *d, struct us_runs *runs, uint64_t npages)
{
	uint64_t total = 0;
	int i;

	for (i = 0; i < GUEST_WAIT_SCANS && total == 0; i++) {
		nap_ms(50);
		scan_into(d, runs, npages);
		total = runs->pages;
	}
	CHECK(total > 0, "the running guest dirtied no page");
	printf("guest dirtied %" PRIu64 " pages in %zu runs (scan %d after cont)\n",
	       runs->pages, runs->n, i);
}

/* The syscall QEMU's main thread is blocked in (-1: running or unknown). */
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

/* Wait for the idle main loop, so the injection interrupts its ppoll(). */
static void wait_in_ppoll(pid_t pid)
{
	int i;

	for (i = 0; i < 2000 && blocked_in(pid) != SYS_ppoll; i++)
		nap_ms(1);
	CHECK(blocked_in(pid) == SYS_ppoll, "QEMU's main thread never sat in ppoll");
}

static void probe(pid_t pid, const char *ram, FILE *q)
{
	uint64_t addr, len, npages;
	struct us_runs runs;
	struct us_dirty *d;
	struct stat st;
	char status[64];

	CHECK(stat(ram, &st) == 0, "stat %s: %s", ram, strerror(errno));
	CHECK(us_dirty_find_mapping(pid, ram, &addr, &len) == 0, "%s not mapped by QEMU", ram);
	CHECK(len == (uint64_t)st.st_size, "mapping is %" PRIu64 " bytes, file %lld",
	      len, (long long)st.st_size);
	npages = len / 4096;
	wait_in_ppoll(pid);
	d = us_dirty_attach(pid, addr, len);
	CHECK(d != NULL, "attach: %s", strerror(errno));
	us_runs_init(&runs);
	CHECK(!strcmp(qmp_status(q, status, sizeof(status)), "prelaunch"),
	      "after attach QEMU is '%s', not prelaunch", status);
	scan_into(d, &runs, npages);
	CHECK(runs.n == 0, "a paused guest dirtied %" PRIu64 " pages", runs.pages);
	write_own_mapping(ram, PROBE_PAGE);
	scan_into(d, &runs, npages);
	CHECK(!has_page(&runs, PROBE_PAGE / 4096), "a write through another mapping was reported");
	json_decref(qmp_call(q, "cont"));
	expect_guest_writes(d, &runs, npages);
	CHECK(!strcmp(qmp_status(q, status, sizeof(status)), "running"), "QEMU is '%s'", status);
	scan_into(d, &runs, npages);
	us_dirty_free(d);
	us_runs_free(&runs);
	nap_ms(200);
	CHECK(!strcmp(qmp_status(q, status, sizeof(status)), "running"),
	      "after detach QEMU is '%s'", status);
}

int main(int argc, char **argv)
{
	char why[256];
	json_t *greeting;
	FILE *q;
	int rc;

	if (argc != 4) {
		fprintf(stderr, "usage: %s QEMU_PID RAM_FILE QMP_SOCKET\n", argv[0]);
		return 2;
	}
	us_log_init("dirty_qemu_probe", LOG_INFO, 0);
	rc = us_dirty_kernel_check(why, sizeof(why));
	if (rc == -ENOSYS) {
		printf("SKIP: %s\n", why);
		return 77;
	}
	CHECK(rc == 0, "kernel check: %s", why);
	q = qmp_open(argv[3]);
	greeting = qmp_read(q);
	CHECK(json_object_get(greeting, "QMP") != NULL, "no QMP greeting");
	json_decref(greeting);
	json_decref(qmp_call(q, "qmp_capabilities"));
	probe((pid_t)atoi(argv[1]), argv[2], q);
	fclose(q);
	us_log_fini();
	printf("PASS\n");
	return 0;
}
