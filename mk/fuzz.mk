# mk/fuzz.mk: libFuzzer targets over the protocol decoder, the token
# parser and the alert signature check (tests/fuzz/README.md).
#
#   make fuzz                 install clang if missing (deploy/install-deps.sh
#                             --fuzz), build both targets, run each for
#                             FUZZ_SECONDS (default 60) from the seed corpus
#   make fuzz FUZZ_SECONDS=600 FUZZ_TARGETS=frame
#
# New inputs go to build/fuzz/corpus/<target>/, crashers to
# build/fuzz/crash-*: the repo's corpus (tests/fuzz/corpus/) only changes by
# hand. `make test` replays that corpus without clang: the cmocka test
# tests/unit/test_fuzz_replay.c links the same target functions.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= frame token alert
FUZZ_FLAGS   := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer -DFUZZ_LIBFUZZER
FUZZ_SRC_frame := tests/fuzz/fuzz_frame.c tests/fuzz/fuzz_fail.c broker/base/frame.c \
                  broker/base/frame_publish.c broker/base/frame_check.c broker/base/clock.c
FUZZ_SRC_token := tests/fuzz/fuzz_token.c tests/fuzz/fuzz_fail.c broker/base/token.c
FUZZ_SRC_alert := tests/fuzz/fuzz_alert.c tests/fuzz/fuzz_fail.c adapters/lib/bus_verify.c \
                  broker/base/sign_check.c broker/base/canon_json.c
FUZZ_OPTS_frame := -max_len=16384 -dict=tests/fuzz/frame.dict
FUZZ_OPTS_token := -max_len=2048 -dict=tests/fuzz/token.dict
FUZZ_OPTS_alert := -max_len=16384 -dict=tests/fuzz/frame.dict

.PHONY: fuzz fuzz-deps fuzz-build $(addprefix fuzz-run-,$(FUZZ_TARGETS))

# clang's libFuzzer runtime is a separate package: check that it links.
fuzz-deps:
	@deploy/install-deps.sh --fuzz
	@mkdir -p $(BUILD)/fuzz
	@printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return (int)(d && n) * 0; }\n' \
	    > $(BUILD)/fuzz/link-check.c
	@$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $(BUILD)/fuzz/link-check $(BUILD)/fuzz/link-check.c \
	    || { echo "fuzz: $(FUZZ_CC) cannot link -fsanitize=fuzzer (install libclang-rt-dev)" >&2; exit 1; }

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_fail.c tests/fuzz/fuzz_targets.h \
                      $(BROKER_SRC) $(BROKER_HDR)
	@mkdir -p $(BUILD)/fuzz
	$(FUZZ_CC) $(CSTD) $(WARN) $(FUZZ_FLAGS) $(PKG_CFLAGS) -Ibroker/base -Iadapters/lib -Itests/fuzz -o $@ \
	    $(FUZZ_SRC_$*) $(PKG_LIBS)

fuzz-build: fuzz-deps
	@$(MAKE) --no-print-directory $(addprefix $(BUILD)/fuzz/fuzz_,$(FUZZ_TARGETS))

# Each target runs for FUZZ_SECONDS, one after the other; the first crash
# stops make with the crasher's path in the output (once fixed, copy it into
# tests/fuzz/corpus/<target>/).
fuzz: fuzz-build
	@$(MAKE) --no-print-directory -j1 $(addprefix fuzz-run-,$(FUZZ_TARGETS))

$(addprefix fuzz-run-,$(FUZZ_TARGETS)): fuzz-run-%:
	@mkdir -p $(BUILD)/fuzz/corpus/$*
	@echo "fuzz: $* for $(FUZZ_SECONDS)s (new inputs: $(BUILD)/fuzz/corpus/$*/)"
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(BUILD)/fuzz/fuzz_$* -max_total_time=$(FUZZ_SECONDS) -timeout=30 \
	    -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/ $(FUZZ_OPTS_$*) \
	    $(BUILD)/fuzz/corpus/$* tests/fuzz/corpus/$*

# The corpus replay (make test, make unit) links the targets too: rebuild it
# when they change.
$(BUILD)/unit/test_fuzz_replay: tests/fuzz/fuzz_frame.c tests/fuzz/fuzz_token.c \
                                tests/fuzz/fuzz_alert.c adapters/lib/bus_verify.c \
                                tests/fuzz/fuzz_fail.c tests/fuzz/fuzz_targets.h
