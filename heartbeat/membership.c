/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Corosync membership for one VM (see membership.h). The protocol in the
 * group "understudy-<vm>" is one message, ANNOUNCE, multicast in agreed order:
 *
 *   event                              action
 *   we connect (cpg_join)              confchg lists us joined: send ANNOUNCE
 *   a peer joins the group             send ANNOUNCE again, so it learns us
 *   ANNOUNCE from an unknown peer      peer_joined(name, role, epoch)
 *   ANNOUNCE from a known peer         peer_update(...)
 *   confchg lists a peer as left       peer_left(reason: leave/nodedown/procdown)
 *   quorum notification                quorum(quorate) when it changed
 *   dispatch fails (corosync gone)     disconnected(); retry every second
 *   retry succeeds                     reconnected(); the join re-announces us
 *
 * cs_error_t is translated to -errno in cs_errno() and nowhere else.
 */
#include <config.h>

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>

#include <corosync/cpg.h>
#include <corosync/quorum.h>

#include "heartbeat/membership.h"
#include "replicator/log.h"

#define HB_MAGIC 0x42485355u		/* "USHB" little-endian */
#define HB_VERSION 1
#define HB_MEMBERS_MAX 16
#define HB_RETRY_MS 1000		/* reconnect period while corosync is away */
#define HB_BUSY_MS 100			/* reconnect after CS_ERR_TRY_AGAIN */
#define HB_SEND_MIN_MS 10		/* first back-off of a busy multicast */
#define HB_SEND_MAX_MS 500
#define HB_LOG_EVERY 60			/* repeat "still no corosync" once a minute */

/* ANNOUNCE on the wire: fixed width, little-endian. */
struct hb_msg {
	uint32_t magic;
	uint16_t version;
	uint16_t role;
	uint64_t epoch;
	char name[US_HB_NAME_MAX];	/* sender's node name, NUL-terminated */
};
_Static_assert(sizeof(struct hb_msg) == 48, "hb_msg is 48 bytes on the wire");

struct hb_member {
	uint32_t nodeid;
	uint32_t pid;
	int announced;
	enum us_hb_role role;
	uint64_t epoch;
	char name[US_HB_NAME_MAX];
};

struct us_hb {
	qb_loop_t *loop;
	struct us_hb_cbs cbs;
	void *opaque;
	struct cpg_name group;
	char node_name[US_HB_NAME_MAX];
	cpg_handle_t cpg;
	quorum_handle_t quorum;
	int have_cpg;			/* cpg handle initialized */
	int have_quorum;
	int cpg_fd;			/* polled on the loop; -1 when not */
	int quorum_fd;
	int connected;
	int reported_down;		/* disconnected() said, reconnected() owed */
	unsigned int fails;		/* connection attempts failed in a row */
	uint32_t nodeid;		/* ours */
	uint32_t pid;			/* ours, as CPG sees it */
	int quorate;
	struct hb_member members[HB_MEMBERS_MAX];	/* peers, not us */
	size_t n_members;
	uint32_t n_ring;		/* nodes in the totem ring */
	enum us_hb_role role;		/* what we announce */
	uint64_t epoch;
	int announce_set;
	unsigned int send_ms;		/* current back-off of a busy multicast */
	qb_loop_timer_handle retry_timer;
	qb_loop_timer_handle send_timer;
};

static int try_connect(struct us_hb *hb);

/* ---- errors ---- */

