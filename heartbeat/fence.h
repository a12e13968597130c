/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fencing: before a standby promotes in a two-node cluster it must be sure
 * the old primary is off. This runs the configured fence command with the
 * peer's node name, asynchronously on the libqb loop, with a timeout per
 * attempt and retries with back-off, and holds the rule that refuses
 * automatic promotion in a two-node cluster that has no fence command.
 */
#ifndef US_HB_FENCE_H
#define US_HB_FENCE_H

#include <stddef.h>
#include <qb/qbloop.h>

struct us_fence_opts {
	const char *command;	/* program and arguments split on spaces, no shell */
	int timeout_ms;		/* per attempt; the child is killed after it (0: 30000) */
	int attempts;		/* give up after this many (0: 5) */
	int backoff_ms;		/* wait before the 2nd attempt, doubling (0: 1000) */
	int backoff_max_ms;	/* cap of the wait (0: 10000) */
};

/* @rc: 0 the node is fenced; -ETIMEDOUT, -EIO (non-zero exit), -ENOENT
 * (command not found) ... of the last attempt after every attempt failed. */
typedef void (*us_fence_done_fn)(void *opaque, const char *node, int rc);

struct us_fence;

/**
 * Start fencing @node: runs "<command> <node>" until it exits 0 or every
 * attempt failed, then calls @done once (from the loop, never from here).
 * @return the fencing in progress, or NULL with errno set (EINVAL: empty
 * command; ENOMEM).
 */
struct us_fence *us_fence_start(qb_loop_t *loop, const struct us_fence_opts *o,
				const char *node, us_fence_done_fn done, void *opaque);

/** Cancel (kills a running attempt, @done is not called) and free. NULL is a no-op. */
void us_fence_free(struct us_fence *f);

/**
 * The two-node rule: with exactly two nodes and no fence command, automatic
 * promotion is refused unless @override is set, because a partition would
 * leave both hosts believing the other dead and both running the VM.
 * @nodes: expected votes/nodes in the cluster.
 * @return 0 when automatic promotion may go on, -EPERM when refused; @why
 * says why in words either way.
 */
int us_fence_policy(int nodes, const char *fence_command, int override,
		    char *why, size_t whylen);

#endif
