/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Host-side checker of the guest `ledger` workload's disk (format in
 * guest/ledger.h): reads a raw image, verifies the header, then every block
 * up to the last one that is not all zeros. Blocks 1..N must hold records
 * 1..N in order, each with its magic, sequence number, checksum and fill;
 * after them the image must be zeros. Prints "records 1..N intact", or names
 * the first missing, torn or out-of-order record and exits 1. With --min M
 * it also fails when fewer than M records are there; with --max M when more
 * are (a write past what the guest acknowledged). Exit 2: bad usage or an
 * unreadable image.
 * Usage: ledgercheck IMAGE [--min N] [--max N]
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest/ledger.h"

struct check {
	const char *image;
	int fd;
	uint64_t min, max;
	uint64_t intact;    /* records 1..intact are valid */
	uint64_t last_used; /* highest block that is not zeros */
	uint64_t bad;	    /* first block after the run that is wrong, or 0 */
	enum us_ledger_state bad_state;
	uint64_t bad_seq; /* what the bad block holds, for OTHER_SEQ */
};

static int usage(void)
{
	fprintf(stderr, "usage: ledgercheck IMAGE [--min N] [--max N]\n");
	return 2;
}

/* parse_count: a decimal count into @out; -EINVAL when it is not one. */
static int parse_count(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || end == s || *end || *s == '-' ? -EINVAL : 0;
}

static int parse_args(struct check *c, int argc, char **argv)
{
	int i;

	c->max = UINT64_MAX;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--min") && i + 1 < argc) {
			if (parse_count(argv[++i], &c->min) < 0)
				return -EINVAL;
		} else if (!strcmp(argv[i], "--max") && i + 1 < argc) {
			if (parse_count(argv[++i], &c->max) < 0)
				return -EINVAL;
		} else if (argv[i][0] != '-' && !c->image) {
			c->image = argv[i];
		} else {
			return -EINVAL;
		}
	}
	return c->image ? 0 : -EINVAL;
}

/* read_block: block @idx of the image. @return 1, 0 at its end, -errno. */
static int read_block(struct check *c, uint64_t idx, void *buf)
{
	ssize_t n;

	do
		n = pread(c->fd, buf, US_LEDGER_BLOCK, (off_t)(idx * US_LEDGER_BLOCK));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return 0;
	return n == US_LEDGER_BLOCK ? 1 : -EIO;
}

/* check_header: block 0. @return 0 or 1 with the reason printed. */
static int check_header(struct check *c)
{
	struct us_ledger_header h;
	int ret;

	ret = read_block(c, 0, &h);
	if (ret <= 0) {
		fprintf(stderr, "ledgercheck: %s: cannot read block 0: %s\n", c->image,
			ret ? strerror(-ret) : "image shorter than one block");
		return 1;
	}
	if (us_ledger_header_check(&h) == 0)
		return 0;
	fprintf(stderr, "ledgercheck: %s: block 0 is not a ledger header%s\n", c->image,
		us_ledger_is_zero(&h, sizeof(h)) ? " (all zeros: the ledger never started)" : "");
	return 1;
}

/* note_block: fold block @idx into the run of intact records. */
static void note_block(struct check *c, uint64_t idx, const struct us_ledger_record *r)
{
	enum us_ledger_state s = us_ledger_record_check(r, idx);

	if (s != US_LEDGER_EMPTY)
		c->last_used = idx;
	if (c->bad)
		return;
	if (s == US_LEDGER_VALID && c->intact == idx - 1) {
		c->intact = idx;
		return;
	}
	if (s == US_LEDGER_EMPTY)
		return; /* the end, unless something follows */
	c->bad = idx;
	c->bad_state = s;
	c->bad_seq = us_ledger_record_seq(r);
}

/* scan: every block after the header. @return 0 or -errno. */
static int scan(struct check *c)
{
	struct us_ledger_record r;
	uint64_t idx;
	int ret;

	for (idx = 1;; idx++) {
		ret = read_block(c, idx, &r);
		if (ret <= 0)
			return ret;
		note_block(c, idx, &r);
	}
}

/* verdict: print what the scan found. @return the exit status. */
static int verdict(const struct check *c)
{
	uint64_t first = c->intact + 1;

	if (c->bad && c->bad == first && c->bad_state == US_LEDGER_OTHER_SEQ) {
		fprintf(stderr,
			"ledgercheck: %s: record %" PRIu64 " out of order: its block holds record "
			"%" PRIu64 "\n",
			c->image, first, c->bad_seq);
		return 1;
	}
	if (c->bad && c->bad == first) {
		fprintf(stderr, "ledgercheck: %s: record %" PRIu64 " %s\n", c->image, first,
			us_ledger_state_name(c->bad_state));
		return 1;
	}
	if (c->last_used > c->intact) {
		fprintf(stderr,
			"ledgercheck: %s: record %" PRIu64 " missing (block of zeros) before "
			"data in block %" PRIu64 "\n",
			c->image, first, c->last_used);
		return 1;
	}
	printf("records 1..%" PRIu64 " intact\n", c->intact);
	if (c->intact < c->min || c->intact > c->max) {
		fprintf(stderr, "ledgercheck: %s: %" PRIu64 " records, expected %s %" PRIu64 "\n",
			c->image, c->intact, c->intact < c->min ? "at least" : "at most",
			c->intact < c->min ? c->min : c->max);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct check c = { .fd = -1 };
	int ret;

	if (parse_args(&c, argc, argv) < 0)
		return usage();
	c.fd = open(c.image, O_RDONLY | O_CLOEXEC);
	if (c.fd < 0) {
		fprintf(stderr, "ledgercheck: cannot open %s: %s\n", c.image, strerror(errno));
		return 2;
	}
	ret = check_header(&c);
	if (ret == 0) {
		ret = scan(&c);
		if (ret < 0)
			fprintf(stderr, "ledgercheck: %s: read failed: %s\n", c.image,
				strerror(-ret));
		ret = ret < 0 ? 2 : verdict(&c);
	}
	close(c.fd);
	return ret;
}
