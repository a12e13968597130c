/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Memory layout of the guest counter, shared by the guest's `counter`
 * workload and the host's `findcounter` tool that finds it in a guest RAM
 * file. The record is a wire format (fixed-width fields, no padding). Its
 * magic is stored XOR-encoded and decoded at run time, so the only place the
 * plain magic exists in guest memory is the live record itself, never the
 * program image or the initramfs.
 */
#ifndef US_GUEST_COUNTER_H
#define US_GUEST_COUNTER_H

#include <stdint.h>

#define US_COUNTER_MAGIC_LEN 16
/* "UsCtR\x01understudy", each byte XOR US_COUNTER_MAGIC_KEY */
#define US_COUNTER_MAGIC_ENCODED { \
	0xf0, 0xd6, 0xe6, 0xd1, 0xf7, 0xa4, 0xd0, 0xcb, \
	0xc1, 0xc0, 0xd7, 0xd6, 0xd1, 0xd0, 0xc1, 0xdc }
#define US_COUNTER_MAGIC_KEY 0xa5
/* check == value ^ US_COUNTER_CHECK_KEY whenever the record is consistent */
#define US_COUNTER_CHECK_KEY UINT64_C(0x5ca1ab1e0ddba11)

struct us_counter_record {
	uint8_t magic[US_COUNTER_MAGIC_LEN];
	uint64_t value;
	uint64_t check;
};

_Static_assert(sizeof(struct us_counter_record) == 32, "counter record is 32 bytes");

#endif
