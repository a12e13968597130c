# SPDX-License-Identifier: LGPL-2.1-or-later
# Output commit: the relay between QEMU's -netdev stream and the host tap.
libunderstudy_a_SOURCES += netbuf/outq.c netbuf/outq.h netbuf/relay.c netbuf/relay.h \
	netbuf/frame.c netbuf/frame.h \
	netbuf/tap.c netbuf/tap.h
