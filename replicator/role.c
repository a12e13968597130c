/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A VM's daemon across its roles: one process, one loop, and the guest's
 * QEMU handed from role to role (handover.h) with its RAM file, disk and NIC,
 * so the guest never restarts. `understudy primary` and `understudy standby`
 * only choose the first role.
 *
 *   role/state           event                              next
 *   standby/waiting      a primary connects, HELLO          standby/receiving
 *   standby/receiving    the sync's epoch 0 commits         (promotable from here)
 *   standby/receiving    primary lost, verdict promote      standby/active: the
 *                                                           guest runs here
 *   standby/active       reprotect = auto at once, or       primary/unprotected
 *                        `understudy reprotect`             (QEMU handed over)
 *   primary/unprotected  a standby answers, HELLO_OK        primary/syncing
 *   primary/syncing      ACK(0)                             primary/protected
 *   primary/syncing      stream lost before epoch 0 left    primary/unprotected
 *   primary/protected    standby lost, verdict degrade      primary/unprotected
 *                                                           (reprotect = auto)
 *                                                           or primary/degraded
 *   primary/degraded     `understudy reprotect`             primary/unprotected
 *   any                  SIGTERM, SIGINT, fatal error       stopped: QEMU, files
 *                                                           and sockets removed
 *
 * The finer states live with each role: standby.c, loss.c, failover/reprotect.c,
 * failover/switchover.c, failover/suspend.c.
 * Which side connects: the primary, whichever host it is on, connects to
 * the other host's address in [replication] hosts (or peer); the standby
 * listens on its own (or listen).
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "disk/image.h"
#include "disk/nbd.h"
#include "netbuf/relay.h"
#include "replicator/log.h"
#include "replicator/qemu.h"
#include "replicator/qmp.h"
#include "replicator/role.h"
#include "replicator/standby.h"

const char *us_role_name(enum us_role r)
{
	return r == US_ROLE_PRIMARY ? "primary" : r == US_ROLE_STANDBY ? "standby" : "none";
}

/* What a role handed over and the next did not take (it failed to start). */
static void drop_leftovers(struct us_handover *h)
{
	us_qmp_free(h->qmp);
	us_qemu_free(h->qemu);
	us_relay_free(h->relay);
	us_nbd_stop(h->nbd);
	us_image_close(h->img);
	us_ramfile_close(&h->ram, 1);
	free(h->devstate);
	memset(h, 0, sizeof(*h));
	h->ram.fd = -1;
}

int us_role_run(const struct us_config *cfg, enum us_role first, const struct us_primary_opts *po)
{
	struct us_handover h = { .ram.fd = -1 };
	qb_loop_t *loop = qb_loop_create();
	enum us_role role = first;
	int rc = 0;

	if (!loop)
		return -ENOMEM;
	while (role != US_ROLE_NONE) {
		h.loop = loop;
		h.next = US_ROLE_NONE;
		rc = role == US_ROLE_PRIMARY ? us_primary_run(cfg, po, &h)
					     : us_standby_run(cfg, &h);
		if (rc == 0 && h.next != US_ROLE_NONE)
			us_log(LOG_NOTICE, US_TAG_MAIN,
			       "role of VM '%s' on this host: %s -> %s, the "
			       "guest running on from epoch %lu",
			       cfg->vm.name, us_role_name(role), us_role_name(h.next),
			       (unsigned long)h.epoch);
		role = rc == 0 ? h.next : US_ROLE_NONE;
		if (role == US_ROLE_NONE)
			drop_leftovers(&h);
	}
	qb_loop_destroy(loop);
	return rc;
}
