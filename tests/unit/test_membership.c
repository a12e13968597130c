/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of heartbeat/membership.c without corosync: the libcpg and
 * libquorum calls are replaced at link time (-Wl,--wrap) by a fake that keeps
 * the registered callbacks, so a test can play corosync: deliver confchg and
 * messages, answer CS_ERR_TRY_AGAIN, or fail a dispatch as a dying corosync
 * does. Checks the ANNOUNCE bytes on the wire, the peer events, the busy
 * retry, the disconnect/reconnect cycle and the status JSON.
 */
#include <config.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <cmocka.h>

#include <corosync/cpg.h>
#include <corosync/quorum.h>

#include "heartbeat/membership.h"
#include "replicator/log.h"

#define GUARD_NS (10ULL * 1000000000ULL)
#define PEER_PID 99

/* ---- fake corosync ---- */

static struct fake {
	cpg_model_v1_data_t cpg;
	void *cpg_ctx;
	quorum_model_v1_data_t quorum;
	const void *quorum_ctx;
	int cpg_fd, quorum_fd;		/* eventfds the module polls */
	cs_error_t init_rc[4];		/* answers of the next initializations, then CS_OK */
	int inits;
	cs_error_t mcast_rc[4];		/* answers of the next multicasts, then CS_OK */
	int mcasts;
	uint8_t last[64];		/* bytes of the last multicast accepted */
	size_t last_len;
	cs_error_t dispatch_rc;
} fk;

cs_error_t __wrap_cpg_model_initialize(cpg_handle_t *h, cpg_model_t m, cpg_model_data_t *d, void *ctx);
cs_error_t __wrap_cpg_model_initialize(cpg_handle_t *h, cpg_model_t m, cpg_model_data_t *d, void *ctx)
{
	cs_error_t rc = fk.inits < 4 ? fk.init_rc[fk.inits] : CS_OK;

	fk.inits++;
	if (rc != CS_OK)
		return rc;
	assert_int_equal(m, CPG_MODEL_V1);
	memcpy(&fk.cpg, d, sizeof(fk.cpg));
	fk.cpg_ctx = ctx;
	*h = 7;
	return CS_OK;
}

cs_error_t __wrap_cpg_local_get(cpg_handle_t h, unsigned int *id);
cs_error_t __wrap_cpg_local_get(cpg_handle_t h, unsigned int *id) { *id = 1; return CS_OK; }
cs_error_t __wrap_cpg_fd_get(cpg_handle_t h, int *fd);
cs_error_t __wrap_cpg_fd_get(cpg_handle_t h, int *fd) { *fd = fk.cpg_fd; return CS_OK; }
cs_error_t __wrap_cpg_join(cpg_handle_t h, const struct cpg_name *g);
cs_error_t __wrap_cpg_join(cpg_handle_t h, const struct cpg_name *g)
{
	assert_string_equal(g->value, "understudy-vm1");
	return CS_OK;
}
cs_error_t __wrap_cpg_leave(cpg_handle_t h, const struct cpg_name *g);
cs_error_t __wrap_cpg_leave(cpg_handle_t h, const struct cpg_name *g) { return CS_OK; }
cs_error_t __wrap_cpg_finalize(cpg_handle_t h);
cs_error_t __wrap_cpg_finalize(cpg_handle_t h) { return CS_OK; }
cs_error_t __wrap_cpg_context_get(cpg_handle_t h, void **ctx);
cs_error_t __wrap_cpg_context_get(cpg_handle_t h, void **ctx) { *ctx = fk.cpg_ctx; return CS_OK; }

cs_error_t __wrap_cpg_mcast_joined(cpg_handle_t h, cpg_guarantee_t g, const struct iovec *iov,
				   unsigned int n);
cs_error_t __wrap_cpg_mcast_joined(cpg_handle_t h, cpg_guarantee_t g, const struct iovec *iov,
				   unsigned int n)
{
	cs_error_t rc = fk.mcasts < 4 ? fk.mcast_rc[fk.mcasts] : CS_OK;

	fk.mcasts++;
	assert_int_equal(n, 1);
	assert_true(iov[0].iov_len <= sizeof(fk.last));
	if (rc == CS_OK) {
		memcpy(fk.last, iov[0].iov_base, iov[0].iov_len);
		fk.last_len = iov[0].iov_len;
	}
	return rc;
}

