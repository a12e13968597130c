/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The NBD server's fixed newstyle handshake: the greeting, the client's
 * flags, then option haggling until GO (or the old EXPORT_NAME) picks the
 * one export. The message sequence is drawn at the top of disk/nbd.c. Every
 * option the server does not implement gets NBD_REP_ERR_UNSUP, so clients
 * fall back to simple replies; a bad magic, unknown client flags or an
 * oversized option close the connection with a log line.
 */
#include <config.h>

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "disk/nbd_int.h"
#include "disk/nbd_proto.h"
#include "replicator/log.h"

static int send_opt_reply(struct us_nbd *s, uint32_t opt, uint32_t type, const void *data,
			  uint32_t len)
{
	struct nbd_opt_reply r = {
		.magic = htobe64(NBD_MAGIC_OPT_REPLY),
		.option = htobe32(opt),
		.type = htobe32(type),
		.len = htobe32(len),
	};
	int ret = nbd_send_full(s, &r, sizeof(r));

	if (!ret && len)
		ret = nbd_send_full(s, data, len);
	return ret;
}

static const char *opt_name(uint32_t opt)
{
	static const char *const names[] = {
		[NBD_OPT_EXPORT_NAME] = "EXPORT_NAME",
		[NBD_OPT_ABORT] = "ABORT",
		[NBD_OPT_LIST] = "LIST",
		[NBD_OPT_STARTTLS] = "STARTTLS",
		[NBD_OPT_INFO] = "INFO",
		[NBD_OPT_GO] = "GO",
		[NBD_OPT_STRUCTURED_REPLY] = "STRUCTURED_REPLY",
		[NBD_OPT_LIST_META_CONTEXT] = "LIST_META_CONTEXT",
		[NBD_OPT_SET_META_CONTEXT] = "SET_META_CONTEXT",
		[NBD_OPT_EXTENDED_HEADERS] = "EXTENDED_HEADERS",
	};

	if (opt < sizeof(names) / sizeof(names[0]) && names[opt])
		return names[opt];
	return "unknown";
}

