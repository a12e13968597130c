/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared helpers of the libFuzzer harnesses (fuzz.h): a libqb log target
 * that takes every line at debug level and drops it, so the code under test
 * formats each message it would log (a %s of an unterminated field shows),
 * without the noise that would slow the fuzzer down.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <qb/qblog.h>

#include "replicator/log.h"
#include "replicator/proto.h"
#include "tests/fuzz/fuzz.h"

static size_t log_bytes; /* keeps the formatted text observable */

static void drop_line(int32_t target, struct qb_log_callsite *cs, struct timespec *ts,
		      const char *msg)
{
	while (*msg)
		log_bytes += (unsigned char)*msg++ != 0;
}

void us_fuzz_log_init(const char *name)
{
	const char *env = getenv("US_FUZZ_LOG");
	int t;

	if (env && *env == '1') {
		us_log_init(name, LOG_DEBUG, 0);
		return;
	}
	us_log_init(name, LOG_EMERG, 0);
	t = qb_log_custom_open(drop_line, NULL, NULL, NULL);
	if (t < 0)
		return;
	qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", LOG_DEBUG);
	qb_log_ctl(t, QB_LOG_CONF_ENABLED, QB_TRUE);
}

void us_fuzz_assert(const char *what, int ok)
{
	if (ok)
		return;
	fprintf(stderr, "us-fuzz: invariant broken: %s\n", what);
	abort();
}

int us_fuzz_memfd(const char *name, const void *data, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	us_fuzz_assert("memfd_create", fd >= 0);
	us_fuzz_assert("write to a memfd", len == 0 || write(fd, data, len) == (ssize_t)len);
	us_fuzz_assert("lseek of a memfd", lseek(fd, 0, SEEK_SET) == 0);
	return fd;
}

void us_fuzz_frames(const uint8_t *data, size_t size, us_fuzz_msg_fn msg, us_fuzz_closed_fn closed,
		    void *opaque)
{
	struct us_msg_hdr h;
	size_t pos = 0;
	char why[256];
	int rc;

	while (size - pos >= US_PROTO_HDR_SIZE) {
		rc = us_proto_hdr_decode(data + pos, &h, why, sizeof(why));
		if (rc == -EBADMSG) {
			closed(opaque);
			pos += US_PROTO_HDR_SIZE;
			continue;
		}
		if (rc == 0 && size - pos - US_PROTO_HDR_SIZE < h.len)
			break;
		if (msg(opaque, rc, &h, rc ? NULL : data + pos + US_PROTO_HDR_SIZE) || rc)
			closed(opaque);
		pos += US_PROTO_HDR_SIZE + (rc ? 0 : h.len);
	}
	closed(opaque);
}
