/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The NBD wire format as far as understudy's server speaks it: the fixed
 * newstyle handshake, option requests and replies, and the transmission
 * phase's request and simple reply. Numbers follow the NBD protocol
 * (NetworkBlockDevice/nbd doc/proto.md). Every field on the wire is
 * big-endian; the structs below are the exact wire layout (packed, sizes
 * asserted) and are converted with htobe/be*toh where they are filled or read.
 */
#ifndef US_NBD_PROTO_H
#define US_NBD_PROTO_H

#include <stdint.h>

/* Handshake magics. */
#define NBD_MAGIC_INIT 0x4e42444d41474943ull   /* "NBDMAGIC" */
#define NBD_MAGIC_OPT 0x49484156454f5054ull    /* "IHAVEOPT" */
#define NBD_MAGIC_OPT_REPLY 0x3e889045565a9ull /* option replies */

/* Transmission magics. */
#define NBD_MAGIC_REQUEST 0x25609513u
#define NBD_MAGIC_SIMPLE_REPLY 0x67446698u

/* Handshake flags (server), client flags. */
#define NBD_FLAG_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_NO_ZEROES (1u << 1)
#define NBD_FLAG_C_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_C_NO_ZEROES (1u << 1)

/* Options. */
enum nbd_opt {
	NBD_OPT_EXPORT_NAME = 1,
	NBD_OPT_ABORT = 2,
	NBD_OPT_LIST = 3,
	NBD_OPT_STARTTLS = 5,
	NBD_OPT_INFO = 6,
	NBD_OPT_GO = 7,
	NBD_OPT_STRUCTURED_REPLY = 8,
	NBD_OPT_LIST_META_CONTEXT = 9,
	NBD_OPT_SET_META_CONTEXT = 10,
	NBD_OPT_EXTENDED_HEADERS = 11,
};

/* Option reply types; errors have bit 31 set. */
#define NBD_REP_ERR(n) ((1u << 31) + (n))
enum nbd_rep {
	NBD_REP_ACK = 1,
	NBD_REP_SERVER = 2,
	NBD_REP_INFO = 3,
};
#define NBD_REP_ERR_UNSUP NBD_REP_ERR(1)
#define NBD_REP_ERR_POLICY NBD_REP_ERR(2)
#define NBD_REP_ERR_INVALID NBD_REP_ERR(3)
#define NBD_REP_ERR_UNKNOWN NBD_REP_ERR(6)
#define NBD_REP_ERR_SHUTDOWN NBD_REP_ERR(7)

/* NBD_REP_INFO types (the first 16 bits of its data). */
enum nbd_info {
	NBD_INFO_EXPORT = 0,
	NBD_INFO_NAME = 1,
	NBD_INFO_DESCRIPTION = 2,
	NBD_INFO_BLOCK_SIZE = 3,
};

/* Transmission flags. */
#define NBD_FLAG_HAS_FLAGS (1u << 0)
#define NBD_FLAG_READ_ONLY (1u << 1)
#define NBD_FLAG_SEND_FLUSH (1u << 2)
#define NBD_FLAG_SEND_FUA (1u << 3)
#define NBD_FLAG_SEND_TRIM (1u << 5)
#define NBD_FLAG_SEND_WRITE_ZEROES (1u << 6)
#define NBD_FLAG_CAN_MULTI_CONN (1u << 8)

/* Commands and their flags. */
enum nbd_cmd {
	NBD_CMD_READ = 0,
	NBD_CMD_WRITE = 1,
	NBD_CMD_DISC = 2,
	NBD_CMD_FLUSH = 3,
	NBD_CMD_TRIM = 4,
	NBD_CMD_CACHE = 5,
	NBD_CMD_WRITE_ZEROES = 6,
	NBD_CMD_BLOCK_STATUS = 7,
};
#define NBD_CMD_FLAG_FUA (1u << 0)
#define NBD_CMD_FLAG_NO_HOLE (1u << 1)

/* Errors in a simple reply (fixed numbers, not the host's errno). */
#define NBD_EPERM 1u
#define NBD_EIO 5u
#define NBD_ENOMEM 12u
#define NBD_EINVAL 22u
#define NBD_ENOSPC 28u
#define NBD_EOVERFLOW 75u
#define NBD_ENOTSUP 95u
#define NBD_ESHUTDOWN 108u

/* S: the greeting. */
struct nbd_greeting {
	uint64_t magic;	    /* NBD_MAGIC_INIT */
	uint64_t opt_magic; /* NBD_MAGIC_OPT */
	uint16_t flags;	    /* handshake flags */
} __attribute__((packed));
_Static_assert(sizeof(struct nbd_greeting) == 18, "NBD greeting is 18 bytes");

/* C: an option request header, then len bytes of data. */
struct nbd_opt_hdr {
	uint64_t magic; /* NBD_MAGIC_OPT */
	uint32_t option;
	uint32_t len;
} __attribute__((packed));
_Static_assert(sizeof(struct nbd_opt_hdr) == 16, "NBD option header is 16 bytes");

/* S: an option reply header, then len bytes of data. */
struct nbd_opt_reply {
	uint64_t magic; /* NBD_MAGIC_OPT_REPLY */
	uint32_t option;
	uint32_t type; /* enum nbd_rep or NBD_REP_ERR_* */
	uint32_t len;
} __attribute__((packed));
_Static_assert(sizeof(struct nbd_opt_reply) == 20, "NBD option reply is 20 bytes");

/* S: NBD_REP_INFO data for NBD_INFO_EXPORT. */
struct nbd_info_export {
	uint16_t type; /* NBD_INFO_EXPORT */
	uint64_t size;
	uint16_t flags; /* transmission flags */
} __attribute__((packed));
_Static_assert(sizeof(struct nbd_info_export) == 12, "NBD_INFO_EXPORT is 12 bytes");

/* S: NBD_REP_INFO data for NBD_INFO_BLOCK_SIZE. */
struct nbd_info_block_size {
	uint16_t type; /* NBD_INFO_BLOCK_SIZE */
	uint32_t minimum;
	uint32_t preferred;
	uint32_t maximum;
} __attribute__((packed));
_Static_assert(sizeof(struct nbd_info_block_size) == 14, "NBD_INFO_BLOCK_SIZE is 14 bytes");

/* S: the answer to NBD_OPT_EXPORT_NAME (then 124 zeroes unless NO_ZEROES). */
struct nbd_export_name_reply {
	uint64_t size;
	uint16_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct nbd_export_name_reply) == 10, "EXPORT_NAME reply is 10 bytes");
#define NBD_EXPORT_NAME_PAD 124

/* C: a request; NBD_CMD_WRITE is followed by len bytes of payload. */
struct nbd_request {
	uint32_t magic;	 /* NBD_MAGIC_REQUEST */
	uint16_t flags;	 /* NBD_CMD_FLAG_* */
	uint16_t type;	 /* enum nbd_cmd */
	uint64_t cookie; /* echoed in the reply */
	uint64_t offset;
	uint32_t len;
} __attribute__((packed));
_Static_assert(sizeof(struct nbd_request) == 28, "NBD request is 28 bytes");

/* S: a simple reply; a successful NBD_CMD_READ is followed by its data. */
struct nbd_simple_reply {
	uint32_t magic; /* NBD_MAGIC_SIMPLE_REPLY */
	uint32_t error; /* 0 or NBD_E* */
	uint64_t cookie;
} __attribute__((packed));
_Static_assert(sizeof(struct nbd_simple_reply) == 16, "NBD simple reply is 16 bytes");

#endif
