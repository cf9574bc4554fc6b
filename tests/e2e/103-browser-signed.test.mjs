// Signed alerts in Chromium (issue 23): a console checks every alert with
// WebCrypto Ed25519 against GET /api/keys/alerts before showing it. A
// test proxy on the page's WebSocket flips one byte of one alert's text in
// transit: that alert is shown UNVERIFIED and reported to the broker,
// which audits it; the untouched alert is shown verified.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, waitFor, consoleDirectory, newRef, demoPassword } from './lib/harness.mjs';
import { launch, newContext, watch, signIn, textBecomes, shot, withoutProblems, UI_TIMEOUT } from './lib/browser.mjs';

describe('signed alerts in a console', { timeout: 600_000 }, () => {
  let st, browser, site, ctl, page;
  const problems = [];
  let flipped = 0;

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    browser = await launch();
    [site] = await consoleDirectory(st);
    ctl = await st.connectAs('controller');
    const ctx = await newContext(browser, new URL(st.broker.httpUrl).host, site.username, problems);
    // the proxy: every frame passes, but an alert whose headline says
    // TAMPER has one byte of its headline changed (TAMPER -> TAMPEX)
    await ctx.routeWebSocket(/\/ws$/, (ws) => {
      const server = ws.connectToServer();
      ws.onMessage((m) => server.send(m));
      server.onMessage((m) => {
        if (typeof m === 'string' && m.includes('"type":"alert"') && m.includes('TAMPER')) {
          flipped++;
          m = m.replace('TAMPER', 'TAMPEX');
        }
        ws.send(m);
      });
    });
    page = await ctx.newPage();
    watch(page, site.username, problems);
    await signIn(page, st.broker.httpUrl, site.username, demoPassword(site.username), 'console.html');
    await page.waitForSelector('#conn[data-state="connected"]', { state: 'attached', timeout: UI_TIMEOUT });
  });
  after(async () => {
    await browser?.close().catch(() => {});
    await st?.cleanup();
  });

  async function publish(headline) {
    const ref = newRef('sig');
    ctl.send({ type: 'publish', ref, headline, body: 'Check the signature.', severity: 'minor', targets: { sites: [site.site_id] } });
    const pub = await ctl.next((m) => m.ref === ref, 10000, 'published');
    assert.equal(pub.type, 'published', JSON.stringify(pub));
    return pub.alert_id;
  }

  it('shows a verified mark on an intact alert and UNVERIFIED on one altered in transit, and the broker audits it', async () => {
    await withoutProblems(problems, async () => {
      const good = await publish(`Intact notice ${Date.now()}`);
      const item = (id) => page.locator(`#alerts .history-item[data-alert-id="${id}"]`);
      await item(good).waitFor({ timeout: UI_TIMEOUT });
      await textBecomes(page, `#alerts .history-item[data-alert-id="${good}"] .signature-mark`, /Verified: signed by the broker/, 'the verified mark');

      await textBecomes(page, '#alert-banner .signature-mark', /Verified: signed by the broker/, 'the verified mark on the banner');
      await page.click('#ack'); // the banner then takes the next alert
      await waitFor(async () => (await st.query('SELECT 1 FROM acks WHERE alert_id = $1', [good])).length > 0,
        { timeoutMs: UI_TIMEOUT, what: 'the first alert acknowledged' });
      const bad = await publish(`TAMPER check ${Date.now()}`);
      await item(bad).waitFor({ timeout: UI_TIMEOUT });
      assert.equal(flipped, 1, 'the proxy altered one frame');
      assert.match(await item(bad).locator('.headline').textContent(), /TAMPEX/, 'the altered text is what arrived');
      await textBecomes(page, `#alerts .history-item[data-alert-id="${bad}"] .signature-mark`, /UNVERIFIED/, 'the unverified warning');
      await textBecomes(page, '#alert-banner .signature-mark', /UNVERIFIED/, 'the warning on the banner');
      const rows = await waitFor(async () => {
        const r = await st.query("SELECT * FROM audit WHERE action = 'alert_unverified' AND alert_id = $1", [bad]);
        return r.length ? r : null;
      }, { timeoutMs: UI_TIMEOUT, what: 'the audit row of the report' });
      assert.equal(rows.length, 1);
      assert.equal(rows[0].detail.reason, 'bad');
      assert.equal(rows[0].actor_username, site.username);
      assert.equal((await st.query("SELECT count(*)::int AS n FROM audit WHERE action = 'alert_unverified' AND alert_id = $1", [good]))[0].n, 0);
      await shot(page, '103-unverified');
    });
  });
});
