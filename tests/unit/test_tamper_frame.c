/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the tampering proxy's framing knowledge
 * (tests/tools/tamper_frame.c): it reads the daemons' own headers, knows a
 * TAG belongs to the message after it, flips a byte inside a page and not
 * in a descriptor, makes up frames the protocol's decoder accepts, and
 * gives up on bytes that are not the protocol.
 */
#include <config.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "replicator/proto.h"
#include "tests/tools/tamper_frame.h"

static void parses_daemon_headers(void **state)
{
	struct us_msg_hdr h = { .version = US_PROTO_VERSION,
				.type = US_MSG_EPOCH_END,
				.len = 48,
				.vm_id = 7,
				.epoch = 99 };
	unsigned char buf[US_PROTO_HDR_SIZE];
	struct tf_frame f;
	char why[128];

	(void)state;
	assert_int_equal(tf_hdr_size(), US_PROTO_HDR_SIZE);
	us_proto_hdr_encode(buf, &h);
	assert_int_equal(tf_hdr_parse(buf, &f, why, sizeof(why)), 0);
	assert_int_equal(f.type, US_MSG_EPOCH_END);
	assert_int_equal(f.body_len, 48);
	assert_true(f.epoch == 99 && f.vm_id == 7);
	assert_int_equal(tf_kind(f.type), TF_EPOCH_END);
}

static void refuses_what_is_not_the_protocol(void **state)
{
	unsigned char buf[US_PROTO_HDR_SIZE];
	struct tf_frame f;
	char why[128] = "";

	(void)state;
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(tf_hdr_parse(buf, &f, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "magic"));
}

static void knows_directions_and_prefixes(void **state)
{
	(void)state;
	for (uint16_t t = 0; t < US_MSG_TYPE_MAX; t++) /* the tag is in the header */
		assert_false(tf_is_prefix(t));
	assert_true(tf_from_standby(US_MSG_ACK));
	assert_true(tf_from_standby(US_MSG_CHALLENGE));
	assert_false(tf_from_standby(US_MSG_PAGES));
	assert_false(tf_from_standby(US_MSG_AUTH));
	assert_int_equal(tf_kind(US_MSG_HELLO), TF_HANDSHAKE);
	assert_int_equal(tf_kind(US_MSG_DEVSTATE), TF_EPOCH_DATA);
	assert_int_equal(tf_kind(US_MSG_KEEPALIVE), TF_CONTROL);
	assert_int_equal(tf_type_by_name("pages"), US_MSG_PAGES);
	assert_int_equal(tf_type_by_name("EPOCH_END"), US_MSG_EPOCH_END);
	assert_int_equal(tf_type_by_name("NOPE"), 0);
}

static void flips_inside_the_page(void **state)
{
	struct tf_frame pages = { .type = US_MSG_PAGES, .body_len = US_PROTO_PAGES_DESC + 4096 };
	struct tf_frame ack = { .type = US_MSG_ACK, .body_len = 0 };
	size_t at = tf_flip_offset(&pages);

	(void)state;
	assert_true(at >= US_PROTO_HDR_SIZE + US_PROTO_PAGES_DESC);
	assert_true(at < US_PROTO_HDR_SIZE + pages.body_len);
	assert_true(tf_flip_offset(&ack) < US_PROTO_HDR_SIZE); /* no payload: the header */
}

static void forges_frames_the_decoder_accepts(void **state)
{
	static const uint16_t types[] = { US_MSG_PAGES, US_MSG_DISK, US_MSG_DEVSTATE,
					  US_MSG_EPOCH_END, US_MSG_ACK };
	unsigned char *buf = malloc(tf_hdr_size() + tf_max_body());
	struct us_msg_hdr h;
	char why[128];
	size_t i, n;

	(void)state;
	assert_non_null(buf);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		n = tf_forge(buf, types[i], 5, 6);
		assert_int_equal(us_proto_hdr_decode(buf, &h, why, sizeof(why)), 0);
		assert_int_equal(h.type, types[i]);
		assert_int_equal(n, US_PROTO_HDR_SIZE + h.len);
		assert_true(h.vm_id == 5 && h.epoch == 6);
		assert_memory_not_equal(h.tag, (unsigned char[US_PROTO_TAG_LEN]){ 0 },
					US_PROTO_TAG_LEN); /* a made-up tag */
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_daemon_headers),
		cmocka_unit_test(refuses_what_is_not_the_protocol),
		cmocka_unit_test(knows_directions_and_prefixes),
		cmocka_unit_test(flips_inside_the_page),
		cmocka_unit_test(forges_frames_the_decoder_accepts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
