/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of output commit (netbuf/): the epoch queue releases in order and
 * only on the matching ACK, honours its caps; the stream framer refuses zero
 * and oversized lengths and waits for truncated frames. The relay test is
 * real: a private network namespace (unshare), a real tap, a unix socket
 * standing in for QEMU's -netdev stream, and an AF_PACKET socket on the tap
 * to see what reaches the "LAN". It checks back-pressure (a full queue stops
 * reading, nothing is dropped) and that malformed frames are counted.
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "netbuf/outq.h"
#include "netbuf/relay.h"
#include "replicator/log.h"

/* ---- the queue ---- */

static char emitted[64][32];
static int n_emitted;

static int record(void *opaque, const void *frame, size_t len)
{
	snprintf(emitted[n_emitted++], sizeof(emitted[0]), "%.*s", (int)len, (const char *)frame);
	return 0;
}

static void push(struct us_outq *q, const char *s)
{
	assert_int_equal(us_outq_push(q, s, strlen(s)), 0);
}

static void release_in_order_on_ack(void **state)
{
	struct us_outq *q = us_outq_new(1 << 20, 100);
	struct us_outq_stats st;

	n_emitted = 0;
	push(q, "a1");
	push(q, "a2");
	us_outq_seal(q, 7);		/* epoch 7 stopped: a1, a2 are epoch 7's */
	push(q, "b1");
	assert_int_equal(us_outq_release(q, 6, record, NULL), 0);	/* ACK(6): nothing of 7 */
	us_outq_seal(q, 8);
	push(q, "c1");			/* open: epoch 9 */
	assert_int_equal(us_outq_release(q, 8, record, NULL), 3);	/* ACK(8) covers 7 and 8 */
	assert_int_equal(n_emitted, 3);
	assert_string_equal(emitted[0], "a1");
	assert_string_equal(emitted[1], "a2");
	assert_string_equal(emitted[2], "b1");
	assert_int_equal(us_outq_release(q, 100, record, NULL), 0);	/* c1 not sealed */
	us_outq_stats(q, &st);
	assert_true(st.queued_frames == 1 && st.released_frames == 3);
	assert_int_equal(us_outq_flush(q, record, NULL), 1);	/* degraded: all out */
	assert_string_equal(emitted[3], "c1");
	us_outq_free(q);
}

static void caps_refuse_never_drop(void **state)
{
	struct us_outq *q = us_outq_new(10, 3);
	struct us_outq_stats st;

	push(q, "1234");
	push(q, "5678");
	assert_false(us_outq_room(q, 3));		/* 8 + 3 > 10 bytes */
	assert_int_equal(us_outq_push(q, "abc", 3), -ENOBUFS);
	push(q, "xy");
	assert_int_equal(us_outq_push(q, "z", 1), -ENOBUFS);	/* 3 frames */
	us_outq_stats(q, &st);
	assert_true(st.queued_frames == 3 && st.queued_bytes == 10);
	us_outq_seal(q, 1);
	n_emitted = 0;
	assert_int_equal(us_outq_release(q, 1, record, NULL), 3);
	assert_true(us_outq_room(q, 10));
	us_outq_free(q);
	us_outq_free(NULL);
}

/* ---- the framer ---- */

