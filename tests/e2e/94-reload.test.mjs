// SIGHUP (issue 19, part 6): a renewed certificate and changed settings
// without a restart. 1,000 consoles stay connected over wss while the
// certificate is renewed (a new serial, from the same test CA) and the
// broker is sent SIGHUP: none is dropped, each still answers, and a new
// connection gets the new certificate. A setting SIGHUP may change is
// taken (metrics-allow), one it may not is named (node-id), and a renewal
// whose key is not its certificate's is refused and the old one kept.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { Stack, consoleDirectory } from './lib/harness.mjs';
import { claimsFor, inBatches, waitForLog } from './lib/faults.mjs';
import { makeCa, issue } from './lib/pki.mjs';

const CONSOLES = 1000;

// The serial of the certificate a new TLS connection to the broker gets.
function servedSerial(broker, ca) {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port: broker.port, ca, servername: 'localhost', ALPNProtocols: ['http/1.1'] }, () => {
      const serial = sock.getPeerCertificate().serialNumber;
      sock.end();
      resolve(serial);
    });
    sock.setTimeout(10_000, () => sock.destroy(new Error('no TLS handshake within 10 s')));
    sock.on('error', reject);
  });
}

// Puts a certificate and key where the broker reads them, each by rename,
// as a renewal tool does.
function install(files, into) {
  for (const [from, to] of [[files.key, into.key], [files.cert, into.cert]]) {
    fs.copyFileSync(from, `${to}.new`);
    fs.renameSync(`${to}.new`, to);
  }
}

describe('SIGHUP under 1,000 wss consoles', { timeout: 420_000 }, () => {
  let st, dir, ca, first, served, conf;
  const sessions = [];
  const dropped = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-reload-'));
    ca = makeCa(dir);
    first = issue(dir, ca, { label: 'first', serial: 1001, dns: ['localhost'], ips: ['127.0.0.1'] });
    served = { cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server-key.pem') };
    install(first, served);
    conf = path.join(dir, 'tocsind.conf');
    fs.writeFileSync(conf, 'metrics-allow = 10.0.0.0/8\n');
    st = await Stack.create({ label: import.meta.url, tls: { ...served, ca: ca.cert },
      broker: { args: ['--config', conf] } });
  });
  after(async () => {
    for (const s of sessions) s.terminate();
    await st?.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`connects ${CONSOLES} site consoles over wss with the first certificate`, async () => {
    assert.equal(await servedSerial(st.broker, fs.readFileSync(ca.cert)), first.serial);
    const consoles = await consoleDirectory(st);
    const users = await st.query(`SELECT id, username, role, org_id, site_id, cleared_sensitive FROM users WHERE username = ANY($1)`,
      [consoles.map((c) => c.username)]);
    const tokens = users.map((u) => st.forgeToken(claimsFor(u)));
    const t0 = Date.now();
    const opened = await inBatches(CONSOLES, 50, (i) => st.connect(tokens[i % tokens.length], { label: `console-${i}`, timeoutMs: 60_000 }));
    sessions.push(...opened);
    for (const s of sessions) s.ws.on('close', (code) => dropped.push({ label: s.label, code }));
    console.log(`# ${sessions.length} consoles connected in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    assert.equal(sessions.length, CONSOLES);
    assert.equal((await st.http('GET', '/healthz')).json.connections, CONSOLES);
    assert.equal((await st.http('GET', '/metrics')).status, 403, 'metrics-allow 10.0.0.0/8: not for 127.0.0.1 yet');
  });

  let renewed;
  it('renews the certificate and settings on SIGHUP: no console dropped, new connections get the new one', async () => {
    assert.equal(sessions.length, CONSOLES, 'the consoles connected');
    renewed = issue(dir, ca, { label: 'renewed', serial: 2002, dns: ['localhost'], ips: ['127.0.0.1'] });
    install(renewed, served);
    fs.writeFileSync(conf, 'metrics-allow = 127.0.0.1/32\nnode-id = 3\n');
    const mark = st.broker.stderr.length;
    st.broker.proc.kill('SIGHUP');
    await waitForLog(st.broker, /reload done; 1000 connections kept/, 30_000);
    const log = st.broker.stderr.slice(mark);
    assert.match(log, /reload: metrics-allow = 127\.0\.0\.1\/32 \(was 10\.0\.0\.0\/8\)/);
    assert.match(log, /reload: node-id changed; it takes effect at the next restart/);
    assert.match(log, /TLS certificate .* loaded \(serial 07D2/);

    assert.equal(await servedSerial(st.broker, fs.readFileSync(ca.cert)), renewed.serial, 'a new connection gets the renewed certificate');
    assert.equal((await st.http('GET', '/metrics')).status, 200, 'metrics-allow reloaded');
    // every console is still there and answers
    const pongs = await Promise.all(sessions.map((s) => s.ping(60_000).then(() => 1, () => 0)));
    assert.equal(pongs.reduce((a, b) => a + b, 0), CONSOLES, 'every console answers a ping');
    assert.deepEqual(dropped, [], 'no console was dropped');
    assert.equal((await st.http('GET', '/healthz')).json.connections, CONSOLES);
  });

  it('keeps the certificate in use when the new key is not its certificate\'s', async () => {
    assert.ok(renewed, 'the renewal ran');
    const stray = issue(dir, ca, { label: 'stray', serial: 3003, dns: ['localhost'], ips: ['127.0.0.1'] });
    install({ cert: stray.cert, key: first.key }, served);
    const mark = st.broker.stderr.length;
    st.broker.proc.kill('SIGHUP');
    await waitForLog(st.broker, /reload done with errors/, 30_000);
    assert.match(st.broker.stderr.slice(mark), /does not belong to the certificate/);
    assert.equal(await servedSerial(st.broker, fs.readFileSync(ca.cert)), renewed.serial);
    assert.deepEqual(dropped, []);
  });

  it('stops cleanly with its consoles', async () => {
    for (const s of sessions) s.close();
    await st.stop();
  });
});
