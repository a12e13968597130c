# SPDX-License-Identifier: LGPL-2.1-or-later
libunderstudy_a_SOURCES += rdma/msgq.c rdma/msgq.h rdma/transport.h rdma/transport_int.h rdma/transport.c rdma/tcp.c rdma/auth.c rdma/auth.h rdma/transport_auth.c \
	rdma/tcp_int.h rdma/tls.h rdma/tls_int.h rdma/tls.c rdma/tcp_tls.c
include rdma/rdma.mk

# The authenticated channel: proofs, tags, key files, and every attack on the
# tag layer over real TCP (flipped byte, replays, injection, forged ACK).
check_PROGRAMS += tests/unit/test_auth
TESTS += tests/unit/test_auth
tests_unit_test_auth_SOURCES = tests/unit/test_auth.c tests/lib/logcap.c tests/lib/logcap.h
tests_unit_test_auth_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_auth_LDADD = $(US_LIBS) $(CMOCKA_LIBS)

# The daemons with keys in the lab (real QEMU): the same key protects, a
# wrong key, a key on one side only and a keyless peer replaying a HELLO are
# refused on both sides in words, and the replica is left untouched.
check_PROGRAMS += tests/tools/nokeypeer
tests_tools_nokeypeer_LDADD = $(US_LIBS)
TESTS += tests/integration/auth.sh
EXTRA_DIST += tests/integration/auth.sh

# TLS on TCP (loopback, real GnuTLS): psk and x509 round trips, the refusals.
check_PROGRAMS += tests/unit/test_tls
TESTS += tests/unit/test_tls
tests_unit_test_tls_SOURCES = tests/unit/test_tls.c tests/lib/logcap.c tests/lib/logcap.h
tests_unit_test_tls_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_tls_LDADD = $(US_LIBS) $(CMOCKA_LIBS)
EXTRA_DIST += tests/lib/mkcerts.sh

# TLS between real daemons: no plaintext page on the link (tcpdump, against
# a plaintext control), a takeover from what came over TLS, x509, and TLS on
# one side only refused in words.
TESTS += tests/integration/tls.sh
EXTRA_DIST += tests/integration/tls.sh
