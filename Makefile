# Tocsin: a plain Makefile.
#
#   make            build the broker (build/tocsind) and tocsinctl
#   make run        install what is missing, build, start PostgreSQL + broker
#   make test       install what is missing, build (also ASan+UBSan), run every test
#   make san       the sanitizer build of the broker (build/san/tocsind)
#   make unit       build and run the C unit tests
#   make clean

PKGS      := libwebsockets jansson libpq libsodium libzmq
CC        ?= cc
WARN      := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
             -Wmissing-prototypes -Wno-unused-parameter -Wformat=2
CSTD      := -std=c11 -D_GNU_SOURCE
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libev: the broker's loop (server.c; libev has no .pc file)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lev -lpthread -lm
OPT       ?= -O2 -g
CFLAGS_ALL = $(CSTD) $(WARN) $(OPT) $(PKG_CFLAGS) -Ibroker
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=undefined

BROKER_SRC := $(filter-out broker/tocsinctl.c broker/ctl_%.c,$(wildcard broker/*.c))
BROKER_HDR := $(wildcard broker/*.h)
BUILD      := build

.PHONY: all run test san unit clean deps deps-test

# Each mk/*.mk adds its own targets (adapters, fuzzing, web assets) and may
# append to ALL_EXTRA (built by `make`) and TEST_EXTRA (built before tests).
.DEFAULT_GOAL := all
ALL_EXTRA  :=
TEST_EXTRA :=
include $(sort $(wildcard mk/*.mk))

all: $(BUILD)/tocsind $(BUILD)/tocsinctl $(ALL_EXTRA)

$(BUILD)/tocsind: $(BROKER_SRC) $(BROKER_HDR)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS_ALL) -o $@ $(BROKER_SRC) $(PKG_LIBS)

$(BUILD)/san/tocsind: $(BROKER_SRC) $(BROKER_HDR)
	@mkdir -p $(BUILD)/san
	$(CC) $(CSTD) $(WARN) $(SAN_FLAGS) $(PKG_CFLAGS) -Ibroker -o $@ $(BROKER_SRC) $(PKG_LIBS)

CTL_SRC := broker/tocsinctl.c $(wildcard broker/ctl_*.c) broker/password.c broker/log.c \
           broker/audit_chain.c

$(BUILD)/tocsinctl: $(CTL_SRC) $(BROKER_HDR) $(BUILD)/libtocsinbus.a
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS_ALL) -Iadapters/lib -o $@ $(CTL_SRC) $(BUILD)/libtocsinbus.a $(PKG_LIBS)

san: $(BUILD)/san/tocsind

# C unit tests: each tests/unit/test_X.c links the pure module(s) it names
# on its first line ("// links: broker/frame.c broker/token.c").
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRC))

$(BUILD)/unit/%: tests/unit/%.c $(BROKER_SRC) $(BROKER_HDR)
	@mkdir -p $(BUILD)/unit
	$(CC) $(CSTD) $(WARN) $(SAN_FLAGS) $(PKG_CFLAGS) -Ibroker -o $@ $< \
	    $$(sed -n '1s|^// links: ||p' $<) $(PKG_LIBS) -lcmocka

unit: $(UNIT_BIN)
	@tests/run-unit.sh $(UNIT_BIN)

deps:
	@deploy/install-deps.sh

deps-test:
	@deploy/install-deps.sh --test

run: deps
	@$(MAKE) --no-print-directory all
	@deploy/run.sh

test: deps-test
	@$(MAKE) --no-print-directory all san $(UNIT_BIN) $(TEST_EXTRA)
	@tests/run-all.sh

clean:
	rm -rf $(BUILD) web-client/vendor

# make bench (issue 6): the load test, separate from make test. Builds the
# broker and bench/loadgen.c, starts its own PostgreSQL (build/bench/var),
# tocsind and Mosquitto on 127.0.0.1, drives them with BENCH_N consoles
# (default 10000), prints the table and writes build/bench/results.json.
.PHONY: bench
bench: deps
	@$(MAKE) --no-print-directory all
	@bench/run.sh