cs_error_t __wrap_cpg_dispatch(cpg_handle_t h, cs_dispatch_flags_t f);
cs_error_t __wrap_cpg_dispatch(cpg_handle_t h, cs_dispatch_flags_t f)
{
	uint64_t v;

	assert_int_equal(f, CS_DISPATCH_ALL);
	if (read(fk.cpg_fd, &v, sizeof(v)) < 0)
		return CS_ERR_TRY_AGAIN;
	return fk.dispatch_rc;
}

cs_error_t __wrap_quorum_model_initialize(quorum_handle_t *h, quorum_model_t m,
					  quorum_model_data_t *d, uint32_t *type, void *ctx);
cs_error_t __wrap_quorum_model_initialize(quorum_handle_t *h, quorum_model_t m,
					  quorum_model_data_t *d, uint32_t *type, void *ctx)
{
	memcpy(&fk.quorum, d, sizeof(fk.quorum));
	fk.quorum_ctx = ctx;
	*type = 1;
	*h = 8;
	return CS_OK;
}

cs_error_t __wrap_quorum_fd_get(quorum_handle_t h, int *fd);
cs_error_t __wrap_quorum_fd_get(quorum_handle_t h, int *fd) { *fd = fk.quorum_fd; return CS_OK; }
cs_error_t __wrap_quorum_trackstart(quorum_handle_t h, unsigned int flags);
cs_error_t __wrap_quorum_trackstart(quorum_handle_t h, unsigned int flags) { return CS_OK; }
cs_error_t __wrap_quorum_finalize(quorum_handle_t h);
cs_error_t __wrap_quorum_finalize(quorum_handle_t h) { return CS_OK; }
cs_error_t __wrap_quorum_dispatch(quorum_handle_t h, cs_dispatch_flags_t f);
cs_error_t __wrap_quorum_dispatch(quorum_handle_t h, cs_dispatch_flags_t f) { return CS_OK; }
cs_error_t __wrap_quorum_context_get(quorum_handle_t h, const void **ctx);
cs_error_t __wrap_quorum_context_get(quorum_handle_t h, const void **ctx)
{
	*ctx = fk.quorum_ctx;
	return CS_OK;
}

/* ---- what the module reports ---- */

static struct seen {
	qb_loop_t *loop;
	int joined, updated, left, quorum, down, up;
	struct { uint32_t nodeid; char name[US_HB_NAME_MAX]; int role; uint64_t epoch; } peer;
	int reason;
	int quorate;
	int stop_at_up;
} seen;

static void copy_peer(const struct us_hb_peer *p)
{
	seen.peer.nodeid = p->nodeid;
	snprintf(seen.peer.name, sizeof(seen.peer.name), "%s", p->name);
	seen.peer.role = p->role;
	seen.peer.epoch = p->epoch;
}

static void on_joined(void *o, const struct us_hb_peer *p) { seen.joined++; copy_peer(p); }
static void on_update(void *o, const struct us_hb_peer *p) { seen.updated++; copy_peer(p); }
static void on_left(void *o, const struct us_hb_peer *p, enum us_hb_left r)
{
	seen.left++;
	seen.reason = r;
	copy_peer(p);
}
static void on_quorum(void *o, int q) { seen.quorum++; seen.quorate = q; }
static void on_down(void *o) { seen.down++; qb_loop_stop(seen.loop); }
static void on_up(void *o) { seen.up++; qb_loop_stop(seen.loop); }

static const struct us_hb_cbs cbs = {
	.peer_joined = on_joined, .peer_update = on_update, .peer_left = on_left,
	.quorum = on_quorum, .disconnected = on_down, .reconnected = on_up,
};

static int setup(void **state)
{
	size_t i;

	memset(&fk, 0, sizeof(fk));
	memset(&seen, 0, sizeof(seen));
	for (i = 0; i < 4; i++)		/* CS_OK is 1, not 0 */
		fk.init_rc[i] = fk.mcast_rc[i] = CS_OK;
	fk.dispatch_rc = CS_OK;
	fk.cpg_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	fk.quorum_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(fk.cpg_fd >= 0 && fk.quorum_fd >= 0);
	seen.loop = qb_loop_create();
	assert_non_null(seen.loop);
	return 0;
}

static int teardown(void **state)
{
	us_hb_free(*state);
	qb_loop_destroy(seen.loop);
	close(fk.cpg_fd);
	close(fk.quorum_fd);
	return 0;
}

