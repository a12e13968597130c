/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's configuration: an INI file (parsed by inih) with sections
 * [vm], [net], [replication], [failover], [heartbeat] and [daemon], built-in defaults for every
 * key, and checks that name the file, section, key and the fix.
 */
#ifndef US_CONFIG_H
#define US_CONFIG_H

#include <limits.h>
#include <stdint.h>
#include "replicator/vmconf.h"
#include "rdma/tls.h"
#include "rdma/transport.h"

#define US_CONFIG_MAX_HOSTS 2

struct us_config {
	struct us_vm_config vm;
	enum us_transport_kind transport;
	char peer[128];			/* primary: the standby's host:port */
	char key_file[256];		/* shared key: authenticated channel; "": none */
	enum us_tls_mode tls;		/* TLS on TCP; auto resolved at load (off, psk, x509) */
	char tls_dir[256];		/* x509: libvirt's layout of certificates */
	char listen[128];		/* standby: host:port to listen on */
	struct us_host_addr {		/* [replication] hosts: node=host:port each */
		char node[32];
		char addr[128];
	} hosts[US_CONFIG_MAX_HOSTS];
	unsigned n_hosts;
	char peer_node[32];		/* the other host's node, from hosts */
	int peer_set, listen_set;	/* peer / listen given by key (hosts fills the rest) */
	unsigned epoch_ms;		/* checkpoint interval; 0: auto */
	unsigned pause_share_pct;	/* epoch_ms = auto: bound on the paused share */
	unsigned epoch_ms_min, epoch_ms_max;	/* epoch_ms = auto: the range */
	unsigned peer_timeout_ms;	/* silence that counts as stream loss */
	unsigned connect_timeout_ms;	/* primary: give up waiting for a standby */
	uint64_t staging_max;		/* bytes; 0 = the guest's RAM size */
	uint64_t devstate_max;		/* bytes */
	uint64_t disk_log_max;		/* primary: disk writes held in memory, bytes */
	uint64_t disk_staging_max;	/* standby: one epoch's staged disk writes, bytes */
	int devstate_xen;		/* capture with xen-save-devices-state */
	int compress_lz4;		/* primary: [replication] compress = lz4 */
	int skip_unchanged;		/* primary: a dirtied page left as last sent
					   is not sent again (replicator/pagehash.c) */
	int promote_auto;		/* standby promotes itself on stream loss */
	int promote_pacemaker;		/* Pacemaker promotes, demotes and fences: the
					   daemon never promotes or degrades by itself */
	int reprotect_auto;		/* an unprotected primary looks for a standby itself */
	int decide_silence;		/* [failover] decide = silence: a silent stream
					   starts the fence, the fence decides */
	int log_level;			/* LOG_ERR..LOG_DEBUG */
	char bridge[16];		/* [net] host bridge for the VM's tap, or "" */
	char tap[16];			/* [net] tap name, "" = us-NAME */
	uint64_t outq_max_bytes;	/* [net] output-commit queue caps */
	unsigned outq_max_frames;
	unsigned degraded_grace_ms;	/* standby lost this long: release output */

	/* [heartbeat]: Corosync membership and fencing */
	int membership;			/* 1: corosync decides; 0: stream loss decides */
	char node[32];			/* this host's name in the group and to fence */
	char fence_command[256];	/* run with the peer's node name appended */
	unsigned fence_timeout_ms;	/* per attempt */
	unsigned fence_delay_ms;	/* primary: wait before fencing its standby */
	unsigned silence_ms;		/* stream quiet this long counts as silent; the
					   primary sends a KEEPALIVE every silence_ms / 3 */
	unsigned nodes;			/* cluster size, for the two-node rule */
	int allow_unfenced;		/* two-node without fencing: promote anyway */
};

/* [heartbeat] silence_ms when the file does not set it, in both decide
 * modes: with decide = silence, chosen from 30-minute soaks under load
 * (bench/silence_soak.sh 1800): at 300 one unneeded takeover, at 500 none
 * (see NEWS). */
#define US_SILENCE_MS_DEFAULT 500

/** Fill @c with the built-in defaults. */
void us_config_defaults(struct us_config *c);

/**
 * Read @path over the defaults in @c. Every problem is logged with the file,
 * section and key. @return 0, -ENOENT, -EINVAL.
 */
int us_config_load(struct us_config *c, const char *path);

/**
 * Check values that depend on each other and on the role ("primary" or
 * "standby"). @return 0 or -EINVAL with the cause logged.
 */
int us_config_check(const struct us_config *c, const char *role);

/** [replication] hosts = NODE=HOST:PORT NODE=HOST:PORT. @return 0 or -EINVAL. */
int us_config_set_hosts(struct us_config *c, const char *v);

/**
 * After the file: with [replication] hosts, listen on this node's address
 * and replicate to the other's, unless peer or listen were set by key.
 * @return 0, or -EINVAL (logged, naming @path) when this node has no entry.
 */
int us_config_resolve_hosts(struct us_config *c, const char *path);

/** Parse "256M", "1G", "4096", "64K". @return 0 or -EINVAL. */
int us_config_parse_size(const char *s, uint64_t *out);

#endif
