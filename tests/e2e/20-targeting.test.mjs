// Targeting (docs/protocol.md §2b "Targeting", "preview"): for every kind
// of target (organisation, sector, site, role, circle, polygon and their
// combinations) the preview names exactly the sites this test computes on
// its own from the database rows and JavaScript geometry; publishing the
// same targets then reaches exactly those consoles (and the operators of
// their companies), every other console and operator gets nothing, and
// alert_recipients holds exactly that set. OFFICIAL-SENSITIVE reaches only
// cleared sites, consoles and operators.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, decodeToken, DELIVERIES } from './lib/harness.mjs';
import {
  siteRows, connectWorld, connectMinted, mintToken, userRow, orgId, drain, distanceM,
  expectedTargets, ids, recipientsOf, expectDelivery, expectDeliveryRows, expectRefused, snapshot,
  claimsFor,
} from './lib/alerts.mjs';

describe('targeting: preview equals delivery, nobody else hears', { timeout: 280_000 }, () => {
  let st;
  let sites;          // every site row
  let world;          // { bySite, operators, consoleUser, operatorUser, companies }
  let ctl;            // the controller's session
  let citadel, bastion, sentinel;

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    sites = await siteRows(st);
    assert.equal(sites.length, 34, 'the demo data has 34 sites');
    citadel = await orgId(st, 'Citadel Security');
    bastion = await orgId(st, 'Bastion Guarding');
    sentinel = await orgId(st, 'Sentinel Protective Services');
    world = await connectWorld(st);
    assert.equal(world.bySite.size, 34, 'a console of every demo site is connected');
    assert.deepEqual([...world.operators.keys()].sort((a, b) => a - b), [citadel, bastion, sentinel].sort((a, b) => a - b));
    ctl = await st.connectAs('controller');   // a real sign-in
  });
  after(async () => { await st?.cleanup(); });

  const allSessions = () => [...world.bySite.values(), ...world.operators.values()];
  const siteById = (id) => sites.find((s) => s.id === id);

  // preview, then publish the same targets; assert both against `expected`
  // (computed here) and the delivery to exactly the right sessions.
  async function previewAndPublish(label, msg, { roles = ['site_console', 'company_operator'] } = {}) {
    const exp = expectedTargets(sites, msg);
    drain(allSessions());

    const pv = await ctl.request({ type: 'preview', ...msg });
    assert.equal(pv.type, 'preview', `${label}: ${JSON.stringify(pv)}`);
    assert.deepEqual(ids(pv.recipients), exp.included, `${label}: preview recipients`);
    assert.equal(pv.count, exp.included.length, `${label}: preview count`);
    assert.deepEqual(ids(pv.excluded), exp.excluded, `${label}: preview excluded`);
    for (const r of pv.recipients) {
      const s = siteById(r.site_id);
      assert.equal(r.name, s.name, `${label}: preview names site ${r.site_id}`);
      assert.equal(r.sector, s.sector, `${label}: preview sector of site ${r.site_id}`);
      assert.equal(r.guard_org_id, s.guard_org_id, `${label}: preview company of site ${r.site_id}`);
    }
    for (const x of pv.excluded) {
      assert.equal(x.name, siteById(x.site_id).name);
      assert.equal(x.reason, 'not cleared for OFFICIAL-SENSITIVE', `${label}: ${JSON.stringify(x)}`);
    }
    // Nothing stored, nobody told.
    assert.ok(!allSessions().some((s) => s.queue.some((m) => m.type === 'alert')), `${label}: a preview delivered something`);

    const headline = `${label} ${Date.now()}`;
    const pub = await ctl.request({ type: 'publish', headline, severity: 'moderate', ...msg });
    assert.equal(pub.type, 'published', `${label}: ${JSON.stringify(pub)}`);
    assert.equal(pub.recipients, pv.count, `${label}: published.recipients = preview.count`);

    const toConsoles = roles.includes('site_console');
    const toOps = roles.includes('company_operator');
    const companiesHit = [...new Set(exp.included.map((id) => siteById(id).guard_org_id))];
    const got = await expectDelivery(world, pub.alert_id, {
      consoleSites: toConsoles ? exp.included : [],
      operatorOrgs: toOps ? companiesHit : [],
    });
    for (const m of Object.values(got)) assert.equal(m.alert.headline, headline);

    assert.deepEqual(await recipientsOf(st, pub.alert_id), exp.included, `${label}: alert_recipients`);
    const users = [
      ...(toConsoles ? exp.included.map((id) => world.consoleUser.get(id)) : []),
      ...(toOps ? companiesHit.map((o) => world.operatorUser.get(o)) : []),
    ];
    await expectDeliveryRows(st, pub.alert_id, users);
    // The tally counts the sites whose consoles got it.
    const wantDelivered = toConsoles ? exp.included.length : 0;
    const t = await ctl.next((m) => m.type === 'tally' && m.alert_id === pub.alert_id && m.delivered === wantDelivered,
      5000, `tally delivered=${wantDelivered} for ${label}`);
    assert.equal(t.recipients, exp.included.length);
    return { exp, pv, pub, got };
  }

  it('signs a minted token exactly like the broker\'s own sign-in (claims incl. clr)', async () => {
    const real = await st.login('console.threadneedle');
    const claims = decodeToken(real.token);
    const mine = claimsFor(await userRow(st, 'console.threadneedle'));
    for (const k of ['sub', 'usr', 'role', 'org', 'site', 'clr']) assert.deepEqual(mine[k], claims[k], `claim ${k}`);
    assert.equal(claims.clr, true, 'console.threadneedle (a finance site) is cleared');
    const unc = decodeToken((await st.login('console.cornhill')).token);
    assert.equal(unc.clr, false, 'console.cornhill (an insurance site) is not cleared');
  });

  it('organisation: every site Bastion guards, and only those', async () => {
    const { exp } = await previewAndPublish('orgs', { targets: { orgs: [bastion] } });
    assert.deepEqual(exp.included, sites.filter((s) => s.guard_org_id === bastion).map((s) => s.id));
    assert.equal(exp.included.length, 11);
  });

  it('two organisations', async () => {
    const { exp } = await previewAndPublish('orgs2', { targets: { orgs: [citadel, sentinel] } });
    assert.equal(exp.included.length, 23);
  });

  it('sector: every finance site, across companies', async () => {
    const { exp } = await previewAndPublish('sectors', { targets: { sectors: ['finance'] } });
    assert.deepEqual(exp.included, [1, 4, 8, 9, 14, 15, 31]);
  });

  it('sectors: heritage and legal', async () => {
    const { exp } = await previewAndPublish('sectors2', { targets: { sectors: ['heritage', 'legal'] } });
    assert.deepEqual(exp.included, [11, 16, 17, 19, 23, 25, 26, 34]);
  });

  it('named sites only', async () => {
    const { exp } = await previewAndPublish('sites', { targets: { sites: [3, 17, 33] } });
    assert.deepEqual(exp.included, [3, 17, 33]);
  });

  it('role company_operator: the operators get it, no console does', async () => {
    const { exp, got } = await previewAndPublish('roles-operator',
      { targets: { orgs: [citadel], roles: ['company_operator'] } }, { roles: ['company_operator'] });
    assert.equal(exp.included.length, 11);
    assert.deepEqual(Object.keys(got), [`org:${citadel}`]);
  });

  it('role site_console: the consoles get it, the operator does not', async () => {
    const { exp, got } = await previewAndPublish('roles-console',
      { targets: { orgs: [bastion], roles: ['site_console'] } }, { roles: ['site_console'] });
    assert.equal(Object.keys(got).length, exp.included.length);
    assert.ok(Object.keys(got).every((k) => k.startsWith('site:')));
  });

  const circle = { lat: 51.5138, lon: -0.0870, radius_m: 440 };

  it('circle: the sites within 440 m (haversine, R = 6371008.8 m)', async () => {
    const area = { circle };
    // The circle splits the demo sites with a margin, so rounding cannot decide.
    for (const s of sites) {
      const d = distanceM(s.lat, s.lon, circle.lat, circle.lon);
      assert.ok(Math.abs(d - circle.radius_m) > 5, `site ${s.id} is ${d} m from the centre: too close to the edge`);
    }
    const { exp } = await previewAndPublish('circle', { area, targets: { area: true } });
    assert.deepEqual(exp.included, [1, 2, 3, 4, 6, 8, 13, 15, 22, 27, 29, 31, 32]);
  });

  it('polygon: a closed five-point polygon around four Guildhall sites', async () => {
    const polygon = [[51.5172, -0.0960], [51.5165, -0.0905], [51.5138, -0.0912], [51.5141, -0.0958], [51.5172, -0.0960]];
    const { exp } = await previewAndPublish('polygon', { area: { polygon }, targets: { area: true } });
    assert.deepEqual(exp.included, [12, 13, 14, 18]);
  });

  it('sectors + area: finance sites inside the circle (intersection)', async () => {
    const { exp } = await previewAndPublish('sector-area', { area: { circle }, targets: { sectors: ['finance'], area: true } });
    assert.deepEqual(exp.included, [1, 4, 8, 15, 31]);
  });

  it('orgs + sectors: Bastion\'s finance and heritage sites (intersection)', async () => {
    const { exp } = await previewAndPublish('org-sector', { targets: { orgs: [bastion], sectors: ['finance', 'heritage'] } });
    assert.deepEqual(exp.included, [14, 15, 17, 19]);
  });

  it('sites + orgs: the named sites plus every Citadel site (union)', async () => {
    const { exp } = await previewAndPublish('sites-orgs', { targets: { sites: [12, 25], orgs: [citadel] } });
    assert.deepEqual(exp.included, [...sites.filter((s) => s.guard_org_id === citadel).map((s) => s.id), 12, 25]);
  });

  it('sites + orgs + area: named sites plus Sentinel sites in the circle', async () => {
    const { exp } = await previewAndPublish('sites-orgs-area',
      { area: { circle }, targets: { sites: [19], orgs: [sentinel], area: true } });
    assert.deepEqual(exp.included, [19, 27, 29, 31, 32]);
  });

  it('OFFICIAL-SENSITIVE: the preview names the uncleared sites; only cleared consoles hear', async () => {
    const msg = { classification: 'OFFICIAL-SENSITIVE', targets: { orgs: [citadel], sites: [12] } };
    const { exp, pv, got } = await previewAndPublish('sensitive', msg);
    assert.deepEqual(exp.included, [1, 4, 5, 8, 9]);
    assert.deepEqual(exp.excluded, [2, 3, 6, 7, 10, 11, 12]);
    assert.equal(pv.excluded.length, 7);
    for (const m of Object.values(got)) assert.equal(m.alert.classification, 'OFFICIAL-SENSITIVE');
  });

  it('OFFICIAL-SENSITIVE to uncleared sites only: no_recipients, nothing stored', async () => {
    await expectRefused(st, ctl, { type: 'publish', headline: 'secret to the uncleared', severity: 'minor',
      classification: 'OFFICIAL-SENSITIVE', targets: { sites: [2, 3] } }, 'no_recipients');
  });

  it('OFFICIAL-SENSITIVE never reaches an uncleared operator or an uncleared console at a cleared site', async () => {
    // op.bastion loses its clearance, signs in again (clr false).
    await st.query(`UPDATE users SET cleared_sensitive = false WHERE username = 'op.bastion'`);
    const realBastion = await st.login('op.bastion', 'operator-demo');
    assert.equal(decodeToken(realBastion.token).clr, false, 'a sign-in after the change says clr false');
    world.operators.get(bastion).close();
    const opB = await connectMinted(st, 'op.bastion');
    assert.equal(decodeToken(await mintToken(st, 'op.bastion')).clr, false);
    world.operators.set(bastion, opB);

    // A second, uncleared console user at a cleared Bastion site (15, Moorgate).
    await st.query(`INSERT INTO users (username, display_name, password_hash, role, org_id, site_id, cleared_sensitive)
                    SELECT 'console.moorgate.temp', 'Temp desk, Moorgate', password_hash, 'site_console', org_id, site_id, false
                      FROM users WHERE username = 'console.moorgate'`);
    const tempCon = await connectMinted(st, 'console.moorgate.temp');
    const opsConsoleCleared = await connectMinted(st, 'console.moorgate');

    drain(allSessions(), tempCon, opsConsoleCleared);
    const msg = { classification: 'OFFICIAL-SENSITIVE', targets: { orgs: [bastion] } };
    const exp = expectedTargets(sites, msg);
    assert.deepEqual(exp.included, [14, 15, 22]);
    const pv = await ctl.request({ type: 'preview', ...msg });
    assert.deepEqual(ids(pv.recipients), exp.included);
    const pub = await ctl.request({ type: 'publish', headline: `sensitive Bastion ${Date.now()}`, severity: 'minor', ...msg });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    assert.equal(pub.recipients, 3);
    const isIt = (m) => m.type === 'alert' && m.alert?.id === pub.alert_id;
    await Promise.all([
      ...exp.included.map((id) => world.bySite.get(id).next(isIt, 3000, `sensitive alert at site ${id}`)),
      opsConsoleCleared.next(isIt, 3000, 'sensitive alert at the cleared Moorgate console'),
      opB.expectNothing((m) => m.type === 'alert', 700, 'a sensitive alert at the uncleared operator'),
      tempCon.expectNothing((m) => m.type === 'alert', 700, 'a sensitive alert at the uncleared console of a cleared site'),
      ...[...world.bySite].filter(([id]) => !exp.included.includes(id))
        .map(([id, s]) => s.expectNothing((m) => m.type === 'alert', 700, `alert at site ${id}`)),
    ]);
    assert.deepEqual(await recipientsOf(st, pub.alert_id), [14, 15, 22]);
    const temp = await userRow(st, 'console.moorgate.temp');
    const rows = await st.query(`SELECT user_id FROM ${DELIVERIES} d WHERE alert_id = $1`, [pub.alert_id]);
    assert.ok(!rows.some((r) => r.user_id === temp.id || r.user_id === world.operatorUser.get(bastion)),
      `no delivery row for the uncleared users: ${JSON.stringify(rows)}`);

    // Nor on resume: both uncleared sessions resume from before it.
    const from = pub.seq - 1;
    const epoch = opB.welcome.stream?.epoch;
    for (const username of ['op.bastion', 'console.moorgate.temp']) {
      const s = await st.openSocket({ label: `${username} resuming` });
      s.send({ type: 'hello', token: await mintToken(st, username), resume: { epoch, seq: from } });
      const w = await s.next('welcome', 5000);
      assert.equal(w.resume?.status, 'ok', JSON.stringify(w));
      const done = await s.next('resume_done', 5000);
      assert.ok(!s.seen.some(isIt), `${username} got the sensitive alert on resume: ${s.describeSeen()}`);
      assert.equal(done.count, 0, `${username}: ${JSON.stringify(done)}`);
      s.close();
    }
    // ...while the cleared console of the same site does get it replayed.
    const c = await st.openSocket({ label: 'console.moorgate resuming' });
    c.send({ type: 'hello', token: await mintToken(st, 'console.moorgate'), resume: { epoch, seq: from } });
    await c.next('welcome', 5000);
    const replay = await c.next(isIt, 5000, 'the sensitive alert replayed to the cleared console');
    assert.equal(replay.replay, true);
    c.close();
    tempCon.close();
    opsConsoleCleared.close();
  });

  it('a preview stores nothing and a bad preview is refused like a bad publish', async () => {
    const before = await snapshot(st);
    const pv = await ctl.request({ type: 'preview', targets: { orgs: [citadel] } });
    assert.equal(pv.type, 'preview');
    assert.deepEqual(await snapshot(st), before);
    await expectRefused(st, ctl, { type: 'preview', targets: { sectors: ['nosuch'] } }, 'unknown_target', 'targets.sectors[0]');
    await expectRefused(st, ctl, { type: 'preview', targets: { area: true } }, 'bad_field', 'targets.area');
    await expectRefused(st, ctl, { type: 'preview', targets: { sites: [99999] } }, 'unknown_target', 'targets.sites[0]');
    await expectRefused(st, world.bySite.get(1), { type: 'preview', targets: { orgs: [citadel] } }, 'forbidden');
    await expectRefused(st, world.operators.get(citadel), { type: 'preview', targets: { orgs: [citadel] } }, 'forbidden');
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await st.stop();
  });
});
