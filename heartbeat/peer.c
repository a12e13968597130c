/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The peer watch (see peer.h):
 *
 *   event                                  peer state
 *   peer of the other role announces       member (its node name kept)
 *   it leaves: nodedown / procdown         gone
 *   it leaves cleanly                      left
 *   corosync lost, then back               unknown until it announces again
 *
 * A peer that left while we were cut off from corosync is never reported
 * gone: after a reconnection it is unknown, which never promotes by itself.
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heartbeat/fence.h"
#include "heartbeat/peer.h"
#include "heartbeat/votes.h"
#include "replicator/log.h"

struct us_peer {
	qb_loop_t *loop;
	struct us_hb *hb;
	enum us_hb_role want;		/* the peer's role */
	us_peer_changed_fn changed;
	void *opaque;
	enum us_peer_state state;
	enum us_hb_left reason;
	uint32_t nodeid, pid;
	char name[US_HB_NAME_MAX];
	uint64_t epoch;
	struct us_fence_opts fo;
	char fence_command[256];
	struct us_fence *fence;
	enum us_fence_state fstate;
	int fence_rc;
	uint64_t fence_t0;		/* when the fence command started, monotonic ms */
	qb_loop_timer_handle delay;
	struct us_votes votes;
	int votes_known;
};

static void notify(struct us_peer *w)
{
	if (w->changed)
		w->changed(w->opaque);
}

static int is_peer(const struct us_peer *w, const struct us_hb_peer *p)
{
	return p->nodeid == w->nodeid && p->pid == w->pid;
}

/* No fence pending, running or remembered. */
static void fence_reset(struct us_peer *w)
{
	if (w->delay)
		qb_loop_timer_del(w->loop, w->delay);
	w->delay = 0;
	us_fence_free(w->fence);
	w->fence = NULL;
	w->fstate = US_FENCE_NONE;
}

/* @p is the peer from now on. */
static void take_peer(struct us_peer *w, const struct us_hb_peer *p)
{
	w->state = US_PEER_MEMBER;
	w->nodeid = p->nodeid;
	w->pid = p->pid;
	w->epoch = p->epoch;
	snprintf(w->name, sizeof(w->name), "%s", p->name);
	us_log(LOG_NOTICE, US_TAG_HB, "peer %s %s (node %u) is a member", us_hb_role_name(w->want),
	       w->name, w->nodeid);
}

static void on_seen(void *opaque, const struct us_hb_peer *p)
{
	struct us_peer *w = opaque;

	if (p->role != w->want || (w->state == US_PEER_MEMBER && is_peer(w, p))) {
		if (is_peer(w, p))
			w->epoch = p->epoch;
		return;
	}
	if (w->fstate == US_FENCE_WAITING) {
		fence_reset(w);
		us_log(LOG_NOTICE, US_TAG_HB, "fencing of %s cancelled: it is back", p->name);
	}
	take_peer(w, p);
	notify(w);
}

static void on_left(void *opaque, const struct us_hb_peer *p, enum us_hb_left reason)
{
	struct us_peer *w = opaque;

	if (w->state != US_PEER_MEMBER || !is_peer(w, p))
		return;
	w->state = reason == US_HB_LEFT_LEAVE ? US_PEER_LEFT : US_PEER_GONE;
	w->reason = reason;
	us_log(LOG_WARNING, US_TAG_HB, "peer %s %s (node %u) left the group: %s",
	       us_hb_role_name(w->want), w->name, w->nodeid, us_hb_left_name(reason));
	notify(w);
}

/* The cluster's shape, from votequorum; kept from the last answer. */
static void query_votes(struct us_peer *w)
{
	struct us_votes v;

	if (us_votes_query(&v) < 0)
		return;
	if (!w->votes_known || v.two_node != w->votes.two_node)
		us_log(LOG_INFO, US_TAG_HB, "votequorum: %s, %u expected votes",
		       v.two_node ? "two_node" : "not two_node", v.expected);
	w->votes = v;
	w->votes_known = 1;
}

static void on_quorum(void *opaque, int quorate)
{
	query_votes(opaque);
	notify(opaque);
}

static void on_disconnected(void *opaque)
{
	notify(opaque);
}

static void on_reconnected(void *opaque)
{
	struct us_peer *w = opaque;

	if (w->state == US_PEER_MEMBER)
		w->state = US_PEER_UNKNOWN;
	query_votes(w);
	notify(w);
}

static const struct us_hb_cbs hb_cbs = {
	.peer_joined = on_seen, .peer_update = on_seen, .peer_left = on_left,
	.quorum = on_quorum, .disconnected = on_disconnected, .reconnected = on_reconnected,
};

struct us_peer *us_peer_new(qb_loop_t *loop, const struct us_peer_opts *o,
			    us_peer_changed_fn changed, void *opaque)
{
	struct us_peer *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->loop = loop;
	w->want = o->self == US_HB_ROLE_PRIMARY ? US_HB_ROLE_STANDBY : US_HB_ROLE_PRIMARY;
	w->changed = changed;
	w->opaque = opaque;
	snprintf(w->fence_command, sizeof(w->fence_command), "%s",
		 o->fence_command ? o->fence_command : "");
	w->fo.command = w->fence_command;
	w->fo.timeout_ms = o->fence_timeout_ms;
	w->hb = us_hb_new(loop, o->vm, o->node, &hb_cbs, w);
	if (!w->hb) {
		int e = errno;

		free(w);
		errno = e;
		return NULL;
	}
	query_votes(w);
	return w;
}