static void on_guard(void *data) { qb_loop_stop(data); }

static void run_loop(void)
{
	qb_loop_timer_handle guard = 0;

	qb_loop_timer_add(seen.loop, QB_LOOP_LOW, GUARD_NS, seen.loop, on_guard, &guard);
	qb_loop_run(seen.loop);
	qb_loop_timer_del(seen.loop, guard);
}

static struct us_hb *start(void **state)
{
	struct us_hb *hb = us_hb_new(seen.loop, "vm1", "hA", &cbs, NULL);

	assert_non_null(hb);
	*state = hb;
	return hb;
}

/* corosync's confchg: us (1, our pid) and the peer (2, PEER_PID) */
static void confchg(int peer_in, int joined_peer, int left_reason)
{
	struct cpg_address both[2] = { { .nodeid = 1, .pid = getpid() },
				       { .nodeid = 2, .pid = PEER_PID } };
	struct cpg_address gone = { .nodeid = 2, .pid = PEER_PID, .reason = left_reason };
	struct cpg_name g = { .length = 14, .value = "understudy-vm1" };

	fk.cpg.cpg_confchg_fn(7, &g, both, peer_in ? 2 : 1, &gone, left_reason ? 1 : 0,
			      joined_peer ? &both[1] : &both[0], 1);
}

static void deliver(uint16_t version, uint16_t role, uint64_t epoch, const char *name)
{
	uint8_t m[48] = { 'U', 'S', 'H', 'B' };
	struct cpg_name g = { .length = 14, .value = "understudy-vm1" };
	int i;

	m[4] = version & 0xff;
	m[5] = version >> 8;
	m[6] = role & 0xff;
	m[7] = role >> 8;
	for (i = 0; i < 8; i++)
		m[8 + i] = epoch >> (8 * i);
	strcpy((char *)m + 16, name);
	fk.cpg.cpg_deliver_fn(7, &g, 2, PEER_PID, m, sizeof(m));
}

static void test_announce_bytes(void **state)
{
	struct us_hb *hb = start(state);
	static const uint8_t want[16] = { 'U', 'S', 'H', 'B', 1, 0, 1, 0,
					  0x0d, 0x0c, 0x0b, 0x0a, 0, 0, 0, 0 };

	assert_int_equal(us_hb_connected(hb), 1);
	assert_int_equal(us_hb_announce(hb, US_HB_ROLE_PRIMARY, 0x0a0b0c0d), 0);
	assert_int_equal(fk.mcasts, 1);
	assert_int_equal(fk.last_len, 48);
	assert_memory_equal(fk.last, want, sizeof(want));	/* little-endian, version 1 */
	assert_string_equal((char *)fk.last + 16, "hA");
}

static void test_peer_events(void **state)
{
	struct us_hb *hb = start(state);

	us_hb_announce(hb, US_HB_ROLE_PRIMARY, 3);
	confchg(1, 1, 0);
	assert_int_equal(fk.mcasts, 2);		/* re-announced for the newcomer */
	assert_int_equal(us_hb_members(hb), 2);
	deliver(1, US_HB_ROLE_STANDBY, 5, "hB");
	assert_int_equal(seen.joined, 1);
	assert_string_equal(seen.peer.name, "hB");
	assert_int_equal(seen.peer.role, US_HB_ROLE_STANDBY);
	assert_int_equal(seen.peer.epoch, 5);
	deliver(1, US_HB_ROLE_STANDBY, 6, "hB");
	assert_int_equal(seen.joined, 1);
	assert_int_equal(seen.updated, 1);
	assert_int_equal(seen.peer.epoch, 6);
	confchg(0, 0, CPG_REASON_NODEDOWN);
	assert_int_equal(seen.left, 1);
	assert_int_equal(seen.reason, US_HB_LEFT_NODEDOWN);
	assert_string_equal(seen.peer.name, "hB");
	assert_int_equal(us_hb_members(hb), 1);
}

