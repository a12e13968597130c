/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Running a short-lived program for a check (QEMU answering QMP on stdio,
 * `-netdev help`): argv without a shell, optional text on stdin, stdout
 * captured up to a bound, stderr discarded, killed after a deadline.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "check/probe.h"
#include "check/run.h"

extern char **environ;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int spawn_piped(char *const argv[], int in_fd, int out_fd, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
	posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return -rc;
}

/* Read @fd into @out until EOF or the deadline; @return bytes or -ETIMEDOUT. */
static ssize_t collect(int fd, char *out, size_t len, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t got = 0;
	ssize_t n;

	for (;;) {
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)(deadline - now_ms())) <= 0)
			continue;
		n = read(fd, out + got, len - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (got += n) >= len - 1)
			break;
	}
	out[got] = 0;
	return got;
}

static int finish(pid_t pid, ssize_t got)
{
	int status = 0;

	if (got < 0)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return got < 0 ? (int)got : 0;
}

/* A program that exits before reading its input must not kill us by SIGPIPE. */
static int write_input(int fd, const char *input)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	int rc = 0;

	if (!input)
		return 0;
	sigaction(SIGPIPE, &ign, &old);
	if (write(fd, input, strlen(input)) < 0)
		rc = -errno;
	sigaction(SIGPIPE, &old, NULL);
	return rc == -EPIPE ? 0 : rc;
}

int us_check_run(char *const argv[], const char *input, char *out, size_t len, int timeout_ms)
{
	int in[2] = { -1, -1 }, outp[2] = { -1, -1 }, rc;
	pid_t pid;

	if (access(argv[0], X_OK) < 0 && strchr(argv[0], '/'))
		return -ENOENT;
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0) {
		rc = -errno;
		goto out;
	}
	rc = spawn_piped(argv, in[0], outp[1], &pid);
	close(in[0]);
	close(outp[1]);
	in[0] = outp[1] = -1;
	if (rc < 0)
		goto out;
	rc = write_input(in[1], input);
	close(in[1]);
	in[1] = -1;
	if (finish(pid, collect(outp[0], out, len, now_ms() + timeout_ms)) == -ETIMEDOUT)
		rc = -ETIMEDOUT;
out:
	if (in[1] >= 0)
		close(in[1]);
	if (outp[0] >= 0)
		close(outp[0]);
	return rc;
}

int us_check_executable(const char *prog)
{
	const char *p, *end, *dirs = getenv("PATH");
	char path[PATH_MAX];

	if (strchr(prog, '/'))
		return access(prog, X_OK) < 0 ? -errno : 0;
	for (p = dirs ? dirs : "/usr/sbin:/usr/bin:/sbin:/bin";; p = end + 1) {
		end = strchrnul(p, ':');
		snprintf(path, sizeof(path), "%.*s/%s", end > p ? (int)(end - p) : 1,
			 end > p ? p : ".", prog);
		if (access(path, X_OK) == 0)
			return 0;
		if (!*end)
			return -ENOENT;
	}
}
