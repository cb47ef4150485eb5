# SPDX-License-Identifier: MIT
# One binary, build/healer. `make test` builds everything again under
# ASan/UBSan in build/san and runs the whole suite.

CC      ?= gcc
SANITIZE ?= 0
PKGS    := libsystemd libcurl libcjson libpcre2-8 libmicrohttpd sqlite3 libcmark

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wvla
BASE_CFLAGS := -std=c17 -D_GNU_SOURCE $(WARN) -g -I. -fstack-protector-strong -fPIE
# A position-independent executable with a read-only GOT: no fixed addresses
# and no writable function pointers for a memory bug in a root daemon to aim at.
HARDEN_LDFLAGS := -pie -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack
# Asked of pkg-config once, when first used (after deps.sh may have installed
# them). A missing module stops the build in build/.pkgs with the name of
# its Debian package, never with an empty flag and a puzzling compile error.
PKG_CFLAGS = $(eval PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null))$(PKG_CFLAGS)
PKG_LIBS   = $(eval PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null))$(PKG_LIBS)

ifeq ($(SANITIZE),1)
BUILD   := build/san
OPT     := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
else
BUILD   := build
OPT     := -O2 -D_FORTIFY_SOURCE=2
endif

CFLAGS_ALL = $(BASE_CFLAGS) $(OPT) $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(OPT) $(HARDEN_LDFLAGS) $(LDFLAGS)

