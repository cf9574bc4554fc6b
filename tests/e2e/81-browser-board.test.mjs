// The shared control room's status board (issue 17, item 7), in three
// controller pages at once (1280x800, 1024x768, 390x844) and one at
// 1400x900: the board puts what needs attention first (lockdown, then
// evacuating, then sites not reporting: asked by a report-now and not
// answered, or never reported; the calm ones after); the page never
// scrolls sideways because of the board (the table scrolls within
// itself, and at 1400 px it fits); and a site added while the pages are
// open appears by its name: on the board, among the alert form's sites,
// and in the report-now list of sites still to answer.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, waitFor, newRef } from './lib/harness.mjs';
import {
  launch, openAs, shot, textBecomes, withoutProblems, closeAndStop, UI_TIMEOUT,
} from './lib/browser.mjs';

const SIZES = [
  { name: '1280', viewport: { width: 1280, height: 800 } },
  { name: '1024', viewport: { width: 1024, height: 768 } },
  { name: '390', viewport: { width: 390, height: 844 } },
  { name: '1400', viewport: { width: 1400, height: 900 } },
];

const STATES = {              // console -> the state it reports
  'console.threadneedle': 'heightened',
  'console.cheapside': 'evacuating',
  'console.cornhill': 'lockdown',
  'console.guildhall': 'normal',
  'console.moorgate': 'normal',
};

