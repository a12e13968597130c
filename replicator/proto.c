/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Encoder and decoder of the replication protocol described in proto.h. Wire
 * structs have fixed-width fields, explicit padding and explicit byte order;
 * every decoder checks lengths and contents before anything is used.
 */
#include <config.h>

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "replicator/proto.h"

struct wire_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t len;
	uint32_t reserved;
	uint64_t vm_id;
	uint64_t epoch;
	unsigned char tag[US_PROTO_TAG_LEN];
};
_Static_assert(sizeof(struct wire_hdr) == US_PROTO_HDR_SIZE, "header size");

struct wire_hello {
	uint64_t ram_size;
	uint32_t page_size;
	uint32_t flags;
	char vm_name[US_PROTO_NAME_MAX];
	char accel[US_PROTO_ACCEL_MAX];
	uint64_t disk_size;
	uint64_t lineage;
	uint64_t base_epoch;
	unsigned char nonce[US_PROTO_NONCE_LEN];
	uint32_t keepalive_ms;
	uint32_t pad;
};
_Static_assert(sizeof(struct wire_hello) == 136, "hello size");

struct wire_challenge {
	unsigned char nonce[US_PROTO_NONCE_LEN];
	unsigned char proof[32];
};
_Static_assert(sizeof(struct wire_challenge) == 64, "challenge size");

struct wire_hello_ok {
	uint64_t committed;
	uint64_t staging_max;
	uint64_t sync_pages;
};
_Static_assert(sizeof(struct wire_hello_ok) == 24, "hello_ok size");

struct wire_refuse {
	uint32_t code;
	uint32_t pad;
	char reason[120];
};
_Static_assert(sizeof(struct wire_refuse) == 128, "refuse size");

struct wire_pages {
	uint64_t first;
	uint32_t count;
	uint32_t pad;
};
_Static_assert(sizeof(struct wire_pages) == US_PROTO_PAGES_DESC, "pages size");

struct wire_disk {
	uint64_t offset;
	uint32_t length;
	uint32_t kind;
};
_Static_assert(sizeof(struct wire_disk) == US_PROTO_DISK_DESC, "disk size");

struct wire_hashes {
	uint64_t first;
	uint32_t count;
	uint32_t pad;
};
_Static_assert(sizeof(struct wire_hashes) == US_PROTO_HASHES_DESC, "hashes size");

struct wire_epoch_end {
	uint64_t pages;
	uint64_t page_bytes;
	uint64_t devstate_bytes;
	uint64_t disk_writes;
	uint64_t disk_bytes;
	uint64_t checksum;
};
_Static_assert(sizeof(struct wire_epoch_end) == 48, "epoch_end size");

static const char *const type_names[US_MSG_TYPE_MAX] = {
	[US_MSG_HELLO] = "HELLO", [US_MSG_HELLO_OK] = "HELLO_OK",
	[US_MSG_REFUSE] = "REFUSE", [US_MSG_PAGES] = "PAGES",
	[US_MSG_DEVSTATE] = "DEVSTATE", [US_MSG_EPOCH_END] = "EPOCH_END",
	[US_MSG_ACK] = "ACK", [US_MSG_DISK] = "DISK", [US_MSG_DISK_HASHES] = "DISK_HASHES",
	[US_MSG_KEEPALIVE] = "KEEPALIVE", [US_MSG_SWITCHOVER] = "SWITCHOVER",
	[US_MSG_SWITCHED] = "SWITCHED", [US_MSG_SWITCH_ASK] = "SWITCH_ASK",
	[US_MSG_SUSPEND] = "SUSPEND", [US_MSG_SUSPEND_OK] = "SUSPEND_OK",
	[US_MSG_HANDOFF] = "HANDOFF", [US_MSG_HANDOFF_OK] = "HANDOFF_OK",
	[US_MSG_CHALLENGE] = "CHALLENGE", [US_MSG_AUTH] = "AUTH",
	[US_MSG_PAGES_LZ4] = "PAGES_LZ4",
};

