# pantau — one Makefile for the daemon, the simulator, the tests and the demo.
#
#   make               build build/pantaud and build/pantau-sim
#   make dashboard     bundle the dashboard into build/dashboard (node; esbuild from npm)
#   make check         install missing Debian packages, build, run every test
#   make check SANITIZE=1   the same under AddressSanitizer + UBSan (in build-san/)
#   make check TSAN=1  the same under ThreadSanitizer (in build-tsan/; make check-tsan
#                      is the same); make check-tsan-smoke: only the C tests and the
#                      two JS tests that drive ingest, the query pool and reload (CI)
#   make demo          install, build, run broker + pantaud + simulated field units
#                      of Lampung Tengah; REGENCY=lombok-utara (lumajang, blitar,
#                      lombok-tengah) for another catalog in config/catalog/
#   make demo-federation  the same for a province: NTB's hub broker and pantaud,
#                      Lombok Utara's and Lombok Tengah's brokers bridged to it,
#                      their pantauds and simulated units; prints the hub's URL
#   make fuzz          libFuzzer targets (clang, build-fuzz/), FUZZ_SECONDS=60 each;
#                      make fuzz-smoke runs each for 5 s (CI)
#   make bench         throughput figures (rollups, queries, export; pantaud vs. mosquitto_sub)
#   make install       PREFIX=/usr/local DESTDIR= (make uninstall removes the same set)
#   make deb           build ../pantau_$(VERSION)_amd64.deb into $(BUILD)/deb/ (dpkg-buildpackage)
#   make deps          only install the Debian packages (root; apt-get)
#   V=1                show each compiler command in full

PREFIX  ?= /usr/local
# Configuration is always under /etc: systemd's ConfigurationDirectory= is.
SYSCONFDIR ?= /etc
STATEDIR   ?= /var/lib/pantau
BINDIR     ?= $(PREFIX)/bin
DATADIR    ?= $(PREFIX)/share/pantau
DOCDIR     ?= $(PREFIX)/share/doc/pantau
MANDIR     ?= $(PREFIX)/share/man
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
REGENCY ?= lampung-tengah
DESTDIR ?=
CC      ?= cc
# The one version, and the release date: debian/changelog's first entry (a
# new release is a new entry there). pantaud --version, /healthz, the live
# hello, the installed man pages and the .deb all take it from here.
VERSION := $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog)
RELEASE_DATE := $(shell d=$$(sed -n 's/^ -- .*>  //p' debian/changelog | head -1); date -u -d "$$d" +%F)

ifeq ($(FUZZ),1)
# libFuzzer targets (tests/fuzz/): clang, every object instrumented.
CC       := clang
BUILD    ?= build-fuzz
OPTFLAGS ?= -O1 -g -fno-omit-frame-pointer
SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
# SQL split over lines in a statement table is on purpose.
CLANG_WARN := -Wno-string-concatenation
else ifeq ($(TSAN),1)
# ThreadSanitizer (cannot be combined with ASan). Suppressions for false
# positives inside uninstrumented libraries: tests/tsan.supp.
BUILD    ?= build-tsan
OPTFLAGS ?= -O1 -g -fno-omit-frame-pointer
SANFLAGS := -fsanitize=thread
else ifeq ($(SANITIZE),1)
BUILD    ?= build-san
OPTFLAGS ?= -O1 -g -fno-omit-frame-pointer
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined
else
BUILD    ?= build
OPTFLAGS ?= -O2 -g
SANFLAGS :=
endif

PKGS     := libuv sqlite3 jansson inih libsystemd libwebsockets libcurl libsodium
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# Debian ships no .pc for Paho C: the async client with TLS (ssl:// brokers).
PAHO_LIBS  := -lpaho-mqtt3as

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter $(CLANG_WARN)
CPPFLAGS += -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -DPANTAU_VERSION='"$(VERSION)"' \
            -DPANTAU_DATADIR='"$(DATADIR)"' -Idaemon -Isim
CFLAGS  += -std=c11 $(OPTFLAGS) $(WARN) $(SANFLAGS) $(PKG_CFLAGS) -MMD -MP
LDFLAGS += $(SANFLAGS)
LDLIBS  += $(PKG_LIBS) $(PAHO_LIBS) -lpthread -lm

