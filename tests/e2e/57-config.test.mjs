// The configuration file (issue 19, part 1): a broker started with
// --config FILE alone serves from it; --check-config prints the effective
// settings with the database password masked and says where each came from
// (command line > environment > file > default), and refuses a bad file
// naming its line and setting; --public-url is the origin browsers send
// (default port left out) and the base of the CAP export's links; under TLS
// on port 443 the default origins are those browsers send, without :443.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import {
  Broker, Stack, SUBPROTOCOL, httpRequest, makeCert, makeKeys, ROOT, run,
} from './lib/harness.mjs';
import { makePng, upload } from './lib/images-helpers.mjs';

const BINARY = process.env.TOCSIN_BROKER || path.join(ROOT, 'build/san/tocsind');
const PUBLIC = 'https://tocsin.force.example';

// tocsind with args, to its exit: { code, stdout, stderr }.
const tocsind = (args, env = {}) => run(BINARY, args,
  { timeoutMs: 30000, env: { ASAN_OPTIONS: 'detect_leaks=0', TOCSIN_CONFIG: '', ...env } });

// The answer to a WebSocket upgrade sent with this Origin: 'open' or the HTTP status.
function tryOrigin(broker, origin) {
  return new Promise((resolve) => {
    const w = new WebSocket(broker.wsUrl, [SUBPROTOCOL], {
      handshakeTimeout: 5000, headers: { Origin: origin },
      ...(broker.tls ? { ca: broker.tls.caPem, servername: 'localhost' } : {}),
    });
    w.on('open', () => { w.close(); resolve('open'); });
    w.on('unexpected-response', (req, res) => { res.resume(); req.destroy(); resolve(res.statusCode); });
    w.on('error', (err) => resolve(`error: ${err.message}`));
  });
}