void us_peer_free(struct us_peer *w)
{
	if (!w)
		return;
	fence_reset(w);
	us_hb_free(w->hb);
	free(w);
}

void us_peer_announce(struct us_peer *w, enum us_hb_role role, uint64_t epoch)
{
	us_hb_announce(w->hb, role, epoch);
}

void us_peer_rewatch(struct us_peer *w)
{
	struct us_hb_peer p;

	fence_reset(w);
	w->state = US_PEER_UNKNOWN;
	w->nodeid = w->pid = 0;
	w->epoch = 0;
	w->name[0] = '\0';
	if (us_hb_find(w->hb, w->want, &p) == 0)
		take_peer(w, &p); /* no callback: the caller is the one renewing */
}

enum us_peer_state us_peer_state(const struct us_peer *w) { return w->state; }
enum us_hb_left us_peer_reason(const struct us_peer *w) { return w->reason; }
const char *us_peer_name(const struct us_peer *w) { return w->name; }
int us_peer_connected(const struct us_peer *w) { return us_hb_connected(w->hb); }
int us_peer_quorate(const struct us_peer *w) { return us_hb_quorate(w->hb); }
enum us_fence_state us_peer_fence_state(const struct us_peer *w) { return w->fstate; }

unsigned us_peer_nodes(const struct us_peer *w, unsigned fallback)
{
	if (!w->votes_known)
		return fallback;
	return w->votes.two_node ? 2 : w->votes.expected;
}

/* ---- fencing ---- */

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void fence_done(void *opaque, const char *node, int rc)
{
	struct us_peer *w = opaque;

	w->fence_rc = rc;
	w->fstate = rc == 0 ? US_FENCE_DONE : US_FENCE_FAILED;
	if (rc == 0)
		us_log(LOG_NOTICE, US_TAG_HB, "FENCED node %s: it is off (fence command: %lu ms)",
		       node, (unsigned long)(mono_ms() - w->fence_t0));
	else
		us_log(LOG_CRIT, US_TAG_HB, "fencing node %s FAILED after every attempt (%s): "
		       "check the fence command; nothing is decided until it is off", node,
		       strerror(-rc));
	notify(w);
}

static void fence_now(void *data)
{
	struct us_peer *w = data;

	w->delay = 0;
	w->fence_t0 = mono_ms();
	us_log(LOG_WARNING, US_TAG_HB, "fencing node %s: %s %s", w->name, w->fence_command,
	       w->name);
	w->fence = us_fence_start(w->loop, &w->fo, w->name, fence_done, w);
	w->fstate = w->fence ? US_FENCE_RUNNING : US_FENCE_FAILED;
	if (!w->fence)
		fence_done(w, w->name, -errno);
	else
		notify(w);
}

int us_peer_fence_named(struct us_peer *w, const char *node, int delay_ms)
{
	if (!w->name[0] && node && node[0])
		snprintf(w->name, sizeof(w->name), "%s", node);
	return us_peer_fence(w, delay_ms);
}

int us_peer_fence(struct us_peer *w, int delay_ms)
{
	if (!w->fence_command[0])
		return -EINVAL;
	if (!w->name[0])
		return -ENOENT;
	if (w->fstate != US_FENCE_NONE)
		return 0;
	w->fstate = US_FENCE_WAITING;
	if (delay_ms > 0)
		us_log(LOG_WARNING, US_TAG_HB, "fencing node %s in %d ms unless this host is "
		       "fenced first", w->name, delay_ms);
	return qb_loop_timer_add(w->loop, QB_LOOP_HIGH, (uint64_t)delay_ms * 1000000ULL, w,
				 fence_now, &w->delay);
}

/* ---- status ---- */

static const char *const peer_names[] = {
	[US_PEER_UNKNOWN] = "unknown", [US_PEER_MEMBER] = "member",
	[US_PEER_GONE] = "gone", [US_PEER_LEFT] = "left",
};

static const char *const fence_names[] = {
	[US_FENCE_NONE] = "none", [US_FENCE_WAITING] = "waiting", [US_FENCE_RUNNING] = "running",
	[US_FENCE_DONE] = "done", [US_FENCE_FAILED] = "failed",
};

const char *us_peer_state_name(enum us_peer_state s) { return peer_names[s]; }
const char *us_fence_state_name(enum us_fence_state s) { return fence_names[s]; }

int us_peer_status(const struct us_peer *w, json_t *obj)
{
	json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:b, s:b, s:s}", "peer_node", w->name,
			      "peer_state", peer_names[w->state], "peer_epoch", (json_int_t)w->epoch,
			      "fence", fence_names[w->fstate], "cluster", us_hb_connected(w->hb),
			      "quorate", us_hb_quorate(w->hb),
			      "two_node", !w->votes_known ? "unknown" : w->votes.two_node ? "yes"
			      : "no");

	if (!o || json_object_update(obj, o) < 0) {
		json_decref(o);
		return -ENOMEM;
	}
	json_decref(o);
	return us_hb_status(w->hb, obj);
}

void us_peer_fence_forget(struct us_peer *w)
{
	if (w->fstate != US_FENCE_DONE && w->fstate != US_FENCE_FAILED)
		return;
	us_log(LOG_INFO, US_TAG_HB, "the fence of node %s (%s) is forgotten: a new peer connected",
	       w->name, fence_names[w->fstate]);
	fence_reset(w);
}
