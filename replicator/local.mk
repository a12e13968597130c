# SPDX-License-Identifier: LGPL-2.1-or-later
libunderstudy_a_SOURCES += replicator/log.c replicator/log.h \
	replicator/vmconf.h replicator/buf.c replicator/buf.h \
	replicator/proto.c replicator/proto.h \
	replicator/receiver.c replicator/receiver.h replicator/receiver_int.h \
	replicator/receiver_disk.c replicator/receiver_lz4.c \
	replicator/xsum.c replicator/xsum_scalar.c replicator/xsum.h \
	replicator/config.c replicator/config_hosts.c replicator/config.h replicator/key.c replicator/key.h \
	replicator/chanauth.c replicator/chanauth.h \
	replicator/ramfile.c replicator/ramfile.h \
	replicator/ctl.c replicator/ctl.h \
	replicator/primary_int.h replicator/primary.h \
	replicator/pagehash.c replicator/pagehash.h \
	replicator/copier.c replicator/copier.h \
	replicator/epoch.c replicator/epoch_lz4.c replicator/epochlen.c replicator/epochlen.h replicator/loss.c replicator/primary.c \
	replicator/pace.c replicator/pace.h \
	replicator/handover.h replicator/role.c replicator/role.h \
	replicator/pdisk.c replicator/pdisk_flush.c replicator/pdisk.h \
	replicator/standby.c replicator/standby.h \
	replicator/vmnet.c replicator/vmnet.h

bin_PROGRAMS += understudy
understudy_SOURCES = replicator/main.c replicator/imgcmd.c replicator/imgcmd.h
understudy_LDADD = $(US_LIBS)

check_PROGRAMS += tests/unit/test_copier
TESTS += tests/unit/test_copier
tests_unit_test_copier_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_copier_LDADD = $(US_LIBS) $(CMOCKA_LIBS)

check_PROGRAMS += tests/unit/test_pace
TESTS += tests/unit/test_pace
tests_unit_test_pace_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_pace_LDADD = $(US_LIBS) $(CMOCKA_LIBS)

include replicator/dirty.mk
include replicator/qemu.mk

check_PROGRAMS += tests/unit/test_epochlen
TESTS += tests/unit/test_epochlen
tests_unit_test_epochlen_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_epochlen_LDADD = $(US_LIBS) $(CMOCKA_LIBS)

check_PROGRAMS += tests/unit/test_pagehash
TESTS += tests/unit/test_pagehash
tests_unit_test_pagehash_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_pagehash_LDADD = $(US_LIBS) $(CMOCKA_LIBS)
