# SPDX-License-Identifier: LGPL-2.1-or-later
libunderstudy_a_SOURCES += rdma/msgq.c rdma/msgq.h rdma/transport.h rdma/transport_int.h rdma/transport.c rdma/tcp.c
include rdma/rdma.mk
