# SPDX-License-Identifier: LGPL-2.1-or-later
# Preflight checks (understudy check, and the daemons' start-up).
libunderstudy_a_SOURCES += check/check.h check/check_int.h check/accel.h check/probe.h \
	check/run.h check/report.c check/kvm.c check/kernel.c check/qemu_caps.c \
	check/resources.c check/cluster.c check/sys.c check/run.c check/cs_probe.c \
	check/rdma_probe.c check/daemon.c check/daemon.h

# Every check's outcomes, with fakes for the machine (tests/unit/test_check.c).
check_PROGRAMS += tests/unit/test_check
TESTS += tests/unit/test_check
tests_unit_test_check_SOURCES = tests/unit/test_check.c tests/lib/logcap.c tests/lib/logcap.h
tests_unit_test_check_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_check_LDADD = $(US_LIBS) $(CMOCKA_LIBS)

# Real hosts in the lab: good, missing bridge, corosync stopped, small shm_dir.
TESTS += tests/integration/check.sh
EXTRA_DIST += tests/integration/check.sh
