/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One system call run inside another process (see inject.h). Flow:
 *
 *   PTRACE_SEIZE + PTRACE_INTERRUPT the thread, wait for its event stop
 *   save all registers
 *   find bytes 0f 05 (`syscall`) in its [vdso], read through /proc/PID/mem
 *   rip = that address, rax = nr, rdi.. = args, orig_rax = -1, SINGLESTEP
 *   read rax, repeat for the next call (here: close of the target's copy)
 *   restore every register, PTRACE_DETACH
 *
 * No byte of the target is written: its other threads keep executing the
 * same code pages. orig_rax = -1 keeps the kernel's syscall-restart logic
 * away from the injected call; restoring the saved orig_rax and rax lets an
 * interrupted ppoll() or nanosleep() restart exactly as after any ptrace stop.
 * Signals that arrive during the stop are handed back on detach.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/pidfd.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>

#include "replicator/inject.h"
#include "replicator/log.h"

/* Stops tolerated while waiting for the injected instruction to run. */
#define INJECT_MAX_STOPS 64
#define INJECT_VDSO_MAX (64 * 1024)

#if defined(__x86_64__)

struct tracee {
	pid_t pid;
	int seized;			/* PTRACE_SEIZE succeeded */
	int stopped;			/* in a ptrace stop we can detach from */
	int saved_ok;			/* saved holds the registers */
	int our_child;			/* we are its parent too */
	struct user_regs_struct saved;	/* registers at the stop */
	uint64_t syscall_at;		/* address of 0f 05 in [vdso] */
	sigset_t held;			/* signals to hand back on detach */
};

/* Is @pid our own child (QEMU started by this process)? */
static int is_our_child(pid_t pid)
{
	char path[64], line[128];
	int ppid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "PPid: %d", &ppid) == 1)
			break;
	fclose(f);
	return ppid == (int)getpid();
}

/*
 * Wait for the next ptrace stop. If the thread died instead, its exit is
 * left for whoever reaps it: not consumed when it is our own child (the QEMU
 * launcher waits for it), consumed otherwise, which hands the zombie back
 * to its real parent.
 */
static int wait_stop(const struct tracee *t, int *status)
{
	siginfo_t si;
	pid_t got;
	int rc;

	do {
		memset(&si, 0, sizeof(si));
		rc = waitid(P_PID, (id_t)t->pid, &si, WEXITED | WSTOPPED | WNOWAIT | __WALL);
	} while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -errno;
	if (si.si_code != CLD_TRAPPED && si.si_code != CLD_STOPPED && t->our_child)
		return -ESRCH;
	do {
		got = waitpid(t->pid, status, __WALL);
	} while (got < 0 && errno == EINTR);
	if (got < 0)
		return -errno;
	return WIFSTOPPED(*status) ? 0 : -ESRCH;
}

static int is_event_stop(int status)
{
	return (status >> 16) == PTRACE_EVENT_STOP;
}

/* Stop the thread; a signal that stops it first is held for later. */
static int stop_tracee(struct tracee *t)
{
	int status, rc;

	if (ptrace(PTRACE_SEIZE, t->pid, 0, 0) < 0)
		return -errno;
	t->seized = 1;
	if (ptrace(PTRACE_INTERRUPT, t->pid, 0, 0) < 0)
		return -errno;
	rc = wait_stop(t, &status);
	if (rc < 0)
		return rc;
	t->stopped = 1;
	if (!is_event_stop(status))
		sigaddset(&t->held, WSTOPSIG(status));
	if (ptrace(PTRACE_GETREGS, t->pid, 0, &t->saved) < 0)
		return -errno;
	t->saved_ok = 1;
	return 0;
}

static int find_vdso(pid_t pid, uint64_t *start, uint64_t *end)
{
	char path[64], line[512];
	int rc = -ENOEXEC;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, "[vdso]"))
			continue;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64, start, end) == 2)
			rc = 0;
		break;
	}
	fclose(f);
	return rc;
}

static int find_syscall_insn(pid_t pid, uint64_t *at)
{
	uint64_t start, end;
	unsigned char *code = NULL;
	char path[64];
	const unsigned char *hit;
	ssize_t got;
	int fd = -1, rc;

	rc = find_vdso(pid, &start, &end);
	if (rc < 0)
		return rc;
	if (end <= start || end - start > INJECT_VDSO_MAX)
		return -ENOEXEC;
	code = malloc(end - start);
	if (!code)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	got = pread(fd, code, end - start, (off_t)start);
	if (got < 2) {
		rc = got < 0 ? -errno : -EIO;
		goto out;
	}
	hit = memmem(code, (size_t)got, "\x0f\x05", 2);
	rc = hit ? 0 : -ENOEXEC;
	if (hit)
		*at = start + (uint64_t)(hit - code);
out:
	if (fd >= 0)
		close(fd);
	free(code);
	return rc;
}

