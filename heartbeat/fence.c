/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Running the fence command (see fence.h). One attempt at a time:
 *
 *   step              event                         next
 *   start             (timer 0, so done is async)   spawn attempt 1
 *   spawn             posix_spawnp + pidfd_open     poll the pidfd, arm timeout
 *   running           pidfd readable                reap: exit 0 -> done(0)
 *   running           timeout                       SIGKILL its process group
 *   reaped, failed    attempts left                 wait back-off (doubling), spawn
 *   reaped, failed    none left / not spawnable     done(-errno)
 *
 * The child runs in its own process group so a timeout also kills what the
 * command started. The pidfd keeps its pid from being reused until reaped.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/pidfd.h>
#include <sys/wait.h>

#include "heartbeat/fence.h"
#include "replicator/log.h"

extern char **environ;

#define FENCE_ARGS_MAX 32

struct us_fence {
	qb_loop_t *loop;
	struct us_fence_opts o;
	char *words;			/* the command, split in place */
	char *argv[FENCE_ARGS_MAX + 2];	/* words, the node name, NULL */
	char node[64];
	us_fence_done_fn done;
	void *opaque;
	int attempt;			/* 1-based, of the running or last attempt */
	int wait_ms;			/* next back-off */
	pid_t pid;			/* running attempt, 0 if none */
	int pidfd;			/* -1 when no attempt runs */
	int timed_out;
	qb_loop_timer_handle timeout;
	qb_loop_timer_handle next;	/* the next attempt (or the first one) */
};

static void run_attempt(void *data);

