// Crime records from partners (issue 21, items 2 and 4): a console and a
// company operator contribute crimes over the WebSocket protocol (a
// crime_report frame) with a pin, a category and property; the serial is
// stored only as a keyed hash; every contribution is audited and seen by
// the force and by the contributing company as its own, not by another
// company. The stolen-property register: a console reports a stolen phone,
// another partner reports a sighting of the same IMEI (written
// differently) and the control room and the analyst get a property_match
// inbox item with the place; the trail of the serial has two places.
// Bad input gets a typed error naming the field and stores nothing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Stack, consoleDirectory } from './lib/harness.mjs';

const IMEI = '352099001761481';

describe('crime records from partners and the stolen-property register', { timeout: 180_000 }, () => {
  let st, consoles, siteA, siteB, opA, opB, ctl, analyst, cA, ids = {};
  const count = async () => Number((await st.one('SELECT count(*) AS n FROM crime_records')).n);
  const post = async (user, view, body) => st.http('POST', `/api/crime/${view}`, {
    body, headers: { authorization: `Bearer ${await st.token(user)}` },
  });
  const recent = () => new Date(Date.now() - 3_600_000).toISOString();
  const operatorOf = async (orgId) => (await st.one(`SELECT min(username) AS u FROM users
      WHERE org_id = $1 AND role = 'company_operator' AND NOT disabled`, [orgId])).u;

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    consoles = await consoleDirectory(st);
    siteA = consoles[0];
    siteB = consoles.find((c) => c.guard_org_id !== siteA.guard_org_id);
    for (const s of [siteA, siteB]) Object.assign(s, await st.one('SELECT lat, lon FROM sites WHERE id = $1', [s.site_id]));
    opA = await operatorOf(siteA.guard_org_id);
    opB = await operatorOf(siteB.guard_org_id);
    ctl = await st.connectAs('controller');
    analyst = await st.connectAs('analyst');
    cA = await st.connectAs(siteA.username);
  });
  after(async () => { await st?.cleanup(); });

  it('stores a console\'s stolen phone at its site, the serial only as a keyed hash, audited', async () => {
    const at = recent();
    const r = await cA.request({
      type: 'crime_report', category: 'theft-from-the-person', occurred_at: at,
      text: 'Phone taken from a visitor at reception',
      property: { kind: 'mobile phone', make: 'Apple', model: 'iPhone 13', serial: IMEI, status: 'stolen' },
    });
    assert.equal(r.type, 'crime_reported', JSON.stringify(r));
    ids.stolen = r.record_id;
    const item = await ctl.next((m) => m.type === 'partner_report' && m.report?.crime_record_id === r.record_id,
      5000, 'the crime in the force\'s inbox');
    assert.equal(item.report.kind, 'crime');
    assert.equal(item.report.place, 'site');
    assert.equal(item.report.site_id, siteA.site_id);
    assert.equal(item.report.text, 'Phone taken from a visitor at reception');
    const row = await st.one(`SELECT c.*, ST_Y(geom) AS lat, ST_X(geom) AS lon FROM crime_records c WHERE id = $1`, [r.record_id]);
    assert.equal(row.source, 'partner');
    assert.equal(row.org_id, siteA.guard_org_id);
    assert.equal(row.site_id, siteA.site_id);
    assert.equal(row.category, 'theft-from-the-person');
    assert.equal(row.at_precision, 'minute');
    assert.equal(row.at.toISOString(), at);
    assert.ok(Math.abs(row.lat - siteA.lat) < 1e-9 && Math.abs(row.lon - siteA.lon) < 1e-9, 'the place defaults to the site');
    assert.equal(row.property_model, 'iPhone 13');
    assert.equal(row.property_status, 'stolen');
    assert.match(row.serial_hash, /^[0-9a-f]{64}$/);
    assert.notEqual(row.serial_hash, createHash('sha256').update(IMEI).digest('hex'), 'keyed, not a plain SHA-256');
    const everything = JSON.stringify(await st.query('SELECT * FROM crime_records')) + JSON.stringify(await st.query('SELECT * FROM audit'));
    assert.ok(!everything.includes(IMEI), 'the serial itself is stored nowhere');
    const audit = await st.query(`SELECT * FROM audit WHERE action = 'crime_record_added' AND detail->>'record_id' = $1`, [String(r.record_id)]);
    assert.equal(audit.length, 1);
    assert.equal(audit[0].site_id, siteA.site_id);
    assert.equal(audit[0].detail.serial, true);
    assert.equal((await st.one(`SELECT tocsin_audit_category('crime_record_added') AS c`)).c, 'collection');
  });

  it('refuses bad input with a typed error naming the field, and stores nothing', async () => {
    const before = await count();
    const good = { type: 'crime_report', category: 'robbery', occurred_at: recent(), lat: siteB.lat, lon: siteB.lon };
    const cases = [
      [{ category: undefined }, 'missing_field', 'category'],
      [{ category: 'jaywalking' }, 'bad_field', 'category'],
      [{ category: 7 }, 'bad_field', 'category'],
      [{ occurred_at: undefined }, 'missing_field', 'occurred_at'],
      [{ occurred_at: 'yesterday' }, 'bad_field', 'occurred_at'],
      [{ occurred_at: new Date(Date.now() + 86_400_000).toISOString() }, 'bad_field', 'occurred_at'],
      [{ lat: undefined, lon: undefined }, 'bad_field', 'lat'],
      [{ lon: undefined }, 'missing_field', 'lon'],
      [{ lat: 48.85 }, 'bad_field', 'lat'],
      [{ lon: 'west' }, 'bad_field', 'lon'],
      [{ text: 'x'.repeat(2001) }, 'bad_field', 'text'],
      [{ property: 'phone' }, 'bad_field', 'property'],
      [{ property: { kind: 'phone', status: 'lost' } }, 'bad_field', 'property.status'],
      [{ property: { kind: 'y'.repeat(65) } }, 'bad_field', 'property.kind'],
      [{ property: { kind: 'phone', serial: '12' } }, 'bad_field', 'property.serial'],
      [{ property: { kind: 'phone', serial: 'ÅÄÖ-1234' } }, 'bad_field', 'property.serial'],
      [{ property: { kind: 'phone', status: 'sighted' } }, 'bad_field', 'property.serial'],
      [{ image: 42 }, 'bad_field', 'image'],
    ];
    const op = await st.connectAs(opB);
    for (const [over, code, field] of cases) {
      const m = { ...good, ...over };
      for (const k of Object.keys(m)) if (m[k] === undefined) delete m[k];
      const r = await op.request(m);
      assert.equal(r.type, 'error', `${JSON.stringify(over)}: ${JSON.stringify(r)}`);
      assert.equal(r.code, code, `${JSON.stringify(over)}: ${JSON.stringify(r)}`);
      assert.equal(r.field, field, `${JSON.stringify(over)}: ${JSON.stringify(r)}`);
    }
    const admin = await st.connectAs('admin');
    const refused = await admin.request(good);
    assert.equal(refused.code, 'forbidden', JSON.stringify(refused));
    assert.equal(await count(), before, 'nothing stored');
    op.close();
  });

  it('matches another partner\'s sighting of the serial: an inbox item with the place at the control room and the analyst', async () => {
    const op = await st.connectAs(opB);
    const pin = { lat: siteB.lat + 0.0004, lon: siteB.lon - 0.0003 };
    const at = recent();
    const r = await op.request({
      type: 'crime_report', category: 'other-theft', occurred_at: at, ...pin,
      text: 'Handset offered for sale at the loading bay',
      property: { kind: 'mobile phone', serial: '35-209900-176148-1', status: 'sighted' },
    });
    assert.equal(r.type, 'crime_reported', JSON.stringify(r));
    ids.sighted = r.record_id;
    const isMatch = (m) => m.type === 'partner_report' && m.report?.kind === 'property_match'
      && m.report?.crime_record_id === r.record_id;
    const isCrime = (m) => m.type === 'partner_report' && m.report?.kind === 'crime'
      && m.report?.crime_record_id === r.record_id;
    const got = await ctl.next(isMatch, 5000, 'property_match at the controller');
    const rep = got.report;
    assert.equal(rep.kind, 'property_match');
    assert.equal(rep.place, 'sighting');
    assert.ok(Math.abs(rep.lat - pin.lat) < 1e-9 && Math.abs(rep.lon - pin.lon) < 1e-9, JSON.stringify(rep));
    assert.equal(rep.org_id, siteB.guard_org_id);
    assert.match(rep.text, /iPhone 13/);
    assert.match(rep.text, new RegExp(`record ${ids.stolen}\\b`));
    const an = await analyst.next(isMatch, 5000, 'property_match at the analyst');
    assert.deepEqual(an.report, rep);
    // the sighting itself is in the inbox too, as the partner wrote it
    const crime = (await ctl.next(isCrime, 5000, 'the sighting as a crime item')).report;
    assert.equal(crime.text, 'Handset offered for sale at the loading bay');
    assert.equal(crime.place, 'sighting');
    await op.expectNothing((m) => m.type === 'partner_report', 400, 'a match outside the force');
    await cA.expectNothing((m) => m.type === 'partner_report', 100, 'a match outside the force');

    const inbox = await ctl.request({ type: 'inbox', kind: undefined });
    assert.ok(inbox.reports.some((x) => x.id === rep.id && x.kind === 'property_match'), 'in the inbox');
    const audit = await st.query(`SELECT * FROM audit WHERE action = 'property_match_added' AND detail->>'report_id' = $1`, [String(rep.id)]);
    assert.equal(audit.length, 1);
    assert.equal(Number(audit[0].detail.stolen_record_id), ids.stolen);

    // a recovery of a serial not on the register matches nothing
    const matches = `SELECT count(*) AS n FROM partner_reports WHERE kind = 'property_match'`;
    const n = Number((await st.one(matches)).n);
    const other = await op.request({ type: 'crime_report', category: 'other-theft', occurred_at: at, ...pin,
      property: { kind: 'mobile phone', serial: '490154203237518', status: 'recovered' } });
    assert.equal(other.type, 'crime_reported', JSON.stringify(other));
    await ctl.ping();
    assert.equal(Number((await st.one(matches)).n), n);
    op.close();
  });

  it('draws the trail of the serial for the force, two places oldest first; not for a company', async () => {
    const t = await post('analyst', 'trail', { record_id: ids.sighted });
    assert.equal(t.status, 200, t.text);
    assert.deepEqual(t.json.places.map((p) => [p.id, p.status]), [[ids.stolen, 'stolen'], [ids.sighted, 'sighted']]);
    assert.ok(Math.abs(t.json.places[0].lat - siteA.lat) < 1e-6);
    assert.ok(Math.abs(t.json.places[1].lat - (siteB.lat + 0.0004)) < 1e-6);
    const audit = await st.query(`SELECT * FROM audit WHERE action = 'view_crime_trail' ORDER BY id DESC LIMIT 1`);
    assert.deepEqual(audit[0].detail.record_ids.map(Number), [ids.stolen, ids.sighted]);
    const company = await post(opB, 'trail', { record_id: ids.sighted });
    assert.equal(company.status, 403, company.text);
    const bad = await post('analyst', 'trail', { record_id: 'x' });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json.error.field, 'record_id');
  });

  it('takes the force\'s own records onto the register, without an inbox item; a note-less partner record is described', async () => {
    const bike = { kind: 'bicycle', make: 'Brompton', serial: 'BR-2231-77X', status: 'stolen' };
    const r = await analyst.request({ type: 'crime_report', category: 'bicycle-theft', occurred_at: recent(),
      lat: siteB.lat, lon: siteB.lon, property: bike });
    assert.equal(r.type, 'crime_reported', JSON.stringify(r));
    const row = await st.one('SELECT source, org_id, site_id, user_id FROM crime_records WHERE id = $1', [r.record_id]);
    assert.equal(row.source, 'force');
    assert.equal(row.site_id, null);
    await ctl.ping();
    assert.equal(Number((await st.one('SELECT count(*) AS n FROM partner_reports WHERE crime_record_id = $1', [r.record_id])).n), 0);
    // a partner's recovery of it: matched, and its inbox item says what it is
    const op = await st.connectAs(opA);
    const rec = await op.request({ type: 'crime_report', category: 'bicycle-theft', occurred_at: recent(),
      lat: siteA.lat, lon: siteA.lon, property: { kind: 'bicycle', make: 'Brompton', serial: 'br2231 77x', status: 'recovered' } });
    assert.equal(rec.type, 'crime_reported', JSON.stringify(rec));
    const crime = await ctl.next((m) => m.type === 'partner_report' && m.report?.kind === 'crime'
      && m.report?.crime_record_id === rec.record_id, 5000, 'the recovery in the inbox');
    assert.equal(crime.report.text, 'Bicycle theft: bicycle Brompton (recovered)');
    const match = await ctl.next((m) => m.type === 'partner_report' && m.report?.kind === 'property_match'
      && m.report?.crime_record_id === rec.record_id, 5000, 'the recovery matched');
    assert.match(match.report.text, new RegExp(`^Stolen Brompton reported stolen by .* record ${r.record_id}\\), recovered here`));
    op.close();
  });

  it('shows a contribution to the force and to its company as its own, not to another company', async () => {
    const filter = { from: new Date(Date.now() - 7 * 86_400_000).toISOString().slice(0, 10) };
    const force = await post('analyst', 'records', filter);
    assert.equal(force.status, 200, force.text);
    const forceIds = force.json.records.map((x) => x.id);
    assert.ok(forceIds.includes(ids.stolen) && forceIds.includes(ids.sighted), JSON.stringify(forceIds));
    const mine = await post(opA, 'records', filter);
    assert.equal(mine.status, 200, mine.text);
    const own = mine.json.records.find((x) => x.id === ids.stolen);
    assert.ok(own, 'its own record');
    assert.equal(own.property_model, 'iPhone 13');
    assert.equal(own.property_status, 'stolen');
    const theirs = await post(opB, 'records', filter);
    assert.equal(theirs.status, 200, theirs.text);
    assert.ok(!theirs.json.records.some((x) => x.id === ids.stolen), 'another company\'s record is not listed');
    assert.ok(theirs.json.records.some((x) => x.id === ids.sighted), 'its own is');
  });
});
