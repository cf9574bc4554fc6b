# mk/version.mk: the version every program prints with --version.
#
# The version is `git describe --tags --always --dirty` (a release is
# tagged vX.Y.Z), or the file VERSION in a tarball that make dist made. It
# is baked into every program (--version) through build/version, which
# changes only when the version does, so a new commit rebuilds main.o and
# tocsinctl.o, not the tree.

VERSION := $(shell cat VERSION 2>/dev/null || git describe --tags --always --dirty 2>/dev/null | sed 's/^v//' || echo unknown)
VERSION_DEF = -DTOCSIN_VERSION='"$(VERSION)"'

$(BUILD)/version: FORCE
	@mkdir -p $(@D)
	@echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' > $@

.PHONY: FORCE
FORCE:

$(BUILD)/obj/doors/main.o $(BUILD)/san/obj/doors/main.o $(BUILD)/obj/ctl/tocsinctl.o: $(BUILD)/version
$(BUILD)/obj/doors/main.o $(BUILD)/san/obj/doors/main.o $(BUILD)/obj/ctl/tocsinctl.o: TARGET_DEFS = $(VERSION_DEF)

