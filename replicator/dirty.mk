# SPDX-License-Identifier: LGPL-2.1-or-later
# Dirty tracking: runs, uffd injection, PAGEMAP_SCAN.
libunderstudy_a_SOURCES += replicator/runs.c replicator/runs.h \
	replicator/dirty.c replicator/dirty.h replicator/dirty_int.h replicator/dirty_threads.c \
	replicator/inject.c replicator/inject.h replicator/uffd_compat.h

check_PROGRAMS += tests/unit/test_runs
TESTS += tests/unit/test_runs
tests_unit_test_runs_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_runs_LDADD = $(US_LIBS) $(CMOCKA_LIBS)

check_PROGRAMS += tests/unit/test_dirty
TESTS += tests/unit/test_dirty
tests_unit_test_dirty_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_dirty_LDFLAGS = -Wl,--wrap=ioctl
tests_unit_test_dirty_LDADD = $(US_LIBS) $(CMOCKA_LIBS) -lpthread

# Real QEMU: the script starts QEMU, the probe attaches and checks.
check_PROGRAMS += tests/tools/dirty_qemu_probe
tests_tools_dirty_qemu_probe_LDADD = $(US_LIBS)
TESTS += tests/integration/dirty_qemu.sh
EXTRA_DIST += tests/integration/dirty_qemu.sh
