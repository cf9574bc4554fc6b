// Administration in the browser (issue 17, item 10): three administrator
// pages at once (1280x800, 1024x768, 390x844), each adds a site with a pin
// on the map and a console device for it; the one-time password is shown
// once, in a dialog, kept nowhere by the page, and the device signs in
// with it on a phone and lands on its console. The control room, open
// meanwhile, shows each new site on its board by name. A user added on
// the page signs in too, and disabling it signs it out.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, waitFor, newRef } from './lib/harness.mjs';
import {
  launch, openAs, newContext, watch, signIn, shot, textBecomes, withoutProblems, closeAndStop, UI_TIMEOUT,
} from './lib/browser.mjs';

const SIZES = [
  { name: '1280', viewport: { width: 1280, height: 800 } },
  { name: '1024', viewport: { width: 1024, height: 768 } },
  { name: '390', viewport: { width: 390, height: 844 } },
];
const PASSWORD = /^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/;

describe('administration in the browser', { timeout: 600_000 }, () => {
  let st;
  let browser;
  let ctl;
  const pages = [];
  const consoles = [];
  const problems = [];
  const added = [];        // {slug, name, id}

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    browser = await launch();
    for (const s of SIZES) {
      const page = await openAs(browser, st.broker.httpUrl, 'admin', 'admin', problems, { viewport: s.viewport });
      page.on('dialog', (d) => d.accept());
      pages.push(page);
    }
    ctl = await openAs(browser, st.broker.httpUrl, 'controller', 'controller', problems, { viewport: { width: 1400, height: 900 } });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await st?.cleanup();
  });

  /* Signs in on a phone with the one-time password; the console page. */
  async function consoleSignIn(username, password) {
    const host = new URL(st.broker.httpUrl).host;
    const ctx = await newContext(browser, host, username, problems, { viewport: { width: 390, height: 844 } });
    const page = await ctx.newPage();
    watch(page, username, problems);
    await signIn(page, st.broker.httpUrl, username, password, 'console.html');
    await page.waitForSelector('#conn[data-state="connected"]', { state: 'attached' });
    consoles.push(page);
    return page;
  }

  it('each page adds a site with a map pin; the control room shows it by name at once', () => withoutProblems(problems, async () => {
    for (const [i, page] of pages.entries()) {
      await waitFor(async () => (await page.locator('#sites-table tbody tr').count()) >= 34, { timeoutMs: UI_TIMEOUT, what: 'the sites listed' });
      const slug = `test-${SIZES[i].name}-${Date.now() % 10000}`;
      const name = `Admin Test House ${SIZES[i].name} ${newRef('n')}`;
      await page.fill('#site-name', name);
      await page.fill('#site-slug', slug);
      await page.fill('#site-address', `${i + 1} Basinghall Avenue, London EC2V 5DD`);
      await page.selectOption('#site-sector', 'finance');
      await page.selectOption('#site-guard', 'Citadel Security');
      await page.locator('#site-map').scrollIntoViewIfNeeded();
      const box = await page.locator('#site-map').boundingBox();
      await page.mouse.click(box.x + box.width * (0.4 + 0.1 * i), box.y + box.height / 2);
      await page.waitForSelector('#site-map path.pin-marker', { state: 'attached' });
      const lat = await page.inputValue('#site-lat');
      assert.match(lat, /^51\.5\d+$/, 'the pin fills the latitude');
      await page.evaluate(() => document.getElementById('site-form').scrollIntoView({ block: 'start' }));
      await shot(page, `84-admin-site-${SIZES[i].name}`);
      await page.click('#site-add');
      await page.waitForSelector(`#sites-table tr[data-slug="${slug}"]`, { state: 'attached' });
      const row = await st.one('SELECT id, lat, lon FROM sites WHERE slug = $1', [slug]);
      assert.equal(row.lat, Number(lat), 'stored where the pin was put');
      added.push({ slug, name, id: row.id });
      await textBecomes(ctl, `#board tr[data-site-id="${row.id}"] th.site`, new RegExp(`^${name}`), 'the new site on the control room\'s board');
      const audit = await st.one(`SELECT actor_username, actor_role FROM audit WHERE action = 'site_added' AND site_id = $1`, [row.id]);
      assert.deepEqual(audit, { actor_username: 'admin', actor_role: 'admin' });
    }
  }));

  it('adds a console device for each; its one-time password is shown once and signs it in', () => withoutProblems(problems, async () => {
    for (const [i, page] of pages.entries()) {
      const { slug, name } = added[i];
      await page.selectOption('#device-site', slug);
      await page.click('#device-add');
      await page.waitForSelector('#password-dialog[open]', { state: 'visible' });
      const username = (await page.textContent('#password-user')).trim();
      const password = (await page.textContent('#password-value')).trim();
      assert.equal(username, `console.${slug}`);
      assert.match(password, PASSWORD);
      await shot(page, `84-admin-password-${SIZES[i].name}`);
      await page.click('#password-done');
      await page.waitForSelector('#password-dialog', { state: 'hidden' });
      assert.equal(await page.textContent('#password-value'), '', 'the password leaves the page once seen');
      const stored = await page.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }));
      assert.ok(!stored.includes(password), 'the page keeps the password nowhere');
      await page.waitForSelector(`#devices-table tr[data-username="console.${slug}"]`, { state: 'attached' });

      const con = await consoleSignIn(username, password);
      await textBecomes(con, '#place-name', name, 'the device is the new site\'s console');
      await shot(con, `84-admin-device-console-${SIZES[i].name}`);
    }
  }));

  it('adds a user who signs in, and disabling it signs it out', () => withoutProblems(problems, async () => {
    const page = pages[0];
    const username = `analyst.${Date.now() % 100000}`;
    await page.fill('#user-username', username);
    await page.fill('#user-display', 'DC New Analyst');
    await page.selectOption('#user-role-select', 'analyst');
    await page.selectOption('#user-org', 'City Police Intelligence Unit');
    await page.click('#user-add');
    await page.waitForSelector('#password-dialog[open]', { state: 'visible' });
    const password = (await page.textContent('#password-value')).trim();
    await page.click('#password-done');
    const host = new URL(st.broker.httpUrl).host;
    const ctx = await newContext(browser, host, username, problems, { viewport: { width: 1024, height: 768 } });
    const an = await ctx.newPage();
    watch(an, username, problems, [/WebSocket/i]);
    await signIn(an, st.broker.httpUrl, username, password, 'control.html');
    await an.waitForSelector('#conn[data-state="connected"]', { state: 'attached' });
    consoles.push(an);
    await page.click(`#users-table tr[data-username="${username}"] button.user-toggle`);
    await page.waitForSelector(`#users-table tr[data-username="${username}"] td.state[data-disabled="true"]`, { state: 'attached' });
    await an.waitForURL((u) => u.pathname.endsWith('/index.html'), { timeout: UI_TIMEOUT });
    await textBecomes(an, '#signin-notice', /.+/, 'sent back to sign in, with the reason');
  }, async () => {
    await pages[0].locator('#users-table').scrollIntoViewIfNeeded().catch(() => {});
    await shot(pages[0], '84-admin-users-1280');
  }));

  it('stops cleanly (exit 0, no sanitizer report)', () => closeAndStop(st, [...pages, ...consoles, ctl]));
});
