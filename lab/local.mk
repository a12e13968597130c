# SPDX-License-Identifier: LGPL-2.1-or-later
# understudy-lab: the failure-injection lab as an installed command. Its
# scripts go to $(pkgdatadir)/lab (the tests source the same files from the
# source tree through tests/lib/lab.sh), its client and frame capture to
# $(pkglibexecdir); make fills those paths into the command, like the unit.
bin_SCRIPTS = understudy-lab
understudy-lab: $(top_srcdir)/lab/understudy-lab.in Makefile
	$(AM_V_GEN)sed -e 's|@pkgdatadir[@]|$(pkgdatadir)|g' -e 's|@bindir[@]|$(bindir)|g' \
		-e 's|@pkglibexecdir[@]|$(pkglibexecdir)|g' $(top_srcdir)/lab/understudy-lab.in > $@.tmp && \
	chmod +x $@.tmp && mv $@.tmp $@
CLEANFILES += understudy-lab
EXTRA_DIST += lab/understudy-lab.in
labdir = $(pkgdatadir)/lab
dist_lab_DATA = lab/lab.sh lab/corosync.sh lab/faults.sh lab/client.sh lab/campaign.sh \
	lab/cmd.sh lab/check.awk lab/dual.awk lab/linkfault.sh lab/slowdisk.sh
dist_lab_SCRIPTS = lab/fence_lab.sh
labexamplesdir = $(docdir)/examples
dist_labexamples_SCRIPTS = lab/examples/counter-client.sh
pkglibexec_PROGRAMS = tests/tools/reqclient tests/tools/framecap tests/tools/tamperproxy \
	tests/tools/linkfault tests/tools/slowfs
# linkfault: loss/delay/duplicate/reorder through NFQUEUE where sch_netem is missing
tests_tools_linkfault_SOURCES = tests/tools/linkfault.c
tests_tools_linkfault_CFLAGS = $(AM_CFLAGS) $(NFQUEUE_CFLAGS)
tests_tools_linkfault_LDADD = $(NFQUEUE_LIBS)
# slowfs: the slow-disk fault, a FUSE passthrough with late writes and fsyncs
tests_tools_slowfs_SOURCES = tests/tools/slowfs.c
tests_tools_slowfs_CFLAGS = $(AM_CFLAGS) $(FUSE3_CFLAGS)
tests_tools_slowfs_LDADD = $(FUSE3_LIBS)

# The command end to end: checkers, name collisions, SIGINT, a short campaign.
TESTS += tests/integration/lab_campaign.sh
EXTRA_DIST += tests/integration/lab_campaign.sh
# Run by scripts/broken.sh in its --enable-test-early-release build only.
EXTRA_DIST += tests/integration/lab_broken.sh

# A test-only build (configure --enable-test-early-release, scripts/broken.sh)
# releases output before the ACK: it must never be installed.
if TEST_EARLY_RELEASE
install-exec-local:
	@echo "understudy: this build releases output before its ACK (--enable-test-early-release): never install it" >&2; exit 1
endif
