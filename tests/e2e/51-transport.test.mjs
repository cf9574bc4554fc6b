// Transport security (issue #5): https and wss with a certificate and key
// named in the settings (a self-signed one made here with the openssl CLI),
// TLS 1.2+ and HTTP/1.1 only, no plain HTTP on the TLS port, the Origin
// allow-list under TLS, security headers on every kind of response, clear
// errors for bad certificate or key files, refusing root without --user,
// and the drop to --user after reading root-only TLS and bus keys
// (docs/protocol.md, "Transport security").
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import WebSocket from 'ws';
import {
  Broker, ROOT, Stack, SUBPROTOCOL, demoPassword, makeCert, makeKeys,
} from './lib/harness.mjs';
import { LANDING, UI_TIMEOUT, launch, signIn, watch, openAs } from './lib/browser.mjs';

const BINARY = process.env.TOCSIN_BROKER || path.join(ROOT, 'build/san/tocsind');

// Headers every response must carry, TLS or not.
function assertSecurityHeaders(r, what, { hsts }) {
  const h = r.headers;
  const csp = h['content-security-policy'];
  assert.ok(csp, `${what}: no content-security-policy (${JSON.stringify(h)})`);
  assert.match(csp, /default-src 'none'/, `${what}: CSP ${csp}`);
  assert.match(csp, /script-src 'self'/, `${what}: CSP ${csp}`);
  assert.match(csp, /frame-ancestors 'none'/, `${what}: CSP ${csp}`);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, `${what}: CSP ${csp}`);
  // WebSockets to the page's own origin only ('self' covers ws/wss of the
  // same host and port in CSP Level 3), not to any host.
  assert.match(csp, /connect-src 'self';/, `${what}: CSP ${csp}`);
  assert.doesNotMatch(csp, /connect-src[^;]*\b(ws|wss):/, `${what}: CSP ${csp}`);
  assert.equal(h['x-content-type-options'], 'nosniff', what);
  assert.match(String(h['x-frame-options']), /^deny$/i, what);
  assert.equal(h['referrer-policy'], 'no-referrer', what);
  assert.match(String(h['permissions-policy']), /camera=\(\)/, what);
  if (hsts) assert.match(String(h['strict-transport-security']), /^max-age=\d{7,}/, `${what}: HSTS`);
  else assert.equal(h['strict-transport-security'], undefined, `${what}: HSTS without TLS`);
}

// Runs the broker binary directly (not through the harness) and resolves
// { code, out } once it exits; fails if it is still running after ms.
function runBroker(args, { env = {}, ms = 20000 } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(BINARY, args, {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0', TOCSIN_ALLOW_ROOT: '', TOCSIN_CONFIG: '/dev/null', ...env },
    });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`still running after ${ms} ms: ${out}`)); }, ms);
    p.on('exit', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}

async function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

