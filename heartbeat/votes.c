/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The votequorum query (see votes.h): initialize, getinfo for this node,
 * finalize. Called on (re)connection and quorum changes, not per decision.
 */
#include <config.h>

#include <errno.h>
#include <string.h>
#include <corosync/votequorum.h>

#include "heartbeat/votes.h"

int us_votes_query(struct us_votes *v)
{
	votequorum_handle_t h;
	struct votequorum_info info;
	cs_error_t e = votequorum_initialize(&h, NULL);

	if (e != CS_OK)
		return e == CS_ERR_TRY_AGAIN ? -EAGAIN : -ENOTCONN;
	memset(&info, 0, sizeof(info));
	e = votequorum_getinfo(h, VOTEQUORUM_QDEVICE_NODEID, &info);
	votequorum_finalize(h);
	if (e != CS_OK)
		return e == CS_ERR_TRY_AGAIN ? -EAGAIN : -EIO;
	v->two_node = !!(info.flags & VOTEQUORUM_INFO_TWONODE);
	v->expected = info.node_expected_votes;
	return 0;
}
