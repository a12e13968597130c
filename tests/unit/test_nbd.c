/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the disk: the NBD server (disk/nbd.c) driven over a real
 * unix socket by a raw client written here, so every byte on the wire is
 * the test's choice: the handshake (GO, a wrong name, unsupported options,
 * a bad magic), each command, every refusal (past the end, zero length, too
 * long, unknown command or flags) leaving the image byte for byte as it was,
 * a client that vanishes in the middle of a WRITE payload (nothing applied,
 * nothing reported), FUA and FLUSH replying only after fdatasync (wrapped
 * with --wrap, and slowed, so a reply sent too early would be seen), and the
 * callback seeing exactly the changes applied; a FLUSH deferred for a
 * checkpoint answered unsynced and owed, and the flusher thread paying it
 * (and reporting a failed fdatasync). Then the image: qcow2 and
 * other refusals with their fixes, and the lock naming the process holding it.
 */
#include <config.h>

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>
#include <cmocka.h>

#include "disk/flusher.h"
#include "disk/image.h"
#include "disk/nbd.h"
#include "disk/nbd_proto.h"
#include "replicator/log.h"
#include "tests/lib/logcap.h"

#define IMG_SIZE (1u << 20)
#define TX_FLAGS                                                                                   \
	(NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM |       \
	 NBD_FLAG_SEND_WRITE_ZEROES)

/* ---- fdatasync, counted and slowed ---- */

int __real_fdatasync(int fd);
int __wrap_fdatasync(int fd);

static volatile int syncs;
static volatile int fail_syncs; /* fdatasync fails with EIO */

int __wrap_fdatasync(int fd)
{
	int ret = fail_syncs ? (errno = EIO, -1) : __real_fdatasync(fd);

	usleep(30 * 1000); /* a reply sent before this returns would beat the count */
	__sync_fetch_and_add(&syncs, 1);
	return ret;
}

/* ---- what the callback saw (server thread) ---- */

struct change {
	enum us_nbd_change kind;
	uint64_t off, len;
	uint8_t first, last; /* of the payload, for WRITE */
};

static pthread_mutex_t changes_lock = PTHREAD_MUTEX_INITIALIZER;
static struct change changes[64];
static int n_changes;

static void record(void *opaque, enum us_nbd_change kind, uint64_t off, uint64_t len,
		   const void *data)
{
	const uint8_t *d = data;

	pthread_mutex_lock(&changes_lock);
	if (n_changes < 64)
		changes[n_changes++] =
			(struct change){ kind, off, len, d ? d[0] : 0, d ? d[len - 1] : 0 };
	pthread_mutex_unlock(&changes_lock);
}

static const struct us_nbd_ops record_ops = { .wrote = record };

static int changes_seen(void)
{
	int n;

	pthread_mutex_lock(&changes_lock);
	n = n_changes;
	pthread_mutex_unlock(&changes_lock);
	return n;
}

static void assert_change(int i, enum us_nbd_change kind, uint64_t off, uint64_t len)
{
	assert_true(i < changes_seen());
	assert_int_equal(changes[i].kind, kind);
	assert_int_equal(changes[i].off, off);
	assert_int_equal(changes[i].len, len);
}

/* ---- the fixture: an image with a pattern and a server on it ---- */

struct fix {
	char img[64], sock[64];
	int img_fd;
	uint8_t orig[IMG_SIZE];
	struct us_nbd *srv;
};

