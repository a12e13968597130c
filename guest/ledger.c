/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest workload `ledger`: a TCP service (the protocol of guest/service.c:
 * one reply line per request line) whose state lives on the raw disk, in the
 * format of guest/ledger.h. Each request appends the next record with one
 * O_DIRECT write of its 4 KiB block and an fdatasync, and only then is
 * answered with the record's sequence number, so every number a client has
 * seen is on the disk. At start it finds the last record of the unbroken run
 * 1, 2, 3... and continues after it: after a takeover the sequence goes on
 * from what the standby's disk holds, and tests/tools/ledgercheck checks the
 * disk from the host. Usage: ledger [PORT [DEVICE]] (7777, /dev/vda).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "guest/ledger.h"
#include "guest/lineserver.h"
#include "guest/workload.h"

#define DEFAULT_PORT 7777
#define DEFAULT_DEVICE "/dev/vda"
#define SCAN_BLOCKS 64 /* blocks read at once while looking for the end */
#define OPEN_TRIES 50  /* 100 ms apart: the disk may still be probing */

struct ledger {
	int fd;		  /* the disk, O_DIRECT */
	uint64_t blocks;  /* disk size in blocks, header included */
	uint64_t next;	  /* sequence number of the next record */
	void *buf;	  /* SCAN_BLOCKS aligned blocks for I/O */
	const char *path; /* for messages */
};

/* open_disk: the device, waiting a few seconds for it to appear. */
static int open_disk(struct ledger *l)
{
	int i;

	for (i = 0; i < OPEN_TRIES; i++) {
		l->fd = open(l->path, O_RDWR | O_DIRECT | O_CLOEXEC);
		if (l->fd >= 0 || errno != ENOENT)
			break;
		usleep(100000);
	}
	if (l->fd < 0)
		return -errno;
	if (ioctl(l->fd, BLKGETSIZE64, &l->blocks) < 0)
		return -errno;
	l->blocks /= US_LEDGER_BLOCK;
	return l->blocks < 2 ? -ENOSPC : 0;
}

/* io_blocks: read or write @n blocks from block @first, whole or -errno. */
static int io_blocks(struct ledger *l, int write, uint64_t first, size_t n)
{
	size_t len = n * US_LEDGER_BLOCK;
	off_t off = (off_t)first * US_LEDGER_BLOCK;
	ssize_t done;

	do
		done = write ? pwrite(l->fd, l->buf, len, off) : pread(l->fd, l->buf, len, off);
	while (done < 0 && errno == EINTR);
	if (done < 0)
		return -errno;
	return (size_t)done == len ? 0 : -EIO;
}

/* sync_disk: what was written is on the disk, not in a cache. */
static int sync_disk(struct ledger *l)
{
	return fdatasync(l->fd) < 0 ? -errno : 0;
}

/* prepare_header: a valid header stays; a blank disk gets one; anything
 * else is someone's data, refused with -EEXIST. */
static int prepare_header(struct ledger *l)
{
	int ret;

	ret = io_blocks(l, 0, 0, 1);
	if (ret < 0)
		return ret;
	if (us_ledger_header_check(l->buf) == 0)
		return 0;
	if (!us_ledger_is_zero(l->buf, US_LEDGER_BLOCK))
		return -EEXIST;
	us_ledger_header_init(l->buf);
	ret = io_blocks(l, 1, 0, 1);
	return ret < 0 ? ret : sync_disk(l);
}

/* find_end: l->next after the last record of the unbroken run from 1. */
static int find_end(struct ledger *l)
{
	const struct us_ledger_record *r = l->buf;
	uint64_t first;
	size_t n, i;
	int ret;

	for (first = 1; first < l->blocks; first += n) {
		n = l->blocks - first < SCAN_BLOCKS ? l->blocks - first : SCAN_BLOCKS;
		ret = io_blocks(l, 0, first, n);
		if (ret < 0)
			return ret;
		for (i = 0; i < n; i++) {
			if (us_ledger_record_check(&r[i], first + i) != US_LEDGER_VALID) {
				l->next = first + i;
				return 0;
			}
		}
	}
	l->next = l->blocks;
	return 0;
}

/* append: write and sync the next record. @return its number or -errno. */
static int64_t append(struct ledger *l)
{
	int ret;

	if (l->next >= l->blocks)
		return -ENOSPC;
	us_ledger_record_init(l->buf, l->next);
	ret = io_blocks(l, 1, l->next, 1);
	if (ret == 0)
		ret = sync_disk(l);
	if (ret < 0)
		return ret;
	return (int64_t)l->next++;
}

/* answer: the line server's callback, one record per request line. */
static int answer(void *ctx, char *reply, size_t cap)
{
	struct ledger *l = ctx;
	int64_t seq = append(l);

	if (seq < 0) {
		us_wl_print("us-ledger: record %llu not written: %s", (unsigned long long)l->next,
			    strerror((int)-seq));
		return snprintf(reply, cap, "ERR %s\n", strerror((int)-seq));
	}
	us_wl_print("us-ledger %lld", (long long)seq);
	return snprintf(reply, cap, "%lld\n", (long long)seq);
}

/* start: open the disk, check or write the header, find where to go on. */
static int start(struct ledger *l)
{
	int ret;

	ret = posix_memalign(&l->buf, US_LEDGER_BLOCK, SCAN_BLOCKS * US_LEDGER_BLOCK);
	if (ret)
		return -ret;
	ret = open_disk(l);
	if (ret < 0) {
		us_wl_print("us-ledger: cannot use %s: %s", l->path, strerror(-ret));
		return ret;
	}
	ret = prepare_header(l);
	if (ret == -EEXIST)
		us_wl_print("us-ledger: block 0 of %s is neither a ledger header nor zeros",
			    l->path);
	else if (ret < 0)
		us_wl_print("us-ledger: header of %s: %s", l->path, strerror(-ret));
	if (ret == 0)
		ret = find_end(l);
	if (ret < 0)
		return ret;
	us_wl_print("us-ledger: %s has room for %llu records", l->path,
		    (unsigned long long)l->blocks - 1);
	us_wl_print("us-ledger: resuming after record %llu", (unsigned long long)l->next - 1);
	return 0;
}

int main(int argc, char **argv)
{
	struct ledger l = { .fd = -1, .path = DEFAULT_DEVICE };
	uint64_t port = DEFAULT_PORT;
	int ret;

	if (argc > 3 || (argc > 1 && us_wl_parse_u64(argv[1], 1, 65535, &port) < 0)) {
		us_wl_print("us-ledger: usage: ledger [PORT [DEVICE]]");
		return 2;
	}
	if (argc > 2)
		l.path = argv[2];
	if (start(&l) < 0)
		return 1;
	us_wl_print("us-ledger listening on %llu", (unsigned long long)port);
	ret = us_wl_serve_lines(port, answer, &l);
	us_wl_print("us-ledger: cannot listen on port %llu: %s", (unsigned long long)port,
		    strerror(-ret));
	return 1;
}
