// The consoles keep no token and no alert text in the browser's storage
// (issue 16): the token lives in the page's memory; a reload gets a new one
// from the HttpOnly refresh cookie set at sign-in (POST /api/refresh), and
// the history a console shows survives it encrypted under a key the broker
// derives from that cookie; signing out revokes the credential and clears
// the cookie. In Chromium, against the real broker and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, waitFor } from './lib/harness.mjs';
import { launch, openAs, textBecomes, UI_TIMEOUT } from './lib/browser.mjs';

const CONSOLE = 'console.threadneedle';   // site 1, a finance site: cleared for OFFICIAL-SENSITIVE
const TOKEN_SHAPE = /v1\.[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}/;

describe('the consoles keep no token and no alert text in storage', { timeout: 300_000 }, () => {
  let st, browser, page, ctl, user;
  const problems = [];
  const headline = `Sensitive headline ${Date.now()}`;
  const body = `Sensitive body naming the informant ${Date.now()}`;
  let alertId;

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    user = await st.one('SELECT id, site_id, cleared_sensitive FROM users WHERE username = $1', [CONSOLE]);
    assert.equal(user.cleared_sensitive, true);
    browser = await launch();
    page = await openAs(browser, st.broker.httpUrl, CONSOLE, 'site_console', problems);
    ctl = await st.connectAs('controller');
  });
  after(async () => {
    await browser?.close().catch(() => {});
    await st?.cleanup();
  });

  // Every key and value of sessionStorage and localStorage.
  const storage = () => page.evaluate(() => {
    const out = {};
    for (const [name, s] of [['session', sessionStorage], ['local', localStorage]]) {
      for (let i = 0; i < s.length; i++) out[`${name}:${s.key(i)}`] = s.getItem(s.key(i));
    }
    return out;
  });
  function assertClean(st0, when) {
    for (const [k, v] of Object.entries(st0)) {
      assert.doesNotMatch(String(v), TOKEN_SHAPE, `${when}: a token in ${k}`);
      assert.ok(!String(v).includes(headline) && !String(v).includes(body), `${when}: alert text in ${k}: ${v}`);
      assert.ok(!k.endsWith('tocsin.token') && !k.endsWith('tocsin.user'), `${when}: ${k} kept`);
    }
  }

  it('after sign-in and an OFFICIAL-SENSITIVE alert: no token, no alert text in sessionStorage or localStorage', async () => {
    const r = await ctl.request({ type: 'publish', headline, body, severity: 'minor', classification: 'OFFICIAL-SENSITIVE',
      targets: { sites: [user.site_id] } });
    assert.equal(r.type, 'published', JSON.stringify(r));
    alertId = r.alert_id;
    await page.waitForSelector(`#alerts [data-alert-id="${alertId}"]`, { state: 'attached', timeout: UI_TIMEOUT });
    // the page cache has been written (or there is none): then look
    await waitFor(async () => Object.keys(await storage()).some((k) => k.includes('alerts')) || null,
      { timeoutMs: UI_TIMEOUT, what: 'the history cache written' }).catch(() => {});
    assertClean(await storage(), 'after the alert');
    assert.deepEqual(problems, []);
  });

  it('a reload resumes signed in without a password, with the history, and still stores none of it', async () => {
    await page.reload({ waitUntil: 'load' });
    await page.waitForSelector('#conn[data-state="connected"]', { state: 'attached', timeout: UI_TIMEOUT });
    assert.ok(page.url().endsWith('/console.html'), page.url());
    await page.waitForSelector(`#alerts [data-alert-id="${alertId}"]`, { state: 'attached', timeout: UI_TIMEOUT });
    assertClean(await storage(), 'after the reload');
    const cookies = await page.context().cookies();
    const c = cookies.find((x) => x.name === 'tocsin_refresh');
    assert.ok(c && c.httpOnly && c.sameSite === 'Strict' && c.path === '/api', JSON.stringify(cookies));
    assert.deepEqual(problems, []);
  });

  it('signing out ends it: the credential is revoked, the cookie cleared, a reload goes to sign-in', async () => {
    await page.click('#signout');
    await page.waitForURL((u) => u.pathname.endsWith('/index.html'), { timeout: UI_TIMEOUT });
    await waitFor(async () => (await st.query(`SELECT 1 FROM refresh_credentials
                                                 WHERE user_id = $1 AND revoked_at IS NOT NULL`, [user.id])).length > 0,
      { timeoutMs: UI_TIMEOUT, what: 'the credential revoked' });
    const live = await st.query(`SELECT id FROM refresh_credentials WHERE user_id = $1 AND revoked_at IS NULL
                                   AND expires_at > now()`, [user.id]);
    assert.deepEqual(live, [], 'no credential of this sign-in left');
    const cookies = await page.context().cookies();
    assert.ok(!cookies.some((x) => x.name === 'tocsin_refresh' && x.value), JSON.stringify(cookies));
    await page.goto(`${st.broker.httpUrl}/console.html`);
    await page.waitForURL((u) => u.pathname.endsWith('/index.html'), { timeout: UI_TIMEOUT });
    const audit = await st.query(`SELECT action FROM audit WHERE actor_user_id = $1 AND action = 'signout'`, [user.id]);
    assert.equal(audit.length, 1);
    assertClean(await storage(), 'after signing out');
    assert.deepEqual(problems, []);
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await page.context().close().catch(() => {});
    await st.stop();
  });
});