# The daemon's modules (everything but main) are shared with the tests.
CORE_SRCS := daemon/log.c daemon/cfg.c daemon/inifile.c daemon/catalog.c daemon/parse.c daemon/rejects.c daemon/store.c \
             daemon/ingest_queue.c daemon/ingest_mqtt.c daemon/ingest.c daemon/util.c daemon/agg.c daemon/wire.c daemon/schema.c daemon/hasher.c \
             daemon/dict.c daemon/buf.c daemon/http.c daemon/api.c daemon/api_query.c \
             daemon/api_ingest.c daemon/csv.c \
             daemon/query_pool.c daemon/live.c daemon/query.c daemon/chunk.c daemon/chunkstore.c \
             daemon/head.c daemon/headlog.c daemon/store_convert.c \
             daemon/kpi.c daemon/kpi_engine.c daemon/api_programs.c daemon/db.c \
             daemon/checkpoint.c daemon/loopwatch.c daemon/alert_store.c daemon/alert.c daemon/alert_engine.c \
             daemon/api_alerts.c daemon/presence.c daemon/webhook.c daemon/backup.c \
             daemon/audit.c daemon/users.c daemon/users_cli.c daemon/api_users.c
CORE_SRCS += daemon/federation_state.c daemon/federation.c daemon/api_federation.c
# The simulator (sim/) borrows the daemon's log and util modules.
SIM_SRCS  := sim/sim.c sim/scenario.c sim/publisher.c daemon/log.c daemon/util.c
TEST_LIB_SRCS := tests/check.c tests/harness.c sim/publisher.c

