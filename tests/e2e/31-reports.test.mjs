// Partner reports: a console or a company operator reports to the force;
// the report reaches controllers and analysts live and stays in their
// inbox, and nobody else sees it. Bad input and wrong roles change nothing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, RFC3339_MS, consoleDirectory, userByName } from './lib/harness.mjs';
import { expectRefused, snapshot } from './lib/status-helpers.mjs';

describe('partner reports and the inbox', { timeout: 180_000 }, () => {
  let st;
  let compA, compB, siteA, siteB;
  let ctl, analyst, opA, opB, cA, cB;
  let first;   // the console's report as the controller got it live

  const isReport = (id) => (m) => m.type === 'partner_report' && m.report?.id === id;

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    const consoles = await consoleDirectory(st);
    const orgs = await st.query(`SELECT o.id, o.name,
                                        (SELECT min(u.username) FROM users u WHERE u.org_id = o.id
                                            AND u.role = 'company_operator' AND NOT u.disabled) AS operator
                                   FROM organisations o WHERE o.kind = 'security_company' ORDER BY o.id`);
    const companies = orgs.filter((o) => o.operator && consoles.some((c) => c.guard_org_id === o.id));
    assert.ok(companies.length >= 2, `two companies with consoles and an operator: ${JSON.stringify(orgs)}`);
    [compA, compB] = companies;
    siteA = consoles.find((c) => c.guard_org_id === compA.id);
    siteB = consoles.find((c) => c.guard_org_id === compB.id);
    Object.assign(siteA, await st.one('SELECT lat, lon FROM sites WHERE id = $1', [siteA.site_id]));

    ctl = await st.connectAs('controller');
    analyst = await st.connectAs('analyst');
    opA = await st.connectAs(compA.operator);
    opB = await st.connectAs(compB.operator);
    cA = await st.connectAs(siteA.username);
    cB = await st.connectAs(siteB.username);
  });
  after(async () => { await st?.cleanup(); });

  it('delivers a console\'s report live to controllers and analysts only, and keeps it', async () => {
    const occurred = new Date(Date.now() - 120_000).toISOString();
    const text = `Man matching the offender image at the side door ${Date.now()}`;
    // site_id in the message is ignored: the site comes from the token.
    const r = await cA.request({ type: 'report', kind: 'sighting', text, occurred_at: occurred, site_id: siteB.site_id });
    assert.equal(r.type, 'reported', JSON.stringify(r));
    assert.equal(typeof r.report_id, 'number');

    const got = await ctl.next(isReport(r.report_id), 3000, 'partner_report at the controller');
    const rep = got.report;
    const user = await userByName(st, siteA.username);
    assert.equal(rep.kind, 'sighting');
    assert.equal(rep.text, text);
    assert.equal(rep.lat, siteA.lat, 'the location defaults to the site\'s');
    assert.equal(rep.lon, siteA.lon);
    assert.equal(rep.occurred_at, occurred);
    assert.match(rep.received_at, RFC3339_MS);
    assert.equal(rep.site_id, siteA.site_id);
    assert.equal(rep.site_name, siteA.site_name);
    assert.equal(rep.org_id, compA.id);
    assert.equal(rep.org_name, compA.name);
    assert.equal(rep.by, user.display_name);
    assert.equal(rep.image, null);
    const an = await analyst.next(isReport(r.report_id), 3000, 'partner_report at the analyst');
    assert.deepEqual(an.report, rep);
    await Promise.all([cA, cB, opA, opB].map((s) => s.expectNothing((m) => m.type === 'partner_report', 400, 'a partner report outside the force')));

    const row = await st.one('SELECT * FROM partner_reports WHERE id = $1', [r.report_id]);
    assert.equal(row.user_id, user.id);
    assert.equal(row.site_id, siteA.site_id);
    assert.equal(row.org_id, compA.id);
    assert.equal(row.kind, 'sighting');
    assert.equal(row.text, text);
    assert.equal(row.occurred_at.toISOString(), occurred);
    const audit = await st.query(`SELECT * FROM audit WHERE action = 'partner_report' AND detail->>'report_id' = $1`, [String(r.report_id)]);
    assert.equal(audit.length, 1);
    assert.equal(audit[0].actor_user_id, user.id);
    assert.equal(audit[0].site_id, siteA.site_id);
    first = rep;

    const inbox = await ctl.request({ type: 'inbox' });
    assert.equal(inbox.type, 'inbox', JSON.stringify(inbox));
    assert.deepEqual(inbox.reports[0], rep, 'the newest report first, as it went out live');
    const ctlUser = await userByName(st, 'controller');
    const views = await st.query(`SELECT detail FROM audit WHERE action = 'view_inbox' AND actor_user_id = $1`, [ctlUser.id]);
    assert.equal(views.length, 1, 'reading the inbox is audited');
    assert.deepEqual(views[0].detail.reports, [r.report_id]);
  });

  it('takes a company operator\'s report with a location and an image', async () => {
    assert.ok(first, 'the first test ran');
    const r = await opA.request({ type: 'report', kind: 'crime', text: 'Theft from a delivery van on Lime Street',
      lat: 51.5129, lon: -0.0816, image: 'img-0001' });
    assert.equal(r.type, 'reported', JSON.stringify(r));
    const got = await analyst.next(isReport(r.report_id), 3000, 'partner_report at the analyst');
    const op = await userByName(st, compA.operator);
    assert.equal(got.report.site_id, null);
    assert.equal(got.report.org_id, compA.id);
    assert.equal(got.report.by, op.display_name);
    assert.equal(got.report.lat, 51.5129);
    assert.equal(got.report.image, 'img-0001');
    assert.match(got.report.occurred_at, RFC3339_MS, 'occurred_at defaults to now');
    await ctl.next(isReport(r.report_id), 3000, 'partner_report at the controller');
    await opB.expectNothing((m) => m.type === 'partner_report', 300, 'a report at another company');

    const inbox = await analyst.request({ type: 'inbox' });
    assert.deepEqual(inbox.reports.map((x) => x.id), [r.report_id, first.id], 'newest first');
    const one = await analyst.request({ type: 'inbox', limit: 1 });
    assert.deepEqual(one.reports.map((x) => x.id), [r.report_id]);
  });

  it('refuses bad report members with a typed error naming the field, storing nothing', async () => {
    const ok = { type: 'report', kind: 'suspicious', text: 'Someone photographing the entrances' };
    await expectRefused(st, cA, { ...ok, kind: 'rumour' }, 'bad_field', 'kind');
    await expectRefused(st, cA, { ...ok, kind: undefined }, 'missing_field', 'kind');
    await expectRefused(st, cA, { ...ok, text: '' }, 'bad_field', 'text');
    await expectRefused(st, cA, { ...ok, text: undefined }, 'missing_field', 'text');
    await expectRefused(st, cA, { ...ok, text: 'x'.repeat(2001) }, 'bad_field', 'text');
    await expectRefused(st, cA, { ...ok, lat: 95, lon: 0 }, 'bad_field', 'lat');
    await expectRefused(st, cA, { ...ok, lat: 51.5, lon: 181 }, 'bad_field', 'lon');
    await expectRefused(st, cA, { ...ok, lat: 51.5 }, 'missing_field', 'lon');
    await expectRefused(st, opA, { ...ok, occurred_at: 'yesterday' }, 'bad_field', 'occurred_at');
    await expectRefused(st, opA, { ...ok, occurred_at: '2026-13-45T10:00:00Z' }, 'bad_field', 'occurred_at');
    await expectRefused(st, opA, { ...ok, occurred_at: new Date(Date.now() + 3_600_000).toISOString() }, 'bad_field', 'occurred_at');
    await expectRefused(st, cA, { ...ok, image: 'i'.repeat(65) }, 'bad_field', 'image');
    await expectRefused(st, ctl, { type: 'inbox', limit: 0 }, 'bad_field', 'limit');
    await expectRefused(st, ctl, { type: 'inbox', limit: 201 }, 'bad_field', 'limit');
  });

  it('refuses reports from the force and the inbox to partners', async () => {
    const ok = { type: 'report', kind: 'other', text: 'A note' };
    await expectRefused(st, ctl, ok, 'forbidden');
    await expectRefused(st, analyst, ok, 'forbidden');
    const before = await snapshot(st);
    await expectRefused(st, cA, { type: 'inbox' }, 'forbidden');
    await expectRefused(st, opA, { type: 'inbox' }, 'forbidden');
    assert.deepEqual(await snapshot(st), before);
  });

  it('stops cleanly (no sanitizer report)', async () => {
    await st.stop();
  });
});
