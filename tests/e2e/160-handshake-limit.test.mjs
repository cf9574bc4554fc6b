// Admission under overload (issue 22): at most --max-handshakes connections
// are between accept and sign-in (TLS handshakes, HTTP requests, WebSocket
// upgrades, hellos being checked). Past it the broker stops accepting and
// the next connections wait in the kernel's listen queue: none is refused,
// every one is served once the ones before it are through, and consoles
// already signed in are served all along. Over plain ws and over wss.
//
// The broker accepts in the order connections arrive, so four silent
// connections opened first (a raw TCP socket that never sends a byte: a
// TLS handshake or HTTP request that does not start) hold all four places
// of --max-handshakes 4 while 30 WebSocket consoles queue behind them.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { Stack, makeCert, waitFor, SUBPROTOCOL } from './lib/harness.mjs';
import { publish, claimsFor, stopStack } from './lib/faults.mjs';

const LIMIT = 4;
const WAITERS = 30;

// A TCP connection that says nothing; resolves once connected.
function silent(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.on('error', reject);
  });
}

// A console that connects now and says hello once the upgrade is through:
// { opened, welcomed, alerts, ws }, the promises resolving as it goes.
function waiter(broker, token, label) {
  const w = { label, opened: false, alerts: [], frames: [] };
  const ws = new WebSocket(broker.wsUrl, [SUBPROTOCOL], {
    handshakeTimeout: 90_000,
    ...(broker.tls ? { ca: broker.tls.caPem, servername: 'localhost' } : {}),
  });
  w.ws = ws;
  w.welcomed = new Promise((resolve, reject) => {
    ws.on('open', () => {
      w.opened = true;
      ws.send(JSON.stringify({ type: 'hello', token }));
    });
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      w.frames.push(m);
      if (m.type === 'welcome') resolve(m);
      if (m.type === 'alert') w.alerts.push(m.alert.id);
      if (m.type === 'error' && !w.opened) reject(new Error(`${label}: ${JSON.stringify(m)}`));
    });
    ws.on('error', (e) => reject(new Error(`${label}: ${e.message}`)));
    ws.on('close', (code) => reject(new Error(`${label}: closed ${code} before its welcome`)));
  });
  w.welcomed.catch(() => {});
  return w;
}

async function metric(st, name) {
  const r = await st.http('GET', '/metrics');
  assert.equal(r.status, 200);
  const m = r.text.match(new RegExp(`^${name} (\\S+)$`, 'm'));
  assert.ok(m, `${name} in /metrics`);
  return Number(m[1]);
}

function suite(kind) {
  describe(`--max-handshakes ${LIMIT} over ${kind}`, { timeout: 180_000 }, () => {
    let st, dir, ctl, consoleS, users, orgs;
    const stallers = [];
    let waiters = [];

    before(async () => {
      const brokerOpts = { args: ['--max-handshakes', String(LIMIT)] };
      if (kind === 'wss') {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-160-'));
        const { cert, key } = makeCert(dir);
        brokerOpts.tls = { cert, key };
      }
      st = await Stack.create({ label: `${import.meta.url}-${kind}`, broker: brokerOpts });
      users = await st.query(`SELECT u.id, u.username, u.role, u.org_id, u.site_id, u.cleared_sensitive, s.guard_org_id
                                FROM users u JOIN sites s ON s.id = u.site_id
                               WHERE u.role = 'site_console' AND NOT u.disabled ORDER BY u.id`);
      assert.ok(users.length >= WAITERS + 1, `${WAITERS + 1} site consoles in the demo data`);
      orgs = [...new Set(users.map((u) => u.guard_org_id))].sort((a, b) => a - b);
      ctl = await st.connectAs('controller');
      consoleS = await st.connect(st.forgeToken(claimsFor(users[WAITERS])), { label: 'signed-in console' });
    });
    after(async () => {
      for (const s of stallers) s.destroy();
      for (const w of waiters) w.ws.terminate();
      await st?.cleanup();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it(`holds ${WAITERS} consoles in the listen queue while ${LIMIT} handshakes are in flight, and serves the signed-in meanwhile`, async () => {
      for (let i = 0; i < LIMIT; i++) stallers.push(await silent(st.broker.port));
      waiters = users.slice(0, WAITERS).map((u, i) => waiter(st.broker, st.forgeToken(claimsFor(u)), `waiter ${i}`));
      const live = await publish(ctl, { headline: `Meanwhile ${Date.now()}`, severity: 'minor', targets: { orgs } });
      await consoleS.next((m) => m.type === 'alert' && m.alert.id === live.alert_id, 20_000, 'the alert, meanwhile');
      consoleS.send({ type: 'ping', ref: 'after-alert' });
      await consoleS.next((m) => m.type === 'pong', 20_000, 'a pong, meanwhile');
      const opened = waiters.filter((w) => w.opened).map((w) => w.label);
      assert.deepEqual(opened, [], 'no upgrade while the four places are held');
    });

    it('serves every one of them once places free up, and they get alerts', async () => {
      // Two places free: the gate opens again below three quarters of the
      // limit, and the two held ones stay held throughout.
      stallers.shift().destroy();
      stallers.shift().destroy();
      await Promise.all(waiters.map((w) => w.welcomed));
      const live = await publish(ctl, { headline: `Everyone ${Date.now()}`, severity: 'minor', targets: { orgs } });
      await waitFor(() => waiters.every((w) => w.alerts.includes(live.alert_id)),
        { timeoutMs: 30_000, what: 'the alert at every console that waited' });
      await consoleS.next((m) => m.type === 'alert' && m.alert.id === live.alert_id, 20_000, 'the alert');
    });

    it('counts them out again: only the metrics request itself is in flight at the end', async () => {
      for (const s of stallers.splice(0)) s.destroy();
      await waitFor(async () => (await metric(st, 'tocsin_handshakes_in_flight')) === 1,
        { timeoutMs: 30_000, what: 'tocsin_handshakes_in_flight 1' });
      assert.ok(await metric(st, 'tocsin_accept_pauses_total') >= 1, 'the listener paused');
      for (const w of waiters) w.ws.close(1000);
      waiters = [];
      await stopStack(st);
    });
  });
}

suite('ws');
suite('wss');
