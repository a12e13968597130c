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
libunderstudy_a_SOURCES += rdma/verbs.c rdma/verbs_int.h rdma/verbs_conn.h rdma/verbs_res.c \
	rdma/verbs_write.c rdma/verbs_cq.c
AM_CFLAGS += $(RDMA_CFLAGS)
US_LIBS += $(RDMA_LIBS)
TESTS += tests/integration/rdma_rxe.sh

# Fakes of librdmacm and libibverbs for what soft-RoCE cannot provoke.
US_VERBS_WRAP = -Wl,--wrap=rdma_create_event_channel -Wl,--wrap=rdma_destroy_event_channel \
	-Wl,--wrap=rdma_create_id -Wl,--wrap=rdma_destroy_id -Wl,--wrap=rdma_resolve_addr \
	-Wl,--wrap=rdma_resolve_route -Wl,--wrap=rdma_connect -Wl,--wrap=rdma_disconnect \
	-Wl,--wrap=rdma_get_cm_event -Wl,--wrap=rdma_ack_cm_event -Wl,--wrap=rdma_create_qp \
	-Wl,--wrap=rdma_destroy_qp -Wl,--wrap=ibv_alloc_pd -Wl,--wrap=ibv_dealloc_pd \
	-Wl,--wrap=ibv_create_comp_channel -Wl,--wrap=ibv_destroy_comp_channel \
	-Wl,--wrap=ibv_create_cq -Wl,--wrap=ibv_destroy_cq -Wl,--wrap=ibv_reg_mr \
	-Wl,--wrap=ibv_reg_mr_iova2 -Wl,--wrap=ibv_dereg_mr -Wl,--wrap=ibv_get_cq_event \
	-Wl,--wrap=ibv_ack_cq_events -Wl,--wrap=ibv_get_device_name \
	-Wl,--wrap=ibv_modify_qp -Wl,--wrap=ibv_query_device -Wl,--wrap=rdma_set_option
check_PROGRAMS += tests/unit/test_verbs
TESTS += tests/unit/test_verbs
tests_unit_test_verbs_SOURCES = tests/unit/test_verbs.c tests/lib/logcap.c tests/lib/logcap.h
tests_unit_test_verbs_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_verbs_LDADD = $(US_LIBS) $(CMOCKA_LIBS)
tests_unit_test_verbs_LDFLAGS = $(US_VERBS_WRAP)
endif
EXTRA_DIST += tests/integration/rdma_rxe.sh tests/integration/rdma_rxe_init.sh
