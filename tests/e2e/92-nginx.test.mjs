// Behind nginx (issue 19, part 3): Debian's nginx, configured by
// deploy/nginx/tocsin.conf with this test's name, ports and certificate,
// ends TLS for https://tocsin.test and passes everything, the WebSocket
// included, to the broker, which trusts it (trusted-proxies). nginx runs
// unprivileged on 127.0.0.1 and reaches the broker from 127.0.0.2
// (proxy_bind), so that the proxy's address and the browser's (127.0.0.1)
// differ. Chromium resolves tocsin.test to 127.0.0.1
// (--host-resolver-rules) and trusts the certificate this test's CA made
// (--ignore-certificate-errors-spki-list). The browser signs in through
// nginx and its console connects; the audit names the browser's address,
// not the proxy's; HSTS and the broker's own security headers arrive.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT, Stack, demoPassword, waitFor } from './lib/harness.mjs';
import { UI_TIMEOUT, launch, signIn, watch } from './lib/browser.mjs';
import { makeCa, issue, spkiHash } from './lib/pki.mjs';

const NAME = 'tocsin.test';
const PROXY_FROM = '127.0.0.2';

function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

// deploy/nginx/tocsin.conf with the test's values: each replacement must
// find what it replaces, so that a change of the file that the test no
// longer matches fails here rather than testing something else.
function siteConf({ httpPort, httpsPort, brokerPort, cert, key }) {
  let text = fs.readFileSync(path.join(ROOT, 'deploy/nginx/tocsin.conf'), 'utf8');
  const swaps = [
    [/^\s*listen \[::\]:80;\n/m, ''],
    [/^\s*listen \[::\]:443 ssl;\n/m, ''],
    [/listen 80;/, `listen 127.0.0.1:${httpPort};`],
    [/listen 443 ssl;/, `listen 127.0.0.1:${httpsPort} ssl;`],
    [/server_name tocsin\.force\.example;/g, `server_name ${NAME};`],
    [/ssl_certificate\s+\S+;/, `ssl_certificate ${cert};`],
    [/ssl_certificate_key\s+\S+;/, `ssl_certificate_key ${key};`],
    [/server 127\.0\.0\.1:8080;/, `server 127.0.0.1:${brokerPort};`],
    [/(proxy_pass http:\/\/tocsind;)/, `$1\n        proxy_bind ${PROXY_FROM};`],
  ];
  for (const [re, to] of swaps) {
    assert.match(text, re, `deploy/nginx/tocsin.conf has ${re}`);
    text = text.replace(re, to);
  }
  return text;
}

// A main nginx.conf around the site, with every path under dir.
function mainConf(dir) {
  const tmp = (n) => path.join(dir, 'tmp', n);
  return `worker_processes 1;
worker_shutdown_timeout 5s;
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} info;
events { worker_connections 256; }
http {
    access_log ${path.join(dir, 'access.log')};
    client_body_temp_path ${tmp('body')};
    proxy_temp_path ${tmp('proxy')};
    fastcgi_temp_path ${tmp('fastcgi')};
    uwsgi_temp_path ${tmp('uwsgi')};
    scgi_temp_path ${tmp('scgi')};
    include ${path.join(dir, 'tocsin.conf')};
}
`;
}

