// analyst/leaflet-global.js: Leaflet as the global `L` that the two
// vendored plugins (leaflet.heat 0.2.0, leaflet.markercluster 1.5.3,
// pinned in web-client/package.json) extend: they are scripts of the
// pre-module era that read and write `window.L`. Leaflet's ES module
// namespace cannot be written to, so the global is a plain copy of it: the
// classes are the same objects, so a plugin's layer goes on a map made by
// js/map.js. Imported before the plugins (crime-map.js), which ES module
// order guarantees.

import * as Leaflet from '../../vendor/leaflet/leaflet-src.esm.js';

const L = { ...Leaflet };
window.L = L;

export default L;
