/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The primary daemon: runs the guest in QEMU, takes an epoch checkpoint every
 * epoch_ms and streams it to the standby (see epoch.h for one checkpoint).
 */
#ifndef US_PRIMARY_H
#define US_PRIMARY_H

#include "replicator/config.h"

struct us_handover;

struct us_primary_opts {
	const char *stats_path;	/* per-epoch timings as CSV, or NULL */
};

/**
 * Run the primary on @h's loop until SIGTERM/SIGINT or a fatal error; tears
 * everything down (QEMU, RAM file, sockets) before returning. When @h holds
 * a running QEMU (a promoted standby's), the primary takes it over and
 * looks for a new standby while the guest runs unprotected.
 * @return 0 on a clean stop, or -errno with the cause logged.
 */
int us_primary_run(const struct us_config *cfg, const struct us_primary_opts *opts,
		   struct us_handover *h);

#endif
