# SPDX-License-Identifier: MIT
# One binary, build/healer. `make test` builds everything again under
# ASan/UBSan in build/san and runs the whole suite.

CC      ?= gcc
SANITIZE ?= 0
PKGS    := libsystemd libcurl libcjson libpcre2-8 libmicrohttpd sqlite3 libcmark

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wvla
BASE_CFLAGS := -std=c17 -D_GNU_SOURCE $(WARN) -g -I. -fstack-protector-strong
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

ifeq ($(SANITIZE),1)
BUILD   := build/san
OPT     := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
else
BUILD   := build
OPT     := -O2 -D_FORTIFY_SOURCE=2
endif

CFLAGS_ALL = $(BASE_CFLAGS) $(OPT) $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(OPT) $(LDFLAGS)

MODULES  := common whitelist llm journal healer api
LIB_SRCS := $(filter-out healer/main.c,$(foreach m,$(MODULES),$(wildcard $(m)/*.c)))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/embedded.o
EMBEDDED := examples/whitelist.conf examples/rules.conf
MAIN_OBJ := $(BUILD)/obj/healer/main.o
LIBHEALER := $(BUILD)/libhealer.a

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
PROG_SRCS  := $(wildcard tests/progs/*.c)
PROG_BINS  := $(PROG_SRCS:tests/progs/%.c=$(BUILD)/progs/%)
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
REPLAY_BINS := $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=$(BUILD)/fuzz/replay_%)
LIBFUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=build/libfuzzer/fuzz_%)

.PHONY: all deps test tests run lint fuzz clean format bench bench-journal

all: $(BUILD)/healer

deps:
	@tools/deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

# The shipped examples, compiled in: the defaults of a fresh machine.
$(BUILD)/gen/embedded.c: tools/embed.py $(EMBEDDED)
	@mkdir -p $(dir $@)
	python3 tools/embed.py $@ embedded_whitelist_conf=examples/whitelist.conf \
		embedded_rules_conf=examples/rules.conf

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
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIBHEALER) $(PKG_LIBS)

$(BUILD)/progs/%: tests/progs/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $<

$(BUILD)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(LIBHEALER)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< tests/fuzz/replay.c $(LIBHEALER) $(PKG_LIBS)

tests: $(BUILD)/healer $(UNIT_BINS) $(PROG_BINS) $(REPLAY_BINS)

# The suite always runs the sanitizer build, whatever SANITIZE says.
test: deps
	$(MAKE) SANITIZE=1 tests
	tests/run.sh build/san

run: deps
	$(MAKE) all
	@tools/run.sh $(BUILD)/healer

# Figures, not assertions: speed against a reference tool in the same run.
bench: bench-journal

bench-journal: deps
	$(MAKE) SANITIZE=0 all
	python3 bench/journal.py build/healer

# libFuzzer targets need clang; `make fuzz FUZZ_SECONDS=60` runs each target.
FUZZ_SECONDS ?= 30
build/libfuzzer/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_SRCS) build/gen/embedded.c
	@mkdir -p $(dir $@)
	clang $(BASE_CFLAGS) -O1 -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS) -o $@ $< $(LIB_SRCS) build/gen/embedded.c $(PKG_LIBS)

fuzz: deps $(LIBFUZZ_BINS)
	@for t in $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=%); do \
		mkdir -p build/libfuzzer/corpus-$$t; \
		build/libfuzzer/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
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