MODULES  := common whitelist llm journal healer api
# The library that tests, fuzzers and (later) the API link: every module but
# the command-line front end, healer/cli/.
LIB_SRCS := $(foreach m,$(MODULES),$(wildcard $(m)/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/embedded.o
EMBEDDED := examples/whitelist.conf examples/rules.conf \
	api/dashboard/index.html api/dashboard/dashboard.js api/dashboard/dashboard.css
CLI_SRCS := $(wildcard healer/cli/*.c)
MAIN_OBJ := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
LIBHEALER := $(BUILD)/libhealer.a

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
PROG_SRCS  := $(wildcard tests/progs/*.c)
PROG_BINS  := $(PROG_SRCS:tests/progs/%.c=$(BUILD)/progs/%)
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
REPLAY_BINS := $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=$(BUILD)/fuzz/replay_%)
LIBFUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=build/libfuzzer/fuzz_%)

.PHONY: all deps test tests run lint fuzz fuzz-build clean format bench bench-journal bench-analyze \
	bench-redact bench-latency bench-replay bench-api bench-monit install uninstall

all: $(BUILD)/healer

deps:
	@tools/deps.sh

build/.pkgs: Makefile tools/deps.sh
	@tools/deps.sh --check $(PKGS)
	@mkdir -p $(dir $@) && touch $@

$(BUILD)/obj/%.o: %.c | build/.pkgs
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

# The shipped examples, compiled in: the defaults of a fresh machine; and
# the dashboard's three files, which the API serves from memory.
$(BUILD)/gen/embedded.c: tools/embed.py $(EMBEDDED)
	@mkdir -p $(dir $@)
	python3 tools/embed.py $@ embedded_whitelist_conf=examples/whitelist.conf \
		embedded_rules_conf=examples/rules.conf \
		dashboard_index_html=api/dashboard/index.html \
		dashboard_js=api/dashboard/dashboard.js dashboard_css=api/dashboard/dashboard.css

$(BUILD)/obj/gen/embedded.o: $(BUILD)/gen/embedded.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(LIBHEALER): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/healer: $(MAIN_OBJ) $(LIBHEALER)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIBHEALER) tests/unit/harness.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(LIBHEALER) $(PKG_LIBS)

$(BUILD)/progs/%: tests/progs/%.c | build/.pkgs
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $<

# The one helper that speaks D-Bus (a fake service manager for the daemon tests).
$(BUILD)/progs/bus_fake: tests/progs/bus_fake.c | build/.pkgs
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< -lsystemd

$(BUILD)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(LIBHEALER)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< tests/fuzz/replay.c $(LIBHEALER) $(PKG_LIBS)

$(BUILD)/bench/%: bench/%.c $(LIBHEALER)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(LIBHEALER) $(PKG_LIBS)

# The C benchmarks are built with the tests, so that they cannot rot.
tests: $(BUILD)/healer $(UNIT_BINS) $(PROG_BINS) $(REPLAY_BINS) $(BUILD)/bench/redact

JOBS ?= $(shell nproc 2>/dev/null || echo 2)

# The suite always runs the sanitizer build, whatever SANITIZE says. The
# libFuzzer targets are built (and run a moment) too, so `make fuzz` cannot
# rot unnoticed.
test:
	@tools/deps.sh --test
	$(MAKE) -j$(JOBS) SANITIZE=1 tests
	$(MAKE) -j$(JOBS) fuzz-build
	tests/run.sh build/san

run: deps
	$(MAKE) all
	@tools/run.sh $(BUILD)/healer

# `make install` (PREFIX, DESTDIR): the binary built without sanitizers, the
# man pages, healer.service with ExecStart= pointing at the binary, and the
# examples as /etc/healer (the binary's default; never overwriting an edited
# file: the shipped one goes beside it as FILE.dist). The unit goes where
# systemd looks for a prefix's units (/usr/local/lib/systemd/system); another
# PREFIX may need UNITDIR=/etc/systemd/system.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
UNITDIR ?= $(PREFIX)/lib/systemd/system
DATADIR ?= $(PREFIX)/share/healer
INSTALL_ENV = DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" BINDIR="$(BINDIR)" MANDIR="$(MANDIR)" \
	UNITDIR="$(UNITDIR)" DATADIR="$(DATADIR)"

install:
	$(MAKE) SANITIZE=0 all
	@$(INSTALL_ENV) tools/install.sh install build/healer

uninstall:
	@$(INSTALL_ENV) tools/install.sh uninstall

# Figures, not assertions: speed against a reference tool in the same run.
# Each benchmark prints its report and appends its headline rows to one file;
# the run closes with them as one table (bench/table.py). A benchmark that
# fails does not stop the others; the table names it and make bench fails.
BENCHES = journal analyze redact latency api replay monit
BENCH_ROWS = $(CURDIR)/build/bench/rows.tsv
bench: deps
	@mkdir -p build/bench && rm -f $(BENCH_ROWS)
	@failed=; for b in $(BENCHES); do \
		$(MAKE) --no-print-directory HEALER_BENCH_ROWS=$(BENCH_ROWS) bench-$$b || failed="$$failed bench-$$b"; \
	done; \
	python3 bench/table.py $(BENCH_ROWS) $(BENCHES) || failed="$$failed (rows missing)"; \
	if [ -n "$$failed" ]; then echo "make bench: failed:$$failed"; exit 1; fi

bench-journal: deps
	$(MAKE) SANITIZE=0 all
	python3 bench/journal.py build/healer

# One loopback LLM call: healer analyze against plain curl, same server, same body.
bench-redact: deps
	$(MAKE) SANITIZE=0 build/bench/redact
	@out=$$(build/bench/redact tests/data/redaction/clean.txt) && echo "$$out" && . bench/rows.sh && \
		bench_row "redact, cost per ordinary log line" "$$(echo "$$out" | sed -n 's/.*, \([0-9.]*\) ns per line.*/\1 ns/p')" \
			"" "$$(echo "$$out" | sed -n 's/^[0-9]* lines, \([0-9]*\) changed.*/\1 lines changed/p')"

# From a journal entry to its attempt executing, beside journalctl -f; a storm; idle costs.
bench-latency: deps
	$(MAKE) SANITIZE=0 all
	bash bench/latency.sh build/healer

# The API under wrk while errors and a storm arrive: req/s, p99, detection latency.
bench-api: deps
	@tools/deps.sh --bench
	$(MAKE) SANITIZE=0 all
	bash bench/api.sh build/healer

# Healer beside Monit in one sandbox: kill -9 of two copies of a daemon, 20 each.
bench-monit: deps
	@tools/deps.sh --bench
	$(MAKE) SANITIZE=0 all
	bash bench/monit.sh build/healer

bench-analyze: deps
	$(MAKE) SANITIZE=0 all
	python3 bench/analyze.py build/healer

# healer replay over the 1,000,000-entry bench journal, beside journalctl reading it.
bench-replay: deps
	$(MAKE) SANITIZE=0 all
	python3 bench/replay.py build/healer

# libFuzzer targets need clang; `make fuzz FUZZ_SECONDS=60` runs each target.
# The library is compiled once with coverage hooks, then linked into each.
FUZZ_SECONDS ?= 30
FUZZ_CFLAGS = $(BASE_CFLAGS) -O1 -fno-omit-frame-pointer -fno-sanitize-recover=all $(PKG_CFLAGS)
FUZZ_OBJS := $(LIB_SRCS:%.c=build/libfuzzer/obj/%.o) build/libfuzzer/obj/gen/embedded.o
# Kept between runs: without this make deletes them as intermediates and
# every `make test` compiles the library under clang again.
.SECONDARY: $(FUZZ_OBJS)

build/libfuzzer/obj/%.o: %.c | build/.pkgs
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -MMD -MP -c $< -o $@

build/libfuzzer/obj/gen/embedded.o: $(BUILD)/gen/embedded.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c $< -o $@

build/libfuzzer/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_OBJS) $(PKG_LIBS)

fuzz-build: $(LIBFUZZ_BINS)

fuzz:
	@tools/deps.sh --test
	$(MAKE) -j$(JOBS) fuzz-build
	@for t in $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=%); do \
		mkdir -p build/libfuzzer/corpus-$$t; \
		mkdir -p build/libfuzzer/artifacts; \
		build/libfuzzer/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
			-artifact_prefix=build/libfuzzer/artifacts/$$t- \
			build/libfuzzer/corpus-$$t tests/fuzz/corpus/$$t || exit 1; \
	done

lint:
	@tools/deps.sh --lint
	@tools/lint.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