static int split_command(struct us_fence *f, const char *command, const char *node)
{
	char *save = NULL, *w;
	int n = 0;

	f->words = strdup(command);
	if (!f->words)
		return -ENOMEM;
	for (w = strtok_r(f->words, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (n == FENCE_ARGS_MAX)
			return -E2BIG;
		f->argv[n++] = w;
	}
	if (n == 0)
		return -EINVAL;
	snprintf(f->node, sizeof(f->node), "%s", node);
	f->argv[n++] = f->node;
	f->argv[n] = NULL;
	return 0;
}

static void set_defaults(struct us_fence_opts *o)
{
	if (o->timeout_ms <= 0)
		o->timeout_ms = 30000;
	if (o->attempts <= 0)
		o->attempts = 5;
	if (o->backoff_ms <= 0)
		o->backoff_ms = 1000;
	if (o->backoff_max_ms <= 0)
		o->backoff_max_ms = 10000;
}

static void finish(struct us_fence *f, int rc)
{
	if (rc == 0)
		us_log(LOG_NOTICE, US_TAG_HB, "fenced %s (attempt %d)", f->node, f->attempt);
	else
		us_log(LOG_ERR, US_TAG_HB, "fencing %s failed after %d attempt(s): %s; "
		       "check the fence command `%s` by hand", f->node, f->attempt,
		       strerror(-rc), f->o.command);
	f->done(f->opaque, f->node, rc);	/* may free f: touch nothing after */
}

static void end_attempt(struct us_fence *f, int rc)
{
	if (rc == 0 || f->attempt >= f->o.attempts || rc == -ENOENT || rc == -EACCES) {
		finish(f, rc);
		return;
	}
	us_log(LOG_WARNING, US_TAG_HB, "fence attempt %d/%d for %s failed (%s): retrying in %d ms",
	       f->attempt, f->o.attempts, f->node, strerror(-rc), f->wait_ms);
	qb_loop_timer_add(f->loop, QB_LOOP_HIGH, (uint64_t)f->wait_ms * 1000000ULL, f,
			  run_attempt, &f->next);
	f->wait_ms = f->wait_ms * 2 > f->o.backoff_max_ms ? f->o.backoff_max_ms : f->wait_ms * 2;
}

static int reap(struct us_fence *f)
{
	siginfo_t si = { 0 };

	if (waitid(P_PIDFD, f->pidfd, &si, WEXITED) < 0)
		return -errno;
	if (f->timed_out)
		return -ETIMEDOUT;
	if (si.si_code == CLD_EXITED && si.si_status == 0)
		return 0;
	return si.si_code == CLD_EXITED ? -EIO : -EINTR;
}

static void stop_watching(struct us_fence *f)
{
	if (f->timeout)
		qb_loop_timer_del(f->loop, f->timeout);
	f->timeout = 0;
	if (f->pidfd >= 0) {
		qb_loop_poll_del(f->loop, f->pidfd);
		close(f->pidfd);
	}
	f->pidfd = -1;
	f->pid = 0;
}

static int child_exited(int fd, int revents, void *data)
{
	struct us_fence *f = data;
	int rc = reap(f);

	stop_watching(f);
	end_attempt(f, rc);
	return 0;
}

static void attempt_timeout(void *data)
{
	struct us_fence *f = data;

	f->timeout = 0;
	f->timed_out = 1;
	us_log(LOG_WARNING, US_TAG_HB, "fence command for %s still running after %d ms: killing it",
	       f->node, f->o.timeout_ms);
	kill(-f->pid, SIGKILL);
}

static int spawn(struct us_fence *f)
{
	posix_spawnattr_t attr;
	sigset_t none;
	int rc;

	sigemptyset(&none);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigmask(&attr, &none);
	rc = posix_spawnp(&f->pid, f->argv[0], NULL, &attr, f->argv, environ);
	posix_spawnattr_destroy(&attr);
	if (rc) {
		f->pid = 0;
		us_log(LOG_ERR, US_TAG_HB, "cannot run fence command %s: %s", f->argv[0], strerror(rc));
		return -rc;
	}
	f->pidfd = pidfd_open(f->pid, 0);
	if (f->pidfd < 0) {
		rc = -errno;
		kill(-f->pid, SIGKILL);
		waitpid(f->pid, NULL, 0);
		f->pid = 0;
		return rc;
	}
	return 0;
}

static void run_attempt(void *data)
{
	struct us_fence *f = data;
	int rc;

	f->next = 0;
	f->attempt++;
	f->timed_out = 0;
	us_log(LOG_NOTICE, US_TAG_HB, "fencing %s: %s %s (attempt %d/%d)", f->node,
	       f->o.command, f->node, f->attempt, f->o.attempts);
	rc = spawn(f);
	if (rc == 0)
		rc = qb_loop_poll_add(f->loop, QB_LOOP_HIGH, f->pidfd, POLLIN, f, child_exited);
	if (rc < 0) {
		if (f->pid) {
			kill(-f->pid, SIGKILL);
			waitid(P_PIDFD, f->pidfd, &(siginfo_t){ 0 }, WEXITED);
		}
		stop_watching(f);
		end_attempt(f, rc);
		return;
	}
	qb_loop_timer_add(f->loop, QB_LOOP_HIGH, (uint64_t)f->o.timeout_ms * 1000000ULL, f,
			  attempt_timeout, &f->timeout);
}

struct us_fence *us_fence_start(qb_loop_t *loop, const struct us_fence_opts *o,
				const char *node, us_fence_done_fn done, void *opaque)
{
	struct us_fence *f;
	int rc;

	if (!loop || !o || !o->command || !node || !*node || !done) {
		errno = EINVAL;
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->loop = loop;
	f->o = *o;
	set_defaults(&f->o);
	f->wait_ms = f->o.backoff_ms;
	f->done = done;
	f->opaque = opaque;
	f->pidfd = -1;
	rc = split_command(f, o->command, node);
	if (rc == 0)
		rc = qb_loop_timer_add(loop, QB_LOOP_HIGH, 0, f, run_attempt, &f->next);
	if (rc < 0) {
		us_fence_free(f);
		errno = -rc;
		return NULL;
	}
	return f;
}

void us_fence_free(struct us_fence *f)
{
	if (!f)
		return;
	if (f->next)
		qb_loop_timer_del(f->loop, f->next);
	if (f->pidfd >= 0) {
		kill(-f->pid, SIGKILL);
		waitid(P_PIDFD, f->pidfd, &(siginfo_t){ 0 }, WEXITED);
	}
	stop_watching(f);
	free(f->words);
	free(f);
}

int us_fence_policy(int nodes, const char *fence_command, int override, char *why, size_t whylen)
{
	int fenced = fence_command && *fence_command;

	if (nodes != 2 || fenced) {
		snprintf(why, whylen, fenced ? "the peer is fenced before promotion"
			 : "more than two nodes: quorum alone keeps a partitioned minority from promoting");
		return 0;
	}
	if (override) {
		snprintf(why, whylen, "two-node cluster without a fence command, automatic promotion "
			 "allowed by the explicit override: a cut replication link WILL run the VM "
			 "on both hosts (split brain)");
		return 0;
	}
	snprintf(why, whylen, "automatic promotion refused: two-node cluster without a fence "
		 "command. In two-node mode both hosts stay quorate when the link between them "
		 "is cut, so each sees the other leave; without fencing the old primary first, "
		 "the standby would run a second copy of the VM (split brain, clients get replies "
		 "from both). Configure a fence command, promote by hand (`understudy promote`) "
		 "after checking the primary is off, or set the explicit override to accept the risk");
	return -EPERM;
}
