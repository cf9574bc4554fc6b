// The partner reports inbox is a work queue (issue 17, item 9): a report
// carries the place of the sighting when the sender gives one (checked to
// lie in the force's area), else its site's; the force marks reports
// handled, assigns them to a colleague and links them to an alert
// (`report_update`, one audit row per change, every desk told at once);
// the inbox filters by kind, company, time, state and text. Everyone but
// controllers and analysts is refused; bad values are refused with the
// field named and change nothing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, RFC3339_MS, newRef, userByName } from './lib/harness.mjs';

describe('the inbox as a work queue', { timeout: 180_000 }, () => {
  let st, ctl, ctl2, analyst, admin, con, op, conUser, opUser, analystUser, ctlUser;
  const R = {};      // reports by name: {id, text}

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    ctl = await st.connectAs('controller');
    ctl2 = await st.connectAs('controller2');
    analyst = await st.connectAs('analyst');
    admin = await st.connectAs('admin');
    con = await st.connectAs('console.cheapside');
    op = await st.connectAs('op.citadel');
    conUser = await userByName(st, 'console.cheapside');
    opUser = await userByName(st, 'op.citadel');
    analystUser = await userByName(st, 'analyst');
    ctlUser = await userByName(st, 'controller');
  });
  after(async () => { await st?.cleanup(); });

  async function report(s, name, fields) {
    const text = `${name} ${newRef('t')}`;
    const r = await s.request({ type: 'report', text, ...fields }, 10000);
    assert.equal(r.type, 'reported', JSON.stringify(r));
    const live = await ctl.next((m) => m.type === 'partner_report' && m.report.id === r.report_id, 10000, `${name} live`);
    R[name] = { id: r.report_id, text, report: live.report };
    return live.report;
  }

  /* The fields report_update may change, and the audit rows about it. */
  async function state(id) {
    return (await st.query(`SELECT handled_at IS NOT NULL AS handled, handled_by, assigned_to, alert_id,
                          (SELECT count(*)::int FROM audit WHERE action = 'report_updated'
                              AND detail->>'report_id' = $2) AS audited
                     FROM partner_reports WHERE id = $1`, [id, String(id)]))[0] ?? null;
  }

  async function refused(s, frame, code, field) {
    const before = frame.report_id ? await state(frame.report_id) : null;
    const r = await s.request({ type: 'report_update', ...frame }, 10000);
    assert.equal(r.type, 'error', `want ${code} for ${JSON.stringify(frame)}: ${JSON.stringify(r)}`);
    assert.equal(r.code, code, JSON.stringify(r));
    if (field !== undefined) assert.equal(r.field, field, JSON.stringify(r));
    if (before) assert.deepEqual(await state(frame.report_id), before, `${JSON.stringify(frame)} changed nothing`);
  }

  it('a report carries the place of the sighting, or its site\'s, or none', async () => {
    const pin = await report(con, 'pinned', { kind: 'sighting', lat: 51.5151, lon: -0.0921 });
    assert.equal(pin.place, 'sighting');
    assert.equal(pin.lat, 51.5151);
    assert.equal(pin.lon, -0.0921);
    const site = await report(con, 'at site', { kind: 'suspicious' });
    assert.equal(site.place, 'site', 'a console without a pin reports from its site');
    const none = await report(op, 'no place', { kind: 'crime' });
    assert.equal(none.place, null, 'an operator without a pin gives no place');
    assert.equal(none.lat, null);
    for (const r of [pin, site, none]) {
      assert.equal(r.handled_at, null);
      assert.equal(r.assigned_to, null);
      assert.equal(r.alert_id, null);
    }
    // Outside the force's area: refused, nothing stored.
    const n = Number((await st.one('SELECT count(*) FROM partner_reports')).count);
    for (const [over, field] of [[{ lat: 48.8566, lon: 2.3522 }, 'lat'], [{ lat: 51.5, lon: 1.2 }, 'lon'], [{ lat: 52.5, lon: -0.09 }, 'lat']]) {
      const r = await con.request({ type: 'report', kind: 'other', text: 'far away', ...over }, 10000);
      assert.equal(r.type, 'error', JSON.stringify(r));
      assert.equal(r.code, 'bad_field');
      assert.equal(r.field, field, JSON.stringify(r));
    }
    assert.equal(Number((await st.one('SELECT count(*) FROM partner_reports')).count), n);
  });

  it('marks a report handled and reopens it; every desk hears; each change audited', async () => {
    const id = R.pinned.id;
    const r = await ctl.request({ type: 'report_update', report_id: id, handled: true }, 10000);
    assert.equal(r.type, 'report_updated', JSON.stringify(r));
    assert.match(r.report.handled_at, RFC3339_MS);
    assert.equal(r.report.handled_by, 'PC Ada Hart (Control Room)');
    for (const s of [ctl2, analyst]) {
      const u = await s.next((m) => m.type === 'report_updated' && m.report.id === id && m.report.handled_at, 10000, 'the update live');
      assert.equal(u.report.text, R.pinned.text);
    }
    const audit = await st.one(`SELECT actor_user_id, detail FROM audit WHERE action = 'report_updated'
                                  AND detail->>'report_id' = $1 ORDER BY id DESC LIMIT 1`, [String(id)]);
    assert.equal(audit.actor_user_id, ctlUser.id);
    assert.equal(audit.detail.change, 'handled');

    const back = await analyst.request({ type: 'report_update', report_id: id, handled: false }, 10000);
    assert.equal(back.type, 'report_updated', JSON.stringify(back));
    assert.equal(back.report.handled_at, null);
    assert.equal((await state(id)).audited, 2);
  });

  it('assigns a report to a colleague and links it to an alert, in one request or two', async () => {
    const id = R['at site'].id;
    const pub = await ctl.request({ type: 'publish', headline: `Linked ${newRef('l')}`, severity: 'minor', targets: { sites: [12] } }, 10000);
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    const r = await ctl.request({ type: 'report_update', report_id: id, assigned_to: analystUser.id, alert_id: pub.alert_id }, 10000);
    assert.equal(r.type, 'report_updated', JSON.stringify(r));
    assert.equal(r.report.assigned_to, analystUser.id);
    assert.equal(r.report.assigned_to_name, 'DC Priya Shah (Intelligence Unit)');
    assert.equal(r.report.alert_id, pub.alert_id);
    const s = await state(id);
    assert.deepEqual([s.assigned_to, s.alert_id, s.audited], [analystUser.id, pub.alert_id, 2], 'one audit row per change');
    const changes = (await st.query(`SELECT detail->>'change' AS c FROM audit WHERE action = 'report_updated'
                                       AND detail->>'report_id' = $1 ORDER BY id`, [String(id)])).map((x) => x.c);
    assert.deepEqual(changes.sort(), ['assigned', 'linked']);
    const un = await ctl.request({ type: 'report_update', report_id: id, assigned_to: null, alert_id: null }, 10000);
    assert.equal(un.report.assigned_to, null);
    assert.equal(un.report.alert_id, null);
    assert.equal((await state(id)).audited, 4);
    // The inbox shows what was done, and lists the colleagues to assign to.
    const inbox = await ctl.request({ type: 'inbox' }, 10000);
    assert.equal(inbox.type, 'inbox', JSON.stringify(inbox));
    assert.ok(inbox.colleagues.some((c) => c.id === analystUser.id && c.display_name && c.role === 'analyst'));
    assert.ok(!inbox.colleagues.some((c) => c.id === conUser.id || c.id === opUser.id), 'only the force');
  });

  it('refuses bad updates with the field named, changing nothing', async () => {
    const id = R['no place'].id;
    await refused(ctl, { report_id: id }, 'missing_field', 'handled');
    await refused(ctl, { report_id: id, handled: 'yes' }, 'bad_field', 'handled');
    await refused(ctl, { report_id: id, assigned_to: conUser.id }, 'bad_field', 'assigned_to');
    await refused(ctl, { report_id: id, assigned_to: 'analyst' }, 'bad_field', 'assigned_to');
    await refused(ctl, { report_id: id, alert_id: 999999999 }, 'unknown_alert', 'alert_id');
    await refused(ctl, { report_id: id, alert_id: -3 }, 'bad_field', 'alert_id');
    await refused(ctl, { report_id: 987654, handled: true }, 'unknown_target', 'report_id');
    await refused(ctl, { handled: true }, 'missing_field', 'report_id');
    for (const s of [con, op, admin]) await refused(s, { report_id: id, handled: true }, 'forbidden');
  });

  it('filters the inbox by kind, company, time, state and text', async () => {
    await ctl.request({ type: 'report_update', report_id: R.pinned.id, handled: true }, 10000);
    const ask = async (filter) => {
      const r = await ctl.request({ type: 'inbox', ...filter }, 10000);
      assert.equal(r.type, 'inbox', JSON.stringify(r));
      return r.reports.map((x) => x.id);
    };
    assert.deepEqual(await ask({ kind: 'crime' }), [R['no place'].id]);
    assert.deepEqual((await ask({ org_id: conUser.org_id })).sort(), [R.pinned.id, R['at site'].id].sort());
    assert.deepEqual(await ask({ q: R['at site'].text.slice(-6).toUpperCase() }), [R['at site'].id], 'text, any case');
    assert.deepEqual(await ask({ q: 'Cheapside Galleria', kind: 'sighting' }), [R.pinned.id], 'the site\'s name');
    assert.deepEqual(await ask({ handled: true }), [R.pinned.id]);
    assert.ok(!(await ask({ handled: false })).includes(R.pinned.id));
    const at = Date.parse(R['at site'].report.received_at);
    assert.deepEqual(await ask({ since: new Date(at + 1).toISOString() }), [R['no place'].id]);
    assert.deepEqual(await ask({ until: new Date(at).toISOString() }), [R.pinned.id]);
    assert.deepEqual(await ask({ q: '100% _not_ there' }), [], 'search text is not a pattern');
    const audit = await st.one(`SELECT detail FROM audit WHERE action = 'view_inbox' ORDER BY id DESC LIMIT 1`);
    assert.deepEqual(audit.detail.filter, { q: '100% _not_ there' }, 'the inbox read is audited with its filter');

    for (const [f, field] of [[{ kind: 'rumour' }, 'kind'], [{ org_id: 'Citadel' }, 'org_id'], [{ since: 'yesterday' }, 'since'],
      [{ q: 'x'.repeat(101) }, 'q'], [{ handled: 1 }, 'handled'], [{ until: 5 }, 'until']]) {
      const r = await ctl.request({ type: 'inbox', ...f }, 10000);
      assert.equal(r.type, 'error', JSON.stringify(r));
      assert.equal(r.code, 'bad_field');
      assert.equal(r.field, field, JSON.stringify(r));
    }
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await st.stop();
  });
});