static int cs_errno(cs_error_t e)
{
	static const int table[] = {
		[CS_OK] = 0, [CS_ERR_LIBRARY] = ENOTCONN, [CS_ERR_VERSION] = EPROTO,
		[CS_ERR_INIT] = EIO, [CS_ERR_TIMEOUT] = ETIMEDOUT, [CS_ERR_TRY_AGAIN] = EAGAIN,
		[CS_ERR_INVALID_PARAM] = EINVAL, [CS_ERR_NO_MEMORY] = ENOMEM,
		[CS_ERR_BAD_HANDLE] = EBADF, [CS_ERR_BUSY] = EBUSY, [CS_ERR_ACCESS] = EACCES,
		[CS_ERR_NOT_EXIST] = ENOENT, [CS_ERR_NAME_TOO_LONG] = ENAMETOOLONG,
		[CS_ERR_EXIST] = EEXIST, [CS_ERR_NO_SPACE] = ENOSPC, [CS_ERR_INTERRUPT] = EINTR,
		[CS_ERR_NO_RESOURCES] = ENOBUFS, [CS_ERR_NOT_SUPPORTED] = EOPNOTSUPP,
		[CS_ERR_QUEUE_FULL] = EAGAIN, [CS_ERR_TOO_BIG] = E2BIG,
		[CS_ERR_SECURITY] = EACCES,
	};

	if (e == CS_OK)
		return 0;
	if ((size_t)e < sizeof(table) / sizeof(table[0]) && table[e])
		return -table[e];
	return -EIO;
}

/* ---- names ---- */

const char *us_hb_role_name(enum us_hb_role role)
{
	switch (role) {
	case US_HB_ROLE_PRIMARY: return "primary";
	case US_HB_ROLE_STANDBY: return "standby";
	default: return "none";
	}
}

const char *us_hb_left_name(enum us_hb_left reason)
{
	switch (reason) {
	case US_HB_LEFT_LEAVE: return "leave";
	case US_HB_LEFT_NODEDOWN: return "nodedown";
	case US_HB_LEFT_PROCDOWN: return "procdown";
	default: return "unknown";
	}
}

/* ---- member table ---- */

static struct hb_member *find_member(struct us_hb *hb, uint32_t nodeid, uint32_t pid)
{
	size_t i;

	for (i = 0; i < hb->n_members; i++)
		if (hb->members[i].nodeid == nodeid && hb->members[i].pid == pid)
			return &hb->members[i];
	return NULL;
}

static struct hb_member *add_member(struct us_hb *hb, uint32_t nodeid, uint32_t pid)
{
	struct hb_member *m = find_member(hb, nodeid, pid);

	if (m)
		return m;
	if (hb->n_members == HB_MEMBERS_MAX) {
		us_log(LOG_WARNING, US_TAG_HB, "more than %d daemons in group %s: ignoring node %u",
		       HB_MEMBERS_MAX, hb->group.value, nodeid);
		return NULL;
	}
	m = &hb->members[hb->n_members++];
	memset(m, 0, sizeof(*m));
	m->nodeid = nodeid;
	m->pid = pid;
	return m;
}

static void remove_member(struct us_hb *hb, struct hb_member *m)
{
	size_t i = m - hb->members;

	memmove(m, m + 1, (hb->n_members - i - 1) * sizeof(*m));
	hb->n_members--;
}

static int is_self(const struct us_hb *hb, uint32_t nodeid, uint32_t pid)
{
	return nodeid == hb->nodeid && pid == hb->pid;
}

static struct us_hb_peer peer_of(const struct hb_member *m)
{
	return (struct us_hb_peer){ .nodeid = m->nodeid, .pid = m->pid, .name = m->name,
				    .role = m->role, .epoch = m->epoch };
}

int us_hb_find(const struct us_hb *hb, enum us_hb_role role, struct us_hb_peer *out)
{
	size_t i;

	for (i = 0; i < hb->n_members; i++)
		if (hb->members[i].announced && hb->members[i].role == role) {
			*out = peer_of(&hb->members[i]);
			return 0;
		}
	return -ENOENT;
}

/* ---- sending ANNOUNCE ---- */

static void send_announce(struct us_hb *hb);

static void send_retry(void *data)
{
	struct us_hb *hb = data;

	hb->send_timer = 0;
	send_announce(hb);
}

