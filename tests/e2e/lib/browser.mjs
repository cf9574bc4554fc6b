// Browser helpers for the console tests (tests/e2e/05-browser, 7x-*):
// Debian's Chromium driven by playwright-core against the real broker.
// Every page's console errors, uncaught exceptions, CSP violations and
// requests to anything but the broker are collected as problems; a test
// asserts there were none. Screenshots go to <test output>/screenshots/.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { OUTPUT_DIR, demoPassword, waitFor, sleep } from './harness.mjs';

export const CHROMIUM = process.env.TOCSIN_CHROMIUM || '/usr/bin/chromium';
export const SHOTS = path.join(OUTPUT_DIR, 'screenshots');
// Generous: up to seven engineers share two cores with their own tests.
export const UI_TIMEOUT = 20_000;

export const LANDING = {
  controller: 'control.html',
  analyst: 'control.html',
  company_operator: 'console.html',
  site_console: 'console.html',
  admin: 'admin.html',
  inspector: 'inspector.html',
};

// args: more Chromium switches (92-nginx: the host resolver and the test CA).
export async function launch({ args = [] } = {}) {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}`);
  fs.mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--no-first-run', '--disable-sync', '--autoplay-policy=no-user-gesture-required',
      // Background tabs must keep their timers: several consoles at once.
      '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows', ...args],
  });
}

/* err with the page problems seen so far added to its message: a
 * browser test's failure then says what the pages logged. */
export function withProblems(err, problems) {
  if (problems.length) err.message += `\npage problems:\n  ${problems.join('\n  ')}`;
  return err;
}

/* Runs a browser test's body: a failure carries the page problems, the
 * pages must have logged none, and `always` (screenshots) runs either
 * way. */
export async function withoutProblems(problems, body, always) {
  try {
    await body();
  } catch (err) {
    throw withProblems(err, problems);
  } finally {
    if (always) await always();
  }
  if (problems.length) throw new Error(`page problems:\n  ${problems.join('\n  ')}`);
}

/* Closes the pages' browser contexts, then stops the stack (exit 0, no
 * sanitizer report). */
export async function closeAndStop(st, pages) {
  for (const page of pages) await page.context().close().catch(() => {});
  await st.stop();
}

/* Every page problem goes to `problems`; `allow` filters known, expected
 * console errors (e.g. the failed WebSocket while the broker restarts). */
export function watch(page, name, problems, allow = []) {
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    if (allow.some((re) => re.test(text))) return;
    problems.push(`${name}: console error: ${text}`);
  });
  page.on('pageerror', (err) => problems.push(`${name}: uncaught exception: ${err.message}`));
  page.on('crash', () => problems.push(`${name}: page crashed`));
}

/* A browser context that may reach the broker at `host` (host:port) only.
 * initScript, when given, runs in every page before the page's own
 * scripts (e.g. listenToTones). */
export async function newContext(browser, host, name, problems, { viewport = { width: 1280, height: 900 }, initScript } = {}) {
  const ctx = await browser.newContext({ viewport });
  if (initScript) await ctx.addInitScript(initScript);
  await ctx.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if ((u.protocol === 'http:' || u.protocol === 'ws:') && u.host === host) return route.continue();
    if (u.protocol === 'data:' || u.protocol === 'blob:') return route.continue();
    problems.push(`${name}: request to something other than the broker: ${u.href}`);
    return route.abort();
  });
  await ctx.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`);
    });
  });
  ctx.setDefaultTimeout(UI_TIMEOUT);
  return ctx;
}

/* A signed-in page for `username`, on its landing page, connected. */
export async function openAs(browser, baseUrl, username, role, problems, opts = {}) {
  const host = new URL(baseUrl).host;
  const ctx = await newContext(browser, host, username, problems, opts);
  const page = await ctx.newPage();
  watch(page, username, problems, opts.allow || []);
  await signIn(page, baseUrl, username, demoPassword(username), LANDING[role]);
  try {
    await page.waitForSelector('#conn[data-state="connected"]', { state: 'attached', timeout: UI_TIMEOUT });
  } catch (err) {
    const conn = await page.locator('#conn').textContent().catch(() => null);
    throw new Error(`${username}: not connected (#conn ${JSON.stringify(conn)}); page problems: ${JSON.stringify(problems)}: ${err.message}`);
  }
  return page;
}

/* In the control room `page`: sends a live extreme alert to every company
 * of `companies` (ids) with no area, which the default release policy
 * holds (tests/e2e/102, 109). */
export async function sendToEveryCompany(page, companies, { headline, body, instruction }) {
  await page.selectOption('#template', 'live_incident');
  await page.click('#template-apply');
  await page.fill('#headline', headline);
  await page.fill('#body', body);
  await page.fill('#instruction', instruction);
  await page.selectOption('#severity', 'extreme');
  await page.check('input[name="area-kind"][value="none"]');
  await page.uncheck('#target-area');
  for (const id of companies) await page.check(`input[name="target-org"][value="${id}"]`);
  await page.fill('#confirm-live', 'SEND');
  await page.click('#send');
}

