# pantau — one Makefile for the daemon, the simulator, the tests and the demo.
#
#   make               build build/pantaud and build/pantau-sim
#   make dashboard     bundle the dashboard into build/dashboard (node; esbuild from npm)
#   make check         install missing Debian packages, build, run every test
#   make check SANITIZE=1   the same under AddressSanitizer + UBSan (in build-san/)
#   make demo          install, build, run broker + pantaud + simulated field units
#                      of Lampung Tengah; REGENCY=lombok-utara (lumajang, blitar,
#                      lombok-tengah) for another catalog in config/catalog/
#   make bench         throughput figures (rollups, queries, export; pantaud vs. mosquitto_sub)
#   make install       PREFIX=/usr/local DESTDIR=
#   make deps          only install the Debian packages (root; apt-get)

PREFIX  ?= /usr/local
REGENCY ?= lampung-tengah
DESTDIR ?=
CC      ?= cc
VERSION := 0.1.0

ifeq ($(SANITIZE),1)
BUILD    ?= build-san
OPTFLAGS ?= -O1 -g -fno-omit-frame-pointer
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined
else
BUILD    ?= build
OPTFLAGS ?= -O2 -g
SANFLAGS :=
endif

PKGS     := libuv sqlite3 jansson inih libsystemd libwebsockets
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# Debian ships no .pc for Paho C: the async client with TLS (ssl:// brokers).
PAHO_LIBS  := -lpaho-mqtt3as

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter
CPPFLAGS += -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -DPANTAU_VERSION='"$(VERSION)"' \
            -DPANTAU_DATADIR='"$(PREFIX)/share/pantau"' -Idaemon
CFLAGS  += -std=c11 $(OPTFLAGS) $(WARN) $(SANFLAGS) $(PKG_CFLAGS) -MMD -MP
LDFLAGS += $(SANFLAGS)
LDLIBS  += $(PKG_LIBS) $(PAHO_LIBS) -lpthread -lm

# The daemon's modules (everything but main) are shared with the tests.
CORE_SRCS := daemon/log.c daemon/cfg.c daemon/inifile.c daemon/catalog.c daemon/parse.c daemon/rejects.c daemon/store.c \
             daemon/ingest_queue.c daemon/ingest_mqtt.c daemon/ingest.c daemon/util.c \
             daemon/dict.c daemon/buf.c daemon/http.c daemon/api.c daemon/api_query.c \
             daemon/api_ingest.c \
             daemon/query_pool.c daemon/live.c daemon/rollup.c daemon/query.c \
             daemon/kpi.c daemon/kpi_engine.c daemon/api_programs.c daemon/db.c \
             daemon/checkpoint.c daemon/alert_store.c daemon/alert.c daemon/alert_engine.c daemon/api_alerts.c daemon/presence.c
SIM_SRCS  := daemon/sim.c daemon/scenario.c daemon/publisher.c daemon/log.c daemon/util.c
TEST_LIB_SRCS := tests/check.c tests/harness.c daemon/publisher.c

CORE_OBJS := $(CORE_SRCS:%.c=$(BUILD)/%.o)
SIM_OBJS  := $(SIM_SRCS:%.c=$(BUILD)/%.o)
TEST_LIB_OBJS := $(TEST_LIB_SRCS:%.c=$(BUILD)/%.o)
TEST_SRCS := $(sort $(wildcard tests/test_*.c))
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
# Websocket and browser tests run on node (packages in tests/js/package.json).
JS_TESTS  := $(sort $(wildcard tests/js/*.test.mjs))

PANTAUD := $(BUILD)/pantaud
SIM     := $(BUILD)/pantau-sim
# The dashboard (dashboard/src, plain JS modules) bundled by esbuild into
# $(BUILD)/dashboard: index.html + assets/app-<hash>.{js,css}. pantaud
# serves the directory beside its binary (see [http] dashboard).
DASH_SRCS := $(shell find dashboard/src -type f 2>/dev/null) dashboard/build.mjs dashboard/package-lock.json
DASHBOARD := $(BUILD)/dashboard/index.html

.PHONY: all check demo bench install uninstall clean deps format fmt-check dashboard
all: $(PANTAUD) $(SIM)

dashboard: $(DASHBOARD)

$(DASHBOARD): $(DASH_SRCS)
	node dashboard/build.mjs $(BUILD)/dashboard

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(PANTAUD): $(CORE_OBJS) $(BUILD)/daemon/main.o
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(SIM): $(SIM_OBJS)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(sort $(CORE_OBJS) $(TEST_LIB_OBJS))
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# Integration tests start the real binaries.
$(TEST_BINS): | $(PANTAUD) $(SIM)

# Figures, not cases: no check.o (its main has no TEST_MAIN).
$(BUILD)/tests/bench_query: $(BUILD)/tests/bench_query.o $(CORE_OBJS) $(BUILD)/tests/harness.o
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/bench_kpi: $(BUILD)/tests/bench_kpi.o $(CORE_OBJS)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# Installs only what is missing; a no-op on a machine that has everything.
deps:
	@scripts/deps

check: deps
	@$(MAKE) --no-print-directory all dashboard $(TEST_BINS)
	@BUILD=$(BUILD) PANTAUD=$(BUILD)/pantaud PANTAU_SIM=$(BUILD)/pantau-sim \
		scripts/run-tests $(TEST_BINS) $(JS_TESTS)

demo: deps
	@$(MAKE) --no-print-directory all dashboard
	@BUILD=$(BUILD) REGENCY=$(REGENCY) scripts/demo

bench: deps
	@$(MAKE) --no-print-directory all $(BUILD)/tests/bench_query $(BUILD)/tests/bench_kpi
	@BUILD=$(BUILD) scripts/bench

install: all dashboard
	rm -rf $(DESTDIR)$(PREFIX)/share/pantau/dashboard   # no stale hashed assets
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/pantau/dashboard/assets
	install -m 0644 $(BUILD)/dashboard/index.html $(DESTDIR)$(PREFIX)/share/pantau/dashboard/
	install -m 0644 $(BUILD)/dashboard/assets/* $(DESTDIR)$(PREFIX)/share/pantau/dashboard/assets/
	install -m 0755 $(PANTAUD) $(SIM) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 config/pantau.ini $(DESTDIR)$(PREFIX)/share/pantau/pantau.ini.example
	install -m 0644 config/mosquitto.conf $(DESTDIR)$(PREFIX)/share/pantau/mosquitto.conf.example
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0644 systemd/pantaud.service $(DESTDIR)$(PREFIX)/lib/systemd/system/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/pantaud $(DESTDIR)$(PREFIX)/bin/pantau-sim
	rm -rf $(DESTDIR)$(PREFIX)/share/pantau
	rm -f $(DESTDIR)$(PREFIX)/lib/systemd/system/pantaud.service

format:
	clang-format -i daemon/*.c daemon/*.h tests/*.c tests/*.h

fmt-check:
	clang-format --dry-run -Werror daemon/*.c daemon/*.h tests/*.c tests/*.h

clean:
	rm -rf build build-san

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
