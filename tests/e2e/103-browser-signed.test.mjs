// Signed alerts in Chromium (issue 23): a console checks every alert with
// WebCrypto Ed25519 against GET /api/keys/alerts before showing it. A
// test proxy on the page's WebSocket flips one byte of one alert's text in
// transit: that alert is shown UNVERIFIED and reported to the broker,
// which audits it; the untouched alert is shown verified. The same holds
// for the alerts in force a console gets when it signs in (in_force
// frames): each is checked like a live alert.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, waitFor, consoleDirectory, newRef } from './lib/harness.mjs';
import { launch, openBehindProxy, textBecomes, shot, withoutProblems, UI_TIMEOUT } from './lib/browser.mjs';

describe('signed alerts in a console', { timeout: 600_000 }, () => {
  let st, browser, site, site2, ctl, page;
  const problems = [];
  let flipped = 0;

  // A console of a site on a browser of its own, behind the proxy: every
  // frame passes, but an alert (or an alert in force) whose headline says
  // TAMPER has one byte of its headline changed (TAMPER -> TAMPEX).
  function tamperedConsole(desk, pageName = 'console.html') {
    return openBehindProxy(browser, st.broker.httpUrl, desk.username, pageName, problems, (m) => {
      if (/"type":"(alert|in_force)"/.test(m) && m.includes('TAMPER')) {
        flipped++;
        return m.replace('TAMPER', 'TAMPEX');
      }
      return m;
    });
  }

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    browser = await launch();
    const consoles = await consoleDirectory(st);
    [site] = consoles;
    site2 = consoles.find((c) => c.site_id !== site.site_id);
    ctl = await st.connectAs('controller');
    page = await tamperedConsole(site);
  });
  after(async () => {
    await browser?.close().catch(() => {});
    await st?.cleanup();
  });

  async function publish(headline, to = site, by = ctl) {
    const ref = newRef('sig');
    by.send({ type: 'publish', ref, headline, body: 'Check the signature.', severity: 'minor', targets: { sites: [to.site_id] } });
    const pub = await by.next((m) => m.ref === ref, 10000, 'published');
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

  it('checks the alerts in force a console gets at sign-in: verified, or UNVERIFIED when altered', async () => {
    await withoutProblems(problems, async () => {
      const good = await publish(`In force intact ${Date.now()}`, site2);
      const bad = await publish(`TAMPER in force ${Date.now()}`, site2);
      const before = flipped;
      const p = await tamperedConsole(site2); // a new browser: the alerts come as in_force
      const item = (id) => `#alerts .history-item[data-alert-id="${id}"]`;
      await p.locator(item(bad)).waitFor({ timeout: UI_TIMEOUT });
      assert.equal(flipped, before + 1, 'the proxy altered the in_force frame');
      await textBecomes(p, `${item(good)} .signature-mark`, /Verified: signed by the broker/, 'the in-force alert verified');
      await textBecomes(p, `${item(bad)} .signature-mark`, /UNVERIFIED/, 'the altered in-force alert');
      const shown = Number(await p.getAttribute('#alert-banner', 'data-alert-id'));
      await textBecomes(p, '#alert-banner .signature-mark', shown === bad ? /UNVERIFIED/ : /Verified: signed by the broker/,
        'the mark of the alert on the banner');
      const rows = await waitFor(async () => {
        const r = await st.query("SELECT * FROM audit WHERE action = 'alert_unverified' AND alert_id = $1", [bad]);
        return r.length ? r : null;
      }, { timeoutMs: UI_TIMEOUT, what: 'the audit row of the report' });
      assert.equal(rows[0].actor_username, site2.username);
      assert.equal((await st.query("SELECT count(*)::int AS n FROM audit WHERE action = 'alert_unverified' AND alert_id = $1", [good]))[0].n, 0);
      await shot(p, '103-in-force-unverified');
    });
  });

  it('the control room checks every alert in force it shows: verified, or UNVERIFIED when altered', async () => {
    await withoutProblems(problems, async () => {
      const room = await tamperedConsole({ username: 'controller2' }, 'control.html');
      const item = (id) => `#sent-alerts .sent-item[data-alert-id="${id}"]`;
      // a colleague's alerts come to the room as in_force frames
      const good = await publish(`Room intact ${Date.now()}`, site2);
      const before = flipped;
      const bad = await publish(`TAMPER room ${Date.now()}`, site2);
      await room.locator(item(bad)).waitFor({ timeout: UI_TIMEOUT });
      await waitFor(async () => flipped > before, { timeoutMs: UI_TIMEOUT, what: 'the proxy altering the room\'s in_force' });
      await textBecomes(room, `${item(good)} .signature-mark`, /Verified: signed by the broker/, 'the room\'s verified mark');
      await textBecomes(room, `${item(bad)} .signature-mark`, /UNVERIFIED/, 'the room\'s warning');
      const rows = await waitFor(async () => {
        const r = await st.query("SELECT * FROM audit WHERE action = 'alert_unverified' AND alert_id = $1 AND actor_username = 'controller2'", [bad]);
        return r.length ? r : null;
      }, { timeoutMs: UI_TIMEOUT, what: 'the audit row of the room\'s report' });
      assert.equal(rows[0].detail.reason, 'bad');
      assert.equal((await st.query("SELECT count(*)::int AS n FROM audit WHERE action = 'alert_unverified' AND alert_id = $1", [good]))[0].n, 0);
      await shot(room, '103-control-room-unverified');
    });
  });
});
