// The consoles in a real browser: a controller sends an alert from
// control.html, a site console shows and acknowledges it on console.html,
// and the controller's sent list counts the delivery and acknowledgement.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Stack, consoleDirectory, waitFor } from './lib/harness.mjs';
import {
  launch, watch, newContext as newHostContext, signIn, textBecomes as textIs, SHOTS,
} from './lib/browser.mjs';

const UI_TIMEOUT = 20_000;

// The shared helpers (lib/browser.mjs), as this file has always used them.
const newContext = (browser, broker, name, problems) => newHostContext(browser, `127.0.0.1:${broker.port}`, name, problems);
const textBecomes = (page, selector, want, what) => textIs(page, selector, want, what, UI_TIMEOUT);

describe('the web consoles in Chromium', { timeout: 180_000 }, () => {
  let st;
  let browser;
  let target;        // the site console row the alert goes to
  const problems = [];
  const pages = {};

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    [target] = await consoleDirectory(st);
    assert.ok(target, 'demo data has a site console');
    browser = await launch();
  });
  after(async () => {
    await browser?.close().catch(() => {});
    await st?.cleanup();
  });

  it('a controller sends an alert, the site console shows and acknowledges it', async () => {
    const consoleCtx = await newContext(browser, st.broker, 'console', problems);
    const controlCtx = await newContext(browser, st.broker, 'control', problems);
    const con = await consoleCtx.newPage();
    const ctl = await controlCtx.newPage();
    pages.console = con;
    pages.control = ctl;
    watch(con, 'console', problems);
    watch(ctl, 'control', problems);
    try {
      await sendAndAcknowledge(con, ctl);
    } catch (err) {
      if (problems.length) err.message += `\npage problems:\n  ${problems.join('\n  ')}`;
      throw err;
    } finally {
      // Both pages as they are at the end, passed or failed.
      await ctl.screenshot({ path: path.join(SHOTS, 'control.png'), fullPage: true }).catch(() => {});
      await con.screenshot({ path: path.join(SHOTS, 'console.png'), fullPage: true }).catch(() => {});
    }
    assert.deepEqual(problems, [], 'no console errors, exceptions, CSP violations or outside requests');
  });

  async function sendAndAcknowledge(con, ctl) {
    // The site console signs in and connects.
    await signIn(con, st.broker.httpUrl, target.username, 'console-demo', 'console.html');
    await con.waitForSelector('#conn[data-state="connected"]', { state: 'attached' });

    // The controller signs in, writes and sends an alert to that one site.
    await signIn(ctl, st.broker.httpUrl, 'controller', 'controller-demo', 'control.html');
    const headline = `Browser alert for ${target.site_name} ${Date.now()}`;
    await ctl.fill('#headline', headline);
    await ctl.fill('#body', 'Sent from the end-to-end test in Chromium.');
    await ctl.selectOption('#severity', 'severe');
    await ctl.fill('#confirm-live', 'SEND'); // live severe alerts need the typed confirmation
    const box = ctl.locator(`input[name="target-site"][value="${target.site_id}"]`);
    await box.waitFor({ state: 'attached' });
    await box.check();
    await ctl.click('#send');

    const alert = await waitFor(async () => {
      const rows = await st.query('SELECT id FROM alerts WHERE headline = $1', [headline]);
      return rows[0];
    }, { timeoutMs: UI_TIMEOUT, what: 'the alert stored by the broker' });
    const id = alert.id;
    const recipients = await st.query('SELECT site_id FROM alert_recipients WHERE alert_id = $1', [id]);
    assert.deepEqual(recipients.map((r) => r.site_id), [target.site_id], 'only the ticked site is a recipient');
    const err = await ctl.locator('#compose-error').textContent().catch(() => '');
    assert.equal((err ?? '').trim(), '', `#compose-error: ${err}`);

    // The controller's sent list has the alert.
    const sent = `#sent-alerts [data-alert-id="${id}"]`;
    await ctl.waitForSelector(sent, { state: 'attached' });
    await textBecomes(ctl, `${sent} .recipients`, '1', 'recipients in the sent list');

    // The console shows the banner and the alert in its history as New.
    await con.waitForSelector('#alert-banner', { state: 'visible' });
    await textBecomes(con, '#alert-banner .headline', headline, 'the banner headline');
    const item = `#alerts [data-alert-id="${id}"]`;
    await con.waitForSelector(item, { state: 'attached' });
    await textBecomes(con, `${item} .status`, 'New', 'the status before acknowledging');
    await textBecomes(ctl, `${sent} .delivered`, '1', 'delivered in the sent list');
    await con.screenshot({ path: path.join(SHOTS, 'console-alert.png'), fullPage: true });

    // Acknowledge.
    await con.click('#ack');
    await textBecomes(con, `${item} .status`, 'Acknowledged', 'the status after acknowledging');
    await textBecomes(ctl, `${sent} .acknowledged`, '1', 'acknowledged in the sent list');
    await textBecomes(ctl, `${sent} .delivered`, '1', 'delivered in the sent list');

    const acks = await st.query('SELECT site_id, user_id FROM acks WHERE alert_id = $1', [id]);
    assert.deepEqual(acks, [{ site_id: target.site_id, user_id: target.user_id }]);
    const cerr = await con.locator('#console-error').textContent().catch(() => '');
    assert.equal((cerr ?? '').trim(), '', `#console-error: ${cerr}`);
  }

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    for (const p of Object.values(pages)) await p.context().close().catch(() => {});
    delete pages.console;
    delete pages.control;
    await st.stop();
  });
});
