// analyst/crime-map.js: the crime picture's map (control.html
// #crime-map): the City map of js/map.js with three layers on it: the heat
// (leaflet.heat, canvas), the hotspot grid (one SVG square a cell, class
// by its Getis-Ord Gi* z) and one cell's records (leaflet.markercluster,
// clustered when dense), and a stolen item's trail of places (a line
// from the theft through each sighting, numbered in order). The layers
// are drawn from the broker's answer;
// nothing here computes statistics.

import L from './leaflet-global.js';
import '../../vendor/leaflet.heat/leaflet-heat.js';
import '../../vendor/leaflet.markercluster/leaflet.markercluster-src.js';
import { createCityMap, tag } from '../map.js';

// Gi* z for p < 0.05 and p < 0.01, two-sided.
const Z_95 = 1.96;
const Z_99 = 2.58;

/* The class of a cell by its z: hot-99, hot-95, cold-95, or plain. */
export function cellClass(z) {
  if (z == null) return 'crime-cell';
  if (z >= Z_99) return 'crime-cell hot-99';
  if (z >= Z_95) return 'crime-cell hot-95';
  if (z <= -Z_95) return 'crime-cell cold-95';
  return 'crime-cell';
}

/* The map in container; onCell(cell) when a grid cell is clicked. */
export function setupCrimeMap(container, { onCell }) {
  const city = createCityMap(container, { label: 'Crime picture of the City of London' });
  const { map } = city;
  const grid = L.layerGroup().addTo(map);
  const records = L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 40 }).addTo(map);
  const trail = L.layerGroup().addTo(map);
  let heat = null;
  let selected = null;

  function drawGrid(cells) {
    grid.clearLayers();
    for (const c of cells) {
      const sq = L.polygon(c.corners, { className: cellClass(c.z), weight: 1 });
      sq.bindTooltip(`${c.count} record${c.count === 1 ? '' : 's'} · Gi* z ${c.z ?? '–'}`);
      sq.on('click', () => onCell(c));
      tag(sq, { 'data-i': c.i, 'data-j': c.j, 'data-z': c.z ?? '', 'data-count': c.count });
      sq.addTo(grid);
    }
    container.dataset.cells = String(cells.length);
  }

  // leaflet.heat puts its canvas in the overlay pane, under the SVG of
  // the City outline (filled): it goes to a pane of its own, above the
  // outline and the grid, and lets clicks through (css/crime.css).
  const heatPane = map.createPane('crime-heat');
  heatPane.classList.add('crime-heat-pane');

  function drawHeat(points) {
    heat?.remove();
    // Full colour at the 90th percentile of a point's count, so that the
    // one busiest snapped point does not leave every other one faint.
    const counts = points.map((p) => p[2]).sort((a, b) => a - b);
    const max = Math.max(1, counts[Math.floor(counts.length * 0.9)] || 1);
    heat = L.heatLayer(points, { radius: 22, blur: 18, max, minOpacity: 0.2 }).addTo(map);
    heatPane.appendChild(heat._canvas);
    container.dataset.heatPoints = String(points.length);
  }

  return {
    city,

    /* picture: the broker's answer; show: {heat, grid} booleans. */
    render(picture, show) {
      drawHeat(show.heat ? picture.heat : []);
      drawGrid(show.grid ? picture.grid.cells : []);
      records.clearLayers();
      selected = null;
      container.dataset.drawn = String(Date.now());
    },

    /* One cell's records as clustered markers, the cell outlined. */
    showRecords(cell, list) {
      records.clearLayers();
      selected?.remove();
      selected = L.polygon(cell.corners, { className: 'crime-cell-selected', interactive: false }).addTo(map);
      for (const r of list) {
        const m = L.circleMarker([r.lat, r.lon], { radius: 6, className: `crime-record source-${r.source}` });
        m.bindTooltip(`${r.category}${r.location ? ` · ${r.location}` : ''}`);
        records.addLayer(m);
      }
      container.dataset.records = String(list.length);
    },

    /* places: [{lat, lon, status, at, …}] oldest first (POST
     * /api/crime/trail); the map fits them. */
    showTrail(places) {
      trail.clearLayers();
      const points = places.map((p) => [p.lat, p.lon]);
      if (points.length > 1) L.polyline(points, { className: 'crime-trail', interactive: false }).addTo(trail);
      places.forEach((p, i) => {
        const m = L.circleMarker([p.lat, p.lon], { radius: 8, className: `crime-trail-place status-${p.status || 'none'}` });
        m.bindTooltip(`${i + 1}. ${p.status || 'record'} · ${new Date(p.at).toLocaleString('en-GB')}${p.org ? ` · ${p.org}` : ''}`,
          { permanent: true, direction: 'right' });
        tag(m, { 'data-record-id': p.id, 'data-order': i + 1 });
        m.addTo(trail);
      });
      if (points.length) map.fitBounds(L.latLngBounds(points).pad(0.5), { maxZoom: 17 });
      container.dataset.trail = String(places.length);
    },
  };
}
