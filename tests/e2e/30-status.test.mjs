// Building status: consoles report, the board keeps the latest per site and
// updates live, area totals sum a circle, report-now asks the sites inside
// an area and tracks who answered; bad input, wrong roles and a database
// outage change nothing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, RFC3339_MS, consoleDirectory, userByName, waitFor, pgConnect, sleep } from './lib/harness.mjs';
import {
  distanceM, insidePolygon, diamond, statusMsg, expectRefused, latestReports, sortNum,
} from './lib/status-helpers.mjs';

const FIELDS = ['people', 'officers', 'trauma_packs', 'first_aid_kits', 'defibrillators', 'cctv', 'state', 'note'];

function assertSiteMatches(entry, msg, what) {
  for (const k of FIELDS) assert.equal(entry[k], msg[k], `${what}: ${k} in ${JSON.stringify(entry)}`);
  assert.match(entry.reported_at, RFC3339_MS, what);
}

describe('building status, board, area totals, report-now', { timeout: 240_000 }, () => {
  let st;
  let consoles, sites;
  let compA, compB;        // two companies with sites, consoles and an operator
  let siteA, siteB;        // a console row of each
  let ctl, ctl2, analyst, opA, opB, cA, cB;
  const extra = new Map(); // site_id -> console session, connected on demand

  async function consoleFor(siteId) {
    if (siteId === siteA.site_id) return cA;
    if (siteId === siteB.site_id) return cB;
    if (!extra.has(siteId)) {
      const row = consoles.find((c) => c.site_id === siteId);
      assert.ok(row, `site ${siteId} has a console`);
      extra.set(siteId, await st.connectAs(row.username));
    }
    return extra.get(siteId);
  }

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    consoles = await consoleDirectory(st);
    sites = await st.query('SELECT id, name, lat, lon, guard_org_id FROM sites ORDER BY id');
    const orgs = await st.query(`SELECT o.id, o.name,
                                        (SELECT array_agg(s.id ORDER BY s.id) FROM sites s WHERE s.guard_org_id = o.id) AS sites,
                                        (SELECT min(u.username) FROM users u WHERE u.org_id = o.id
                                            AND u.role = 'company_operator' AND NOT u.disabled) AS operator
                                   FROM organisations o WHERE o.kind = 'security_company' ORDER BY o.id`);
    const companies = orgs.filter((o) => o.sites?.length && o.operator && consoles.some((c) => c.guard_org_id === o.id));
    assert.ok(companies.length >= 2, `two companies with sites, consoles and an operator: ${JSON.stringify(orgs)}`);
    [compA, compB] = companies;
    siteA = consoles.find((c) => c.guard_org_id === compA.id);
    siteB = consoles.find((c) => c.guard_org_id === compB.id);
    Object.assign(siteA, sites.find((s) => s.id === siteA.site_id));
    Object.assign(siteB, sites.find((s) => s.id === siteB.site_id));

    ctl = await st.connectAs('controller');
    ctl2 = await st.connectAs('controller2');
    analyst = await st.connectAs('analyst');
    opA = await st.connectAs(compA.operator);
    opB = await st.connectAs(compB.operator);
    cA = await st.connectAs(siteA.username);
    cB = await st.connectAs(siteB.username);
  });
  after(async () => { await st?.cleanup(); });

  it('stores a report from a console and shows it live on subscribed boards and in board', async () => {
    const board0 = await ctl.request({ type: 'board' });
    assert.equal(board0.type, 'board', JSON.stringify(board0));
    assert.equal(board0.sites.length, sites.length, 'the force sees every site');
    const a0 = board0.sites.find((x) => x.site_id === siteA.site_id);
    assert.ok(a0, 'site A is on the board');
    assert.equal(a0.site_name, siteA.site_name);
    assert.equal(a0.guard_org_id, compA.id);
    assert.equal(a0.lat, siteA.lat);
    assert.equal(a0.reported_at, null, 'no report yet');
    assert.equal(a0.people, null);
    const an0 = await analyst.request({ type: 'board' });
    assert.equal(an0.type, 'board');

    const ctlUser = await userByName(st, 'controller');
    const views = await st.one(`SELECT count(*) AS n FROM audit WHERE action = 'view_board' AND actor_user_id = $1`, [ctlUser.id]);
    assert.equal(views.n, 1, 'viewing the board is audited');

    // site_id in the message is ignored: the site comes from the token.
    const msg = statusMsg({ people: 240, officers: 3, trauma_packs: 2, first_aid_kits: 6, defibrillators: 1,
      cctv: 'working', state: 'normal', note: `first report ${Date.now()}`, site_id: siteB.site_id });
    const ok = await cA.request(msg);
    assert.equal(ok.type, 'status_ok', JSON.stringify(ok));
    assert.equal(ok.site_id, siteA.site_id);
    assert.match(ok.reported_at, RFC3339_MS);
    assert.equal(typeof ok.report_id, 'number');

    const upd = await ctl.next((m) => m.type === 'status_update' && m.site?.site_id === siteA.site_id, 3000, 'status_update at the controller');
    assertSiteMatches(upd.site, msg, 'controller update');
    assert.equal(upd.site.reported_at, ok.reported_at);
    assert.equal(upd.site.site_name, siteA.site_name);
    const updAn = await analyst.next((m) => m.type === 'status_update' && m.site?.site_id === siteA.site_id, 3000, 'status_update at the analyst');
    assertSiteMatches(updAn.site, msg, 'analyst update');
    // Not subscribed (never asked for the board): no update.
    await ctl2.expectNothing((m) => m.type === 'status_update', 300, 'status_update at a controller that never asked for the board');
    await cB.expectNothing((m) => m.type === 'status_update', 100, 'status_update at a console');

    const rows = await st.query('SELECT * FROM status_reports WHERE site_id = ANY($1) ORDER BY id', [[siteA.site_id, siteB.site_id]]);
    assert.equal(rows.length, 1, 'one report, for site A (not B)');
    assert.equal(rows[0].site_id, siteA.site_id);
    assert.equal(rows[0].user_id, siteA.user_id);
    assert.equal(rows[0].id, ok.report_id);
    for (const k of FIELDS) assert.equal(rows[0][k], msg[k], k);
    assert.equal(rows[0].reported_at.toISOString(), ok.reported_at);
    const audit = await st.query(`SELECT * FROM audit WHERE action = 'status_report' AND site_id = $1`, [siteA.site_id]);
    assert.equal(audit.length, 1);
    assert.equal(audit[0].actor_user_id, siteA.user_id);
    assert.equal(audit[0].detail.people, 240);

    const board1 = await ctl.request({ type: 'board' });
    assertSiteMatches(board1.sites.find((x) => x.site_id === siteA.site_id), msg, 'board after the report');
  });

  it('keeps every report; a second one replaces the latest', async () => {
    const before1 = await st.query('SELECT id FROM status_reports WHERE site_id = $1', [siteA.site_id]);
    const msg = statusMsg({ people: 17, officers: 1, state: 'heightened', cctv: 'partial', note: 'second report' });
    const ok = await cA.request(msg);
    assert.equal(ok.type, 'status_ok', JSON.stringify(ok));
    const upd = await ctl.next((m) => m.type === 'status_update' && m.site?.site_id === siteA.site_id && m.site.people === 17, 3000, 'second status_update');
    assertSiteMatches(upd.site, msg, 'second update');

    const board = await ctl.request({ type: 'board' });
    assertSiteMatches(board.sites.find((x) => x.site_id === siteA.site_id), msg, 'board shows the latest');

    const rows = await st.query('SELECT id, people, state FROM status_reports WHERE site_id = $1 ORDER BY id', [siteA.site_id]);
    assert.equal(rows.length, before1.length + 1, 'both reports are kept');
    assert.equal(rows[0].people, 240, 'the first report is unchanged');
    assert.equal(rows.at(-1).people, 17);
    const latest = await st.one('SELECT report_id FROM status_latest WHERE site_id = $1', [siteA.site_id]);
    assert.equal(latest.report_id, ok.report_id);
  });

  it('shows a company operator the board of its own sites only, live too', async () => {
    const board = await opA.request({ type: 'board' });
    assert.equal(board.type, 'board', JSON.stringify(board));
    assert.deepEqual(sortNum(board.sites.map((x) => x.site_id)), sortNum(compA.sites), 'exactly the company\'s sites');
    for (const x of board.sites) assert.equal(x.guard_org_id, compA.id);
    const bB = await opB.request({ type: 'board' });
    assert.deepEqual(sortNum(bB.sites.map((x) => x.site_id)), sortNum(compB.sites));
    const opUser = await userByName(st, compA.operator);
    const [view] = await st.query(`SELECT detail FROM audit WHERE action = 'view_board' AND actor_user_id = $1`, [opUser.id]);
    assert.equal(view.detail.scope, 'org');

    const msgB = statusMsg({ people: 55, state: 'lockdown', cctv: 'down', note: 'site B locked down' });
    const okB = await cB.request(msgB);
    assert.equal(okB.type, 'status_ok', JSON.stringify(okB));
    const updB = await opB.next((m) => m.type === 'status_update' && m.site?.site_id === siteB.site_id, 3000, 'B\'s update at B\'s operator');
    assertSiteMatches(updB.site, msgB, 'operator B');
    await ctl.next((m) => m.type === 'status_update' && m.site?.site_id === siteB.site_id, 3000, 'B\'s update at the controller');
    await opA.expectNothing((m) => m.type === 'status_update' && m.site?.site_id === siteB.site_id, 400, 'another company\'s update');

    const msgA = statusMsg({ people: 18, note: 'third report' });
    assert.equal((await cA.request(msgA)).type, 'status_ok');
    const updA = await opA.next((m) => m.type === 'status_update' && m.site?.site_id === siteA.site_id, 3000, 'A\'s update at A\'s operator');
    assertSiteMatches(updA.site, msgA, 'operator A');
    await opB.expectNothing((m) => m.type === 'status_update' && m.site?.site_id === siteA.site_id, 300, 'another company\'s update');
  });

  it('sums the latest reports of the sites inside a circle', async () => {
    // Reports from the sites nearest to A and from the farthest ones.
    const byDist = sites.filter((s) => s.id !== siteA.site_id && s.id !== siteB.site_id)
      .map((s) => ({ ...s, d: distanceM(siteA.lat, siteA.lon, s.lat, s.lon) }))
      .sort((x, y) => x.d - y.d);
    const reporters = [...byDist.slice(0, 3), ...byDist.slice(-2)];
    const states = ['evacuating', 'closed', 'normal', 'heightened', 'lockdown'];
    for (const [i, s] of reporters.entries()) {
      const con = await consoleFor(s.id);
      const ok = await con.request(statusMsg({ people: 100 + i * 7, officers: i + 1, trauma_packs: i, first_aid_kits: 2 * i,
        defibrillators: i % 2, cctv: i % 2 ? 'down' : 'working', state: states[i], note: `area ${i}` }));
      assert.equal(ok.type, 'status_ok', JSON.stringify(ok));
    }

    // A radius between the third and fourth nearest sites, at least 1 m
    // from every site so that rounding cannot move one across the edge.
    let radius = Math.round((byDist[2].d + byDist[3].d) / 2);
    while (sites.some((s) => Math.abs(distanceM(siteA.lat, siteA.lon, s.lat, s.lon) - radius) < 1)) radius += 3;
    const latest = await latestReports(st);
    const inside = sites.filter((s) => distanceM(siteA.lat, siteA.lon, s.lat, s.lon) <= radius);
    const reportedInside = latest.filter((r) => inside.some((s) => s.id === r.site_id));
    const reportedOutside = latest.filter((r) => !inside.some((s) => s.id === r.site_id));
    assert.ok(reportedInside.length >= 2 && reportedOutside.length >= 2,
      `the circle includes and excludes reported sites (inside ${reportedInside.length}, outside ${reportedOutside.length})`);
    const sum = (k) => reportedInside.reduce((n, r) => n + r[k], 0);
    const byState = Object.fromEntries(states.map((x) => [x, reportedInside.filter((r) => r.state === x).length]));

    const t = await analyst.request({ type: 'area_totals', lat: siteA.lat, lon: siteA.lon, radius_m: radius });
    assert.equal(t.type, 'area_totals', JSON.stringify(t));
    assert.equal(t.sites, inside.length);
    assert.equal(t.reported, reportedInside.length);
    for (const k of ['people', 'officers', 'trauma_packs', 'first_aid_kits', 'defibrillators']) assert.equal(t[k], sum(k), k);
    assert.deepEqual(t.by_state, byState);
    assert.equal(t.cctv_down, reportedInside.filter((r) => r.cctv === 'down').length);
    const audit = await st.query(`SELECT detail FROM audit WHERE action = 'view_area_totals' ORDER BY id DESC LIMIT 1`);
    assert.equal(audit.length, 1, 'area totals are audited');
    assert.deepEqual(sortNum(audit[0].detail.sites), sortNum(inside.map((s) => s.id)));
  });

  it('asks only the sites inside a polygon to report, and tracks who answered', async () => {
    const polygon = diamond(siteA.lat, siteA.lon, 0.0016, 0.0026);
    const expected = sites.filter((s) => insidePolygon(s.lat, s.lon, polygon)).map((s) => s.id);
    assert.ok(expected.includes(siteA.site_id), 'A lies inside');
    assert.ok(!expected.includes(siteB.site_id), 'B lies outside');
    assert.ok(expected.length >= 2, `at least two sites inside: ${expected}`);
    const other = expected.find((id) => id !== siteA.site_id);
    const cOther = await consoleFor(other);
    const outsider = sites.find((s) => !expected.includes(s.id) && s.id !== siteB.site_id);
    const cOut = await consoleFor(outsider.id);

    const r = await ctl.request({ type: 'report_now', area: { polygon } });
    assert.equal(r.type, 'report_now', JSON.stringify(r));
    assert.match(r.request_id, /^r-[1-9]\d*$/);
    assert.deepEqual(sortNum(r.asked), sortNum(expected));
    const id = Number(r.request_id.slice(2));
    const asked = await st.query('SELECT site_id FROM report_request_sites WHERE request_id = $1 ORDER BY site_id', [id]);
    assert.deepEqual(asked.map((x) => x.site_id), sortNum(expected));
    const ctlUser = await userByName(st, 'controller');
    const [audit] = await st.query(`SELECT * FROM audit WHERE action = 'report_now' AND detail->>'request_id' = $1`, [String(id)]);
    assert.equal(audit.actor_user_id, ctlUser.id);

    for (const con of [cA, cOther]) {
      const req = await con.next((m) => m.type === 'report_request' && m.request_id === r.request_id, 3000, 'report_request inside');
      assert.equal(req.by, ctlUser.display_name);
    }
    await Promise.all([cB, cOut].map((c) => c.expectNothing((m) => m.type === 'report_request', 400, 'report_request outside the area')));

    const ok = await cA.request(statusMsg({ people: 42, state: 'lockdown', in_reply_to: r.request_id }));
    assert.equal(ok.type, 'status_ok', JSON.stringify(ok));
    assert.equal(ok.answered, true);
    const prog = await ctl.next((m) => m.type === 'report_now_status' && m.request_id === r.request_id, 3000, 'report_now_status');
    assert.deepEqual(prog.reported, [siteA.site_id]);
    assert.deepEqual(sortNum(prog.pending), sortNum(expected.filter((x) => x !== siteA.site_id)));
    const row = await st.one('SELECT report_id FROM report_request_sites WHERE request_id = $1 AND site_id = $2', [id, siteA.site_id]);
    assert.equal(row.report_id, ok.report_id);
    await ctl2.expectNothing((m) => m.type === 'report_now_status', 200, 'progress at a controller that did not ask');

    // A second answer from the same site is kept as a report but not counted again.
    const again = await cA.request(statusMsg({ people: 43, in_reply_to: r.request_id }));
    assert.equal(again.answered, false);
    const ok2 = await cOther.request(statusMsg({ people: 7, in_reply_to: r.request_id }));
    assert.equal(ok2.answered, true);
    const prog2 = await ctl.next((m) => m.type === 'report_now_status' && m.request_id === r.request_id, 3000, 'second report_now_status');
    assert.deepEqual(sortNum(prog2.reported), sortNum([siteA.site_id, other]));
    assert.ok(!prog2.pending.includes(other) && !prog2.pending.includes(siteA.site_id));
    assert.equal(prog2.pending.length, expected.length - 2);
  });

  it('asks the sites inside a circle, and refuses an area with no site', async () => {
    const radius = 350;
    const expected = sites.filter((s) => distanceM(siteB.lat, siteB.lon, s.lat, s.lon) <= radius).map((s) => s.id);
    assert.ok(expected.length < sites.length);
    const r = await ctl.request({ type: 'report_now', area: { circle: { lat: siteB.lat, lon: siteB.lon, radius_m: radius } } });
    assert.equal(r.type, 'report_now', JSON.stringify(r));
    assert.deepEqual(sortNum(r.asked), sortNum(expected));
    await cB.next((m) => m.type === 'report_request' && m.request_id === r.request_id, 3000, 'report_request at B');

    await expectRefused(st, ctl, { type: 'report_now', area: { circle: { lat: 10, lon: -30, radius_m: 1000 } } }, 'no_recipients', 'area');
  });

  it('refuses bad status members with a typed error naming the field, storing nothing', async () => {
    await expectRefused(st, cA, statusMsg({ people: -1 }), 'bad_field', 'people');
    await expectRefused(st, cA, statusMsg({ officers: 100001 }), 'bad_field', 'officers');
    await expectRefused(st, cA, statusMsg({ trauma_packs: 1.5 }), 'bad_field', 'trauma_packs');
    await expectRefused(st, cA, statusMsg({ first_aid_kits: '3' }), 'bad_field', 'first_aid_kits');
    await expectRefused(st, cA, statusMsg({ defibrillators: undefined }), 'missing_field', 'defibrillators');
    await expectRefused(st, cA, statusMsg({ state: 'panic' }), 'bad_field', 'state');
    await expectRefused(st, cA, statusMsg({ state: undefined }), 'missing_field', 'state');
    await expectRefused(st, cA, statusMsg({ cctv: 3 }), 'bad_field', 'cctv');
    await expectRefused(st, cA, statusMsg({ note: 'x'.repeat(501) }), 'bad_field', 'note');
    await expectRefused(st, cA, statusMsg({ note: 7 }), 'bad_field', 'note');
    await expectRefused(st, cA, statusMsg({ in_reply_to: 'x-7' }), 'bad_field', 'in_reply_to');
    await expectRefused(st, cA, statusMsg({ in_reply_to: 7 }), 'bad_field', 'in_reply_to');
    // 500 characters is the limit, in characters, not bytes.
    const ok = await cA.request(statusMsg({ note: 'é'.repeat(500) }));
    assert.equal(ok.type, 'status_ok', JSON.stringify(ok));
  });

  it('refuses bad area_totals and report_now members', async () => {
    const circle = { lat: siteA.lat, lon: siteA.lon, radius_m: 300 };
    await expectRefused(st, ctl, { type: 'area_totals', ...circle, lat: 95 }, 'bad_field', 'lat');
    await expectRefused(st, ctl, { type: 'area_totals', ...circle, lon: -181 }, 'bad_field', 'lon');
    await expectRefused(st, ctl, { type: 'area_totals', ...circle, radius_m: 0 }, 'bad_field', 'radius_m');
    await expectRefused(st, ctl, { type: 'area_totals', lat: siteA.lat, radius_m: 300 }, 'missing_field', 'lon');

    const square = [[51.51, -0.09], [51.52, -0.09], [51.52, -0.08], [51.51, -0.08], [51.51, -0.09]];
    await expectRefused(st, ctl, { type: 'report_now' }, 'missing_field', 'area');
    await expectRefused(st, ctl, { type: 'report_now', area: { polygon: square.slice(0, 2).concat([square[0]]) } }, 'bad_field', 'area.polygon');
    await expectRefused(st, ctl, { type: 'report_now', area: { polygon: square.slice(0, 4) } }, 'bad_field', 'area.polygon');
    await expectRefused(st, ctl, { type: 'report_now', area: { polygon: [[95, -0.09], ...square.slice(1, 4), [95, -0.09]] } }, 'bad_field', 'area.polygon[0]');
    await expectRefused(st, ctl, { type: 'report_now', area: { circle: { ...circle, lat: 95 } } }, 'bad_field', 'area.circle.lat');
    await expectRefused(st, ctl, { type: 'report_now', area: { circle, polygon: square } }, 'bad_field', 'area');
  });

  it('refuses each request to the roles that may not make it', async () => {
    await expectRefused(st, ctl, statusMsg(), 'forbidden');
    await expectRefused(st, opA, statusMsg(), 'forbidden');
    await expectRefused(st, cA, { type: 'board' }, 'forbidden');
    await expectRefused(st, cA, { type: 'area_totals', lat: siteA.lat, lon: siteA.lon, radius_m: 300 }, 'forbidden');
    await expectRefused(st, opA, { type: 'area_totals', lat: siteA.lat, lon: siteA.lon, radius_m: 300 }, 'forbidden');
    const area = { circle: { lat: siteA.lat, lon: siteA.lon, radius_m: 300 } };
    await expectRefused(st, opA, { type: 'report_now', area }, 'forbidden');
    await expectRefused(st, analyst, { type: 'report_now', area }, 'forbidden');
    await expectRefused(st, cA, { type: 'report_now', area }, 'forbidden');
  });

  it('answers unavailable and stores nothing while the database is unreachable', async () => {
    const health = async () => (await st.http('GET', '/healthz')).json?.db;
    // The test's own superuser connection stays; new ones (the broker's
    // reconnects) are refused until connections are allowed again.
    const admin = await pgConnect(process.env.TOCSIN_PG_ADMIN_URL);
    await admin.query(`ALTER DATABASE "${st.db.name}" ALLOW_CONNECTIONS false`);
    try {
      await st.pg.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                          WHERE datname = current_database() AND usename = 'tocsin_broker'`);
      await waitFor(async () => (await health()) === 'down', { timeoutMs: 10000, what: 'the broker to see the database down' });
      await expectRefused(st, cA, statusMsg(), 'unavailable');
      await expectRefused(st, ctl, { type: 'board' }, 'unavailable');
      await expectRefused(st, ctl, { type: 'area_totals', lat: siteA.lat, lon: siteA.lon, radius_m: 300 }, 'unavailable');
      await expectRefused(st, ctl, { type: 'report_now', area: { circle: { lat: siteA.lat, lon: siteA.lon, radius_m: 300 } } }, 'unavailable');
    } finally {
      await admin.query(`ALTER DATABASE "${st.db.name}" ALLOW_CONNECTIONS true`);
      await admin.end();
    }
    await waitFor(async () => (await health()) === 'up', { timeoutMs: 30000, intervalMs: 250, what: 'the broker to reconnect' });
    const ok = await cA.request(statusMsg({ note: 'after the outage' }));
    assert.equal(ok.type, 'status_ok', JSON.stringify(ok));
    await ctl.next((m) => m.type === 'status_update' && m.site?.note === 'after the outage', 3000, 'live again after the outage');
  });

  it('stops cleanly (no sanitizer report)', async () => {
    await st.stop();
  });
});

// A control room that falls behind a burst of status reports (every building
// of the city answering a report-now at once) is not closed as too slow: a
// site's status_update still queued for it is replaced by the site's newer
// one (outq.c, "supersedes"), so its queue holds at most one per site. The
// queue bounds are small here so that the burst would overflow them.
describe('a control room behind a burst of status reports', { timeout: 240_000 }, () => {
  const MAX_MSGS = 32, MAX_BYTES = 65536, ROUNDS = 400; // ROUNDS: a multiple of 16
  let st;

  before(async () => {
    st = await Stack.create({ label: `${import.meta.url}-burst`.replace('.test.mjs', ''),
      broker: { args: ['--queue-max-msgs', String(MAX_MSGS), '--queue-max-bytes', String(MAX_BYTES), '--rate-limit', '100000'] } });
  });
  after(async () => { await st?.cleanup(); });

  it('gets each site\'s latest status once it reads again, without a 4409 close', async () => {
    const bySite = new Map();
    for (const c of await consoleDirectory(st)) if (!bySite.has(c.site_id)) bySite.set(c.site_id, c);
    const three = [...bySite.values()].slice(0, 3);
    assert.equal(three.length, 3, 'three sites with a console');
    const ctl = await st.connectAs('controller');
    const board = await ctl.request({ type: 'board' });
    assert.equal(board.type, 'board', JSON.stringify(board).slice(0, 200));
    const consolesUp = await Promise.all(three.map((c) => st.connectAs(c.username)));
    ctl.ws._socket.pause();

    // ROUNDS reports per site, 900 bytes of update each: far more than the
    // socket buffers and the queue hold. In windows of 16 per console, so
    // that the consoles' own answers fit their queues.
    const note = 'N'.repeat(500);
    for (let w = 0; w < ROUNDS; w += 16) {
      for (let i = w; i < w + 16; i++)
        consolesUp.forEach((s, k) => s.send({ ...statusMsg({ people: i, officers: k, note }), ref: `b-${k}-${i}` }));
      for (const [k, s] of consolesUp.entries())
        await s.next((m) => m.ref === `b-${k}-${w + 15}` && m.type === 'status_ok', 30_000, `status_ok ${w + 15} of console ${k}`);
    }
    await sleep(300);

    ctl.ws._socket.resume();
    const latest = new Map();
    let updates = 0;
    await waitFor(async () => {
      for (;;) {
        const m = await ctl.next((x) => x.type === 'status_update', 200, 'a status_update').catch(() => null);
        if (!m) break;
        updates++;
        latest.set(m.site.site_id, m.site.people);
      }
      return three.every((c) => latest.get(c.site_id) === ROUNDS - 1);
    }, { timeoutMs: 30_000, what: `each site's last report at the control room (have ${JSON.stringify([...latest])})` });
    console.log(`# ${3 * ROUNDS} reports, ${updates} status_update frames heard by the control room that fell behind`);
    assert.ok(ctl.isOpen, `the control room stays open: ${JSON.stringify(ctl.closeInfo)}`);
    assert.doesNotMatch(st.broker.stderr, /outbound queue full/, 'nobody closed as too slow');
    assert.ok(updates < 3 * ROUNDS, 'the updates it could not take in time were replaced, not queued');
    const h = await ctl.request({ type: 'board' });
    for (const c of three) assert.equal(h.sites.find((x) => x.site_id === c.site_id).people, ROUNDS - 1);
  });

  it('stops cleanly (no sanitizer report)', async () => {
    await st.stop();
  });
});
