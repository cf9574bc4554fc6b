// Helpers for the alert-model tests (20-targeting, 21-relay, 22-requests,
// 23-alert-model): minted tokens for many sessions, an independent
// reference implementation of targeting (SQL rows + JavaScript geometry, so
// the broker's tocsin_resolve_targets is checked against a second
// implementation), delivery checks across every connected session, and
// "refused and changed nothing" checks.
import assert from 'node:assert/strict';
import { newRef, waitFor, demoPassword, DELIVERIES } from './harness.mjs';

export const EARTH_RADIUS_M = 6371008.8;
export const QUIET_MS = 700;   // how long a non-recipient must stay silent

// ------------------------------------------------------------ tokens

// The claims the broker's own sign-in puts in a token for this user row
// (docs/protocol.md §1, plus "clr" = users.cleared_sensitive,
// sql/schema/02_directory.sql).
export function claimsFor(user, { clr = user.cleared_sensitive, ttl = 3600 } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    sub: user.id, usr: user.username, role: user.role, org: user.org_id,
    site: user.site_id ?? null, iat: now, exp: now + ttl, clr: !!clr,
  };
}

export async function userRow(st, username) {
  return st.one('SELECT * FROM users WHERE username = $1', [username]);
}

// A token signed with the broker's key for username (no argon2id sign-in).
export async function mintToken(st, username, opts = {}) {
  return st.forgeToken(claimsFor(await userRow(st, username), opts));
}

export async function connectMinted(st, username, opts = {}) {
  const s = await st.connect(await mintToken(st, username, opts), { label: opts.label || username });
  return s;
}

// ------------------------------------------------------------ the world

// Every site with its sector code, company and clearance, ordered by id.
export async function siteRows(st) {
  return st.query(`SELECT s.id, s.name, s.lat, s.lon, x.code AS sector, s.guard_org_id,
                          s.cleared_sensitive
                     FROM sites s JOIN sectors x ON x.id = s.sector_id ORDER BY s.id`);
}

// Security companies with their operator (min username) and site ids.
export async function companyRows(st) {
  return st.query(`SELECT o.id, o.name,
                          (SELECT array_agg(s.id ORDER BY s.id) FROM sites s WHERE s.guard_org_id = o.id) AS sites,
                          (SELECT min(u.username) FROM users u WHERE u.org_id = o.id
                              AND u.role = 'company_operator' AND NOT u.disabled) AS operator
                     FROM organisations o WHERE o.kind = 'security_company' ORDER BY o.id`);
}

export async function orgId(st, name) {
  return (await st.one('SELECT id FROM organisations WHERE name = $1', [name])).id;
}

// One session per site console (minted tokens), keyed by site id; and
// one per company operator, keyed by company id.
export async function connectWorld(st) {
  const consoles = await st.query(`SELECT u.username, u.site_id, u.id AS user_id
                                     FROM users u WHERE u.role = 'site_console' AND NOT u.disabled
                                    ORDER BY u.site_id, u.id`);
  const bySite = new Map();
  const consoleUser = new Map();
  for (const c of consoles) {
    if (bySite.has(c.site_id)) continue;  // one console per site is enough
    bySite.set(c.site_id, await connectMinted(st, c.username));
    consoleUser.set(c.site_id, c.user_id);
  }
  const companies = await companyRows(st);
  const operators = new Map();
  const operatorUser = new Map();
  for (const o of companies) {
    if (!o.operator) continue;
    operators.set(o.id, await connectMinted(st, o.operator));
    operatorUser.set(o.id, (await userRow(st, o.operator)).id);
  }
  return { bySite, consoleUser, operators, operatorUser, companies };
}

export function drain(...sessions) {
  for (const s of sessions.flat()) s.queue.length = 0;
}

// ------------------------------------------------------------ geometry

export function distanceM(lat1, lon1, lat2, lon2) {
  const rad = (d) => (d * Math.PI) / 180;
  const a = Math.sin(rad(lat2 - lat1) / 2) ** 2
    + Math.cos(rad(lat1)) * Math.cos(rad(lat2)) * Math.sin(rad(lon2 - lon1) / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)));
}

