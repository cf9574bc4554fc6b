// Building status says where (issue 17, item 8) in the browser: three
// building consoles at once (1280x800, 1024x768, 390x844) send where their
// trauma packs and defibrillators are and how many first-aiders they
// have; the control room's board shows it. Then the control room asks
// them to report now: each console's form comes prefilled from its last
// report with every number marked stale, until the person changes it or
// presses its "Still right"; the report sent says which were not
// confirmed, and the board marks those numbers.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack } from './lib/harness.mjs';
import {
  launch, openAs, shot, textBecomes, withoutProblems, closeAndStop,
} from './lib/browser.mjs';

const CONSOLES = [
  { username: 'console.threadneedle', name: '1280', viewport: { width: 1280, height: 800 } },
  { username: 'console.cornhill', name: '1024', viewport: { width: 1024, height: 768 } },
  { username: 'console.leadenhall', name: '390', viewport: { width: 390, height: 844 } },
];
const COUNTS = ['people', 'officers', 'trauma_packs', 'first_aid_kits', 'defibrillators', 'first_aiders'];
const input = (k) => `#status-${k.replace(/_/g, '-')}`;

describe('building status says where, in the browser', { timeout: 600_000 }, () => {
  let st;
  let browser;
  let ctl;                 // the control room page
  const pages = [];        // the consoles' pages, in CONSOLES order
  const sites = [];        // their sites
  const problems = [];

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    browser = await launch();
    for (const c of CONSOLES) {
      pages.push(await openAs(browser, st.broker.httpUrl, c.username, 'site_console', problems, { viewport: c.viewport }));
      sites.push(await st.one('SELECT s.id, s.name, s.lat, s.lon FROM sites s JOIN users u ON u.site_id = s.id WHERE u.username = $1', [c.username]));
    }
    ctl = await openAs(browser, st.broker.httpUrl, 'controller', 'controller', problems, { viewport: { width: 1400, height: 900 } });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await st?.cleanup();
  });

  async function latest(siteId) {
    return st.one(`SELECT people, officers, first_aiders, trauma_packs_where, defibrillators_where, stale
                     FROM status_reports WHERE site_id = $1 ORDER BY id DESC LIMIT 1`, [siteId]);
  }

  it('each console says where its trauma packs and defibrillators are, and the board shows it', () => withoutProblems(problems, async () => {
    for (const [i, page] of pages.entries()) {
      const n = i + 1;
      for (const [k, v] of Object.entries({ people: 100 * n, officers: n, trauma_packs: 2, first_aid_kits: 3, defibrillators: 1, first_aiders: 4 + n })) {
        await page.fill(input(k), String(v));
      }
      await page.fill('#status-trauma-packs-where', `Reception desk ${n}; level 3 kitchen`);
      await page.fill('#status-defibrillators-where', `Lobby ${n}, by the lifts`);
      await page.click('#status-send');
      await textBecomes(page, '#status-result', /^Status sent/, 'the status was sent');
      const row = await latest(sites[i].id);
      assert.deepEqual(row, { people: 100 * n, officers: n, first_aiders: 4 + n, trauma_packs_where: `Reception desk ${n}; level 3 kitchen`,
        defibrillators_where: `Lobby ${n}, by the lifts`, stale: [] });
      const tr = `#board tr[data-site-id="${sites[i].id}"]`;
      await textBecomes(ctl, `${tr} td.first-aiders`, String(4 + n), 'first-aiders on the board');
      await textBecomes(ctl, `${tr} .board-where`, new RegExp(`Trauma packs: Reception desk ${n}; level 3 kitchen.*Defibrillators: Lobby ${n}, by the lifts`),
        'where, under the site\'s name');
    }
  }, async () => {
    for (const [i, page] of pages.entries()) {
      await page.evaluate(() => document.getElementById('status-panel').scrollIntoView({ block: 'start' }));
      await shot(page, `82-status-where-${CONSOLES[i].name}`);
    }
    await ctl.locator('#board').scrollIntoViewIfNeeded().catch(() => {});
    await shot(ctl, '82-status-where-board');
  }));

  it('on report-now the prefilled numbers are stale until touched or confirmed; the report says which', () => withoutProblems(problems, async () => {
    const ask = await st.connectAs('controller');
    const r = await ask.request({ type: 'report_now', area: { polygon: [
      [51.5160, -0.0880], [51.5160, -0.0820], [51.5120, -0.0820], [51.5120, -0.0880], [51.5160, -0.0880]] } }, 10000);
    assert.equal(r.type, 'report_now', JSON.stringify(r));
    for (const s of sites) assert.ok(r.asked.includes(s.id), `site ${s.name} is asked`);

    for (const [i, page] of pages.entries()) {
      await page.waitForSelector('#status-panel.requested', { state: 'visible' });
      for (const k of COUNTS) {
        await page.waitForSelector(`${input(k)}[data-stale="true"]`, { state: 'attached' });
        assert.equal(await page.isVisible(`button.confirm-count[data-field="${k}"]`), true, `${CONSOLES[i].name}: "Still right" for ${k}`);
      }
      await page.evaluate(() => document.getElementById('status-panel').scrollIntoView({ block: 'start' }));
      await shot(page, `82-status-stale-${CONSOLES[i].name}`);
      // people: confirmed as it is; officers: changed; the rest left alone
      await page.click('button.confirm-count[data-field="people"]');
      await page.fill(input('officers'), String(10 + i));
      assert.equal(await page.getAttribute(input('people'), 'data-stale'), 'false');
      assert.equal(await page.getAttribute(input('officers'), 'data-stale'), 'false');
      assert.equal(await page.isVisible('button.confirm-count[data-field="people"]'), false, 'confirmed: no more button');
      await page.click('#status-send');
      await textBecomes(page, '#status-result', /in answer to the police request/, 'the answer was sent');
      const row = await latest(sites[i].id);
      assert.deepEqual(row.stale, ['trauma_packs', 'first_aid_kits', 'defibrillators', 'first_aiders'], `${CONSOLES[i].name}: the report says which were not confirmed`);
      assert.equal(row.officers, 10 + i);
      assert.equal(row.people, 100 * (i + 1));
      for (const k of COUNTS) assert.equal(await page.getAttribute(input(k), 'data-stale'), 'false', `${k}: no longer stale once sent`);

      const tr = `#board tr[data-site-id="${sites[i].id}"]`;
      await ctl.waitForSelector(`${tr} td.trauma-packs.stale`, { state: 'attached' });
      assert.equal(await ctl.locator(`${tr} td.people.stale`).count(), 0, 'a confirmed number is not marked');
      assert.equal(await ctl.locator(`${tr} td.officers.stale`).count(), 0, 'a changed number is not marked');
      assert.equal(await ctl.locator(`${tr} td.first-aiders.stale`).count(), 1);
    }
  }, async () => {
    await ctl.evaluate((id) => {
      document.getElementById('board').scrollIntoView({ block: 'start' });
      document.querySelector(`#board tr[data-site-id="${id}"]`)?.scrollIntoView({ block: 'nearest' });
    }, sites[0].id);
    await shot(ctl, '82-status-stale-board');
  }));

  it('stops cleanly (exit 0, no sanitizer report)', () => closeAndStop(st, [...pages, ctl]));
});