/* An error reply carrying a message for the client's user. */
static int send_opt_error(struct us_nbd *s, uint32_t opt, uint32_t type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int send_opt_error(struct us_nbd *s, uint32_t opt, uint32_t type, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	us_log(type == NBD_REP_ERR_UNSUP ? LOG_DEBUG : LOG_INFO, US_TAG_DISK,
	       "NBD option %s (%u) refused: %s", opt_name(opt), opt, msg);
	return send_opt_reply(s, opt, type, msg, (uint32_t)n);
}

static int name_matches(const struct us_nbd *s, const uint8_t *name, uint32_t len)
{
	if (len == 0)
		return 1; /* the default export */
	return len == strlen(s->export_name) && !memcmp(name, s->export_name, len);
}

static int send_export_info(struct us_nbd *s, uint32_t opt)
{
	struct nbd_info_export ex = {
		.type = htobe16(NBD_INFO_EXPORT),
		.size = htobe64(s->size),
		.flags = htobe16(NBD_TX_FLAGS),
	};
	struct nbd_info_block_size bs = {
		.type = htobe16(NBD_INFO_BLOCK_SIZE),
		.minimum = htobe32(NBD_BLOCK_MIN),
		.preferred = htobe32(NBD_BLOCK_PREFERRED),
		.maximum = htobe32(US_NBD_MAX_PAYLOAD),
	};
	int ret = send_opt_reply(s, opt, NBD_REP_INFO, &ex, sizeof(ex));

	if (!ret)
		ret = send_opt_reply(s, opt, NBD_REP_INFO, &bs, sizeof(bs));
	if (!ret)
		ret = send_opt_reply(s, opt, NBD_REP_ACK, NULL, 0);
	return ret;
}

/* NBD_OPT_GO and NBD_OPT_INFO: u32 name length, name, u16 n, n × u16 info. */
static int opt_go_info(struct us_nbd *s, uint32_t opt, const uint8_t *data, uint32_t len)
{
	uint32_t name_len;
	uint16_t n_info;
	int ret;

	if (len < 6)
		return send_opt_error(s, opt, NBD_REP_ERR_INVALID, "option data too short");
	memcpy(&name_len, data, 4);
	name_len = be32toh(name_len);
	if (name_len > len - 6)
		return send_opt_error(s, opt, NBD_REP_ERR_INVALID,
				      "export name overruns the option");
	memcpy(&n_info, data + 4 + name_len, 2);
	n_info = be16toh(n_info);
	if (6u + name_len + 2u * n_info != len)
		return send_opt_error(s, opt, NBD_REP_ERR_INVALID, "info request count mismatch");
	if (!name_matches(s, data + 4, name_len))
		return send_opt_error(s, opt, NBD_REP_ERR_UNKNOWN,
				      "no export named '%.*s' (only '%s')", (int)name_len,
				      (const char *)data + 4, s->export_name);
	ret = send_export_info(s, opt);
	if (ret || opt != NBD_OPT_GO)
		return ret;
	us_log(LOG_INFO, US_TAG_DISK, "NBD client chose export '%s' (%llu bytes)", s->export_name,
	       (unsigned long long)s->size);
	return NBD_DONE;
}

/* NBD_OPT_EXPORT_NAME: no error reply is possible, a wrong name closes. */
static int opt_export_name(struct us_nbd *s, uint32_t opt, const uint8_t *data, uint32_t len)
{
	static const uint8_t pad[NBD_EXPORT_NAME_PAD];
	struct nbd_export_name_reply r = {
		.size = htobe64(s->size),
		.flags = htobe16(NBD_TX_FLAGS),
	};
	int ret;

	if (!name_matches(s, data, len)) {
		us_log(LOG_WARNING, US_TAG_DISK,
		       "NBD client asked for export '%.*s' (only '%s' here): closing", (int)len,
		       (const char *)data, s->export_name);
		return -ENOENT;
	}
	ret = nbd_send_full(s, &r, sizeof(r));
	if (!ret && !s->no_zeroes)
		ret = nbd_send_full(s, pad, sizeof(pad));
	if (!ret)
		us_log(LOG_INFO, US_TAG_DISK, "NBD client chose export '%s' (EXPORT_NAME)",
		       s->export_name);
	return ret ? ret : NBD_DONE;
}

static int opt_list(struct us_nbd *s, uint32_t opt, const uint8_t *data, uint32_t len)
{
	uint32_t name_len = (uint32_t)strlen(s->export_name);
	uint8_t reply[4 + NBD_OPT_DATA_MAX];
	uint32_t be_len = htobe32(name_len);
	int ret;

	if (len)
		return send_opt_error(s, opt, NBD_REP_ERR_INVALID, "LIST takes no data");
	memcpy(reply, &be_len, 4);
	memcpy(reply + 4, s->export_name, name_len);
	ret = send_opt_reply(s, opt, NBD_REP_SERVER, reply, 4 + name_len);
	return ret ? ret : send_opt_reply(s, opt, NBD_REP_ACK, NULL, 0);
}

static int opt_abort(struct us_nbd *s, uint32_t opt, const uint8_t *data, uint32_t len)
{
	us_log(LOG_INFO, US_TAG_DISK, "NBD client aborted the handshake");
	send_opt_reply(s, opt, NBD_REP_ACK, NULL, 0);
	return -ECONNABORTED;
}

static const struct {
	uint32_t opt;
	int (*fn)(struct us_nbd *s, uint32_t opt, const uint8_t *data, uint32_t len);
} opt_handlers[] = {
	{ NBD_OPT_GO, opt_go_info },
	{ NBD_OPT_INFO, opt_go_info },
	{ NBD_OPT_EXPORT_NAME, opt_export_name },
	{ NBD_OPT_LIST, opt_list },
	{ NBD_OPT_ABORT, opt_abort },
};

/* One option: 0 to go on haggling, NBD_DONE to transmit, -errno to close. */
static int negotiate_one(struct us_nbd *s)
{
	struct nbd_opt_hdr h;
	uint32_t opt, len;
	size_t i;
	int ret;

	ret = nbd_recv_full(s, &h, sizeof(h));
	if (ret)
		return ret;
	opt = be32toh(h.option);
	len = be32toh(h.len);
	if (be64toh(h.magic) != NBD_MAGIC_OPT || len > NBD_OPT_DATA_MAX) {
		us_log(LOG_WARNING, US_TAG_DISK,
		       "NBD handshake: bad option (magic %#llx, option %u, %u bytes): closing",
		       (unsigned long long)be64toh(h.magic), opt, len);
		return -EPROTO;
	}
	ret = nbd_recv_full(s, s->opt, len);
	if (ret)
		return ret;
	for (i = 0; i < sizeof(opt_handlers) / sizeof(opt_handlers[0]); i++)
		if (opt_handlers[i].opt == opt)
			return opt_handlers[i].fn(s, opt, s->opt, len);
	return send_opt_error(s, opt, NBD_REP_ERR_UNSUP, "option %s (%u) is not supported",
			      opt_name(opt), opt);
}

int nbd_handshake(struct us_nbd *s)
{
	struct nbd_greeting g = {
		.magic = htobe64(NBD_MAGIC_INIT),
		.opt_magic = htobe64(NBD_MAGIC_OPT),
		.flags = htobe16(NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES),
	};
	uint32_t cflags;
	int ret;

	ret = nbd_send_full(s, &g, sizeof(g));
	if (!ret)
		ret = nbd_recv_full(s, &cflags, sizeof(cflags));
	if (ret)
		return ret;
	cflags = be32toh(cflags);
	if (!(cflags & NBD_FLAG_C_FIXED_NEWSTYLE) ||
	    (cflags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES))) {
		us_log(LOG_WARNING, US_TAG_DISK,
		       "NBD handshake: client flags %#x (need fixed newstyle, nothing unknown): "
		       "closing",
		       cflags);
		return -EPROTO;
	}
	s->no_zeroes = !!(cflags & NBD_FLAG_C_NO_ZEROES);
	do
		ret = negotiate_one(s);
	while (ret == 0);
	return ret == NBD_DONE ? 0 : ret;
}
