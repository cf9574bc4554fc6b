// The duty inspector in Chromium (issue 23): a controller's live extreme
// alert to every company is held; the duty inspector, signed in on their
// own page (inspector.html, where the sign-in sends the role), sees it
// unmistakably NOT SENT with what would go out, and approves it; the
// console rings and the author sees who released it. The policy asks for
// an inspector (tocsinctl policy set --approver inspector), so a second
// controller could not have.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Stack, ROOT } from './lib/harness.mjs';
import { TOCSINCTL } from './lib/bus.mjs';
import { launch, openAs, textBecomes, shot, withoutProblems, sendToEveryCompany, UI_TIMEOUT } from './lib/browser.mjs';

const CONSOLE = 'console.threadneedle';

describe('a duty inspector releases a held alert in the browser', { timeout: 600_000 }, () => {
  let st, browser, companies;
  const problems = [];
  const p = {};

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    const db = execFileSync(path.join(ROOT, 'deploy/pg-local.sh'),
      ['url', process.env.TOCSIN_TEST_VAR, 'tocsin_admin', st.db.name], { encoding: 'utf8' }).trim();
    execFileSync(TOCSINCTL, ['user', 'add', 'inspector.duty', '--role', 'inspector', '--org', 'City Police Control Room',
      '--display-name', 'Insp Sam Kaur (Duty Inspector)', '--database', db], { input: 'inspector-demo\n' });
    execFileSync(TOCSINCTL, ['policy', 'set', '--approver', 'inspector', '--database', db]);
    browser = await launch();
    companies = (await st.query("SELECT id FROM organisations WHERE kind = 'security_company' AND NOT disabled ORDER BY id")).map((r) => r.id);
    const base = st.broker.httpUrl;
    p.author = await openAs(browser, base, 'controller', 'controller', problems);
    p.inspector = await openAs(browser, base, 'inspector.duty', 'inspector', problems);
    p.console = await openAs(browser, base, CONSOLE, 'site_console', problems);
  });
  after(async () => {
    await browser?.close().catch(() => {});
    await st?.cleanup();
  });

  it('held until the duty inspector approves it; the author sees who released it', async () => {
    const { author, inspector, console: con } = p;
    const headline = `Gas main rupture, all sites ${Date.now()}`;
    await withoutProblems(problems, async () => {
      assert.match(await inspector.locator('#user-role').textContent(), /Duty inspector/);
      await sendToEveryCompany(author, companies, { headline,
        body: 'Gas main ruptured on Cheapside. Keep people inside, no naked flames.',
        instruction: 'Keep people inside; do not use lifts.' });
      await textBecomes(author, '#compose-held', /NOT SENT/, 'the author told it is held');

      // the inspector sees exactly what would go out, not sent
      const item = (page) => page.locator('#release-list .release-item', { hasText: headline });
      await item(inspector).waitFor({ timeout: UI_TIMEOUT });
      assert.match(await item(inspector).locator('.release-state').textContent(), /NOT SENT/i);
      assert.match(await item(inspector).locator('.body').textContent(), /Gas main ruptured on Cheapside/);
      assert.match(await item(inspector).locator('.recipients').textContent(), /\d+ sites/);
      assert.equal((await st.query('SELECT count(*)::int AS n FROM alerts WHERE headline = $1', [headline]))[0].n, 0);
      await shot(inspector, '109-held-inspector');

      await item(inspector).locator('.release-reason').fill('Confirmed with Cadent on scene');
      await item(inspector).locator('.release-approve').click();
      await con.waitForSelector(`#alert-banner:has-text("${headline}")`, { timeout: UI_TIMEOUT });
      await textBecomes(author, '#release-list .release-approved .release-decided',
        /Released by Insp Sam Kaur \(Duty Inspector\): Confirmed with Cadent on scene/, 'the author sees who released it');
      await textBecomes(inspector, '#release-list .release-approved .release-state', /Released/, 'released at the inspector');
      await shot(author, '109-released-author');
      const [row] = await st.query("SELECT actor_username FROM audit WHERE action = 'release_approved' ORDER BY id DESC LIMIT 1");
      assert.equal(row.actor_username, 'inspector.duty');
    }, async () => {});
  });
});
