/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Launches the stock QEMU of the protected guest without a shell: the argv is
 * built from the VM config (identical on both hosts but for the RAM file,
 * -incoming and -S), QEMU's stdout and stderr go to RUN_DIR/NAME-TAG.log so
 * that an early exit is reported with QEMU's own words, and start-up ends
 * when the QMP socket accepts a connection. Tear-down is SIGTERM, a grace
 * period, SIGKILL, reap.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "check/accel.h"
#include "check/check.h"
#include "check/probe.h"
#include "replicator/log.h"
#include "replicator/qemu_int.h"
#include "replicator/qmp.h"

#define QEMU_LOG_TAIL 2048	/* bytes of QEMU's output quoted on failure */
#define QEMU_POLL_MS 10

struct us_qemu {
	pid_t pid;
	int reaped;			/* waitpid collected @status */
	int status;
	char qmp_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char log_path[PATH_MAX];	/* QEMU's stdout and stderr */
	int64_t deadline_ms;		/* no_wait: QMP must answer by then */
};

extern char **environ;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Append one formatted argument; the first failure sticks in a->err. */
static void add(struct us_qemu_argv *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add(struct us_qemu_argv *a, const char *fmt, ...)
{
	va_list ap;
	char **v;
	char *s;
	int n;

	if (a->err)
		return;
	if (a->n + 2 > a->alloc) {
		v = realloc(a->v, (a->alloc + 32) * sizeof(*v));
		if (!v) {
			a->err = -ENOMEM;
			return;
		}
		a->v = v;
		a->alloc += 32;
	}
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		a->err = -ENOMEM;
		return;
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

void us_qemu_argv_free(struct us_qemu_argv *a)
{
	size_t i;

	if (!a)
		return;
	for (i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	memset(a, 0, sizeof(*a));
}

/* QEMU's key=value option syntax splits at commas: refuse such paths. */
static int check_path(const char *what, const char *path)
{
	if (!path || !strchr(path, ','))
		return 0;
	us_log(LOG_ERR, US_TAG_QEMU, "%s %s contains a comma, which QEMU's option "
	       "syntax cannot take: rename it", what, path);
	return -EINVAL;
}

static int check_args(const struct us_vm_config *vm, const struct us_qemu_opts *o,
		      const char *qmp_path)
{
	if (!o->ram_path || !o->serial_log || !vm->mem_bytes ||
	    vm->mem_bytes % (1 << 20) || !vm->vcpus) {
		us_log(LOG_ERR, US_TAG_QEMU, "QEMU for %s needs a RAM file, a serial log, "
		       "a memory size in whole MiB and at least one vCPU", vm->name);
		return -EINVAL;
	}
	return check_path("RAM file", o->ram_path) ?: check_path("serial log", o->serial_log) ?:
	       check_path("QMP socket", qmp_path) ?: check_path("disk", vm->disk) ?:
	       check_path("netdev socket", o->netdev_sock) ?: check_path("disk socket", o->disk_sock);
}

static void add_machine(struct us_qemu_argv *a, const struct us_vm_config *vm,
			const struct us_qemu_opts *o, const char *accel)
{
	add(a, "-machine");
	add(a, "q35,memory-backend=ram0");
	add(a, "-object");
	add(a, "memory-backend-file,id=ram0,size=%" PRIu64 ",mem-path=%s,share=on",
	    vm->mem_bytes, o->ram_path);
	add(a, "-m");
	add(a, "%" PRIu64 "M", vm->mem_bytes >> 20);
	add(a, "-smp");
	add(a, "%u", vm->vcpus);
	add(a, "-accel");
	add(a, "%s", accel);
	/* Both hosts alike, so a xen-save-devices-state stream (which has no
	 * configuration section) loads too; see devstate.c. */
	add(a, "-global");
	add(a, "migration.send-configuration=off");
}

/* No default devices, no VGA ROM, no user config: nothing unshared to migrate. */
static void add_host_io(struct us_qemu_argv *a, const struct us_qemu_opts *o,
			const char *qmp_path)
{
	add(a, "-nodefaults");
	add(a, "-vga");
	add(a, "none");
	add(a, "-display");
	add(a, "none");
	add(a, "-no-user-config");
	add(a, "-serial");
	add(a, "file:%s", o->serial_log);
	add(a, "-qmp");
	add(a, "unix:%s,server=on,wait=off", qmp_path);
}

static void add_guest(struct us_qemu_argv *a, const struct us_vm_config *vm,
		      const struct us_qemu_opts *o)
{
	if (vm->kernel[0]) {
		add(a, "-kernel");
		add(a, "%s", vm->kernel);
	}
	if (vm->initrd[0]) {
		add(a, "-initrd");
		add(a, "%s", vm->initrd);
	}
	if (vm->append[0]) {
		add(a, "-append");
		add(a, "%s", vm->append);
	}
	if (vm->disk[0] && o->disk_sock) {
		add(a, "-blockdev");
		add(a, "driver=nbd,node-name=disk0,server.type=unix,server.path=%s,export=disk0",
		    o->disk_sock);
		add(a, "-device");
		add(a, "virtio-blk-pci,drive=disk0");
	} else if (vm->disk[0]) {
		add(a, "-drive");
		add(a, "file=%s,format=raw,if=virtio", vm->disk);
	}
	if (vm->mac[0] && o->netdev_sock) {
		add(a, "-netdev");
		add(a, "stream,id=net0,server=off,addr.type=unix,addr.path=%s", o->netdev_sock);
		add(a, "-device");
		add(a, "virtio-net-pci,netdev=net0,mac=%s,romfile=", vm->mac);
	}
}

int us_qemu_build_argv(const struct us_vm_config *vm, const struct us_qemu_opts *o,
		       const char *accel, const char *qmp_path, struct us_qemu_argv *a)
{
	int rc;

	memset(a, 0, sizeof(*a));
	rc = check_args(vm, o, qmp_path);
	if (rc < 0)
		return rc;
	add(a, "%s", vm->qemu[0] ? vm->qemu : US_QEMU_DEFAULT_BINARY);
	add_machine(a, vm, o, accel);
	add_host_io(a, o, qmp_path);
	add_guest(a, vm, o);
	/* -S when parked too: a loaded state that says "running" stays paused. */
	if (o->mode == US_QEMU_INCOMING) {
		add(a, "-incoming");
		add(a, "defer");
	}
	if (o->mode == US_QEMU_INCOMING || o->start_paused)
		add(a, "-S");
	return a->err;
}

const char *us_qemu_pick_accel(const char *want)
{
	struct us_vm_config vm = { .accel = "auto" };

	if (want && (!strcmp(want, "kvm") || !strcmp(want, "tcg")))
		return want;
	/* Daemons settle "auto" at start-up (check/daemon.c); tools get it here. */
	us_accel_resolve(&vm, us_check_sys_real());
	return strcmp(vm.accel, "kvm") == 0 ? "kvm" : "tcg";
}

/* The tail of QEMU's output on one line, for the log. */
static void read_tail(const char *path, char *buf, size_t len)
{
	ssize_t n = 0;
	off_t size;
	char *p;
	int fd;

	buf[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	if (size >= 0)
		n = pread(fd, buf, len - 1, size > (off_t)len - 1 ? size - (off_t)(len - 1) : 0);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	for (p = buf; *p; p++)
		if (*p == '\n')
			*p = '|';
	if (!buf[0])
		snprintf(buf, len, "(QEMU printed nothing)");
}

static void describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "stopped (wait status %#x)", status);
}

/* @return 1 if QEMU has exited (reaped now or before), else 0. */
static int reap(struct us_qemu *q, int options)
{
	pid_t r;

	if (q->reaped)
		return 1;
	do
		r = waitpid(q->pid, &q->status, options);
	while (r < 0 && errno == EINTR);
	if (r == q->pid || (r < 0 && errno == ECHILD))
		q->reaped = 1;
	return q->reaped;
}

static void log_exit(struct us_qemu *q, const char *when)
{
	char how[96], tail[QEMU_LOG_TAIL];

	describe_status(q->status, how, sizeof(how));
	read_tail(q->log_path, tail, sizeof(tail));
	us_log(LOG_ERR, US_TAG_QEMU, "QEMU (pid %d) %s%s: %s", (int)q->pid, how, when, tail);
}

static int connect_qmp(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Wait for the socket to exist and accept; QEMU may still fail its set-up. */
static int wait_socket(struct us_qemu *q, int64_t deadline)
{
	int fd;

	while (now_ms() < deadline) {
		if (reap(q, WNOHANG))
			return -EIO;
		fd = connect_qmp(q->qmp_path);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		poll(NULL, 0, QEMU_POLL_MS);
	}
	return -ETIMEDOUT;
}

/*
 * QEMU's QMP socket accepts and greets from the monitor thread before the
 * machine is set up (a missing kernel is found later); a command is answered
 * by the main loop, which runs only once set-up succeeded.
 */
static int wait_main_loop(struct us_qemu *q, qb_loop_t *caller_loop)
{
	qb_loop_t *loop = caller_loop ? caller_loop : qb_loop_create();
	struct us_qmp *qmp;
	int64_t grace;

	if (!loop)
		return -ENOMEM;
	qmp = us_qmp_connect(loop, q->qmp_path);
	us_qmp_free(qmp);
	if (!caller_loop)
		qb_loop_destroy(loop);
	if (qmp)
		return 0;
	/* QEMU closed QMP: it is exiting, give it a moment to be reaped. */
	grace = now_ms() + US_QEMU_TERM_GRACE_MS;
	while (!reap(q, WNOHANG) && now_ms() < grace)
		poll(NULL, 0, QEMU_POLL_MS);
	return q->reaped ? -EIO : -ETIMEDOUT;
}

static int wait_qmp(struct us_qemu *q, qb_loop_t *loop)
{
	int rc = wait_socket(q, now_ms() + US_QEMU_START_TIMEOUT_MS);

	if (rc == 0)
		rc = wait_main_loop(q, loop);
	if (rc == -EIO)
		log_exit(q, " during start-up");
	if (rc == -ETIMEDOUT)
		us_log(LOG_ERR, US_TAG_QEMU, "QEMU (pid %d) did not answer on its QMP socket "
		       "%s within %d ms; its output is in %s", (int)q->pid, q->qmp_path,
		       US_QEMU_START_TIMEOUT_MS, q->log_path);
	return rc;
}

static void log_spawn_error(const char *bin, int err)
{
	if (err == ENOENT)
		us_log(LOG_ERR, US_TAG_QEMU, "QEMU binary %s not found: install the Debian "
		       "package qemu-system-x86 (apt-get install qemu-system-x86) or set "
		       "the qemu path in the VM config", bin);
	else
		us_log(LOG_ERR, US_TAG_QEMU, "cannot run QEMU binary %s: %s", bin, strerror(err));
}

static void set_spawn_signals(posix_spawnattr_t *attr)
{
	sigset_t none, dfl;

	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGCHLD);
	posix_spawnattr_setsigmask(attr, &none);
	posix_spawnattr_setsigdefault(attr, &dfl);
	posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
}

/* Start argv with stdin from /dev/null and stdout+stderr into @log_fd. */
static int spawn(struct us_qemu *q, char **argv, int log_fd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	/* posix_spawnp reports a missing binary itself only where the libc
	 * runs the child with CLONE_VFORK (not under valgrind, say): look first */
	int rc = us_check_executable(argv[0]);

	if (rc < 0) {
		log_spawn_error(argv[0], -rc);
		return rc;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, log_fd, 1);
	posix_spawn_file_actions_adddup2(&fa, log_fd, 2);
	set_spawn_signals(&attr);
	rc = posix_spawnp(&q->pid, argv[0], &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	if (rc)
		log_spawn_error(argv[0], rc);
	return -rc;
}

static int launch(struct us_qemu *q, const struct us_vm_config *vm,
		  const struct us_qemu_opts *o)
{
	const char *accel = us_qemu_pick_accel(vm->accel);
	struct us_qemu_argv a;
	int fd, rc;

	rc = us_qemu_build_argv(vm, o, accel, q->qmp_path, &a);
	if (rc < 0)
		goto out;
	fd = open(q->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		rc = -errno;
		us_log(LOG_ERR, US_TAG_QEMU, "cannot create QEMU's log %s: %s (does the "
		       "run directory exist?)", q->log_path, strerror(-rc));
		goto out;
	}
	rc = spawn(q, a.v, fd);
	close(fd);
	if (rc == 0)
		us_log(LOG_INFO, US_TAG_QEMU, "QEMU for %s started (pid %d, %s, %s mode)",
		       vm->name, (int)q->pid, accel, o->mode == US_QEMU_INCOMING ? "incoming" : "run");
out:
	us_qemu_argv_free(&a);
	return rc;
}

static int name_files(struct us_qemu *q, const struct us_vm_config *vm,
		      const struct us_qemu_opts *o)
{
	const char *tag = o->tag ? o->tag : "qemu";
	int n;

	n = snprintf(q->qmp_path, sizeof(q->qmp_path), "%s/%s-%s.qmp", vm->run_dir, vm->name, tag);
	if (n < 0 || (size_t)n >= sizeof(q->qmp_path)) {
		us_log(LOG_ERR, US_TAG_QEMU, "QMP socket path %s/%s-%s.qmp is longer than a "
		       "unix socket allows (%zu): use a shorter run directory",
		       vm->run_dir, vm->name, tag, sizeof(q->qmp_path) - 1);
		return -ENAMETOOLONG;
	}
	snprintf(q->log_path, sizeof(q->log_path), "%s/%s-%s.log", vm->run_dir, vm->name, tag);
	return 0;
}

struct us_qemu *us_qemu_start(const struct us_vm_config *vm, const struct us_qemu_opts *o)
{
	struct us_qemu *q = calloc(1, sizeof(*q));
	int rc;

	if (!q)
		return NULL;
	q->pid = -1;
	q->reaped = 1;
	rc = name_files(q, vm, o);
	if (rc == 0) {
		unlink(q->qmp_path);	/* a stale socket would look alive */
		rc = launch(q, vm, o);
	}
	if (rc == 0) {
		q->reaped = 0;
		q->deadline_ms = now_ms() + US_QEMU_START_TIMEOUT_MS;
		rc = o->no_wait ? 0 : wait_qmp(q, o->loop);
	}
	if (rc < 0) {
		us_qemu_free(q);
		errno = -rc;
		return NULL;
	}
	return q;
}

int us_qemu_ready(struct us_qemu *q, qb_loop_t *loop)
{
	int fd, rc;

	if (reap(q, WNOHANG)) {
		log_exit(q, " during start-up");
		return -EIO;
	}
	fd = connect_qmp(q->qmp_path);
	if (fd < 0) {
		if (now_ms() < q->deadline_ms)
			return -EAGAIN;
		us_log(LOG_ERR, US_TAG_QEMU, "QEMU (pid %d) did not answer on its QMP socket %s "
		       "within %d ms; its output is in %s", (int)q->pid, q->qmp_path,
		       US_QEMU_START_TIMEOUT_MS, q->log_path);
		return -ETIMEDOUT;
	}
	close(fd);
	rc = wait_main_loop(q, loop);
	if (rc == -EIO)
		log_exit(q, " during start-up");
	return rc;
}

pid_t us_qemu_pid(const struct us_qemu *q)
{
	return q->pid;
}

const char *us_qemu_qmp_path(const struct us_qemu *q)
{
	return q->qmp_path;
}

int us_qemu_alive(struct us_qemu *q)
{
	if (q->reaped)
		return 0;
	if (!reap(q, WNOHANG))
		return 1;
	log_exit(q, "");
	return 0;
}

/* SIGTERM, up to US_QEMU_TERM_GRACE_MS for QEMU to exit, then SIGKILL. */
static void stop(struct us_qemu *q)
{
	int64_t deadline = now_ms() + US_QEMU_TERM_GRACE_MS;

	if (reap(q, WNOHANG))
		return;
	kill(q->pid, SIGTERM);
	while (!reap(q, WNOHANG) && now_ms() < deadline)
		poll(NULL, 0, QEMU_POLL_MS);
	if (q->reaped)
		return;
	us_log(LOG_WARNING, US_TAG_QEMU, "QEMU (pid %d) ignored SIGTERM for %d ms: SIGKILL",
	       (int)q->pid, US_QEMU_TERM_GRACE_MS);
	kill(q->pid, SIGKILL);
	reap(q, 0);
}

void us_qemu_free(struct us_qemu *q)
{
	if (!q)
		return;
	stop(q);
	if (q->qmp_path[0] && unlink(q->qmp_path) < 0 && errno != ENOENT)
		us_log(LOG_WARNING, US_TAG_QEMU, "cannot remove %s: %s", q->qmp_path, strerror(errno));
	free(q);
}