// Ray casting on [lat, lon] points.
export function insidePolygon(lat, lon, polygon) {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [yi, xi] = polygon[i];
    const [yj, xj] = polygon[j];
    if ((yi > lat) !== (yj > lat) && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

export function inArea(site, area) {
  if (area.circle) return distanceM(site.lat, site.lon, area.circle.lat, area.circle.lon) <= area.circle.radius_m;
  return insidePolygon(site.lat, site.lon, area.polygon);
}

// The expected recipients of { targets, area, classification }, computed
// here from the site rows: named sites plus every site matching all of
// orgs, sectors and area; OFFICIAL-SENSITIVE keeps only cleared sites.
// Returns { included: [ids], excluded: [ids] } sorted.
export function expectedTargets(sites, { targets, area, classification }) {
  const t = targets || {};
  const orgs = t.orgs || [];
  const sectors = t.sectors || [];
  const named = new Set(t.sites || []);
  const useArea = t.area === true;
  const filter = orgs.length > 0 || sectors.length > 0 || useArea;
  const hit = sites.filter((s) => named.has(s.id) || (filter
    && (orgs.length === 0 || orgs.includes(s.guard_org_id))
    && (sectors.length === 0 || sectors.includes(s.sector))
    && (!useArea || inArea(s, area))));
  const secret = classification === 'OFFICIAL-SENSITIVE';
  return {
    included: hit.filter((s) => !secret || s.cleared_sensitive).map((s) => s.id).sort((a, b) => a - b),
    excluded: hit.filter((s) => secret && !s.cleared_sensitive).map((s) => s.id).sort((a, b) => a - b),
  };
}

export const ids = (arr) => arr.map((x) => x.site_id).sort((a, b) => a - b);

// ------------------------------------------------------------ database

export async function recipientsOf(st, alertId) {
  return (await st.query('SELECT site_id FROM alert_recipients WHERE alert_id = $1 ORDER BY site_id', [alertId]))
    .map((r) => r.site_id);
}

// Counts of the rows the alert model writes: compared before and after a
// refused request to show it changed nothing.
export async function snapshot(st) {
  return st.one(`SELECT
      (SELECT count(*) FROM alerts) AS alerts,
      (SELECT count(*) FROM alert_recipients) AS alert_recipients,
      (SELECT count(*) FROM alerts WHERE cancelled_at IS NOT NULL) AS cancelled,
      (SELECT count(*) FROM answers) AS answers,
      (SELECT head FROM stream_meta) AS head,
      (SELECT count(*) FROM audit WHERE action IN ('publish', 'update', 'cancel', 'relay', 'disclose', 'answer')) AS audit_writes`);
}

// Sends frame with a fresh ref from session; expects an error of `code`
// naming `field` (null: no field; undefined: not checked) echoing the ref,
// the session still usable, and no change to the rows.
export async function expectRefused(st, session, frame, code, field) {
  const before = await snapshot(st);
  const ref = newRef('bad');
  session.send({ ...frame, ref });
  const what = JSON.stringify(frame).slice(0, 240);
  const err = await session.next((m) => m.ref === ref, 5000, `the reply to ${what}`);
  assert.equal(err.type, 'error', `want error ${code} for ${what}, got ${JSON.stringify(err)}`);
  assert.equal(err.code, code, `${what}: ${JSON.stringify(err)}`);
  if (field === null) assert.equal(err.field, undefined, `no field: ${JSON.stringify(err)}`);
  else if (field !== undefined) assert.equal(err.field, field, `${what}: ${JSON.stringify(err)}`);
  assert.equal(typeof err.message, 'string');
  await session.ping();
  assert.deepEqual(await snapshot(st), before, `${what} changed nothing`);
  return err;
}

// ------------------------------------------------------------ delivery

// After alertId was published: exactly the consoles of `consoleSites` and
// the operators of `operatorOrgs` get it (within waitMs), and every other
// console and operator of `world` gets no alert frame at all within
// QUIET_MS. Returns the frames received, by "site:<id>" / "org:<id>".
export async function expectDelivery(world, alertId, { consoleSites = [], operatorOrgs = [], waitMs = 3000, quietMs = QUIET_MS } = {}) {
  const want = new Set(consoleSites);
  const wantOps = new Set(operatorOrgs);
  const isIt = (m) => m.type === 'alert' && m.alert?.id === alertId;
  const got = {};
  const waits = [];
  const quiet = [];
  for (const [site, s] of world.bySite) {
    if (want.has(site)) waits.push(s.next(isIt, waitMs, `alert ${alertId} at the console of site ${site}`).then((m) => { got[`site:${site}`] = m; }));
    else quiet.push(s.expectNothing((m) => m.type === 'alert', quietMs, `alert frame at the console of site ${site} (not a recipient of ${alertId})`));
  }
  for (const [org, s] of world.operators) {
    if (wantOps.has(org)) waits.push(s.next(isIt, waitMs, `alert ${alertId} at the operator of company ${org}`).then((m) => { got[`org:${org}`] = m; }));
    else quiet.push(s.expectNothing((m) => m.type === 'alert', quietMs, `alert frame at the operator of company ${org} (not a recipient of ${alertId})`));
  }
  for (const site of want) assert.ok(world.bySite.has(site), `a console of site ${site} is connected`);
  for (const org of wantOps) assert.ok(world.operators.has(org), `an operator of company ${org} is connected`);
  await Promise.all([...waits, ...quiet]);
  // No recipient got it twice.
  for (const [site, s] of world.bySite) {
    if (!want.has(site)) continue;
    const n = s.seen.filter(isIt).length;
    assert.equal(n, 1, `the console of site ${site} got alert ${alertId} ${n} times`);
  }
  return got;
}

// The delivery records (written in batches) eventually name exactly these
// users for alertId.
export async function expectDeliveryRows(st, alertId, userIds) {
  const want = [...new Set(userIds)].sort((a, b) => a - b);
  let rows;
  await waitFor(async () => {
    rows = (await st.query(`SELECT DISTINCT user_id FROM ${DELIVERIES} d WHERE alert_id = $1 ORDER BY user_id`, [alertId]))
      .map((r) => r.user_id);
    return rows.length >= want.length;
  }, { timeoutMs: 5000, what: `${want.length} delivery rows for alert ${alertId}` }).catch(() => {});
  assert.deepEqual(rows, want, `users recorded as delivered for alert ${alertId}`);
}

export { demoPassword };

// ------------------------------------------------------------ resume

// A fresh session for username (minted token) that resumes from seq:
// resolves { welcome, replayed: [alert frames], done }.
export async function resumeFrom(st, username, seq, { epoch, clr } = {}) {
  const s = await st.openSocket({ label: `${username} resuming from ${seq}` });
  const token = await mintToken(st, username, clr === undefined ? {} : { clr });
  if (epoch === undefined) epoch = (await st.one('SELECT epoch::text AS epoch FROM stream_meta')).epoch;
  s.send({ type: 'hello', token, resume: { epoch, seq } });
  const welcome = await s.next((m) => m.type === 'welcome' || m.type === 'error', 5000, 'welcome');
  assert.equal(welcome.type, 'welcome', JSON.stringify(welcome));
  assert.equal(welcome.resume?.status, 'ok', `resume of ${username} from ${seq}: ${JSON.stringify(welcome)}`);
  const done = await s.next('resume_done', 5000);
  const replayed = s.seen.filter((m) => m.type === 'alert' && m.replay === true);
  assert.equal(done.count, replayed.length, `resume_done.count = alert frames replayed: ${s.describeSeen()}`);
  assert.equal(welcome.resume.count, replayed.length, 'welcome.resume.count = alert frames replayed');
  s.close();
  return { welcome, replayed, done, session: s };
}
