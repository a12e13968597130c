/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Probes that talk to other services for the checks (see check_int.h for
 * what each returns): corosync, rdma-core, PATH look-up.
 */
#ifndef US_CHECK_PROBE_H
#define US_CHECK_PROBE_H

#include <stddef.h>

struct us_cs_facts;

/** Ask corosync (quorum, cpg, cmap) about this host and node @node. @return 0 or -errno. */
int us_check_cs_probe(const char *node, struct us_cs_facts *f);

/** The RDMA device serving address @host ("" = any). @return 0, -ENODEV or -errno. */
int us_check_rdma_probe(const char *host, char *dev, size_t len);

/**
 * @return 0 if @prog can be run: a path that is executable, or a name found
 * as an executable in PATH; else -errno (-ENOENT: no such program).
 */
int us_check_executable(const char *prog);

#endif
