/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The tampering proxy's knowledge of the wire format, in one table and a
 * few functions over replicator/proto.h's own decoder (tamper_frame.h).
 * Today (protocol 8): a 40-byte header, then the body; an authenticated
 * message carries its tag in its own header (no frame is a prefix any more;
 * the proxy's prefix handling stays for a format that brings one back).
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "replicator/proto.h"
#include "tests/tools/tamper_frame.h"

struct tf_info {
	unsigned char from_standby; /* the standby sends it */
	unsigned char kind;	    /* enum tf_kind */
	unsigned char prefix;	    /* belongs to the next frame */
	unsigned short desc;	    /* descriptor bytes before the payload */
};

static const struct tf_info info[US_MSG_TYPE_MAX] = {
	[US_MSG_HELLO] = { .kind = TF_HANDSHAKE },
	[US_MSG_HELLO_OK] = { .from_standby = 1 },
	[US_MSG_PAGES] = { .kind = TF_EPOCH_DATA, .desc = US_PROTO_PAGES_DESC },
	[US_MSG_DEVSTATE] = { .kind = TF_EPOCH_DATA },
	[US_MSG_EPOCH_END] = { .kind = TF_EPOCH_END },
	[US_MSG_ACK] = { .from_standby = 1 },
	[US_MSG_DISK] = { .kind = TF_EPOCH_DATA, .desc = US_PROTO_DISK_DESC },
	[US_MSG_DISK_HASHES] = { .from_standby = 1, .desc = US_PROTO_HASHES_DESC },
	[US_MSG_SWITCHED] = { .from_standby = 1 },
	[US_MSG_SWITCH_ASK] = { .from_standby = 1 },
	[US_MSG_SUSPEND_OK] = { .from_standby = 1 },
	[US_MSG_HANDOFF_OK] = { .from_standby = 1 },
	[US_MSG_CHALLENGE] = { .from_standby = 1 },
	[US_MSG_AUTH] = { .kind = TF_HANDSHAKE },
};

/* Where in the header the epoch lies (proto.c's wire_hdr): flipped when a
 * message has no payload. */
#define TF_HDR_EPOCH_OFF 24

static const struct tf_info *lookup(uint16_t type)
{
	static const struct tf_info none;

	return type < US_MSG_TYPE_MAX ? &info[type] : &none;
}

size_t tf_hdr_size(void)
{
	return US_PROTO_HDR_SIZE;
}

size_t tf_max_body(void)
{
	size_t m = US_PROTO_MAX_BODY;

	if (m < US_PROTO_MAX_DEVSTATE_CHUNK)
		m = US_PROTO_MAX_DEVSTATE_CHUNK;
	if (m < US_PROTO_DISK_DESC + US_PROTO_MAX_DISK_CHUNK)
		m = US_PROTO_DISK_DESC + US_PROTO_MAX_DISK_CHUNK;
	return m;
}

int tf_hdr_parse(const void *buf, struct tf_frame *f, char *why, size_t whylen)
{
	struct us_msg_hdr h;
	int rc = us_proto_hdr_decode(buf, &h, why, whylen);

	/* another version still frames the same way: pass it on */
	if (rc < 0 && rc != -EPROTONOSUPPORT)
		return -EBADMSG;
	f->type = h.type;
	f->body_len = h.len;
	f->vm_id = h.vm_id;
	f->epoch = h.epoch;
	if (f->body_len > tf_max_body()) {
		snprintf(why, whylen, "a %s body of %u bytes", tf_type_name(f->type), f->body_len);
		return -EBADMSG;
	}
	return 0;
}

int tf_tagged(const void *buf)
{
	const unsigned char *tag = (const unsigned char *)buf + US_PROTO_TAG_OFF;
	size_t i;

	for (i = 0; i < US_PROTO_TAG_LEN; i++)
		if (tag[i])
			return 1;
	return 0;
}

int tf_is_prefix(uint16_t type)
{
	return lookup(type)->prefix;
}

int tf_from_standby(uint16_t type)
{
	return lookup(type)->from_standby;
}

enum tf_kind tf_kind(uint16_t type)
{
	return (enum tf_kind)lookup(type)->kind;
}

size_t tf_flip_offset(const struct tf_frame *f)
{
	size_t desc = lookup(f->type)->desc;

	if (f->body_len <= desc)
		return TF_HDR_EPOCH_OFF;
	return US_PROTO_HDR_SIZE + desc + (f->body_len - desc) / 2;
}

uint16_t tf_type_by_name(const char *name)
{
	uint16_t t;

	for (t = 1; t < US_MSG_TYPE_MAX; t++)
		if (strcasecmp(name, us_proto_type_name(t)) == 0)
			return t;
	return 0;
}

const char *tf_type_name(uint16_t type)
{
	return us_proto_type_name(type);
}

/* A made-up body for @type into @body. @return its length. */
static size_t forge_body(unsigned char *body, uint16_t type)
{
	size_t n;

	switch (type) {
	case US_MSG_PAGES:
		n = us_proto_pages_desc_encode(body, 0, 1);
		memset(body + n, 0x5a, US_PROTO_PAGE_SIZE);
		return n + US_PROTO_PAGE_SIZE;
	case US_MSG_DISK:
		n = us_proto_disk_desc_encode(body, 0, 512, US_DISK_WRITE);
		memset(body + n, 0x5a, 512);
		return n + 512;
	case US_MSG_DEVSTATE: memset(body, 0x5a, 64); return 64;
	default:
		n = us_proto_fixed_len(type);
		memset(body, 0, n);
		return n;
	}
}

size_t tf_forge(void *out, uint16_t type, uint64_t vm_id, uint64_t epoch)
{
	unsigned char *p = out;
	struct us_msg_hdr h = {
		.version = US_PROTO_VERSION, .type = type, .vm_id = vm_id, .epoch = epoch
	};

	h.len = (uint32_t)forge_body(p + US_PROTO_HDR_SIZE, type);
	/* a made-up tag, as anyone without the key must send (a keyless
	 * receiver ignores the field) */
	if (getrandom(h.tag, sizeof(h.tag), 0) != (ssize_t)sizeof(h.tag))
		memset(h.tag, 0xa5, sizeof(h.tag));
	us_proto_hdr_encode(p, &h);
	return US_PROTO_HDR_SIZE + h.len;
}
