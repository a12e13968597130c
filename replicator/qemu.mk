# SPDX-License-Identifier: LGPL-2.1-or-later
# QEMU launcher, QMP client, device state.
libunderstudy_a_SOURCES += replicator/qmp.c replicator/qmp.h replicator/qmp_int.h \
	replicator/qemu.c replicator/qemu.h replicator/qemu_int.h \
	replicator/devstate.c replicator/devstate.h

US_QEMU_TEST_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
US_QEMU_TEST_LIBS = $(US_LIBS) $(CMOCKA_LIBS)

check_PROGRAMS += tests/unit/test_qmp tests/unit/test_qemu tests/integration/devstate_helper
TESTS += tests/unit/test_qmp tests/unit/test_qemu tests/integration/test_devstate.sh
EXTRA_DIST += tests/integration/test_devstate.sh

tests_unit_test_qmp_SOURCES = tests/unit/test_qmp.c tests/lib/logcap.c tests/lib/logcap.h
tests_unit_test_qmp_CFLAGS = $(US_QEMU_TEST_CFLAGS)
tests_unit_test_qmp_LDADD = $(US_QEMU_TEST_LIBS)

tests_unit_test_qemu_SOURCES = tests/unit/test_qemu.c tests/lib/logcap.c tests/lib/logcap.h
tests_unit_test_qemu_CFLAGS = $(US_QEMU_TEST_CFLAGS)
tests_unit_test_qemu_LDADD = $(US_QEMU_TEST_LIBS)

tests_integration_devstate_helper_SOURCES = tests/integration/devstate_helper.c \
	tests/lib/logcap.c tests/lib/logcap.h
tests_integration_devstate_helper_CFLAGS = $(US_QEMU_TEST_CFLAGS)
tests_integration_devstate_helper_LDADD = $(US_QEMU_TEST_LIBS)