/* Fixed body sizes; 0 marks a variable-length body. */
static const size_t fixed_len[US_MSG_TYPE_MAX] = {
	[US_MSG_HELLO] = sizeof(struct wire_hello),
	[US_MSG_HELLO_OK] = sizeof(struct wire_hello_ok),
	[US_MSG_REFUSE] = sizeof(struct wire_refuse),
	[US_MSG_EPOCH_END] = sizeof(struct wire_epoch_end),
	[US_MSG_ACK] = 0,
	[US_MSG_SWITCHOVER] = 8,	/* the primary's part of the pause so far, us */
	[US_MSG_CHALLENGE] = sizeof(struct wire_challenge),
};

static int fail(char *why, size_t whylen, const char *msg)
{
	if (why && whylen)
		snprintf(why, whylen, "%s", msg);
	return -EBADMSG;
}

uint64_t us_proto_vm_id(const char *name)
{
	return XXH3_64bits(name, strlen(name));
}

const char *us_proto_type_name(uint16_t type)
{
	if (type < US_MSG_TYPE_MAX && type_names[type])
		return type_names[type];
	return "UNKNOWN";
}

size_t us_proto_fixed_len(uint16_t type)
{
	return type < US_MSG_TYPE_MAX ? fixed_len[type] : 0;
}

void us_proto_hdr_encode(void *out, const struct us_msg_hdr *h)
{
	struct wire_hdr w = {
		.magic = htole32(US_PROTO_MAGIC), .version = htole16(h->version),
		.type = htole16(h->type), .len = htole32(h->len),
		.vm_id = htole64(h->vm_id), .epoch = htole64(h->epoch),
	};

	memcpy(w.tag, h->tag, sizeof(w.tag));
	memcpy(out, &w, sizeof(w));
}

static int check_len(const struct us_msg_hdr *h, char *why, size_t whylen)
{
	size_t fixed = us_proto_fixed_len(h->type);

	if ((h->type == US_MSG_ACK || h->type == US_MSG_KEEPALIVE || h->type == US_MSG_SWITCHED ||
	     h->type == US_MSG_SWITCH_ASK || h->type == US_MSG_SUSPEND ||
	     h->type == US_MSG_SUSPEND_OK || h->type == US_MSG_HANDOFF ||
	     h->type == US_MSG_HANDOFF_OK || h->type == US_MSG_AUTH) && h->len != 0)
		return fail(why, whylen, "a body on a message that has none");
	if (fixed && h->len != fixed) {
		snprintf(why, whylen, "%s body of %u bytes, expected %zu",
			 us_proto_type_name(h->type), h->len, fixed);
		return -EBADMSG;
	}
	if ((h->type == US_MSG_PAGES || h->type == US_MSG_PAGES_LZ4) &&
	    (h->len > US_PROTO_MAX_BODY || h->len < US_PROTO_PAGES_DESC))
		return fail(why, whylen, "PAGES body length out of bounds");
	if (h->type == US_MSG_DEVSTATE && (h->len == 0 || h->len > US_PROTO_MAX_DEVSTATE_CHUNK))
		return fail(why, whylen, "DEVSTATE chunk length out of bounds");
	if (h->type == US_MSG_DISK_HASHES &&
	    (h->len < US_PROTO_HASHES_DESC ||
	     h->len > US_PROTO_HASHES_DESC + US_PROTO_MAX_HASHES * US_PROTO_HASH_LEN))
		return fail(why, whylen, "DISK_HASHES body length out of bounds");
	if (h->type == US_MSG_DISK &&
	    (h->len < US_PROTO_DISK_DESC || h->len > US_PROTO_DISK_DESC + US_PROTO_MAX_DISK_CHUNK))
		return fail(why, whylen, "DISK body length out of bounds");
	return 0;
}

/* A TLS handshake record (ClientHello): content type 22, version 3.x. */
static int tls_record(const unsigned char *b)
{
	return b[0] == 22 && b[1] == 3 && b[2] <= 4;
}

