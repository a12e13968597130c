# SPDX-License-Identifier: LGPL-2.1-or-later
# Unit tests of the protocol, the standby receiver and the configuration.
US_UNIT_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
US_UNIT_LIBS = $(US_LIBS) $(CMOCKA_LIBS)

check_PROGRAMS += tests/unit/test_proto tests/unit/test_receiver tests/unit/test_config \
	tests/unit/test_tcp tests/unit/test_netbuf tests/unit/test_xsum
TESTS += tests/unit/test_proto tests/unit/test_receiver tests/unit/test_config \
	tests/unit/test_tcp tests/unit/test_netbuf tests/unit/test_xsum
tests_unit_test_xsum_CFLAGS = $(US_UNIT_CFLAGS)
tests_unit_test_xsum_LDADD = $(US_UNIT_LIBS)
tests_unit_test_netbuf_CFLAGS = $(US_UNIT_CFLAGS)
tests_unit_test_netbuf_LDADD = $(US_UNIT_LIBS)
tests_unit_test_proto_CFLAGS = $(US_UNIT_CFLAGS)
tests_unit_test_proto_LDADD = $(US_UNIT_LIBS)
tests_unit_test_receiver_CFLAGS = $(US_UNIT_CFLAGS)
tests_unit_test_receiver_LDADD = $(US_UNIT_LIBS)
tests_unit_test_config_SOURCES = tests/unit/test_config.c tests/lib/logcap.c tests/lib/logcap.h
tests_unit_test_config_CFLAGS = $(US_UNIT_CFLAGS)
tests_unit_test_config_LDADD = $(US_UNIT_LIBS)
tests_unit_test_tcp_CFLAGS = $(US_UNIT_CFLAGS)
tests_unit_test_tcp_LDADD = $(US_UNIT_LIBS)

# Integration tests: real QEMU, real namespaces (tests/lib/lab.sh).
check_PROGRAMS += tests/tools/fakepeer
# tests/tools/reqclient: installed for understudy-lab (lab/local.mk)
tests_tools_fakepeer_LDADD = $(US_LIBS)
TESTS += tests/integration/bad_input.sh tests/integration/failover_counter.sh \
	tests/integration/replica_exact.sh tests/integration/failover_tcp.sh \
	tests/integration/degraded.sh tests/integration/partition.sh \
	tests/integration/daemon_crash.sh tests/integration/corosync_restart.sh
EXTRA_DIST += tests/lab tests/lib/lab.sh tests/lib/common.sh tests/lib/fswriter.sh \
	tests/integration/bad_input.sh \
	tests/integration/failover_counter.sh tests/integration/replica_exact.sh \
	tests/integration/failover_tcp.sh tests/integration/degraded.sh \
	tests/integration/partition.sh tests/integration/daemon_crash.sh \
	tests/integration/corosync_restart.sh
# Guest RAM on huge pages ([vm] hugepages), replica exact.
TESTS += tests/integration/hugepages.sh
EXTRA_DIST += tests/integration/hugepages.sh

# The LAN frame counter the takeover tests use to see the guest's RARP announce.
# tests/tools/framecap: installed for understudy-lab (lab/local.mk)

# Installing like a service: make install DESTDIR=..., the unit verified by
# systemd-analyze, the manual page rendered, every config key documented.
TESTS += tests/integration/install.sh
EXTRA_DIST += tests/integration/install.sh

# The fast decision mode ([failover] decide = silence): a paused primary is
# never fenced, a failed fence never promotes, a stalled or killed primary is
# fenced before the standby runs the only copy.
TESTS += tests/integration/failover_silence.sh
EXTRA_DIST += tests/integration/failover_silence.sh

# The guest's disk workloads (ledger, fswriter) on a raw image under plain
# QEMU, and the host's checker of the ledger's records.
noinst_PROGRAMS += tests/tools/ledgercheck
tests_tools_ledgercheck_SOURCES = tests/tools/ledgercheck.c guest/ledger_format.c guest/ledger.h
TESTS += tests/integration/guest_disk.sh
EXTRA_DIST += tests/integration/guest_disk.sh

# The replicated disk under failure: takeovers with the ledger (every reply
# on the surviving image) and ext4 (e2fsck clean), and the replica image
# byte-for-byte equal at committed epochs.
TESTS += tests/integration/failover_disk.sh tests/integration/replica_exact_disk.sh
EXTRA_DIST += tests/integration/failover_disk.sh tests/integration/replica_exact_disk.sh
TESTS += tests/integration/role_cycle.sh \
	tests/integration/suspend.sh tests/integration/broken_sync.sh
EXTRA_DIST += tests/integration/role_cycle.sh \
	tests/integration/suspend.sh tests/integration/broken_sync.sh

# Pacemaker: the OCF agent under ocf-tester (no cluster), then a real
# two-node cluster in the lab (tests/lib/pcmk.sh): start, switchover by
# crm_resource --move, the standby stopped, the promoted node killed and
# fenced, a cut link, a cold start and a stale standby.
TESTS += tests/integration/ocf_agent.sh tests/integration/pcmk_cycle.sh \
	tests/integration/pcmk_split.sh tests/integration/pcmk_coldstart.sh
EXTRA_DIST += tests/integration/ocf_agent.sh tests/integration/pcmk_cycle.sh \
	tests/integration/pcmk_split.sh tests/integration/pcmk_coldstart.sh \
	tests/lib/pcmk.sh tests/lib/pcmk_node.sh tests/lib/fence_understudy_lab

# Hostile-peer tests (issue 13): a tampering proxy on the replication link
# (tests/tools/tamperproxy, its framing knowledge in tamper_frame.c) flips,
# drops, injects, replays and forges messages between keyed daemons; the
# replica must stay byte-for-byte as at the last committed epoch.
# installed for understudy-lab's tamper faults (lab/local.mk: pkglibexecdir)
tests_tools_tamperproxy_SOURCES = tests/tools/tamperproxy.c tests/tools/tamper_act.c \
	tests/tools/tamper_ctl.c tests/tools/tamper_frame.c tests/tools/tamper_frame.h \
	tests/tools/tamper_int.h
tests_tools_tamperproxy_LDADD = $(US_LIBS)
TESTS += tests/integration/tamper_stream.sh tests/integration/tamper_replay.sh \
	tests/integration/tamper_hello.sh
EXTRA_DIST += tests/lib/tamper.sh tests/integration/tamper_stream.sh tests/integration/tamper_replay.sh \
	tests/integration/tamper_hello.sh
check_PROGRAMS += tests/unit/test_tamper_frame
TESTS += tests/unit/test_tamper_frame
tests_unit_test_tamper_frame_SOURCES = tests/unit/test_tamper_frame.c tests/tools/tamper_frame.c \
	tests/tools/tamper_frame.h
tests_unit_test_tamper_frame_CFLAGS = $(US_UNIT_CFLAGS)
tests_unit_test_tamper_frame_LDADD = $(US_UNIT_LIBS)
