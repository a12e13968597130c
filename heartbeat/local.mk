# SPDX-License-Identifier: LGPL-2.1-or-later
# Corosync membership (CPG + quorum) and fencing; their tests.
libunderstudy_a_SOURCES += heartbeat/membership.h heartbeat/membership.c \
	heartbeat/fence.h heartbeat/fence.c heartbeat/peer.h heartbeat/peer.c \
	heartbeat/votes.h heartbeat/votes.c
EXTRA_DIST += heartbeat/corosync.conf.example \
	tests/integration/membership.sh

check_PROGRAMS += tests/unit/test_fence tests/tools/hbprobe
TESTS += tests/unit/test_fence tests/integration/membership.sh
tests_unit_test_fence_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_fence_LDADD = $(US_LIBS) $(CMOCKA_LIBS)
tests_tools_hbprobe_LDADD = $(US_LIBS)

# Membership without corosync: libcpg/libquorum replaced by a fake (--wrap).
check_PROGRAMS += tests/unit/test_membership
TESTS += tests/unit/test_membership
tests_unit_test_membership_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_membership_LDFLAGS = -Wl,--wrap=cpg_model_initialize,--wrap=cpg_local_get,--wrap=cpg_fd_get,--wrap=cpg_join,--wrap=cpg_leave,--wrap=cpg_finalize,--wrap=cpg_context_get,--wrap=cpg_mcast_joined,--wrap=cpg_dispatch,--wrap=quorum_model_initialize,--wrap=quorum_fd_get,--wrap=quorum_trackstart,--wrap=quorum_finalize,--wrap=quorum_dispatch,--wrap=quorum_context_get
tests_unit_test_membership_LDADD = $(US_LIBS) $(CMOCKA_LIBS)
