/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The replication protocol on the wire, shared by every transport.
 *
 *   primary                                   standby
 *   HELLO(version, vm id, ram, page size, accel, disk size) ──▶
 *                                         ◀── HELLO_OK(committed epoch, staging cap)
 *                                             or REFUSE(code, reason) and close
 *                                         ◀── DISK_HASHES(first, count) × n: SHA-256
 *                                             of each block of the replica image
 *   epoch 0: PAGES × (all of RAM) ...     ──▶ written straight to the replica
 *            DISK × (the blocks whose hash differs, guest writes)
 *                                         ──▶ written straight to the replica image
 *   epoch n: PAGES(first, count) + data   ──▶ staged
 *            DISK(offset, kind) + data    ──▶ staged (guest writes, in order)
 *            DEVSTATE(bytes) × k          ──▶ staged
 *            EPOCH_END(pages, bytes, disk, sum) ──▶ verified, complete
 *                                         ◀── ACK(n)   then staging → replica
 *   at least every HELLO's keepalive_ms, whatever the primary is doing
 *   (paused, suspended, mid-checkpoint, waiting):
 *            KEEPALIVE (no body)          ──▶ the stream is alive; nothing else
 *                                             (a standby with [failover] decide =
 *                                             silence fences on its absence)
 *
 * Every message starts with the same 40-byte header, little-endian, that
 * names the protocol version, the VM and the epoch, and carries the
 * message's authentication tag once the channel is authenticated. A header that does not
 * parse, or a message out of sequence, closes the connection with a reason.
 */
#ifndef US_PROTO_H
#define US_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define US_PROTO_MAGIC 0x53445355u	/* "USDS" */
#define US_PROTO_VERSION 9u		/* 2: HELLO names the accelerator; 3: HELLO
					 * carries the lineage and base epoch,
					 * SWITCHOVER/SWITCHED; 4: HANDOFF; 5: the
					 * HELLO's nonce, CHALLENGE/AUTH/TAG; 6: the
					 * tag in the header, no TAG message; 7: the
					 * HELLO's keepalive_ms, KEEPALIVE always;
					 * 8: PAGES_LZ4; 9: a PAGES body holds
					 * one or more runs */
#define US_PROTO_HDR_SIZE 40
#define US_PROTO_TAG_OFF 32		/* the header's tag field */
#define US_PROTO_TAG_LEN 8		/* the header's tag: UMAC-64 (rdma/auth.h) */
#define US_PROTO_PAGE_SIZE 4096u
#define US_PROTO_MAX_RUN 256u		/* pages in one PAGES run */
#define US_PROTO_MAX_DEVSTATE_CHUNK (1u << 20)
#define US_PROTO_MAX_BODY (US_PROTO_MAX_RUN * (US_PROTO_PAGE_SIZE + 16)) /* 256 one-page runs */
#define US_PROTO_DISK_DESC 16		/* offset u64, length u32, kind u32 */
#define US_PROTO_MAX_DISK_CHUNK (1u << 20)	/* bytes of one DISK write */
#define US_PROTO_HASH_BLOCK (64u << 10)	/* bytes of image one DISK_HASHES entry covers */
#define US_PROTO_HASH_LEN 32		/* SHA-256 */
#define US_PROTO_HASHES_DESC 16		/* first block u64, count u32, pad u32 */
#define US_PROTO_MAX_HASHES 1024u	/* entries in one DISK_HASHES message */
#define US_PROTO_NAME_MAX 48
#define US_PROTO_ACCEL_MAX 8		/* "kvm", "tcg", NUL-terminated */

