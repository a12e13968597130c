/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Choosing the accelerator: `accel = auto` becomes kvm only where KVM can run
 * a guest (see kvm.c), else tcg, with one log line saying which and why.
 */
#ifndef US_CHECK_ACCEL_H
#define US_CHECK_ACCEL_H

#include "replicator/vmconf.h"

struct us_check_sys;

/**
 * Replace @vm->accel ("auto", "kvm" or "tcg") by "kvm" or "tcg", probing
 * through @sys (us_check_sys_real() outside tests).
 * @return 0, or -ENODEV when "kvm" was asked for and KVM is unusable (logged
 * with the reason and the fix).
 */
int us_accel_resolve(struct us_vm_config *vm, const struct us_check_sys *sys);

#endif
