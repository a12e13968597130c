/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * findcounter RAMFILE: finds the guest counter's record (guest/counter.h) in
 * a guest RAM file such as /dev/shm/NAME of a memory-backend-file, and prints
 * its value. A record counts when its magic matches and its check word fits
 * its value; copies holding the same value count once. Exit 1, with the
 * reason, when no record or records with different values are found: then
 * the file is not the RAM of a guest running the counter, or it is torn.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest/counter.h"
#include "replicator/log.h"

#define MAX_VALUES 8

struct scan {
	uint8_t magic[US_COUNTER_MAGIC_LEN];
	uint64_t values[MAX_VALUES]; /* distinct valid values found */
	unsigned int nvalues;        /* how many, may exceed MAX_VALUES */
};

static void build_magic(struct scan *s)
{
	static const uint8_t encoded[US_COUNTER_MAGIC_LEN] = US_COUNTER_MAGIC_ENCODED;
	size_t i;

	for (i = 0; i < US_COUNTER_MAGIC_LEN; i++)
		s->magic[i] = encoded[i] ^ US_COUNTER_MAGIC_KEY;
}

/* add_value: remember @v unless an earlier record held it. */
static void add_value(struct scan *s, uint64_t v)
{
	unsigned int i;

	for (i = 0; i < s->nvalues && i < MAX_VALUES; i++)
		if (s->values[i] == v)
			return;
	if (s->nvalues < MAX_VALUES)
		s->values[s->nvalues] = v;
	s->nvalues++;
}

/* check_record: the record at @p, when its check word is consistent. */
static void check_record(struct scan *s, const uint8_t *p)
{
	struct us_counter_record r;

	memcpy(&r, p, sizeof(r));
	if ((r.value ^ US_COUNTER_CHECK_KEY) == r.check)
		add_value(s, r.value);
}

static void scan_memory(struct scan *s, const uint8_t *mem, size_t len)
{
	const uint8_t *p = mem, *end = mem + len;

	while ((p = memmem(p, end - p, s->magic, US_COUNTER_MAGIC_LEN))) {
		if (end - p < (ptrdiff_t)sizeof(struct us_counter_record))
			break;
		check_record(s, p);
		p++;
	}
}

/* scan_file: map @path read-only and scan it. @return 0 or -errno. */
static int scan_file(struct scan *s, const char *path)
{
	struct stat st;
	void *mem;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	if (st.st_size == 0)
		goto out;
	mem = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		ret = -errno;
		goto out;
	}
	scan_memory(s, mem, st.st_size);
	munmap(mem, st.st_size);
out:
	close(fd);
	return ret;
}

int main(int argc, char **argv)
{
	struct scan s = { .nvalues = 0 };
	int ret;

	us_log_init("findcounter", LOG_WARNING, 0);
	if (argc != 2) {
		us_log(LOG_ERR, US_TAG_MAIN, "usage: findcounter RAMFILE");
		return 2;
	}
	build_magic(&s);
	ret = scan_file(&s, argv[1]);
	if (ret < 0) {
		us_log(LOG_ERR, US_TAG_MAIN, "cannot read %s: %s", argv[1], strerror(-ret));
		return 1;
	}
	if (s.nvalues != 1) {
		us_log(LOG_ERR, US_TAG_MAIN, "%s holds %u different counter values, not one: %s",
		       argv[1], s.nvalues, s.nvalues ? "the guest memory is torn or mixed"
		       : "is it the RAM of a guest started with us.run=counter?");
		return 1;
	}
	printf("%" PRIu64 "\n", s.values[0]);
	return 0;
}
