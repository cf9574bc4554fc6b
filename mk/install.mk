# mk/install.mk: the man pages, make install and make dist (the version
# they carry: mk/version.mk).
#
#   make install [PREFIX=/usr/local] [DESTDIR=]   what a server needs, and
#                                  nothing to build it with (below)
#   make dist                      build/tocsin-VERSION.tar.gz, a release
#                                  tarball (builds without git or npm)
#   make man                       build/man/tocsind.8, build/man/tocsinctl.8
#
# Where things go. SYSCONFDIR stays /etc for any PREFIX: tocsind's default
# configuration file is /etc/tocsin/tocsind.conf.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
DOCDIR     ?= $(DATADIR)/doc/tocsin
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
INSTALL    ?= install

.PHONY: install dist man

# ------------------------------------------------------------ man pages
MAN_DATE := $(shell date -u -d @$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct 2>/dev/null || date +%s)} +%Y-%m-%d 2>/dev/null)
man_subst = sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@DATE@|$(MAN_DATE)|g' \
                -e 's|@DATADIR@|$(DATADIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g'

# The paths baked into programs and pages: rebuilt when PREFIX changes.
$(BUILD)/paths: FORCE
	@mkdir -p $(@D)
	@echo '$(DATADIR) $(DOCDIR)' | cmp -s - $@ || echo '$(DATADIR) $(DOCDIR)' > $@

$(BUILD)/man/tocsind.8: man/tocsind.8.in $(BUILD)/tocsind $(BUILD)/paths
	@mkdir -p $(@D)
	$(BUILD)/tocsind --help-man > $@.settings
	$(man_subst) $< | sed -e '/^@SETTINGS@$$/{r $@.settings' -e 'd}' > $@
	@rm -f $@.settings

$(BUILD)/man/tocsinctl.8: man/tocsinctl.8.in $(BUILD)/tocsinctl $(BUILD)/paths
	@mkdir -p $(@D)
	$(BUILD)/tocsinctl --help-man > $@.commands
	$(man_subst) $< | sed -e '/^@COMMANDS@$$/{r $@.commands' -e 'd}' > $@
	@rm -f $@.commands

MAN_PAGES := $(BUILD)/man/tocsind.8 $(BUILD)/man/tocsinctl.8
man: $(MAN_PAGES)
ALL_EXTRA += $(MAN_PAGES)

# ------------------------------------------------------------ install
# The consoles' served files only: not node_modules/, package*.json or
# READMEs (web-client/vendor/ holds the copies of Leaflet they load).
WEB_SERVED = $(wildcard web-client/*.html) web-client/favicon.svg
WEB_DIRS   = css js data vendor

install: all
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DATADIR)/tocsin/cap
	$(INSTALL) -m 0755 $(BUILD)/tocsind $(DESTDIR)$(SBINDIR)/tocsind
	$(INSTALL) -m 0755 $(BUILD)/tocsinctl $(BUILD)/tocsin-cap $(BUILD)/tocsin-anpr \
	    $(DESTDIR)$(BINDIR)/
	@# deploy/migrate.sh, reading the installed schema (TOCSIN_SQL_DIR: another)
	sed 's|^SQLDIR=.*|SQLDIR="$${TOCSIN_SQL_DIR:-$(DATADIR)/tocsin/sql}"|' deploy/migrate.sh \
	    > $(DESTDIR)$(SBINDIR)/tocsin-migrate
	chmod 0755 $(DESTDIR)$(SBINDIR)/tocsin-migrate
	@# deploy/restore.sh, with the installed schema and tocsin-migrate
	sed -e 's|^SQLDIR=.*|SQLDIR="$${TOCSIN_SQL_DIR:-$(DATADIR)/tocsin/sql}"|' \
	    -e 's|^MIGRATE=.*|MIGRATE="$(SBINDIR)/tocsin-migrate"|' deploy/restore.sh \
	    > $(DESTDIR)$(SBINDIR)/tocsin-restore
	chmod 0755 $(DESTDIR)$(SBINDIR)/tocsin-restore
	$(INSTALL) -m 0644 $(CAP_SCHEMA) $(DESTDIR)$(DATADIR)/tocsin/cap/
	@# the schema: baseline, migrations, functions (not the demo data)
	for d in schema migrations functions; do \
	    $(INSTALL) -d $(DESTDIR)$(DATADIR)/tocsin/sql/$$d && \
	    find sql/$$d -maxdepth 1 -name '*.sql' -exec \
	        $(INSTALL) -m 0644 {} $(DESTDIR)$(DATADIR)/tocsin/sql/$$d/ \; || exit 1; \
	done
	$(INSTALL) -d $(DESTDIR)$(DATADIR)/tocsin/web-client
	$(INSTALL) -m 0644 $(WEB_SERVED) $(DESTDIR)$(DATADIR)/tocsin/web-client/
	cd web-client && find $(WEB_DIRS) -type f ! -name '.tocsin-*' | while read -r f; do \
	    $(INSTALL) -D -m 0644 "$$f" "$(DESTDIR)$(DATADIR)/tocsin/web-client/$$f" || exit 1; \
	done
	sed 's|/usr/local/sbin/tocsind|$(SBINDIR)/tocsind|' deploy/systemd/tocsind.service \
	    > $(DESTDIR)$(UNITDIR)/tocsind.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/tocsind.service
	$(INSTALL) -m 0644 $(MAN_PAGES) $(DESTDIR)$(MANDIR)/man8/
	sed 's|/usr/share/tocsin|$(DATADIR)/tocsin|' deploy/tocsind.conf.example \
	    > $(DESTDIR)$(DOCDIR)/examples/tocsind.conf
	$(INSTALL) -m 0644 README.md CHANGELOG.md LICENSE docs/*.md $(DESTDIR)$(DOCDIR)/
	@# the configuration: the sample, unless there is one already
	$(INSTALL) -d -m 0750 $(DESTDIR)$(SYSCONFDIR)/tocsin
	test -e $(DESTDIR)$(SYSCONFDIR)/tocsin/tocsind.conf || \
	    $(INSTALL) -m 0640 $(DESTDIR)$(DOCDIR)/examples/tocsind.conf \
	        $(DESTDIR)$(SYSCONFDIR)/tocsin/tocsind.conf
	@echo "install: done. Next, as root: a system user tocsin (useradd --system" \
	      "--home-dir /var/lib/tocsin --shell /usr/sbin/nologin tocsin), chgrp tocsin" \
	      "$(SYSCONFDIR)/tocsin $(SYSCONFDIR)/tocsin/tocsind.conf, tocsinctl keys init," \
	      "tocsin-migrate URL, tocsind --check-config (docs/operations.md)"

# ------------------------------------------------------------ dist
# A tarball of the tracked files, plus VERSION and the copies of Leaflet
# in web-client/vendor/, so that it builds with neither git nor npm.
DIST = tocsin-$(VERSION)

dist: web-client/vendor/.tocsin-copied
	@rm -rf $(BUILD)/dist && mkdir -p $(BUILD)/dist/$(DIST)
	git ls-files -z | xargs -0 tar -cf - | tar -xf - -C $(BUILD)/dist/$(DIST)
	echo '$(VERSION)' > $(BUILD)/dist/$(DIST)/VERSION
	cp -r web-client/vendor $(BUILD)/dist/$(DIST)/web-client/
	tar -C $(BUILD)/dist -czf $(BUILD)/$(DIST).tar.gz --owner=0 --group=0 --sort=name $(DIST)
	@rm -rf $(BUILD)/dist
	@echo "dist: $(BUILD)/$(DIST).tar.gz"
