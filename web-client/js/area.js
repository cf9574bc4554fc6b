// area.js: alert areas (docs/protocol.md §2b): a circle {lat, lon,
// radius_m} or a closed polygon [[lat, lon], …] in WGS84. Parsing and
// checking what a controller typed, a line of text for the desks, and a
// point-in-area test for the control room's recipient estimate (the broker
// decides; `preview` gives its answer).

export const MAX_RADIUS_M = 50000;
export const MAX_POLYGON_POINTS = 500;

/* A checking failure: `field` names the input at fault. */
export class AreaError extends Error {
  constructor(message, field) {
    super(message);
    this.field = field;
  }
}

function num(text) {
  const t = String(text ?? '').trim();
  if (!/^[-+]?(\d+(\.\d*)?|\.\d+)$/.test(t)) return NaN;
  return Number(t);
}

export function checkLat(text, field = 'lat') {
  const v = num(text);
  if (!Number.isFinite(v) || v < -90 || v > 90) {
    throw new AreaError('Latitude must be a number from -90 to 90 (for example 51.5142).', field);
  }
  return v;
}

export function checkLon(text, field = 'lon') {
  const v = num(text);
  if (!Number.isFinite(v) || v < -180 || v > 180) {
    throw new AreaError('Longitude must be a number from -180 to 180 (for example -0.0885).', field);
  }
  return v;
}

/* The force's area as the broker checks a sighting's place (Greater
 * London's extent, rounded out: docs/protocol.md "Partner reports"). */
export const FORCE_AREA = { latMin: 51.28, latMax: 51.70, lonMin: -0.52, lonMax: 0.34 };

/* {lat, lon} of a place inside FORCE_AREA from two text values. */
export function checkPlace(latText, lonText) {
  const lat = checkLat(latText, 'lat');
  const lon = checkLon(lonText, 'lon');
  if (lat < FORCE_AREA.latMin || lat > FORCE_AREA.latMax) {
    throw new AreaError(`The place must be in the force's area: latitude ${FORCE_AREA.latMin} to ${FORCE_AREA.latMax}.`, 'lat');
  }
  if (lon < FORCE_AREA.lonMin || lon > FORCE_AREA.lonMax) {
    throw new AreaError(`The place must be in the force's area: longitude ${FORCE_AREA.lonMin} to ${FORCE_AREA.lonMax}.`, 'lon');
  }
  return { lat, lon };
}

export function checkRadius(text, field = 'radius') {
  const v = num(text);
  if (!Number.isFinite(v) || v < 1 || v > MAX_RADIUS_M) {
    throw new AreaError(`The radius must be a number of metres from 1 to ${MAX_RADIUS_M}.`, field);
  }
  return v;
}

/* {circle:{lat, lon, radius_m}} from three text values. */
export function parseCircle(lat, lon, radius) {
  return { circle: { lat: checkLat(lat), lon: checkLon(lon), radius_m: checkRadius(radius) } };
}

/* {polygon:[[lat, lon], …]} from lines of "lat, lon" (a comma, spaces or
 * a semicolon between the two numbers). The polygon is closed by repeating
 * the first point; it needs at least three distinct points. */
export function parsePolygon(text) {
  const lines = String(text || '').split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const points = [];
  lines.forEach((line, i) => {
    const parts = line.split(/\s*[,;]\s*|\s+/).filter(Boolean);
    if (parts.length !== 2) {
      throw new AreaError(`Polygon line ${i + 1} (“${line}”) must be “lat, lon”.`, 'polygon');
    }
    let lat;
    let lon;
    try {
      lat = checkLat(parts[0], 'polygon');
      lon = checkLon(parts[1], 'polygon');
    } catch (err) {
      throw new AreaError(`Polygon line ${i + 1}: ${err.message}`, 'polygon');
    }
    points.push([lat, lon]);
  });
  const distinct = new Set(points.map(([a, b]) => `${a},${b}`));
  if (distinct.size < 3) {
    throw new AreaError('A polygon needs at least three different points, one “lat, lon” a line.', 'polygon');
  }
  const [f, l] = [points[0], points[points.length - 1]];
  if (f[0] !== l[0] || f[1] !== l[1]) points.push([f[0], f[1]]);
  if (points.length > MAX_POLYGON_POINTS) {
    throw new AreaError(`A polygon has at most ${MAX_POLYGON_POINTS - 1} points.`, 'polygon');
  }
  return { polygon: points };
}

const fmt = (v, d = 5) => (Number.isFinite(v) ? v.toFixed(d) : '?');

function metres(m) {
  if (!Number.isFinite(m)) return '? m';
  return m >= 1000 ? `${(m / 1000).toFixed(m % 1000 ? 1 : 0)} km` : `${Math.round(m)} m`;
}

/* One line for people: "Within 400 m of 51.51400, -0.08800". */
export function areaText(area) {
  if (!area || typeof area !== 'object') return '';
  if (area.circle) {
    const c = area.circle;
    return `Within ${metres(Number(c.radius_m))} of ${fmt(Number(c.lat))}, ${fmt(Number(c.lon))}`;
  }
  if (Array.isArray(area.polygon) && area.polygon.length) {
    const pts = area.polygon.slice(0, -1);
    const n = pts.length || area.polygon.length;
    const lat = pts.reduce((s, p) => s + Number(p[0]), 0) / (pts.length || 1);
    const lon = pts.reduce((s, p) => s + Number(p[1]), 0) / (pts.length || 1);
    return `Polygon of ${n} points around ${fmt(lat)}, ${fmt(lon)}`;
  }
  return '';
}

/* Metres between two WGS84 points (haversine). */
export function distanceM(lat1, lon1, lat2, lon2) {
  const R = 6371008.8;
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 +
    Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(a)));
}

/* Is (lat, lon) inside the area? An estimate for the page only. */
export function inArea(area, lat, lon) {
  if (!area || !Number.isFinite(lat) || !Number.isFinite(lon)) return false;
  if (area.circle) {
    const c = area.circle;
    return distanceM(c.lat, c.lon, lat, lon) <= c.radius_m;
  }
  const poly = area.polygon;
  if (!Array.isArray(poly)) return false;
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [yi, xi] = poly[i];
    const [yj, xj] = poly[j];
    if ((yi > lat) !== (yj > lat) && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/* Lines of "lat, lon" for a polygon textarea (without the closing point). */
export function polygonLines(polygon) {
  if (!Array.isArray(polygon)) return '';
  const pts = polygon.slice();
  if (pts.length > 1) {
    const [f, l] = [pts[0], pts[pts.length - 1]];
    if (f[0] === l[0] && f[1] === l[1]) pts.pop();
  }
  return pts.map(([a, b]) => `${a}, ${b}`).join('\n');
}
