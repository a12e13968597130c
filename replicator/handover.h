/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What one role of a VM's daemon hands to the next (see role.c): the loop,
 * and the running guest's QEMU with everything it is connected to, so that
 * a change of role neither restarts the guest nor drops its disk or NIC.
 */
#ifndef US_HANDOVER_H
#define US_HANDOVER_H

#include <limits.h>
#include <stdint.h>
#include <qb/qbloop.h>

#include "replicator/ramfile.h"

struct us_qemu;
struct us_qmp;
struct us_relay;
struct us_image;
struct us_nbd;

enum us_role {
	US_ROLE_NONE = 0, /* the daemon stops */
	US_ROLE_PRIMARY,  /* runs the guest; protects it when a standby is in sync */
	US_ROLE_STANDBY,  /* holds a replica; takes over when the primary is lost */
};

struct us_handover {
	qb_loop_t *loop;       /* the daemon's, across roles */
	enum us_role next;     /* set by a role that ends in a change of role */
	struct us_ramfile ram; /* the guest's RAM file (fd -1: none handed over) */
	struct us_qemu *qemu;  /* the QEMU running the guest, or NULL */
	struct us_qmp *qmp;
	struct us_relay *relay; /* the NIC's relay, or NULL */
	char net_sock[PATH_MAX];
	struct us_image *img; /* the disk image and its NBD server, or NULL */
	struct us_nbd *nbd;
	char disk_sock[PATH_MAX];
	uint64_t epoch;	     /* the committed epoch the guest went on from */
	uint64_t lineage;    /* the VM's run (us_hello.lineage), 0: none yet */
	int resume;	     /* switchover, to the primary: the guest is stopped with
			   * epoch's device state loaded; arm tracking, then cont */
	uint64_t pause_us;   /* switchover: the guest's pause so far */
	void *devstate;	     /* switchover, to the standby: epoch's device state */
	size_t devstate_len; /* (malloc'd; the taker frees it) */
};

#endif
