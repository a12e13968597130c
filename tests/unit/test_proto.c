/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the wire encoder and decoder (replicator/proto.c): every
 * message round-trips, and every malformed header or body is refused with a
 * reason. Pure code, no fakes needed.
 */
#include <config.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <stdio.h>

#include "replicator/proto.h"

static void hdr_round_trip(void **state)
{
	struct us_msg_hdr in = { .version = US_PROTO_VERSION, .type = US_MSG_ACK, .len = 0,
				 .vm_id = 0x1122334455667788ull, .epoch = 42 }, out;
	unsigned char buf[US_PROTO_HDR_SIZE];
	char why[128];

	us_proto_hdr_encode(buf, &in);
	assert_int_equal(buf[0], 'U');	/* little-endian magic "USDS" */
	assert_int_equal(buf[3], 'S');
	assert_int_equal(us_proto_hdr_decode(buf, &out, why, sizeof(why)), 0);
	assert_int_equal(out.type, US_MSG_ACK);
	assert_true(out.vm_id == in.vm_id);
	assert_true(out.epoch == 42);
}

static int decode_with(const struct us_msg_hdr *h, char *why)
{
	unsigned char buf[US_PROTO_HDR_SIZE];
	struct us_msg_hdr out;

	us_proto_hdr_encode(buf, h);
	return us_proto_hdr_decode(buf, &out, why, 128);
}

static void hdr_rejects(void **state)
{
	struct us_msg_hdr h = { .version = US_PROTO_VERSION, .type = US_MSG_ACK };
	unsigned char buf[US_PROTO_HDR_SIZE];
	struct us_msg_hdr out;
	char why[128];

	memset(buf, 0xab, sizeof(buf));
	assert_int_equal(us_proto_hdr_decode(buf, &out, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "magic"));
	h.type = 99;
	assert_int_equal(decode_with(&h, why), -EBADMSG);
	assert_non_null(strstr(why, "unknown message type"));
	h.type = US_MSG_ACK;
	h.len = 4;
	assert_int_equal(decode_with(&h, why), -EBADMSG);
	h.type = US_MSG_PAGES;
	h.len = US_PROTO_MAX_BODY + 1;
	assert_int_equal(decode_with(&h, why), -EBADMSG);
	h.type = US_MSG_DEVSTATE;
	h.len = 0;
	assert_int_equal(decode_with(&h, why), -EBADMSG);
	h.type = US_MSG_HELLO;
	h.len = 3;
	assert_int_equal(decode_with(&h, why), -EBADMSG);
	assert_non_null(strstr(why, "HELLO body"));
}

static void hdr_other_version(void **state)
{
	struct us_msg_hdr h = { .version = US_PROTO_VERSION + 1, .type = US_MSG_HELLO, .len = 64 };
	char why[128], words[64];

	assert_int_equal(decode_with(&h, why), -EPROTONOSUPPORT);
	snprintf(words, sizeof(words), "protocol version %u", US_PROTO_VERSION + 1);
	assert_non_null(strstr(why, words));
}

static void hello_round_trip(void **state)
{
	struct us_hello in = { .ram_size = 256u << 20, .page_size = 4096, .vm_name = "demo",
			       .accel = "kvm", .keepalive_ms = 166 }, out;
	char buf[160], why[128];
	size_t n = us_proto_hello_encode(buf, &in);

	assert_int_equal(n, us_proto_fixed_len(US_MSG_HELLO));
	assert_int_equal(us_proto_hello_decode(buf, n, &out, why, sizeof(why)), 0);
	assert_string_equal(out.vm_name, "demo");
	assert_string_equal(out.accel, "kvm");
	assert_true(out.ram_size == in.ram_size);
	assert_int_equal(out.keepalive_ms, 166);
	assert_int_equal(us_proto_hello_decode(buf, n - 1, &out, why, sizeof(why)), -EBADMSG);
	memset(buf + 16 + US_PROTO_NAME_MAX, 'x', US_PROTO_ACCEL_MAX);	/* unterminated accel */
	assert_int_equal(us_proto_hello_decode(buf, n, &out, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "accelerator"));
	memset(buf + 16, 'x', US_PROTO_NAME_MAX);	/* unterminated name */
	assert_int_equal(us_proto_hello_decode(buf, n, &out, why, sizeof(why)), -EBADMSG);
}

