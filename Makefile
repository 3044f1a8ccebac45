# libformi: build, install, test, benchmark and fuzz.
#   make                      release library in build/lib (libformi.so.0 and links) and build/formi.pc
#   make install PREFIX=/usr/local   lib, header and pkg-config file
#   make test                 installs missing system packages, builds, runs every test suite
#   make check                the quick round: Swift tests, ABI check, Python package tests
#   make dist                 build/dist/libformi-VERSION-linux-ARCH.tar.gz for C users
#   make demo [PORT=8080] [DATA_DIR=build/demo/data]   the adapter server (formi-server) with its demo agent
#   make sample-call          the library on a sample call (both ends in one C program)
#   make test-server          formi-server end to end (part of make test)
#   make test-api             the platform API: endpoints, outlet isolation, schemathesis (part of make test)
#   make bench                benchmarks against peers run in the same process
#   make bench-server         formi-server under load: most real-time calls on one core
#   make bench-ledger-stores  the ledger on SQLite beside PostgreSQL [LEDGER_MAX=100000]
#   make bench-speech         the demo agent's keyword recognition: share right, rejection trade-off, speed
#   make bench-bridge         the agent bridge's added latency per frame (server in the middle vs direct)
#   make fuzz [FUZZ_SECONDS=60]   libFuzzer over every parser target

SHELL       := /bin/bash
# The version lives in include/formi.h (FORMI_VERSION); everything else reads it from there.
VERSION     := $(shell sed -n 's/^\#define FORMI_VERSION "\(.*\)"/\1/p' include/formi.h)
SOVERSION   := 0
PREFIX      ?= /usr/local
BUILD       := build
STAGE       := $(BUILD)/stage
LIB         := $(BUILD)/lib/libformi.so.$(VERSION)
SWIFT       ?= swift
CC          ?= cc
CFLAGS_TEST := -std=c11 -O2 -g -Wall -Wextra -Werror -pthread
VALGRIND    := valgrind --quiet --error-exitcode=99 --leak-check=full \
               --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
               --suppressions=bindings/c/tests/valgrind.supp
