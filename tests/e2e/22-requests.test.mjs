// Requests and answers (docs/protocol.md §2b "Requests and answers"): an
// alert may ask its sites a question (a choice or a number); consoles
// answer, may answer again (every answer kept, the latest counts), and the
// sender's desk gets the running tally after each answer. Bad answers get
// a typed error and store nothing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, RFC3339_MS } from './lib/harness.mjs';
import { siteRows, connectWorld, connectMinted, orgId, drain, expectDelivery, expectRefused } from './lib/alerts.mjs';

describe('requests and answers', { timeout: 240_000 }, () => {
  let st;
  let sites;
  let world;
  let ctl, ctl2, analyst;
  let citadel;
  let choiceAlert;   // id of the choice request
  let numberAlert;   // id of the number request
  let plainAlert;    // id of an alert that asks nothing
  const asked = [1, 12, 27];   // one site of each company
  const name = (id) => sites.find((s) => s.id === id).name;

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    sites = await siteRows(st);
    citadel = await orgId(st, 'Citadel Security');
    world = await connectWorld(st);
    ctl = await st.connectAs('controller');
    ctl2 = await connectMinted(st, 'controller2');     // same organisation
    analyst = await connectMinted(st, 'analyst');      // another police unit
  });
  after(async () => { await st?.cleanup(); });

  const con = (id) => world.bySite.get(id);
  const answersFor = (id, pred = () => true) => (m) => m.type === 'answers' && m.alert_id === id && pred(m);
  const answerRows = async (id) => st.query('SELECT site_id, choice, number FROM answers WHERE alert_id = $1 ORDER BY id', [id]);

  it('a choice request reaches its three sites with the request in the alert', async () => {
    drain([...world.bySite.values(), ...world.operators.values()]);
    const request = { kind: 'choice', options: ['Done', 'Unable', 'Need police'] };
    const pub = await ctl.request({ type: 'publish', headline: `Lock the car park gates ${Date.now()}`,
      severity: 'moderate', category: 'request', request, targets: { sites: asked } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    assert.equal(pub.recipients, 3);
    const got = await expectDelivery(world, pub.alert_id, { consoleSites: asked,
      operatorOrgs: [...new Set(asked.map((id) => sites.find((s) => s.id === id).guard_org_id))] });
    for (const id of asked) {
      assert.deepEqual(got[`site:${id}`].alert.request, request);
      assert.equal(got[`site:${id}`].alert.category, 'request');
    }
    choiceAlert = pub.alert_id;
  });

  it('answers Done, Done, Unable: the desk sees by_choice {Done:2, Unable:1}, answered 3', async () => {
    assert.ok(choiceAlert);
    const plan = [[1, 'Done'], [12, 'Done'], [27, 'Unable']];
    for (const [i, [site, choice]] of plan.entries()) {
      const r = await con(site).request({ type: 'answer', alert_id: choiceAlert, choice });
      assert.equal(r.type, 'answered', JSON.stringify(r));
      assert.equal(r.alert_id, choiceAlert);
      assert.match(r.answered_at, RFC3339_MS);
      const a = await ctl.next(answersFor(choiceAlert, (m) => m.answered === i + 1), 5000, `answers answered=${i + 1}`);
      assert.equal(a.recipients, 3);
    }
    const a = ctl.seen.filter(answersFor(choiceAlert)).at(-1);
    assert.deepEqual(a.by_choice, { Done: 2, Unable: 1 });
    assert.equal(a.answered, 3);
    assert.equal(a.recipients, 3);
    assert.equal(a.sum, null);
    assert.deepEqual(a.by_site.map((x) => [x.site_id, x.site_name, x.answer]).sort((x, y) => x[0] - y[0]),
      plan.map(([site, choice]) => [site, name(site), choice]));
    for (const x of a.by_site) assert.match(x.at, RFC3339_MS);
    // The other controller of the sending organisation sees it too, and so
    // does the analyst (another organisation of the force: the shared
    // control room watches every alert, issue 17).
    await ctl2.next(answersFor(choiceAlert, (m) => m.answered === 3), 3000, 'answers at controller2');
    await analyst.next(answersFor(choiceAlert, (m) => m.answered === 3), 3000, 'answers at the analyst');
  });

  it('a site changes its answer: the latest counts, every answer is kept', async () => {
    assert.ok(choiceAlert);
    const r = await con(12).request({ type: 'answer', alert_id: choiceAlert, choice: 'Need police' });
    assert.equal(r.type, 'answered', JSON.stringify(r));
    const a = await ctl.next(answersFor(choiceAlert, (m) => m.by_choice?.['Need police'] === 1), 5000, 'answers after the change');
    assert.deepEqual(a.by_choice, { Done: 1, Unable: 1, 'Need police': 1 });
    assert.equal(a.answered, 3);
    assert.equal(a.by_site.find((x) => x.site_id === 12).answer, 'Need police');
    assert.deepEqual(await answerRows(choiceAlert), [
      { site_id: 1, choice: 'Done', number: null },
      { site_id: 12, choice: 'Done', number: null },
      { site_id: 27, choice: 'Unable', number: null },
      { site_id: 12, choice: 'Need police', number: null },
    ]);
    const audit = await st.query(`SELECT site_id, detail FROM audit WHERE action = 'answer' AND alert_id = $1 ORDER BY id`, [choiceAlert]);
    assert.deepEqual(audit.map((x) => [x.site_id, x.detail.choice]), [[1, 'Done'], [12, 'Done'], [27, 'Unable'], [12, 'Need police']]);
  });

  it('nobody but the force\'s desks gets answers frames', async () => {
    for (const s of [...world.bySite.values(), ...world.operators.values()]) {
      assert.ok(!s.seen.some((m) => m.type === 'answers'), `${s.label}: ${s.describeSeen()}`);
    }
  });

  it('a number request: answers 2 and 5 sum to 7', async () => {
    drain([...world.bySite.values(), ...world.operators.values()]);
    const request = { kind: 'number', label: 'Guards visible at the front', min: 0, max: 10 };
    const pub = await ctl.request({ type: 'publish', headline: `How many guards ${Date.now()}`, severity: 'minor',
      category: 'request', request, targets: { sites: [4, 9] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    const got = await expectDelivery(world, pub.alert_id, { consoleSites: [4, 9], operatorOrgs: [citadel] });
    assert.deepEqual(got['site:4'].alert.request, request);
    numberAlert = pub.alert_id;
    for (const [site, number] of [[4, 2], [9, 5]]) {
      const r = await con(site).request({ type: 'answer', alert_id: numberAlert, number });
      assert.equal(r.type, 'answered', JSON.stringify(r));
    }
    const a = await ctl.next(answersFor(numberAlert, (m) => m.answered === 2), 5000, 'answers answered=2');
    assert.equal(a.sum, 7);
    assert.deepEqual(a.by_choice, {});
    assert.equal(a.recipients, 2);
    assert.deepEqual(a.by_site.map((x) => [x.site_id, x.answer]).sort((x, y) => x[0] - y[0]), [[4, '2'], [9, '5']]);
    // A changed number replaces the site's earlier one in the sum.
    await con(9).request({ type: 'answer', alert_id: numberAlert, number: 10 });
    const b = await ctl.next(answersFor(numberAlert, (m) => m.sum === 12), 5000, 'answers sum=12');
    assert.equal(b.answered, 2);
    assert.deepEqual((await answerRows(numberAlert)).map((x) => x.number), [2, 5, 10]);
  });

  it('bad answers: typed errors, nothing stored', async () => {
    assert.ok(choiceAlert && numberAlert);
    const pub = await ctl.request({ type: 'publish', headline: `Plain advice ${Date.now()}`, severity: 'minor', targets: { sites: [1] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    plainAlert = pub.alert_id;
    await con(1).next((m) => m.type === 'alert' && m.alert?.id === plainAlert, 3000, 'the plain alert');
    const seenBefore = ctl.seen.length;

    // number out of range (max 10; and below 0)
    await expectRefused(st, con(4), { type: 'answer', alert_id: numberAlert, number: 11 }, 'bad_field', 'number');
    await expectRefused(st, con(4), { type: 'answer', alert_id: numberAlert, number: -1 }, 'bad_field', 'number');
    await expectRefused(st, con(4), { type: 'answer', alert_id: numberAlert, number: 2.5 }, 'bad_field', 'number');
    // a choice to a number request, and a number to a choice request
    await expectRefused(st, con(4), { type: 'answer', alert_id: numberAlert, choice: 'Done' }, 'bad_field', 'number');
    await expectRefused(st, con(1), { type: 'answer', alert_id: choiceAlert, number: 1 }, 'bad_field', 'choice');
    // a choice that is not an option (case matters)
    await expectRefused(st, con(1), { type: 'answer', alert_id: choiceAlert, choice: 'Maybe' }, 'bad_field', 'choice');
    await expectRefused(st, con(1), { type: 'answer', alert_id: choiceAlert, choice: 'done' }, 'bad_field', 'choice');
    // neither or both
    await expectRefused(st, con(1), { type: 'answer', alert_id: choiceAlert }, 'missing_field', 'choice');
    await expectRefused(st, con(1), { type: 'answer', alert_id: choiceAlert, choice: 'Done', number: 1 }, 'bad_field', 'choice');
    // the alert asks nothing
    await expectRefused(st, con(1), { type: 'answer', alert_id: plainAlert, choice: 'Done' }, 'bad_field');
    // not a console
    await expectRefused(st, ctl, { type: 'answer', alert_id: choiceAlert, choice: 'Done' }, 'forbidden');
    await expectRefused(st, world.operators.get(citadel), { type: 'answer', alert_id: choiceAlert, choice: 'Done' }, 'forbidden');
    // the console's site was not asked
    await expectRefused(st, con(2), { type: 'answer', alert_id: choiceAlert, choice: 'Done' }, 'not_recipient');
    // no such alert, no alert_id
    await expectRefused(st, con(1), { type: 'answer', alert_id: 987654321, choice: 'Done' }, 'unknown_alert');
    await expectRefused(st, con(1), { type: 'answer', choice: 'Done' }, 'missing_field', 'alert_id');
    await expectRefused(st, con(1), { type: 'answer', alert_id: 'x', choice: 'Done' }, 'bad_field', 'alert_id');

    // No answers frame went out for any of them.
    await ctl.ping();
    const n = ctl.seen.slice(seenBefore).filter((m) => m.type === 'answers').length;
    assert.equal(n, 0, `answers frames after refused answers: ${ctl.describeSeen()}`);
  });

  it('a bad request in publish: typed errors, nothing stored', async () => {
    const base = { type: 'publish', headline: 'bad request', severity: 'minor', targets: { sites: [1] } };
    await expectRefused(st, ctl, { ...base, request: { kind: 'choice', options: ['Only'] } }, 'bad_field', 'request.options');
    await expectRefused(st, ctl, { ...base, request: { kind: 'choice', options: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'] } }, 'bad_field', 'request.options');
    await expectRefused(st, ctl, { ...base, request: { kind: 'choice', options: ['Done', 'Done'] } }, 'bad_field', 'request.options');
    await expectRefused(st, ctl, { ...base, request: { kind: 'choice', options: ['Done', 'x'.repeat(41)] } }, 'bad_field', 'request.options');
    await expectRefused(st, ctl, { ...base, request: { kind: 'vote', options: ['a', 'b'] } }, 'bad_field', 'request.kind');
    await expectRefused(st, ctl, { ...base, request: { kind: 'number', label: 'n', min: 5, max: 1 } }, 'bad_field', 'request.max');
    await expectRefused(st, ctl, { ...base, request: { kind: 'number', label: 'n', min: -1, max: 5 } }, 'bad_field', 'request.min');
    await expectRefused(st, ctl, { ...base, request: { kind: 'number', min: 0, max: 5 } }, 'missing_field', 'request.label');
  });

  it('answers to a relayed request reach the relaying company and the force', async () => {
    assert.ok(choiceAlert);
    const opC = world.operators.get(citadel);
    const r = await opC.request({ type: 'relay', alert_id: choiceAlert, sites: [2, 3], note: 'please answer' });
    assert.equal(r.type, 'relayed', JSON.stringify(r));
    const got = await con(2).next((m) => m.type === 'alert' && m.alert?.id === r.alert_id, 3000, 'the relayed request');
    assert.deepEqual(got.alert.request, { kind: 'choice', options: ['Done', 'Unable', 'Need police'] });
    const ans = await con(2).request({ type: 'answer', alert_id: r.alert_id, choice: 'Unable' });
    assert.equal(ans.type, 'answered', JSON.stringify(ans));
    const a1 = await opC.next(answersFor(r.alert_id), 5000, 'answers of the relay at the operator');
    const a2 = await ctl.next(answersFor(r.alert_id), 5000, 'answers of the relay at the force');
    for (const a of [a1, a2]) {
      assert.deepEqual(a.by_choice, { Unable: 1 });
      assert.equal(a.answered, 1);
      assert.equal(a.recipients, 2);
    }
    // The original's tally is untouched by answers to the relay.
    assert.deepEqual((await answerRows(choiceAlert)).length, 4);
    for (const s of [world.operators.get((await orgId(st, 'Bastion Guarding')))]) {
      assert.ok(!s.seen.some(answersFor(r.alert_id)), `${s.label}: ${s.describeSeen()}`);
    }
    await analyst.next(answersFor(r.alert_id), 5000, 'answers of the relay at the analyst (the force)');
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await st.stop();
  });
});
