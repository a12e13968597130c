# SPDX-License-Identifier: LGPL-2.1-or-later
# The test/demo guest. guest/build.sh builds it (Debian kernel + busybox
# initramfs + static workloads) into a cache outside the tree; automake only
# ships its sources and builds the host tools that read the guest's counter
# (findcounter) and the ledger workload's disk (ledgercheck, in tests/local.mk).
EXTRA_DIST += guest/build.sh guest/fetch-kernel.sh guest/mkinitramfs.sh guest/init \
	guest/counter.c guest/counter.h guest/dirtier.c guest/service.c \
	guest/workload.c guest/workload.h \
	guest/ledger.c guest/ledger.h guest/ledger_format.c guest/lineserver.c guest/lineserver.h \
	guest/fswriter.c guest/cpu.c \
	tests/integration/guest_boot.sh

noinst_PROGRAMS += tests/tools/findcounter
tests_tools_findcounter_SOURCES = tests/tools/findcounter.c guest/counter.h
tests_tools_findcounter_LDADD = $(US_LIBS)

TESTS += tests/integration/guest_boot.sh
