/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Builds and checks the blocks of the ledger format (guest/ledger.h): the
 * header, the records with their fill and FNV-1a checksum. Compiled into the
 * guest's `ledger` workload and into the host's `ledgercheck`, so both sides
 * agree on every byte by construction.
 */
#include <config.h>

#include <endian.h>
#include <errno.h>
#include <string.h>

#include "guest/ledger.h"

#define FNV64_OFFSET UINT64_C(0xcbf29ce484222325)
#define FNV64_PRIME UINT64_C(0x100000001b3)
#define FILL_MUL UINT64_C(0x9e3779b97f4a7c15)

/* fnv1a: FNV-1a 64 of one block, its checksum field (at @skip) read as 0. */
static uint64_t fnv1a(const void *block, size_t skip)
{
	const uint8_t *p = block;
	uint64_t h = FNV64_OFFSET;
	size_t i;

	for (i = 0; i < US_LEDGER_BLOCK; i++) {
		uint8_t b = (i >= skip && i < skip + sizeof(uint64_t)) ? 0 : p[i];

		h = (h ^ b) * FNV64_PRIME;
	}
	return h;
}

/* fill_word: word @i of record @seq's fill; differs between records and
 * between the words of one record, so a block of another record or a
 * shifted block never passes. */
static uint64_t fill_word(uint64_t seq, unsigned int i)
{
	uint64_t x = seq * FILL_MUL + i;

	x ^= x >> 29;
	x *= FILL_MUL;
	return x ^ (x >> 32);
}

void us_ledger_header_init(struct us_ledger_header *h)
{
	memset(h, 0, sizeof(*h));
	h->magic = htole64(US_LEDGER_HEADER_MAGIC);
	h->version = htole32(US_LEDGER_VERSION);
	h->record_size = htole32(US_LEDGER_BLOCK);
	h->checksum = htole64(fnv1a(h, offsetof(struct us_ledger_header, checksum)));
}

int us_ledger_header_check(const struct us_ledger_header *h)
{
	if (le64toh(h->magic) != US_LEDGER_HEADER_MAGIC ||
	    le32toh(h->version) != US_LEDGER_VERSION || le32toh(h->record_size) != US_LEDGER_BLOCK)
		return -EINVAL;
	if (le64toh(h->checksum) != fnv1a(h, offsetof(struct us_ledger_header, checksum)))
		return -EINVAL;
	return 0;
}

void us_ledger_record_init(struct us_ledger_record *r, uint64_t seq)
{
	unsigned int i;

	r->magic = htole64(US_LEDGER_RECORD_MAGIC);
	r->seq = htole64(seq);
	r->checksum = 0;
	for (i = 0; i < US_LEDGER_FILL_WORDS; i++)
		r->fill[i] = htole64(fill_word(seq, i));
	r->checksum = htole64(fnv1a(r, offsetof(struct us_ledger_record, checksum)));
}

/* fill_ok: the fill is the one of the record's own sequence number. */
static int fill_ok(const struct us_ledger_record *r)
{
	uint64_t seq = le64toh(r->seq);
	unsigned int i;

	for (i = 0; i < US_LEDGER_FILL_WORDS; i++) {
		if (le64toh(r->fill[i]) != fill_word(seq, i))
			return 0;
	}
	return 1;
}

enum us_ledger_state us_ledger_record_check(const struct us_ledger_record *r, uint64_t seq)
{
	if (us_ledger_is_zero(r, sizeof(*r)))
		return US_LEDGER_EMPTY;
	if (le64toh(r->magic) != US_LEDGER_RECORD_MAGIC ||
	    le64toh(r->checksum) != fnv1a(r, offsetof(struct us_ledger_record, checksum)))
		return US_LEDGER_TORN;
	if (!fill_ok(r))
		return US_LEDGER_BAD_FILL;
	if (le64toh(r->seq) != seq)
		return US_LEDGER_OTHER_SEQ;
	return US_LEDGER_VALID;
}

uint64_t us_ledger_record_seq(const struct us_ledger_record *r)
{
	return le64toh(r->seq);
}

int us_ledger_is_zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	return len == 0 || (b[0] == 0 && memcmp(b, b + 1, len - 1) == 0);
}

const char *us_ledger_state_name(enum us_ledger_state s)
{
	static const char *const names[] = {
		[US_LEDGER_VALID] = "intact",
		[US_LEDGER_EMPTY] = "missing (block of zeros)",
		[US_LEDGER_TORN] = "torn (magic or checksum wrong)",
		[US_LEDGER_OTHER_SEQ] = "out of order (holds another record)",
		[US_LEDGER_BAD_FILL] = "corrupt (checksum right, fill wrong)",
	};

	return (unsigned int)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}
