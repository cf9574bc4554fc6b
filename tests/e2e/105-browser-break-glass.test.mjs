// Break glass in Chromium (issue 23): one controller alone on shift sends
// a live extreme alert to every company. Nobody else can release it, so
// the controller opens "Release alone", types why it cannot wait, and
// sends: the console rings at once, the room marks the alert released
// alone, the broker records and audits it, and the next controller who
// signs in is told, with the justification.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, waitFor } from './lib/harness.mjs';
import { launch, openAs, textBecomes, shot, withoutProblems, UI_TIMEOUT } from './lib/browser.mjs';

const CONSOLE = 'console.threadneedle';
const WHY = 'Flash flood warning from the Environment Agency; nobody else on shift';

describe('break glass in the control room', { timeout: 600_000 }, () => {
  let st, browser, companies;
  const problems = [];

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    browser = await launch();
    companies = (await st.query("SELECT id FROM organisations WHERE kind = 'security_company' ORDER BY id")).map((r) => r.id);
  });
  after(async () => {
    await browser?.close().catch(() => {});
    await st?.cleanup();
  });

  it('a controller alone releases with a justification; delivered, marked, and the next controller is told', async () => {
    const base = st.broker.httpUrl;
    const headline = `Flash flood, all sites ${Date.now()}`;
    await withoutProblems(problems, async () => {
      const author = await openAs(browser, base, 'controller', 'controller', problems);
      const con = await openAs(browser, base, CONSOLE, 'site_console', problems);
      await author.selectOption('#template', 'live_incident');
      await author.click('#template-apply');
      await author.fill('#headline', headline);
      await author.fill('#body', 'Flash flooding expected within the hour. Move people to upper floors.');
      await author.selectOption('#severity', 'extreme');
      await author.check('input[name="area-kind"][value="none"]');
      await author.uncheck('#target-area');
      for (const id of companies) await author.check(`input[name="target-org"][value="${id}"]`);
      await author.click('#release-alone-field summary');
      await author.fill('#release-alone-justification', WHY);
      await author.fill('#confirm-live', 'SEND');
      await author.click('#send');

      // delivered at once, not held
      await con.waitForSelector(`#alert-banner:has-text("${headline}")`, { timeout: UI_TIMEOUT });
      const [row] = await waitFor(async () => {
        const r = await st.query(`SELECT a.id, p.state, p.reason FROM alerts a
          JOIN pending_releases p ON p.alert_id = a.id WHERE a.headline = $1`, [headline]);
        return r.length ? r : null;
      }, { timeoutMs: UI_TIMEOUT, what: 'the alert recorded as released alone' });
      assert.equal(row.state, 'released_alone');
      assert.equal(row.reason, WHY);
      assert.equal((await st.query("SELECT count(*)::int AS n FROM audit WHERE action = 'release_alone' AND alert_id = $1", [row.id]))[0].n, 1);
      assert.ok(await author.locator('#compose-held').isHidden(), 'not shown as held');
      // the author's room marks it released alone
      const sent = `#sent-alerts .sent-item[data-alert-id="${row.id}"]`;
      await textBecomes(author, `${sent} .kind-mark`, /Released alone/, 'the mark on the sent alert');
      await textBecomes(author, `${sent} .state-note`, /without a second controller \(break glass\)/, 'the note on the sent alert');
      await shot(author, '105-released-alone-author');

      // the next controller who signs in is told, with the justification
      const next = await openAs(browser, base, 'controller2', 'controller', problems);
      const item = next.locator(`#release-list .release-item[data-alert-id="${row.id}"]`);
      await item.waitFor({ timeout: UI_TIMEOUT });
      assert.equal(await item.getAttribute('data-state'), 'released_alone');
      assert.match(await item.locator('.release-state').textContent(), /Released alone \(break glass\)/);
      await textBecomes(next, `#release-list .release-item[data-alert-id="${row.id}"] .release-decided`,
        new RegExp(`Released alone by .+: ${WHY}`), 'the justification, for the next controller');
      assert.equal(await item.locator('.release-approve').count(), 0, 'nothing left to approve');
      await shot(next, '105-released-alone-next');
    });
  });
});
