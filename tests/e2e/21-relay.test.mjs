// Relay (docs/protocol.md §2b "Relay"): a security company's operator
// passes a force alert on to some of its own sites with a note. Exactly
// those consoles get a new alert naming the original (relay.of) and the
// note; the force's desk gets relay_notice and the relay's tallies (and
// receipts), as does the relaying company; other companies see nothing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, userByName, RFC3339_MS } from './lib/harness.mjs';
import {
  siteRows, connectWorld, connectMinted, orgId, drain, recipientsOf, expectDelivery,
  expectDeliveryRows, expectRefused,
} from './lib/alerts.mjs';

describe('relay by a security company', { timeout: 240_000 }, () => {
  let st;
  let sites;
  let world;
  let ctl, analyst;
  let ctlUser, opUser;
  let citadel, bastion, sentinel;
  let opC, opB, opS;
  let original;    // the force alert to Citadel's sites
  let relay;       // { id, sites, note }

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
    analyst = await connectMinted(st, 'analyst');
    ctlUser = await userByName(st, 'controller');
    opUser = await userByName(st, 'op.citadel');
  });
  after(async () => { await st?.cleanup(); });

  const all = () => [...world.bySite.values(), ...world.operators.values(), ctl, analyst];
  const citadelSites = () => sites.filter((s) => s.guard_org_id === citadel).map((s) => s.id);

  it('the force publishes to Citadel\'s sites', async () => {
    drain(all());
    const pub = await ctl.request({ type: 'publish', headline: `Hostile recon near Bishopsgate ${Date.now()}`,
      body: 'Two men filming entrances.', severity: 'moderate', category: 'live_incident',
      targets: { orgs: [citadel] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    assert.equal(pub.recipients, 11);
    await expectDelivery(world, pub.alert_id, { consoleSites: citadelSites(), operatorOrgs: [citadel] });
    original = { id: pub.alert_id, headline: (await st.one('SELECT headline FROM alerts WHERE id = $1', [pub.alert_id])).headline };
  });

  it('the operator relays it to two sites with a note: exactly those consoles get it', async () => {
    assert.ok(original);
    drain(all());
    const relaySites = [4, 9];   // Bishopsgate Plaza, Houndsditch (Citadel)
    for (const id of relaySites) assert.equal(sites.find((s) => s.id === id).guard_org_id, citadel);
    const note = 'Front desks: lock the side doors.';
    const r = await opC.request({ type: 'relay', alert_id: original.id, sites: relaySites, note });
    assert.equal(r.type, 'relayed', JSON.stringify(r));
    assert.equal(r.of, original.id);
    assert.equal(r.recipients, 2);
    assert.ok(Number.isSafeInteger(r.alert_id) && r.alert_id !== original.id);
    relay = { id: r.alert_id, sites: relaySites, note };

    // Relays go to consoles only (target_roles {site_console}); no operator gets an alert frame.
    const got = await expectDelivery(world, r.alert_id, { consoleSites: relaySites, operatorOrgs: [] });
    for (const id of relaySites) {
      const a = got[`site:${id}`].alert;
      assert.equal(a.id, r.alert_id);
      assert.deepEqual(a.relay, { of: original.id, note, by_org_id: citadel, by_org_name: 'Citadel Security' });
      assert.equal(a.headline, original.headline, 'the relay carries the original\'s headline');
      assert.equal(a.category, 'live_incident');
      assert.equal(a.msg_type, 'alert');
      assert.equal(a.sender.user_id, opUser.id, 'sender is the operator');
      assert.equal(a.sender.org_id, citadel);
      assert.equal(typeof a.seq, 'number');
    }
    assert.deepEqual(await recipientsOf(st, r.alert_id), relaySites);
    const row = await st.one('SELECT relay_of, relay_note, sender_user_id, sender_org_id FROM alerts WHERE id = $1', [r.alert_id]);
    assert.deepEqual(row, { relay_of: original.id, relay_note: note, sender_user_id: opUser.id, sender_org_id: citadel });
    await expectDeliveryRows(st, r.alert_id, relaySites.map((id) => world.consoleUser.get(id)));

    // The force's desk (controller, same organisation) gets relay_notice.
    const n = await ctl.next((m) => m.type === 'relay_notice' && m.relay_id === r.alert_id, 3000, 'relay_notice');
    const { alert: signedRelay, signature, ...summary } = n;
    assert.deepEqual(summary, { type: 'relay_notice', alert_id: original.id, relay_id: r.alert_id, by_org_id: citadel,
      by_org_name: 'Citadel Security', sites: relaySites, note });
    // the relay alert whole, with its signature (checked by e2e 107)
    assert.equal(signedRelay.id, r.alert_id);
    assert.deepEqual(signedRelay.relay, got[`site:${relaySites[0]}`].alert.relay);
    assert.equal(signature.alg, 'Ed25519');
    // The audit trail names the relay.
    const audit = await st.query(`SELECT action, actor_user_id, detail FROM audit WHERE alert_id = $1 AND action = 'relay'`, [r.alert_id]);
    assert.equal(audit.length, 1);
    assert.equal(audit[0].actor_user_id, opUser.id);
    assert.equal(audit[0].detail.of, original.id);
    assert.deepEqual(audit[0].detail.recipients, relaySites);
  });

  it('acknowledgements of the relay reach the operator\'s and the force\'s desks as tallies', async () => {
    assert.ok(relay);
    const isTally = (m) => m.type === 'tally' && m.alert_id === relay.id;
    // Delivery tallies first (batched): both desks see delivered = 2.
    await opC.next((m) => isTally(m) && m.delivered === 2, 5000, 'relay tally delivered=2 (operator)');
    await ctl.next((m) => isTally(m) && m.delivered === 2, 5000, 'relay tally delivered=2 (controller)');
    for (const [i, id] of relay.sites.entries()) {
      const ack = await world.bySite.get(id).request({ type: 'ack', alert_id: relay.id });
      assert.equal(ack.type, 'acked', JSON.stringify(ack));
      assert.equal(ack.already, false);
      assert.match(ack.acked_at, RFC3339_MS);
      const t1 = await opC.next((m) => isTally(m) && m.acknowledged === i + 1, 5000, `relay tally acknowledged=${i + 1} (operator)`);
      const t2 = await ctl.next((m) => isTally(m) && m.acknowledged === i + 1, 5000, `relay tally acknowledged=${i + 1} (controller)`);
      for (const t of [t1, t2]) {
        assert.equal(t.recipients, 2);
        assert.equal(t.delivered, 2);
      }
    }
    // A console that was not a relay recipient cannot acknowledge it.
    await expectRefused(st, world.bySite.get(1), { type: 'ack', alert_id: relay.id }, 'not_recipient');
    const acks = await st.query('SELECT site_id FROM acks WHERE alert_id = $1 ORDER BY site_id', [relay.id]);
    assert.deepEqual(acks.map((a) => a.site_id), relay.sites);
  });

  it('another company\'s operator never sees the relay, its notice or its tallies', async () => {
    assert.ok(relay);
    for (const s of [opB, opS]) {
      const leak = s.seen.find((m) => m.alert_id === relay.id || m.relay_id === relay.id || m.alert?.id === relay.id
        || (m.type === 'alert' && m.alert?.relay));
      assert.equal(leak, undefined, `${s.label} saw ${JSON.stringify(leak)}`);
    }
    // Nor consoles of the other Citadel sites, nor anyone's relay_notice but the force's.
    for (const [id, s] of world.bySite) {
      assert.ok(!s.seen.some((m) => m.type === 'relay_notice' || m.type === 'tally'), `console of site ${id}: ${s.describeSeen()}`);
      if (!relay.sites.includes(id)) assert.ok(!s.seen.some((m) => m.alert?.id === relay.id), `console of site ${id} saw the relay`);
    }
  });

  it('the force reads the relay\'s receipts (the chain is visible to it)', async () => {
    assert.ok(relay);
    const r = await ctl.request({ type: 'receipts', alert_id: relay.id });
    assert.equal(r.type, 'receipts', `the force may read the relay's receipts (docs: "receipts and tallies of the relay go to both the relaying company and the force"): ${JSON.stringify(r)}`);
    assert.deepEqual(r.sites.map((x) => x.site_id).sort((a, b) => a - b), relay.sites);
    assert.deepEqual(r.not_acknowledged, []);
  });

  it('the relaying company reads the relay\'s receipts', async () => {
    assert.ok(relay);
    const r = await opC.request({ type: 'receipts', alert_id: relay.id });
    assert.equal(r.type, 'receipts', `the relaying company may read the relay's receipts: ${JSON.stringify(r)}`);
    assert.deepEqual(r.sites.map((x) => x.site_id).sort((a, b) => a - b), relay.sites);
  });

  it('without sites, the relay goes to every site the company guards', async () => {
    assert.ok(original);
    drain(all());
    const r = await opC.request({ type: 'relay', alert_id: original.id, note: 'All Citadel desks' });
    assert.equal(r.type, 'relayed', JSON.stringify(r));
    assert.equal(r.recipients, 11);
    await expectDelivery(world, r.alert_id, { consoleSites: citadelSites(), operatorOrgs: [] });
    assert.deepEqual(await recipientsOf(st, r.alert_id), citadelSites());
  });

  it('relaying an OFFICIAL-SENSITIVE alert reaches only the company\'s cleared sites', async () => {
    drain(all());
    const pub = await ctl.request({ type: 'publish', headline: `sensitive ${Date.now()}`, severity: 'minor',
      classification: 'OFFICIAL-SENSITIVE', targets: { sites: [1] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    await expectDelivery(world, pub.alert_id, { consoleSites: [1], operatorOrgs: [citadel] });
    const r = await opC.request({ type: 'relay', alert_id: pub.alert_id, note: 'cleared desks only' });
    assert.equal(r.type, 'relayed', JSON.stringify(r));
    const cleared = sites.filter((s) => s.guard_org_id === citadel && s.cleared_sensitive).map((s) => s.id);
    assert.deepEqual(cleared, [1, 4, 5, 8, 9]);
    assert.equal(r.recipients, cleared.length);
    const got = await expectDelivery(world, r.alert_id, { consoleSites: cleared, operatorOrgs: [] });
    for (const m of Object.values(got)) assert.equal(m.alert.classification, 'OFFICIAL-SENSITIVE');
    assert.deepEqual(await recipientsOf(st, r.alert_id), cleared);
  });

  it('relaying an expired alert does not deliver it as a current alert', async () => {
    drain(all());
    const pub = await ctl.request({ type: 'publish', headline: `Expires soon ${Date.now()}`, severity: 'minor',
      expires: new Date(Date.now() + 1500).toISOString(), targets: { sites: [4] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    await world.bySite.get(4).next((m) => m.alert?.id === pub.alert_id, 3000, 'the alert');
    await new Promise((resolve) => setTimeout(resolve, 2000));
    drain(all());
    const r = await opC.request({ type: 'relay', alert_id: pub.alert_id, sites: [4, 9] });
    if (r.type === 'error') return;   // refusing is one way to honour "no longer delivered"
    assert.equal(r.type, 'relayed', JSON.stringify(r));
    await Promise.all([4, 9].map((id) => world.bySite.get(id).expectNothing((m) => m.type === 'alert', 700,
      `an alert frame for a relay of an expired alert at site ${id}`)));
  });

  it('relaying to a site of another company: bad_field sites[i], nothing stored', async () => {
    await expectRefused(st, opC, { type: 'relay', alert_id: original.id, sites: [4, 12, 9], note: 'x' }, 'bad_field', 'sites[1]');
    await expectRefused(st, opC, { type: 'relay', alert_id: original.id, sites: [27] }, 'bad_field', 'sites[0]');
    await expectRefused(st, opC, { type: 'relay', alert_id: original.id, sites: [4, 'five'] }, 'bad_field', 'sites[1]');
  });

  it('relaying an alert that reached none of the company\'s sites: forbidden', async () => {
    const pub = await ctl.request({ type: 'publish', headline: `Bastion only ${Date.now()}`, severity: 'minor',
      targets: { sites: [12] } });
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    await expectRefused(st, opC, { type: 'relay', alert_id: pub.alert_id, sites: [4] }, 'forbidden');
    await expectRefused(st, opC, { type: 'relay', alert_id: pub.alert_id }, 'forbidden');
  });

  it('a console, a controller or an analyst trying to relay: forbidden', async () => {
    await expectRefused(st, world.bySite.get(4), { type: 'relay', alert_id: original.id, sites: [4] }, 'forbidden');
    await expectRefused(st, ctl, { type: 'relay', alert_id: original.id, sites: [4] }, 'forbidden');
    await expectRefused(st, analyst, { type: 'relay', alert_id: original.id }, 'forbidden');
  });

  it('relaying an unknown alert: unknown_alert; bad members: typed errors', async () => {
    await expectRefused(st, opC, { type: 'relay', alert_id: 987654321, sites: [4] }, 'unknown_alert');
    await expectRefused(st, opC, { type: 'relay', sites: [4] }, 'missing_field', 'alert_id');
    await expectRefused(st, opC, { type: 'relay', alert_id: -3 }, 'bad_field', 'alert_id');
    await expectRefused(st, opC, { type: 'relay', alert_id: original.id, note: 'x'.repeat(1001) }, 'bad_field', 'note');
    await expectRefused(st, opC, { type: 'relay', alert_id: original.id, sites: 4 }, 'bad_field', 'sites');
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await st.stop();
  });
});
