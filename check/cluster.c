/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Cluster checks, reported and never a reason to refuse a start (they change
 * over time): corosync answers, the partition is quorate, this node's name
 * is in the membership; the fence command can run, and two nodes without one
 * risk split brain; RDMA has a device for the replication address and
 * enough locked memory; the replication address binds (standby) or resolves
 * (primary).
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check/check_int.h"

static void check_membership(const struct us_config *cfg, const struct us_cs_facts *f,
			     struct us_check_report *r)
{
	if (!f->node_nodeid)
		us_check_add(r, "corosync.node", US_CHECK_FAIL,
			     "set [heartbeat] node to this host's name in corosync.conf's nodelist",
			     "node '%s' is not in corosync's nodelist (this host is node %u '%s')",
			     cfg->node, f->local_nodeid, f->local_name);
	else if (f->node_nodeid != f->local_nodeid)
		us_check_add(r, "corosync.node", US_CHECK_FAIL,
			     "set [heartbeat] node to this host's own name",
			     "node '%s' is corosync node %u, but this host is node %u '%s'",
			     cfg->node, f->node_nodeid, f->local_nodeid, f->local_name);
	else if (!f->node_joined)
		us_check_add(r, "corosync.node", US_CHECK_FAIL,
			     "check corosync's links (corosync-cfgtool -s)",
			     "node '%s' (%u) is not in the membership", cfg->node, f->node_nodeid);
	else
		us_check_add(r, "corosync.node", US_CHECK_PASS, NULL,
			     "node '%s' (%u) is a member (%u members)", cfg->node, f->node_nodeid,
			     f->members);
}

static void check_corosync(const struct us_config *cfg, const struct us_check_sys *sys,
			   struct us_check_report *r)
{
	struct us_cs_facts f = { 0 };
	int rc;

	if (!cfg->membership)
		return;
	rc = sys->corosync(cfg->node, &f);
	if (rc < 0) {
		us_check_add(r, "corosync", US_CHECK_FAIL,
			     "start corosync (systemctl start "
			     "corosync) in this host's network namespace",
			     "corosync does not answer: %s", strerror(-rc));
		return;
	}
	us_check_add(r, "corosync", US_CHECK_PASS, NULL, "corosync answers");
	if (f.quorate)
		us_check_add(r, "corosync.quorum", US_CHECK_PASS, NULL, "the partition is quorate");
	else
		us_check_add(r, "corosync.quorum", US_CHECK_FAIL,
			     "bring the other nodes up or "
			     "repair the links; a standby never promotes without quorum",
			     "the partition is not quorate");
	check_membership(cfg, &f, r);
}

static void check_fence(const struct us_config *cfg, const struct us_check_sys *sys,
			struct us_check_report *r)
{
	char prog[256];
	int rc;

	if (!cfg->fence_command[0]) {
		if (cfg->membership && cfg->nodes == 2)
			us_check_add(r, "fence", US_CHECK_WARN, "set [heartbeat] fence_command",
				     "two nodes and no fence command: a cut link leaves each "
				     "side thinking the other dead (split brain), so the standby "
				     "does not promote by itself%s",
				     cfg->allow_unfenced ? " (allow_unfenced = yes: it does, and "
							   "risks two copies)"
							 : "");
		else
			us_check_add(r, "fence", US_CHECK_PASS, NULL, "no fence command needed");
		return;
	}
	sscanf(cfg->fence_command, "%255s", prog);
	rc = sys->executable(prog);
	if (rc < 0)
		us_check_add(r, "fence", US_CHECK_FAIL,
			     "install the fence agent or fix [heartbeat] fence_command",
			     "fence command %s cannot run: %s", prog, strerror(-rc));
	else
		us_check_add(r, "fence", US_CHECK_PASS, NULL, "fence command %s is executable",
			     prog);
}

/* The host part of HOST:PORT; "" for a bare ":PORT". */
static void host_of(const char *hostport, char *host, size_t len)
{
	const char *colon = strrchr(hostport, ':');
	size_t n = colon ? (size_t)(colon - hostport) : strlen(hostport);

	snprintf(host, len, "%.*s", (int)n, hostport);
}

static void check_memlock(const struct us_config *cfg, const struct us_check_sys *sys,
			  struct us_check_report *r)
{
	uint64_t lim = 0, need = 64u << 20;