CORE_OBJS := $(CORE_SRCS:%.c=$(BUILD)/%.o)
SIM_OBJS  := $(SIM_SRCS:%.c=$(BUILD)/%.o)
TEST_LIB_OBJS := $(TEST_LIB_SRCS:%.c=$(BUILD)/%.o)
TEST_SRCS := $(sort $(wildcard tests/test_*.c))
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
# Websocket and browser tests run on node (packages in tests/js/package.json).
JS_TESTS  := $(sort $(wildcard tests/js/*.test.mjs))

# libFuzzer targets (make fuzz): one per parser of outside input.
FUZZ_SRCS    := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS := $(FUZZ_SRCS:tests/fuzz/%.c=%)
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%)
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 5

# Shell tests: the package, the unit, the broker's ACL, the man pages, the field-unit guide.
SH_TESTS  := $(sort $(wildcard tests/sh/test_*.sh))

# Quiet compile lines unless V=1; none at all with make -s.
ifeq ($(V),1)
Q :=
say :=
else ifneq ($(findstring s,$(firstword -$(MAKEFLAGS))),)
Q := @
say :=
else
Q := @
say = @printf '  %-5s %s\n' '$(1)' '$(2)'
endif

PANTAUD := $(BUILD)/pantaud
SIM     := $(BUILD)/pantau-sim
# The dashboard (dashboard/src, plain JS modules) bundled by esbuild into
# $(BUILD)/dashboard: index.html + assets/app-<hash>.{js,css}. pantaud
# serves the directory beside its binary (see [http] dashboard).
DASH_SRCS := $(shell find dashboard/src -type f 2>/dev/null) dashboard/build.mjs dashboard/package-lock.json docs/openapi.yaml
DASHBOARD := $(BUILD)/dashboard/index.html

.PHONY: all check check-tsan check-tsan-smoke tsan-smoke-run demo demo-federation bench install uninstall deb clean deps format fmt-check dashboard \
        fuzz fuzz-build fuzz-bins fuzz-smoke
all: $(PANTAUD) $(SIM)

dashboard: $(DASHBOARD)

$(DASHBOARD): $(DASH_SRCS)
	@test -d dashboard/node_modules || { echo "make: dashboard/node_modules is missing:" \
	    "run make deps (npm ci in dashboard/) first; the dashboard cannot be built" >&2; exit 1; }
	node dashboard/build.mjs $(BUILD)/dashboard

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# A new version in debian/changelog rebuilds what may print it (PANTAU_VERSION).
$(CORE_OBJS) $(SIM_OBJS) $(BUILD)/daemon/main.o: debian/changelog

$(PANTAUD): $(CORE_OBJS) $(BUILD)/daemon/main.o
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(SIM): $(SIM_OBJS)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(sort $(CORE_OBJS) $(TEST_LIB_OBJS))
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# Integration tests start the real binaries.
$(TEST_BINS): | $(PANTAUD) $(SIM)

# Figures, not cases: no check.o (its main has no TEST_MAIN).
$(BUILD)/tests/bench_query: $(BUILD)/tests/bench_query.o $(CORE_OBJS) $(BUILD)/tests/harness.o
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/bench_kpi: $(BUILD)/tests/bench_kpi.o $(CORE_OBJS)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/bench_chunk: $(BUILD)/tests/bench_chunk.o $(CORE_OBJS)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/fuzz/%: $(BUILD)/tests/fuzz/%.o $(CORE_OBJS)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -fsanitize=fuzzer $^ $(LDLIBS) -o $@

# The fuzz targets, built with clang in build-fuzz/ (FUZZ=1 sets the flags).
fuzz-build:
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-bins

fuzz-bins: $(FUZZ_BINS)
.SECONDARY: $(FUZZ_SRCS:%.c=$(BUILD)/%.o)

# Each target for FUZZ_SECONDS (default 60) from its seeds in
# tests/fuzz/corpus/<target>/; what it finds new is kept in build-fuzz/corpus/.
fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz build-fuzz $(FUZZ_TARGETS)

# A few seconds each: CI's check that the targets build and the seeds pass.
fuzz-smoke: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS) scripts/fuzz build-fuzz $(FUZZ_TARGETS)

# Installs only what is missing; a no-op on a machine that has everything.
deps:
	@scripts/deps

check: deps
	@$(MAKE) --no-print-directory all dashboard $(TEST_BINS)
	@BUILD=$(BUILD) SANITIZE=$(SANITIZE) TSAN=$(TSAN) PANTAUD=$(BUILD)/pantaud PANTAU_SIM=$(BUILD)/pantau-sim \
		scripts/run-tests $(TEST_BINS) $(SH_TESTS) $(JS_TESTS)

# The whole suite under ThreadSanitizer (build-tsan/): about 12 minutes here.
check-tsan:
	@$(MAKE) --no-print-directory check TSAN=1

# CI's share of it (a few minutes): every C test (test_ingest drives Paho's
# threads through the ingest queue to the loop: 10k QoS 1 messages, a broker
# restart, back-pressure, stop under load), and the JS tests where
# pantau-sim's units feed the KPI engine's query pool (scenario) and SIGHUP
# swaps the catalog and the log level under running threads (reload).
TSAN_SMOKE_JS := tests/js/scenario.test.mjs tests/js/reload.test.mjs
check-tsan-smoke: deps
	@$(MAKE) --no-print-directory TSAN=1 tsan-smoke-run

tsan-smoke-run:
	@$(MAKE) --no-print-directory all dashboard $(TEST_BINS)
	@BUILD=$(BUILD) TSAN=$(TSAN) PANTAUD=$(BUILD)/pantaud PANTAU_SIM=$(BUILD)/pantau-sim \
		scripts/run-tests $(TEST_BINS) $(TSAN_SMOKE_JS)

demo: deps
	@$(MAKE) --no-print-directory all dashboard
	@BUILD=$(BUILD) REGENCY=$(REGENCY) scripts/demo

demo-federation: deps
	@$(MAKE) --no-print-directory all dashboard
	@BUILD=$(BUILD) scripts/demo-federation

bench: deps
	@$(MAKE) --no-print-directory all dashboard $(BUILD)/tests/bench_query $(BUILD)/tests/bench_kpi \
	    $(BUILD)/tests/bench_chunk
	@BUILD=$(BUILD) scripts/bench

# What is installed, and where: the binaries, the configuration and the seed
# catalogs (never overwritten: an operator's edits win; the .deb makes them
# conffiles), the unit and the sysusers.d entry (generated from templates with
# these paths), man pages, the docs and examples, and the dashboard's built
# files when there are any.
MAN_PAGES := $(sort $(wildcard man/*.[1-8]))
CATALOGS  := $(sort $(wildcard config/catalog/*.ini))
DOCS      := README.md docs/FIELD-UNITS.md
# The dashboard is built first when its npm packages are there (make deps);
# a build without them (a .deb builder with no node) installs build/'s
# dashboard if there is one, else none.
INSTALL_DASHBOARD := $(if $(wildcard dashboard/node_modules),dashboard)
DASHBOARD_DIR = $(firstword $(wildcard $(BUILD)/dashboard build/dashboard))
SUBST = sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
            -e 's|@STATEDIR@|$(STATEDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g'

$(BUILD)/pantaud.service: systemd/pantaud.service.in Makefile
	@mkdir -p $(BUILD)
	$(Q)$(SUBST) $< > $@

$(BUILD)/pantau.sysusers: systemd/pantau.sysusers.in Makefile
	@mkdir -p $(BUILD)
	$(Q)$(SUBST) $< > $@

$(BUILD)/pantau.tmpfiles: systemd/pantau.tmpfiles.in Makefile
	@mkdir -p $(BUILD)
	$(Q)$(SUBST) $< > $@

# The shipped pantau.ini documents every default; the installed one keeps the
# database in the state directory (pantaud finds the installed dashboard in
# $(DATADIR) by itself: PANTAU_DATADIR).
$(BUILD)/pantau.ini: config/pantau.ini Makefile
	@mkdir -p $(BUILD)
	$(Q)sed -e 's|^path = ./pantau.db|path = $(STATEDIR)/pantau.db|' \
	    -e 's|^; dashboard = .*|; dashboard = $(DATADIR)/dashboard|' $< > $@

# The man pages' headers carry the version and date of debian/changelog.
$(BUILD)/man/%: man/% debian/changelog
	@mkdir -p $(dir $@)
	$(Q)sed -e '1s/^\(\.TH [^ ]* [0-9]\) [0-9-]* "pantau [^"]*"/\1 $(RELEASE_DATE) "pantau $(VERSION)"/' $< > $@

GENERATED := $(BUILD)/pantaud.service $(BUILD)/pantau.sysusers $(BUILD)/pantau.tmpfiles $(BUILD)/pantau.ini \
             $(MAN_PAGES:%=$(BUILD)/%)

install: all $(INSTALL_DASHBOARD) $(GENERATED)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/pantau/catalog \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
	    $(DESTDIR)$(DOCDIR)/examples/proxy $(DESTDIR)$(DOCDIR)/examples/prometheus \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(PANTAUD) $(SIM) $(DESTDIR)$(BINDIR)/
	@for f in $(BUILD)/pantau.ini $(CATALOGS); do \
	    case $$f in *catalog/*) d=$(DESTDIR)$(SYSCONFDIR)/pantau/catalog ;; *) d=$(DESTDIR)$(SYSCONFDIR)/pantau ;; esac; \
	    if [ -e $$d/$$(basename $$f) ]; then echo "kept $$d/$$(basename $$f)"; \
	    else echo "install -m 0644 $$f $$d/"; install -m 0644 $$f $$d/; fi; \
	done
	install -m 0644 $(BUILD)/pantaud.service $(DESTDIR)$(UNITDIR)/pantaud.service
	install -m 0644 $(BUILD)/pantau.sysusers $(DESTDIR)$(SYSUSERSDIR)/pantau.conf
	install -m 0644 $(BUILD)/pantau.tmpfiles $(DESTDIR)$(TMPFILESDIR)/pantau.conf
	install -m 0644 $(filter %.1,$(MAN_PAGES:%=$(BUILD)/%)) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(filter %.5,$(MAN_PAGES:%=$(BUILD)/%)) $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(filter %.8,$(MAN_PAGES:%=$(BUILD)/%)) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/
	install -m 0644 config/mosquitto/mosquitto.conf $(DESTDIR)$(DOCDIR)/examples/mosquitto.conf
	install -m 0644 config/mosquitto/acl $(DESTDIR)$(DOCDIR)/examples/mosquitto.acl
	install -m 0644 systemd/pantau-backup.service systemd/pantau-backup.timer $(DESTDIR)$(DOCDIR)/examples/
	install -m 0644 $(wildcard config/proxy/*) $(DESTDIR)$(DOCDIR)/examples/proxy/
	install -m 0644 $(wildcard config/prometheus/*) $(DESTDIR)$(DOCDIR)/examples/prometheus/
	@d='$(DASHBOARD_DIR)'; if [ -n "$$d" ]; then \
	    echo "install dashboard $$d -> $(DESTDIR)$(DATADIR)/dashboard"; \
	    rm -rf $(DESTDIR)$(DATADIR)/dashboard; install -d $(DESTDIR)$(DATADIR)/dashboard; \
	    cp -R --no-preserve=ownership $$d/. $(DESTDIR)$(DATADIR)/dashboard/; \
	    chmod -R u=rwX,go=rX $(DESTDIR)$(DATADIR)/dashboard; fi

# Removes what install put there. The configuration and the catalogs only
# when they are as shipped: an operator's edits are never deleted.
uninstall: $(BUILD)/pantau.ini
	rm -f $(DESTDIR)$(BINDIR)/pantaud $(DESTDIR)$(BINDIR)/pantau-sim
	rm -f $(DESTDIR)$(UNITDIR)/pantaud.service $(DESTDIR)$(SYSUSERSDIR)/pantau.conf \
	    $(DESTDIR)$(TMPFILESDIR)/pantau.conf
	rm -f $(foreach m,$(MAN_PAGES),$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m)))
	rm -rf $(DESTDIR)$(DOCDIR) $(DESTDIR)$(DATADIR)
	@for f in $(BUILD)/pantau.ini $(CATALOGS); do \
	    case $$f in *catalog/*) i=$(DESTDIR)$(SYSCONFDIR)/pantau/catalog/$$(basename $$f) ;; *) i=$(DESTDIR)$(SYSCONFDIR)/pantau/$$(basename $$f) ;; esac; \
	    if cmp -s $$f $$i; then rm -f $$i; elif [ -e $$i ]; then echo "kept $$i (changed)"; fi; \
	done
	-@rmdir $(DESTDIR)$(SYSCONFDIR)/pantau/catalog $(DESTDIR)$(SYSCONFDIR)/pantau 2>/dev/null || true

# ../pantau_$(VERSION)_amd64.deb, built by debian/rules (in build-deb/, with
# Debian's hardening flags), written to $(BUILD)/deb/ rather than the parent
# directory.
DEB_OUT ?= $(abspath $(BUILD))/deb
deb:
	@mkdir -p $(DEB_OUT)
	DEB_OUT=$(DEB_OUT) dpkg-buildpackage -us -uc -b \
	    --buildinfo-option=-u$(DEB_OUT) --changes-option=-u$(DEB_OUT) \
	    --buildinfo-file=$(DEB_OUT)/pantau_$(VERSION)_amd64.buildinfo \
	    --changes-file=$(DEB_OUT)/pantau_$(VERSION)_amd64.changes

# The dashboard's JS and its unit tests: prettier from dashboard/package.json
# (npm ci there), its settings in dashboard/.prettierrc.json.
PRETTIER := dashboard/node_modules/.bin/prettier --config dashboard/.prettierrc.json
JS_FMT   := 'dashboard/src/**/*.js' dashboard/build.mjs 'tests/js/unit/*.mjs' tests/js/dashboard_unit.test.mjs

format:
	clang-format -i daemon/*.c daemon/*.h sim/*.c sim/*.h tests/*.c tests/*.h tests/fuzz/*.c tests/fuzz/*.h
	$(PRETTIER) --log-level warn --write $(JS_FMT)

fmt-check:
	clang-format --dry-run -Werror daemon/*.c daemon/*.h sim/*.c sim/*.h tests/*.c tests/*.h tests/fuzz/*.c \
	    tests/fuzz/*.h
	@test -x $(firstword $(PRETTIER)) || { echo "fmt-check: no $(firstword $(PRETTIER)): run npm ci in dashboard/"; exit 1; }
	$(PRETTIER) --check $(JS_FMT)

clean:
	rm -rf build build-san build-tsan build-deb build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