static void send_later(struct us_hb *hb)
{
	hb->send_ms = hb->send_ms ? hb->send_ms * 2 : HB_SEND_MIN_MS;
	if (hb->send_ms > HB_SEND_MAX_MS)
		hb->send_ms = HB_SEND_MAX_MS;
	if (!hb->send_timer)
		qb_loop_timer_add(hb->loop, QB_LOOP_MED, (uint64_t)hb->send_ms * 1000000ULL,
				  hb, send_retry, &hb->send_timer);
}

static void send_announce(struct us_hb *hb)
{
	struct hb_msg msg = { .magic = htole32(HB_MAGIC), .version = htole16(HB_VERSION),
			      .role = htole16(hb->role), .epoch = htole64(hb->epoch) };
	struct iovec iov = { .iov_base = &msg, .iov_len = sizeof(msg) };
	int rc;

	if (!hb->connected || !hb->announce_set || hb->send_timer)
		return;
	memcpy(msg.name, hb->node_name, sizeof(msg.name));
	rc = cs_errno(cpg_mcast_joined(hb->cpg, CPG_TYPE_AGREED, &iov, 1));
	if (rc == -EAGAIN) {
		send_later(hb);
		return;
	}
	hb->send_ms = 0;
	if (rc < 0)
		us_log(LOG_WARNING, US_TAG_HB, "announcing to %s failed: %s", hb->group.value,
		       strerror(-rc));
}

int us_hb_announce(struct us_hb *hb, enum us_hb_role role, uint64_t epoch)
{
	hb->role = role;
	hb->epoch = epoch;
	hb->announce_set = 1;
	if (!hb->connected)
		return -ENOTCONN;
	send_announce(hb);
	return 0;
}

/* ---- CPG callbacks ---- */

static struct us_hb *hb_of_cpg(cpg_handle_t h)
{
	void *ctx = NULL;

	cpg_context_get(h, &ctx);
	return ctx;
}

static int parse_msg(const void *buf, size_t len, struct hb_msg *out)
{
	if (len < sizeof(*out))
		return -EBADMSG;
	memcpy(out, buf, sizeof(*out));
	if (le32toh(out->magic) != HB_MAGIC || le16toh(out->version) != HB_VERSION)
		return -EPROTO;
	out->name[sizeof(out->name) - 1] = 0;
	return 0;
}

static void on_deliver(cpg_handle_t h, const struct cpg_name *group, uint32_t nodeid,
		       uint32_t pid, void *buf, size_t len)
{
	struct us_hb *hb = hb_of_cpg(h);
	struct hb_member *m;
	struct us_hb_peer p;
	struct hb_msg msg;
	int first;

	if (!hb || is_self(hb, nodeid, pid))
		return;
	if (parse_msg(buf, len, &msg) < 0) {
		us_log(LOG_WARNING, US_TAG_HB, "node %u sent a message that is not ANNOUNCE v%d: "
		       "is another program using group %s?", nodeid, HB_VERSION, hb->group.value);
		return;
	}
	m = add_member(hb, nodeid, pid);
	if (!m)
		return;
	first = !m->announced;
	m->announced = 1;
	m->role = le16toh(msg.role);
	m->epoch = le64toh(msg.epoch);
	memcpy(m->name, msg.name, sizeof(m->name));
	p = peer_of(m);
	if (first && hb->cbs.peer_joined)
		hb->cbs.peer_joined(hb->opaque, &p);
	else if (!first && hb->cbs.peer_update)
		hb->cbs.peer_update(hb->opaque, &p);
}

static void handle_left(struct us_hb *hb, const struct cpg_address *a)
{
	struct hb_member *m = find_member(hb, a->nodeid, a->pid);
	struct hb_member gone = { .nodeid = a->nodeid, .pid = a->pid };
	struct us_hb_peer p;

	if (is_self(hb, a->nodeid, a->pid))
		return;
	if (m) {
		gone = *m;
		remove_member(hb, m);
	}
	us_log(LOG_NOTICE, US_TAG_HB, "node %u (%s) left %s: %s", gone.nodeid,
	       gone.name[0] ? gone.name : "?", hb->group.value, us_hb_left_name(a->reason));
	p = peer_of(&gone);
	if (hb->cbs.peer_left)
		hb->cbs.peer_left(hb->opaque, &p, (enum us_hb_left)a->reason);
}

