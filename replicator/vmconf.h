/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The VM a daemon protects, as read from its config file: what QEMU needs to
 * start the guest identically on both hosts.
 */
#ifndef US_VMCONF_H
#define US_VMCONF_H

#include <limits.h>
#include <stdint.h>

#define US_VM_NAME_MAX 48

struct us_vm_config {
	char name[US_VM_NAME_MAX];	/* [a-zA-Z0-9_-]+, names files and sockets */
	uint64_t mem_bytes;		/* guest RAM, multiple of 2 MiB */
	unsigned vcpus;			/* 1..64 */
	char qemu[PATH_MAX];		/* QEMU binary */
	char accel[16];			/* "tcg", "kvm" or "auto" */
	char kernel[PATH_MAX];		/* -kernel, or "" */
	char initrd[PATH_MAX];		/* -initrd, or "" */
	char append[1024];		/* kernel command line */
	char disk[PATH_MAX];		/* raw disk image, or "" */
	char mac[18];			/* NIC MAC, "" for no NIC */
	char run_dir[PATH_MAX];		/* sockets, pid files, serial logs */
	char shm_dir[PATH_MAX];		/* where the RAM files live (/dev/shm) */
	int hugepages;			/* shm_dir must be hugetlbfs (2 MiB pages) */
	unsigned scan_threads;		/* dirty scan threads, 0: auto */
};

#endif