describe('https and wss with --tls-cert/--tls-key', { timeout: 180_000 }, () => {
  let st;
  let dir;
  let files;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-tls-'));
    files = makeCert(dir);
    st = await Stack.create({ label: import.meta.url, tls: { cert: files.cert, key: files.key } });
  });
  after(async () => {
    await st?.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers /healthz and /api/login over https, verified against the test certificate', async () => {
    const h = await st.http('GET', '/healthz');
    assert.equal(h.status, 200, h.text);
    const r = await st.http('POST', '/api/login', { body: { username: 'controller', password: 'controller-demo' } });
    assert.equal(r.status, 200, r.text);
    assert.match(r.json.token, /^v1\./);
    assert.equal(r.headers['cache-control'], 'no-store');
  });

  it('opens wss sessions: hello, welcome, ping', async () => {
    const s = await st.connectAs('console.threadneedle');
    assert.equal(s.welcome.type, 'welcome');
    assert.equal(s.welcome.user.username, 'console.threadneedle');
    await s.ping();
    assert.ok(st.broker.wsUrl.startsWith('wss://'));
    s.close();
  });

  it('refuses an untrusted certificate on the client side (it really is TLS with this cert)', async () => {
    await assert.rejects(new Promise((resolve, reject) => {
      const ws = new WebSocket(st.broker.wsUrl, [SUBPROTOCOL], { handshakeTimeout: 5000 });
      ws.on('open', () => { ws.close(); resolve(); });
      ws.on('error', reject);
    }), /self[- ]signed|unable to verify|certificate/i);
  });

  it('speaks no plain HTTP or WebSocket on the TLS port', async () => {
    const plain = await new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port: st.broker.port, path: '/healthz', agent: false, timeout: 5000 });
      req.on('response', (res) => { res.resume(); resolve({ status: res.statusCode }); });
      req.on('timeout', () => { req.destroy(new Error('timeout')); });
      req.on('error', (err) => resolve({ error: err.message }));
    });
    assert.ok(plain.error, `plain HTTP got an answer: ${JSON.stringify(plain)}`);
    const ws = await new Promise((resolve) => {
      const w = new WebSocket(`ws://127.0.0.1:${st.broker.port}/ws`, [SUBPROTOCOL], { handshakeTimeout: 5000 });
      w.on('open', () => { w.terminate(); resolve('open'); });
      w.on('error', (err) => resolve(`error: ${err.message}`));
    });
    assert.match(ws, /^error/, 'plain ws must not open');
  });

  it('negotiates TLS 1.2 or later and HTTP/1.1 by ALPN, refusing TLS 1.1', async () => {
    const info = await new Promise((resolve, reject) => {
      const sock = tls.connect({
        host: '127.0.0.1', port: st.broker.port, servername: 'localhost', ca: fs.readFileSync(files.cert),
        ALPNProtocols: ['h2', 'http/1.1'],
      }, () => { resolve({ version: sock.getProtocol(), alpn: sock.alpnProtocol }); sock.end(); });
      sock.on('error', reject);
    });
    assert.match(info.version, /^TLSv1\.[23]$/);
    assert.equal(info.alpn, 'http/1.1');
    const old = await new Promise((resolve) => {
      const sock = tls.connect({
        host: '127.0.0.1', port: st.broker.port, servername: 'localhost', rejectUnauthorized: false,
        minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0',
      }, () => { resolve(`connected with ${sock.getProtocol()}`); sock.end(); });
      sock.on('error', (err) => resolve(`error: ${err.code || ''} ${err.message}`));
    });
    assert.match(old, /^error: .*(protocol version|PROTOCOL_VERSION|unsupported protocol)/i, old);
  });

  it('security headers on static files, /api, /healthz and errors, with HSTS under TLS', async () => {
    const cases = [
      ['GET', '/', undefined, 200],
      ['GET', '/healthz', undefined, 200],
      ['POST', '/api/login', { username: 'controller', password: 'wrong' }, 401],
      ['POST', '/api/login', '{not json', 400],
      ['GET', '/no-such-page.html', undefined, 404],
    ];
    for (const [method, p, body, status] of cases) {
      const r = await st.http(method, p, body === undefined ? {} : { body });
      assert.equal(r.status, status, `${method} ${p}: ${r.status} ${r.text.slice(0, 200)}`);
      assertSecurityHeaders(r, `${method} ${p}`, { hsts: true });
    }
  });

  it('allows the https origin of the port, refuses http and other origins (cross-site WebSocket hijacking)', async () => {
    const port = st.broker.port;
    const tryOrigin = (origin) => new Promise((resolve) => {
      const w = new WebSocket(st.broker.wsUrl, [SUBPROTOCOL], {
        handshakeTimeout: 5000, ca: st.broker.tls.caPem, servername: 'localhost', headers: { Origin: origin },
      });
      w.on('open', () => { w.close(); resolve('open'); });
      w.on('unexpected-response', (req, res) => { res.resume(); req.destroy(); resolve(res.statusCode); });
      w.on('error', (err) => resolve(`error: ${err.message}`));
    });
    assert.equal(await tryOrigin(`https://127.0.0.1:${port}`), 'open');
    assert.equal(await tryOrigin(`https://localhost:${port}`), 'open');
    for (const bad of [`http://127.0.0.1:${port}`, 'https://evil.example', `https://127.0.0.1:${port + 1}`]) {
      const r = await tryOrigin(bad);
      assert.notEqual(r, 'open', `Origin ${bad} must be refused`);
    }
  });

  it('the consoles work in Chromium over https and wss, within the security headers (no CSP violation)', async () => {
    const problems = [];
    const host = `127.0.0.1:${st.broker.port}`;
    const browser = await launch();
    try {
      // the test certificate is not in Chromium's store: accept it for this context only
      const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
      await ctx.route('**/*', (route) => {
        const u = new URL(route.request().url());
        if ((u.protocol === 'https:' || u.protocol === 'wss:') && u.host === host) return route.continue();
        if (u.protocol === 'data:' || u.protocol === 'blob:') return route.continue();
        problems.push(`request to something other than the broker over TLS: ${u.href}`);
        return route.abort();
      });
      await ctx.addInitScript(() => {
        document.addEventListener('securitypolicyviolation', (e) => {
          console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`);
        });
      });
      ctx.setDefaultTimeout(UI_TIMEOUT);
      for (const [username, role] of [['console.threadneedle', 'site_console'], ['controller', 'controller']]) {
        const page = await ctx.newPage();
        watch(page, username, problems);
        await signIn(page, `https://${host}`, username, demoPassword(username), LANDING[role]);
        await page.waitForSelector('#conn[data-state="connected"]', { state: 'attached', timeout: UI_TIMEOUT });
        assert.ok(page.url().startsWith(`https://${host}/`), page.url());
        await page.close();
      }
      await ctx.close();
    } finally {
      await browser.close();
    }
    assert.deepEqual(problems, []);
  });

  it('stops cleanly (exit 0, no sanitizer report)', async () => {
    await st.stop();
  });
});

describe('security headers without TLS', { timeout: 120_000 }, () => {
  let st;
  before(async () => { st = await Stack.create({ label: `${import.meta.url}-plain` }); });
  after(async () => { await st?.cleanup(); });

  it('every kind of response carries them, and no HSTS over plain HTTP', async () => {
    for (const [method, p, body] of [['GET', '/'], ['GET', '/healthz'], ['POST', '/api/login', {}], ['GET', '/nope.js']]) {
      const r = await st.http(method, p, body === undefined ? {} : { body });
      assertSecurityHeaders(r, `${method} ${p}`, { hsts: false });
    }
  });

  it('the consoles load under that policy: no inline scripts or styles in the pages', async () => {
    const pages = fs.readdirSync(path.join(ROOT, 'web-client')).filter((f) => f.endsWith('.html'));
    assert.ok(pages.length > 0);
    for (const page of pages) {
      const r = await st.http('GET', `/${page}`);
      assert.equal(r.status, 200, page);
      assert.doesNotMatch(r.text, /<script(?![^>]*\bsrc=)[^>]*>\s*\S/i, `${page}: inline script`);
      assert.doesNotMatch(r.text, /\son[a-z]+\s*=\s*["']/i, `${page}: inline event handler`);
      assert.doesNotMatch(r.text, /<style[\s>]/i, `${page}: inline <style>`);
      assert.doesNotMatch(r.text, /\sstyle\s*=\s*["']/i, `${page}: style attribute`);
    }
  });

  it('a console page may open a WebSocket to the broker, not to another host (connect-src \'self\')', async () => {
    const problems = [];
    const browser = await launch();
    try {
      // connected: 'self' lets the console's own ws:// through
      const page = await openAs(browser, st.broker.httpUrl, 'console.threadneedle', 'site_console', problems,
        { allow: [/CSP violation: connect-src/, /violates the following Content Security Policy directive: "connect-src 'self'"/] });
      const other = `ws://localhost:${st.broker.port}/ws`;   // another host, the same broker behind it
      const outcome = await page.evaluate((url) => new Promise((resolve) => {
        document.addEventListener('securitypolicyviolation',
          (e) => resolve(`violation ${e.effectiveDirective || e.violatedDirective}`), { once: true });
        try {
          const ws = new WebSocket(url, 'tocsin.v1');
          ws.onopen = () => { ws.close(); resolve('open'); };
        } catch (err) {
          resolve(`threw ${err.name}`);
        }
      }), other);
      assert.match(outcome, /^(violation connect-src|threw SecurityError)/, `a WebSocket to ${other}: ${outcome}`);
      await page.context().close();
    } finally {
      await browser.close();
    }
    assert.deepEqual(problems, []);
  });

  it('stops cleanly', async () => { await st.stop(); });
});

describe('bad TLS settings and running as root', { timeout: 120_000 }, () => {
  let dir;
  let files;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-tls-bad-'));
    files = makeCert(dir);
    fs.writeFileSync(path.join(dir, 'garbage.pem'), 'this is not a certificate\n');
    makeKeys(dir);
  });
  after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  const base = async () => ['--listen', `127.0.0.1:${await freePort()}`, '--database', 'postgresql:///nowhere',
    '--token-key', path.join(dir, 'token.key'), '--journal', path.join(dir, 'journal', 'j'), '--allow-root'];

  for (const [what, tlsArgs, pattern] of [
    ['a missing certificate', (d) => ['--tls-cert', path.join(d, 'missing.pem'), '--tls-key', files.key], /TLS certificate .*missing\.pem: No such file/],
    ['a missing key', (d) => ['--tls-cert', files.cert, '--tls-key', path.join(d, 'missing-key.pem')], /TLS key .*missing-key\.pem: No such file/],
    ['a file that is not a certificate', (d) => ['--tls-cert', path.join(d, 'garbage.pem'), '--tls-key', files.key], /garbage\.pem holds no PEM certificate/],
    ['a key that is not the certificate\'s', () => ['--tls-cert', files.cert, '--tls-key', files.otherKey], /other-key\.pem does not belong to the certificate .*cert\.pem/],
  ]) {
    it(`refuses to start with ${what}, naming the file, before listening`, async () => {
      const r = await runBroker([...await base(), ...tlsArgs(dir)]);
      assert.notEqual(r.code, 0, r.out);
      assert.match(r.out, pattern);
      assert.doesNotMatch(r.out, /listening on/);
    });
  }

  it('wants --tls-cert and --tls-key together (usage error, exit 2)', async () => {
    const r = await runBroker([...await base(), '--tls-cert', files.cert]);
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /--tls-cert and --tls-key go together/);
  });

  it('refuses to run as root without --user or --allow-root, and an unknown --user', async (t) => {
    if (process.getuid() !== 0) { t.skip('not running as root: nothing to refuse'); return; }
    const args = (await base()).filter((a) => a !== '--allow-root');
    let r = await runBroker(args);
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /refusing to run as root: give --user NAME/);
    r = await runBroker([...args, '--user', 'no-such-user-tocsin']);
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /--user no-such-user-tocsin: no such user/);
    r = await runBroker([...args, '--user', 'root']);
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /is root/);
  });
});

