# SPDX-License-Identifier: LGPL-2.1-or-later
# Disk replication: the NBD server QEMU uses as the VM's disk, and the image
# it serves. The server runs in a thread of its own.
libunderstudy_a_SOURCES += disk/image.c disk/image_io.c disk/image.h disk/imgstate.c disk/imgstate.h disk/nbd.c disk/nbd.h disk/nbd_proto.h \
	disk/nbd_int.h disk/nbd_handshake.c disk/flusher.c disk/flusher.h
US_LIBS += -lpthread

# The server driven by a raw client in the test: handshake, every command,
# refusals, a client vanishing mid-WRITE; fdatasync wrapped to see FUA/FLUSH.
check_PROGRAMS += tests/unit/test_nbd
TESTS += tests/unit/test_nbd
tests_unit_test_nbd_SOURCES = tests/unit/test_nbd.c tests/lib/logcap.c tests/lib/logcap.h
tests_unit_test_nbd_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_nbd_LDADD = $(US_LIBS) $(CMOCKA_LIBS)
tests_unit_test_nbd_LDFLAGS = -Wl,--wrap=fdatasync

# Real clients (libnbd's nbdsh, qemu-io, qemu-img) against the server in nbdserve.
check_PROGRAMS += tests/tools/nbdserve
tests_tools_nbdserve_LDADD = $(US_LIBS)
TESTS += tests/integration/nbd_conformance.sh
EXTRA_DIST += tests/integration/nbd_conformance.sh

# The image's state record: round trip, torn and damaged records refused,
# the freshness order of the cold start rule, the writer's rate limit.
check_PROGRAMS += tests/unit/test_imgstate
TESTS += tests/unit/test_imgstate
tests_unit_test_imgstate_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_imgstate_LDADD = $(US_LIBS) $(CMOCKA_LIBS)
