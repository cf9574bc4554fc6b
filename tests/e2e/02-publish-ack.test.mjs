// The core loop: a controller publishes, consoles receive and acknowledge,
// the controller sees the tallies, and the database keeps the record.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, RFC3339_MS, consoleDirectory, userByName, waitFor, newRef, DELIVERIES } from './lib/harness.mjs';

describe('publish, deliver, acknowledge', { timeout: 240_000 }, () => {
  let st;
  let ctlUser;
  let consoles;       // every site console with its site and company
  let companies;      // [{ id, name, sites: [site ids], operator }]
  let compA, compB;   // two companies
  let siteA1, siteB1; // a console row of each
  let ctl, ctl2, analyst, conA1, conB1, opA, opB;
  let alert1;         // { id, headline } of the single-site alert

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    ctlUser = await userByName(st, 'controller');
    consoles = await consoleDirectory(st);
    const orgs = await st.query(`SELECT o.id, o.name,
                                        (SELECT array_agg(s.id ORDER BY s.id) FROM sites s WHERE s.guard_org_id = o.id) AS sites,
                                        (SELECT min(u.username) FROM users u WHERE u.org_id = o.id
                                            AND u.role = 'company_operator' AND NOT u.disabled) AS operator
                                   FROM organisations o WHERE o.kind = 'security_company' ORDER BY o.id`);
    companies = orgs.filter((o) => o.sites?.length && o.operator && consoles.some((c) => c.guard_org_id === o.id));
    assert.ok(companies.length >= 2, `demo data has at least two companies with sites, consoles and an operator: ${JSON.stringify(orgs)}`);
    [compA, compB] = companies;
    siteA1 = consoles.find((c) => c.guard_org_id === compA.id);
    siteB1 = consoles.find((c) => c.guard_org_id === compB.id);

    ctl = await st.connectAs('controller');
    conA1 = await st.connectAs(siteA1.username);
    conB1 = await st.connectAs(siteB1.username);
    opA = await st.connectAs(compA.operator);
    opB = await st.connectAs(compB.operator);
  });
  after(async () => { await st?.cleanup(); });

  it('delivers an alert for one site to that site only, and tallies delivery and acknowledgement', async () => {
    const headline = `Suspicious package near ${siteA1.site_name} ${Date.now()}`;
    const body = 'Cordon in place. Keep staff away from the front doors.';
    const ref = newRef('pub');
    const t0 = Date.now();
    ctl.send({ type: 'publish', ref, headline, body, severity: 'severe', targets: { sites: [siteA1.site_id] } });

    // The site's console gets the alert within a second.
    const got = await conA1.next((m) => m.type === 'alert' && m.alert?.headline === headline, 1000, 'the alert');
    const latency = Date.now() - t0;
    const a = got.alert;
    assert.equal(typeof a.id, 'number');
    assert.equal(typeof a.seq, 'number');
    assert.equal(a.body, body);
    assert.equal(a.severity, 'severe');
    assert.match(a.sent_at, RFC3339_MS);
    assert.equal(a.sender.user_id, ctlUser.id);
    assert.equal(a.sender.org_id, ctlUser.org_id);
    assert.equal(a.sender.org_name, ctlUser.org_name);
    assert.equal(a.sender.display_name, ctlUser.display_name);

    const pub = await ctl.next((m) => m.ref === ref, 3000, 'published');
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    assert.equal(pub.alert_id, a.id);
    assert.equal(pub.seq, a.seq);
    assert.equal(pub.recipients, 1);
    assert.equal(pub.durable, 'database', 'PostgreSQL is up: the alert is durable in the database');
    assert.ok(Number.isSafeInteger(pub.alert_id) && pub.alert_id > 0);
    assert.match(pub.sent_at, RFC3339_MS);
    alert1 = { id: a.id, headline };

    // The guarding company's operator gets it too.
    const opGot = await opA.next((m) => m.type === 'alert' && m.alert?.id === a.id, 2000, 'the alert (operator)');
    assert.equal(opGot.alert.headline, headline);

    // Another company's console and operator get nothing.
    await Promise.all([
      conB1.expectNothing((m) => m.type === 'alert', 500, 'alert at another company\'s console'),
      opB.expectNothing((m) => m.type === 'alert', 500, 'alert at another company\'s operator'),
    ]);
    // Consoles get no tallies.
    assert.ok(!conA1.queue.some((m) => m.type === 'tally'), `a console got a tally: ${conA1.describeSeen()}`);

    // The controller's tally reaches delivered=1.
    const t1 = await ctl.next((m) => m.type === 'tally' && m.alert_id === a.id && m.delivered === 1, 5000, 'tally delivered=1');
    assert.equal(t1.recipients, 1);
    assert.equal(t1.acknowledged, 0);

    // Acknowledge; a second acknowledgement is answered already=true.
    const ack1 = await conA1.request({ type: 'ack', ref: newRef('ack'), alert_id: a.id });
    assert.equal(ack1.type, 'acked', JSON.stringify(ack1));
    assert.equal(ack1.alert_id, a.id);
    assert.equal(ack1.already, false);
    assert.equal(ack1.durable, 'database');
    assert.match(ack1.acked_at, RFC3339_MS);
    const ack2 = await conA1.request({ type: 'ack', ref: newRef('ack'), alert_id: a.id });
    assert.equal(ack2.type, 'acked', JSON.stringify(ack2));
    assert.equal(ack2.already, true);
    assert.equal(ack2.acked_at, ack1.acked_at, 'the first acknowledgement\'s time is kept');

    const t2 = await ctl.next((m) => m.type === 'tally' && m.alert_id === a.id && m.acknowledged === 1, 5000, 'tally acknowledged=1');
    assert.equal(t2.recipients, 1);
    assert.equal(t2.delivered, 1);
    // No tally ever counts more than the one recipient site.
    for (const m of ctl.seen.filter((x) => x.type === 'tally' && x.alert_id === a.id)) {
      assert.ok(m.delivered <= 1 && m.acknowledged <= 1, `tally over the recipients: ${JSON.stringify(m)}`);
    }
    console.log(`# alert ${a.id} reached the console ${latency} ms after publish`);
  });

  it('records the alert, its recipients, delivery, acknowledgement and audit rows', async () => {
    assert.ok(alert1, 'the previous test published');
    const id = alert1.id;
    const [row] = await st.query('SELECT * FROM alerts WHERE id = $1', [id]);
    assert.ok(row, `alert ${id} stored`);
    assert.equal(row.headline, alert1.headline);
    assert.equal(row.sender_user_id, ctlUser.id);
    assert.equal(row.sender_org_id, ctlUser.org_id);
    assert.equal(row.severity, 'severe');

    const rec = await st.query('SELECT site_id FROM alert_recipients WHERE alert_id = $1 ORDER BY site_id', [id]);
    assert.deepEqual(rec.map((r) => r.site_id), [siteA1.site_id]);

    // Deliveries are written in batches: wait (bounded).
    const audit = await waitFor(async () => {
      const rows = await st.query('SELECT * FROM audit WHERE alert_id = $1 ORDER BY id', [id]);
      const has = (action) => rows.some((r) => r.action === action);
      return has('publish') && has('deliver') && has('ack') ? rows : null;
    }, { timeoutMs: 10000, what: `publish, deliver and ack audit rows for alert ${id}` });

    const pub = audit.filter((r) => r.action === 'publish');
    assert.equal(pub.length, 1);
    assert.equal(pub[0].actor_user_id, ctlUser.id);
    assert.equal(pub[0].actor_username, 'controller');
    assert.equal(pub[0].actor_role, 'controller');
    assert.equal(pub[0].actor_org_id, ctlUser.org_id);

    // One deliver row per (alert, batch of recipients), by the broker, listing
    // the sites and users the batch reached (tocsin_record_deliveries,
    // sql/functions/delivery.sql).
    const deliver = audit.filter((r) => r.action === 'deliver');
    assert.ok(deliver.length >= 1, 'a deliver row for the alert');
    for (const r of deliver) {
      assert.equal(r.actor_role, 'system');
      assert.equal(r.actor_username, 'tocsind');
      assert.deepEqual(r.detail.sites, [siteA1.site_id], `only the recipient site: ${JSON.stringify(r.detail)}`);
      assert.ok(r.detail.users.includes(siteA1.user_id), `the console's user: ${JSON.stringify(r.detail)}`);
      const [batch] = await st.query('SELECT * FROM delivery_batches WHERE id = $1', [r.detail.batch]);
      assert.ok(batch, `the batch row ${r.detail.batch}`);
      assert.equal(Number(batch.alert_id), Number(id));
      assert.equal(batch.n, r.detail.count);
    }

    const acks = audit.filter((r) => r.action === 'ack');
    assert.equal(acks.length, 2, 'both acknowledgements audited');
    for (const r of acks) {
      assert.equal(r.site_id, siteA1.site_id);
      assert.equal(r.actor_user_id, siteA1.user_id);
      assert.equal(r.actor_role, 'site_console');
    }

    const deliveries = await st.query(`SELECT * FROM ${DELIVERIES} d WHERE alert_id = $1`, [id]);
    assert.ok(deliveries.some((d) => d.site_id === siteA1.site_id && d.user_id === siteA1.user_id),
      `a delivery row for the console: ${JSON.stringify(deliveries)}`);
    assert.ok(!deliveries.some((d) => d.site_id != null && d.site_id !== siteA1.site_id),
      `no delivery to a site that was not a recipient: ${JSON.stringify(deliveries)}`);
    // "did site X receive alert Y, and when": from the delivery batches
    const when = deliveries.find((d) => d.site_id === siteA1.site_id).delivered_at;
    assert.ok(when instanceof Date && when >= row.sent_at, `delivered at ${when}, sent at ${row.sent_at}`);

    const ackRows = await st.query('SELECT * FROM acks WHERE alert_id = $1', [id]);
    assert.equal(ackRows.length, 1);
    assert.equal(ackRows[0].site_id, siteA1.site_id);
    assert.equal(ackRows[0].user_id, siteA1.user_id);
  });

  it('delivers an alert for a whole company to every console of its sites and no other', async () => {
    // Connect every console of company A (A1 already is) and a few of others.
    const consA = consoles.filter((c) => c.guard_org_id === compA.id);
    const others = companies.slice(1).flatMap((o) => consoles.filter((c) => c.guard_org_id === o.id).slice(0, 2));
    const sessA = [conA1];
    for (const c of consA) if (c.username !== siteA1.username) sessA.push(await st.connectAs(c.username));
    const sessOther = [conB1];
    for (const c of others) if (c.username !== siteB1.username) sessOther.push(await st.connectAs(c.username));

    const headline = `Company-wide alert for ${compA.name} ${Date.now()}`;
    const pub = await ctl.request({ type: 'publish', headline, body: '', severity: 'moderate', targets: { orgs: [compA.id] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    assert.equal(pub.recipients, compA.sites.length, `recipients = the ${compA.sites.length} sites ${compA.name} guards`);

    await Promise.all(sessA.map((s) => s.next((m) => m.type === 'alert' && m.alert?.id === pub.alert_id, 2000, 'the company alert')));
    await opA.next((m) => m.type === 'alert' && m.alert?.id === pub.alert_id, 2000, 'the company alert (operator)');
    await Promise.all([
      ...sessOther.map((s) => s.expectNothing((m) => m.type === 'alert', 500, 'alert at another company\'s console')),
      opB.expectNothing((m) => m.type === 'alert', 500, 'alert at another company\'s operator'),
    ]);

    const rec = await st.query('SELECT site_id FROM alert_recipients WHERE alert_id = $1 ORDER BY site_id', [pub.alert_id]);
    assert.deepEqual(rec.map((r) => r.site_id), compA.sites);

    const connectedSites = new Set(consA.map((c) => c.site_id)).size;
    const tally = await ctl.next((m) => m.type === 'tally' && m.alert_id === pub.alert_id && m.delivered === connectedSites,
      8000, `tally delivered=${connectedSites}`);
    assert.equal(tally.recipients, compA.sites.length);
    assert.equal(tally.acknowledged, 0);

    // One console acknowledges: acknowledged=1, the others are still counted as delivered.
    const ack = await sessA[1 % sessA.length].request({ type: 'ack', alert_id: pub.alert_id });
    assert.equal(ack.type, 'acked', JSON.stringify(ack));
    assert.equal(ack.already, false);
    const t2 = await ctl.next((m) => m.type === 'tally' && m.alert_id === pub.alert_id && m.acknowledged === 1, 5000, 'tally acknowledged=1');
    assert.equal(t2.delivered, connectedSites);

    for (const s of sessA.slice(1)) s.close();
    for (const s of sessOther.slice(1)) s.close();
  });

  // The shared control room (issue 17): every controller and analyst of
  // the force watches every alert in force, whoever sent it.
  it('sends tallies to every controller and analyst of the force, of whichever organisation', async () => {
    const c2 = await userByName(st, 'controller2');
    const an = await userByName(st, 'analyst');
    ctl2 = await st.connectAs('controller2');
    analyst = await st.connectAs('analyst');

    const headline = `Tally visibility ${Date.now()}`;
    const pub = await ctl.request({ type: 'publish', headline, severity: 'minor', targets: { sites: [siteA1.site_id] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    // Absent body means empty.
    const got = await conA1.next((m) => m.type === 'alert' && m.alert?.id === pub.alert_id, 2000, 'the alert');
    assert.equal(got.alert.body, '');

    await ctl.next((m) => m.type === 'tally' && m.alert_id === pub.alert_id && m.delivered === 1, 5000, 'tally (sender)');
    const isTally = (m) => m.type === 'tally' && m.alert_id === pub.alert_id;
    assert.equal(c2.org_id, ctlUser.org_id, 'controller2 is of the control room');
    assert.notEqual(an.org_id, ctlUser.org_id, 'the analyst is of the intelligence unit');
    await ctl2.next((m) => isTally(m) && m.delivered === 1, 5000, 'tally at a controller of the same organisation');
    await analyst.next((m) => isTally(m) && m.delivered === 1, 5000, 'tally at an analyst of another organisation');
    assert.ok(!conA1.seen.some(isTally), 'a console gets no tally');
    // Controllers and analysts are no recipients of alerts.
    assert.ok(!ctl2.seen.some((m) => m.type === 'alert'), ctl2.describeSeen());
    assert.ok(!analyst.seen.some((m) => m.type === 'alert'), analyst.describeSeen());
  });

  it('lets an analyst publish too', async () => {
    const pub = await analyst.request({ type: 'publish', headline: `Analyst notice ${Date.now()}`, severity: 'minor',
      targets: { sites: [siteB1.site_id] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    assert.equal(pub.recipients, 1);
    await conB1.next((m) => m.type === 'alert' && m.alert?.id === pub.alert_id, 2000, 'the analyst\'s alert');
    await conA1.expectNothing((m) => m.type === 'alert' && m.alert?.id === pub.alert_id, 300, 'the analyst\'s alert at another site');
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await st.stop();
  });
});
