# SPDX-License-Identifier: LGPL-2.1-or-later
libunderstudy_a_SOURCES += failover/failover.h failover/decide.c failover/promote.c \
	failover/reprotect.c failover/switchover.c failover/suspend.c failover/demote.c

# The decision point, every branch (pure functions, no I/O).
check_PROGRAMS += tests/unit/test_decide
TESTS += tests/unit/test_decide
tests_unit_test_decide_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_decide_LDADD = $(US_LIBS) $(CMOCKA_LIBS)
# The fast mode, [failover] decide = silence, and the standby's silence watch.
check_PROGRAMS += tests/unit/test_decide_silence
TESTS += tests/unit/test_decide_silence
tests_unit_test_decide_silence_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_decide_silence_LDADD = $(US_LIBS) $(CMOCKA_LIBS)


# The Pacemaker resource agent (OCF 1.1): with --prefix=/usr it lands where
# Pacemaker looks, /usr/lib/ocf/resource.d/understudy/understudy.
ocfdir = $(prefix)/lib/ocf/resource.d/understudy
dist_ocf_SCRIPTS = failover/ocf/understudy