enum us_msg_type {
	US_MSG_HELLO = 1,
	US_MSG_HELLO_OK = 2,
	US_MSG_REFUSE = 3,
	US_MSG_PAGES = 4,
	US_MSG_DEVSTATE = 5,
	US_MSG_EPOCH_END = 6,
	US_MSG_ACK = 7,
	US_MSG_DISK = 8,
	US_MSG_DISK_HASHES = 9,
	US_MSG_KEEPALIVE = 10,	/* primary: alive, nothing to send (paused, waiting) */
	US_MSG_SWITCHOVER = 11,	/* primary: guest stopped at acknowledged epoch n: run it */
	US_MSG_SWITCHED = 12,	/* standby: loaded epoch n, the guest runs here next */
	US_MSG_SWITCH_ASK = 13,	/* standby: the operator asked here for a switchover */
	US_MSG_SUSPEND = 14,	/* primary: protection suspended after epoch n: output
				 * released beyond it, the replica must not be promoted */
	US_MSG_SUSPEND_OK = 15,	/* standby: knows, will not promote: release output */
	US_MSG_HANDOFF = 16,	/* primary: demoted, guest stopped at acknowledged epoch n:
				 * run it when promoted (Pacemaker) */
	US_MSG_HANDOFF_OK = 17,	/* standby: holds n, waits for its promote */
	US_MSG_CHALLENGE = 18,	/* standby: its nonce and its proof of the key (rdma/auth.h) */
	US_MSG_AUTH = 19,	/* primary: no body; its tag proves the key */
	/* 20 was protocol 5's TAG message: the tag is in the header now */
	US_MSG_PAGES_LZ4 = 21,	/* primary: PAGES whose data is one LZ4 block ([replication]
				 * compress = lz4); staged as PAGES once decompressed */
	US_MSG_TYPE_MAX
};

enum us_refuse_code {
	US_REFUSE_VERSION = 1,
	US_REFUSE_VM = 2,		/* another VM, RAM or page size */
	US_REFUSE_BUSY = 3,		/* already has a primary */
	US_REFUSE_STATE = 4,		/* holds a committed epoch of an earlier run */
	US_REFUSE_PROTOCOL = 5,		/* malformed or out-of-sequence message */
	US_REFUSE_ACCEL = 6,		/* the other host runs another accelerator */
	US_REFUSE_AUTH = 7,		/* a key on one side only, or a failed proof */
	US_REFUSE_LIVENESS = 8,		/* keepalives too rare for the standby's silence_ms */
};

/* Decoded header, host byte order. */
struct us_msg_hdr {
	uint16_t version;
	uint16_t type;
	uint32_t len;		/* body bytes after the header */
	uint64_t vm_id;
	uint64_t epoch;
	unsigned char tag[US_PROTO_TAG_LEN]; /* zero, or the message's tag
				 * (rdma/auth.h) computed with this field zero */
};

#define US_HELLO_AUTH 1u	/* flags: the primary has a key and authenticates */
#define US_PROTO_NONCE_LEN 32

struct us_hello {
	uint64_t ram_size;
	uint32_t page_size;
	uint32_t flags;		/* US_HELLO_* */
	char vm_name[US_PROTO_NAME_MAX];	/* NUL-terminated */
	char accel[US_PROTO_ACCEL_MAX];		/* device state of one loads only under it */
	uint64_t disk_size;			/* bytes of the replicated disk, 0: none */
	uint64_t lineage;	/* the VM's run: random at its first boot, kept across roles */
	uint64_t base_epoch;	/* the guest runs on from this committed epoch; a standby
				 * holding it of the same lineage needs no sync.
				 * US_EPOCH_NONE: sync from scratch */
	unsigned char nonce[US_PROTO_NONCE_LEN]; /* fresh per connection (US_HELLO_AUTH) */
	uint32_t keepalive_ms;	/* the primary sends something at least this often */
};

struct us_challenge {
	unsigned char nonce[US_PROTO_NONCE_LEN]; /* the standby's, fresh */
	unsigned char proof[32];		 /* rdma/auth.h: us_auth_proof */
};

struct us_hello_ok {
	uint64_t committed;	/* US_EPOCH_NONE if none */
	uint64_t staging_max;
	uint64_t sync_pages;	/* a sync of the HELLO's lineage broke off: the first
				 * pages of RAM this replica holds from it (0: none);
				 * the primary may go on from there */
};

struct us_refuse {
	uint32_t code;
	char reason[120];	/* NUL-terminated */
};

struct us_pages {
	uint64_t first;
	uint32_t count;
	const void *data;	/* count * page size bytes, points into the body */
};

enum us_disk_kind {
	US_DISK_WRITE = 1,	/* data follows the descriptor */
	US_DISK_ZEROES = 2,	/* TRIM or WRITE_ZEROES: the range reads as zeroes */
};

struct us_disk {
	uint64_t offset;	/* bytes into the image */
	uint32_t length;
	uint32_t kind;		/* enum us_disk_kind */
	const void *data;	/* US_DISK_WRITE: @length bytes in the body, else NULL */
};

