/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Running one system call inside another process without touching its code:
 * ptrace stops one thread, points it at a `syscall` instruction that already
 * exists in its [vdso], single-steps, and puts every register back. Used to
 * create a userfaultfd that belongs to QEMU's address space.
 */
#ifndef US_INJECT_H
#define US_INJECT_H

#include <sys/types.h>

/**
 * Create a userfaultfd(@flags) inside process @pid and return a duplicate of
 * it in this process. The target's own copy is closed again before its
 * thread resumes; the thread sees only a short ptrace stop (an interrupted
 * restartable system call restarts).
 * @return an fd owned by the caller, or -errno (-ESRCH: no such process,
 *         -EPERM: not allowed to ptrace it, -ENOEXEC: no [vdso] to borrow).
 */
int us_inject_userfaultfd(pid_t pid, int flags);

#endif
