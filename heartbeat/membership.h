/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Membership of one protected VM's hosts through Corosync: a CPG group named
 * "understudy-<vm>" in which every daemon announces its node name, role and
 * last committed epoch, plus the quorum library's quorate flag. Everything
 * runs on the caller's libqb loop; when corosync goes away the module says so
 * and reconnects every second by itself.
 */
#ifndef US_HB_MEMBERSHIP_H
#define US_HB_MEMBERSHIP_H

#include <stdint.h>
#include <jansson.h>
#include <qb/qbloop.h>

#define US_HB_NAME_MAX 32	/* node name bytes on the wire, NUL included */

enum us_hb_role {
	US_HB_ROLE_NONE = 0,
	US_HB_ROLE_PRIMARY = 1,
	US_HB_ROLE_STANDBY = 2,
};

/* Why a peer left; the values are CPG's reasons. */
enum us_hb_left {
	US_HB_LEFT_LEAVE = 2,		/* its daemon left the group cleanly */
	US_HB_LEFT_NODEDOWN = 3,	/* its host left the membership: dead or cut off */
	US_HB_LEFT_PROCDOWN = 5,	/* its daemon died, its corosync lives */
};

struct us_hb_peer {
	uint32_t nodeid;
	uint32_t pid;
	const char *name;		/* as it announced itself; valid during the call */
	enum us_hb_role role;
	uint64_t epoch;
};

/* Every callback is optional; @opaque is us_hb_new's. They run from the
 * loop while corosync's dispatch is in progress: they may call
 * us_hb_announce() and the query functions, not us_hb_free(). */
struct us_hb_cbs {
	/* a peer's first announcement since it joined the group */
	void (*peer_joined)(void *opaque, const struct us_hb_peer *p);
	/* a later announcement of a peer already known (role or epoch changed) */
	void (*peer_update)(void *opaque, const struct us_hb_peer *p);
	/* a peer left the group; @p->name is "" if it never announced itself */
	void (*peer_left)(void *opaque, const struct us_hb_peer *p, enum us_hb_left reason);
	void (*quorum)(void *opaque, int quorate);
	/* corosync went away: membership is unknown until reconnected() */
	void (*disconnected)(void *opaque);
	void (*reconnected)(void *opaque);
};

struct us_hb;

/**
 * Start joining "understudy-<vm>" as node @node_name (the name the fence
 * command gets). Connection failures are not fatal: the module retries every
 * second and calls reconnected() once it is in.
 * @return the module, or NULL with errno set (EINVAL, ENOMEM).
 */
struct us_hb *us_hb_new(qb_loop_t *loop, const char *vm, const char *node_name,
			const struct us_hb_cbs *cbs, void *opaque);

/** Leave the group and disconnect. NULL is a no-op. */
void us_hb_free(struct us_hb *hb);

/**
 * Tell the group our role and last committed epoch. Kept and re-sent whenever
 * a peer joins or we reconnect; a busy corosync (CS_ERR_TRY_AGAIN) is retried.
 * @return 0, or -ENOTCONN when not connected (sent once connected).
 */
int us_hb_announce(struct us_hb *hb, enum us_hb_role role, uint64_t epoch);

/** @return 1 when connected and in the group, else 0. */
int us_hb_connected(const struct us_hb *hb);

/** @return 1 when the cluster is quorate, 0 otherwise or when unknown. */
int us_hb_quorate(const struct us_hb *hb);

/** @return how many members the group has, us included (0 when disconnected). */
int us_hb_members(const struct us_hb *hb);

/**
 * The first member that announced @role, in *@out (its name points into the
 * module: valid until the next event). @return 0, or -ENOENT: none.
 */
int us_hb_find(const struct us_hb *hb, enum us_hb_role role, struct us_hb_peer *out);

/**
 * Add "membership": {"connected", "nodeid", "quorate", "members": [...]} to
 * the JSON object @obj for the status command.
 * @return 0 or -ENOMEM.
 */
int us_hb_status(const struct us_hb *hb, json_t *obj);

/** Name of a role / a leave reason, for logs and status. */
const char *us_hb_role_name(enum us_hb_role role);
const char *us_hb_left_name(enum us_hb_left reason);

#endif
