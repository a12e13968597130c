/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What every libFuzzer harness in tests/fuzz/ shares: quiet logging that
 * still formats every line (so a bad format argument is found), and a check
 * that turns a broken invariant into a crash the fuzzer reports.
 */
#ifndef US_FUZZ_H
#define US_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry points, defined by each harness. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/**
 * Start logging for harness @name: every level is formatted and dropped;
 * with US_FUZZ_LOG=1 in the environment it goes to stderr instead.
 */
void us_fuzz_log_init(const char *name);

/** Abort, saying @what should have held, when @ok is false: the fuzzer keeps the input. */
void us_fuzz_assert(const char *what, int ok);

/**
 * A file descriptor that reads as @len bytes of @data: a memfd, so no
 * real file is made. @return the fd (caller closes), aborts on failure.
 */
int us_fuzz_memfd(const char *name, const void *data, size_t len);

struct us_msg_hdr;

/* One message of a replication stream: @hdr_rc as us_proto_hdr_decode
 * returned it (0 or -EPROTONOSUPPORT). @return non-zero to close the
 * connection (the stream goes on as the next connection). */
typedef int (*us_fuzz_msg_fn)(void *opaque, int hdr_rc, const struct us_msg_hdr *h,
			      const void *body);
/* The connection ended: a bad header, a refusal, or the input's end. */
typedef void (*us_fuzz_closed_fn)(void *opaque);

/**
 * Split @data into replication messages as rdma/tcp.c does (32-byte header,
 * then its body) and hand each to @msg; a header that does not decode, or
 * @msg asking to close, ends a connection (@closed) and the rest of @data
 * is the next connection's. A last message cut short ends the input.
 */
void us_fuzz_frames(const uint8_t *data, size_t size, us_fuzz_msg_fn msg, us_fuzz_closed_fn closed,
		    void *opaque);

#endif
