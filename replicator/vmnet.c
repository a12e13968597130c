/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The configured VM's network relay (see vmnet.h). */
#include <config.h>

#include <errno.h>
#include <jansson.h>
#include <stdio.h>

#include "replicator/log.h"
#include "replicator/vmnet.h"

int us_vmnet_start(qb_loop_t *loop, const struct us_config *c, enum us_relay_mode mode,
		   struct us_relay **out, char *sock, size_t socklen)
{
	char tap[16];
	struct us_relay_cfg rc = { .sock_path = sock, .tap = tap, .bridge = c->bridge,
				   .max_bytes = c->outq_max_bytes,
				   .max_frames = c->outq_max_frames };

	*out = NULL;
	sock[0] = 0;
	if (!c->vm.mac[0])
		return 0;
	snprintf(sock, socklen, "%s/%s-net.sock", c->vm.run_dir, c->vm.name);
	snprintf(tap, sizeof(tap), "%s", c->tap[0] ? c->tap : "us-");
	if (!c->tap[0])
		snprintf(tap, sizeof(tap), "us-%.12s", c->vm.name);
	*out = us_relay_new(loop, &rc, mode);
	if (!*out)
		return -errno;
	us_log(LOG_INFO, US_TAG_NET, "NIC %s relayed to tap %s%s%s", c->vm.mac, tap,
	       c->bridge[0] ? " on bridge " : "", c->bridge);
	return 0;
}

void us_vmnet_status(const struct us_relay *r, void *obj)
{
	struct us_relay_stats st;

	if (!r)
		return;
	us_relay_stats(r, &st);
	json_object_set_new(obj, "outq_frames", json_integer(st.queued_frames));
	json_object_set_new(obj, "outq_bytes", json_integer(st.queued_bytes));
	json_object_set_new(obj, "released_frames", json_integer(st.released_frames));
	json_object_set_new(obj, "inbound_frames", json_integer(st.inbound_frames));
	json_object_set_new(obj, "malformed_frames", json_integer(st.malformed));
	json_object_set_new(obj, "output_blocked", json_boolean(st.blocked));
}
