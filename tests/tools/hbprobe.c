/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Test driver of heartbeat/membership: joins the VM's group as NODE on a
 * libqb loop, announces ROLE and EPOCH, and prints one line per event on
 * stdout, each ending with the wall clock in ms so tests can time them:
 *   joined NODEID NAME ROLE EPOCH t=MS     left NODEID NAME REASON t=MS
 *   quorum 0|1 t=MS   disconnected t=MS   reconnected t=MS
 *   status {json}     (on SIGUSR1)
 *   fencing NAME t=MS   fenced NAME RC t=MS
 * With HBPROBE_FENCE set to a fence command, a peer that leaves with
 * "nodedown" is fenced with heartbeat/fence, as the standby will do.
 * Usage: hbprobe VM NODE [primary|standby EPOCH]. SIGTERM ends it.
 */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heartbeat/fence.h"
#include "heartbeat/membership.h"
#include "replicator/log.h"

static struct us_hb *hb;
static qb_loop_t *loop;
static struct us_fence *fence;

static long long wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_joined(void *o, const struct us_hb_peer *p)
{
	printf("joined %u %s %s %llu t=%lld\n", p->nodeid, p->name, us_hb_role_name(p->role),
	       (unsigned long long)p->epoch, wall_ms());
}

static void on_fenced(void *o, const char *node, int rc)
{
	printf("fenced %s %d t=%lld\n", node, rc, wall_ms());
	us_fence_free(fence);
	fence = NULL;
}

static void start_fence(const char *node)
{
	struct us_fence_opts o = { .command = getenv("HBPROBE_FENCE"), .timeout_ms = 10000,
				   .attempts = 3, .backoff_ms = 200 };

	if (!o.command || !o.command[0] || fence || !node[0])
		return;
	printf("fencing %s t=%lld\n", node, wall_ms());
	fence = us_fence_start(loop, &o, node, on_fenced, NULL);
	if (!fence)
		printf("fenced %s %d t=%lld\n", node, -errno, wall_ms());
}

static void on_left(void *o, const struct us_hb_peer *p, enum us_hb_left why)
{
	printf("left %u %s %s t=%lld\n", p->nodeid, p->name[0] ? p->name : "?",
	       us_hb_left_name(why), wall_ms());
	if (why == US_HB_LEFT_NODEDOWN)
		start_fence(p->name);
}

static void on_quorum(void *o, int q) { printf("quorum %d t=%lld\n", q, wall_ms()); }
static void on_down(void *o) { printf("disconnected t=%lld\n", wall_ms()); }
static void on_up(void *o) { printf("reconnected t=%lld\n", wall_ms()); }

static int32_t on_stop(int sig, void *data)
{
	qb_loop_stop(data);
	return 0;
}

static int32_t on_usr1(int sig, void *data)
{
	json_t *o = json_object();
	char *s;

	if (o && us_hb_status(hb, o) == 0 && (s = json_dumps(o, JSON_COMPACT))) {
		printf("status %s\n", s);
		free(s);
	}
	json_decref(o);
	return 0;
}

int main(int argc, char **argv)
{
	const struct us_hb_cbs cbs = { .peer_joined = on_joined, .peer_left = on_left,
				       .quorum = on_quorum, .disconnected = on_down,
				       .reconnected = on_up };
	qb_loop_signal_handle sh;

	if (argc != 3 && argc != 5) {
		fprintf(stderr, "usage: hbprobe VM NODE [primary|standby EPOCH]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	us_log_init("hbprobe", LOG_INFO, 0);
	loop = qb_loop_create();
	hb = loop ? us_hb_new(loop, argv[1], argv[2], &cbs, NULL) : NULL;
	if (!hb) {
		fprintf(stderr, "hbprobe: %s\n", strerror(errno));
		return 1;
	}
	if (argc == 5)
		us_hb_announce(hb, strcmp(argv[3], "primary") ? US_HB_ROLE_STANDBY
				   : US_HB_ROLE_PRIMARY, strtoull(argv[4], NULL, 10));
	qb_loop_signal_add(loop, QB_LOOP_HIGH, SIGTERM, loop, on_stop, &sh);
	qb_loop_signal_add(loop, QB_LOOP_HIGH, SIGINT, loop, on_stop, &sh);
	qb_loop_signal_add(loop, QB_LOOP_HIGH, SIGUSR1, loop, on_usr1, &sh);
	qb_loop_run(loop);
	us_fence_free(fence);
	us_hb_free(hb);
	qb_loop_destroy(loop);
	us_log_fini();
	return 0;
}