static void pages_decode(void **state)
{
	static char body[US_PROTO_PAGES_DESC + 2 * US_PROTO_PAGE_SIZE];
	struct us_pages m;
	char why[128];

	us_proto_pages_desc_encode(body, 7, 2);
	memset(body + US_PROTO_PAGES_DESC, 0x5a, 2 * US_PROTO_PAGE_SIZE);
	assert_int_equal(us_proto_pages_decode(body, sizeof(body), &m, why, sizeof(why)), 0);
	assert_true(m.first == 7 && m.count == 2);
	assert_ptr_equal(m.data, body + US_PROTO_PAGES_DESC);
	/* truncated: one page short */
	assert_int_equal(us_proto_pages_decode(body, sizeof(body) - US_PROTO_PAGE_SIZE, &m, why,
					       sizeof(why)), -EBADMSG);
	us_proto_pages_desc_encode(body, 7, 0);
	assert_int_equal(us_proto_pages_decode(body, US_PROTO_PAGES_DESC, &m, why, sizeof(why)),
			 -EBADMSG);
	us_proto_pages_desc_encode(body, UINT64_MAX, 1);
	assert_int_equal(us_proto_pages_decode(body, US_PROTO_PAGES_DESC + US_PROTO_PAGE_SIZE, &m,
					       why, sizeof(why)), -EBADMSG);
}

/* A PAGES body of several runs (protocol 9), walked run by run. */
static void pages_next_runs(void **state)
{
	static char body[2 * US_PROTO_PAGES_DESC + 3 * US_PROTO_PAGE_SIZE];
	size_t off = 0, second = US_PROTO_PAGES_DESC + US_PROTO_PAGE_SIZE;
	struct us_pages m;
	char why[128];

	us_proto_pages_desc_encode(body, 7, 1);
	us_proto_pages_desc_encode(body + second, 40, 2);
	assert_int_equal(us_proto_pages_next(body, sizeof(body), &off, &m, why, sizeof(why)), 1);
	assert_true(m.first == 7 && m.count == 1 && off == second);
	assert_int_equal(us_proto_pages_next(body, sizeof(body), &off, &m, why, sizeof(why)), 1);
	assert_true(m.first == 40 && m.count == 2 && off == sizeof(body));
	assert_ptr_equal(m.data, body + second + US_PROTO_PAGES_DESC);
	assert_int_equal(us_proto_pages_next(body, sizeof(body), &off, &m, why, sizeof(why)), 0);
	/* the second run claims a page more than is left */
	off = 0;
	assert_int_equal(us_proto_pages_next(body, sizeof(body) - US_PROTO_PAGE_SIZE, &off, &m, why,
					     sizeof(why)), 1);
	assert_int_equal(us_proto_pages_next(body, sizeof(body) - US_PROTO_PAGE_SIZE, &off, &m, why,
					     sizeof(why)), -EBADMSG);
	/* a trailing fragment shorter than a descriptor */
	off = 0;
	assert_int_equal(us_proto_pages_next(body, second + 8, &off, &m, why, sizeof(why)), 1);
	assert_int_equal(us_proto_pages_next(body, second + 8, &off, &m, why, sizeof(why)), -EBADMSG);
}