static void fill_pattern(uint8_t *buf)
{
	for (size_t i = 0; i < IMG_SIZE; i++)
		buf[i] = (uint8_t)(i % 251 + 1);
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	snprintf(f->img, sizeof(f->img), "/tmp/us_test_nbd.%d.img", (int)getpid());
	snprintf(f->sock, sizeof(f->sock), "/tmp/us_test_nbd.%d.sock", (int)getpid());
	f->img_fd = open(f->img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(f->img_fd >= 0);
	fill_pattern(f->orig);
	assert_int_equal(pwrite(f->img_fd, f->orig, IMG_SIZE, 0), IMG_SIZE);
	n_changes = 0;
	syncs = 0;
	f->srv = us_nbd_start(f->sock, "disk0", f->img_fd, IMG_SIZE, &record_ops, NULL);
	assert_non_null(f->srv);
	us_logcap_clear();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	us_nbd_stop(f->srv);
	close(f->img_fd);
	unlink(f->img);
	free(f);
	return 0;
}

static void assert_image_is(struct fix *f, const uint8_t *want)
{
	static uint8_t now[IMG_SIZE];

	assert_int_equal(pread(f->img_fd, now, IMG_SIZE, 0), IMG_SIZE);
	assert_memory_equal(now, want, IMG_SIZE);
}

static void assert_logged(const char *words)
{
	if (!strstr(us_logcap_text(), words))
		fail_msg("log lacks '%s':\n%s", words, us_logcap_text());
}

/* ---- the raw client ---- */

static void send_all(int fd, const void *buf, size_t len)
{
	assert_int_equal(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void recv_all(int fd, void *buf, size_t len)
{
	assert_int_equal(recv(fd, buf, len, MSG_WAITALL), (ssize_t)len);
}

/* The server closed: EOF (a reset counts too), not a timeout. */
static void assert_closed(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_WAITALL);

	assert_true(n == 0 || (n < 0 && errno != EAGAIN)); /* errno: only when recv failed */
}

static int cl_connect(struct fix *f)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(a.sun_path, f->sock);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Connect and get past the greeting with @cflags. */
static int cl_greet(struct fix *f, uint32_t cflags)
{
	struct nbd_greeting g;
	int fd = cl_connect(f);

	recv_all(fd, &g, sizeof(g));
	assert_true(be64toh(g.magic) == NBD_MAGIC_INIT);
	assert_true(be64toh(g.opt_magic) == NBD_MAGIC_OPT);
	assert_int_equal(be16toh(g.flags), NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
	cflags = htobe32(cflags);
	send_all(fd, &cflags, 4);
	return fd;
}

static void cl_opt(int fd, uint32_t opt, const void *data, uint32_t len)
{
	struct nbd_opt_hdr h = { htobe64(NBD_MAGIC_OPT), htobe32(opt), htobe32(len) };

	send_all(fd, &h, sizeof(h));
	if (len)
		send_all(fd, data, len);
}

/* Read one option reply for @opt; returns its type, data in @buf. */
static uint32_t cl_opt_reply(int fd, uint32_t opt, void *buf, uint32_t *len)
{
	struct nbd_opt_reply r;

	recv_all(fd, &r, sizeof(r));
	assert_true(be64toh(r.magic) == NBD_MAGIC_OPT_REPLY);
	assert_int_equal(be32toh(r.option), opt);
	*len = be32toh(r.len);
	assert_true(*len < 1024);
	if (*len)
		recv_all(fd, buf, *len);
	return be32toh(r.type);
}

/* GO or INFO for @name asking for NBD_INFO_BLOCK_SIZE; the final reply type. */
static uint32_t cl_go(int fd, uint32_t opt, const char *name)
{
	uint8_t req[64], rep[1024];
	uint32_t nlen = (uint32_t)strlen(name), be = htobe32(nlen), type, len;
	uint16_t n = htobe16(1), info = htobe16(NBD_INFO_BLOCK_SIZE);
	struct nbd_info_export ex;
	struct nbd_info_block_size bs;

	memcpy(req, &be, 4);
	memcpy(req + 4, name, nlen);
	memcpy(req + 4 + nlen, &n, 2);
	memcpy(req + 6 + nlen, &info, 2);
	cl_opt(fd, opt, req, 8 + nlen);
	while ((type = cl_opt_reply(fd, opt, rep, &len)) == NBD_REP_INFO) {
		if (be16toh(*(uint16_t *)rep) == NBD_INFO_EXPORT) {
			memcpy(&ex, rep, sizeof(ex));
			assert_int_equal(be64toh(ex.size), IMG_SIZE);
			assert_int_equal(be16toh(ex.flags), TX_FLAGS);
		} else {
			assert_int_equal(len, sizeof(bs));
			memcpy(&bs, rep, sizeof(bs));
			assert_int_equal(be32toh(bs.minimum), 1);
			assert_int_equal(be32toh(bs.preferred), 4096);
			assert_int_equal(be32toh(bs.maximum), 32u << 20);
		}
	}
	return type;
}

static int cl_open(struct fix *f)
{
	int fd = cl_greet(f, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);

	assert_int_equal(cl_go(fd, NBD_OPT_GO, "disk0"), NBD_REP_ACK);
	return fd;
}

static void cl_send(int fd, uint16_t type, uint16_t flags, uint64_t off, uint32_t len,
		    const void *payload)
{
	struct nbd_request r = { htobe32(NBD_MAGIC_REQUEST), htobe16(flags), htobe16(type),
				 htobe64(0x1234000 + type),  htobe64(off),   htobe32(len) };

	send_all(fd, &r, sizeof(r));
	if (payload)
		send_all(fd, payload, len);
}

/* The simple reply to the last request of @type: its error. */
static uint32_t cl_reply(int fd, uint16_t type)
{
	struct nbd_simple_reply r;

	recv_all(fd, &r, sizeof(r));
	assert_int_equal(be32toh(r.magic), NBD_MAGIC_SIMPLE_REPLY);
	assert_true(be64toh(r.cookie) == 0x1234000u + type);
	return be32toh(r.error);
}

static uint32_t cl_cmd(int fd, uint16_t type, uint16_t flags, uint64_t off, uint32_t len,
		       const void *payload)
{
	cl_send(fd, type, flags, off, len, payload);
	return cl_reply(fd, type);
}

static void cl_close(int fd)
{
	cl_send(fd, NBD_CMD_DISC, 0, 0, 0, NULL);
	assert_closed(fd);
	close(fd);
}

/* ---- handshake ---- */

static void go_good_name(void **state)
{
	struct fix *f = *state;
	int fd = cl_greet(f, NBD_FLAG_C_FIXED_NEWSTYLE);

	assert_int_equal(cl_go(fd, NBD_OPT_INFO, "disk0"), NBD_REP_ACK); /* still haggling */
	assert_int_equal(cl_go(fd, NBD_OPT_GO, "disk0"), NBD_REP_ACK);
	cl_close(fd);
	fd = cl_greet(f, NBD_FLAG_C_FIXED_NEWSTYLE);
	assert_int_equal(cl_go(fd, NBD_OPT_GO, ""), NBD_REP_ACK); /* the default export */
	cl_close(fd);
	assert_logged("NBD client chose export 'disk0'");
}

static void go_wrong_name(void **state)
{
	struct fix *f = *state;
	int fd = cl_greet(f, NBD_FLAG_C_FIXED_NEWSTYLE);

	assert_int_equal(cl_go(fd, NBD_OPT_GO, "disk1"), NBD_REP_ERR_UNKNOWN);
	assert_int_equal(cl_go(fd, NBD_OPT_GO, "disk0"), NBD_REP_ACK);
	cl_close(fd);
	assert_logged("no export named 'disk1' (only 'disk0')");
}

static void unsupported_options(void **state)
{
	struct fix *f = *state;
	int fd = cl_greet(f, NBD_FLAG_C_FIXED_NEWSTYLE);
	uint32_t opts[] = { NBD_OPT_STRUCTURED_REPLY, NBD_OPT_EXTENDED_HEADERS, NBD_OPT_STARTTLS,
			    NBD_OPT_SET_META_CONTEXT, 99 };
	uint8_t buf[1024];
	uint32_t len;

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		cl_opt(fd, opts[i], NULL, 0);
		assert_int_equal(cl_opt_reply(fd, opts[i], buf, &len), NBD_REP_ERR_UNSUP);
	}
	cl_opt(fd, NBD_OPT_LIST, NULL, 0);
	assert_int_equal(cl_opt_reply(fd, NBD_OPT_LIST, buf, &len), NBD_REP_SERVER);
	assert_int_equal(len, 4 + 5);
	assert_memory_equal(buf + 4, "disk0", 5);
	assert_int_equal(cl_opt_reply(fd, NBD_OPT_LIST, buf, &len), NBD_REP_ACK);
	cl_opt(fd, NBD_OPT_ABORT, NULL, 0);
	assert_int_equal(cl_opt_reply(fd, NBD_OPT_ABORT, buf, &len), NBD_REP_ACK);
	assert_closed(fd);
	close(fd);
}

static void export_name_option(void **state)
{
	struct fix *f = *state;
	int fd = cl_greet(f, NBD_FLAG_C_FIXED_NEWSTYLE);
	uint8_t r[10 + 124];

	cl_opt(fd, NBD_OPT_EXPORT_NAME, "disk0", 5);
	recv_all(fd, r, sizeof(r)); /* no NO_ZEROES: the 124 zeroes follow */
	assert_int_equal(be16toh(*(uint16_t *)(r + 8)), TX_FLAGS);
	cl_close(fd);
	fd = cl_greet(f, NBD_FLAG_C_FIXED_NEWSTYLE);
	cl_opt(fd, NBD_OPT_EXPORT_NAME, "other", 5);
	assert_closed(fd);
	close(fd);
	assert_logged("asked for export 'other'");
}

static void bad_handshake_closes(void **state)
{
	struct fix *f = *state;
	struct nbd_opt_hdr h = { htobe64(0x1122334455667788ull), htobe32(NBD_OPT_GO), 0 };
	int fd = cl_greet(f, NBD_FLAG_C_FIXED_NEWSTYLE);

	send_all(fd, &h, sizeof(h));
	assert_closed(fd);
	close(fd);
	assert_logged("NBD handshake: bad option (magic 0x1122334455667788");
	fd = cl_greet(f, 0); /* not fixed newstyle */
	assert_closed(fd);
	close(fd);
	fd = cl_greet(f, NBD_FLAG_C_FIXED_NEWSTYLE | 0x100); /* unknown client flag */
	assert_closed(fd);
	close(fd);
	assert_logged("client flags 0x101");
}

/* ---- commands ---- */

static void write_read_back(void **state)
{
	struct fix *f = *state;
	static uint8_t want[IMG_SIZE];
	uint8_t data[8192], got[8192];
	struct us_nbd_stats st;
	int fd = cl_open(f);

	memset(data, 0xab, sizeof(data));
	data[sizeof(data) - 1] = 0xcd;
	assert_int_equal(cl_cmd(fd, NBD_CMD_WRITE, 0, 4096 + 7, sizeof(data), data), 0);
	assert_change(0, US_NBD_WRITE, 4096 + 7, sizeof(data));
	assert_int_equal(changes[0].first, 0xab);
	assert_int_equal(changes[0].last, 0xcd);
	assert_int_equal(cl_cmd(fd, NBD_CMD_READ, 0, 4096 + 7, sizeof(got), NULL), 0);
	recv_all(fd, got, sizeof(got));
	assert_memory_equal(got, data, sizeof(data));
	assert_int_equal(cl_cmd(fd, NBD_CMD_READ, 0, IMG_SIZE - 1, 1, NULL), 0); /* the last byte */
	recv_all(fd, got, 1);
	assert_int_equal(got[0], f->orig[IMG_SIZE - 1]);
	cl_close(fd);
	memcpy(want, f->orig, IMG_SIZE);
	memcpy(want + 4096 + 7, data, sizeof(data));
	assert_image_is(f, want);
	assert_int_equal(changes_seen(), 1);
	us_nbd_stats(f->srv, &st);
	assert_int_equal(st.requests, 3);
	assert_int_equal(st.bytes_written, 8192);
	assert_int_equal(st.bytes_read, 8193);
	assert_int_equal(st.errors, 0);
}

static void trim_and_write_zeroes(void **state)
{
	struct fix *f = *state;
	static uint8_t want[IMG_SIZE];
	int fd = cl_open(f);

	assert_int_equal(cl_cmd(fd, NBD_CMD_TRIM, 0, 65536, 65536, NULL), 0);
	assert_int_equal(cl_cmd(fd, NBD_CMD_WRITE_ZEROES, 0, 3, 1000, NULL), 0);
	assert_int_equal(
		cl_cmd(fd, NBD_CMD_WRITE_ZEROES, NBD_CMD_FLAG_NO_HOLE, 200000, 70000, NULL), 0);
	memcpy(want, f->orig, IMG_SIZE);
	memset(want + 65536, 0, 65536);
	memset(want + 3, 0, 1000);
	memset(want + 200000, 0, 70000);
	assert_image_is(f, want);
	/* longer than the READ/WRITE maximum: fine for TRIM */
	assert_int_equal(cl_cmd(fd, NBD_CMD_TRIM, 0, 0, IMG_SIZE, NULL), 0);
	cl_close(fd);
	assert_int_equal(changes_seen(), 4);
	assert_change(0, US_NBD_ZEROES, 65536, 65536);
	assert_change(1, US_NBD_ZEROES, 3, 1000);
	assert_change(2, US_NBD_ZEROES, 200000, 70000);
	assert_change(3, US_NBD_ZEROES, 0, IMG_SIZE);
	memset(want, 0, IMG_SIZE);
	assert_image_is(f, want);
}

static void refusals_leave_image_alone(void **state)
{
	struct fix *f = *state;
	static uint8_t big[US_NBD_MAX_PAYLOAD + 4096];
	uint8_t data[4096] = { 1 };
	struct us_nbd_stats st;
	int fd = cl_open(f);

	assert_int_equal(cl_cmd(fd, NBD_CMD_READ, 0, IMG_SIZE - 100, 4096, NULL), NBD_EINVAL);
	assert_int_equal(cl_cmd(fd, NBD_CMD_WRITE, 0, IMG_SIZE - 100, 4096, data), NBD_ENOSPC);
	assert_int_equal(cl_cmd(fd, NBD_CMD_WRITE, 0, UINT64_MAX - 10, 4096, data), NBD_ENOSPC);
	assert_int_equal(cl_cmd(fd, NBD_CMD_WRITE_ZEROES, 0, IMG_SIZE, 1, NULL), NBD_ENOSPC);
	assert_int_equal(cl_cmd(fd, NBD_CMD_TRIM, 0, IMG_SIZE - 1, 2, NULL), NBD_EINVAL);
	assert_int_equal(cl_cmd(fd, NBD_CMD_READ, 0, 0, 0, NULL), NBD_EINVAL);
	assert_int_equal(cl_cmd(fd, NBD_CMD_WRITE, 0, 0, 0, data), NBD_EINVAL);
	assert_int_equal(cl_cmd(fd, NBD_CMD_READ, 0, 0, US_NBD_MAX_PAYLOAD + 1, NULL), NBD_EINVAL);
	assert_int_equal(cl_cmd(fd, NBD_CMD_WRITE, 0, 0, sizeof(big), big), NBD_EINVAL);
	assert_int_equal(cl_cmd(fd, 42, 0, 0, 4096, NULL), NBD_EINVAL);
	assert_int_equal(cl_cmd(fd, NBD_CMD_WRITE, 1u << 5, 0, 4096, data), NBD_EINVAL);
	assert_int_equal(cl_cmd(fd, NBD_CMD_TRIM, NBD_CMD_FLAG_NO_HOLE, 0, 4096, NULL), NBD_EINVAL);
	/* the connection is still in step: a good read works */
	assert_int_equal(cl_cmd(fd, NBD_CMD_READ, 0, 0, 16, NULL), 0);
	recv_all(fd, data, 16);
	assert_memory_equal(data, f->orig, 16);
	cl_close(fd);
	assert_image_is(f, f->orig);
	assert_int_equal(changes_seen(), 0);
	us_nbd_stats(f->srv, &st);
	assert_int_equal(st.errors, 12);
	assert_logged("NBD READ refused (past the end of the export): offset 1048476 length 4096");
	assert_logged("NBD WRITE refused (zero length)");
	assert_logged("NBD READ refused (longer than the 32 MiB maximum)");
	assert_logged("NBD command 42 is unknown");
	assert_logged("NBD WRITE refused (unknown flags): offset 0 length 4096 flags 0x20");
}

static void half_write_is_dropped(void **state)
{
	struct fix *f = *state;
	uint8_t data[4096];
	int fd = cl_open(f);

	memset(data, 0x77, sizeof(data));
	cl_send(fd, NBD_CMD_WRITE, 0, 0, 8192, NULL);
	send_all(fd, data, sizeof(data)); /* half the payload */
	close(fd);
	fd = cl_open(f); /* served only once the first client is gone */
	cl_close(fd);
	assert_image_is(f, f->orig);
	assert_int_equal(changes_seen(), 0);
	assert_logged("NBD client vanished in the payload of WRITE 0+8192: nothing written");
}

/* ---- an owner that lends the payload's memory (as the write log does) ---- */

static uint8_t lend_mem[8192];
static int lent, returned;
static const void *wrote_data;

static void *lend(void *opaque, uint64_t len)
{
	lent++;
	return len <= sizeof(lend_mem) ? lend_mem : NULL;
}

static void lend_back(void *opaque, void *data)
{
	returned += data == lend_mem;
}

static void lend_record(void *opaque, enum us_nbd_change kind, uint64_t off, uint64_t len,
			const void *data)
{
	wrote_data = data;
	record(opaque, kind, off, len, data);
}

static const struct us_nbd_ops lend_ops = { .wrote = lend_record,
					    .payload = lend,
					    .unused = lend_back };

/* A WRITE's payload is received into the owner's memory, which the callback
 * then gets; a payload cut short gives it back, nothing applied; a payload
 * the owner has no memory for goes through the server's own buffer. */
static void payload_into_owner_memory(void **state)
{
	struct fix *f = *state;
	uint8_t data[16384], want[IMG_SIZE];
	int fd;

	us_nbd_set_ops(f->srv, &lend_ops, NULL);
	lent = returned = 0;
	fd = cl_open(f);
	memset(data, 0x5a, sizeof(data));
	assert_int_equal(cl_cmd(fd, NBD_CMD_WRITE, 0, 4096, 4096, data), 0);
	assert_int_equal(lent, 1);
	assert_ptr_equal(wrote_data, lend_mem);
	assert_change(0, US_NBD_WRITE, 4096, 4096);
	assert_int_equal(cl_cmd(fd, NBD_CMD_WRITE, 0, 8192, sizeof(data), data), 0);
	assert_ptr_not_equal(wrote_data, lend_mem); /* too large: the server's buffer */
	assert_int_equal(returned, 0);
	cl_send(fd, NBD_CMD_WRITE, 0, 65536, 8192, NULL);
	send_all(fd, data, 4096); /* half the payload */
	close(fd);
	fd = cl_open(f);
	cl_close(fd);
	assert_int_equal(lent, 3);
	assert_int_equal(returned, 1);
	assert_int_equal(changes_seen(), 2);
	memcpy(want, f->orig, IMG_SIZE);
	memset(want + 4096, 0x5a, 4096 + sizeof(data));
	assert_image_is(f, want);
}

static void bad_request_magic_closes(void **state)
{
	struct fix *f = *state;
	struct nbd_request r = {
		htobe32(0xdeadbeef), 0, htobe16(NBD_CMD_WRITE), 0, 0, htobe32(4096)
	};
	int fd = cl_open(f);

	send_all(fd, &r, sizeof(r));
	assert_closed(fd);
	close(fd);
	assert_image_is(f, f->orig);
	assert_logged("NBD request with bad magic 0xdeadbeef: closing");
}

static void fua_and_flush_sync_before_reply(void **state)
{
	struct fix *f = *state;
	uint8_t data[512] = { 9 };
	int fd = cl_open(f);

	assert_int_equal(cl_cmd(fd, NBD_CMD_WRITE, 0, 0, sizeof(data), data), 0);
	assert_int_equal(syncs, 0);
	assert_int_equal(cl_cmd(fd, NBD_CMD_WRITE, NBD_CMD_FLAG_FUA, 512, sizeof(data), data), 0);
	assert_int_equal(syncs, 1);
	assert_int_equal(cl_cmd(fd, NBD_CMD_WRITE, 0, 1024, sizeof(data), data), 0);
	assert_int_equal(cl_cmd(fd, NBD_CMD_FLUSH, 0, 0, 0, NULL), 0);
	assert_int_equal(syncs, 2);
	assert_int_equal(cl_cmd(fd, NBD_CMD_TRIM, NBD_CMD_FLAG_FUA, 0, 4096, NULL), 0);
	assert_int_equal(syncs, 3);
	assert_int_equal(cl_cmd(fd, NBD_CMD_WRITE_ZEROES, NBD_CMD_FLAG_FUA, 0, 4096, NULL), 0);
	assert_int_equal(syncs, 4);
	assert_int_equal(cl_cmd(fd, NBD_CMD_READ, NBD_CMD_FLAG_FUA, 0, 16, NULL), 0);
	recv_all(fd, data, 16);
	cl_close(fd);
	assert_int_equal(changes_seen(), 5);
}

/*
 * QEMU flushes at every checkpoint's stop and again at its migration: a
 * FLUSH with nothing changed since the last fdatasync replies without one,
 * but every change (write, trim, write-zeroes) and every new client makes
 * the next FLUSH sync, and a FLUSH never replies before its sync.
 */
static void flush_syncs_only_what_changed(void **state)
{
	struct fix *f = *state;
	uint8_t data[512] = { 5 };
	int fd = cl_open(f);

	syncs = 0;
	assert_int_equal(cl_cmd(fd, NBD_CMD_FLUSH, 0, 0, 0, NULL), 0);
	assert_int_equal(syncs, 1); /* a new client: what came before is synced once */
	assert_int_equal(cl_cmd(fd, NBD_CMD_FLUSH, 0, 0, 0, NULL), 0);
	assert_int_equal(syncs, 1);
	assert_int_equal(cl_cmd(fd, NBD_CMD_WRITE, 0, 0, sizeof(data), data), 0);
	assert_int_equal(cl_cmd(fd, NBD_CMD_FLUSH, 0, 0, 0, NULL), 0);
	assert_int_equal(syncs, 2);
	assert_int_equal(cl_cmd(fd, NBD_CMD_FLUSH, 0, 0, 0, NULL), 0);
	assert_int_equal(syncs, 2);
	assert_int_equal(cl_cmd(fd, NBD_CMD_TRIM, 0, 0, 4096, NULL), 0);
	assert_int_equal(cl_cmd(fd, NBD_CMD_FLUSH, 0, 0, 0, NULL), 0);
	assert_int_equal(syncs, 3);
	assert_int_equal(cl_cmd(fd, NBD_CMD_WRITE_ZEROES, 0, 0, 4096, NULL), 0);
	assert_int_equal(cl_cmd(fd, NBD_CMD_FLUSH, 0, 0, 0, NULL), 0);
	assert_int_equal(syncs, 4);
	cl_close(fd);
	fd = cl_open(f);
	assert_int_equal(cl_cmd(fd, NBD_CMD_FLUSH, 0, 0, 0, NULL), 0);
	assert_int_equal(syncs, 5);
	cl_close(fd);
}

/* Wait until the flusher reports a sync that ended; return what it says. */
static int flusher_wait(struct us_flusher *fl, uint64_t *ticket, int *err)
{
	struct pollfd p = { .fd = us_flusher_fd(fl), .events = POLLIN };

	assert_int_equal(poll(&p, 1, 10000), 1);
	return us_flusher_done(fl, ticket, err);
}

/* A checkpoint's stop: the FLUSH is answered unsynced and owed; the flusher pays it. */
static void deferred_flush_paid_by_flusher(void **state)
{
	struct fix *f = *state;
	uint8_t data[512] = { 9 };
	struct us_flusher *fl = us_flusher_new(f->srv);
	uint64_t ticket = 0;
	int err = 1, fd = cl_open(f);

	assert_non_null(fl);
	assert_int_equal(cl_cmd(fd, NBD_CMD_FLUSH, 0, 0, 0, NULL), 0); /* the new client's */
	syncs = 0;
	us_nbd_defer_flush(f->srv, 1);
	assert_int_equal(cl_cmd(fd, NBD_CMD_FLUSH, 0, 0, 0, NULL), 0);
	assert_int_equal(us_nbd_take_owed(f->srv), 0); /* nothing changed: nothing owed */
	assert_int_equal(cl_cmd(fd, NBD_CMD_WRITE, 0, 0, sizeof(data), data), 0);
	assert_int_equal(cl_cmd(fd, NBD_CMD_FLUSH, 0, 0, 0, NULL), 0);
	assert_int_equal(syncs, 0); /* answered before any fdatasync */
	assert_int_equal(us_nbd_take_owed(f->srv), 1);
	assert_int_equal(us_nbd_take_owed(f->srv), 0);
	us_nbd_defer_flush(f->srv, 0);
	assert_int_equal(us_flusher_done(fl, &ticket, &err), 0);
	us_flusher_kick(fl, 7);
	assert_int_equal(flusher_wait(fl, &ticket, &err), 1);
	assert_int_equal(ticket, 7);
	assert_int_equal(err, 0);
	assert_int_equal(syncs, 1);
	assert_int_equal(cl_cmd(fd, NBD_CMD_FLUSH, 0, 0, 0, NULL), 0);
	assert_int_equal(syncs, 1); /* paid: this FLUSH has nothing to do */
	assert_int_equal(cl_cmd(fd, NBD_CMD_WRITE, 0, 0, sizeof(data), data), 0);
	assert_int_equal(cl_cmd(fd, NBD_CMD_FLUSH, 0, 0, 0, NULL), 0);
	assert_int_equal(syncs, 2); /* not deferring: synced before the reply, as always */
	assert_int_equal(us_nbd_take_owed(f->srv), 0);
	cl_close(fd);
	us_flusher_free(fl);
}

/* The flusher's fdatasync fails: the error comes back, and stays. */
static void flusher_reports_failure(void **state)
{
	struct fix *f = *state;
	uint8_t data[512] = { 3 };
	struct us_flusher *fl = us_flusher_new(f->srv);
	uint64_t ticket = 0;
	int err = 0, fd = cl_open(f);

	assert_non_null(fl);
	assert_int_equal(cl_cmd(fd, NBD_CMD_WRITE, 0, 0, sizeof(data), data), 0);
	fail_syncs = 1;
	us_flusher_kick(fl, 2);
	assert_int_equal(flusher_wait(fl, &ticket, &err), 1);
	assert_int_equal(err, -EIO);
	fail_syncs = 0;
	us_flusher_kick(fl, 3);
	assert_int_equal(flusher_wait(fl, &ticket, &err), 1);
	assert_int_equal(ticket, 3);
	assert_int_equal(err, -EIO); /* the first failure is not forgotten */
	cl_close(fd);
	us_flusher_free(fl);
}

/* ---- the server's life ---- */

static void stop_with_client_connected(void **state)
{
	struct fix *f = *state;
	struct stat st;
	int fd1 = cl_open(f);
	int fd2 = cl_connect(f); /* waits in the backlog... */

	us_nbd_stop(f->srv); /* ...and a stop ends all of it */
	f->srv = NULL;
	assert_closed(fd1);
	close(fd1);
	close(fd2);
	assert_int_equal(stat(f->sock, &st), -1);
	assert_logged("NBD server stopping");
}

static void live_socket_refused_stale_replaced(void **state)
{
	struct fix *f = *state;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	assert_null(us_nbd_start(f->sock, "disk0", f->img_fd, IMG_SIZE, NULL, NULL));
	assert_int_equal(errno, EADDRINUSE);
	assert_logged("another server is listening there");
	us_nbd_stop(f->srv);
	f->srv = NULL;
	fd = socket(AF_UNIX, SOCK_STREAM, 0); /* a dead server's socket file */
	strcpy(a.sun_path, f->sock);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	close(fd);
	f->srv = us_nbd_start(f->sock, "disk0", f->img_fd, IMG_SIZE, NULL, NULL);
	assert_non_null(f->srv);
	cl_close(cl_open(f));
	assert_null(us_nbd_start(f->sock, "", f->img_fd, IMG_SIZE, NULL, NULL));
	assert_int_equal(errno, EINVAL);
}

/* ---- the image ---- */

static void image_refusals(void **state)
{
	char path[64], dir[64];
	struct us_image *img = NULL;
	int fd;

	snprintf(path, sizeof(path), "/tmp/us_test_image.%d", (int)getpid());
	unlink(path);
	assert_int_equal(us_image_open(path, &img), -ENOENT);
	assert_logged("does not exist: create it (qemu-img create -f raw");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(us_image_open(path, &img), -EINVAL);
	assert_logged("is empty");
	assert_int_equal(write(fd, "QFI\xfb\0\0\0\3", 8), 8);
	assert_int_equal(ftruncate(fd, 65536), 0);
	assert_int_equal(us_image_open(path, &img), -EMEDIUMTYPE);
	assert_logged("qcow2 is not supported: convert it with qemu-img convert -O raw");
	close(fd);
	unlink(path);
	snprintf(dir, sizeof(dir), "/tmp");
	assert_true(us_image_open(dir, &img) < 0);
	assert_null(img);
	us_image_close(NULL);
}

static void image_lock_names_holder(void **state)
{
	char path[64], want[64];
	struct us_image *img = NULL, *other = NULL;
	int fd, ready[2];
	pid_t child;
	char c;

	snprintf(path, sizeof(path), "/tmp/us_test_image.%d", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(ftruncate(fd, 65536), 0);
	close(fd);
	assert_int_equal(us_image_open(path, &img), 0);
	assert_int_equal(us_image_size(img), 65536);
	assert_int_equal(us_image_open(path, &other), -EBUSY); /* even from this process */
	us_image_close(img);
	assert_int_equal(pipe(ready), 0);
	child = fork();
	if (child == 0) {
		assert_int_equal(us_image_open(path, &img), 0);
		assert_int_equal(write(ready[1], "r", 1), 1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(us_image_open(path, &other), -EBUSY);
	snprintf(want, sizeof(want), "(pid %d): stop it", (int)child);
	assert_logged(want);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	assert_int_equal(us_image_open(path, &other), 0); /* the lock went with its holder */
	us_image_close(other);
	close(ready[0]);
	close(ready[1]);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(go_good_name, setup, teardown),
		cmocka_unit_test_setup_teardown(go_wrong_name, setup, teardown),
		cmocka_unit_test_setup_teardown(unsupported_options, setup, teardown),
		cmocka_unit_test_setup_teardown(export_name_option, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_handshake_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(write_read_back, setup, teardown),
		cmocka_unit_test_setup_teardown(trim_and_write_zeroes, setup, teardown),
		cmocka_unit_test_setup_teardown(refusals_leave_image_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(half_write_is_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(payload_into_owner_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_request_magic_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(fua_and_flush_sync_before_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(flush_syncs_only_what_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(deferred_flush_paid_by_flusher, setup, teardown),
		cmocka_unit_test_setup_teardown(flusher_reports_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(stop_with_client_connected, setup, teardown),
		cmocka_unit_test_setup_teardown(live_socket_refused_stale_replaced, setup,
						teardown),
		cmocka_unit_test(image_refusals),
		cmocka_unit_test(image_lock_names_holder),
	};

	us_log_init("test_nbd", LOG_DEBUG, 0);
	us_logcap_start();
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