describe('the status board in the control room', { timeout: 600_000 }, () => {
  let st;
  let browser;
  const pages = [];
  const problems = [];
  const site = {};            // console username -> site row

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    browser = await launch();
    for (const s of SIZES) {
      pages.push(await openAs(browser, st.broker.httpUrl, 'controller', 'controller', problems, { viewport: s.viewport }));
    }
    for (const u of Object.keys(STATES)) {
      site[u] = await st.one(`SELECT s.id, s.name, s.lat, s.lon FROM sites s JOIN users u ON u.site_id = s.id
                               WHERE u.username = $1`, [u]);
    }
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await st?.cleanup();
  });

  async function report(username, state, extra = {}) {
    const c = await st.connectAs(username);
    const r = await c.request({ type: 'status', people: 20, officers: 2, trauma_packs: 1, first_aid_kits: 2,
      defibrillators: 1, cctv: 'working', state, ...extra }, 10000);
    assert.equal(r.type, 'status_ok', JSON.stringify(r));
    c.close();
    return r;
  }

  /* The board's rows in the order shown: [{id, state, cls}]. */
  async function rows(page) {
    return page.$$eval('#board tbody tr', (trs) => trs.map((tr) => ({
      id: Number(tr.dataset.siteId), state: tr.dataset.state, cls: tr.className,
    })));
  }

  /* Asks the sites in a circle to report, from the page's own form. */
  async function reportNow(page, lat, lon, radius) {
    await page.check('input[name="area-kind"][value="circle"]');
    await page.fill('#area-lat', String(lat));
    await page.fill('#area-lon', String(lon));
    await page.fill('#area-radius', String(radius));
    await page.click('#report-now-send');
  }

  it('puts lockdown, evacuating and the sites not reporting first', () => withoutProblems(problems, async () => {
    const [ctl] = pages;
    for (const [u, state] of Object.entries(STATES)) await report(u, state);
    for (const page of pages) {
      await waitFor(async () => (await rows(page)).filter((r) => r.state !== 'none').length === 5,
        { timeoutMs: UI_TIMEOUT, what: 'five reports on the board' });
    }
    // Moorgate (normal) is asked to report and has not answered yet.
    await reportNow(ctl, site['console.moorgate'].lat, site['console.moorgate'].lon, 20);
    await textBecomes(ctl, '#report-now li:first-child .asked', '1', 'one site asked');
    await waitFor(async () => (await rows(ctl))[2]?.id === site['console.moorgate'].id,
      { timeoutMs: UI_TIMEOUT, what: 'the site asked and silent third' });
    for (const [i, page] of pages.entries()) {
      const list = await rows(page);
      const where = (u) => list.findIndex((r) => r.id === site[u].id);
      assert.equal(list[0].id, site['console.cornhill'].id, `${SIZES[i].name}: lockdown first`);
      assert.equal(list[1].id, site['console.cheapside'].id, `${SIZES[i].name}: evacuating second`);
      const never = list.filter((r) => r.state === 'none').map((r) => list.indexOf(r));
      assert.ok(never.length > 20, 'most demo sites never reported');
      if (i === 0) assert.equal(where('console.moorgate'), 2, 'the site asked and silent comes next');
      assert.ok(Math.max(...never) < where('console.threadneedle'), `${SIZES[i].name}: sites not reporting before a heightened one`);
      assert.ok(where('console.threadneedle') < where('console.guildhall'), `${SIZES[i].name}: heightened before normal`);
      for (const n of never) assert.match(list[n].cls, /\bnot-reporting\b/);
      assert.equal(await page.getAttribute('#board th.col-state', 'aria-sort'), 'descending', 'sorted by state, most serious first');
      await textBecomes(page, `#board tr[data-site-id="${list[never[0]].id}"] td.state`, 'Not reporting', 'a silent site says so');
    }
    await textBecomes(ctl, `#board tr[data-site-id="${site['console.moorgate'].id}"] td.state`, /Asked/, 'the site asked says so');
  }, async () => {
    for (const [i, page] of pages.entries()) {
      await page.locator('#board').scrollIntoViewIfNeeded().catch(() => {});
      await shot(page, `81-board-${SIZES[i].name}`);
    }
  }));

  it('never makes the page scroll sideways: the table scrolls within itself, and fits at 1400 px', async () => {
    for (const [i, page] of pages.entries()) {
      const m = await page.evaluate(() => {
        const scroller = document.querySelector('#board .board-scroll');
        const r = scroller.getBoundingClientRect();
        return {
          page: document.documentElement.scrollWidth, view: document.documentElement.clientWidth,
          inner: scroller.scrollWidth, box: scroller.clientWidth, right: r.right,
          overflow: getComputedStyle(scroller).overflowX,
          // what sticks out, for the message: the outermost elements past the edge
          out: [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1
            && !e.closest('.board-scroll, .leaflet-container') && !(e.parentElement && e.parentElement.getBoundingClientRect().right > document.documentElement.clientWidth + 1))
            .slice(0, 5).map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}.${[...e.classList].join('.')} (${Math.round(e.getBoundingClientRect().right)})`),
        };
      });
      assert.ok(m.page <= m.view, `${SIZES[i].name}: the page is ${m.page} px wide in a ${m.view} px window; past the edge: ${m.out.join(', ')}`);
      assert.ok(m.right <= m.view + 1, `${SIZES[i].name}: the board ends inside the window (${m.right} > ${m.view})`);
      assert.ok(['auto', 'scroll'].includes(m.overflow), `${SIZES[i].name}: the board scrolls within itself`);
      if (SIZES[i].name === '1400') assert.ok(m.inner <= m.box, `1400: the table fits (${m.inner} > ${m.box})`);
    }
  });

  it('shows a site added while the page is open by its name everywhere', () => withoutProblems(problems, async () => {
    const [ctl] = pages;
    const slug = `basinghall-${Date.now() % 100000}`;
    const name = `Basinghall Lodge ${newRef('g')}`;
    const added = await st.one(`SELECT id FROM tocsin_admin_site_add('test', $1::jsonb)`, [JSON.stringify({
      slug, name, address: '30 Basinghall Street, London EC2V 5BR', lat: 51.5166, lon: -0.0905,
      sector: 'finance', guard: 'Citadel Security' })]);
    const hash = (await st.one(`SELECT password_hash FROM users WHERE username = 'console.threadneedle'`)).password_hash;
    await st.query(`SELECT tocsin_admin_user_add('test', $1, 'Front desk', 'site_console', NULL, $2, false, $3)`,
      [`console.${slug}`, slug, hash]);

    // Asked to report before the page knows it: still named in the list.
    await reportNow(ctl, 51.5166, -0.0905, 10);
    await textBecomes(ctl, '#report-now li:first-child .report-now-pending', `Waiting for: ${name}`, 'the new site by name');
    await report(`console.${slug}`, 'normal');
    for (const page of pages) {
      await textBecomes(page, `#board tr[data-site-id="${added.id}"] th.site`, new RegExp(`^${name}`), 'the new site on the board');
      await textBecomes(page, `#board tr[data-site-id="${added.id}"] td.company`, 'Citadel Security', 'its company');
      await page.waitForSelector(`input[name="target-site"][value="${added.id}"]`, { state: 'attached' });
      const label = await page.locator(`label:has(input[name="target-site"][value="${added.id}"])`).textContent();
      assert.match(label, new RegExp(name), 'the new site among the alert form\'s sites');
      await page.waitForSelector(`#board-map path.site-marker[data-site-id="${added.id}"]`, { state: 'attached' });
    }
  }));

  it('stops cleanly (exit 0, no sanitizer report)', () => closeAndStop(st, pages));
});
