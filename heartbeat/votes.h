/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What votequorum says of the cluster's shape: whether it runs in two_node
 * mode and how many votes it expects. The two-node rule (fence before an
 * automatic promotion) keys on this rather than on a number typed into the
 * daemon's config, which could disagree with corosync.conf.
 */
#ifndef US_HB_VOTES_H
#define US_HB_VOTES_H

struct us_votes {
	int two_node;		/* corosync.conf quorum { two_node: 1 } */
	unsigned expected;	/* expected votes */
};

/**
 * Ask the local corosync once (a short synchronous IPC round trip).
 * @return 0, or -errno when corosync cannot be asked (not running: -ENOTCONN).
 */
int us_votes_query(struct us_votes *v);

#endif
