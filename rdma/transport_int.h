/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a transport implementation provides: a table of operations behind the
 * public functions of transport.h, and the fields every connection shares.
 */
#ifndef US_TRANSPORT_INT_H
#define US_TRANSPORT_INT_H

#include "rdma/transport.h"

struct us_transport_ops {
	const char *name;
	int (*send_msg)(struct us_transport *t, uint16_t type, uint64_t epoch,
			const void *body, size_t len);
	/*
	 * One data message (PAGES, DEVSTATE, DISK) whose body is @desc (copied,
	 * at most 16 bytes, may be empty) followed by @data (borrowed until
	 * drained); its size within the type's bound (transport.c checks).
	 */
	int (*send_body)(struct us_transport *t, uint16_t type, uint64_t epoch, const void *desc,
			 size_t desc_len, const void *data, size_t len);
	int (*busy)(const struct us_transport *t);
	/* optional: memory bodies may be sent from without a copy */
	int (*register_buf)(struct us_transport *t, const void *buf, size_t len);
	int (*unregister_buf)(struct us_transport *t, const void *buf);
	uint64_t (*queued)(const struct us_transport *t);
	void (*destroy)(struct us_transport *t);
};

struct us_auth_session;

/* Embedded first in every implementation's connection struct. */
struct us_transport {
	const struct us_transport_ops *ops;
	qb_loop_t *loop;
	struct us_transport_cbs cbs; /* what the implementation calls */
	void *opaque;
	uint64_t vm_id;
	uint64_t last_rx_ms;	/* monotonic ms of the last byte received */
	char peer[64];
	/* authentication (transport_auth.c): once on, cbs/opaque are its own
	 * and the owner's are here */
	struct us_auth_session *auth;
	struct us_transport_cbs user_cbs;
	void *user_opaque;
};

/*
 * transport_auth.c: write the tag of the next message sent into its encoded
 * header @hdr (@hdr_len bytes: the header and any descriptor copied after
 * it), computed over @hdr with a zero tag field and @body. Implementations
 * seal a message the moment it first leaves, in send order (msgq.h's seal
 * flag, set at queueing while t->auth is on), so tagging overlaps the
 * transfer rather than delaying the first byte.
 */
void us_transport_auth_seal(struct us_transport *t, char *hdr, size_t hdr_len, const void *body,
			    size_t body_len);
void us_transport_auth_free(struct us_transport *t);

/* Embedded first in every implementation's listener struct. */
struct us_listener {
	void (*destroy)(struct us_listener *l);
};

/* Monotonic milliseconds. */
uint64_t us_transport_now_ms(void);

/* TCP implementation. */
struct us_transport *us_tcp_connect(qb_loop_t *loop, const char *addr, int timeout_ms);
struct us_listener *us_tcp_listen(qb_loop_t *loop, const char *addr,
				  us_transport_accept_fn fn, void *opaque);

/* Verbs/rdmacm implementation (rdma/verbs*.c), built when HAVE_RDMA. */
struct us_transport *us_verbs_connect(qb_loop_t *loop, const char *addr, int timeout_ms);
struct us_listener *us_verbs_listen(qb_loop_t *loop, const char *addr,
				    us_transport_accept_fn fn, void *opaque);

#endif