/* Single-step until the `syscall` at t->syscall_at has run. */
static int step_over_syscall(struct tracee *t, struct user_regs_struct *regs)
{
	int status, i, rc;

	for (i = 0; i < INJECT_MAX_STOPS; i++) {
		if (ptrace(PTRACE_SINGLESTEP, t->pid, 0, 0) < 0)
			return -errno;
		rc = wait_stop(t, &status);
		if (rc < 0)
			return rc;
		if (ptrace(PTRACE_GETREGS, t->pid, 0, regs) < 0)
			return -errno;
		if (regs->rip == t->syscall_at + 2)
			return 0;
		if (regs->rip != t->syscall_at)
			return -EIO;
		if (!is_event_stop(status) && WSTOPSIG(status) != SIGTRAP)
			sigaddset(&t->held, WSTOPSIG(status));
	}
	return -EBUSY;
}

/* Run syscall @nr(a0, a1) in the stopped thread; *ret gets its result. */
static int run_syscall(struct tracee *t, long nr, long a0, long a1, long *ret)
{
	struct user_regs_struct regs = t->saved;
	int rc;

	regs.rip = t->syscall_at;
	regs.rax = (unsigned long long)nr;
	regs.orig_rax = (unsigned long long)-1;
	regs.rdi = (unsigned long long)a0;
	regs.rsi = (unsigned long long)a1;
	if (ptrace(PTRACE_SETREGS, t->pid, 0, &regs) < 0)
		return -errno;
	rc = step_over_syscall(t, &regs);
	if (rc == 0)
		*ret = (long)regs.rax;
	return rc;
}

/*
 * Put every register back and detach. Signals that stopped the thread while
 * we held it were suppressed; raise them again for the same thread.
 */
static void release_tracee(struct tracee *t)
{
	int sig;

	if (t->saved_ok && ptrace(PTRACE_SETREGS, t->pid, 0, &t->saved) < 0)
		us_log(LOG_ERR, US_TAG_DIRTY, "restoring registers of pid %d: %s",
		       (int)t->pid, strerror(errno));
	if (t->seized && ptrace(PTRACE_DETACH, t->pid, 0, 0) < 0 && t->stopped)
		us_log(LOG_ERR, US_TAG_DIRTY, "detaching from pid %d: %s",
		       (int)t->pid, strerror(errno));
	for (sig = 1; sig < NSIG; sig++)
		if (sigismember(&t->held, sig) == 1)
			syscall(SYS_tgkill, t->pid, t->pid, sig);
	t->seized = t->stopped = t->saved_ok = 0;
}

static int take_fd(pid_t pid, int targetfd)
{
	int pidfd, fd;

	pidfd = pidfd_open(pid, 0);
	if (pidfd < 0)
		return -errno;
	fd = pidfd_getfd(pidfd, targetfd, 0);
	if (fd < 0)
		fd = -errno;
	close(pidfd);
	return fd;
}

/* The thread is stopped and t->saved holds its registers. */
static int inject_in_stopped(struct tracee *t, int flags)
{
	long targetfd = -1, closed = 0;
	int rc, fd;

	rc = run_syscall(t, __NR_userfaultfd, flags, 0, &targetfd);
	if (rc < 0)
		return rc;
	if (targetfd < 0) {
		us_log(LOG_ERR, US_TAG_DIRTY, "userfaultfd() inside pid %d failed: %s",
		       (int)t->pid, strerror((int)-targetfd));
		return (int)targetfd;
	}
	fd = take_fd(t->pid, (int)targetfd);
	rc = run_syscall(t, __NR_close, targetfd, 0, &closed);
	if (rc < 0 || closed < 0)
		us_log(LOG_WARNING, US_TAG_DIRTY, "closing fd %ld inside pid %d failed;"
		       " it stays open there until the process exits", targetfd, (int)t->pid);
	return fd;
}

int us_inject_userfaultfd(pid_t pid, int flags)
{
	struct tracee t = { .pid = pid };
	int rc;

	sigemptyset(&t.held);
	t.our_child = is_our_child(pid);
	rc = stop_tracee(&t);
	if (rc == 0)
		rc = find_syscall_insn(pid, &t.syscall_at);
	if (rc == 0)
		rc = inject_in_stopped(&t, flags);
	release_tracee(&t);
	if (rc == -ENOEXEC)
		us_log(LOG_ERR, US_TAG_DIRTY, "pid %d has no [vdso] with a syscall"
		       " instruction to borrow; boot without vdso=0", (int)pid);
	return rc;
}

#else

int us_inject_userfaultfd(pid_t pid, int flags)
{
	us_log(LOG_ERR, US_TAG_DIRTY, "syscall injection is implemented for x86-64 only");
	return -ENOTSUP;
}

#endif
