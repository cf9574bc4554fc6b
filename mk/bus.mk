# mk/bus.mk: the ZeroMQ bus (docs/bus.md).
#   build/libtocsinbus.a      the adapters' client library (adapters/lib)
#   build/tocsin-bus-probe    a small bus client for the tests (tests/bus)
# Link the library with: -Iadapters/lib build/libtocsinbus.a $(PKG_LIBS)

BUS_LIB_SRC := adapters/lib/bus_client.c
BUS_LIB_OBJ := $(patsubst adapters/lib/%.c,$(BUILD)/busobj/%.o,$(BUS_LIB_SRC))

$(BUILD)/busobj/%.o: adapters/lib/%.c adapters/lib/bus_client.h
	@mkdir -p $(BUILD)/busobj
	$(CC) $(CFLAGS_ALL) -Iadapters/lib -c -o $@ $<

$(BUILD)/libtocsinbus.a: $(BUS_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tocsin-bus-probe: tests/bus/probe.c $(BUILD)/libtocsinbus.a
	$(CC) $(CFLAGS_ALL) -Iadapters/lib -o $@ $< $(BUILD)/libtocsinbus.a $(PKG_LIBS)

ALL_EXTRA  += $(BUILD)/libtocsinbus.a
TEST_EXTRA += $(BUILD)/libtocsinbus.a $(BUILD)/tocsin-bus-probe
