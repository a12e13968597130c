/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the verbs transport (rdma/verbs*.c) offers beyond the constructors in
 * transport_int.h: the probe behind "transport = auto", and test hooks.
 */
#ifndef US_VERBS_INT_H
#define US_VERBS_INT_H

#include <stdint.h>

/* Ring the standby registers for the primary's writes, bytes. */
#define US_VERBS_RING_SIZE (8u << 20)

/**
 * Would @addr ("host:port") be reached through an RDMA device? @passive: an
 * address to listen on. @return 1 yes, 0 no (the reason is logged at info).
 */
int us_verbs_probe(const char *addr, int passive);

/* Protocol version written in the headers this side sends; tests set it to
 * another value to play a peer of another version. */
extern uint16_t us_verbs_wire_version;

struct us_transport;

/* The local ACK timeout (IB encoding, ACK_TIMEOUT) of @t's queue pair as the
 * device holds it; a test hook. @return it, or -errno (-EINVAL: not RDMA). */
int us_verbs_ack_timeout(struct us_transport *t);

#endif