// The uid and gid of an unprivileged user, when we are root.
function unprivileged() {
  if (process.getuid() !== 0) return {};
  const uid = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

function get(port, urlPath, ca) {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: urlPath, servername: NAME, headers: { host: `${NAME}:${port}` }, ca, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString() }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${urlPath}: no answer`)));
    req.on('error', reject);
  });
}

describe('the broker behind Debian\'s nginx (deploy/nginx/tocsin.conf), with a browser', { timeout: 240_000 }, () => {
  let dir, ca, leaf, st, nginx, nginxExit, browser, httpsPort, base;
  const problems = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-nginx-'));
    fs.chmodSync(dir, 0o755);
    ca = makeCa(dir);
    leaf = issue(dir, ca, { label: 'tocsin-test', serial: 4242, dns: [NAME] });
    for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o644);
    for (const t of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(dir, 'tmp', t), { recursive: true });
    const { uid, gid } = unprivileged();
    if (uid !== undefined) execFileSync('chown', ['-R', `${uid}:${gid}`, path.join(dir, 'tmp')]);
    httpsPort = await freePort();
    base = `https://${NAME}:${httpsPort}`;
    st = await Stack.create({ label: import.meta.url, broker: {
      args: ['--trusted-proxies', PROXY_FROM, '--public-url', base] } });
    fs.writeFileSync(path.join(dir, 'tocsin.conf'), siteConf({ httpPort: await freePort(), httpsPort,
      brokerPort: st.broker.port, cert: leaf.cert, key: leaf.key }));
    fs.writeFileSync(path.join(dir, 'nginx.conf'), mainConf(dir));
    fs.writeFileSync(path.join(dir, 'error.log'), '');
    fs.writeFileSync(path.join(dir, 'access.log'), '');
    if (uid !== undefined) execFileSync('chown', [`${uid}:${gid}`, path.join(dir, 'error.log'), path.join(dir, 'access.log')]);
    if (uid !== undefined) fs.chmodSync(dir, 0o777); // nginx.pid, as nobody
    const t = execFileSync('nginx', ['-t', '-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf')],
      { encoding: 'utf8', stdio: 'pipe', uid, gid });
    assert.equal(typeof t, 'string');
    nginx = spawn('nginx', ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'],
      { stdio: ['ignore', 'pipe', 'pipe'], uid, gid });
    let out = '';
    nginx.stdout.on('data', (d) => { out += d; });
    nginx.stderr.on('data', (d) => { out += d; });
    nginxExit = new Promise((resolve) => nginx.on('exit', (code, signal) => resolve({ code, signal, out })));
    await waitFor(async () => (await get(httpsPort, '/healthz', fs.readFileSync(ca.cert))).status === 200,
      { timeoutMs: 20_000, what: `nginx on ${httpsPort} (${path.join(dir, 'error.log')})` });
    browser = await launch({ args: [`--host-resolver-rules=MAP ${NAME} 127.0.0.1`,
      `--ignore-certificate-errors-spki-list=${spkiHash(leaf.cert)},${spkiHash(ca.cert)}`] });
  });
  after(async () => {
    await browser?.close().catch(() => {});
    if (nginx && nginx.exitCode === null) nginx.kill('SIGKILL');
    await st?.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves https with HSTS and the broker\'s headers, and keeps /metrics to the broker\'s port', async () => {
    const ca0 = fs.readFileSync(ca.cert);
    const page = await get(httpsPort, '/index.html', ca0);
    assert.equal(page.status, 200);
    assert.match(String(page.headers['strict-transport-security']), /^max-age=31536000/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'/);
    assert.equal((await get(httpsPort, '/metrics', ca0)).status, 404);
    const h = await get(httpsPort, '/healthz', ca0);
    assert.equal(h.status, 200);
    assert.equal(JSON.parse(h.text).status, 'ok');
  });

  it(`signs a browser in through ${NAME}; its console connects over wss; the audit names the browser, not nginx`, async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    ctx.setDefaultTimeout(UI_TIMEOUT);
    await ctx.route('**/*', (route) => {
      const u = new URL(route.request().url());
      if (u.host === `${NAME}:${httpsPort}` && (u.protocol === 'https:' || u.protocol === 'wss:')) return route.continue();
      if (u.protocol === 'data:' || u.protocol === 'blob:') return route.continue();
      problems.push(`request to something other than ${NAME}: ${u.href}`);
      return route.abort();
    });
    try {
      const page = await ctx.newPage();
      watch(page, 'controller', problems);
      await signIn(page, base, 'controller', demoPassword('controller'), 'control.html');
      await page.waitForSelector('#conn[data-state="connected"]', { state: 'attached', timeout: UI_TIMEOUT });
      assert.deepEqual(problems, []);
      assert.equal(new URL(page.url()).protocol, 'https:');
    } finally {
      await ctx.close();
    }

    const row = await st.one(`SELECT remote_addr FROM audit WHERE action = 'signin' AND actor_username = 'controller'
                               ORDER BY id DESC LIMIT 1`);
    assert.equal(row.remote_addr, '127.0.0.1', 'the browser\'s address, as nginx saw it');
    // the console's session came through nginx too (from 127.0.0.2) and is the browser's
    await waitFor(() => /session \d+ from 127\.0\.0\.1: signed in as controller/.test(st.broker.stderr),
      { what: 'the session signed in from the browser\'s address' });
    assert.doesNotMatch(st.broker.stderr, new RegExp(`from ${PROXY_FROM.replace(/\./g, '\\.')}`), 'nothing is put down to the proxy');
    // nginx logs a request when it ends: the WebSocket, once the page went
    await waitFor(() => /GET \/ws HTTP\/1\.1" 101/.test(fs.readFileSync(path.join(dir, 'access.log'), 'utf8')),
      { what: 'the WebSocket in nginx\'s access log' });
  });

  it('nginx and the broker stop cleanly', async () => {
    nginx.kill('SIGQUIT'); // graceful: at most worker_shutdown_timeout
    const r = await nginxExit;
    assert.equal(r.code, 0, `${r.out}\n${fs.readFileSync(path.join(dir, 'error.log'), 'utf8').slice(-3000)}`);
    await st.stop();
  });
});