static void on_confchg(cpg_handle_t h, const struct cpg_name *group,
		       const struct cpg_address *members, size_t n_members,
		       const struct cpg_address *left, size_t n_left,
		       const struct cpg_address *joined, size_t n_joined)
{
	struct us_hb *hb = hb_of_cpg(h);
	size_t i;

	if (!hb)
		return;
	for (i = 0; i < n_left; i++)
		handle_left(hb, &left[i]);
	for (i = 0; i < n_members; i++)
		if (!is_self(hb, members[i].nodeid, members[i].pid))
			add_member(hb, members[i].nodeid, members[i].pid);
	us_log(LOG_INFO, US_TAG_HB, "group %s: %zu members, %zu joined, %zu left",
	       hb->group.value, n_members, n_joined, n_left);
	if (n_joined)
		send_announce(hb);
}

static void on_totem(cpg_handle_t h, struct cpg_ring_id ring, uint32_t n, const uint32_t *list)
{
	struct us_hb *hb = hb_of_cpg(h);

	if (!hb)
		return;
	hb->n_ring = n;
	us_log(LOG_INFO, US_TAG_HB, "totem ring %u.%llu: %u node(s)", ring.nodeid,
	       (unsigned long long)ring.seq, n);
}

/* ---- quorum callbacks ---- */

static void on_quorum(quorum_handle_t h, uint32_t quorate, struct quorum_ring_id ring,
		      uint32_t n, const uint32_t *list)
{
	const void *ctx = NULL;
	struct us_hb *hb;

	quorum_context_get(h, &ctx);
	hb = (struct us_hb *)ctx;
	if (!hb || hb->quorate == !!quorate)
		return;
	hb->quorate = !!quorate;
	us_log(LOG_NOTICE, US_TAG_HB, "cluster is %s (%u node(s))",
	       quorate ? "quorate" : "NOT quorate", n);
	if (hb->cbs.quorum)
		hb->cbs.quorum(hb->opaque, hb->quorate);
}

static void on_nodelist(quorum_handle_t h, struct quorum_ring_id ring, uint32_t n,
			const uint32_t *list, uint32_t n_joined, const uint32_t *joined,
			uint32_t n_left, const uint32_t *left)
{
	us_log(LOG_DEBUG, US_TAG_HB, "quorum nodelist: %u node(s), %u joined, %u left",
	       n, n_joined, n_left);
}

/* ---- connection ---- */

static void drop_connection(struct us_hb *hb)
{
	if (hb->cpg_fd >= 0)
		qb_loop_poll_del(hb->loop, hb->cpg_fd);
	if (hb->quorum_fd >= 0)
		qb_loop_poll_del(hb->loop, hb->quorum_fd);
	hb->cpg_fd = hb->quorum_fd = -1;
	if (hb->send_timer)
		qb_loop_timer_del(hb->loop, hb->send_timer);
	hb->send_timer = 0;
	if (hb->have_cpg && hb->connected)
		cpg_leave(hb->cpg, &hb->group);
	if (hb->have_cpg)
		cpg_finalize(hb->cpg);
	if (hb->have_quorum)
		quorum_finalize(hb->quorum);
	hb->have_cpg = hb->have_quorum = hb->connected = 0;
	hb->n_members = 0;
	hb->n_ring = 0;
	hb->quorate = 0;
}

static void retry_connect(void *data)
{
	struct us_hb *hb = data;

	hb->retry_timer = 0;
	try_connect(hb);
}

