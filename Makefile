# Tocsin: a plain Makefile.
#
#   make            build the broker (build/tocsind), tocsinctl and the adapters
#   make run        install what is missing, build, start PostgreSQL + broker
#   make test       install what is missing, build (also ASan+UBSan), run every test
#   make layers     check that broker/ only includes and calls downward
#   make san        the sanitizer build of the broker (build/san/tocsind)
#   make unit       build and run the C unit tests
#   make -j2        objects are built per file; a header change rebuilds
#                   what includes it (gcc -MMD)
#   make install    PREFIX=/usr/local DESTDIR=: the programs, consoles, SQL,
#                   unit, man pages and a sample configuration (mk/install.mk)
#   make dist       build/tocsin-VERSION.tar.gz, a release tarball
#   make clean
#
# broker/ is built in layers, bottom to top (README.md, "The house"):
#   base/     pure code: no loop, no I/O, no broker.h (shared with tocsinctl)
#   io/       the outside world on the loop: PostgreSQL, journal, bus, timers
#   session/  one connection: table, send, flush, gate, requester, sweeps
#   deliver/  who gets what, and the frames they get
#   handle/   one file per request or job: the only place that decides
#   doors/    main, the server and its loop, the protocol's dispatch, HTTP,
#             the bus's intake
#   ctl/      tocsinctl, on base/ and adapters/lib/ only
# Each layer compiles with the include folders of its own and the lower
# layers only (an upward include does not compile), and is a static
# archive that must link with the lower archives alone (an upward call
# does not link: $(BUILD)/layers/*.linked, checked before tocsind links).

# inih: the configuration file's parser (broker/base/conf.c), Debian's
# libinih rather than one of our own.
# xmlsec1-openssl: the XML Signature of CAP exports (broker/io/cap_sign.c)
PKGS      := libwebsockets jansson libpq libsodium libzmq inih xmlsec1-openssl
CC        ?= cc
WARN      := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
             -Wmissing-prototypes -Wno-unused-parameter -Wformat=2
CSTD      := -std=c11 -D_GNU_SOURCE
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libev: the broker's loop (server.c; libev has no .pc file)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lev -lpthread -lm
OPT       ?= -O2 -g
# The release build of the broker and tocsinctl: stricter warnings and the
# hardening Debian's own packages get (fortified libc calls, stack
# protector, a position-independent executable, read-only relocations).
BROKER_WARN := $(WARN) -Wcast-qual -Wvla
HARDEN      := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
HARDEN_LD   := -pie -Wl,-z,relro,-z,now
CFLAGS_ALL = $(CSTD) $(WARN) $(OPT) $(PKG_CFLAGS)
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=undefined
BUILD      := build

.PHONY: all run test san unit clean deps deps-test layers

# Each mk/*.mk adds its own targets (adapters, fuzzing, web assets) and may
# append to ALL_EXTRA (built by `make`) and TEST_EXTRA (built before tests).
.DEFAULT_GOAL := all
ALL_EXTRA  :=
TEST_EXTRA :=

# ------------------------------------------------------------ the layers
LAYERS := base io session deliver handle doors
# The include folders each layer may see: its own and those below it
# (broker/ itself holds broker.h, the two structs, for all but base/).
INC_base    := -Ibroker/base
INC_io      := -Ibroker/io -Ibroker $(INC_base)
INC_session := -Ibroker/session $(INC_io)
INC_deliver := -Ibroker/deliver $(INC_session)
INC_handle  := -Ibroker/handle $(INC_deliver)
INC_doors   := -Ibroker/doors $(INC_handle)
INC_ctl     := -Ibroker/ctl $(INC_base) -Iadapters/lib
INC_ALL     := $(INC_doors) -Ibroker/ctl -Iadapters/lib

