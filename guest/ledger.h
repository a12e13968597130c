/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * On-disk format of the guest's `ledger` workload, shared by the workload
 * (guest/ledger.c) and the host's checker (tests/tools/ledgercheck.c). The
 * disk is an array of 4 KiB blocks: block 0 is a header written once, block
 * N holds record N. A record carries its sequence number, a fill derived
 * from it and an FNV-1a checksum over the whole block, so a torn, missing,
 * stale or misplaced record is told apart from a good one. All fields are
 * little-endian.
 */
#ifndef US_GUEST_LEDGER_H
#define US_GUEST_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#define US_LEDGER_BLOCK 4096
#define US_LEDGER_VERSION 1
#define US_LEDGER_HEADER_MAGIC UINT64_C(0x5244484c44455355) /* "USEDLHDR" */
#define US_LEDGER_RECORD_MAGIC UINT64_C(0x4345524c44455355) /* "USEDLREC" */
#define US_LEDGER_FILL_WORDS 509

struct us_ledger_header {
	uint64_t magic;	      /* US_LEDGER_HEADER_MAGIC */
	uint32_t version;     /* US_LEDGER_VERSION */
	uint32_t record_size; /* US_LEDGER_BLOCK */
	uint64_t checksum;    /* FNV-1a 64 of the block with this field zero */
	uint8_t zero[4072];
};

struct us_ledger_record {
	uint64_t magic;	   /* US_LEDGER_RECORD_MAGIC */
	uint64_t seq;	   /* 1, 2, 3...: the record lives in block seq */
	uint64_t checksum; /* FNV-1a 64 of the block with this field zero */
	uint64_t fill[US_LEDGER_FILL_WORDS];
};

_Static_assert(sizeof(struct us_ledger_header) == US_LEDGER_BLOCK, "header is one block");
_Static_assert(sizeof(struct us_ledger_record) == US_LEDGER_BLOCK, "record is one block");

/* What a block holds, compared with the record expected there. */
enum us_ledger_state {
	US_LEDGER_VALID,     /* the expected record, intact */
	US_LEDGER_EMPTY,     /* all zeros: never written */
	US_LEDGER_TORN,	     /* written, but magic or checksum wrong */
	US_LEDGER_OTHER_SEQ, /* an intact record of another sequence number */
	US_LEDGER_BAD_FILL,  /* checksum right, fill not the one of its seq */
};

/** Fill @h as the header of a new ledger. */
void us_ledger_header_init(struct us_ledger_header *h);

/** @return 0 when @h is a valid header, -EINVAL otherwise. */
int us_ledger_header_check(const struct us_ledger_header *h);

/** Fill @r as record @seq. */
void us_ledger_record_init(struct us_ledger_record *r, uint64_t seq);

/** @return what @r holds, compared with record @seq. */
enum us_ledger_state us_ledger_record_check(const struct us_ledger_record *r, uint64_t seq);

/** @return the sequence number stored in @r (meaningful for OTHER_SEQ). */
uint64_t us_ledger_record_seq(const struct us_ledger_record *r);

/** @return true when the @len bytes at @p are all zero. */
int us_ledger_is_zero(const void *p, size_t len);

/** @return a short description of @s for messages. */
const char *us_ledger_state_name(enum us_ledger_state s);

#endif
