// A company's relay note is checked like an alert (issue 23). The
// relay_notice frame the force's desks get carries the relay alert whole
// and the relay's own signature (no second signing); the control room
// checks it with signed.js (WebCrypto Ed25519 against GET
// /api/keys/alerts) and shows the note verified, or UNVERIFIED when a
// test proxy on the page's WebSocket changed one byte of it in transit
// (in the signed alert and the notice both: the signature fails; in the
// notice's own "note" only: it no longer says what was signed), and
// reports the relay to the broker, which audits it. The relay also comes
// intact in an in_force frame: an intact copy does not lift the warning.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, waitFor, consoleDirectory } from './lib/harness.mjs';
import { launch, openBehindProxy, textBecomes, withoutProblems, UI_TIMEOUT, LANDING } from './lib/browser.mjs';
import { publish } from './lib/faults.mjs';
import { AlertKeys } from '../../web-client/js/signed.js';

describe('signed relay notices in the control room', { timeout: 600_000 }, () => {
  let st, browser, page, ctl, op, orig, sites;
  const problems = [];
  let flipped = 0;

  // The control room behind a proxy: a relay_notice whose note says
  // TAMPER has it changed to TAMPEX everywhere (the signed alert too);
  // one whose note says NOTEONLY has only the notice's own note changed.
  function tamperedRoom() {
    return openBehindProxy(browser, st.broker.httpUrl, 'controller', LANDING.controller, problems, (m) => {
      if (!m.includes('"type":"relay_notice"')) return m;
      if (m.includes('TAMPER')) {
        flipped++;
        return m.replaceAll('TAMPER', 'TAMPEX');
      }
      if (m.includes('NOTEONLY')) {
        flipped++;
        const f = JSON.parse(m);
        f.note = f.note.replace('NOTEONLY', 'NOTEONLX');
        return JSON.stringify(f);
      }
      return m;
    });
  }

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    browser = await launch();
    const consoles = await consoleDirectory(st);
    const ops = await st.query(`SELECT username, org_id FROM users WHERE role = 'company_operator' AND NOT disabled ORDER BY org_id`);
    const o = ops.find((x) => consoles.some((c) => c.guard_org_id === x.org_id));
    sites = consoles.filter((c) => c.guard_org_id === o.org_id).map((c) => c.site_id);
    ctl = await st.connectAs('controller');
    op = await st.connectAs(o.username);
    page = await tamperedRoom();
    orig = await publish(ctl, { headline: `Relayed original ${Date.now()}`, severity: 'minor', targets: { orgs: [o.org_id] } });
    await page.locator(`#sent-alerts [data-alert-id="${orig.alert_id}"]`).waitFor({ timeout: UI_TIMEOUT });
  });
  after(async () => {
    await browser?.close().catch(() => {});
    await st?.cleanup();
  });

  async function relay(note) {
    const r = await op.request({ type: 'relay', alert_id: orig.alert_id, sites: [sites[0]], note });
    assert.equal(r.type, 'relayed', JSON.stringify(r));
    return r.alert_id;
  }
  const mark = (id) => `#sent-alerts [data-alert-id="${orig.alert_id}"] .relay[data-relay-id="${id}"] .signature-mark`;
  const reported = (id) => waitFor(async () => (await st.query(
    "SELECT detail FROM audit WHERE action = 'alert_unverified' AND alert_id = $1", [id])).length === 1,
  { timeoutMs: UI_TIMEOUT, what: `the relay ${id} reported unverified` });

  it('the notice carries the relay alert and its signature, which verify with the published keys', async () => {
    const id = await relay('Front desks: lock the side doors.');
    const n = await ctl.next((m) => m.type === 'relay_notice' && m.relay_id === id, 10000, 'relay_notice');
    assert.equal(n.alert.id, id);
    assert.deepEqual(n.alert.relay.of, orig.alert_id);
    assert.equal(n.alert.relay.note, n.note);
    const keys = new AlertKeys(async () => (await st.http('GET', '/api/keys/alerts')).json);
    assert.equal(await keys.verify(n.alert, n.signature), 'valid');
    const [kept] = await waitFor(async () => {
      const rows = await st.query('SELECT sig FROM alert_signatures WHERE alert_id = $1', [id]);
      return rows.length ? rows : null;
    }, { timeoutMs: 20000, what: 'the relay\'s kept signature' });
    assert.equal(kept.sig, n.signature.sig, 'the relay\'s own signature, made once');
    await withoutProblems(problems, () => textBecomes(page, mark(id), /Verified/, 'the relay verified'));
  });

  it('a note altered in transit is shown UNVERIFIED and reported', async () => {
    await withoutProblems(problems, async () => {
      const id = await relay(`TAMPER lock the doors ${Date.now()}`);
      await textBecomes(page, mark(id), /UNVERIFIED/, 'the altered relay unverified');
      await reported(id);
    });
  });

  it('a notice whose note is not the signed alert\'s is shown UNVERIFIED too', async () => {
    await withoutProblems(problems, async () => {
      const id = await relay(`NOTEONLY keep clear ${Date.now()}`);
      await textBecomes(page, mark(id), /UNVERIFIED/, 'the relay whose notice differs');
      await reported(id);
      assert.equal(flipped, 2, 'the proxy altered two notices');
    });
  });
});