static void schedule_retry(struct us_hb *hb, int rc)
{
	unsigned int ms = rc == -EAGAIN ? HB_BUSY_MS : HB_RETRY_MS;

	if (hb->retry_timer)
		return;
	if (hb->fails++ % HB_LOG_EVERY == 0)
		us_log(LOG_WARNING, US_TAG_HB, "cannot join corosync group %s: %s (attempt %u); "
		       "is corosync running in this host's network namespace? retrying every %u ms",
		       hb->group.value, strerror(-rc), hb->fails, ms);
	qb_loop_timer_add(hb->loop, QB_LOOP_MED, (uint64_t)ms * 1000000ULL, hb, retry_connect,
			  &hb->retry_timer);
}

static void lose_connection(struct us_hb *hb, int rc)
{
	if (!hb->have_cpg && !hb->have_quorum)
		return;		/* the other handle already reported it */
	us_log(LOG_ERR, US_TAG_HB, "lost corosync (%s): membership unknown until it is back",
	       strerror(-rc));
	drop_connection(hb);
	hb->reported_down = 1;
	if (hb->cbs.disconnected)
		hb->cbs.disconnected(hb->opaque);
	schedule_retry(hb, rc);
}

static int cpg_ready(int fd, int revents, void *data)
{
	struct us_hb *hb = data;
	int rc = cs_errno(cpg_dispatch(hb->cpg, CS_DISPATCH_ALL));

	if (rc < 0 && rc != -EAGAIN)
		lose_connection(hb, rc);
	return 0;
}

static int quorum_ready(int fd, int revents, void *data)
{
	struct us_hb *hb = data;
	int rc = cs_errno(quorum_dispatch(hb->quorum, CS_DISPATCH_ALL));

	if (rc < 0 && rc != -EAGAIN)
		lose_connection(hb, rc);
	return 0;
}

static int connect_cpg(struct us_hb *hb)
{
	cpg_model_v1_data_t model = {
		/* cppcheck-suppress legacyUninitvar ; a designated initializer */
		.model = CPG_MODEL_V1, .cpg_deliver_fn = on_deliver, .cpg_confchg_fn = on_confchg,
		.cpg_totem_confchg_fn = on_totem, .flags = CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF,
	};
	int rc;

	rc = cs_errno(cpg_model_initialize(&hb->cpg, CPG_MODEL_V1, (cpg_model_data_t *)&model, hb));
	if (rc < 0)
		return rc;
	hb->have_cpg = 1;
	rc = cs_errno(cpg_local_get(hb->cpg, &hb->nodeid));
	if (rc == 0)
		rc = cs_errno(cpg_fd_get(hb->cpg, &hb->cpg_fd));
	if (rc < 0) {
		hb->cpg_fd = -1;
		return rc;
	}
	rc = qb_loop_poll_add(hb->loop, QB_LOOP_HIGH, hb->cpg_fd, POLLIN, hb, cpg_ready);
	if (rc < 0) {
		hb->cpg_fd = -1;
		return rc;
	}
	return cs_errno(cpg_join(hb->cpg, &hb->group));
}

static int connect_quorum(struct us_hb *hb)
{
	/* cppcheck-suppress legacyUninitvar ; a designated initializer */
	quorum_model_v1_data_t model = { .model = QUORUM_MODEL_V1, .quorum_notify_fn = on_quorum,
					 .nodelist_notify_fn = on_nodelist };
	uint32_t type = 0;
	int rc;

	rc = cs_errno(quorum_model_initialize(&hb->quorum, QUORUM_MODEL_V1,
					      (quorum_model_data_t *)&model, &type, hb));
	if (rc < 0)
		return rc;
	hb->have_quorum = 1;
	if (!type)
		us_log(LOG_WARNING, US_TAG_HB, "corosync has no quorum provider: set "
		       "quorum { provider: corosync_votequorum } in corosync.conf");
	rc = cs_errno(quorum_fd_get(hb->quorum, &hb->quorum_fd));
	if (rc < 0) {
		hb->quorum_fd = -1;
		return rc;
	}
	rc = qb_loop_poll_add(hb->loop, QB_LOOP_HIGH, hb->quorum_fd, POLLIN, hb, quorum_ready);
	if (rc < 0) {
		hb->quorum_fd = -1;
		return rc;
	}
	return cs_errno(quorum_trackstart(hb->quorum, CS_TRACK_CURRENT | CS_TRACK_CHANGES));
}