static void disk_decode(void **state)
{
	static char body[US_PROTO_DISK_DESC + 8192];
	struct us_disk m;
	char why[128];

	us_proto_disk_desc_encode(body, 4096, 8192, US_DISK_WRITE);
	assert_int_equal(us_proto_disk_decode(body, sizeof(body), &m, why, sizeof(why)), 0);
	assert_true(m.offset == 4096 && m.length == 8192 && m.kind == US_DISK_WRITE);
	assert_ptr_equal(m.data, body + US_PROTO_DISK_DESC);
	assert_int_equal(us_proto_disk_decode(body, sizeof(body) - 1, &m, why, sizeof(why)),
			 -EBADMSG);	/* truncated data */
	assert_non_null(strstr(why, "does not match"));
	us_proto_disk_desc_encode(body, 0, 1 << 20, US_DISK_ZEROES);	/* zeroes: no data */
	assert_int_equal(us_proto_disk_decode(body, US_PROTO_DISK_DESC, &m, why, sizeof(why)), 0);
	assert_null(m.data);
	us_proto_disk_desc_encode(body, 0, 4096, 7);
	assert_int_equal(us_proto_disk_decode(body, US_PROTO_DISK_DESC, &m, why, sizeof(why)),
			 -EBADMSG);
	assert_non_null(strstr(why, "unknown kind"));
	us_proto_disk_desc_encode(body, 0, 0, US_DISK_ZEROES);
	assert_int_equal(us_proto_disk_decode(body, US_PROTO_DISK_DESC, &m, why, sizeof(why)),
			 -EBADMSG);
	us_proto_disk_desc_encode(body, UINT64_MAX - 10, 4096, US_DISK_ZEROES);
	assert_int_equal(us_proto_disk_decode(body, US_PROTO_DISK_DESC, &m, why, sizeof(why)),
			 -EBADMSG);
	assert_non_null(strstr(why, "overflows"));
}

static void hashes_decode(void **state)
{
	static char body[US_PROTO_HASHES_DESC + 3 * US_PROTO_HASH_LEN];
	struct us_disk_hashes m;
	char why[128];

	us_proto_hashes_desc_encode(body, 5, 3);
	assert_int_equal(us_proto_hashes_decode(body, sizeof(body), &m, why, sizeof(why)), 0);
	assert_true(m.first == 5 && m.count == 3);
	assert_ptr_equal(m.hashes, (unsigned char *)body + US_PROTO_HASHES_DESC);
	assert_int_equal(us_proto_hashes_decode(body, sizeof(body) - 1, &m, why, sizeof(why)),
			 -EBADMSG);
	us_proto_hashes_desc_encode(body, 5, 0);
	assert_int_equal(us_proto_hashes_decode(body, US_PROTO_HASHES_DESC, &m, why, sizeof(why)),
			 -EBADMSG);
	us_proto_hashes_desc_encode(body, UINT64_MAX - 1, 3);
	assert_int_equal(us_proto_hashes_decode(body, sizeof(body), &m, why, sizeof(why)), -EBADMSG);
}

static void epoch_end_and_refuse(void **state)
{
	struct us_epoch_end e = { .pages = 3, .page_bytes = 99, .devstate_bytes = 5,
				  .disk_writes = 2, .disk_bytes = 4128, .checksum = 0xfeedull }, o;
	struct us_refuse r = { .code = US_REFUSE_BUSY, .reason = "busy" }, ro;
	char buf[256], why[128];
	size_t n;

	n = us_proto_epoch_end_encode(buf, &e);
	assert_int_equal(us_proto_epoch_end_decode(buf, n, &o, why, sizeof(why)), 0);
	assert_true(o.pages == 3 && o.page_bytes == 99 && o.devstate_bytes == 5 && o.checksum == 0xfeed);
	assert_true(o.disk_writes == 2 && o.disk_bytes == 4128);
	assert_int_equal(us_proto_epoch_end_decode(buf, n - 8, &o, why, sizeof(why)), -EBADMSG);
	n = us_proto_refuse_encode(buf, &r);
	assert_int_equal(us_proto_refuse_decode(buf, n, &ro, why, sizeof(why)), 0);
	assert_string_equal(ro.reason, "busy");
	assert_int_equal(ro.code, US_REFUSE_BUSY);
}

static void vm_id_stable(void **state)
{
	assert_true(us_proto_vm_id("demo") == us_proto_vm_id("demo"));
	assert_true(us_proto_vm_id("demo") != us_proto_vm_id("demo2"));
	assert_string_equal(us_proto_type_name(US_MSG_EPOCH_END), "EPOCH_END");
	assert_string_equal(us_proto_type_name(200), "UNKNOWN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hdr_round_trip), cmocka_unit_test(hdr_rejects),
		cmocka_unit_test(hdr_other_version), cmocka_unit_test(hello_round_trip),
		cmocka_unit_test(pages_decode),
		cmocka_unit_test(pages_next_runs),
		cmocka_unit_test(disk_decode),
		cmocka_unit_test(hashes_decode),
		cmocka_unit_test(epoch_end_and_refuse),
		cmocka_unit_test(vm_id_stable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