int us_proto_hdr_decode(const void *in, struct us_msg_hdr *h, char *why, size_t whylen)
{
	struct wire_hdr w;

	memcpy(&w, in, sizeof(w));
	if (tls_record(in))
		return fail(why, whylen, "the peer speaks TLS ([replication] tls is on there): "
				 "set tls the same on both hosts");
	if (le32toh(w.magic) != US_PROTO_MAGIC)
		return fail(why, whylen, "bad magic: not an understudy replication peer");
	h->version = le16toh(w.version);
	h->type = le16toh(w.type);
	h->len = le32toh(w.len);
	h->vm_id = le64toh(w.vm_id);
	h->epoch = le64toh(w.epoch);
	memcpy(h->tag, w.tag, sizeof(h->tag));
	if (h->version != US_PROTO_VERSION) {
		snprintf(why, whylen, "peer speaks protocol version %u, this understudy speaks %u",
			 h->version, US_PROTO_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (h->type == 0 || h->type >= US_MSG_TYPE_MAX) {
		snprintf(why, whylen, "unknown message type %u", h->type);
		return -EBADMSG;
	}
	return check_len(h, why, whylen);
}

size_t us_proto_hello_encode(void *out, const struct us_hello *m)
{
	struct wire_hello w = {
		.ram_size = htole64(m->ram_size), .page_size = htole32(m->page_size),
		.flags = htole32(m->flags), .disk_size = htole64(m->disk_size),
		.lineage = htole64(m->lineage), .base_epoch = htole64(m->base_epoch),
		.keepalive_ms = htole32(m->keepalive_ms),
	};

	snprintf(w.vm_name, sizeof(w.vm_name), "%s", m->vm_name);
	snprintf(w.accel, sizeof(w.accel), "%s", m->accel);
	memcpy(w.nonce, m->nonce, sizeof(w.nonce));
	memcpy(out, &w, sizeof(w));
	return sizeof(w);
}

size_t us_proto_challenge_encode(void *out, const struct us_challenge *m)
{
	struct wire_challenge w;

	memcpy(w.nonce, m->nonce, sizeof(w.nonce));
	memcpy(w.proof, m->proof, sizeof(w.proof));
	memcpy(out, &w, sizeof(w));
	return sizeof(w);
}

int us_proto_challenge_decode(const void *in, size_t len, struct us_challenge *m, char *why,
			      size_t whylen)
{
	struct wire_challenge w;

	if (len != sizeof(w))
		return fail(why, whylen, "CHALLENGE of the wrong size");
	memcpy(&w, in, sizeof(w));
	memcpy(m->nonce, w.nonce, sizeof(m->nonce));
	memcpy(m->proof, w.proof, sizeof(m->proof));
	return 0;
}

int us_proto_hello_decode(const void *in, size_t len, struct us_hello *m, char *why, size_t whylen)
{
	struct wire_hello w;

	if (len != sizeof(w))
		return fail(why, whylen, "HELLO of the wrong size");
	memcpy(&w, in, sizeof(w));
	if (memchr(w.vm_name, 0, sizeof(w.vm_name)) == NULL || w.vm_name[0] == 0)
		return fail(why, whylen, "HELLO with an unterminated or empty VM name");
	if (memchr(w.accel, 0, sizeof(w.accel)) == NULL || w.accel[0] == 0)
		return fail(why, whylen, "HELLO with an unterminated or empty accelerator");
	m->ram_size = le64toh(w.ram_size);
	m->page_size = le32toh(w.page_size);
	m->flags = le32toh(w.flags);
	memcpy(m->vm_name, w.vm_name, sizeof(w.vm_name));
	memcpy(m->accel, w.accel, sizeof(w.accel));
	m->disk_size = le64toh(w.disk_size);
	m->lineage = le64toh(w.lineage);
	m->base_epoch = le64toh(w.base_epoch);
	memcpy(m->nonce, w.nonce, sizeof(m->nonce));
	m->keepalive_ms = le32toh(w.keepalive_ms);
	return 0;
}

size_t us_proto_hello_ok_encode(void *out, const struct us_hello_ok *m)
{
	struct wire_hello_ok w = {
		.committed = htole64(m->committed), .staging_max = htole64(m->staging_max),
		.sync_pages = htole64(m->sync_pages),
	};

	memcpy(out, &w, sizeof(w));
	return sizeof(w);
}

int us_proto_hello_ok_decode(const void *in, size_t len, struct us_hello_ok *m, char *why, size_t whylen)
{
	struct wire_hello_ok w;

	if (len != sizeof(w))
		return fail(why, whylen, "HELLO_OK of the wrong size");
	memcpy(&w, in, sizeof(w));
	m->committed = le64toh(w.committed);
	m->staging_max = le64toh(w.staging_max);
	m->sync_pages = le64toh(w.sync_pages);
	return 0;
}

size_t us_proto_refuse_encode(void *out, const struct us_refuse *m)
{
	struct wire_refuse w = { .code = htole32(m->code) };

	snprintf(w.reason, sizeof(w.reason), "%s", m->reason);
	memcpy(out, &w, sizeof(w));
	return sizeof(w);
}

int us_proto_refuse_decode(const void *in, size_t len, struct us_refuse *m, char *why, size_t whylen)
{
	struct wire_refuse w;

	if (len != sizeof(w))
		return fail(why, whylen, "REFUSE of the wrong size");
	memcpy(&w, in, sizeof(w));
	w.reason[sizeof(w.reason) - 1] = 0;
	m->code = le32toh(w.code);
	memcpy(m->reason, w.reason, sizeof(w.reason));
	return 0;
}

size_t us_proto_pages_desc_encode(void *out, uint64_t first, uint32_t count)
{
	struct wire_pages w = { .first = htole64(first), .count = htole32(count) };

	memcpy(out, &w, sizeof(w));
	return sizeof(w);
}

int us_proto_pages_decode(const void *in, size_t len, struct us_pages *m, char *why, size_t whylen)
{
	struct wire_pages w;

	if (len < sizeof(w))
		return fail(why, whylen, "PAGES shorter than its descriptor");
	memcpy(&w, in, sizeof(w));
	m->first = le64toh(w.first);
	m->count = le32toh(w.count);
	if (m->count == 0 || m->count > US_PROTO_MAX_RUN)
		return fail(why, whylen, "PAGES with a page count of 0 or over the run limit");
	if (len != sizeof(w) + (size_t)m->count * US_PROTO_PAGE_SIZE)
		return fail(why, whylen, "PAGES length does not match its page count");
	if (m->first > UINT64_MAX - m->count)
		return fail(why, whylen, "PAGES run overflows");
	m->data = (const char *)in + sizeof(w);
	return 0;
}

int us_proto_pages_next(const void *in, size_t len, size_t *off, struct us_pages *m, char *why,
			size_t whylen)
{
	const char *p = (const char *)in + *off;
	size_t left = len - *off, n;
	uint32_t count;

	if (*off >= len)
		return 0;
	if (left < US_PROTO_PAGES_DESC)
		return fail(why, whylen, "PAGES run shorter than its descriptor");
	memcpy(&count, p + 8, sizeof(count));
	count = le32toh(count);
	n = US_PROTO_PAGES_DESC + (size_t)count * US_PROTO_PAGE_SIZE;
	if (count > US_PROTO_MAX_RUN || n > left)
		return fail(why, whylen, "PAGES run longer than the rest of its body");
	if (us_proto_pages_decode(p, n, m, why, whylen) < 0)
		return -EBADMSG;
	*off += n;
	return 1;
}

int us_proto_pages_lz4_decode(const void *in, size_t len, struct us_pages *m, size_t *zlen,
			      char *why, size_t whylen)
{
	struct wire_pages w;

	if (len <= sizeof(w))
		return fail(why, whylen, "PAGES_LZ4 without data");
	memcpy(&w, in, sizeof(w));
	m->first = le64toh(w.first);
	m->count = le32toh(w.count);
	if (m->count == 0 || m->count > US_PROTO_MAX_RUN)
		return fail(why, whylen, "PAGES_LZ4 with a page count of 0 or over the run limit");
	if (len >= sizeof(w) + (size_t)m->count * US_PROTO_PAGE_SIZE)
		return fail(why, whylen, "PAGES_LZ4 no smaller than its pages");
	if (m->first > UINT64_MAX - m->count)
		return fail(why, whylen, "PAGES_LZ4 run overflows");
	m->data = (const char *)in + sizeof(w);
	*zlen = len - sizeof(w);
	return 0;
}

size_t us_proto_disk_desc_encode(void *out, uint64_t offset, uint32_t length, uint32_t kind)
{
	struct wire_disk w = {
		.offset = htole64(offset), .length = htole32(length), .kind = htole32(kind),
	};

	memcpy(out, &w, sizeof(w));
	return sizeof(w);
}

int us_proto_disk_decode(const void *in, size_t len, struct us_disk *m, char *why, size_t whylen)
{
	struct wire_disk w;

	if (len < sizeof(w))
		return fail(why, whylen, "DISK shorter than its descriptor");
	memcpy(&w, in, sizeof(w));
	m->offset = le64toh(w.offset);
	m->length = le32toh(w.length);
	m->kind = le32toh(w.kind);
	if (m->length == 0 || m->length > US_PROTO_MAX_DISK_CHUNK)
		return fail(why, whylen, "DISK with a length of 0 or over the chunk limit");
	if (m->kind != US_DISK_WRITE && m->kind != US_DISK_ZEROES)
		return fail(why, whylen, "DISK of an unknown kind");
	if (len != sizeof(w) + (m->kind == US_DISK_WRITE ? m->length : 0))
		return fail(why, whylen, "DISK length does not match its descriptor");
	if (m->offset > UINT64_MAX - m->length)
		return fail(why, whylen, "DISK range overflows");
	m->data = m->kind == US_DISK_WRITE ? (const char *)in + sizeof(w) : NULL;
	return 0;
}

size_t us_proto_hashes_desc_encode(void *out, uint64_t first, uint32_t count)
{
	struct wire_hashes w = { .first = htole64(first), .count = htole32(count) };

	memcpy(out, &w, sizeof(w));
	return sizeof(w);
}

int us_proto_hashes_decode(const void *in, size_t len, struct us_disk_hashes *m, char *why,
			   size_t whylen)
{
	struct wire_hashes w;

	if (len < sizeof(w))
		return fail(why, whylen, "DISK_HASHES shorter than its descriptor");
	memcpy(&w, in, sizeof(w));
	m->first = le64toh(w.first);
	m->count = le32toh(w.count);
	if (m->count == 0 || m->count > US_PROTO_MAX_HASHES)
		return fail(why, whylen, "DISK_HASHES with a count of 0 or over the limit");
	if (len != sizeof(w) + (size_t)m->count * US_PROTO_HASH_LEN)
		return fail(why, whylen, "DISK_HASHES length does not match its count");
	if (m->first > UINT64_MAX - m->count)
		return fail(why, whylen, "DISK_HASHES range overflows");
	m->hashes = (const unsigned char *)in + sizeof(w);
	return 0;
}

size_t us_proto_epoch_end_encode(void *out, const struct us_epoch_end *m)
{
	struct wire_epoch_end w = {
		.pages = htole64(m->pages), .page_bytes = htole64(m->page_bytes),
		.devstate_bytes = htole64(m->devstate_bytes), .disk_writes = htole64(m->disk_writes),
		.disk_bytes = htole64(m->disk_bytes), .checksum = htole64(m->checksum),
	};

	memcpy(out, &w, sizeof(w));
	return sizeof(w);
}

int us_proto_epoch_end_decode(const void *in, size_t len, struct us_epoch_end *m, char *why, size_t whylen)
{
	struct wire_epoch_end w;

	if (len != sizeof(w))
		return fail(why, whylen, "EPOCH_END of the wrong size");
	memcpy(&w, in, sizeof(w));
	m->pages = le64toh(w.pages);
	m->page_bytes = le64toh(w.page_bytes);
	m->devstate_bytes = le64toh(w.devstate_bytes);
	m->disk_writes = le64toh(w.disk_writes);
	m->disk_bytes = le64toh(w.disk_bytes);
	m->checksum = le64toh(w.checksum);
	return 0;
}
