// Helpers shared by the building-status and partner-report tests
// (30-status, 31-reports): independent reference geometry (so the broker's
// SQL is checked against a second implementation), row counts for "changed
// nothing", and typed-error expectations.
import assert from 'node:assert/strict';
import { newRef } from './harness.mjs';

export const EARTH_RADIUS_M = 6371008.8;

// Great-circle distance in metres (haversine), as docs/protocol.md's areas mean it.
export function distanceM(lat1, lon1, lat2, lon2) {
  const rad = (d) => (d * Math.PI) / 180;
  const a = Math.sin(rad(lat2 - lat1) / 2) ** 2
    + Math.cos(rad(lat1)) * Math.cos(rad(lat2)) * Math.sin(rad(lon2 - lon1) / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)));
}

// Ray casting on [lat, lon] points (closed polygon).
export function insidePolygon(lat, lon, polygon) {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [yi, xi] = polygon[i];
    const [yj, xj] = polygon[j];
    if ((yi > lat) !== (yj > lat) && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

// A diamond (5 points, closed) around a centre: half-height dLat, half-width dLon.
export function diamond(lat, lon, dLat, dLon) {
  return [[lat + dLat, lon], [lat, lon + dLon], [lat - dLat, lon], [lat, lon - dLon], [lat + dLat, lon]];
}

// A valid status message; override members (undefined deletes one).
export function statusMsg(over = {}) {
  const m = {
    type: 'status', people: 120, officers: 2, trauma_packs: 1, first_aid_kits: 4,
    defibrillators: 1, cctv: 'working', state: 'normal', note: 'All quiet', ...over,
  };
  for (const k of Object.keys(m)) if (m[k] === undefined) delete m[k];
  return m;
}

// The rows this work writes, and the audit rows by action: compared before
// and after a refused request to show it changed nothing.
export async function snapshot(st) {
  const counts = await st.one(`SELECT
      (SELECT count(*) FROM status_reports) AS status_reports,
      (SELECT count(*) FROM status_latest) AS status_latest,
      (SELECT count(*) FROM report_requests) AS report_requests,
      (SELECT count(*) FROM report_request_sites) AS report_request_sites,
      (SELECT count(*) FROM report_request_sites WHERE report_id IS NOT NULL) AS answered,
      (SELECT count(*) FROM partner_reports) AS partner_reports,
      (SELECT count(*) FROM audit WHERE action IN ('status_report', 'report_now', 'partner_report')) AS audit_writes`);
  return counts;
}

// Sends frame with a fresh ref; expects an error of `code` naming `field`
// (null: no field) echoing the ref, and no change to the rows.
export async function expectRefused(st, session, frame, code, field) {
  const before = await snapshot(st);
  const ref = newRef('bad');
  session.send({ ...frame, ref });
  const err = await session.next((m) => m.ref === ref, 5000, `the reply to ${JSON.stringify(frame).slice(0, 120)}`);
  assert.equal(err.type, 'error', `want error ${code} for ${JSON.stringify(frame).slice(0, 200)}, got ${JSON.stringify(err)}`);
  assert.equal(err.code, code, JSON.stringify(err));
  if (field === null) assert.equal(err.field, undefined, `no field: ${JSON.stringify(err)}`);
  else if (field !== undefined) assert.equal(err.field, field, JSON.stringify(err));
  assert.equal(typeof err.message, 'string');
  await session.ping();
  assert.deepEqual(await snapshot(st), before, `${JSON.stringify(frame).slice(0, 200)} changed nothing`);
  return err;
}

// The latest report of each site, computed without status_latest.
export async function latestReports(st) {
  return st.query(`SELECT DISTINCT ON (r.site_id) r.*, s.lat, s.lon
                     FROM status_reports r JOIN sites s ON s.id = r.site_id
                    ORDER BY r.site_id, r.id DESC`);
}

export const sortNum = (a) => [...a].sort((x, y) => x - y);
