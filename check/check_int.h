/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Inside of the checks, for the files of check/ and tests/unit/test_check.c: every
 * question put to the machine goes through one table of probes, so that a
 * test can answer each with a fake and assert the verdict and its words.
 */
#ifndef US_CHECK_INT_H
#define US_CHECK_INT_H

#include <stddef.h>
#include <stdint.h>

#include "check/check.h"

#define US_CHECK_QEMU_MIN_MAJOR 7
#define US_CHECK_QEMU_MIN_MINOR 2
#define US_CHECK_KVM_API 12

/* What /dev/kvm answered. */
struct us_kvm_facts {
	int open_err;	   /* 0, or -errno of open("/dev/kvm", O_RDWR) */
	int api_version;   /* KVM_GET_API_VERSION, or -errno */
	int create_vm_err; /* 0, or -errno of KVM_CREATE_VM */
};

/* What corosync answered about this host. */
struct us_cs_facts {
	int quorate;
	uint32_t local_nodeid; /* this host's corosync node id */
	char local_name[64];   /* its name in the nodelist, "" if none */
	uint32_t node_nodeid;  /* id of [heartbeat] node's name, 0 if absent */
	int node_joined;       /* that node is in the membership now */
	unsigned members;
};

/* Each probe returns 0 or -errno, and fills its out-parameters on 0. */
struct us_check_sys {
	/* whole small file, NUL-terminated, cut at @len - 1 */
	int (*read_file)(const char *path, char *buf, size_t len);
	void (*kvm)(struct us_kvm_facts *f);
	/* UFFDIO_API asking for @want; @got: the features the kernel offers */
	int (*uffd_api)(uint64_t want, uint64_t *got);
	/* -ENOTTY when /proc/PID/pagemap has no PAGEMAP_SCAN */
	int (*pagemap_scan)(void);
	int (*space)(const char *dir, uint64_t *avail, int *tmpfs);
	int (*file_size)(const char *path, uint64_t *bytes);
	/* run @argv with @input on stdin, stdout into @out; -ENOENT: no binary */
	int (*run)(char *const argv[], const char *input, char *out, size_t len);
	/* 1: a bridge, 0: another kind of interface, -ENOENT: none */
	int (*netif)(const char *name);
	int (*corosync)(const char *node, struct us_cs_facts *f);
	int (*executable)(const char *path);
	/* an RDMA device whose netdev holds @host's address: its name */
	int (*rdma_dev)(const char *host, char *dev, size_t len);
	int (*memlock)(uint64_t *bytes); /* UINT64_MAX: unlimited */
	int (*bind_addr)(const char *hostport);
	int (*resolve)(const char *hostport);
};

void us_check_add(struct us_check_report *r, const char *name, enum us_check_level level,
		  const char *fix, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

const struct us_check_item *us_check_find(const struct us_check_report *r, const char *name);

/**
 * Whether KVM can run a guest, from /dev/kvm's answers and /proc/cpuinfo's
 * text (NULL or without a flags line: flags not judged).
 * @return 1 usable, 0 not, with the reason in @why.
 */
int us_check_kvm_usable(const struct us_kvm_facts *f, const char *cpuinfo, char *why, size_t len);

/** Parse "QEMU emulator version 7.2.22 ..." or a QMP greeting. @return 0 or -EINVAL. */
int us_check_qemu_version(const char *text, int *major, int *minor, int *micro);

/* The checks, one file each. */
void us_check_kernel(const struct us_check_sys *sys, struct us_check_report *r);
void us_check_accel(const struct us_config *cfg, const struct us_check_sys *sys,
		    struct us_check_report *r);
void us_check_qemu(const struct us_config *cfg, const struct us_check_sys *sys,
		   struct us_check_report *r);
void us_check_resources(const struct us_config *cfg, const char *role,
			const struct us_check_sys *sys, struct us_check_report *r);

#endif