/* The member that announced a role is found (a primary renewing its watch). */
static void test_find_by_role(void **state)
{
	struct us_hb *hb = start(state);
	struct us_hb_peer p;

	confchg(1, 1, 0);
	assert_int_equal(us_hb_find(hb, US_HB_ROLE_STANDBY, &p), -ENOENT); /* not announced */
	deliver(1, US_HB_ROLE_STANDBY, 9, "hB");
	assert_int_equal(us_hb_find(hb, US_HB_ROLE_PRIMARY, &p), -ENOENT);
	assert_int_equal(us_hb_find(hb, US_HB_ROLE_STANDBY, &p), 0);
	assert_int_equal(p.nodeid, 2);
	assert_int_equal(p.pid, PEER_PID);
	assert_int_equal(p.epoch, 9);
	assert_string_equal(p.name, "hB");
	confchg(0, 0, CPG_REASON_LEAVE);
	assert_int_equal(us_hb_find(hb, US_HB_ROLE_STANDBY, &p), -ENOENT);
}

static void test_foreign_message_ignored(void **state)
{
	start(state);
	confchg(1, 1, 0);
	deliver(2, US_HB_ROLE_STANDBY, 5, "hB");	/* a future protocol version */
	assert_int_equal(seen.joined, 0);
}

static void test_busy_multicast_retried(void **state)
{
	struct us_hb *hb = start(state);

	fk.mcast_rc[0] = CS_ERR_TRY_AGAIN;
	fk.mcast_rc[1] = CS_ERR_TRY_AGAIN;
	assert_int_equal(us_hb_announce(hb, US_HB_ROLE_STANDBY, 9), 0);
	assert_int_equal(fk.last_len, 0);
	while (fk.last_len == 0 && fk.mcasts < 10) {
		qb_loop_timer_handle t = 0;

		qb_loop_timer_add(seen.loop, QB_LOOP_LOW, 50 * 1000000ULL, seen.loop, on_guard, &t);
		qb_loop_run(seen.loop);
	}
	assert_int_equal(fk.mcasts, 3);
	assert_int_equal(fk.last[6], US_HB_ROLE_STANDBY);
}

static void test_corosync_goes_away(void **state)
{
	struct us_hb *hb = start(state);
	uint64_t one = 1;

	us_hb_announce(hb, US_HB_ROLE_PRIMARY, 1);
	fk.dispatch_rc = CS_ERR_BAD_HANDLE;
	fk.init_rc[1] = CS_ERR_LIBRARY;		/* the first retry finds no corosync */
	assert_int_equal(write(fk.cpg_fd, &one, sizeof(one)), sizeof(one));
	run_loop();
	assert_int_equal(seen.down, 1);
	assert_int_equal(us_hb_connected(hb), 0);
	assert_int_equal(us_hb_members(hb), 0);
	assert_int_equal(us_hb_announce(hb, US_HB_ROLE_PRIMARY, 2), -ENOTCONN);
	fk.dispatch_rc = CS_OK;
	run_loop();
	assert_int_equal(seen.up, 1);
	assert_int_equal(seen.down, 1);
	assert_int_equal(fk.inits, 3);
	assert_int_equal(us_hb_connected(hb), 1);
	confchg(0, 0, 0);			/* our own join after reconnecting */
	assert_int_equal(fk.last[8], 2);	/* the newest epoch is re-announced */
}

static void test_no_corosync_at_start(void **state)
{
	struct us_hb *hb;

	fk.init_rc[0] = CS_ERR_LIBRARY;
	hb = start(state);
	assert_int_equal(us_hb_connected(hb), 0);
	run_loop();
	assert_int_equal(seen.up, 1);
	assert_int_equal(us_hb_connected(hb), 1);
}

static void test_quorum_and_status(void **state)
{
	struct us_hb *hb = start(state);
	struct quorum_ring_id ring = { .nodeid = 1, .seq = 4 };
	uint32_t nodes[2] = { 1, 2 };
	json_t *o = json_object();
	char *s;

	fk.quorum.quorum_notify_fn(8, 1, ring, 2, nodes);
	fk.quorum.quorum_notify_fn(8, 1, ring, 2, nodes);
	assert_int_equal(seen.quorum, 1);	/* reported on change only */
	assert_int_equal(seen.quorate, 1);
	confchg(1, 1, 0);
	deliver(1, US_HB_ROLE_STANDBY, 5, "hB");
	assert_int_equal(us_hb_status(hb, o), 0);
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(strstr(s, "\"quorate\":true"));
	assert_non_null(strstr(s, "\"name\":\"hB\""));
	assert_non_null(strstr(s, "\"role\":\"standby\""));
	free(s);
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_announce_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_find_by_role, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_message_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_multicast_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corosync_goes_away, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_corosync_at_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quorum_and_status, setup, teardown),
	};

	us_log_init("test_membership", LOG_CRIT, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