describe('--user: reads the keys as root, then runs as that user', { timeout: 120_000 }, () => {
  let st;
  let dir;
  let user;
  let busPort;
  let relay;

  before(async () => {
    if (process.getuid() !== 0) return;
    try {
      const [uid, gid] = execFileSync('id', ['-u', 'tocsin'], { encoding: 'utf8' }).trim().split(' ');
      user = { name: 'tocsin', uid: Number(uid), gid: Number(execFileSync('id', ['-g', 'tocsin'], { encoding: 'utf8' }).trim()) };
      void gid;
    } catch { return; }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-user-'));
    fs.chmodSync(dir, 0o755);
    const files = makeCert(dir);
    fs.chmodSync(files.key, 0o600); // root's alone: read before the drop
    // the bus key too (root's alone), with an ingest endpoint bound before the drop
    const busKey = path.join(dir, 'bus.key');
    execFileSync(path.join(ROOT, 'build/tocsinctl'), ['bus', 'keygen', '--out', busKey], { stdio: 'pipe', timeout: 30000 });
    fs.chmodSync(busKey, 0o600);
    busPort = await freePort();
    st = await Stack.create({ label: `${import.meta.url}-user`, startBroker: false });
    // Once it has dropped root the broker must still reach PostgreSQL. The
    // test cluster's socket lives inside the checkout, which a clone in a
    // folder only root may enter (mktemp -d, as CI does) hides from every
    // other user; a relay socket in this test's open folder forwards to it.
    const pgHost = new URL(st.db.brokerUrl).searchParams.get('host');
    const relayDir = path.join(dir, 'pg');
    fs.mkdirSync(relayDir);
    fs.chmodSync(relayDir, 0o755);
    relay = net.createServer((c) => {
      const up = net.connect(path.join(pgHost, '.s.PGSQL.5432'));
      c.pipe(up);
      up.pipe(c);
      c.on('error', () => up.destroy());
      up.on('error', () => c.destroy());
    });
    const relaySocket = path.join(relayDir, '.s.PGSQL.5432');
    await new Promise((resolve, reject) => { relay.once('error', reject); relay.listen(relaySocket, resolve); });
    fs.chmodSync(relaySocket, 0o777);
    const url = new URL(st.db.brokerUrl);
    url.searchParams.set('host', relayDir);
    st.broker = new Broker({
      label: `${st.label}-user`,
      databaseUrl: url.toString(),
      tls: { cert: files.cert, key: files.key },
      args: ['--user', 'tocsin', '--journal', path.join(dir, 'journal', 'tocsin.journal'),
        '--bus-key', busKey, '--bus-ingest', `tcp://127.0.0.1:${busPort}`],
    });
    await st.broker.start();
  });
  after(async () => {
    await st?.cleanup();
    relay?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs with the uid and gid of --user (and no other groups), serving wss with a root-only key', async (t) => {
    if (process.getuid() !== 0) { t.skip('not running as root: there is no privilege to drop'); return; }
    if (!user) { t.skip('no system user "tocsin" (deploy/pg-local.sh creates it when run as root)'); return; }
    const status = fs.readFileSync(`/proc/${st.broker.proc.pid}/status`, 'utf8');
    const ids = (field) => status.match(new RegExp(`^${field}:\\s+(.*)$`, 'm'))[1].trim().split(/\s+/).map(Number);
    assert.deepEqual(ids('Uid'), [user.uid, user.uid, user.uid, user.uid], status);
    assert.deepEqual(ids('Gid'), [user.gid, user.gid, user.gid, user.gid], status);
    assert.deepEqual(ids('Groups'), [user.gid], status);
    assert.match(st.broker.stderr, /running as user tocsin/);
    // the root-only bus key was read and the endpoint bound before the drop
    assert.match(st.broker.stderr, new RegExp(`bus: ingest tcp://127\\.0\\.0\\.1:${busPort}`));
    const bound = await new Promise((resolve) => {
      const c = net.connect(busPort, '127.0.0.1', () => { c.destroy(); resolve(true); });
      c.on('error', () => resolve(false));
    });
    assert.ok(bound, 'the bus endpoint listens');
    // the journal's folder is the user's, so it can be written while PostgreSQL is away
    assert.equal(fs.statSync(path.join(dir, 'journal')).uid, user.uid);
    const s = await st.connectAs('controller');
    await s.ping();
    s.close();
  });

  it('stops cleanly as that user', async (t) => {
    if (!st) { t.skip('not started (see above)'); return; }
    await st.stop();
  });
});
