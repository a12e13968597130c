# SPDX-License-Identifier: LGPL-2.1-or-later
# Corosync membership (CPG + quorum) and fencing; their tests.
libunderstudy_a_SOURCES += heartbeat/membership.h heartbeat/membership.c \
	heartbeat/fence.h heartbeat/fence.c
EXTRA_DIST += heartbeat/corosync.conf.example tests/lib/corosync.sh \
	tests/integration/membership.sh

check_PROGRAMS += tests/unit/test_fence tests/tools/hbprobe
TESTS += tests/unit/test_fence tests/integration/membership.sh
tests_unit_test_fence_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_fence_LDADD = $(US_LIBS) $(CMOCKA_LIBS)
tests_tools_hbprobe_LDADD = $(US_LIBS)
