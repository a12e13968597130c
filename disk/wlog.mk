# SPDX-License-Identifier: LGPL-2.1-or-later
# The primary's write log: guest disk writes cut into epochs, bounded.
libunderstudy_a_SOURCES += disk/wlog.c disk/wlog.h disk/blockhash.c disk/blockhash.h \
	disk/hashsend.c disk/hashsend.h disk/segpool.c disk/segpool.h

check_PROGRAMS += tests/unit/test_wlog
TESTS += tests/unit/test_wlog
tests_unit_test_wlog_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_wlog_LDADD = $(US_LIBS) $(CMOCKA_LIBS) -lpthread

check_PROGRAMS += tests/unit/test_segpool
TESTS += tests/unit/test_segpool
tests_unit_test_segpool_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_segpool_LDADD = $(US_LIBS) $(CMOCKA_LIBS)

# The primary's disk (replicator/pdisk.c): a cut batch is freed by a drain
# only once it was queued; the transport's DISK send wrapped.
check_PROGRAMS += tests/unit/test_pdisk
TESTS += tests/unit/test_pdisk
tests_unit_test_pdisk_SOURCES = tests/unit/test_pdisk.c tests/lib/logcap.c tests/lib/logcap.h
tests_unit_test_pdisk_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_pdisk_LDFLAGS = -Wl,--wrap=us_transport_send_disk -Wl,--wrap=us_nbd_defer_flush \
	-Wl,--wrap=us_nbd_take_owed -Wl,--wrap=us_nbd_sync
tests_unit_test_pdisk_LDADD = $(US_LIBS) $(CMOCKA_LIBS) -lpthread

# Resync by block hashes, with real daemons in the lab.
TESTS += tests/integration/disk_resync.sh tests/integration/disk_bounds.sh
EXTRA_DIST += tests/integration/disk_resync.sh tests/integration/disk_bounds.sh
