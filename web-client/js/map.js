// map.js: the consoles' map of the City (Leaflet, pinned in
// web-client/package.json and copied to vendor/ by mk/web.mk). There is no
// tile server: the backdrop is the outline of the City shipped in
// data/city-of-london.json, and on it the sites, alert areas, partner
// reports and, in the control room, the drawing of an alert area
// (js/draw.js holds the drawing rules; this file turns map events into
// them). Everything is drawn as SVG paths with class names, styled by
// css/tocsin.css; Leaflet sets positions through the CSSOM, which the
// strict Content-Security-Policy allows.

import * as L from '../vendor/leaflet/leaflet-src.esm.js';
import { startDrawing, addPoint, finish, undo, previewRadius, hintFor } from './draw.js';

// The City's extent (from the outline), so the first view needs no fetch.
const CITY_BOUNDS = [[51.5078, -0.1128], [51.5226, -0.0734]];
const OUTLINE_URL = 'data/city-of-london.json';
const CLOSE_PX = 12;          // a click this near the first corner closes a polygon

let outlinePromise = null;

/* The outline, fetched once per page. */
function loadOutline() {
  if (!outlinePromise) {
    outlinePromise = fetch(OUTLINE_URL)
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`outline: HTTP ${r.status}`))))
      .catch((err) => {
        outlinePromise = null;
        throw err;
      });
  }
  return outlinePromise;
}

/* Leaflet's [lat, lon] rings from a protocol area, or null. */
function areaLayer(area, className) {
  if (area?.circle) {
    const c = area.circle;
    return L.circle([c.lat, c.lon], { radius: c.radius_m, className, interactive: false });
  }
  if (Array.isArray(area?.polygon) && area.polygon.length >= 3) {
    return L.polygon(area.polygon.map(([a, b]) => [a, b]), { className, interactive: false });
  }
  return null;
}

/* Give the SVG element of a vector layer data attributes, once it exists. */
export function tag(layer, attrs) {
  const apply = () => {
    const node = layer.getElement?.();
    if (node) for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  };
  layer.on('add', apply);
  apply();
  return layer;
}

/* A map of the City in `container` (an empty element with a height set in
 * CSS). `label` names it for screen readers. */
export function createCityMap(container, { label = 'Map of the City of London' } = {}) {
  const map = L.map(container, {
    attributionControl: false,
    zoomSnap: 0.25,
    minZoom: 12,
    maxZoom: 19,
    keyboard: true,
  });
  map.fitBounds(CITY_BOUNDS, { padding: [8, 8] });
  container.setAttribute('aria-label', label);
  container.setAttribute('role', 'application');

  const outline = L.layerGroup().addTo(map);
  const areas = L.layerGroup().addTo(map);
  const sitesLayer = L.layerGroup().addTo(map);
  const reportsLayer = L.layerGroup().addTo(map);
  const marks = L.layerGroup().addTo(map);
  let pin = null;

  loadOutline().then((geo) => {
    L.geoJSON(geo, { className: 'city-outline', interactive: false }).addTo(outline);
    container.dataset.outline = 'loaded';
  }).catch((err) => {
    container.dataset.outline = 'failed';
    console.warn('tocsin: the City outline could not be loaded', err);
  });

  // Leaflet measures its container once; a panel shown later needs a nudge.
  if ('ResizeObserver' in window) new ResizeObserver(() => map.invalidateSize()).observe(container);

  return {
    map,
    container,

    /* sites: [{id, name, lat, lon}]; classFor(site) adds classes (state). */
    setSites(sites, classFor = () => '') {
      sitesLayer.clearLayers();
      for (const s of sites) {
        if (!Number.isFinite(s.lat) || !Number.isFinite(s.lon)) continue;
        const m = L.circleMarker([s.lat, s.lon], {
          radius: 7, className: `site-marker ${classFor(s) || ''}`.trim(),
        });
        m.bindTooltip(s.name || `site ${s.id}`);
        tag(m, { 'data-site-id': s.id });
        m.addTo(sitesLayer);
      }
      container.dataset.sites = String(sitesLayer.getLayers().length);
    },

    /* areas: [{area, className, id}] drawn under the sites. */
    setAreas(list) {
      areas.clearLayers();
      for (const a of list) {
        const layer = areaLayer(a.area, a.className || 'area-shape');
        if (!layer) continue;
        if (a.id != null) tag(layer, { 'data-alert-id': a.id });
        layer.addTo(areas);
      }
      container.dataset.areas = String(areas.getLayers().length);
    },

    /* reports: partner reports with lat/lon, as small squares-ish dots. */
    setReports(reports) {
      reportsLayer.clearLayers();
      for (const r of reports) {
        if (!Number.isFinite(r.lat) || !Number.isFinite(r.lon)) continue;
        const m = L.circleMarker([r.lat, r.lon], {
          radius: 5, className: `report-marker kind-${r.kind || 'other'} place-${r.place || 'none'}`,
        });
        m.bindTooltip(`${r.kind || 'report'}: ${String(r.text || '').slice(0, 80)}`);
        tag(m, { 'data-report-id': r.id });
        m.addTo(reportsLayer);
      }
      container.dataset.reports = String(reportsLayer.getLayers().length);
    },

    /* Zoom to these [{lat, lon}] (a company desk's own sites). */
    fitTo(points) {
      const ll = points.filter((x) => Number.isFinite(x.lat) && Number.isFinite(x.lon)).map((x) => [x.lat, x.lon]);
      if (ll.length) map.fitBounds(L.latLngBounds(ll), { padding: [30, 30], maxZoom: 17 });
    },

    /* One pin (a partner report's place on the console), or none. */
    setPin(point) {
      pin?.remove();
      pin = null;
      if (!point || !Number.isFinite(point.lat) || !Number.isFinite(point.lon)) return;
      pin = L.circleMarker([point.lat, point.lon], { radius: 8, className: 'pin-marker', interactive: false });
      pin.addTo(marks);
    },

    /* One highlighted circle (area totals' point), or none. */
    setMark(area) {
      marks.clearLayers();
      pin = null;
      const layer = areaLayer(area, 'mark-shape');
      if (layer) layer.addTo(marks);
    },

    /* fn({lat, lon}) on a click that is not part of a drawing. */
    onPick(fn) {
      map.on('click', (e) => {
        if (container.classList.contains('drawing')) return;
        fn({ lat: e.latlng.lat, lon: e.latlng.lng });
      });
    },
  };
}

