# mk/web.mk: the web consoles' third-party assets (web-client/vendor/).
#
# web-client/package.json pins them (exact versions, with
# package-lock.json); `npm ci` installs them when the lock file is newer
# than the last install, and their dist files are copied to
# web-client/vendor/, which tocsind serves with the rest of web-client/.
# Nothing is fetched at run time: the pages load only these copies.

WEB_DIR     := web-client
WEB_MODULES := $(WEB_DIR)/node_modules/.tocsin-installed
WEB_VENDOR  := $(WEB_DIR)/vendor/.tocsin-copied

$(WEB_MODULES): $(WEB_DIR)/package-lock.json $(WEB_DIR)/package.json
	npm ci --prefix $(WEB_DIR) --no-audit --no-fund --loglevel=error
	@touch $@

# A release tarball (make dist, with VERSION) ships the copies: no npm.
$(WEB_VENDOR): $(if $(wildcard VERSION),,$(WEB_MODULES) mk/web.mk)
	@rm -rf $(WEB_DIR)/vendor
	@mkdir -p $(WEB_DIR)/vendor/leaflet
	cp $(WEB_DIR)/node_modules/leaflet/dist/leaflet-src.esm.js \
	   $(WEB_DIR)/node_modules/leaflet/dist/leaflet.css \
	   $(WEB_DIR)/node_modules/leaflet/LICENSE $(WEB_DIR)/vendor/leaflet/
	cp -r $(WEB_DIR)/node_modules/leaflet/dist/images $(WEB_DIR)/vendor/leaflet/
	@mkdir -p $(WEB_DIR)/vendor/leaflet.heat $(WEB_DIR)/vendor/leaflet.markercluster
	cp $(WEB_DIR)/node_modules/leaflet.heat/dist/leaflet-heat.js \
	   $(WEB_DIR)/node_modules/leaflet.heat/LICENSE $(WEB_DIR)/vendor/leaflet.heat/
	cp $(WEB_DIR)/node_modules/leaflet.markercluster/dist/leaflet.markercluster-src.js \
	   $(WEB_DIR)/node_modules/leaflet.markercluster/dist/MarkerCluster.css \
	   $(WEB_DIR)/node_modules/leaflet.markercluster/dist/MarkerCluster.Default.css \
	   $(WEB_DIR)/node_modules/leaflet.markercluster/MIT-LICENCE.txt \
	   $(WEB_DIR)/vendor/leaflet.markercluster/
	@touch $@

.PHONY: web
web: $(WEB_VENDOR)

ALL_EXTRA  += $(WEB_VENDOR)
TEST_EXTRA += $(WEB_VENDOR)
