# mk/anpr.mk: the ANPR hotlist adapter (issue #8, adapters/anpr).
#   build/tocsin-anpr     the adapter (make)
#   build/san/tocsin-anpr the adapter with ASan+UBSan, which the e2e test runs
#   build/anpr-bench      matching throughput on one core (bench/run.sh, make bench)
#   build/anpr-push       sends stdin lines to a ZeroMQ PUSH (tests/anpr, for the e2e test)
# Unit tests: tests/unit/test_anpr_*.c (make unit), linking the pure files.

ANPR_CORE := adapters/anpr/plate.c adapters/anpr/read_scan.c adapters/anpr/hotlist.c \
             adapters/anpr/fold.c adapters/anpr/match.c adapters/anpr/anpr_log.c
ANPR_SRC  := $(ANPR_CORE) adapters/anpr/alert_build.c adapters/anpr/publish_queue.c \
             adapters/anpr/publisher.c adapters/anpr/input.c adapters/anpr/main.c
ANPR_HDR  := $(wildcard adapters/anpr/*.h) adapters/lib/bus_client.h

$(BUILD)/tocsin-anpr: $(ANPR_SRC) $(ANPR_HDR) $(BUILD)/libtocsinbus.a $(BUILD)/version
	@mkdir -p $(BUILD)
	$(CC) $(CSTD) $(WARN) $(OPT) $(PKG_CFLAGS) $(VERSION_DEF) -Iadapters/anpr -Iadapters/lib -o $@ \
	    $(ANPR_SRC) $(BUILD)/libtocsinbus.a $(PKG_LIBS)

$(BUILD)/san/tocsin-anpr: $(ANPR_SRC) $(ANPR_HDR) $(BUILD)/libtocsinbus.a
	@mkdir -p $(BUILD)/san
	$(CC) $(CSTD) $(WARN) $(SAN_FLAGS) $(PKG_CFLAGS) -Iadapters/anpr -Iadapters/lib -o $@ \
	    $(ANPR_SRC) $(BUILD)/libtocsinbus.a $(PKG_LIBS)

$(BUILD)/anpr-bench: bench/anpr_bench.c $(ANPR_CORE) $(ANPR_HDR)
	@mkdir -p $(BUILD)
	$(CC) $(CSTD) $(WARN) -O2 -g $(PKG_CFLAGS) -Iadapters/anpr -o $@ \
	    bench/anpr_bench.c $(ANPR_CORE) $(PKG_LIBS)

$(BUILD)/anpr-push: tests/anpr/anpr_push.c
	@mkdir -p $(BUILD)
	$(CC) $(CSTD) $(WARN) $(OPT) $(PKG_CFLAGS) -o $@ $< $(PKG_LIBS)

# The unit tests include adapters/anpr headers by relative path; rebuild
# them when the adapter changes.
$(BUILD)/unit/test_anpr_scan $(BUILD)/unit/test_anpr_hotlist $(BUILD)/unit/test_anpr_alert \
    $(BUILD)/unit/test_anpr_input: \
    $(ANPR_SRC) $(ANPR_HDR)

ALL_EXTRA  += $(BUILD)/tocsin-anpr $(BUILD)/anpr-bench
TEST_EXTRA += $(BUILD)/san/tocsin-anpr $(BUILD)/anpr-push