struct us_disk_hashes {
	uint64_t first;		/* block number (US_PROTO_HASH_BLOCK bytes each) */
	uint32_t count;
	const unsigned char *hashes;	/* count * US_PROTO_HASH_LEN, into the body */
};

struct us_epoch_end {
	uint64_t epoch;
	uint64_t pages;
	uint64_t page_bytes;	/* bytes of PAGES bodies, descriptors included */
	uint64_t devstate_bytes;
	uint64_t disk_writes;	/* DISK messages */
	uint64_t disk_bytes;	/* bytes of DISK bodies, descriptors included */
	uint64_t checksum;	/* XXH3-64 over PAGES, DISK and DEVSTATE bodies, in order;
				 * 0 on an authenticated link (its tags check every byte) */
};

#define US_EPOCH_NONE UINT64_MAX
#define US_PROTO_PAGES_DESC 16	/* first u64, count u32, pad u32 */

/** 64-bit VM id from its name (XXH3). */
uint64_t us_proto_vm_id(const char *name);

/** Encode a header into @out (US_PROTO_HDR_SIZE bytes). */
void us_proto_hdr_encode(void *out, const struct us_msg_hdr *h);

/**
 * Decode and check a header: magic, type, body length bound for the type.
 * A version other than ours still decodes (so HELLO can be refused with a
 * reason) and returns -EPROTONOSUPPORT.
 * @return 0, -EPROTONOSUPPORT, or -EBADMSG with @why set.
 */
int us_proto_hdr_decode(const void *in, struct us_msg_hdr *h, char *why, size_t whylen);

/* Bodies: *_encode writes into @out and returns its length; *_decode checks
 * the length and contents and returns 0 or -EBADMSG with @why set. */
size_t us_proto_hello_encode(void *out, const struct us_hello *m);
int us_proto_hello_decode(const void *in, size_t len, struct us_hello *m, char *why, size_t whylen);

/** Encode a CHALLENGE body into @out (64 bytes). @return its size. */
size_t us_proto_challenge_encode(void *out, const struct us_challenge *m);
/** @return 0, or -EBADMSG with @why. */
int us_proto_challenge_decode(const void *in, size_t len, struct us_challenge *m, char *why,
			      size_t whylen);
size_t us_proto_hello_ok_encode(void *out, const struct us_hello_ok *m);
int us_proto_hello_ok_decode(const void *in, size_t len, struct us_hello_ok *m, char *why, size_t whylen);
size_t us_proto_refuse_encode(void *out, const struct us_refuse *m);
int us_proto_refuse_decode(const void *in, size_t len, struct us_refuse *m, char *why, size_t whylen);
size_t us_proto_pages_desc_encode(void *out, uint64_t first, uint32_t count);
int us_proto_pages_decode(const void *in, size_t len, struct us_pages *m, char *why, size_t whylen);
/*
 * A PAGES body is one or more runs, each a descriptor and its pages, back
 * to back. Decode the run at *@off of the @len-byte body into @m and move
 * *@off past it. @return 1, 0 at the end of the body, or -EBADMSG with @why.
 */
int us_proto_pages_next(const void *in, size_t len, size_t *off, struct us_pages *m, char *why,
			size_t whylen);
/* PAGES_LZ4: the descriptor, then @m->data points at the LZ4 block of *@zlen bytes. */
int us_proto_pages_lz4_decode(const void *in, size_t len, struct us_pages *m, size_t *zlen,
			      char *why, size_t whylen);
size_t us_proto_disk_desc_encode(void *out, uint64_t offset, uint32_t length, uint32_t kind);
int us_proto_disk_decode(const void *in, size_t len, struct us_disk *m, char *why, size_t whylen);
size_t us_proto_hashes_desc_encode(void *out, uint64_t first, uint32_t count);
int us_proto_hashes_decode(const void *in, size_t len, struct us_disk_hashes *m, char *why,
			   size_t whylen);
size_t us_proto_epoch_end_encode(void *out, const struct us_epoch_end *m);
int us_proto_epoch_end_decode(const void *in, size_t len, struct us_epoch_end *m, char *why, size_t whylen);

/** Body size of an encoded message of @type with fixed size, 0 if variable. */
size_t us_proto_fixed_len(uint16_t type);

/** Name of a message type for logs. */
const char *us_proto_type_name(uint16_t type);

#endif
