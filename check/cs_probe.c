/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What corosync says about this host, for the cluster checks: quorate or
 * not (quorum), this host's node id (cpg), the nodelist's names and ids
 * and who is a member now (cmap). corosync's cs_error_t is translated here.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <corosync/cmap.h>
#include <corosync/cpg.h>
#include <corosync/quorum.h>

#include "check/check_int.h"
#include "check/probe.h"

static int cs_err(cs_error_t e)
{
	if (e == CS_OK)
		return 0;
	return e == CS_ERR_LIBRARY ? -ENOTCONN : e == CS_ERR_TRY_AGAIN ? -EAGAIN : -EIO;
}

static int local_nodeid(uint32_t *id)
{
	cpg_handle_t h;
	cpg_callbacks_t cb = { 0 };
	cs_error_t e = cpg_initialize(&h, &cb);

	if (e != CS_OK)
		return cs_err(e);
	e = cpg_local_get(h, id);
	cpg_finalize(h);
	return cs_err(e);
}

static int quorate(int *q)
{
	quorum_handle_t h;
	quorum_callbacks_t cb = { 0 };
	uint32_t type;
	cs_error_t e = quorum_initialize(&h, &cb, &type);

	if (e != CS_OK)
		return cs_err(e);
	e = quorum_getquorate(h, q);
	quorum_finalize(h);
	return cs_err(e);
}

/* Walk nodelist.node.N.{name,nodeid} and runtime.members.ID.status. */
static void nodelist(cmap_handle_t h, const char *node, struct us_cs_facts *f)
{
	char key[128], *name = NULL, *status = NULL;
	uint32_t id;
	unsigned i;

	for (i = 0; i < 64; i++, free(name), name = NULL) {
		snprintf(key, sizeof(key), "nodelist.node.%u.nodeid", i);
		if (cmap_get_uint32(h, key, &id) != CS_OK)
			break;
		snprintf(key, sizeof(key), "nodelist.node.%u.name", i);
		if (cmap_get_string(h, key, &name) != CS_OK)
			continue;
		if (id == f->local_nodeid)
			snprintf(f->local_name, sizeof(f->local_name), "%s", name);
		if (strcmp(name, node) == 0)
			f->node_nodeid = id;
		snprintf(key, sizeof(key), "runtime.members.%" PRIu32 ".status", id);
		if (cmap_get_string(h, key, &status) == CS_OK && strcmp(status, "joined") == 0) {
			f->members++;
			f->node_joined |= strcmp(name, node) == 0;
		}
		free(status);
		status = NULL;
	}
}

int us_check_cs_probe(const char *node, struct us_cs_facts *f)
{
	cmap_handle_t h;
	int rc = quorate(&f->quorate);

	if (rc == 0)
		rc = local_nodeid(&f->local_nodeid);
	if (rc < 0)
		return rc;
	rc = cs_err(cmap_initialize(&h));
	if (rc < 0)
		return rc;
	nodelist(h, node, f);
	cmap_finalize(h);
	return 0;
}