/* Drawing an area on a city map. onDone(area) gets the protocol area;
 * onHint(text) the next step for people. Returns {start(kind), cancel(),
 * finish(), active}. Keys on the map while drawing: Enter closes a polygon,
 * Backspace takes back a corner, Escape stops. */
export function attachDrawTool(cityMap, { onDone, onHint }) {
  const { map, container } = cityMap;
  const draft = L.layerGroup().addTo(map);
  let st = null;
  let hover = null;

  const px = (p) => map.latLngToContainerPoint(L.latLng(p[0], p[1]));
  const closeNear = (a, b) => px(a).distanceTo(px(b)) <= CLOSE_PX;

  function render() {
    draft.clearLayers();
    if (!st) return;
    const pts = st.points.map(([a, b]) => [a, b]);
    if (st.kind === 'circle' && pts.length) {
      L.circleMarker(pts[0], { radius: 4, className: 'draft-vertex', interactive: false }).addTo(draft);
      const r = st.done ? st.done.circle.radius_m : hover ? previewRadius(st, hover[0], hover[1]) : null;
      if (r) L.circle(pts[0], { radius: r, className: 'draft-shape', interactive: false }).addTo(draft);
    } else if (st.kind === 'polygon' && pts.length) {
      const line = hover && !st.done ? [...pts, hover] : pts;
      L.polyline(line, { className: 'draft-shape', interactive: false }).addTo(draft);
      pts.forEach((p, i) => L.circleMarker(p, {
        radius: i === 0 ? 6 : 4, className: i === 0 ? 'draft-vertex draft-first' : 'draft-vertex', interactive: false,
      }).addTo(draft));
    }
    container.dataset.draftPoints = String(st.points.length);
  }

  function step(next) {
    st = next;
    render();
    onHint(hintFor(st));
    if (st.done) {
      const area = st.done;
      stop(false);
      onDone(area);
    }
  }

  function stop(clear = true) {
    st = null;
    hover = null;
    if (clear) draft.clearLayers();
    container.classList.remove('drawing');
    delete container.dataset.drawing;
    map.doubleClickZoom.enable();
  }

  map.on('click', (e) => {
    if (st) step(addPoint(st, e.latlng.lat, e.latlng.lng, closeNear));
  });
  map.on('dblclick', () => {
    if (st) step(finish(st));
  });
  map.on('mousemove', (e) => {
    if (!st) return;
    hover = [e.latlng.lat, e.latlng.lng];
    render();
  });
  container.addEventListener('keydown', (e) => {
    if (!st) return;
    if (e.key === 'Escape') {
      e.preventDefault();
      stop();
      onHint('Drawing stopped.');
    } else if (e.key === 'Enter') {
      e.preventDefault();
      step(finish(st));
    } else if (e.key === 'Backspace') {
      e.preventDefault();
      step(undo(st));
    }
  });

  return {
    start(kind) {
      draft.clearLayers();
      st = startDrawing(kind);
      hover = null;
      container.classList.add('drawing');
      container.dataset.drawing = kind;
      map.doubleClickZoom.disable();
      onHint(hintFor(st));
      render();
      container.focus();
    },
    cancel() {
      if (!st) return;
      stop();
      onHint('Drawing stopped.');
    },
    finish() {
      if (st) step(finish(st));
    },
    clearDraft() {
      draft.clearLayers();
    },
    get active() { return st ? st.kind : null; },
  };
}