static int try_connect(struct us_hb *hb)
{
	int rc = connect_cpg(hb);

	if (rc == 0)
		rc = connect_quorum(hb);
	if (rc < 0) {
		drop_connection(hb);
		schedule_retry(hb, rc);
		return rc;
	}
	hb->connected = 1;
	us_log(LOG_NOTICE, US_TAG_HB, "joined %s as node %u (%s)", hb->group.value, hb->nodeid,
	       hb->node_name);
	hb->fails = 0;
	if (hb->reported_down && hb->cbs.reconnected) {
		hb->reported_down = 0;
		hb->cbs.reconnected(hb->opaque);
	}
	return 0;
}

/* ---- life ---- */

struct us_hb *us_hb_new(qb_loop_t *loop, const char *vm, const char *node_name,
			const struct us_hb_cbs *cbs, void *opaque)
{
	struct us_hb *hb;
	int n;

	if (!loop || !vm || !node_name || !*node_name || strlen(node_name) >= US_HB_NAME_MAX) {
		errno = EINVAL;
		return NULL;
	}
	hb = calloc(1, sizeof(*hb));
	if (!hb)
		return NULL;
	n = snprintf(hb->group.value, sizeof(hb->group.value), "understudy-%s", vm);
	if (n >= (int)sizeof(hb->group.value)) {
		free(hb);
		errno = ENAMETOOLONG;
		return NULL;
	}
	hb->group.length = n;
	hb->loop = loop;
	hb->cbs = *cbs;
	hb->opaque = opaque;
	hb->cpg_fd = hb->quorum_fd = -1;
	hb->pid = getpid();
	strcpy(hb->node_name, node_name);
	if (try_connect(hb) < 0)
		hb->reported_down = 1;	/* reconnected() will say when it is in */
	return hb;
}

void us_hb_free(struct us_hb *hb)
{
	if (!hb)
		return;
	if (hb->retry_timer)
		qb_loop_timer_del(hb->loop, hb->retry_timer);
	drop_connection(hb);
	free(hb);
}

/* ---- status ---- */

int us_hb_connected(const struct us_hb *hb) { return hb->connected; }
int us_hb_quorate(const struct us_hb *hb) { return hb->connected && hb->quorate; }
int us_hb_members(const struct us_hb *hb) { return hb->connected ? (int)hb->n_members + 1 : 0; }

static json_t *member_json(const struct hb_member *m)
{
	return json_pack("{s:I, s:I, s:s, s:s, s:I}", "nodeid", (json_int_t)m->nodeid,
			 "pid", (json_int_t)m->pid, "name", m->name,
			 "role", m->announced ? us_hb_role_name(m->role) : "unknown",
			 "epoch", (json_int_t)m->epoch);
}

int us_hb_status(const struct us_hb *hb, json_t *obj)
{
	json_t *list = json_array(), *o;
	size_t i;

	if (!list)
		return -ENOMEM;
	for (i = 0; hb->connected && i < hb->n_members; i++)
		json_array_append_new(list, member_json(&hb->members[i]));
	o = json_pack("{s:b, s:I, s:s, s:b, s:I, s:o}", "connected", hb->connected,
		      "nodeid", (json_int_t)hb->nodeid, "name", hb->node_name,
		      "quorate", us_hb_quorate(hb), "ring_nodes", (json_int_t)hb->n_ring,
		      "members", list);
	if (!o)
		return -ENOMEM;
	return json_object_set_new(obj, "membership", o) < 0 ? -ENOMEM : 0;
}