/* A signed-in page for `username` on `landing`, connected, whose
 * WebSocket passes through a test proxy: each frame from the broker goes
 * through alter(text) on its way to the page (a frame altered in transit). */
export async function openBehindProxy(browser, baseUrl, username, landing, problems, alter) {
  const ctx = await newContext(browser, new URL(baseUrl).host, username, problems);
  await ctx.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => server.send(m));
    server.onMessage((m) => ws.send(typeof m === 'string' ? alter(m) : m));
  });
  const p = await ctx.newPage();
  watch(p, username, problems);
  await signIn(p, baseUrl, username, demoPassword(username), landing);
  await p.waitForSelector('#conn[data-state="connected"]', { state: 'attached', timeout: UI_TIMEOUT });
  return p;
}

export async function signIn(page, baseUrl, username, password, landing) {
  await page.goto(`${baseUrl}/index.html`, { waitUntil: 'load' });
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('#signin');
  try {
    await page.waitForURL((u) => u.pathname.endsWith(`/${landing}`), { timeout: UI_TIMEOUT });
  } catch (err) {
    const msg = await page.locator('#signin-error').textContent().catch(() => null);
    throw new Error(`${username} did not land on ${landing} (at ${page.url()}, #signin-error: ${JSON.stringify(msg)}): ${err.message}`);
  }
}

/* Poll the trimmed textContent of a selector until want (a string, or a
 * RegExp) matches. */
export async function textBecomes(page, selector, want, what, timeoutMs = UI_TIMEOUT) {
  let last;
  const ok = (t) => (want instanceof RegExp ? want.test(t) : t === want);
  try {
    await waitFor(async () => {
      last = await page.locator(selector).first().textContent({ timeout: 1000 }).catch(() => null);
      return last !== null && ok(last.trim());
    }, { timeoutMs, intervalMs: 150, what });
  } catch (err) {
    throw new Error(`${what}: ${selector} is ${JSON.stringify(last)}, want ${want} (${err.message})`);
  }
}

/* An init script (newContext's initScript) that records every tone the
 * page plays through Web Audio in window.__tones: {type, freq, at} per
 * oscillator started (type 'square' for js/sound.js's alarms, 'sine' for
 * its chimes). A page that plays nothing leaves it empty. */
export function listenToTones() {
  window.__tones = [];
  const Ctx = window.AudioContext;
  if (!Ctx) return;
  const create = Ctx.prototype.createOscillator;
  Ctx.prototype.createOscillator = function createOscillator() {
    const osc = create.call(this);
    let freq = osc.frequency.value;
    const set = osc.frequency.setValueAtTime.bind(osc.frequency);
    osc.frequency.setValueAtTime = (v, t) => { freq = v; return set(v, t); };
    const start = osc.start.bind(osc);
    osc.start = (...args) => {
      window.__tones.push({ type: osc.type, freq, at: Date.now() });
      return start(...args);
    };
    return osc;
  };
}

/* The tones a page has played so far (listenToTones). */
export async function tones(page) {
  return page.evaluate(() => window.__tones || []);
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: false }).catch(() => {});
}

/* Site markers on a map: {siteId: {x, y}} page coordinates of their centres. */
export async function markerCentres(page, mapSelector) {
  const out = {};
  for (const m of await page.locator(`${mapSelector} path.site-marker`).all()) {
    const id = await m.getAttribute('data-site-id');
    const box = await m.boundingBox();
    if (id && box) out[id] = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  }
  return out;
}

/* A TCP forwarder on a fixed port in front of a broker, so a browser keeps
 * its origin (and sessionStorage) while the broker behind it is replaced:
 * `retarget(port)` points new connections at another broker, `cut()`
 * drops every open connection. While no broker is set, connections are
 * refused at once. */
export class Forwarder {
  constructor() {
    this.target = null;
    this.sockets = new Set();
    this.server = net.createServer((client) => this.#accept(client));
  }

  async listen() {
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', resolve);
    });
    this.port = this.server.address().port;
    return this;
  }

  get baseUrl() { return `http://127.0.0.1:${this.port}`; }
  get host() { return `127.0.0.1:${this.port}`; }

  retarget(port) { this.target = port; }

  cut() {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  #accept(client) {
    if (!this.target) {
      client.destroy();
      return;
    }
    const upstream = net.connect(this.target, '127.0.0.1');
    this.sockets.add(client);
    this.sockets.add(upstream);
    const done = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', done);
    upstream.on('error', done);
    client.on('close', done);
    upstream.on('close', done);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  async close() {
    this.cut();
    await new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export { sleep, waitFor };
