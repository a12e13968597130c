# SPDX-License-Identifier: LGPL-2.1-or-later
# The verbs/rdmacm transport and its tests, built when configure found
# rdma-core. The conformance suite runs over TCP here and over soft-RoCE
# in a QEMU guest (tests/integration/rdma_rxe.sh).
check_PROGRAMS += tests/unit/transport_suite
TESTS += tests/unit/transport_suite
tests_unit_transport_suite_SOURCES = tests/unit/transport_suite.c
tests_unit_transport_suite_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_transport_suite_LDADD = $(US_LIBS) $(CMOCKA_LIBS)

if HAVE_RDMA
libunderstudy_a_SOURCES += rdma/verbs.c rdma/verbs_int.h
AM_CFLAGS += $(RDMA_CFLAGS)
US_LIBS += $(RDMA_LIBS)
TESTS += tests/integration/rdma_rxe.sh
endif
EXTRA_DIST += tests/integration/rdma_rxe.sh tests/integration/rdma_rxe_init.sh
