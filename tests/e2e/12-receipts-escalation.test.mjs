// Never silent (5, 6): receipts and escalation. Consoles read and
// acknowledge; the sender's `receipts` shows per site when it was delivered,
// read and acknowledged and which sites have not acknowledged; tallies carry
// read and acknowledged counts; other organisations may not see receipts.
// With --escalate-after 2, a severe alert that a site has not acknowledged
// is sent again to that site's consoles (escalated: true) and raised to the
// sender's desk and the guarding company's operators, once.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, consoleDirectory, RFC3339_MS, sleep, waitFor, userByName } from './lib/harness.mjs';
import { publish, stopStack } from './lib/faults.mjs';
import { AlertKeys } from '../../web-client/js/signed.js';

// The counts of a tally frame (docs/protocol.md).
const counts = (t) => ({ alert_id: t.alert_id, recipients: t.recipients, delivered: t.delivered, read: t.read,
  acknowledged: t.acknowledged, escalated: t.escalated });

const ESCALATE_AFTER = 2;

describe('receipts and escalation', { timeout: 180_000 }, () => {
  let st, consoles, ctl, ctlUser;
  let companies;          // [{ id, operator, sites: [console rows] }]

  before(async () => {
    st = await Stack.create({ label: import.meta.url, broker: { args: ['--escalate-after', String(ESCALATE_AFTER)] } });
    consoles = await consoleDirectory(st);
    const ops = await st.query(`SELECT username, org_id FROM users WHERE role = 'company_operator' AND NOT disabled ORDER BY org_id`);
    companies = ops.map((o) => ({ id: o.org_id, operator: o.username, sites: consoles.filter((c) => c.guard_org_id === o.org_id) }))
      .filter((c) => c.sites.length >= 3);
    assert.ok(companies.length >= 2, 'demo data: two companies with 3 consoles each and an operator');
    ctlUser = await userByName(st, 'controller');
    ctl = await st.connectAs('controller');
  });
  after(async () => { await st?.cleanup(); });

  it('receipts show delivered, read and acknowledged per site; not_acknowledged lists the others; tallies count reads and acks', async () => {
    const [s1, s2, s3] = companies[0].sites;
    const c1 = await st.connectAs(s1.username);
    const c2 = await st.connectAs(s2.username);
    // s3's console is not connected: never delivered.
    const pub = await publish(ctl, { headline: `Receipts ${Date.now()}`, severity: 'moderate',
      targets: { sites: [s1.site_id, s2.site_id, s3.site_id] } });
    assert.equal(pub.recipients, 3);
    await c1.next((m) => m.type === 'alert' && m.alert.id === pub.alert_id, 3000, 'alert at site 1');
    await c2.next((m) => m.type === 'alert' && m.alert.id === pub.alert_id, 3000, 'alert at site 2');
    await ctl.next((m) => m.type === 'tally' && m.alert_id === pub.alert_id && m.delivered === 2, 5000, 'tally delivered=2');

    const r1 = await c1.request({ type: 'read', alert_id: pub.alert_id });
    assert.equal(r1.type, 'read_ok', JSON.stringify(r1));
    assert.equal(r1.alert_id, pub.alert_id);
    assert.match(r1.read_at, RFC3339_MS);
    const t1 = await ctl.next((m) => m.type === 'tally' && m.alert_id === pub.alert_id && m.read === 1, 5000, 'tally read=1');
    assert.deepEqual(counts(t1), { alert_id: pub.alert_id, recipients: 3, delivered: 2, read: 1, acknowledged: 0, escalated: 0 });

    const a1 = await c1.request({ type: 'ack', alert_id: pub.alert_id });
    assert.equal(a1.type, 'acked', JSON.stringify(a1));
    assert.equal(a1.already, false);
    const t2 = await ctl.next((m) => m.type === 'tally' && m.alert_id === pub.alert_id && m.acknowledged === 1, 5000, 'tally acknowledged=1');
    assert.deepEqual(counts(t2), { alert_id: pub.alert_id, recipients: 3, delivered: 2, read: 1, acknowledged: 1, escalated: 0 });

    const r2 = await c2.request({ type: 'read', alert_id: pub.alert_id });
    assert.equal(r2.type, 'read_ok', JSON.stringify(r2));
    const t3 = await ctl.next((m) => m.type === 'tally' && m.alert_id === pub.alert_id && m.read === 2, 5000, 'tally read=2');
    assert.deepEqual(counts(t3), { alert_id: pub.alert_id, recipients: 3, delivered: 2, read: 2, acknowledged: 1, escalated: 0 });
    // A second read of a site is audited but changes no count: no tally with read 3.
    const r1b = await c1.request({ type: 'read', alert_id: pub.alert_id });
    assert.equal(r1b.type, 'read_ok');
    assert.equal(r1b.read_at, r1.read_at, 'the first read of a site is kept');

    const rc = await ctl.request({ type: 'receipts', alert_id: pub.alert_id });
    assert.equal(rc.type, 'receipts', JSON.stringify(rc));
    assert.equal(rc.alert_id, pub.alert_id);
    assert.equal(rc.sites.length, 3, JSON.stringify(rc));
    const by = new Map(rc.sites.map((x) => [x.site_id, x]));
    const e1 = by.get(s1.site_id), e2 = by.get(s2.site_id), e3 = by.get(s3.site_id);
    assert.ok(e1 && e2 && e3, JSON.stringify(rc));
    assert.equal(e1.site_name, s1.site_name);
    assert.equal(e1.guard_org_id, companies[0].id);
    for (const t of [e1.delivered_at, e1.read_at, e1.acked_at, e2.delivered_at, e2.read_at]) assert.match(t, RFC3339_MS);
    assert.equal(e1.read_at, r1.read_at);
    assert.equal(e1.acked_at, a1.acked_at);
    assert.equal(e2.read_at, r2.read_at);
    assert.equal(e2.acked_at, null);
    assert.deepEqual([e3.delivered_at, e3.read_at, e3.acked_at], [null, null, null], 'a site with no console connected');
    for (const e of [e1, e2, e3]) assert.equal(e.escalated_at, null, 'a moderate alert is never escalated');
    assert.ok(e1.delivered_at <= e1.read_at && e1.read_at <= e1.acked_at, `delivered <= read <= acked: ${JSON.stringify(e1)}`);
    assert.deepEqual(rc.not_acknowledged, [s2.site_id, s3.site_id].sort((a, b) => a - b));

    // The same organisation's other controller may see them; so may an admin.
    const ctl2 = await st.connectAs('controller2');
    const c2u = await userByName(st, 'controller2');
    const rcc2 = await ctl2.request({ type: 'receipts', alert_id: pub.alert_id });
    if (c2u.org_id === ctlUser.org_id) assert.equal(rcc2.type, 'receipts', JSON.stringify(rcc2));
    const admin = await st.connectAs('admin');
    const rca = await admin.request({ type: 'receipts', alert_id: pub.alert_id });
    assert.equal(rca.type, 'receipts', JSON.stringify(rca));
    assert.deepEqual(rca.not_acknowledged, rc.not_acknowledged);

    // The company guarding those sites sees them, and only its own sites
    // (scope own_sites, migration 020; tests/e2e/24-operator-receipts).
    const op0 = await st.connectAs(companies[0].operator);
    const ro = await op0.request({ type: 'receipts', alert_id: pub.alert_id });
    assert.equal(ro.type, 'receipts', JSON.stringify(ro));
    assert.equal(ro.scope, 'own_sites');
    assert.ok(ro.sites.every((x) => x.guard_org_id === companies[0].id), JSON.stringify(ro));
    op0.close();

    // The analyst, of another organisation of the force, may (the shared
    // control room, issue 17); a company none of whose sites it reached may
    // not, nor a console.
    const an = await userByName(st, 'analyst');
    assert.notEqual(an.org_id, ctlUser.org_id, 'demo data: the analyst is in another organisation');
    const anS = await st.connectAs('analyst');
    const ra = await anS.request({ type: 'receipts', alert_id: pub.alert_id });
    assert.equal(ra.type, 'receipts', JSON.stringify(ra));
    assert.equal(ra.scope, 'all');
    anS.close();
    for (const who of [companies[1].operator, s1.username]) {
      const s = who === s1.username ? c1 : await st.connectAs(who);
      const e = await s.request({ type: 'receipts', alert_id: pub.alert_id });
      assert.equal(e.type, 'error', `${who}: ${JSON.stringify(e)}`);
      assert.equal(e.code, 'forbidden', `${who}: ${JSON.stringify(e)}`);
      assert.ok(!('sites' in e), 'no receipts leaked');
    }
    const unk = await ctl.request({ type: 'receipts', alert_id: pub.alert_id + 999999 });
    assert.equal(unk.code, 'unknown_alert', JSON.stringify(unk));
    for (const s of [c1, c2, ctl2, admin]) s.close();
  });

  it('escalates a severe alert for the site that did not acknowledge, once, and to the right people only', async () => {
    const siteAck = companies[0].sites[0];     // acknowledges
    const siteLate = companies[1].sites[0];    // does not
    const opAck = await st.connectAs(companies[0].operator);
    const opLate = await st.connectAs(companies[1].operator);
    const cAck = await st.connectAs(siteAck.username);
    const cLate = await st.connectAs(siteLate.username);
    const cLate2 = await st.connectAs(siteLate.username, { label: `${siteLate.username}#2` });
    const cOther = await st.connectAs(companies[0].sites[1].username); // not a recipient

    const t0 = Date.now();
    const pub = await publish(ctl, { headline: `Escalate me ${Date.now()}`, severity: 'severe',
      targets: { sites: [siteAck.site_id, siteLate.site_id] } });
    // A minor and a moderate alert to the late site: never escalated.
    const minor = await publish(ctl, { headline: `Minor ${Date.now()}`, severity: 'minor', targets: { sites: [siteLate.site_id] } });
    const moderate = await publish(ctl, { headline: `Moderate ${Date.now()}`, severity: 'moderate', targets: { sites: [siteLate.site_id] } });
    const isPub = (m) => m.type === 'alert' && m.alert.id === pub.alert_id;
    await cAck.next(isPub, 3000, 'the severe alert (acking site)');
    const first = await cLate.next(isPub, 3000, 'the severe alert (late site)');
    assert.equal(first.escalated, undefined);
    const ack = await cAck.request({ type: 'ack', alert_id: pub.alert_id });
    assert.equal(ack.type, 'acked', JSON.stringify(ack));

    // The late site's consoles get the alert again, escalated, after ~2 s.
    const again = await cLate.next((m) => isPub(m) && m.escalated === true, (ESCALATE_AFTER + 4) * 1000, 'the escalated alert');
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= ESCALATE_AFTER * 1000 - 50, `not escalated before ${ESCALATE_AFTER} s: after ${elapsed} ms`);
    assert.ok(elapsed <= (ESCALATE_AFTER + 3) * 1000, `escalated within ${ESCALATE_AFTER + 3} s: after ${elapsed} ms`);
    assert.equal(again.alert.headline, first.alert.headline);
    assert.equal(again.alert.seq, pub.seq);
    await cLate2.next((m) => isPub(m) && m.escalated === true, 2000, 'the escalated alert (second console of the late site)');

    // The sender's desk and the late site's company get an escalation for that site.
    const esc = await ctl.next((m) => m.type === 'escalation' && m.alert_id === pub.alert_id, 3000, 'escalation at the controller');
    assert.equal(esc.site_id, siteLate.site_id);
    assert.equal(esc.site_name, siteLate.site_name);
    assert.match(esc.escalated_at, RFC3339_MS);
    assert.equal(esc.alert.id, pub.alert_id);
    const escOp = await opLate.next((m) => m.type === 'escalation' && m.alert_id === pub.alert_id, 3000, 'escalation at the late company\'s operator');
    assert.equal(escOp.site_id, siteLate.site_id);
    // the desks' escalation carries the alert signed, as the consoles' frame
    // does (signed once for both: the same signature)
    const ak = new AlertKeys(async () => (await st.http('GET', '/api/keys/alerts')).json);
    assert.equal(await ak.verify(esc.alert, esc.signature), 'valid', 'the escalation at the controller is signed');
    assert.equal(await ak.verify(escOp.alert, escOp.signature), 'valid', 'the escalation at the company is signed');
    assert.equal(await ak.verify(again.alert, again.signature), 'valid', 'the escalated alert frame');
    assert.equal(esc.signature.sig, again.signature.sig);

    // Wait several more escalation ticks: nothing more, nothing for the acked site.
    await sleep(ESCALATE_AFTER * 1000 + 1000);
    const count = (s, pred) => s.seen.filter(pred).length;
    assert.equal(count(cLate, (m) => isPub(m) && m.escalated), 1, `one escalated resend: ${cLate.describeSeen()}`);
    assert.equal(count(cLate2, (m) => isPub(m) && m.escalated), 1, 'one escalated resend (second console)');
    assert.equal(count(cAck, isPub), 1, `the acked site got the alert once and nothing more: ${cAck.describeSeen()}`);
    assert.equal(count(ctl, (m) => m.type === 'escalation' && m.alert_id === pub.alert_id), 1, 'one escalation at the controller');
    assert.equal(count(opLate, (m) => m.type === 'escalation'), 1, `one escalation at the late company's operator: ${opLate.describeSeen()}`);
    assert.equal(count(opAck, (m) => m.type === 'escalation'), 0, `no escalation at the acked site's company: ${opAck.describeSeen()}`);
    assert.equal(count(cOther, (m) => m.type === 'alert' || m.type === 'escalation'), 0, 'nothing at a non-recipient');
    for (const s of [cAck, cLate, cLate2, cOther]) {
      assert.equal(count(s, (m) => m.type === 'escalation'), 0, 'consoles get the alert again, not escalation frames');
    }
    for (const a of [minor, moderate]) {
      assert.equal(count(cLate, (m) => m.type === 'alert' && m.alert.id === a.alert_id), 1, `the ${a.alert_id} alert once, never escalated`);
      assert.equal(count(ctl, (m) => m.type === 'escalation' && m.alert_id === a.alert_id), 0);
    }

    // The audit: one escalate row, for the late site only, not repeated.
    const rows = await st.query(`SELECT alert_id, site_id, actor_role FROM audit WHERE action = 'escalate' AND alert_id = ANY($1) ORDER BY id`,
      [[pub.alert_id, minor.alert_id, moderate.alert_id]]);
    assert.deepEqual(rows, [{ alert_id: pub.alert_id, site_id: siteLate.site_id, actor_role: 'system' }]);
    const escRows = await st.query('SELECT site_id FROM escalations WHERE alert_id = ANY($1)', [[pub.alert_id, minor.alert_id, moderate.alert_id]]);
    assert.deepEqual(escRows.map((r) => r.site_id), [siteLate.site_id]);

    // Receipts show it.
    const rc = await ctl.request({ type: 'receipts', alert_id: pub.alert_id });
    const late = rc.sites.find((x) => x.site_id === siteLate.site_id);
    const acked = rc.sites.find((x) => x.site_id === siteAck.site_id);
    assert.equal(late.escalated_at, esc.escalated_at);
    assert.equal(acked.escalated_at, null);
    assert.deepEqual(rc.not_acknowledged, [siteLate.site_id]);

    const t = await ctl.next((m) => m.type === 'tally' && m.alert_id === pub.alert_id && m.escalated === 1, 3000, 'tally escalated=1');
    assert.deepEqual({ recipients: t.recipients, delivered: t.delivered, acknowledged: t.acknowledged }, { recipients: 2, delivered: 2, acknowledged: 1 });
    assert.ok(!ctl.seen.some((m) => m.type === 'tally' && m.alert_id === pub.alert_id && m.escalated > 1), 'never escalated twice');

    // Acknowledging after the escalation is accepted; no second escalation ever.
    const lateAck = await cLate.request({ type: 'ack', alert_id: pub.alert_id });
    assert.equal(lateAck.type, 'acked');
    assert.equal(lateAck.already, false);
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await stopStack(st);
  });
});