layer_src = $(sort $(wildcard broker/$(1)/*.c))
obj_of    = $(patsubst broker/%.c,$(2)/obj/%.o,$(1))
# The archive of each layer but doors (whose objects link the program).
LIB_LAYERS := base io session deliver handle
lib_of     = $(1)/libtocsin_$(2).a

# Per-layer compile rules, release and sanitizer: $(1) layer.
define layer_rules
$(BUILD)/obj/$(1)/%.o: broker/$(1)/%.c
	@mkdir -p $$(@D)
	$$(CC) $$(CSTD) $$(BROKER_WARN) $$(OPT) $$(HARDEN) $$(PKG_CFLAGS) $$(INC_$(1)) $$(TARGET_DEFS) -MMD -MP -c -o $$@ $$<
$(BUILD)/san/obj/$(1)/%.o: broker/$(1)/%.c
	@mkdir -p $$(@D)
	$$(CC) $$(CSTD) $$(WARN) $$(SAN_FLAGS) $$(PKG_CFLAGS) $$(INC_$(1)) $$(TARGET_DEFS) -MMD -MP -c -o $$@ $$<
endef
$(foreach l,$(LAYERS) ctl,$(eval $(call layer_rules,$(l))))

# Archives: $(1) build dir (release or san), $(2) layer.
define layer_lib
$(call lib_of,$(1),$(2)): $(call obj_of,$(call layer_src,$(2)),$(1))
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach l,$(LIB_LAYERS),$(eval $(call layer_lib,$(BUILD),$(l))))
$(foreach l,$(LIB_LAYERS),$(eval $(call layer_lib,$(BUILD)/san,$(l))))

# The archives below a layer, top to bottom: what it may call.
below_base    :=
below_io      := base
below_session := io base
below_deliver := session io base
below_handle  := deliver session io base

# The link check of one layer: every object of its archive, with only the
# archives below it and the libraries. A call to a name defined in a
# higher layer is an undefined reference here.
$(BUILD)/layers/stub_main.o: mk/layers_stub.c
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) -c -o $@ $<

define layer_link
$(BUILD)/layers/$(1).linked: $(call lib_of,$(BUILD),$(1)) $(foreach d,$(below_$(1)),$(call lib_of,$(BUILD),$(d))) $(BUILD)/layers/stub_main.o
	@mkdir -p $$(@D)
	@$$(CC) -o $$(@:.linked=.out) $(BUILD)/layers/stub_main.o \
	    -Wl,--whole-archive $(call lib_of,$(BUILD),$(1)) -Wl,--no-whole-archive \
	    $(foreach d,$(below_$(1)),$(call lib_of,$(BUILD),$(d))) $$(PKG_LIBS) \
	  || { echo "layers: broker/$(1)/ calls upward (see the undefined references above):" \
	            "a layer may call only itself and the layers below it" >&2; exit 1; }
	@rm -f $$(@:.linked=.out)
	@touch $$@
endef
$(foreach l,$(LIB_LAYERS),$(eval $(call layer_link,$(l))))
LAYER_LINKED := $(foreach l,$(LIB_LAYERS),$(BUILD)/layers/$(l).linked)

include $(sort $(wildcard mk/*.mk))

all: $(BUILD)/tocsind $(BUILD)/tocsinctl $(ALL_EXTRA)

DOORS_OBJ     := $(call obj_of,$(call layer_src,doors),$(BUILD))
DOORS_SAN_OBJ := $(call obj_of,$(call layer_src,doors),$(BUILD)/san)
TOP_DOWN      := handle deliver session io base

$(BUILD)/tocsind: $(DOORS_OBJ) $(foreach l,$(TOP_DOWN),$(call lib_of,$(BUILD),$(l))) $(LAYER_LINKED)
	$(CC) $(HARDEN_LD) -o $@ $(DOORS_OBJ) \
	    $(foreach l,$(TOP_DOWN),$(call lib_of,$(BUILD),$(l))) $(PKG_LIBS)

$(BUILD)/san/tocsind: $(DOORS_SAN_OBJ) $(foreach l,$(TOP_DOWN),$(call lib_of,$(BUILD)/san,$(l)))
	$(CC) $(SAN_FLAGS) -o $@ $(DOORS_SAN_OBJ) \
	    $(foreach l,$(TOP_DOWN),$(call lib_of,$(BUILD)/san,$(l))) $(PKG_LIBS)

CTL_OBJ := $(call obj_of,$(call layer_src,ctl),$(BUILD))

$(BUILD)/tocsinctl: $(CTL_OBJ) $(call lib_of,$(BUILD),base) $(BUILD)/libtocsinbus.a
	$(CC) $(HARDEN_LD) -o $@ $(CTL_OBJ) $(call lib_of,$(BUILD),base) \
	    $(BUILD)/libtocsinbus.a $(PKG_LIBS)

san: $(BUILD)/san/tocsind

# The include rule, read from the sources (mk/layers.sh), and the link
# check of every layer.
layers: $(LAYER_LINKED)
	@mk/layers.sh

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# C unit tests: each tests/unit/test_X.c links the pure module(s) it names
# on its first line ("// links: broker/base/frame.c broker/base/token.c").
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRC))

$(BUILD)/unit/%: tests/unit/%.c $(wildcard broker/*/*.c broker/*/*.h broker/*.h)
	@mkdir -p $(BUILD)/unit
	$(CC) $(CSTD) $(WARN) $(SAN_FLAGS) $(PKG_CFLAGS) $(INC_ALL) -o $@ $< \
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
	@$(MAKE) --no-print-directory all san layers $(UNIT_BIN) $(TEST_EXTRA)
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