static void framer(void **state)
{
	unsigned char buf[16] = { 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o', 0, 0 };
	size_t flen, total;

	assert_int_equal(us_frame_next(buf, 3, &flen, &total), US_FRAME_NEED_MORE);
	assert_int_equal(us_frame_next(buf, 8, &flen, &total), US_FRAME_NEED_MORE);	/* truncated */
	assert_int_equal(us_frame_next(buf, 9, &flen, &total), US_FRAME_OK);
	assert_true(flen == 5 && total == 9);
	memset(buf, 0, 4);
	assert_int_equal(us_frame_next(buf, 9, &flen, &total), US_FRAME_BAD);	/* zero length */
	assert_int_equal(total, 4);
	buf[1] = 0x10;	/* 1 MiB: over the MTU plus headroom */
	assert_int_equal(us_frame_next(buf, 9, &flen, &total), US_FRAME_BAD);
	assert_true(total == 4 + 0x100000);
}

/* A frame taker that refuses the second frame it sees, once. */
static int take_but_second(void *opaque, const unsigned char *frame, size_t len)
{
	int *seen = opaque;

	return ++*seen == 2 ? -ENOBUFS : 0;
}

/* The splitter the relay runs: a refused frame stays first, a malformed
 * record is skipped across reads, a partial frame at the end is counted. */
static void framer_split(void **state)
{
	static const unsigned char two[] = { 0, 0, 0, 1, 'a', 0, 0, 0, 2, 'b', 'c', 0, 0, 0, 0 };
	struct us_frame_rx *rx = calloc(1, sizeof(*rx));
	int seen = 0;

	memcpy(rx->buf, two, sizeof(two));
	rx->len = sizeof(two);
	assert_int_equal(us_frame_rx_split(rx, take_but_second, &seen), -ENOBUFS);
	assert_int_equal(rx->len, sizeof(two) - 5);	/* "bc" waits, first */
	assert_int_equal(rx->buf[4], 'b');
	assert_int_equal(us_frame_rx_split(rx, take_but_second, &seen), 0);
	assert_int_equal(seen, 3);
	assert_int_equal(rx->malformed, 1);	/* the zero length */
	rx->buf[0] = 0x01;	/* a 16 MiB record: skipped, also what comes later */
	rx->buf[1] = rx->buf[2] = rx->buf[3] = 0;
	rx->len = 10;
	assert_int_equal(us_frame_rx_split(rx, take_but_second, &seen), 0);
	assert_true(rx->len == 0 && rx->skip == 4 + (1u << 24) - 10 && rx->malformed == 2);
	us_frame_rx_end(rx);	/* the stream ends inside it */
	assert_true(rx->skip == 0 && rx->malformed == 3);
	free(rx);
}

/* ---- the relay, for real ---- */

struct lab {
	qb_loop_t *loop;
	struct us_relay *r;
	int qemu;	/* our end of the -netdev stream */
	int pkt;	/* AF_PACKET on the tap: what reaches the LAN */
	char sock[64];
};

static void stop_loop(void *data)
{
	qb_loop_stop(data);
}

static void spin(struct lab *l, int ms)
{
	qb_loop_timer_handle h;

	qb_loop_timer_add(l->loop, QB_LOOP_LOW, ms * 1000000ULL, l->loop, stop_loop, &h);
	qb_loop_run(l->loop);
}

static int relay_setup(void **state)
{
	struct us_relay_cfg cfg = { .tap = "us-test0", .bridge = "", .max_bytes = 1 << 20,
				    .max_frames = 2 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	struct lab *l = calloc(1, sizeof(*l));

	if (unshare(CLONE_NEWNET) < 0) {
		print_message("no network namespace (%s): relay test not run\n", strerror(errno));
		skip();
	}
	snprintf(l->sock, sizeof(l->sock), "/tmp/us-test-relay-%d.sock", getpid());
	cfg.sock_path = l->sock;
	l->loop = qb_loop_create();
	l->r = us_relay_new(l->loop, &cfg, US_RELAY_BUFFERED);
	assert_non_null(l->r);
	l->qemu = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", l->sock);
	assert_int_equal(connect(l->qemu, (struct sockaddr *)&sa, sizeof(sa)), 0);
	l->pkt = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
	ll.sll_ifindex = if_nametoindex("us-test0");
	assert_int_equal(bind(l->pkt, (struct sockaddr *)&ll, sizeof(ll)), 0);
	spin(l, 50);	/* accept */
	*state = l;
	return 0;
}

static int relay_teardown(void **state)
{
	struct lab *l = *state;

	if (!l)
		return 0;
	close(l->qemu);
	close(l->pkt);
	us_relay_free(l->r);
	qb_loop_destroy(l->loop);
	assert_int_equal(access(l->sock, F_OK), -1);	/* socket removed */
	free(l);
	return 0;
}

/* Frame @i: an Ethernet broadcast frame whose payload starts with i. */
static void send_frame(struct lab *l, int i, uint32_t len_override)
{
	unsigned char rec[4 + 60] = { 0 };
	uint32_t len = len_override ? len_override : 60;

	rec[0] = len >> 24; rec[1] = len >> 16; rec[2] = len >> 8; rec[3] = len;
	memset(rec + 4, 0xff, 6);			/* dst broadcast */
	memcpy(rec + 10, "\x52\x54\x00\x00\x00\x01", 6);
	rec[16] = 0x88; rec[17] = 0xb5;		/* local experimental ethertype */
	rec[18] = i;
	assert_int_equal(write(l->qemu, rec, len_override == 0xffffffff ? 4 : 4 + 60),
			 len_override == 0xffffffff ? 4 : 64);
}

/* Frames of our ethertype seen on the tap, their markers appended to @out. */
static int seen(struct lab *l, char *out)
{
	unsigned char f[2048];
	ssize_t n;
	int count = 0;

	while ((n = recv(l->pkt, f, sizeof(f), 0)) > 0) {
		if (n >= 19 && f[12] == 0x88 && f[13] == 0xb5) {
			out[strlen(out)] = '0' + f[14];
			count++;
		}
	}
	return count;
}

static void relay_backpressure_and_order(void **state)
{
	struct lab *l = *state;
	struct us_relay_stats st;
	char order[32] = "";
	int i;

	for (i = 1; i <= 5; i++)
		send_frame(l, i, 0);
	spin(l, 100);
	us_relay_stats(l->r, &st);
	assert_true(st.queued_frames == 2);	/* the cap */
	assert_true(st.blocked);		/* stopped reading QEMU */
	assert_int_equal(seen(l, order), 0);	/* nothing before an ACK */
	us_relay_seal(l->r, 1);
	spin(l, 50);
	us_relay_release(l->r, 0);		/* ACK of an older epoch: nothing */
	spin(l, 50);
	assert_int_equal(seen(l, order), 0);
	for (i = 1; i <= 3; i++) {		/* each ACK frees room for the next two */
		us_relay_release(l->r, i);
		spin(l, 50);
		us_relay_seal(l->r, i + 1);
	}
	us_relay_release(l->r, 4);
	spin(l, 100);
	assert_int_equal(seen(l, order), 5);
	assert_string_equal(order, "12345");	/* all of them, in order */
	us_relay_stats(l->r, &st);
	assert_true(st.queued_frames == 0 && st.released_frames == 5 && !st.blocked);
	assert_true(st.malformed == 0);
}

static void relay_malformed_counted(void **state)
{
	struct lab *l = *state;
	struct us_relay_stats st;
	char order[32] = "";
	unsigned char zero[4] = { 0 };

	assert_int_equal(write(l->qemu, zero, 4), 4);	/* zero length */
	send_frame(l, 1, 0);
	spin(l, 50);
	us_relay_set_mode(l->r, US_RELAY_PASSTHROUGH);	/* degraded: releases at once */
	send_frame(l, 2, 0);
	spin(l, 100);
	assert_int_equal(seen(l, order), 2);
	assert_string_equal(order, "12");
	close(l->qemu);				/* QEMU dies mid-frame */
	l->qemu = -1;
	spin(l, 50);
	us_relay_stats(l->r, &st);
	assert_true(st.malformed == 1);
	assert_true(st.released_frames == 2);
}

static void relay_truncated_counted(void **state)
{
	struct lab *l = *state;
	struct us_relay_stats st;
	unsigned char part[10] = { 0, 0, 0, 60, 1, 2, 3 };

	assert_int_equal(write(l->qemu, part, 7), 7);	/* header and 3 of 60 bytes */
	close(l->qemu);
	l->qemu = -1;
	spin(l, 100);
	us_relay_stats(l->r, &st);
	assert_true(st.malformed == 1);
	assert_true(st.queued_frames == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(release_in_order_on_ack),
		cmocka_unit_test(caps_refuse_never_drop),
		cmocka_unit_test(framer),
		cmocka_unit_test(framer_split),
		cmocka_unit_test_setup_teardown(relay_backpressure_and_order, relay_setup, relay_teardown),
		cmocka_unit_test_setup_teardown(relay_malformed_counted, relay_setup, relay_teardown),
		cmocka_unit_test_setup_teardown(relay_truncated_counted, relay_setup, relay_teardown),
	};

	us_log_init("test_netbuf", LOG_CRIT, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