FUZZ_SECONDS ?= 60
# How long the ledger's concurrent-writers test runs in test-c (make test-c CONCURRENT_SECONDS=60).
CONCURRENT_SECONDS ?= 8
FUZZ_TARGETS := base64 transcoder json template mapper session flow condition flowrun ledger ledgerquery
SWIFT_SOURCES := $(shell find Sources -name '*.swift' -o -name '*.map' -o -name '*.h' -o -name '*.modulemap') Package.swift $(wildcard providers/*.json) scripts/embed-providers.sh Plugins/EmbedProviders/EmbedProviders.swift

C_TESTS := test_basics test_codecs test_bad_input test_input_limits test_resampling test_providers test_sessions test_flows test_no_alloc test_ledger test_ledger_moved

PYTHON      ?= python3
PY_VENV     := $(BUILD)/python-venv

PORT        ?= 8080
DATA_DIR    ?= $(BUILD)/demo/data
DEMO        := $(BUILD)/demo

.PHONY: all deps install uninstall test-install wheel test-wheel test test-swift test-c test-abi test-python test-python-package test-asterisk test-server test-api test-ledger-pg check dist server server-venv demo sample-call bench bench-server bench-speech bench-bridge bench-ledger-stores fuzz resampler-filters clean

all: $(LIB) $(BUILD)/formi.pc

deps:
	@scripts/install-deps.sh

$(LIB): $(SWIFT_SOURCES)
	@# SwiftPM does not track the version script: relink when it changed.
	@[ Sources/formi/exports.map -ot .build/release/libformi.so ] || rm -f .build/release/libformi.so
	$(SWIFT) build -c release --product formi
	@mkdir -p $(BUILD)/lib
	@# Made beside and renamed into place: a process that has the old library mapped (a running PBX)
	@# keeps its copy intact instead of having the file rewritten under it.
	cp .build/release/libformi.so $@.tmp
	objcopy --only-keep-debug $@.tmp $@.debug
	strip --strip-unneeded $@.tmp
	cd $(dir $@) && objcopy --add-gnu-debuglink=$(notdir $@).debug $(notdir $@).tmp
	mv -f $@.tmp $@
	ln -sf libformi.so.$(VERSION) $(BUILD)/lib/libformi.so.$(SOVERSION)
	ln -sf libformi.so.$(SOVERSION) $(BUILD)/lib/libformi.so

# The .pc file is written for PREFIX at install time; this one points into the build tree.
$(BUILD)/formi.pc: scripts/formi.pc.in
	sed -e 's|@PREFIX@|$(CURDIR)|; s|@LIBDIR@|$(CURDIR)/$(BUILD)/lib|; s|@INCLUDEDIR@|$(CURDIR)/include|; s|@VERSION@|$(VERSION)|' $< > $@

# Debug info goes to lib/.debug/, where gdb looks for a library's .gnu_debuglink file; the valgrind
# suppressions for the Swift runtime's own allocations to share/formi/. A system prefix (no DESTDIR)
# refreshes the loader's cache; a private prefix needs the rpath the README shows.
INSTALLED := lib/libformi.so.$(VERSION) lib/libformi.so.$(SOVERSION) lib/libformi.so \
             lib/.debug/libformi.so.$(VERSION).debug lib/pkgconfig/formi.pc include/formi.h share/formi/valgrind.supp

install: $(LIB)
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/lib/.debug $(DESTDIR)$(PREFIX)/include \
	    $(DESTDIR)$(PREFIX)/share/formi
	install -m 0755 $(LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 0644 $(LIB).debug $(DESTDIR)$(PREFIX)/lib/.debug/
	ln -sf libformi.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libformi.so.$(SOVERSION)
	ln -sf libformi.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libformi.so
	install -m 0644 include/formi.h $(DESTDIR)$(PREFIX)/include/
	install -m 0644 bindings/c/tests/valgrind.supp $(DESTDIR)$(PREFIX)/share/formi/
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$${prefix}/lib|; s|@INCLUDEDIR@|$${prefix}/include|; s|@VERSION@|$(VERSION)|' \
	    scripts/formi.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/formi.pc
	@if [ -z "$(DESTDIR)" ] && [ -w /etc/ld.so.cache ] && { [ "$(PREFIX)" = /usr ] || [ "$(PREFIX)" = /usr/local ]; }; then \
	    ldconfig && echo "ldconfig: $(PREFIX)/lib is in the loader's cache"; \
	elif [ -z "$(DESTDIR)" ]; then \
	    echo "installed in $(PREFIX): link with -Wl,-rpath,$(PREFIX)/lib (or set LD_LIBRARY_PATH=$(PREFIX)/lib)"; \
	fi

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/,$(INSTALLED))
	-rmdir $(DESTDIR)$(PREFIX)/lib/.debug $(DESTDIR)$(PREFIX)/share/formi 2>/dev/null
	@if [ -z "$(DESTDIR)" ] && [ -w /etc/ld.so.cache ] && { [ "$(PREFIX)" = /usr ] || [ "$(PREFIX)" = /usr/local ]; }; then ldconfig; fi

# A self-contained platform wheel of bindings/python in build/wheel/ (libformi.so.0 inside, speexdsp and
# SQLite vendored by auditwheel), and its test: a fresh venv, the package's tests run from outside the
# repository with nothing but the wheel to load.
wheel: $(LIB)
	scripts/build-wheel.sh $(LIB) $(PYTHON)

test-wheel: wheel
	scripts/test-wheel.sh $(PYTHON)

# Installs into a private prefix and uses it as a C user would: the README's example compiled with
# pkg-config and the rpath, run, then uninstalled without a trace.
test-install: $(LIB)
	@set -e; prefix=$$(mktemp -d); trap 'rm -rf "$$prefix"' EXIT; \
	$(MAKE) --no-print-directory install PREFIX=$$prefix >/dev/null; \
	sed -n '/^```c$$/,/^```$$/p' README.md | sed '1d;$$d' | sed -n '1,/^}$$/p' > $$prefix/app.c; \
	export PKG_CONFIG_PATH=$$prefix/lib/pkgconfig; \
	$(CC) -std=c11 -Wall -Werror $$prefix/app.c -o $$prefix/app $$(pkg-config --cflags --libs formi) -Wl,-rpath,$$prefix/lib; \
	$$prefix/app | grep -q '"event":"media"'; \
	test -f $$prefix/lib/.debug/libformi.so.$(VERSION).debug -a -f $$prefix/share/formi/valgrind.supp; \
	$(MAKE) --no-print-directory uninstall PREFIX=$$prefix >/dev/null; \
	rm -f $$prefix/app $$prefix/app.c; \
	left=$$(find $$prefix -type f -o -type l); \
	if [ -n "$$left" ]; then echo "make uninstall left: $$left"; exit 1; fi; \
	echo "test-install: installed, compiled the README's example with pkg-config and an rpath, ran it, uninstalled cleanly"
	@# The tarball unpacked in a directory of its own: its pkg-config file finds its own prefix.
	@set -e; $(MAKE) --no-print-directory dist >/dev/null; where=$$(mktemp -d); trap 'rm -rf "$$where"' EXIT; \
	tar -C $$where -xzf $(DIST).tar.gz; top=$$where/$(notdir $(DIST)); \
	sed -n '/^```c$$/,/^```$$/p' README.md | sed '1d;$$d' | sed -n '1,/^}$$/p' > $$where/app.c; \
	export PKG_CONFIG_PATH=$$top/lib/pkgconfig; \
	$(CC) -std=c11 -Wall -Werror $$where/app.c -o $$where/app $$(pkg-config --cflags --libs formi) -Wl,-rpath,$$top/lib; \
	$$where/app | grep -q '"event":"media"'; \
	echo "test-install: $(notdir $(DIST)).tar.gz unpacked elsewhere builds and runs the README's example"

# The quick round for daily work: the release library, the Swift tests (library and server units), the
# ABI check and the Python package's suite. No valgrind, wheel, install, server end-to-end or fuzz runs:
# those are in make test.
check: all
	$(MAKE) test-swift test-abi test-python-package
	@echo "make check: quick suites passed (make test runs everything)"

# A binary tarball for C users, unpacked anywhere: lib (with debug info in lib/.debug), the header, a
# pkg-config file that finds its own prefix (${pcfiledir}), the valgrind suppressions and the documents.
DIST := $(BUILD)/dist/libformi-$(VERSION)-linux-$(shell uname -m)
dist: $(LIB)
	rm -rf $(DIST) $(DIST).tar.gz
	$(MAKE) --no-print-directory install PREFIX=/ DESTDIR=$(CURDIR)/$(DIST) >/dev/null
	sed -i 's|^prefix=.*|prefix=$${pcfiledir}/../..|' $(DIST)/lib/pkgconfig/formi.pc
	install -d $(DIST)/share/doc/formi
	install -m 0644 README.md docs/*.md $(DIST)/share/doc/formi/
	tar -C $(dir $(DIST)) -czf $(DIST).tar.gz $(notdir $(DIST))
	@echo "dist: $(DIST).tar.gz"

test: deps
	$(MAKE) all
	$(MAKE) test-swift test-abi test-c test-ledger-pg test-install test-python test-python-package test-wheel test-asterisk test-server test-api
	$(MAKE) fuzz FUZZ_SECONDS=10
	@echo "make test: all suites passed"

# With a PostgreSQL server of its own (scripts/pg.sh): the ledger suites run on SQLite and on PostgreSQL.
test-swift:
	scripts/pg.sh run $(SWIFT) test

.PHONY: test-ledger-pg bench-ledger-stores
# The ledger on PostgreSQL, on a server scripts/pg.sh starts and stops: 8 writer processes and 2 readers
# at once for CONCURRENT_SECONDS, then the kill test (a writer SIGKILLed at random instants, 25 rounds).
test-ledger-pg: $(LIB)
	@mkdir -p $(BUILD)/c
	@set -e; for t in test_ledger_concurrent test_ledger_kill; do \
	    $(CC) $(CFLAGS_TEST) -Iinclude bindings/c/tests/$$t.c -o $(BUILD)/c/$$t-pg -L$(BUILD)/lib -lformi \
	        $$(pkg-config --cflags --libs sqlite3) -Wl,-rpath,$(CURDIR)/$(BUILD)/lib; \
	done
	scripts/pg.sh run bash -c 'set -e; \
	    $(BUILD)/c/test_ledger_concurrent-pg $(CONCURRENT_SECONDS) "$$(scripts/pg.sh createdb ledger_concurrent)" 8; \
	    $(BUILD)/c/test_ledger_kill-pg 25 $$RANDOM "$$(scripts/pg.sh createdb ledger_kill)"'

test-abi: $(LIB)
	scripts/check-abi.sh .build/release/libformi.so

# C tests build against the *installed* header and formi.pc, with warnings as errors, and run under
# valgrind memcheck: any error or leak fails.
test-c: $(LIB)
	rm -rf $(STAGE) && $(MAKE) install PREFIX=$(CURDIR)/$(STAGE)
	@mkdir -p $(BUILD)/c
	@set -e; export PKG_CONFIG_PATH=$(CURDIR)/$(STAGE)/lib/pkgconfig; \
	for t in $(C_TESTS); do \
	    $(CC) $(CFLAGS_TEST) bindings/c/tests/$$t.c -o $(BUILD)/c/$$t $$(pkg-config --cflags --libs formi); \
	    LD_LIBRARY_PATH=$(CURDIR)/$(STAGE)/lib $(VALGRIND) $(BUILD)/c/$$t; \
	done; \
	LD_LIBRARY_PATH=$(CURDIR)/$(STAGE)/lib scripts/check-no-alloc.sh $(BUILD)/c/test_no_alloc
	@# Oversize inputs are refused without a copy: a child with too little address space for one.
	LD_LIBRARY_PATH=$(CURDIR)/$(STAGE)/lib $(BUILD)/c/test_input_limits --no-copy
	@# The C examples (WAV transcoding, replaying captures) against the installed library, under valgrind.
	CC="$(CC)" VALGRIND="$(VALGRIND)" bindings/c/examples/run_examples.sh $(CURDIR)/$(STAGE) $(BUILD)/c/examples
	@# The sample flow's DOT (written by test_flows) must render: Graphviz exits non-zero on a syntax error.
	dot -Tpng $(BUILD)/c/booking.dot -o $(BUILD)/c/booking.png
	@head -c 8 $(BUILD)/c/booking.png | od -An -tx1 | grep -q '89 50 4e 47 0d 0a 1a 0a' && echo "booking.dot renders: $(BUILD)/c/booking.png"
	@# The ledger's kill test: a child writing is SIGKILLed at random instants, again and again; every
	@# acknowledged write must be there and nothing half applied (not under valgrind: fork and kill).
	@# Then several processes on one file (3 writers, 2 readers): no call may fail.
	@set -e; export PKG_CONFIG_PATH=$(CURDIR)/$(STAGE)/lib/pkgconfig; \
	$(CC) $(CFLAGS_TEST) bindings/c/tests/test_ledger_kill.c -o $(BUILD)/c/test_ledger_kill $$(pkg-config --cflags --libs formi); \
	LD_LIBRARY_PATH=$(CURDIR)/$(STAGE)/lib $(BUILD)/c/test_ledger_kill; \
	$(CC) $(CFLAGS_TEST) bindings/c/tests/test_ledger_concurrent.c -o $(BUILD)/c/test_ledger_concurrent $$(pkg-config --cflags --libs formi sqlite3); \
	LD_LIBRARY_PATH=$(CURDIR)/$(STAGE)/lib $(BUILD)/c/test_ledger_concurrent $(CONCURRENT_SECONDS); \
	$(CC) $(CFLAGS_TEST) bench/ledger.c -o $(BUILD)/c/bench-ledger $$(pkg-config --cflags --libs formi); \
	LD_LIBRARY_PATH=$(CURDIR)/$(STAGE)/lib $(BUILD)/c/bench-ledger --max 10000 --dir $(BUILD)/c > /dev/null && echo "bench-ledger: 10k smoke run ok"

test-python: $(LIB)
	FORMI_LIBRARY=$(CURDIR)/$(LIB) python3 tests/python/test_abi.py

# The Python package (bindings/python): pip-installed into a virtualenv under build/ (made once, remade
# if broken) with pytest, then its suite run against this build's library.
test-python-package: $(LIB) $(BUILD)/formi.pc
	@$(PY_VENV)/bin/python -c '' 2>/dev/null || $(PYTHON) -m venv --clear $(PY_VENV)
	$(PY_VENV)/bin/python -m pip install --quiet --disable-pip-version-check pytest websockets pipecat-ai
	$(PY_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./bindings/python
	cd bindings/python && FORMI_LIBRARY=$(CURDIR)/$(BUILD)/lib/libformi.so.$(SOVERSION) \
	    $(CURDIR)/scripts/pg.sh run $(CURDIR)/$(PY_VENV)/bin/python -m pytest -q -p no:cacheprovider tests

# The Asterisk module's tests (bindings/asterisk/tests): its Makefile always; calls through a real
# Asterisk only with ASTERISK_PREFIX (an Asterisk installed from source; with ASTERISK_SRC, its tree,
# the module is built first). See bindings/asterisk/README.md.
test-asterisk: $(LIB) $(BUILD)/formi.pc
	@$(PY_VENV)/bin/python -c '' 2>/dev/null || $(PYTHON) -m venv --clear $(PY_VENV)
	$(PY_VENV)/bin/python -m pip install --quiet --disable-pip-version-check pytest websockets pipecat-ai
	$(if $(ASTERISK_SRC),$(MAKE) -C bindings/asterisk ASTERISK_SRC=$(ASTERISK_SRC) PKG_CONFIG_PATH=$(CURDIR)/$(BUILD))
	cd bindings/asterisk && FORMI_LIBRARY=$(CURDIR)/$(BUILD)/lib/libformi.so.$(SOVERSION) \
	    $(CURDIR)/$(PY_VENV)/bin/python -m pytest -q -p no:cacheprovider -rs tests

# The adapter server (Sources/formi-server): a release build for the demo, the debug build for the tests
# (which `swift test` has built already).
server:
	$(SWIFT) build -c release --product formi-server

# The venv the server's tests and the demo's simulator run in (the same one as test-python-package's).
server-venv: $(LIB)
	@$(PY_VENV)/bin/python -c '' 2>/dev/null || $(PYTHON) -m venv --clear $(PY_VENV)
	@$(PY_VENV)/bin/python -c 'import pytest, websockets, prometheus_client' 2>/dev/null || \
	    $(PY_VENV)/bin/python -m pip install --quiet --disable-pip-version-check pytest websockets prometheus_client
	@$(PY_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./bindings/python

# Starts formi-server on the built-in demo (agent 1, outlet 1 with credits, the demo flow, the ledger
# under DATA_DIR) and prints a simulator command that places a call: it greets, then the keys book a table.
demo: deps $(LIB) server-venv
	$(SWIFT) build -c release --product formi-server
	@mkdir -p $(DEMO)
	@$(PY_VENV)/bin/python -c 'import wave; w = wave.open("$(DEMO)/caller.wav", "wb"); w.setnchannels(1); \
	    w.setsampwidth(2); w.setframerate(8000); w.writeframes(bytes(2 * 8000 * 30)); w.close()'
	.build/release/formi-server --port $(PORT) --data-dir $(DATA_DIR) \
	    --sim-command "FORMI_LIBRARY=$(CURDIR)/$(BUILD)/lib/libformi.so.$(SOVERSION) $(CURDIR)/$(PY_VENV)/bin/python -m formi.sim" \
	    --sim-args="--wav $(CURDIR)/$(DEMO)/caller.wav --dtmf 1@9 --dtmf 4@14 --dtmf 1@19.5 --save $(CURDIR)/$(DEMO)/heard.wav"

# formi-server under load (release, pinned to CPU 0; the C load generator on CPU 1), and the Python echo
# server under the same load for the ratio.
bench-server: $(LIB) server-venv
	$(SWIFT) build -c release --product formi-server
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -Iinclude bench/server_load.c -o $(BUILD)/bench-server-load \
	    -L$(BUILD)/lib -lformi -Wl,-rpath,$(CURDIR)/$(BUILD)/lib
	FORMI_LIBRARY=$(CURDIR)/$(BUILD)/lib/libformi.so.$(SOVERSION) $(PY_VENV)/bin/python bench/server_load.py \
	    --server .build/release/formi-server --generator $(BUILD)/bench-server-load

bench-speech bench-bridge: $(LIB) server-venv
	$(SWIFT) build -c release --product formi-server
	FORMI_LIBRARY=$(CURDIR)/$(BUILD)/lib/libformi.so.$(SOVERSION) $(PY_VENV)/bin/python \
	    bench/$(if $(filter bench-speech,$@),speech_recognition,bridge_latency).py --server .build/release/formi-server

# `swift build --build-tests` (as `swift test` builds): a plain debug build would rebuild every module.
test-server: $(LIB) server-venv
	$(SWIFT) build --build-tests
	cd tests/server && FORMI_LIBRARY=$(CURDIR)/$(BUILD)/lib/libformi.so.$(SOVERSION) \
	    FORMI_SERVER=$(CURDIR)/.build/debug/formi-server $(CURDIR)/scripts/pg.sh run \
	    $(CURDIR)/$(PY_VENV)/bin/python -m pytest -q -p no:cacheprovider .

# The platform API (tests/api): endpoints, the cross-outlet walk, bad input, webhooks and e-mail (a
# loopback receiver, an aiosmtpd sink), and schemathesis against the server's /openapi.json
# (SCHEMATHESIS_EXAMPLES per operation, default 15).
test-api: $(LIB) server-venv
	@$(PY_VENV)/bin/python -c 'import schemathesis, aiosmtpd' 2>/dev/null || \
	    $(PY_VENV)/bin/python -m pip install --quiet --disable-pip-version-check schemathesis aiosmtpd
	$(SWIFT) build --build-tests
	cd tests/api && FORMI_LIBRARY=$(CURDIR)/$(BUILD)/lib/libformi.so.$(SOVERSION) \
	    FORMI_SERVER=$(CURDIR)/.build/debug/formi-server $(CURDIR)/$(PY_VENV)/bin/python -m pytest -q -p no:cacheprovider .

sample-call: $(LIB)
	@mkdir -p $(BUILD)/c
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -Iinclude bindings/c/examples/sample_call.c -o $(BUILD)/c/sample_call \
	    -L$(BUILD)/lib -lformi -lm -Wl,-rpath,$(CURDIR)/$(BUILD)/lib
	$(BUILD)/c/sample_call

bench: $(LIB)
	@scripts/install-deps.sh --bench
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -Iinclude bench/resampler.c -o $(BUILD)/bench-resampler \
	    -L$(BUILD)/lib -lformi $$(pkg-config --cflags --libs speexdsp soxr) -lm -Wl,-rpath,$(CURDIR)/$(BUILD)/lib
	FORMI_LIBRARY=$(CURDIR)/$(LIB) python3 bench/codecs.py
	@echo
	$(BUILD)/bench-resampler
	@echo
	scripts/bench-overhead.sh $(BUILD)/bench-resampler
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -Iinclude bench/mapper.c -o $(BUILD)/bench-mapper \
	    -L$(BUILD)/lib -lformi -Wl,-rpath,$(CURDIR)/$(BUILD)/lib
	@echo
	python3 bench/mapper.py $(BUILD)/bench-mapper
	python3 bench/mapper.py $(BUILD)/bench-mapper --instructions
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -Iinclude bench/session.c -o $(BUILD)/bench-session \
	    -L$(BUILD)/lib -lformi -Wl,-rpath,$(CURDIR)/$(BUILD)/lib
	@echo
	python3 bench/session.py $(BUILD)/bench-session
	python3 bench/session.py $(BUILD)/bench-session --instructions
	@# The Python package's frame path against pipecat's own Twilio serializer (in the test venv).
	@$(MAKE) --no-print-directory test-python-package >/dev/null
	@echo
	FORMI_LIBRARY=$(CURDIR)/$(BUILD)/lib/libformi.so.$(SOVERSION) $(PY_VENV)/bin/python bench/pipecat_frame.py
	FORMI_LIBRARY=$(CURDIR)/$(BUILD)/lib/libformi.so.$(SOVERSION) $(PY_VENV)/bin/python bench/pipecat_frame.py --instructions --frames 300
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -Iinclude bench/flow.c -o $(BUILD)/bench-flow \
	    -L$(BUILD)/lib -lformi -Wl,-rpath,$(CURDIR)/$(BUILD)/lib
	@echo
	python3 bench/flow.py $(BUILD)/bench-flow
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -Iinclude bench/ledger.c -o $(BUILD)/bench-ledger \
	    -L$(BUILD)/lib -lformi -Wl,-rpath,$(CURDIR)/$(BUILD)/lib
	@echo
	$(BUILD)/bench-ledger --dir $(BUILD)

# The ledger on SQLite and on PostgreSQL in one run (a server of its own, scripts/pg.sh): ingest and
# queries up to LEDGER_MAX interactions, then 1, 4 and 16 writer processes at once.
LEDGER_MAX ?= 100000
WRITER_SECONDS ?= 10
bench-ledger-stores: $(LIB)
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -Iinclude bench/ledger.c -o $(BUILD)/bench-ledger \
	    -L$(BUILD)/lib -lformi -Wl,-rpath,$(CURDIR)/$(BUILD)/lib
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -Iinclude bench/ledger_writers.c -o $(BUILD)/bench-ledger-writers \
	    -L$(BUILD)/lib -lformi -Wl,-rpath,$(CURDIR)/$(BUILD)/lib
	scripts/pg.sh run bash -c 'set -e; \
	    echo "## SQLite (a file, WAL, synchronous=FULL)"; $(BUILD)/bench-ledger --dir "$${TMPDIR:-/tmp}" --max $(LEDGER_MAX); \
	    echo "## PostgreSQL (loopback TCP, fsync on)"; \
	    $(BUILD)/bench-ledger --max $(LEDGER_MAX) --url "$$(scripts/pg.sh createdb bench_ledger)"; \
	    echo; $(BUILD)/bench-ledger-writers "$${TMPDIR:-/tmp}/bench-writers.db" $(WRITER_SECONDS) 1 4 16; rm -f "$${TMPDIR:-/tmp}"/bench-writers.db*; \
	    echo; $(BUILD)/bench-ledger-writers "$$(scripts/pg.sh createdb bench_writers)" $(WRITER_SECONDS) 1 4 16'

# libFuzzer builds into a scratch folder of its own, so the normal build stays as it is.
fuzz:
	$(SWIFT) build -c release --scratch-path .build-fuzz --product formi-fuzz \
	    --sanitize fuzzer -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFORMI_FUZZING
	@set -e; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(BUILD)/fuzz/$$t; \
	    echo "fuzz $$t for $(FUZZ_SECONDS) s"; \
	    SWIFT_BACKTRACE=enable=no FORMI_FUZZ_TARGET=$$t .build-fuzz/release/formi-fuzz \
	        -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/$$t- \
	        $(BUILD)/fuzz/$$t fuzz/corpus/$$t 2>&1 | grep -E 'stat::number_of_executed_units|ERROR|SUMMARY|Done' ; \
	    test $${PIPESTATUS[0]} -eq 0; \
	done

# Regenerates the resampler's filters (checked in; not needed to build or test): numpy and scipy go into
# a virtualenv of their own under build/, used for nothing else.
resampler-filters:
	@$(BUILD)/design-venv/bin/python -c 'import scipy' 2>/dev/null || \
	    { $(PYTHON) -m venv --clear $(BUILD)/design-venv && \
	      $(BUILD)/design-venv/bin/python -m pip install --quiet --disable-pip-version-check numpy scipy; }
	$(BUILD)/design-venv/bin/python scripts/design_resampler.py > Sources/CFormiKernels/resampler_filters.c

clean:
	rm -rf $(BUILD) .build .build-fuzz
