// A company desk reads its own sites' receipts of a force alert (issue #7 /
// #5; docs/protocol.md `receipts` and `site_receipt`): the force asks two
// sites of Citadel and two of Bastion; each company's operator gets, with
// `receipts`, the delivered/read/acknowledged times and answers of its own
// sites only (a tally over them, its own relays only), and site_receipt
// frames live for its own sites only. A company none of whose sites was
// asked is refused (forbidden), as is one the alert was not sent to
// (targets.roles without company_operator). Every answered read is
// audited as view_receipts with its scope.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, RFC3339_MS, userByName } from './lib/harness.mjs';
import { siteRows, connectWorld, orgId, drain, expectDelivery, expectRefused } from './lib/alerts.mjs';

describe('a company desk sees its own sites\' receipts of a force alert', { timeout: 240_000 }, () => {
  let st;
  let sites;
  let world;
  let ctl;
  let citadel, bastion, sentinel;
  let opC, opB, opS;
  let cSites, bSites;   // two sites of each company, asked by the force
  let alertId;
  const request = { kind: 'choice', options: ['Done', 'Unable'] };
  const con = (id) => world.bySite.get(id);
  const ids = (list) => list.map((x) => x.site_id).sort((a, b) => a - b);
  const isReceipt = (site, kind) => (m) => m.type === 'site_receipt' && m.alert_id === alertId
    && m.site_id === site && m.kind === kind;

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    sites = await siteRows(st);
    citadel = await orgId(st, 'Citadel Security');
    bastion = await orgId(st, 'Bastion Guarding');
    sentinel = await orgId(st, 'Sentinel Protective Services');
    world = await connectWorld(st);
    opC = world.operators.get(citadel);
    opB = world.operators.get(bastion);
    opS = world.operators.get(sentinel);
    ctl = await st.connectAs('controller');
    const of = (org) => sites.filter((s) => s.guard_org_id === org).slice(0, 2).map((s) => s.id);
    cSites = of(citadel);
    bSites = of(bastion);
    assert.equal(cSites.length, 2);
    assert.equal(bSites.length, 2);
  });
  after(async () => { await st?.cleanup(); });

  const all = () => [...world.bySite.values(), ...world.operators.values(), ctl];

  it('the force asks two sites of Citadel and two of Bastion', async () => {
    drain(all());
    const pub = await ctl.request({ type: 'publish', headline: `Suspicious van ${Date.now()}`, severity: 'moderate',
      category: 'request', request, targets: { sites: [...cSites, ...bSites] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    alertId = pub.alert_id;
    await expectDelivery(world, alertId, { consoleSites: [...cSites, ...bSites], operatorOrgs: [citadel, bastion] });
  });

  it('consoles read, acknowledge and answer; each company\'s desk is told live about its own sites only', async () => {
    assert.ok(alertId);
    const [c1, c2] = cSites;
    const [b1] = bSites;
    let r = await con(c1).request({ type: 'ack', alert_id: alertId });
    assert.equal(r.type, 'acked', JSON.stringify(r));
    r = await con(c1).request({ type: 'answer', alert_id: alertId, choice: 'Done' });
    assert.equal(r.type, 'answered', JSON.stringify(r));
    r = await con(c2).request({ type: 'read', alert_id: alertId });
    assert.equal(r.type, 'read_ok', JSON.stringify(r));
    r = await con(b1).request({ type: 'ack', alert_id: alertId });
    assert.equal(r.type, 'acked', JSON.stringify(r));
    r = await con(b1).request({ type: 'answer', alert_id: alertId, choice: 'Unable' });
    assert.equal(r.type, 'answered', JSON.stringify(r));

    const acked = await opC.next(isReceipt(c1, 'acked'), 10000, `site_receipt acked of site ${c1}`);
    assert.equal(acked.site_name, sites.find((s) => s.id === c1).name);
    assert.match(acked.at, RFC3339_MS);
    assert.equal(typeof acked.by, 'string');
    assert.equal(acked.answer, null);
    const answered = await opC.next(isReceipt(c1, 'answered'), 10000, `site_receipt answered of site ${c1}`);
    assert.equal(answered.answer, 'Done');
    await opC.next(isReceipt(c2, 'read'), 10000, `site_receipt read of site ${c2}`);
    const bAnswer = await opB.next(isReceipt(b1, 'answered'), 10000, `site_receipt answered of site ${b1}`);
    assert.equal(bAnswer.answer, 'Unable');
    await opB.next(isReceipt(b1, 'acked'), 10000, `site_receipt acked of site ${b1}`);

    // never another company's sites, nor to a company that was not asked, nor to the force or consoles
    const theirs = (own) => (m) => m.type === 'site_receipt' && !own.includes(m.site_id);
    await opC.expectNothing(theirs(cSites), 700, 'a site_receipt of another company\'s site');
    await opB.expectNothing(theirs(bSites), 10, 'a site_receipt of another company\'s site');
    assert.ok(!opS.seen.some((m) => m.type === 'site_receipt'), `Sentinel: ${opS.describeSeen()}`);
    assert.ok(!ctl.seen.some((m) => m.type === 'site_receipt'), 'the force gets tallies, not site_receipt');
    for (const [id, s] of world.bySite) {
      assert.ok(!s.seen.some((m) => m.type === 'site_receipt'), `console of site ${id}: ${s.describeSeen()}`);
    }
    // and the force's desk gets no answers summary leak to operators
    for (const s of [opC, opB, opS]) {
      assert.ok(!s.seen.some((m) => (m.type === 'answers' || m.type === 'tally') && m.alert_id === alertId),
        `${s.label} got the force's tally or answers: ${s.describeSeen()}`);
    }
  });

  it('Citadel\'s receipts show Citadel\'s sites only, with their times, answers and a tally over them', async () => {
    assert.ok(alertId);
    const [c1, c2] = cSites;
    const r = await opC.request({ type: 'receipts', alert_id: alertId });
    assert.equal(r.type, 'receipts', JSON.stringify(r));
    assert.equal(r.alert_id, alertId);
    assert.equal(r.scope, 'own_sites');
    assert.deepEqual(ids(r.sites), cSites);
    for (const x of r.sites) assert.equal(x.guard_org_id, citadel);
    const s1 = r.sites.find((x) => x.site_id === c1);
    const s2 = r.sites.find((x) => x.site_id === c2);
    assert.match(s1.delivered_at, RFC3339_MS);
    assert.match(s1.acked_at, RFC3339_MS);
    assert.equal(s1.answer, 'Done');
    assert.match(s1.answered_at, RFC3339_MS);
    assert.match(s2.read_at, RFC3339_MS);
    assert.equal(s2.acked_at, null);
    assert.equal(s2.answer, null);
    assert.deepEqual(r.not_acknowledged, [c2]);
    assert.deepEqual(r.tally, { recipients: 2, delivered: 2, read: 1, acknowledged: 1, escalated: 0, answered: 1 });
    assert.deepEqual(r.relays, []);
    // no trace of Bastion anywhere in the reply
    const text = JSON.stringify(r);
    for (const id of bSites) assert.ok(!r.not_acknowledged.includes(id));
    assert.ok(!text.includes('Unable'), text);
    assert.ok(!text.includes(sites.find((s) => s.id === bSites[0]).name), text);
  });

  it('Bastion\'s receipts show Bastion\'s sites only', async () => {
    const [b1, b2] = bSites;
    const r = await opB.request({ type: 'receipts', alert_id: alertId });
    assert.equal(r.type, 'receipts', JSON.stringify(r));
    assert.equal(r.scope, 'own_sites');
    assert.deepEqual(ids(r.sites), bSites);
    assert.equal(r.sites.find((x) => x.site_id === b1).answer, 'Unable');
    assert.deepEqual(r.not_acknowledged, [b2]);
    assert.equal(r.tally.recipients, 2);
    assert.equal(r.tally.acknowledged, 1);
    assert.ok(!JSON.stringify(r).includes('Done'));
  });

  it('the force still sees every site, with the scope "all"', async () => {
    const r = await ctl.request({ type: 'receipts', alert_id: alertId });
    assert.equal(r.type, 'receipts', JSON.stringify(r));
    assert.equal(r.scope, 'all');
    assert.deepEqual(ids(r.sites), [...cSites, ...bSites].sort((a, b) => a - b));
    assert.equal(r.tally.recipients, 4);
    assert.equal(r.tally.acknowledged, 2);
    assert.equal(r.tally.answered, 2);
  });

  it('a company relays it: its receipts of the original list its own relay, never another company\'s', async () => {
    const rc = await opC.request({ type: 'relay', alert_id: alertId, sites: [cSites[0]], note: 'Citadel note' });
    assert.equal(rc.type, 'relayed', JSON.stringify(rc));
    const rb = await opB.request({ type: 'relay', alert_id: alertId, sites: [bSites[0]], note: 'Bastion note' });
    assert.equal(rb.type, 'relayed', JSON.stringify(rb));
    const c = await opC.request({ type: 'receipts', alert_id: alertId });
    assert.deepEqual(c.relays.map((x) => x.alert_id), [rc.alert_id]);
    assert.equal(c.relays[0].by_org_id, citadel);
    const b = await opB.request({ type: 'receipts', alert_id: alertId });
    assert.deepEqual(b.relays.map((x) => x.alert_id), [rb.alert_id]);
    const f = await ctl.request({ type: 'receipts', alert_id: alertId });
    assert.deepEqual(f.relays.map((x) => x.alert_id).sort((x, y) => x - y), [rc.alert_id, rb.alert_id].sort((x, y) => x - y));
    // a relay's own receipts are Citadel's alone: Bastion is refused
    await expectRefused(st, opB, { type: 'receipts', alert_id: rc.alert_id }, 'forbidden');
  });

  it('Sentinel, none of whose sites was asked, is refused: forbidden, nothing audited', async () => {
    await expectRefused(st, opS, { type: 'receipts', alert_id: alertId }, 'forbidden');
    const sentinelUser = await userByName(st, 'op.sentinel');
    const rows = await st.query(`SELECT id FROM audit WHERE action = 'view_receipts' AND actor_user_id = $1`, [sentinelUser.id]);
    assert.equal(rows.length, 0);
  });

  it('an alert not sent to company operators (targets.roles) gives their desk nothing: forbidden, no site_receipt', async () => {
    drain(all());
    const site = cSites[0];
    const pub = await ctl.request({ type: 'publish', headline: `Consoles only ${Date.now()}`, severity: 'minor',
      targets: { sites: [site], roles: ['site_console'] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    await expectDelivery(world, pub.alert_id, { consoleSites: [site], operatorOrgs: [] });
    const ack = await con(site).request({ type: 'ack', alert_id: pub.alert_id });
    assert.equal(ack.type, 'acked', JSON.stringify(ack));
    await expectRefused(st, opC, { type: 'receipts', alert_id: pub.alert_id }, 'forbidden');
    await opC.expectNothing((m) => m.type === 'site_receipt' && m.alert_id === pub.alert_id, 700,
      'a site_receipt of an alert the company was not sent');
  });

  it('bad receipts requests from a desk get typed errors', async () => {
    await expectRefused(st, opC, { type: 'receipts', alert_id: 999999999 }, 'unknown_alert');
    await expectRefused(st, opC, { type: 'receipts', alert_id: 'forty-one' }, 'bad_field', 'alert_id');
    await expectRefused(st, opC, { type: 'receipts' }, 'missing_field', 'alert_id');
  });

  it('each answered read is audited as view_receipts with its scope', async () => {
    const opCUser = await userByName(st, 'op.citadel');
    const ctlUser = await userByName(st, 'controller');
    const c = await st.query(`SELECT actor_role, actor_org_id, remote_addr, detail FROM audit
                               WHERE action = 'view_receipts' AND alert_id = $1 AND actor_user_id = $2
                               ORDER BY id`, [alertId, opCUser.id]);
    assert.ok(c.length >= 2, JSON.stringify(c));
    assert.equal(c[0].actor_role, 'company_operator');
    assert.equal(c[0].actor_org_id, citadel);
    assert.ok(c[0].remote_addr);
    assert.deepEqual(c[0].detail, { sites: 2, relays: 0, scope: 'own_sites' });
    assert.deepEqual(c.at(-1).detail, { sites: 2, relays: 1, scope: 'own_sites' });
    const f = await st.query(`SELECT detail FROM audit WHERE action = 'view_receipts' AND alert_id = $1
                               AND actor_user_id = $2 ORDER BY id`, [alertId, ctlUser.id]);
    assert.deepEqual(f[0].detail, { sites: 4, relays: 0 }, 'a full read is audited as before');
  });
});
