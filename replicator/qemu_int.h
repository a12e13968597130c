/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Inside of the QEMU launcher, for qemu.c and its unit test: the command line
 * is built by a pure function so that both modes can be compared without
 * running QEMU.
 */
#ifndef US_QEMU_INT_H
#define US_QEMU_INT_H

#include <stddef.h>
#include "replicator/qemu.h"

#define US_QEMU_DEFAULT_BINARY "qemu-system-x86_64"
#define US_QEMU_START_TIMEOUT_MS 10000	/* until the QMP socket accepts */
#define US_QEMU_TERM_GRACE_MS 2000	/* SIGTERM to SIGKILL */

/* A NULL-terminated argv; each string allocated. */
struct us_qemu_argv {
	char **v;
	size_t n, alloc;
	int err;		/* first error while building, -errno */
};

/**
 * Build QEMU's argv for @vm and @o, with accelerator @accel ("tcg"/"kvm") and
 * QMP socket @qmp_path. Paths with a comma are refused (QEMU's option
 * syntax would split them).
 * @return 0 or -errno (-EINVAL with the cause logged); free @a either way.
 */
int us_qemu_build_argv(const struct us_vm_config *vm, const struct us_qemu_opts *o,
		       const char *accel, const char *qmp_path, struct us_qemu_argv *a);

/** Release @a's strings; NULL-safe. */
void us_qemu_argv_free(struct us_qemu_argv *a);

/** @return "kvm" or "tcg" for config value @want ("auto": kvm only where usable, see check/kvm.c). */
const char *us_qemu_pick_accel(const char *want);

#endif
