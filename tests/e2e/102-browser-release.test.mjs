// Two-person release in Chromium (issue 23): two controllers in two
// browser contexts. The first sends a live extreme alert to every company:
// both rooms show it NOT SENT, the author cannot release it, the second
// controller approves it with a reason, the console rings, and the author
// sees who released it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack } from './lib/harness.mjs';
import { launch, openAs, textBecomes, shot, withoutProblems, sendToEveryCompany, UI_TIMEOUT } from './lib/browser.mjs';

const CONSOLE = 'console.threadneedle';

describe('two-person release in the control room', { timeout: 600_000 }, () => {
  let st, browser, companies;
  const problems = [];
  const p = {};

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    browser = await launch();
    companies = (await st.query("SELECT id FROM organisations WHERE kind = 'security_company' ORDER BY id")).map((r) => r.id);
    const base = st.broker.httpUrl;
    p.author = await openAs(browser, base, 'controller', 'controller', problems);
    p.second = await openAs(browser, base, 'controller2', 'controller', problems);
    p.console = await openAs(browser, base, CONSOLE, 'site_console', problems);
  });
  after(async () => {
    await browser?.close().catch(() => {});
    await st?.cleanup();
  });

  it('held until the second controller approves; the author sees who released it', async () => {
    const { author, second, console: con } = p;
    const headline = `Extreme weather, all sites ${Date.now()}`;
    await withoutProblems(problems, async () => {
      await sendToEveryCompany(author, companies, { headline,
        body: 'Severe flooding expected. Move people to upper floors.',
        instruction: 'Keep people inside and away from basements.' });

      // unmistakably not sent, in both rooms
      await textBecomes(author, '#compose-held', /NOT SENT — awaiting a second controller/, 'the author told it is held');
      const item = (page) => page.locator('#release-list .release-item', { hasText: headline });
      await textBecomes(author, '#release-list .release-pending .release-state', /NOT SENT — awaiting a second controller/i, 'held at the author');
      await item(second).waitFor({ timeout: UI_TIMEOUT });
      assert.match(await item(second).locator('.release-state').textContent(), /NOT SENT/i);
      assert.match(await item(second).locator('.recipients').textContent(), /\d+ sites/);
      assert.equal(await item(author).locator('.release-approve').count(), 0, 'the author has no approve button');
      assert.match(await item(author).locator('.release-own').textContent(), /another person must release it/);
      assert.equal((await st.query('SELECT count(*)::int AS n FROM alerts WHERE headline = $1', [headline]))[0].n, 0);
      await shot(author, '102-held-author');
      await shot(second, '102-held-second');

      // the second controller releases it with a reason
      await item(second).locator('.release-reason').fill('Confirmed with the Met Office');
      await item(second).locator('.release-approve').click();
      await con.waitForSelector(`#alert-banner:has-text("${headline}")`, { timeout: UI_TIMEOUT });
      await textBecomes(author, '#release-list .release-approved .release-decided',
        /Released by PS Tom Reyes \(Control Room\): Confirmed with the Met Office/, 'the author sees who released it');
      await shot(author, '102-released-author');
    }, async () => {});
  });
});
