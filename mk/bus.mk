# mk/bus.mk: the ZeroMQ bus (docs/bus.md).
#   build/libtocsinbus.a      the adapters' client library (adapters/lib)
#   build/tocsin-bus-probe    a small bus client for the tests (tests/bus)
# Link the library with: -Iadapters/lib build/libtocsinbus.a $(PKG_LIBS)

# The alert signature check (bus_verify.c) uses the broker's own canonical
# form and check: one implementation, linked here too.
BUS_LIB_SRC := adapters/lib/bus_client.c adapters/lib/bus_verify.c
BUS_BASE_SRC := broker/base/canon_json.c broker/base/sign_check.c
BUS_LIB_OBJ := $(patsubst adapters/lib/%.c,$(BUILD)/busobj/%.o,$(BUS_LIB_SRC)) \
	       $(patsubst broker/base/%.c,$(BUILD)/busobj/base_%.o,$(BUS_BASE_SRC))

$(BUILD)/busobj/%.o: adapters/lib/%.c $(wildcard adapters/lib/*.h) broker/base/sign_check.h
	@mkdir -p $(BUILD)/busobj
	$(CC) $(CFLAGS_ALL) -Iadapters/lib -Ibroker/base -c -o $@ $<

$(BUILD)/busobj/base_%.o: broker/base/%.c broker/base/%.h
	@mkdir -p $(BUILD)/busobj
	$(CC) $(CFLAGS_ALL) -Ibroker/base -c -o $@ $<

$(BUILD)/libtocsinbus.a: $(BUS_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tocsin-bus-probe: tests/bus/probe.c $(BUILD)/libtocsinbus.a
	$(CC) $(CFLAGS_ALL) -Iadapters/lib -Ibroker/base -o $@ $< $(BUILD)/libtocsinbus.a $(PKG_LIBS)

ALL_EXTRA  += $(BUILD)/libtocsinbus.a
TEST_EXTRA += $(BUILD)/libtocsinbus.a $(BUILD)/tocsin-bus-probe
