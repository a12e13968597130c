# SPDX-License-Identifier: LGPL-2.1-or-later
# Installing like a service: the systemd template unit understudy@.service
# (bindir is only known at make time, so make fills it in, not configure)
# and the example configs, installed under the doc directory.
if HAVE_SYSTEMD
systemdsystemunit_DATA = dist/systemd/understudy@.service
endif
dist/systemd/understudy@.service: $(top_srcdir)/dist/systemd/understudy@.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) dist/systemd && \
	sed -e 's|@bindir[@]|$(bindir)|g' $(top_srcdir)/dist/systemd/understudy@.service.in > $@.tmp && \
	mv $@.tmp $@
CLEANFILES += dist/systemd/understudy@.service
EXTRA_DIST += dist/systemd/understudy@.service.in

examplesdir = $(docdir)/examples
dist_examples_DATA = dist/web.conf.example heartbeat/corosync.conf.example
