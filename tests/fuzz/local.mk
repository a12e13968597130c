# SPDX-License-Identifier: LGPL-2.1-or-later
# libFuzzer harnesses of every decoder a peer, QEMU or a config file reaches
# (./configure CC=clang --enable-fuzzing; scripts/fuzz.sh does it in
# build-fuzz/). Each harness tests/fuzz/fuzz_NAME.c has its seed corpus in
# tests/fuzz/NAME/; `make fuzz` runs each for FUZZ_SECONDS and copies a
# crashing input into that folder, where it stays as a regression seed.
FUZZ_NAMES = receiver chanauth qmp relay nbd config
FUZZ_SECONDS = 60
FUZZ_JOBS = 1
FUZZ_COMMON = tests/fuzz/fuzz.h tests/fuzz/fuzz_common.c
EXTRA_DIST += tests/fuzz/run.sh tests/fuzz/receiver tests/fuzz/chanauth tests/fuzz/qmp \
	tests/fuzz/relay tests/fuzz/nbd tests/fuzz/config

if ENABLE_FUZZING
FUZZ_PROGS = tests/fuzz/fuzz_receiver tests/fuzz/fuzz_chanauth tests/fuzz/fuzz_qmp \
	tests/fuzz/fuzz_relay tests/fuzz/fuzz_nbd tests/fuzz/fuzz_config
noinst_PROGRAMS += $(FUZZ_PROGS)
tests_fuzz_fuzz_receiver_SOURCES = tests/fuzz/fuzz_receiver.c $(FUZZ_COMMON)
tests_fuzz_fuzz_receiver_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_receiver_LDADD = $(US_LIBS)
# fixed nonces, so the harness can play a peer that holds the key
tests_fuzz_fuzz_chanauth_SOURCES = tests/fuzz/fuzz_chanauth.c $(FUZZ_COMMON)
tests_fuzz_fuzz_chanauth_LDFLAGS = $(FUZZ_LDFLAGS) -Wl,--wrap=us_auth_random
tests_fuzz_fuzz_chanauth_LDADD = $(US_LIBS)
tests_fuzz_fuzz_nbd_SOURCES = tests/fuzz/fuzz_nbd.c $(FUZZ_COMMON)
tests_fuzz_fuzz_nbd_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_nbd_LDADD = $(US_LIBS)
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz_config.c $(FUZZ_COMMON)
tests_fuzz_fuzz_config_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_config_LDADD = $(US_LIBS)
tests_fuzz_fuzz_qmp_SOURCES = tests/fuzz/fuzz_qmp.c $(FUZZ_COMMON)
tests_fuzz_fuzz_qmp_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_qmp_LDADD = $(US_LIBS)
tests_fuzz_fuzz_relay_SOURCES = tests/fuzz/fuzz_relay.c $(FUZZ_COMMON)
tests_fuzz_fuzz_relay_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_relay_LDADD = $(US_LIBS)

# The binary seeds, written with the real encoders (qmp and config are text).
noinst_PROGRAMS += tests/fuzz/mkseeds
tests_fuzz_mkseeds_LDADD = $(US_LIBS)
fuzz-seeds: tests/fuzz/mkseeds
	tests/fuzz/mkseeds '$(abs_top_srcdir)/tests/fuzz'

# Run every harness for FUZZ_SECONDS, FUZZ_JOBS at a time (make fuzz
# FUZZ_SECONDS=300 FUZZ_JOBS=2); fails on a crash.
fuzz: $(FUZZ_PROGS)
	@FUZZ_SECONDS='$(FUZZ_SECONDS)' FUZZ_JOBS='$(FUZZ_JOBS)' $(SHELL) $(top_srcdir)/tests/fuzz/run.sh fuzz \
		'$(abs_top_srcdir)/tests/fuzz' $(FUZZ_NAMES)
# Run every harness once over its seed corpus: the regression test.
fuzz-regress: $(FUZZ_PROGS)
	@$(SHELL) $(top_srcdir)/tests/fuzz/run.sh regress '$(abs_top_srcdir)/tests/fuzz' $(FUZZ_NAMES)
# The harnesses' names, for scripts/fuzz.sh (it builds only these).
print-fuzz-progs:
	@echo $(FUZZ_PROGS)
else
fuzz fuzz-regress fuzz-seeds print-fuzz-progs:
	@echo "make $@: this build has no fuzzers: configure with CC=clang --enable-fuzzing" \
		"(or run scripts/fuzz.sh, which builds build-fuzz/ so)" >&2; exit 1
endif
.PHONY: fuzz fuzz-regress fuzz-seeds print-fuzz-progs
