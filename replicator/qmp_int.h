/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Inside of the QMP client, for qmp.c and its unit test only: the connection
 * state, and entry points that feed bytes to the line parser without going
 * through the event loop, so tests can split lines exactly where they want.
 */
#ifndef US_QMP_INT_H
#define US_QMP_INT_H

#include <stdint.h>
#include "replicator/qmp.h"

/* Longest line QEMU may send (query-qmp-schema is ~200 KB). */
#define US_QMP_LINE_MAX (16u << 20)
/* Bound on the greeting and capability negotiation in us_qmp_connect. */
#define US_QMP_CONNECT_TIMEOUT_MS 5000

struct qmp_pending {
	struct qmp_pending *next;
	int64_t id;			/* the "id" the reply carries */
	us_qmp_reply_fn fn;		/* NULL: reply dropped (timed-out call) */
	void *opaque;
};

struct qmp_listener {
	struct qmp_listener *next;
	char *name;			/* event name or "*" */
	us_qmp_event_fn fn;
	void *opaque;
	int removed;			/* unlinked once no callback runs */
};

/* A byte queue: data[off..len) is still to be consumed. */
struct qmp_bytes {
	char *data;
	size_t off, len, alloc;
};

struct us_qmp {
	qb_loop_t *loop;
	int fd;				/* -1 once closed */
	int on_loop;			/* fd registered with the loop */
	int want_out;			/* POLLOUT registered */
	int greeted;			/* saw {"QMP": ...} */
	int closed;			/* connection gone, pending failed */
	int close_errno;		/* why: EPROTO, ECONNRESET, ... */
	int free_asked;			/* us_qmp_free ran inside a callback */
	unsigned hold;			/* depth of callbacks running */
	int64_t next_id;
	struct qmp_bytes in;		/* received, not yet a whole line */
	struct qmp_bytes out;		/* commands not yet written */
	struct qmp_pending *pending;
	struct qmp_listener *listeners;
	uint64_t event_us;		/* the dispatched event's timestamp (QEMU's) */
	us_qmp_closed_fn closed_fn;
	void *closed_opaque;
};

/**
 * Process @n bytes as if read from the socket: whole lines are parsed and
 * dispatched, a partial line waits for the rest.
 * @return 0, or -EPROTO after a protocol error (the connection is closed).
 */
int us_qmp_feed(struct us_qmp *q, const char *p, size_t n);

/**
 * Read everything the socket holds now and process it (what the loop does).
 * @return 0, or -errno once the connection is closed.
 */
int us_qmp_read(struct us_qmp *q);

#endif
