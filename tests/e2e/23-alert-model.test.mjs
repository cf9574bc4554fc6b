// Alerts in full (docs/protocol.md §2b "Alerts in full"): the CAP-shaped
// model on every frame (live, operator, replay, escalation); exercise and
// test status; update and cancel (same recipients, the reference, inherited
// fields; a cancelled alert is no longer in force); expiry; and bad input,
// each with its typed error and nothing stored.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, RFC3339_MS, sleep, userByName } from './lib/harness.mjs';
import {
  siteRows, connectWorld, connectMinted, orgId, drain, recipientsOf, expectDelivery, expectRefused,
  resumeFrom, snapshot,
} from './lib/alerts.mjs';

const ESCALATE_AFTER_S = 2;

describe('alerts in full: status, update, cancel, expiry, bad input', { timeout: 280_000 }, () => {
  let st;
  let sites;
  let world;
  let ctl, analyst;
  let ctlUser;
  let citadel, bastion, sentinel;
  let X;      // { id, seq, ... } the alert that is updated and cancelled
  let U;      // its update

  before(async () => {
    // Escalation after 2 s, to see status and classification on escalation
    // frames too; every other alert here is minor or moderate.
    st = await Stack.create({ label: import.meta.url, broker: { args: ['--escalate-after', String(ESCALATE_AFTER_S)] } });
    sites = await siteRows(st);
    citadel = await orgId(st, 'Citadel Security');
    bastion = await orgId(st, 'Bastion Guarding');
    sentinel = await orgId(st, 'Sentinel Protective Services');
    world = await connectWorld(st);
    ctl = await st.connectAs('controller');
    analyst = await connectMinted(st, 'analyst');
    ctlUser = await userByName(st, 'controller');
    const an = await userByName(st, 'analyst');
    assert.notEqual(an.org_id, ctlUser.org_id, 'the demo analyst is in another organisation than the controller');
  });
  after(async () => { await st?.cleanup(); });

  const everyone = () => [...world.bySite.values(), ...world.operators.values(), ctl, analyst];
  const guard = (id) => sites.find((s) => s.id === id).guard_org_id;
  const iso = (msFromNow) => new Date(Date.now() + msFromNow).toISOString();

  it('every alert frame carries the full model; exercise status on live, operator and replay frames and in the audit', async () => {
    drain(everyone());
    const effective = iso(-1000);
    const expires = iso(3600_000);
    const area = { circle: { lat: 51.514, lon: -0.0858, radius_m: 150 } };
    const msg = {
      type: 'publish', headline: `Exercise Hydra: suspicious vehicle ${Date.now()}`, body: 'Silver van, engine running.',
      instruction: 'Keep staff inside.', severity: 'moderate', status: 'exercise', category: 'live_incident',
      urgency: 'immediate', certainty: 'observed', effective, expires, area, handling: 'Not for onward sharing',
      targets: { sites: [1, 12] },
    };
    const pub = await ctl.request(msg);
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    const got = await expectDelivery(world, pub.alert_id, { consoleSites: [1, 12], operatorOrgs: [citadel, bastion] });
    const want = {
      id: pub.alert_id, seq: pub.seq, status: 'exercise', msg_type: 'alert', references: null,
      category: 'live_incident', urgency: 'immediate', severity: 'moderate', certainty: 'observed',
      headline: msg.headline, body: msg.body, instruction: msg.instruction, effective, expires, area,
      classification: 'OFFICIAL', handling: msg.handling, request: null, images: [], relay: null,
    };
    for (const [who, frame] of Object.entries(got)) {
      for (const [k, v] of Object.entries(want)) assert.deepEqual(frame.alert[k], v, `${who}: alert.${k}`);
      assert.match(frame.alert.sent_at, RFC3339_MS);
      assert.equal(frame.alert.sender.user_id, ctlUser.id);
    }
    const audit = await st.one(`SELECT detail FROM audit WHERE action = 'publish' AND alert_id = $1`, [pub.alert_id]);
    assert.equal(audit.detail.status, 'exercise');
    assert.equal(audit.detail.classification, 'OFFICIAL');
    const row = await st.one('SELECT status, category, urgency, certainty, handling FROM alerts WHERE id = $1', [pub.alert_id]);
    assert.deepEqual(row, { status: 'exercise', category: 'live_incident', urgency: 'immediate', certainty: 'observed', handling: msg.handling });
    // Replayed on resume, still marked.
    for (const who of ['console.threadneedle', 'op.citadel']) {
      const r = await resumeFrom(st, who, pub.seq - 1);
      assert.deepEqual(r.replayed.map((m) => m.alert.id), [pub.alert_id], who);
      assert.equal(r.replayed[0].alert.status, 'exercise', who);
      assert.deepEqual(r.replayed[0].alert.area, area, who);
    }
  });

  it('defaults: status actual, msg_type alert, category advice, urgency and certainty unknown, OFFICIAL', async () => {
    drain(everyone());
    const pub = await ctl.request({ type: 'publish', headline: `Defaults ${Date.now()}`, severity: 'minor', targets: { sites: [3] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    const got = await expectDelivery(world, pub.alert_id, { consoleSites: [3], operatorOrgs: [citadel] });
    const a = got['site:3'].alert;
    assert.deepEqual({ status: a.status, msg_type: a.msg_type, references: a.references, category: a.category,
      urgency: a.urgency, certainty: a.certainty, classification: a.classification, instruction: a.instruction,
      handling: a.handling, expires: a.expires, area: a.area, request: a.request, images: a.images, relay: a.relay, body: a.body },
    { status: 'actual', msg_type: 'alert', references: null, category: 'advice', urgency: 'unknown', certainty: 'unknown',
      classification: 'OFFICIAL', instruction: '', handling: '', expires: null, area: null, request: null, images: [], relay: null, body: '' });
    assert.equal(a.effective, a.sent_at, 'effective defaults to the time sent');
  });

  it('test status appears on every frame and in the audit', async () => {
    drain(everyone());
    const pub = await ctl.request({ type: 'publish', headline: `Test message ${Date.now()}`, severity: 'minor', status: 'test',
      targets: { sites: [27] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    const got = await expectDelivery(world, pub.alert_id, { consoleSites: [27], operatorOrgs: [sentinel] });
    for (const f of Object.values(got)) assert.equal(f.alert.status, 'test');
    const audit = await st.one(`SELECT detail FROM audit WHERE action = 'publish' AND alert_id = $1`, [pub.alert_id]);
    assert.equal(audit.detail.status, 'test');
    const r = await resumeFrom(st, 'console.cannonst', pub.seq - 1);
    assert.equal(r.replayed[0]?.alert.status, 'test');
  });

  it('an unacknowledged severe exercise escalates with its status on the escalated alert and the escalation frames', async () => {
    drain(everyone());
    const pub = await ctl.request({ type: 'publish', headline: `Exercise escalation ${Date.now()}`, severity: 'severe',
      status: 'exercise', targets: { sites: [13] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    await expectDelivery(world, pub.alert_id, { consoleSites: [13], operatorOrgs: [bastion] });
    const wait = ESCALATE_AFTER_S * 1000 + 6000;
    const again = await world.bySite.get(13).next((m) => m.type === 'alert' && m.alert?.id === pub.alert_id && m.escalated === true,
      wait, 'the escalated alert');
    assert.equal(again.alert.status, 'exercise');
    const e1 = await ctl.next((m) => m.type === 'escalation' && m.alert_id === pub.alert_id, 3000, 'escalation at the sender');
    const e2 = await world.operators.get(bastion).next((m) => m.type === 'escalation' && m.alert_id === pub.alert_id, 3000, 'escalation at the company');
    for (const e of [e1, e2]) {
      assert.equal(e.site_id, 13);
      assert.equal(e.alert.status, 'exercise');
    }
  });

  it('update: same recipients, references X, the new headline, other fields inherited', async () => {
    drain(everyone());
    const orig = {
      type: 'publish', headline: `Protest march on Cornhill ${Date.now()}`, body: 'Approx. 300 people.',
      instruction: 'Close the front doors at 14:00.', severity: 'moderate', status: 'exercise', category: 'planned_event',
      urgency: 'expected', certainty: 'likely', handling: 'Staff only', expires: iso(3600_000),
      targets: { sites: [2, 23] },
    };
    const pub = await ctl.request(orig);
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    const got = await expectDelivery(world, pub.alert_id, { consoleSites: [2, 23], operatorOrgs: [citadel, sentinel] });
    X = { id: pub.alert_id, seq: pub.seq, alert: got['site:2'].alert };

    drain(everyone());
    const headline = `UPDATE: march rerouted via Leadenhall ${Date.now()}`;
    const up = await ctl.request({ type: 'publish', msg_type: 'update', references: X.id, headline, urgency: 'immediate' });
    assert.equal(up.type, 'published', JSON.stringify(up));
    assert.equal(up.recipients, 2);
    const gotU = await expectDelivery(world, up.alert_id, { consoleSites: [2, 23], operatorOrgs: [citadel, sentinel] });
    for (const [who, f] of Object.entries(gotU)) {
      const a = f.alert;
      assert.equal(a.msg_type, 'update', who);
      assert.equal(a.references, X.id, who);
      assert.equal(a.headline, headline, who);
      assert.equal(a.urgency, 'immediate', who);
      for (const k of ['body', 'instruction', 'severity', 'status', 'category', 'certainty', 'handling', 'expires', 'classification', 'area']) {
        assert.deepEqual(a[k], X.alert[k], `${who}: ${k} inherited from X`);
      }
      assert.equal(a.status, 'exercise');
    }
    assert.deepEqual(await recipientsOf(st, up.alert_id), [2, 23]);
    const audit = await st.query(`SELECT action, detail FROM audit WHERE alert_id = $1 AND action IN ('publish', 'update')`, [up.alert_id]);
    assert.deepEqual(audit.map((r) => r.action), ['update']);
    assert.equal(audit[0].detail.references, X.id);
    assert.equal(audit[0].detail.status, 'exercise');
    U = { id: up.alert_id, seq: up.seq };
    // X is not cancelled by an update.
    assert.equal((await st.one('SELECT cancelled_at FROM alerts WHERE id = $1', [X.id])).cancelled_at, null);
  });

  it('an update of a console-only alert goes to the consoles only', async () => {
    drain(everyone());
    const pub = await ctl.request({ type: 'publish', headline: `Consoles only ${Date.now()}`, severity: 'minor',
      targets: { sites: [16], roles: ['site_console'] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    await expectDelivery(world, pub.alert_id, { consoleSites: [16] });
    drain(everyone());
    const up = await ctl.request({ type: 'publish', msg_type: 'update', references: pub.alert_id, headline: 'Consoles only, updated' });
    assert.equal(up.type, 'published', JSON.stringify(up));
    await expectDelivery(world, up.alert_id, { consoleSites: [16] });
  });

  it('cancel: same recipients, X marked cancelled, and X is no longer resumed', async () => {
    assert.ok(X && U);
    drain(everyone());
    const c = await ctl.request({ type: 'publish', msg_type: 'cancel', references: X.id, headline: 'March cancelled' });
    assert.equal(c.type, 'published', JSON.stringify(c));
    assert.equal(c.recipients, 2);
    const got = await expectDelivery(world, c.alert_id, { consoleSites: [2, 23], operatorOrgs: [citadel, sentinel] });
    for (const f of Object.values(got)) {
      assert.equal(f.alert.msg_type, 'cancel');
      assert.equal(f.alert.references, X.id);
      assert.equal(f.alert.headline, 'March cancelled');
      assert.equal(f.alert.status, 'exercise', 'a cancel inherits the status');
    }
    assert.deepEqual(await recipientsOf(st, c.alert_id), [2, 23]);
    const rows = await st.query('SELECT id, cancelled_at FROM alerts WHERE id = ANY($1) ORDER BY id', [[X.id, U.id, c.alert_id]]);
    const byId = Object.fromEntries(rows.map((r) => [r.id, r.cancelled_at]));
    assert.ok(byId[X.id] instanceof Date, `X.cancelled_at set: ${JSON.stringify(rows)}`);
    assert.ok(byId[U.id] instanceof Date, `the update U is cancelled with X: ${JSON.stringify(rows)}`);
    assert.equal(byId[c.alert_id], null);
    const audit = await st.query(`SELECT action FROM audit WHERE alert_id = $1 AND action IN ('publish', 'update', 'cancel')`, [c.alert_id]);
    assert.deepEqual(audit.map((r) => r.action), ['cancel']);

    // A console and an operator resuming from before X: neither X nor its
    // update U (the cancel ends the whole chain: nothing of it is in
    // force), only the cancel itself.
    for (const who of ['console.cornhill', 'console.paternoster', 'op.citadel']) {
      const r = await resumeFrom(st, who, X.seq - 1);
      const replayed = r.replayed.map((m) => m.alert.id);
      assert.ok(!replayed.includes(X.id), `${who}: the cancelled alert X was replayed: ${JSON.stringify(replayed)}`);
      assert.deepEqual(replayed.filter((id) => id === U.id || id === c.alert_id), [c.alert_id], who);
      const cancelFrame = r.replayed.find((m) => m.alert.id === c.alert_id);
      assert.equal(cancelFrame.alert.references, X.id);
    }
  });

  it('a cancelled alert cannot be updated or cancelled again', async () => {
    assert.ok(X);
    await expectRefused(st, ctl, { type: 'publish', msg_type: 'cancel', references: X.id }, 'bad_field', 'references');
    await expectRefused(st, ctl, { type: 'publish', msg_type: 'update', references: X.id, headline: 'too late' }, 'bad_field', 'references');
  });

  it('update or cancel of another organisation\'s alert: forbidden; of an unknown alert: unknown_alert', async () => {
    const pub = await ctl.request({ type: 'publish', headline: `Control room alert ${Date.now()}`, severity: 'minor', targets: { sites: [5] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    await expectRefused(st, analyst, { type: 'publish', msg_type: 'update', references: pub.alert_id, headline: 'hijack' }, 'forbidden');
    await expectRefused(st, analyst, { type: 'publish', msg_type: 'cancel', references: pub.alert_id }, 'forbidden');
    await expectRefused(st, ctl, { type: 'publish', msg_type: 'update', references: 987654321, headline: 'x' }, 'unknown_alert');
    await expectRefused(st, ctl, { type: 'publish', msg_type: 'cancel', references: 987654321 }, 'unknown_alert');
    await expectRefused(st, ctl, { type: 'publish', msg_type: 'update', headline: 'x' }, 'missing_field', 'references');
    await expectRefused(st, ctl, { type: 'publish', msg_type: 'cancel' }, 'missing_field', 'references');
    // Consoles and operators cannot publish at all.
    await expectRefused(st, world.bySite.get(5), { type: 'publish', msg_type: 'cancel', references: pub.alert_id }, 'forbidden');
    await expectRefused(st, world.operators.get(citadel), { type: 'publish', msg_type: 'cancel', references: pub.alert_id }, 'forbidden');
    assert.equal((await st.one('SELECT cancelled_at FROM alerts WHERE id = $1', [pub.alert_id])).cancelled_at, null);
  });

  it('expiry: an alert past its expires is no longer resumed', async () => {
    drain(everyone());
    const expires = iso(3000);
    const pub = await ctl.request({ type: 'publish', headline: `Short-lived ${Date.now()}`, severity: 'minor', expires,
      targets: { sites: [6] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    const got = await expectDelivery(world, pub.alert_id, { consoleSites: [6], operatorOrgs: [citadel] });
    assert.equal(got['site:6'].alert.expires, expires);
    // Before it expires a resume from before it carries it...
    const r1 = await resumeFrom(st, 'console.leadenhall', pub.seq - 1);
    assert.deepEqual(r1.replayed.map((m) => m.alert.id), [pub.alert_id]);
    // ...after, neither the console nor the operator gets it.
    const left = Date.parse(expires) - Date.now();
    await sleep(Math.max(0, left) + 500);
    for (const who of ['console.leadenhall', 'op.citadel']) {
      const r2 = await resumeFrom(st, who, pub.seq - 1);
      assert.deepEqual(r2.replayed.map((m) => m.alert.id), [], `${who} resumed an expired alert`);
    }
  });

  it('expires in the past or not after effective: bad_field expires, nothing stored', async () => {
    const base = { type: 'publish', headline: 'expiry', severity: 'minor', targets: { sites: [6] } };
    await expectRefused(st, ctl, { ...base, expires: iso(-60_000) }, 'bad_field', 'expires');
    await expectRefused(st, ctl, { ...base, expires: iso(-1) }, 'bad_field', 'expires');
    await expectRefused(st, ctl, { ...base, effective: iso(7200_000), expires: iso(3600_000) }, 'bad_field', 'expires');
    await expectRefused(st, ctl, { ...base, expires: 'tomorrow' }, 'bad_field', 'expires');
    await expectRefused(st, ctl, { ...base, effective: '2026-13-01T00:00:00Z' }, 'bad_field', 'effective');
  });

  it('bad input: each gets its typed error and field, and no alert is stored', async () => {
    const before = await snapshot(st);
    const base = { type: 'publish', headline: 'bad input', severity: 'minor', targets: { sites: [1] } };
    const circle = (c) => ({ ...base, area: { circle: { lat: 51.514, lon: -0.088, radius_m: 400, ...c } }, targets: { area: true } });
    const polygon = (p) => ({ ...base, area: { polygon: p }, targets: { area: true } });
    const cases = [
      [{ ...base, category: 'rumour' }, 'bad_field', 'category'],
      [{ ...base, status: 'real' }, 'bad_field', 'status'],
      [{ ...base, msg_type: 'notice' }, 'bad_field', 'msg_type'],
      [{ ...base, urgency: 'now' }, 'bad_field', 'urgency'],
      [{ ...base, certainty: 'sure' }, 'bad_field', 'certainty'],
      [{ ...base, severity: 'catastrophic' }, 'bad_field', 'severity'],
      [{ ...base, classification: 'SECRET' }, 'bad_field', 'classification'],
      [{ ...base, handling: 'x'.repeat(501) }, 'bad_field', 'handling'],
      [{ ...base, instruction: 'x'.repeat(2001) }, 'bad_field', 'instruction'],
      [polygon([[51.51, -0.09], [51.52, -0.08], [51.51, -0.09]]), 'bad_field', 'area.polygon'],
      [polygon([[51.51, -0.09], [51.52, -0.09], [51.52, -0.08], [51.51, -0.08]]), 'bad_field', 'area.polygon'],
      [polygon([[51.51, -0.09], [51.52, -0.09], [91, -0.08], [51.51, -0.09]]), 'bad_field', 'area.polygon[2]'],
      [polygon([[51.51, -0.09], [51.52, 181], [51.52, -0.08], [51.51, -0.09]]), 'bad_field', 'area.polygon[1]'],
      [circle({ lat: 95 }), 'bad_field', 'area.circle.lat'],
      [circle({ lat: -90.5 }), 'bad_field', 'area.circle.lat'],
      [circle({ lon: -181 }), 'bad_field', 'area.circle.lon'],
      [circle({ radius_m: 0 }), 'bad_field', 'area.circle.radius_m'],
      [circle({ radius_m: 50001 }), 'bad_field', 'area.circle.radius_m'],
      [circle({ radius_m: -5 }), 'bad_field', 'area.circle.radius_m'],
      [{ ...base, area: { circle: { lat: 51.5, lon: -0.08, radius_m: 100 }, polygon: [[1, 1], [1, 2], [2, 2], [1, 1]] }, targets: { area: true } }, 'bad_field', 'area'],
      [{ ...base, request: { kind: 'choice', options: ['Only one'] } }, 'bad_field', 'request.options'],
      [{ ...base, targets: { area: true } }, 'bad_field', 'targets.area'],
      [{ ...base, targets: { sectors: ['nosuch'] } }, 'unknown_target', 'targets.sectors[0]'],
      [{ ...base, targets: { sectors: ['finance', 'nosuch'] } }, 'unknown_target', 'targets.sectors[1]'],
      [{ ...base, targets: { orgs: [987654] } }, 'unknown_target', 'targets.orgs[0]'],
      [{ ...base, targets: { sites: [1, 987654] } }, 'unknown_target', 'targets.sites[1]'],
      [{ ...base, targets: { sites: [1], roles: ['admin'] } }, 'bad_field', 'targets.roles[0]'],
      [{ ...base, targets: { sites: [1], roles: [] } }, 'bad_field', 'targets.roles'],
      [{ ...base, targets: {} }, 'bad_field', 'targets'],
      [{ ...base, references: 1 }, 'bad_field', 'references'],
      [{ type: 'publish', msg_type: 'update', references: 1, headline: 'x', targets: { sites: [1] } }, 'bad_field', 'targets'],
      [{ type: 'publish', msg_type: 'cancel', references: 1, targets: { sites: [1] } }, 'bad_field', 'targets'],
      [{ type: 'publish', headline: 'no severity', targets: { sites: [1] } }, 'missing_field', 'severity'],
    ];
    for (const [frame, code, field] of cases) await expectRefused(st, ctl, frame, code, field);
    assert.deepEqual(await snapshot(st), before, 'no alert stored by any of them');
  });

  it('a cancelled or an expired severe alert is not escalated', async () => {
    drain(everyone());
    const a = await ctl.request({ type: 'publish', headline: `Severe, then cancelled ${Date.now()}`, severity: 'severe', targets: { sites: [7] } });
    assert.equal(a.type, 'published', JSON.stringify(a));
    const c = await ctl.request({ type: 'publish', msg_type: 'cancel', references: a.alert_id });
    assert.equal(c.type, 'published', JSON.stringify(c));
    const b = await ctl.request({ type: 'publish', headline: `Severe, short-lived ${Date.now()}`, severity: 'severe',
      expires: iso(1000), targets: { sites: [10] } });
    assert.equal(b.type, 'published', JSON.stringify(b));
    const control = await ctl.request({ type: 'publish', headline: `Severe control ${Date.now()}`, severity: 'severe', targets: { sites: [11] } });
    assert.equal(control.type, 'published', JSON.stringify(control));
    // The control escalates; the cancelled and the expired one do not.
    await world.bySite.get(11).next((m) => m.type === 'alert' && m.alert?.id === control.alert_id && m.escalated, ESCALATE_AFTER_S * 1000 + 6000, 'the control escalated');
    await sleep(1000);
    for (const [site, id] of [[7, a.alert_id], [10, b.alert_id]]) {
      const esc = world.bySite.get(site).seen.find((m) => m.alert?.id === id && m.escalated);
      assert.equal(esc, undefined, `site ${site} got an escalation of a ${site === 7 ? 'cancelled' : 'expired'} alert`);
      assert.ok(!ctl.seen.some((m) => m.type === 'escalation' && m.alert_id === id), `escalation of ${id} at the sender`);
    }
    const rows = await st.query('SELECT alert_id FROM escalations WHERE alert_id = ANY($1)', [[a.alert_id, b.alert_id]]);
    assert.deepEqual(rows, []);
  });

  it('an update of an expired alert is not delivered as a current alert', async () => {
    drain(everyone());
    const pub = await ctl.request({ type: 'publish', headline: `Expires soon ${Date.now()}`, severity: 'minor',
      expires: iso(1500), targets: { sites: [8] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    await world.bySite.get(8).next((m) => m.alert?.id === pub.alert_id, 3000, 'the alert');
    await sleep(2000);
    drain(everyone());
    const up = await ctl.request({ type: 'publish', msg_type: 'update', references: pub.alert_id, headline: 'Update after expiry' });
    if (up.type === 'error') {
      // Refusing is one way to honour "past its expires ... no longer delivered".
      assert.equal(up.code, 'bad_field', JSON.stringify(up));
      return;
    }
    assert.equal(up.type, 'published', JSON.stringify(up));
    await world.bySite.get(8).expectNothing((m) => m.type === 'alert', 700, 'an alert frame for an update of an expired alert');
    const row = await st.one('SELECT expires FROM alerts WHERE id = $1', [up.alert_id]);
    assert.ok(!(row.expires && row.expires < new Date()), `the update was stored already expired (${row.expires?.toISOString()})`);
  });

  it('an update raising the classification to OFFICIAL-SENSITIVE leaves the uncleared sites out', async () => {
    drain(everyone());
    const pub = await ctl.request({ type: 'publish', headline: `Plain first ${Date.now()}`, severity: 'minor', targets: { sites: [1, 2] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    await expectDelivery(world, pub.alert_id, { consoleSites: [1, 2], operatorOrgs: [citadel] });
    drain(everyone());
    const up = await ctl.request({ type: 'publish', msg_type: 'update', references: pub.alert_id, headline: 'Now sensitive',
      classification: 'OFFICIAL-SENSITIVE' });
    assert.equal(up.type, 'published', JSON.stringify(up));
    const got = await expectDelivery(world, up.alert_id, { consoleSites: [1], operatorOrgs: [citadel] });
    assert.equal(got['site:1'].alert.classification, 'OFFICIAL-SENSITIVE');
    assert.deepEqual(await recipientsOf(st, up.alert_id), [1], 'an OFFICIAL-SENSITIVE alert names no uncleared site as a recipient');
    assert.equal(up.recipients, 1, 'published.recipients counts cleared sites only');
  });

  it('OFFICIAL-SENSITIVE escalation is not raised to an uncleared operator', async () => {
    // op.bastion loses its clearance; Gresham Street (14, Bastion) is cleared.
    await st.query(`UPDATE users SET cleared_sensitive = false WHERE username = 'op.bastion'`);
    world.operators.get(bastion).close();
    const opB = await connectMinted(st, 'op.bastion');
    world.operators.set(bastion, opB);
    const opC = world.operators.get(citadel);   // cleared, for contrast
    drain(everyone());
    const pub = await ctl.request({ type: 'publish', headline: `Sensitive, severe ${Date.now()}`, severity: 'severe',
      classification: 'OFFICIAL-SENSITIVE', targets: { sites: [14, 1] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    await expectDelivery(world, pub.alert_id, { consoleSites: [14, 1], operatorOrgs: [citadel] });
    const wait = ESCALATE_AFTER_S * 1000 + 6000;
    await world.bySite.get(14).next((m) => m.type === 'alert' && m.alert?.id === pub.alert_id && m.escalated, wait, 'escalated alert at site 14');
    await opC.next((m) => m.type === 'escalation' && m.alert_id === pub.alert_id && m.site_id === 1, wait, 'escalation at the cleared operator');
    await ctl.next((m) => m.type === 'escalation' && m.alert_id === pub.alert_id && m.site_id === 14, 3000, 'escalation at the sender');
    await sleep(300);
    const leak = opB.seen.find((m) => m.alert_id === pub.alert_id || m.alert?.id === pub.alert_id);
    assert.equal(leak, undefined, `the uncleared operator got ${JSON.stringify(leak)}`);
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await st.stop();
  });
});