	sys->memlock(&lim);
	if (lim >= need)
		us_check_add(r, "rdma.memlock", US_CHECK_PASS, NULL, "RLIMIT_MEMLOCK %s",
			     lim == UINT64_MAX ? "unlimited" : "large enough");
	else
		us_check_add(r, "rdma.memlock",
			     cfg->transport == US_TRANSPORT_RDMA ? US_CHECK_FAIL : US_CHECK_WARN,
			     "LimitMEMLOCK=infinity in the unit, or ulimit -l unlimited",
			     "RLIMIT_MEMLOCK is %llu KiB: RDMA cannot register its rings",
			     (unsigned long long)(lim >> 10));
}

static void check_rdma(const struct us_config *cfg, const char *role,
		       const struct us_check_sys *sys, struct us_check_report *r)
{
	char host[128], dev[64];
	int rc;

	if (cfg->transport == US_TRANSPORT_TCP)
		return;
	host_of(role && strcmp(role, "primary") == 0 ? cfg->peer : cfg->listen, host, sizeof(host));
	rc = sys->rdma_dev(host, dev, sizeof(dev));
	if (rc == 0)
		us_check_add(r, "rdma.device", US_CHECK_PASS, NULL, "RDMA device %s serves %s", dev,
			     host[0] ? host : "any address");
	else
		us_check_add(r, "rdma.device",
			     cfg->transport == US_TRANSPORT_RDMA ? US_CHECK_FAIL : US_CHECK_WARN,
			     "load the RDMA driver (or rdma link "
			     "add rxe0 type rxe netdev IF), or set [replication] transport = tcp",
			     "no RDMA device for %s: %s%s", host[0] ? host : "any address",
			     strerror(-rc),
			     cfg->transport == US_TRANSPORT_AUTO ? " (transport auto: TCP)" : "");
	check_memlock(cfg, sys, r);
}

static void check_peer(const struct us_config *cfg, const struct us_check_sys *sys,
		       struct us_check_report *r)
{
	int rc;

	if (!cfg->peer[0]) {
		us_check_add(r, "replication.peer", US_CHECK_FAIL, "set [replication] peer",
			     "no standby address for the primary");
		return;
	}
	rc = sys->resolve(cfg->peer);
	if (rc == 0)
		us_check_add(r, "replication.peer", US_CHECK_PASS, NULL, "standby %s resolves",
			     cfg->peer);
	else
		us_check_add(r, "replication.peer", US_CHECK_FAIL, "fix [replication] peer",
			     "standby %s cannot be resolved: %s", cfg->peer, strerror(-rc));
}

static void check_listen(const struct us_config *cfg, int in_daemon, const struct us_check_sys *sys,
			 struct us_check_report *r)
{
	int rc;

	if (in_daemon) {
		us_check_add(r, "replication.listen", US_CHECK_PASS, NULL, "listening on %s",
			     cfg->listen);
		return;
	}
	rc = sys->bind_addr(cfg->listen);
	if (rc == 0)
		us_check_add(r, "replication.listen", US_CHECK_PASS, NULL, "%s can be bound",
			     cfg->listen);
	else
		us_check_add(r, "replication.listen", US_CHECK_FAIL,
			     "fix [replication] listen, "
			     "or stop what holds the port (a standby daemon already running?)",
			     "%s cannot be bound: %s", cfg->listen, strerror(-rc));
}

/* No role (understudy check): whatever the config names. */
static void check_address(const struct us_config *cfg, const char *role, int in_daemon,
			  const struct us_check_sys *sys, struct us_check_report *r)
{
	if (role ? strcmp(role, "primary") == 0 : cfg->peer[0] != 0)
		check_peer(cfg, sys, r);
	if (!role || strcmp(role, "standby") == 0)
		check_listen(cfg, in_daemon, sys, r);
}

void us_check_cluster(const struct us_config *cfg, const char *role, int in_daemon,
		      const struct us_check_sys *sys, struct us_check_report *r)
{
	check_corosync(cfg, sys, r);
	check_fence(cfg, sys, r);
	check_rdma(cfg, role, sys, r);
	check_address(cfg, role, in_daemon, sys, r);
}

void us_check_host(const struct us_config *cfg, const char *role, const struct us_check_sys *sys,
		   struct us_check_report *r)
{
	us_check_kernel(sys, r);
	us_check_accel(cfg, sys, r);
	us_check_qemu(cfg, sys, r);
	us_check_resources(cfg, role, sys, r);
}
