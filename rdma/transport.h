/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The replication transport: one interface, several implementations (TCP now,
 * verbs/rdmacm where the hosts have RDMA). It moves the messages of proto.h
 * between one primary and one standby on the caller's libqb loop. Page data
 * and device state are borrowed: the caller keeps them unchanged until the
 * "drained" callback says every queued send is out.
 */
#ifndef US_TRANSPORT_H
#define US_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <qb/qbloop.h>
#include "replicator/proto.h"

struct us_transport;
struct us_listener;

enum us_transport_kind {
	US_TRANSPORT_TCP = 0,
	US_TRANSPORT_RDMA = 1,
	US_TRANSPORT_AUTO = 2,	/* RDMA when the address is on an RDMA device */
};

struct us_transport_cbs {
	/*
	 * A message arrived. @hdr_rc is 0, or -EPROTONOSUPPORT for a peer of
	 * another protocol version (then @body is NULL and nothing more is read).
	 * @body is valid during the call. Return non-zero to stop reading.
	 */
	int (*msg)(void *opaque, int hdr_rc, const struct us_msg_hdr *h, const void *body);
	/* Every queued send has left: borrowed buffers may be reused. */
	void (*drained)(void *opaque);
	/* The connection ended: @err is -errno, @why says why. Free it after. */
	void (*closed)(void *opaque, int err, const char *why);
	/*
	 * Optional: where to receive the body of the message whose header
	 * @h just arrived (@h->len bytes), or NULL to receive it in the
	 * transport's own buffer. The transport may read the body straight
	 * there (TCP does, for a body not yet whole) and then passes that
	 * pointer to msg as @body, after the authenticated channel checked
	 * it. Until msg is called for it, the bytes there are unchecked; if
	 * the message fails its check or the connection ends first, msg is
	 * not called for it. A transport may also not ask (verbs asks only
	 * for a body that wraps its ring).
	 */
	void *(*place)(void *opaque, const struct us_msg_hdr *h);
};

/* A new connection on a listener; the owner sets its callbacks. */
typedef void (*us_transport_accept_fn)(void *opaque, struct us_transport *t);

/** Parse "tcp", "rdma" or "auto". @return 0 or -EINVAL. */
int us_transport_kind_parse(const char *s, enum us_transport_kind *kind);

/**
 * Connect to @addr ("host:port"), bounded by @timeout_ms.
 * @return the connection, or NULL with errno set and the cause logged.
 */
struct us_transport *us_transport_connect(qb_loop_t *loop, enum us_transport_kind kind,
					  const char *addr, int timeout_ms);

/**
 * Listen on @addr ("host:port", host may be "0.0.0.0").
 * @return the listener, or NULL with errno set and the cause logged.
 */
struct us_listener *us_transport_listen(qb_loop_t *loop, enum us_transport_kind kind,
					const char *addr, us_transport_accept_fn fn, void *opaque);

/** Stop listening; NULL-safe. Accepted connections live on. */
void us_listener_free(struct us_listener *l);

/** Set the callbacks; before any traffic. */
void us_transport_set_cbs(struct us_transport *t, const struct us_transport_cbs *cbs, void *opaque);

/** Every message sent from now on names VM @vm_id. */
void us_transport_set_vm(struct us_transport *t, uint64_t vm_id);

/** Send a small control message (HELLO, HELLO_OK, REFUSE, ACK); @body is copied. */
int us_transport_send_msg(struct us_transport *t, uint16_t type, uint64_t epoch,
			  const void *body, size_t len);

/**
 * Send pages [first, first+count) of epoch @epoch, @count <= US_PROTO_MAX_RUN,
 * from @data (borrowed until drained). @return 0 or -errno.
 */
int us_transport_send_pages(struct us_transport *t, uint64_t epoch, uint64_t first,
			    uint32_t count, const void *data);

/**
 * Send a PAGES message of epoch @epoch whose @len-byte @body (borrowed until
 * drained) is already one or more runs, each a descriptor
 * (us_proto_pages_desc_encode) and its pages, at most US_PROTO_MAX_BODY
 * bytes. @return 0 or -errno.
 */
int us_transport_send_page_runs(struct us_transport *t, uint64_t epoch, const void *body,
				size_t len);

/**
 * Send a guest disk write of epoch @epoch: @len bytes at @offset of kind
 * US_DISK_WRITE (@data borrowed until drained) or US_DISK_ZEROES (@data NULL),
 * in DISK messages of at most US_PROTO_MAX_DISK_CHUNK bytes. @return 0 or -errno.
 */
int us_transport_send_disk(struct us_transport *t, uint64_t epoch, uint64_t offset,
			   uint32_t kind, const void *data, uint64_t len);

/** Send @len bytes of device state of @epoch (borrowed until drained). */
int us_transport_send_devstate(struct us_transport *t, uint64_t epoch, const void *buf, size_t len);

/** Close epoch @e->epoch: the standby verifies and acknowledges it. */
int us_transport_end_epoch(struct us_transport *t, const struct us_epoch_end *e);

/**
 * Offer the @len bytes at @buf, memory the caller sends bodies from: bodies
 * inside it may then leave without being copied (verbs writes them from
 * there; TCP takes no offer). The caller keeps it mapped until it calls
 * us_transport_unregister or frees the transport. A hint: sends are the
 * same either way. @return 0 if taken, or -errno (-EOPNOTSUPP, -ENOSPC, or
 * why the memory could not be registered).
 */
int us_transport_register(struct us_transport *t, const void *buf, size_t len);

/**
 * Withdraw the offer of @buf (us_transport_register), only while nothing is
 * queued (drained). @return 0, -EBUSY while sends are queued, -ENOENT.
 */
int us_transport_unregister(struct us_transport *t, const void *buf);

/** @return 1 if sends are still queued (not drained), else 0. */
int us_transport_busy(const struct us_transport *t);

/** @return bytes queued and not yet sent. */
uint64_t us_transport_queued(const struct us_transport *t);

/** @return milliseconds since the last byte arrived (liveness). */
uint64_t us_transport_idle_ms(const struct us_transport *t);

/** @return "tcp" or "rdma". */
const char *us_transport_name(const struct us_transport *t);

/** @return the peer's address as text. */
const char *us_transport_peer(const struct us_transport *t);

/** Close and free without callbacks; NULL-safe. */
void us_transport_free(struct us_transport *t);

struct us_auth_key;

/**
 * From now on, tag every message sent and accept only messages whose tag
 * verifies (rdma/auth.h): the session keys come from @key and both nonces;
 * @primary: this side sent the HELLO. A message whose tag fails, or that
 * comes without one, is logged with the likely cause and closes the
 * connection before the owner sees it. @return 0 or -ENOMEM.
 */
int us_transport_auth_start(struct us_transport *t, const struct us_auth_key *key,
			    const unsigned char *nonce_p, const unsigned char *nonce_s, int primary);

/** @return 1 once us_transport_auth_start ran on @t. */
int us_transport_authenticated(const struct us_transport *t);

#endif
