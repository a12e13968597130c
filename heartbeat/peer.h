/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a daemon knows of its one peer (the primary's standby, the standby's
 * primary) through Corosync: whether the peer's daemon is in the VM's CPG
 * group, whether it left (and why), the node name it announced, and the
 * fencing of that node. It wraps heartbeat/membership and heartbeat/fence so
 * the daemons only read a small state and ask for a fence; the decision
 * itself stays in failover/decide.c.
 */
#ifndef US_HB_PEER_H
#define US_HB_PEER_H

#include <stdint.h>
#include <jansson.h>
#include <qb/qbloop.h>

#include "heartbeat/membership.h"

enum us_peer_state {
	US_PEER_UNKNOWN = 0,	/* never seen since we joined */
	US_PEER_MEMBER = 1,	/* its daemon is in the group */
	US_PEER_GONE = 2,	/* left: its host died or was cut off, or its daemon died */
	US_PEER_LEFT = 3,	/* its daemon left the group cleanly (stopped by an operator) */
};

enum us_fence_state {
	US_FENCE_NONE = 0,
	US_FENCE_WAITING = 1,	/* delayed start */
	US_FENCE_RUNNING = 2,
	US_FENCE_DONE = 3,	/* the peer's node is off */
	US_FENCE_FAILED = 4,	/* every attempt failed */
};

struct us_peer_opts {
	const char *vm;
	const char *node;		/* our node name */
	enum us_hb_role self;		/* what we are; the peer is the other role */
	const char *fence_command;	/* "" or NULL: none */
	int fence_timeout_ms;
};

/* Called from the loop whenever the peer's state, the connection to corosync,
 * quorum or the fencing changed. */
typedef void (*us_peer_changed_fn)(void *opaque);

struct us_peer;

/** Join the VM's group. @return the watch, or NULL with errno set. */
struct us_peer *us_peer_new(qb_loop_t *loop, const struct us_peer_opts *o,
			    us_peer_changed_fn changed, void *opaque);

/** Leave the group, cancel a fence in progress. NULL is a no-op. */
void us_peer_free(struct us_peer *w);

/** Tell the group our role and last committed epoch. */
void us_peer_announce(struct us_peer *w, enum us_hb_role role, uint64_t epoch);

/**
 * Watch for a new peer: forget the last one (its state, its fence, done or
 * pending) but stay in the group, so that no join or leave goes unseen; a
 * member that already announced the wanted role is the peer at once.
 */
void us_peer_rewatch(struct us_peer *w);

enum us_peer_state us_peer_state(const struct us_peer *w);
/** @return why the peer went (valid in US_PEER_GONE). */
enum us_hb_left us_peer_reason(const struct us_peer *w);
/** @return the peer's node name as it announced it, "" if never. */
const char *us_peer_name(const struct us_peer *w);
int us_peer_connected(const struct us_peer *w);
/** @return 2 when votequorum runs two_node, else its expected votes, or
 * @fallback (the config's [heartbeat] nodes) before corosync has answered. */
unsigned us_peer_nodes(const struct us_peer *w, unsigned fallback);
int us_peer_quorate(const struct us_peer *w);

/**
 * Fence the peer's node after @delay_ms. Does nothing when a fence is already
 * waiting, running or done. @return 0, -ENOENT when the peer's name is not
 * known, -EINVAL without a fence command, -ENOMEM.
 */
int us_peer_fence(struct us_peer *w, int delay_ms);
/** As us_peer_fence, naming the node @node when the peer never announced
 * itself (the other host of [replication] hosts). */
int us_peer_fence_named(struct us_peer *w, const char *node, int delay_ms);
enum us_fence_state us_peer_fence_state(const struct us_peer *w);
/** Forget a finished fence (done or failed): a new peer connected, and a
 * fence of the one before proves nothing of it. A fence under way stays. */
void us_peer_fence_forget(struct us_peer *w);

/** Add peer_node, peer_state, peer_epoch, fence, cluster, quorate, two_node and the
 * "membership" object to @obj for the status command. @return 0 or -ENOMEM. */
int us_peer_status(const struct us_peer *w, json_t *obj);

const char *us_peer_state_name(enum us_peer_state s);
const char *us_fence_state_name(enum us_fence_state s);

#endif
