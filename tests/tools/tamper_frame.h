/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the tampering proxy knows of the replication protocol's framing
 * (replicator/proto.h), and nothing else does: how long a frame is, which
 * way each message type travels, where its payload starts, which frames
 * belong to the message after them (none since the tag moved into the
 * header, protocol 6), and which make up an epoch. A change of the wire
 * format is an edit of tamper_frame.c alone.
 */
#ifndef US_TAMPER_FRAME_H
#define US_TAMPER_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* A decoded frame header. */
struct tf_frame {
	uint16_t type;
	uint32_t body_len;
	uint64_t vm_id;
	uint64_t epoch;
};

enum tf_kind {
	TF_CONTROL = 0,	   /* everything else (ACK, KEEPALIVE, SWITCHOVER, ...) */
	TF_HANDSHAKE = 1,  /* the primary's HELLO and AUTH */
	TF_EPOCH_DATA = 2, /* part of an epoch: PAGES, DISK, DEVSTATE */
	TF_EPOCH_END = 3,  /* closes an epoch */
};

/* Bytes of a frame header. */
size_t tf_hdr_size(void);

/**
 * Decode the header at @buf (tf_hdr_size() bytes).
 * @return 0, or -EBADMSG when the bytes are not a frame of the protocol
 * (the stream's framing is lost), with @why set.
 */
int tf_hdr_parse(const void *buf, struct tf_frame *f, char *why, size_t whylen);

/** Largest body any frame may carry (a buffer of header + this holds any frame). */
size_t tf_max_body(void);

/** 1 if the frame at @buf carries an authentication tag (a keyed session). */
int tf_tagged(const void *buf);

/** 1 if a frame of @type belongs to the message after it (a TAG). */
int tf_is_prefix(uint16_t type);

/** 1 if the standby sends @type (it travels to the primary), else 0. */
int tf_from_standby(uint16_t type);

/** What @type is part of. */
enum tf_kind tf_kind(uint16_t type);

/** Offset, from the frame's start, of the byte `flip` changes: mid-payload. */
size_t tf_flip_offset(const struct tf_frame *f);

/** The message type named @name (e.g. "PAGES", case-insensitive), or 0. */
uint16_t tf_type_by_name(const char *name);

/** The name of @type for logs. */
const char *tf_type_name(uint16_t type);

/**
 * Encode a whole frame of @type into @out (tf_hdr_size() + tf_max_body()
 * bytes): a plausible body made up for injection (a page of 0x5a for
 * PAGES, a DISK write, a zero EPOCH_END, random bytes for a TAG).
 * @return the frame's size.
 */
size_t tf_forge(void *out, uint16_t type, uint64_t vm_id, uint64_t epoch);

#endif
