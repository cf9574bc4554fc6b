# mk/cap.mk: the CAP 1.2 adapter (adapters/cap/README.md).
#   build/tocsin-cap            validate, to-json, import, watch
#   build/unit/test_cap_parse   its unit tests (tests/unit/test_cap_parse.c)
#   build/unit/test_cap_verify  registered senders' signatures (tests/unit/test_cap_verify.c)
# libxml2 is needed only here, so its pkg-config stays out of the main PKGS.

CAP_XML_CFLAGS := $(shell pkg-config --cflags libxml-2.0 2>/dev/null)
CAP_XML_LIBS   := $(shell pkg-config --libs libxml-2.0 2>/dev/null)
CAP_SRC        := adapters/cap/cap_main.c adapters/cap/cap_parse.c adapters/cap/cap_state.c \
                  adapters/cap/cap_verify.c \
                  adapters/cap/cap_import.c adapters/cap/cap_watch.c
CAP_HDR        := $(wildcard adapters/cap/*.h) adapters/lib/bus_client.h
CAP_SCHEMA     := $(abspath adapters/cap/schema/CAP-v1.2.xsd)

# The installed schema (mk/install.mk) is used when it is there.
$(BUILD)/tocsin-cap: $(CAP_SRC) $(CAP_HDR) $(BUILD)/libtocsinbus.a $(BUILD)/version $(BUILD)/paths
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS_ALL) $(CAP_XML_CFLAGS) -Iadapters/lib -Iadapters/cap $(VERSION_DEF) \
	    -DCAP_SCHEMA_PATH='"$(CAP_SCHEMA)"' \
	    -DCAP_SCHEMA_INSTALLED='"$(DATADIR)/tocsin/cap/CAP-v1.2.xsd"' -o $@ $(CAP_SRC) \
	    $(BUILD)/libtocsinbus.a $(PKG_LIBS) $(CAP_XML_LIBS)

# The unit test links the parser with libxml2: its own rule, not the
# generic one in the Makefile.
$(BUILD)/unit/test_cap_parse: tests/unit/test_cap_parse.c adapters/cap/cap_parse.c \
                              adapters/cap/cap_parse.h
	@mkdir -p $(BUILD)/unit
	$(CC) $(CSTD) $(WARN) $(SAN_FLAGS) $(PKG_CFLAGS) $(CAP_XML_CFLAGS) -Iadapters/cap \
	    -DCAP_SCHEMA_PATH='"$(CAP_SCHEMA)"' -DCAP_TESTS_DIR='"$(abspath tests/cap)"' \
	    -o $@ $< adapters/cap/cap_parse.c $(PKG_LIBS) $(CAP_XML_LIBS) -lcmocka

# The signature check links xmlsec1 (in PKG_LIBS for the broker's signing).
$(BUILD)/unit/test_cap_verify: tests/unit/test_cap_verify.c adapters/cap/cap_verify.c \
                               adapters/cap/cap_verify.h
	@mkdir -p $(BUILD)/unit
	$(CC) $(CSTD) $(WARN) $(SAN_FLAGS) $(PKG_CFLAGS) $(CAP_XML_CFLAGS) -Iadapters/cap \
	    -o $@ $< adapters/cap/cap_verify.c $(PKG_LIBS) $(CAP_XML_LIBS) -lcmocka

ALL_EXTRA  += $(BUILD)/tocsin-cap
TEST_EXTRA += $(BUILD)/tocsin-cap