describe('a broker set up by its configuration file', { timeout: 180_000 }, () => {
  let st;
  let dir;
  let file;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-conf-'));
    makeKeys(dir);
    file = path.join(dir, 'tocsind.conf');
    st = await Stack.create({ label: import.meta.url, startBroker: false });
    // every setting from the file: the harness passes no flag of its own
    st.broker = new Broker({
      label: st.label,
      databaseUrl: st.db.brokerUrl,
      flags: false,
      args: (b) => {
        fs.writeFileSync(file, [
          '# tocsind.conf for the test',
          `listen = 127.0.0.1:${b.port}`,
          `database = ${st.db.brokerUrl}`,
          `web-root = ${path.join(ROOT, 'web-client')}`,
          `token-key = ${path.join(dir, 'token.key')}`,
          `journal = ${path.join(dir, 'journal', 'tocsin.journal')}   ; while PostgreSQL is away`,
          `public-url = ${PUBLIC}:443/`,
          'rate-limit = 500',
          '',
        ].join('\n'));
        return ['--config', file];
      },
    });
    await st.broker.start();
  });
  after(async () => {
    await st?.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves the consoles and signs in with the file alone', async () => {
    const page = await st.http('GET', '/');
    assert.equal(page.status, 200);
    const s = await st.connectAs('controller');
    await s.ping();
    s.close();
  });

  it('allows the public URL as browsers send it (no :443) and no longer the local origins', async () => {
    const b = st.broker;
    assert.equal(await tryOrigin(b, PUBLIC), 'open');
    assert.equal(await tryOrigin(b, `${PUBLIC}:443`), 'open');
    for (const bad of [`http://127.0.0.1:${b.port}`, `http://localhost:${b.port}`, 'http://tocsin.force.example',
      'https://tocsin.force.example.evil', 'https://evil.example']) {
      assert.notEqual(await tryOrigin(b, bad), 'open', `Origin ${bad} must be refused`);
    }
  });

  it('links the CAP export\'s images under the public URL', async () => {
    const token = await st.token('controller');
    const up = await upload(st.broker, token, makePng(2, 2));
    assert.equal(up.status, 201, up.text);
    const [{ id: site }] = await st.query("SELECT id FROM sites WHERE slug = 'threadneedle'");
    const ctl = await st.connectAs('controller');
    const rep = await ctl.request({ type: 'publish', headline: 'Config test', severity: 'minor', status: 'exercise',
      images: [up.json.image_id], targets: { sites: [site] } }, 15_000);
    assert.equal(rep.type, 'published', JSON.stringify(rep));
    const cap = await httpRequest(st.broker, 'GET', `/api/alerts/${rep.alert_id}/cap`,
      { headers: { authorization: `Bearer ${token}` } });
    assert.equal(cap.status, 200, cap.text);
    assert.ok(cap.text.includes(`<uri>${PUBLIC}/api/images/${up.json.image_id}</uri>`), cap.text);
    ctl.close();
  });

  it('--check-config: where each setting came from, command line over environment over file', async () => {
    let r = await tocsind(['--config', file, '--check-config']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^listen = 127\\.0\\.0\\.1:${st.broker.port} +# file, line 2$`, 'm'));
    assert.match(r.stdout, /^public-url = https:\/\/tocsin\.force\.example +# file, line 7$/m);
    assert.match(r.stdout, /^allowed-origin = https:\/\/tocsin\.force\.example +# derived$/m);
    assert.match(r.stdout, /^rate-limit = 500 +# file, line 8$/m);
    assert.match(r.stdout, /^max-frame = 65536 +# default$/m);
    assert.match(r.stdout, /^# tls-cert = +# not set$/m);
    r = await tocsind(['--config', file, '--check-config'], { TOCSIN_RATE_LIMIT: '600' });
    assert.match(r.stdout, /^rate-limit = 600 +# environment TOCSIN_RATE_LIMIT$/m);
    r = await tocsind(['--config', file, '--check-config', '--rate-limit', '700'], { TOCSIN_RATE_LIMIT: '600' });
    assert.match(r.stdout, /^rate-limit = 700 +# command line$/m);
    // the file named by the environment
    r = await tocsind(['--check-config'], { TOCSIN_CONFIG: file });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^rate-limit = 500 +# file, line 8$/m);
  });

  it('--check-config masks the database password', async () => {
    const r = await tocsind(['--config', file, '--check-config',
      '--database', 'postgresql://tocsin_broker:correct-horse@db.internal/tocsin?sslmode=verify-full']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /correct-horse/);
    assert.match(r.stdout, /^database = postgresql:\/\/tocsin_broker:\*\*\*\*@db\.internal\/tocsin\?sslmode=verify-full +# command line$/m);
  });

  it('refuses a bad file, naming its line and setting (exit 2), and does not start', async () => {
    const bad = path.join(dir, 'bad.conf');
    fs.writeFileSync(bad, `database = ${st.db.brokerUrl}\nlisten-on = 0.0.0.0:443\nnode-id = 16\n` +
      'token-ttl = 60\ntoken-ttl = 120\n');
    for (const args of [['--config', bad, '--check-config'], ['--config', bad]]) {
      const r = await tocsind(args);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.ok(r.stderr.includes(`${bad}:2: listen-on is not a setting`), r.stderr);
      assert.ok(r.stderr.includes(`${bad}:3: node-id must be a number from 0 to 15, got '16'`), r.stderr);
      assert.ok(r.stderr.includes(`${bad}:5: token-ttl is set twice (first on line 4)`), r.stderr);
      assert.doesNotMatch(r.stdout + r.stderr, /listening on/);
    }
    const missing = await tocsind(['--config', path.join(dir, 'nope.conf'), '--check-config']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read the configuration file .*nope\.conf: No such file/);
  });

  it('a missing key is a start error naming tocsinctl keys init', async () => {
    const r = await tocsind(['--config', file, '--token-key', path.join(dir, 'none', 'token.key'),
      '--listen', '127.0.0.1:1'], { TOCSIN_ALLOW_ROOT: '1' });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /no token key at .*none\/token\.key: make the keys with: tocsinctl keys init --dir .*none/);
    assert.ok(!fs.existsSync(path.join(dir, 'none')), 'nothing was made');
  });

  it('stops cleanly', async () => { await st.stop(); });
});

// Whether nothing listens on 127.0.0.1:port now.
function portFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

describe('TLS on port 443 without public-url: the origins browsers send', { timeout: 120_000 }, () => {
  let st;
  let dir;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-443-'));
    st = await Stack.create({ label: `${import.meta.url}-443`, startBroker: false });
  });
  after(async () => {
    await st?.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('allows https://localhost and https://127.0.0.1 (no :443), refuses others', async (t) => {
    if (process.getuid() !== 0) { t.skip('not root: port 443 cannot be bound'); return; }
    if (!await portFree(443)) { t.skip('127.0.0.1:443 is in use on this machine'); return; }
    const files = makeCert(dir);
    st.broker = new Broker({ label: `${st.label}-443`, databaseUrl: st.db.brokerUrl, port: 443,
      tls: { cert: files.cert, key: files.key } });
    await st.broker.start();
    for (const ok of ['https://localhost', 'https://127.0.0.1', 'https://localhost:443']) {
      assert.equal(await tryOrigin(st.broker, ok), 'open', `Origin ${ok}`);
    }
    for (const bad of ['http://localhost', 'https://localhost:8443', 'https://evil.example']) {
      assert.notEqual(await tryOrigin(st.broker, bad), 'open', `Origin ${bad} must be refused`);
    }
    await st.stop();
  });
});
