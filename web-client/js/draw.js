// draw.js: drawing an alert area by pointing, as a small state machine with
// no DOM and no Leaflet in it, so that node can test it
// (tests/e2e/73-draw-unit.test.mjs) and map.js only translates map events.
//
// Circle: the first point is the centre, the second sets the radius (the
// distance between them, whole metres, 1 to 50,000). Polygon: each point
// adds a corner; `finish` (or a point on the first corner) closes it once
// it has three distinct corners. The result is the protocol's area
// ({circle:{lat, lon, radius_m}} or {polygon:[[lat, lon], …, first]}),
// coordinates rounded to 6 decimals (about 0.1 m).

import { distanceM, MAX_RADIUS_M, MAX_POLYGON_POINTS } from './area.js';

const round6 = (v) => Math.round(v * 1e6) / 1e6;

/* A fresh drawing of `kind` ('circle' or 'polygon'). */
export function startDrawing(kind) {
  if (kind !== 'circle' && kind !== 'polygon') throw new Error(`unknown drawing kind ${kind}`);
  return { kind, points: [], done: null, error: null };
}

function distinct(points) {
  const seen = new Set(points.map(([a, b]) => `${a},${b}`));
  return seen.size;
}

function closePolygon(st) {
  if (distinct(st.points) < 3) {
    return { ...st, error: 'A polygon needs at least three different corners.' };
  }
  const pts = st.points.map(([a, b]) => [round6(a), round6(b)]);
  return { ...st, done: { polygon: [...pts, pts[0]] }, error: null };
}

/* The drawing after a point at (lat, lon). `closeNear(p, q)` says whether
 * two points are on top of each other on screen (map.js: within a few
 * pixels); a polygon point on its first corner closes it. */
export function addPoint(st, lat, lon, closeNear = () => false) {
  if (st.done || !Number.isFinite(lat) || !Number.isFinite(lon)) return st;
  if (st.kind === 'circle') {
    if (!st.points.length) return { ...st, points: [[lat, lon]], error: null };
    const [clat, clon] = st.points[0];
    const r = Math.round(distanceM(clat, clon, lat, lon));
    if (r < 1) return { ...st, error: 'Point a little further from the centre to set the radius.' };
    if (r > MAX_RADIUS_M) return { ...st, error: `The radius can be at most ${MAX_RADIUS_M / 1000} km.` };
    return {
      ...st,
      points: [st.points[0], [lat, lon]],
      done: { circle: { lat: round6(clat), lon: round6(clon), radius_m: r } },
      error: null,
    };
  }
  if (st.points.length >= 3 && closeNear(st.points[0], [lat, lon])) return closePolygon(st);
  // A double click gives two clicks on one spot: one corner, not two.
  if (st.points.length && closeNear(st.points[st.points.length - 1], [lat, lon])) return st;
  if (st.points.length >= MAX_POLYGON_POINTS - 1) {
    return { ...st, error: `A polygon can have at most ${MAX_POLYGON_POINTS - 1} corners.` };
  }
  return { ...st, points: [...st.points, [lat, lon]], error: null };
}

/* Close a polygon now (the Finish button, Enter, a double click). */
export function finish(st) {
  if (st.done || st.kind !== 'polygon') return st;
  return closePolygon(st);
}

/* Take back the last point. */
export function undo(st) {
  if (st.done || !st.points.length) return st;
  return { ...st, points: st.points.slice(0, -1), error: null };
}

/* The circle's radius while the pointer is at (lat, lon), for the preview. */
export function previewRadius(st, lat, lon) {
  if (st.kind !== 'circle' || st.points.length !== 1) return null;
  const [clat, clon] = st.points[0];
  return Math.min(MAX_RADIUS_M, distanceM(clat, clon, lat, lon));
}

/* What the person should do next, for the hint line. */
export function hintFor(st) {
  if (st.error) return st.error;
  if (st.done) return 'Area drawn.';
  if (st.kind === 'circle') {
    return st.points.length ? 'Now click the edge of the circle to set its radius (Escape to stop).'
      : 'Click the centre of the circle on the map (Escape to stop).';
  }
  const n = st.points.length;
  if (n < 3) return `Click the corners of the area on the map: ${n} so far, at least 3 (Escape to stop).`;
  return `${n} corners: click the first corner, press Enter or “Finish polygon” to close it (Escape to stop).`;
}
